package postgres

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGridLocatorPrunesNothingItNeeds compares the pruned search with a
// scan of every grid.
func TestGridLocatorPrunesNothingItNeeds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var grids []gridPoint
	for i := range 900 {
		grids = append(grids, gridPoint{code: fmt.Sprintf("g%04d", i), lat: 32.30 + rng.Float64()*0.40, lng: 119.70 + rng.Float64()*0.45})
	}
	l := newGridLocator(append([]gridPoint(nil), grids...))
	for range 5000 {
		lat, lng := 32.25+rng.Float64()*0.50, 119.65+rng.Float64()*0.55
		want, wantD := "", math.Inf(1)
		c := math.Cos(lat * degree)
		for _, g := range grids {
			d := (g.lat-lat)*(g.lat-lat) + ((g.lng-lng)*c)*((g.lng-lng)*c)
			if d < wantD || (d == wantD && g.code < want) {
				want, wantD = g.code, d
			}
		}
		if got := l.nearest(lat, lng); got != want {
			t.Fatalf("(%v, %v): nearest %s, a full scan says %s", lat, lng, got, want)
		}
	}
}

func TestGridLocatorTiesAndEmpty(t *testing.T) {
	if got := newGridLocator(nil).nearest(32.5, 119.9); got != "" {
		t.Fatalf("no grids: %q", got)
	}
	// Equally far north and south: the smaller code wins, whichever side
	// the search meets first.
	l := newGridLocator([]gridPoint{{"b", 32.75, 119.9}, {"a", 32.25, 119.9}, {"c", 33.5, 119.9}})
	if got := l.nearest(32.5, 119.9); got != "a" {
		t.Fatalf("tie: %q", got)
	}
	if got := l.nearest(33.25, 119.9); got != "c" {
		t.Fatalf("nearest to 33.25: %q", got)
	}
}
