package postgres

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"
)

// gridLocator finds the grid nearest a point in the hub's memory, as
// CaseStore.Locate does in SQL: grids are ranked by
//
//	Δlat² + (Δlng·cos(lat))²
//
// with the cosine of the point's own latitude. A bulk import locates its
// rows with it while they stream into staging, so that the database, which
// every hub instance shares, spends nothing on it.
//
// Grids are sorted by latitude; a search walks outwards from the point's
// latitude and stops once the latitude difference alone exceeds the best
// distance found, which leaves a few dozen of ~850 grids to compare.
type gridLocator struct {
	grids []gridPoint
}

type gridPoint struct {
	code     string
	lat, lng float64
}

// degree is PostgreSQL's radians(1): π (as a float64) divided by 180 at run
// time, where a Go constant expression would round π/180 exactly once.
var degree = func(pi float64) float64 { return pi / 180 }(math.Pi)

// loadGrids reads every grid with a centroid.
func loadGrids(ctx context.Context, q pgx.Tx) (*gridLocator, error) {
	rows, err := q.Query(ctx, `SELECT code, lat, lng FROM jurisdictions
		WHERE level = 'GRID' AND lat IS NOT NULL AND lng IS NOT NULL`)
	if err != nil {
		return nil, translate(fmt.Errorf("load grids: %w", err))
	}
	grids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gridPoint, error) {
		var g gridPoint
		err := r.Scan(&g.code, &g.lat, &g.lng)
		return g, err
	})
	if err != nil {
		return nil, translate(fmt.Errorf("load grids: %w", err))
	}
	return newGridLocator(grids), nil
}

func newGridLocator(grids []gridPoint) *gridLocator {
	// Code breaks ties in latitude, so that equal distances resolve the
	// same way on every run.
	sort.Slice(grids, func(i, j int) bool {
		if grids[i].lat != grids[j].lat {
			return grids[i].lat < grids[j].lat
		}
		return grids[i].code < grids[j].code
	})
	return &gridLocator{grids: grids}
}

// nearest returns the code of the grid nearest (lat, lng), "" when there
// are no grids. Equal distances go to the smaller code.
func (l *gridLocator) nearest(lat, lng float64) string {
	n := len(l.grids)
	if n == 0 {
		return ""
	}
	c := math.Cos(lat * degree)
	best, bestD := -1, math.Inf(1)
	consider := func(i int) bool {
		g := &l.grids[i]
		dlat := g.lat - lat
		if dlat*dlat > bestD {
			return false
		}
		dlng := (g.lng - lng) * c
		d := dlat*dlat + dlng*dlng
		if d < bestD || (d == bestD && g.code < l.grids[best].code) {
			best, bestD = i, d
		}
		return true
	}
	up := sort.Search(n, func(i int) bool { return l.grids[i].lat >= lat })
	for i := up; i < n && consider(i); i++ {
	}
	for i := up - 1; i >= 0 && consider(i); i-- {
	}
	return l.grids[best].code
}
