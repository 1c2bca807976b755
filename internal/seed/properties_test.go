package seed_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/google/uuid"
)

// demoGrids is a small jurisdiction tree: every street and town of the
// district, three communities each, four grids per community.
func demoGrids() []seed.PropertyGrid {
	var out []seed.PropertyGrid
	streets := []string{"chengdong", "chengxi", "chengzhong", "chengnan", "chengbei", "jingtailu", "jiulong", "gangyang", "suchen"}
	for si, st := range streets {
		for c := range 3 {
			name := fmt.Sprintf("第%d社区", c+1)
			if si >= 6 && c == 2 {
				name = "民主村"
			}
			for g := range 4 {
				out = append(out, seed.PropertyGrid{
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

func TestGenerateProperties(t *testing.T) {
	d, err := seed.GenerateProperties(42, demoGrids(), calendar.Default())
	if err != nil {
		t.Fatal(err)
	}
	again, err := seed.GenerateProperties(42, demoGrids(), calendar.Default())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, again) {
		t.Fatal("the same seed and grids gave different demo data")
	}
	other, err := seed.GenerateProperties(43, demoGrids(), calendar.Default())
	if err != nil {
		t.Fatal(err)
	}
	if other.Properties[0].ID == d.Properties[0].ID || other.Rounds[0].Round.Seed == d.Rounds[0].Round.Seed {
		t.Fatal("another seed gave the same data")
	}

	if len(d.Properties) != seed.PropertyCompounds {
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
	if statuses[property.RenovationDone] != seed.PropertyRenovated || statuses[property.RenovationInProgress] == 0 || statuses[property.RenovationPlanned] == 0 {
		t.Errorf("renovations %v, want %d DONE and some in progress and planned", statuses, seed.PropertyRenovated)
	}
	if share := float64(len(withPermit)) / float64(len(d.Properties)); share < 0.5 || share > 0.7 {
		t.Errorf("%.0f%% of compounds have a permit, want about 60%%", 100*share)
	}
	if len(d.Inspectors) != seed.PropertyInspectors {
		t.Errorf("%d inspectors", len(d.Inspectors))
	}
	if len(d.Rounds) != len(seed.PropertyRounds) || d.Rounds[0].Round.Round != "2024-H1" || d.Rounds[3].Round.Round != "2025-H2" {
		t.Fatalf("rounds %+v", d.Rounds)
	}
	// The stored rounds replay from their own snapshots, and each recused
	// the inspectors of the two rounds before it.
	prev := map[property.Assignment]bool{}
	var last []property.Assignment // the round before the previous one
	for i, r := range d.Rounds {
		var want []string
		for k := i - 1; k >= 0 && k >= i-property.RecusalRoundsDefault; k-- {
			want = append(want, d.Rounds[k].Round.Round)
		}
		if !reflect.DeepEqual(r.Round.PreviousRounds, want) {
			t.Errorf("round %s looked back over %v, want %v", r.Round.Round, r.Round.PreviousRounds, want)
		}
		if !r.Round.Published || r.Round.PublishedAt == nil || r.Round.RegisterSize != targets {
			t.Errorf("round %+v", r.Round)
		}
		reg, err := property.DecodeRegisters(r.Targets, r.Inspectors)
		if err != nil {
			t.Fatal(err)
		}
		res, err := property.Draw(reg, r.Round.Seed, r.Round.Ratio, r.Round.PerTarget)
		if err != nil {
			t.Fatalf("Draw: %v", err)
		}
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
					t.Errorf("%s inspects %s again within two rounds (%s)", id, in.PropertyID, r.Round.Round)
				}
			}
		}
		clear(prev)
		for _, a := range last {
			prev[a] = true
		}
		last = last[:0]
		for _, in := range r.Inspections {
			for _, id := range in.InspectorIDs {
				a := property.Assignment{PropertyID: in.PropertyID, InspectorID: id}
				prev[a] = true
				last = append(last, a)
			}
		}
	}
	if _, err := seed.GenerateProperties(1, nil, nil); err == nil {
		t.Fatal("no grids accepted")
	}
}

// TestPropertiesFollowTheDistrict checks the demo registry against the
// district's facts (docs/demo-data.md): households for about 480,000
// residents, and two double-random rounds a year with every date of a
// round — draw, inspections, results, publication — on a working day.
func TestPropertiesFollowTheDistrict(t *testing.T) {
	cal := calendar.Default()
	for _, rs := range []int64{1, 42, 20250101} {
		d, err := seed.GenerateProperties(rs, demoGrids(), cal)
		if err != nil {
			t.Fatal(err)
		}
		households := 0
		for _, p := range d.Properties {
			households += p.Households
		}
		residents := float64(households) * seed.PropertyPersonsPerHousehold
		if residents < 0.9*seed.PropertyResidents || residents > 1.1*seed.PropertyResidents {
			t.Errorf("rs %d: %d households × %.1f = %.0f residents, want about %d", rs, households,
				seed.PropertyPersonsPerHousehold, residents, seed.PropertyResidents)
		}
		perYear := map[int]int{}
		for _, r := range d.Rounds {
			perYear[r.Round.PeriodStart.Year()]++
			if !cal.IsWorkingTime(r.Round.DrawnAt) || r.Round.PublishedAt == nil || !cal.IsWorkingTime(*r.Round.PublishedAt) {
				t.Errorf("rs %d: round %s drawn %v, published %v: not in working hours", rs, r.Round.Round, r.Round.DrawnAt, r.Round.PublishedAt)
			}
			for _, in := range r.Inspections {
				if !cal.IsWorkingDay(in.ScheduledOn) || in.RecordedAt == nil || !cal.IsWorkingTime(*in.RecordedAt) ||
					in.ScheduledOn.Before(r.Round.DrawnAt) || in.RecordedAt.After(*r.Round.PublishedAt) {
					t.Errorf("rs %d: round %s inspection on %s recorded %v (drawn %v, published %v)", rs, r.Round.Round,
						in.ScheduledOn.Format(time.DateOnly), in.RecordedAt, r.Round.DrawnAt, r.Round.PublishedAt)
				}
			}
		}
		for year := 2024; year <= 2025; year++ {
			if perYear[year] != 2 {
				t.Errorf("rs %d: %d rounds in %d, want two a year", rs, perYear[year], year)
			}
		}
	}
}
