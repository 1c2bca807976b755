package app_test

import (
	"slices"
	"testing"
)

// The demo's new parking spaces and the recusal look-back of its rounds
// are visible through the API.
func TestDemoFactsThroughTheAPI(t *testing.T) {
	h := newHub(t)
	r := h.do(h.token("housing", "officer"), `{
		parkingSpacesAdded(since: "2023-01-01T00:00:00+08:00") { lots spaces }
		before: parkingSpacesAdded(since: "1990-01-01T00:00:00Z", until: "2023-01-01T00:00:00+08:00") { lots spaces }
		parkingLots(first: 1) { edges { node { openedAt } } }
		inspectionRounds { round previousRound previousRounds } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	added := decode[struct{ Lots, Spaces int }](t, r.Data["parkingSpacesAdded"])
	before := decode[struct{ Lots, Spaces int }](t, r.Data["before"])
	if added.Spaces < 800 || added.Spaces > 900 || added.Lots+before.Lots != 200 {
		t.Errorf("spaces added since 2023 %+v, before %+v: want 800+ new spaces and every lot dated", added, before)
	}
	lots := decode[struct {
		Edges []struct{ Node struct{ OpenedAt *string } }
	}](t, r.Data["parkingLots"])
	if len(lots.Edges) != 1 || lots.Edges[0].Node.OpenedAt == nil {
		t.Errorf("a lot without openedAt: %+v", lots)
	}
	rounds := decode[[]struct {
		Round          string
		PreviousRound  *string
		PreviousRounds []string
	}](t, r.Data["inspectionRounds"])
	got := map[string][]string{}
	for _, x := range rounds {
		got[x.Round] = x.PreviousRounds
		if len(x.PreviousRounds) > 0 && (x.PreviousRound == nil || *x.PreviousRound != x.PreviousRounds[0]) {
			t.Errorf("round %s: previousRound %v, previousRounds %v", x.Round, x.PreviousRound, x.PreviousRounds)
		}
	}
	if want := []string{"2025-H1", "2024-H2"}; !slices.Equal(got["2025-H2"], want) {
		t.Errorf("2025-H2 looked back over %v, want %v (rounds %v)", got["2025-H2"], want, got)
	}
}
