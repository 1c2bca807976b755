package property_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/property"
	"github.com/google/uuid"
)

// demoGrids is a small jurisdiction tree: every street and town of the
// district, three communities each, four grids per community.
func demoGrids() []property.DemoGrid {
	var out []property.DemoGrid
	streets := []string{"chengdong", "chengxi", "chengzhong", "chengnan", "chengbei", "jingtailu", "jiulong", "gangyang", "suchen"}
	for si, st := range streets {
		for c := range 3 {
			name := fmt.Sprintf("第%d社区", c+1)
			if si >= 6 && c == 2 {
				name = "民主村"
			}
			for g := range 4 {
				out = append(out, property.DemoGrid{
					Code:          fmt.Sprintf("hailing.%s.c%d.g%02d", st, c, g+1),
					CommunityName: name,
					Lat:           32.45 + 0.01*float64(si%3) + 0.002*float64(g),
					Lng:           119.88 + 0.01*float64(si/3) + 0.002*float64(c),
				})
			}
		}
	}
	return out
}

func TestGenerateDemo(t *testing.T) {
	d, err := property.GenerateDemo(42, demoGrids())
	if err != nil {
		t.Fatal(err)
	}
	again, err := property.GenerateDemo(42, demoGrids())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, again) {
		t.Fatal("the same seed and grids gave different demo data")
	}
	other, err := property.GenerateDemo(43, demoGrids())
	if err != nil {
		t.Fatal(err)
	}
	if other.Properties[0].ID == d.Properties[0].ID || other.Rounds[0].Round.Seed == d.Rounds[0].Round.Seed {
		t.Fatal("another seed gave the same data")
	}

	if len(d.Properties) != property.DemoCompounds {
		t.Fatalf("%d compounds", len(d.Properties))
	}
	names := map[string]bool{}
	withPermit := map[uuid.UUID]bool{}
	for _, p := range d.Permits {
		withPermit[p.PropertyID] = true
	}
	statuses := map[property.RenovationStatus]int{}
	targets := 0
	for _, p := range d.Properties {
		if names[p.Name] {
			t.Errorf("name %s twice", p.Name)
		}
		names[p.Name] = true
		if p.BuildYear < 1980 || p.BuildYear > 2023 {
			t.Errorf("%s built %d", p.Name, p.BuildYear)
		}
		statuses[p.Renovation.Status]++
		if p.Renovation.Status != property.RenovationNone && (p.BuildYear > 2000 || p.Renovation.Year == nil || p.Renovation.BudgetFen == nil || *p.Renovation.BudgetFen <= 0) {
			t.Errorf("%s: renovation %+v of a compound built %d", p.Name, p.Renovation, p.BuildYear)
		}
		if m := p.Management; m != nil {
			targets++
			if err := property.ValidateCreditCode(m.CreditCode); err != nil {
				t.Errorf("%s: %v", m.Company, err)
			}
		}
	}
	if statuses[property.RenovationDone] != property.DemoRenovated || statuses[property.RenovationInProgress] == 0 || statuses[property.RenovationPlanned] == 0 {
		t.Errorf("renovations %v, want %d DONE and some in progress and planned", statuses, property.DemoRenovated)
	}
	if share := float64(len(withPermit)) / float64(len(d.Properties)); share < 0.5 || share > 0.7 {
		t.Errorf("%.0f%% of compounds have a permit, want about 60%%", 100*share)
	}
	if len(d.Inspectors) != property.DemoInspectors {
		t.Errorf("%d inspectors", len(d.Inspectors))
	}
	if len(d.Rounds) != 2 || d.Rounds[0].Round.Round != "2025-H1" || d.Rounds[1].Round.Round != "2025-H2" {
		t.Fatalf("rounds %+v", d.Rounds)
	}
	// The stored rounds replay from their own snapshots, and the second
	// recused the first's inspectors.
	prev := map[property.Assignment]bool{}
	for _, r := range d.Rounds {
		if !r.Round.Published || r.Round.PublishedAt == nil || r.Round.RegisterSize != targets {
			t.Errorf("round %+v", r.Round)
		}
		reg, err := property.DecodeRegisters(r.Targets, r.Inspectors)
		if err != nil {
			t.Fatal(err)
		}
		res := mustDraw(t, reg, r.Round.Seed, r.Round.Ratio, r.Round.PerTarget)
		if diff := property.ComparePicks(res.Picks, r.Inspections); len(diff) > 0 || res.TargetsHash != r.Round.TargetsHash {
			t.Fatalf("round %s does not replay: %v", r.Round.Round, diff)
		}
		for _, in := range r.Inspections {
			if !in.Result.Valid() || in.RecordedAt == nil || in.RecordedAt.Before(in.ScheduledOn) {
				t.Errorf("inspection %+v", in)
			}
			for _, id := range in.InspectorIDs {
				a := property.Assignment{PropertyID: in.PropertyID, InspectorID: id}
				if prev[a] {
					t.Errorf("%s inspects %s in two consecutive rounds", id, in.PropertyID)
				}
			}
		}
		clear(prev)
		for _, in := range r.Inspections {
			for _, id := range in.InspectorIDs {
				prev[property.Assignment{PropertyID: in.PropertyID, InspectorID: id}] = true
			}
		}
	}
	if _, err := property.GenerateDemo(1, nil); err == nil {
		t.Fatal("no grids accepted")
	}
}

func TestParseRoundAndSchedule(t *testing.T) {
	tests := []struct {
		round  string
		start  string
		months int
	}{
		{"2025-H1", "2025-01-01", 6}, {"2025-H2", "2025-07-01", 6}, {"2026-Q3", "2026-07-01", 3}, {"2026-11", "2026-11-01", 1},
	}
	for _, tc := range tests {
		start, months, ok := property.ParseRound(tc.round)
		if !ok || start.Format(time.DateOnly) != tc.start || months != tc.months {
			t.Errorf("ParseRound(%s) = %v %d %v", tc.round, start, months, ok)
		}
	}
	for _, bad := range []string{"", "2025", "2025-H3", "2025-Q5", "2025-13", "1999-H1", "2025-h1", "2025-H1 "} {
		if _, _, ok := property.ParseRound(bad); ok {
			t.Errorf("ParseRound(%q) accepted", bad)
		}
	}
	dates := property.ScheduleDates("2026-H1", 60)
	for i, d := range dates {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || d.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) ||
			!d.Before(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) || (i > 0 && d.Before(dates[i-1])) {
			t.Fatalf("date %d: %s", i, d.Format(time.DateOnly))
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	id := uuid.New()
	for _, c := range []property.Cursor{
		{Order: property.OrderNameAsc, Name: "东进社区3号院", ID: id},
		{Order: property.OrderNameDesc, Name: "a|b||c", ID: id},
		{Order: property.OrderBuildYearDesc, Year: 1987, ID: id},
	} {
		got, err := property.DecodeCursor(c.Encode(), c.Order)
		if err != nil || got != c {
			t.Errorf("round trip of %+v: %+v %v", c, got, err)
		}
	}
	enc := property.Cursor{Order: property.OrderNameAsc, Name: "x", ID: id}.Encode()
	for _, bad := range []string{"", "!!", enc + "x"} {
		if _, err := property.DecodeCursor(bad, property.OrderNameAsc); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
	if _, err := property.DecodeCursor(enc, property.OrderBuildYearAsc); err == nil {
		t.Error("a name cursor accepted for a build-year list")
	}
}
