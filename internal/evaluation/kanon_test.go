package evaluation

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/google/uuid"
)

// kcase is a hand-built case: community 'a' or 'b' of street s, minor class,
// local hour of report and coordinates.
func kcase(community byte, minor string, hour int, lat float64) *SourceCase {
	loc := calendar.Default().Location()
	return &SourceCase{ID: uuid.New(), Kind: "EVENT", MajorCode: minor[:2], MinorCode: minor, Source: "CITIZEN_REPORT", Status: "CLOSED",
		Street: "hailing.s", Community: "hailing.s." + string(community), Lat: lat, Lng: 119.9,
		ReportedAt: time.Date(2025, 4, 15, hour, 20, 0, 0, loc)}
}

func repeat(n int, c func() *SourceCase) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = c()
	}
	return out
}

// TestKAnonymityPlan: the least generalization that gives every
// combination of (community, class, hour) at least 5 rows is chosen, by
// hand-counted groups; too few rows or an unresolvable combination are
// refused.
func TestKAnonymityPlan(t *testing.T) {
	cal := calendar.Default()
	join := func(rs ...[]Record) []Record { return slices.Concat(rs...) }
	for _, tc := range []struct {
		name     string
		records  []Record
		coords   bool
		want     Generalization
		said     []string
		smallest int
	}{
		{"five alike: nothing generalized", repeat(5, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
			false, Generalization{}, []string{}, 5},
		// Hours 9 (5 rows), 10 (2), 11 (3): by hour the smallest group is 2;
		// all ten lie in the 06–12 part of day.
		{"hour to part of day", join(repeat(5, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
			repeat(2, func() *SourceCase { return kcase('a', "0501", 10, 32.49) }),
			repeat(3, func() *SourceCase { return kcase('a', "0501", 11, 32.49) })),
			false, Generalization{PartOfDay: true}, []string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)"}, 10},
		// Community a 3 rows, b 2 rows, same class and hour: only the street
		// holds 5.
		{"community to street", join(repeat(3, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
			repeat(2, func() *SourceCase { return kcase('b', "0501", 9, 32.49) })),
			false, Generalization{PartOfDay: true, Street: true},
			[]string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)", "community → street"}, 5},
		// Minor classes 0501 (3) and 0502 (2) of major 05.
		{"minor to major class", join(repeat(3, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
			repeat(2, func() *SourceCase { return kcase('a', "0502", 9, 32.49) })),
			false, Generalization{PartOfDay: true, Street: true, Major: true},
			[]string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)", "community → street", "minor class → major class"}, 5},
		// Five rows at two rounded positions (3 + 2): coordinates withheld,
		// community kept.
		{"coordinates withheld", join(repeat(3, func() *SourceCase { return kcase('a', "0501", 9, 32.491) }),
			repeat(2, func() *SourceCase { return kcase('a', "0501", 9, 32.495) })),
			true, Generalization{PartOfDay: true},
			[]string{"hour → part of day (00–06, 06–12, 12–18, 18–24 Asia/Shanghai)", "coordinates → withheld"}, 5},
		// Majors 05 (3) and 06 (2) of the same kind: only the kind holds 5.
		{"major class to kind", join(repeat(3, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
			repeat(2, func() *SourceCase { return kcase('a', "0601", 9, 32.49) })),
			false, Generalization{PartOfDay: true, Day: true, Street: true, Major: true, KindOnly: true},
			[]string{"hour → day (times truncated to 00:00 Asia/Shanghai)", "community → street", "minor and major class → kind"}, 5},
		{"coordinates kept", repeat(6, func() *SourceCase { return kcase('a', "0501", 9, 32.491) }),
			true, Generalization{Coordinates: true}, []string{}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAnonymizer(make([]byte, 32), Profile{Coordinates: tc.coords}, cal)
			k, err := a.Plan(CountQuasi(tc.records, cal.Location(), tc.coords), 5)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if k.Generalization != tc.want || !slices.Equal(k.Generalized, tc.said) || k.SmallestGroup != tc.smallest || k.K != 5 {
				t.Fatalf("plan = %+v, want %+v %q smallest %d", k, tc.want, tc.said, tc.smallest)
			}
			// The rows follow the plan.
			nd, _ := a.Render(tc.records[0], nil, nil)
			var row map[string]any
			if err := json.Unmarshal(nd, &row); err != nil {
				t.Fatal(err)
			}
			if tc.want.Day && row["reported_at"] != "2025-04-14T16:00:00Z" { // 00:00 Shanghai
				t.Errorf("reported_at = %v, want the day", row["reported_at"])
			}
			if tc.want.PartOfDay && !tc.want.Day && row["reported_at"] != "2025-04-14T22:00:00Z" { // 06:00 Shanghai
				t.Errorf("reported_at = %v, want the part of day", row["reported_at"])
			}
			if !tc.want.PartOfDay && row["reported_at"] != "2025-04-15T01:00:00Z" {
				t.Errorf("reported_at = %v, want the hour", row["reported_at"])
			}
			if (row["community_code"] == nil) != tc.want.Street {
				t.Errorf("community_code = %v with %+v", row["community_code"], tc.want)
			}
			if (row["major_code"] == nil) != tc.want.KindOnly {
				t.Errorf("major_code = %v with %+v", row["major_code"], tc.want)
			}
			if (row["minor_code"] == nil) != tc.want.Major {
				t.Errorf("minor_code = %v with %+v", row["minor_code"], tc.want)
			}
			if tc.coords && (row["lat"] == nil) == tc.want.Coordinates {
				t.Errorf("lat = %v with %+v", row["lat"], tc.want)
			}
			for _, c := range a.Columns() {
				if c.Name == "community_code" && tc.want.Street && !strings.Contains(c.Anonymization, "k-anonymity") {
					t.Errorf("community_code's dictionary entry does not say it was generalized: %q", c.Anonymization)
				}
			}
		})
	}

	component := func() *SourceCase { c := kcase('a', "0101", 3, 32.49); c.Kind = "COMPONENT"; return c }
	// Refusals: fewer rows than k; a combination no generalization fixes
	// (5 events, 1 component: a sixth of the rows cannot be withheld).
	for name, records := range map[string][]Record{
		"four rows":    repeat(4, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }),
		"lonely class": join(repeat(5, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }), repeat(1, component)),
	} {
		a := NewAnonymizer(make([]byte, 32), Profile{}, cal)
		if _, err := a.Plan(CountQuasi(records, cal.Location(), false), 5); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("%s: %v, want BAD_USER_INPUT", name, err)
		}
	}

	// A lone component among 199 events (0.5 %, within the 1 % that may
	// be withheld) is withheld under the coarsest generalization and
	// counted; the others are published.
	lonely := component()
	records := join(repeat(199, func() *SourceCase { return kcase('a', "0501", 9, 32.49) }), []Record{lonely})
	a := NewAnonymizer(make([]byte, 32), Profile{}, cal)
	k, err := a.Plan(CountQuasi(records, cal.Location(), false), 5)
	if err != nil || k.Suppressed != 1 || k.SuppressedGroups != 1 || k.SmallestGroup != 199 || !k.Generalization.KindOnly {
		t.Fatalf("suppression: %+v, %v", k, err)
	}
	if !a.Suppressed(lonely) || a.Suppressed(records[0]) {
		t.Error("the lone row must be withheld, the others published")
	}

	// Facilities have no quasi-identifiers but the minimum size holds.
	lots := func(n int) []Record {
		out := make([]Record, n)
		for i := range out {
			out[i] = &SourceLot{ID: uuid.New(), Kind: "PUBLIC", Street: "hailing.s"}
		}
		return out
	}
	a, _ = NewDatasetAnonymizer(SnapshotParkingLots, make([]byte, 32), Profile{}, cal)
	if k, err := a.Plan(CountQuasi(lots(5), cal.Location(), false), 5); err != nil || k.NotApplicable == "" {
		t.Errorf("five lots: %+v, %v", k, err)
	}
	if _, err := a.Plan(CountQuasi(lots(4), cal.Location(), false), 5); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("four lots: %v, want BAD_USER_INPUT", err)
	}
}

// TestOrganisationPermits: the contract's period (from inclusive, to
// exclusive), datasets and jurisdiction subtrees.
func TestOrganisationPermits(t *testing.T) {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	o := &Organisation{Code: "jsu-assess", Name: "某某评估公司", ContractNo: "HT-2025-01", From: from, To: from.AddDate(1, 0, 0),
		Datasets: []string{"cases", "violations"}, Jurisdictions: []string{"hailing.chengdong", "hailing.chengxi"}}
	in := from.AddDate(0, 6, 0)
	for _, tc := range []struct {
		name           string
		at             time.Time
		dataset, where string
		ok             bool
	}{
		{"inside", in, "cases", "hailing.chengdong", true},
		{"first instant", from, "cases", "hailing.chengdong.x", true},
		{"before", from.Add(-time.Second), "cases", "hailing.chengdong", false},
		{"at the end", o.To, "cases", "hailing.chengdong", false},
		{"other dataset", in, "parking_lots", "hailing.chengdong", false},
		{"other street", in, "cases", "hailing.chengnan", false},
		{"prefix is not a subtree", in, "cases", "hailing.chengdongx", false},
		{"whole district", in, "cases", "", false},
	} {
		err := o.permits(tc.at, tc.dataset, tc.where)
		if tc.ok && err != nil || !tc.ok && apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "HT-2025-01") {
			t.Errorf("%s: the refusal does not name the contract: %v", tc.name, err)
		}
	}
	bad := *o
	bad.Datasets = []string{"audit"}
	if apperr.CodeOf(bad.Validate()) != apperr.BadUserInput {
		t.Error("a contract over an unknown dataset was accepted")
	}
	if err := o.Validate(); err != nil {
		t.Errorf("valid organisation: %v", err)
	}
}
