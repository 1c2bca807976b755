package property_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/property"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCheckPermit(t *testing.T) {
	original := property.Permit{PermitNo: "P-2008-1", IssuedOn: day("2008-03-01"), Scope: property.ScopeNewResidential, FloorAreaM2: 52000, Valid: true}
	rooftop := property.Permit{PermitNo: "P-2019-7", IssuedOn: day("2019-05-12"), Scope: property.ScopeAddition, FloorAreaM2: 60, Valid: true}
	bigRooftop := property.Permit{PermitNo: "P-2021-2", IssuedOn: day("2021-09-30"), Scope: property.ScopeAddition, FloorAreaM2: 120, Valid: true}
	revokedShed := property.Permit{PermitNo: "P-2016-3", IssuedOn: day("2016-01-20"), Scope: property.ScopeAncillary, FloorAreaM2: 80, Valid: false}
	facade := property.Permit{PermitNo: "P-2020-9", IssuedOn: day("2020-07-01"), Scope: property.ScopeAlteration, Valid: true}
	extension := property.Permit{PermitNo: "P-2018-4", IssuedOn: day("2018-02-02"), Scope: property.ScopeExtension, FloorAreaM2: 40, Valid: true}

	tests := []struct {
		name    string
		permits []property.Permit
		subtype string
		area    float64
		want    property.PermitCheck
		note    string // a fragment the note must contain
	}{
		{"no permits at all", nil, property.SubtypeRooftopAddition, 30,
			property.PermitCheck{}, "no planning permit"},
		{"only the original permit: a rooftop addition is not covered", []property.Permit{original}, property.SubtypeRooftopAddition, 30,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2008-1"}, "ADDITION"},
		{"addition permit large enough", []property.Permit{original, rooftop}, property.SubtypeRooftopAddition, 45,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2019-7", Covers: true}, "45.0 m² of the permitted 60.0 m²"},
		{"exactly the permitted area", []property.Permit{rooftop}, "rooftop-addition", 60,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2019-7", Covers: true}, "covers"},
		{"larger than permitted", []property.Permit{original, rooftop}, property.SubtypeRooftopAddition, 85,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2019-7"}, "excess"},
		{"the latest covering permit wins", []property.Permit{rooftop, bigRooftop}, property.SubtypeRooftopAddition, 50,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2021-2", Covers: true}, "P-2021-2"},
		{"a larger later permit covers what an older one does not", []property.Permit{rooftop, bigRooftop}, property.SubtypeRooftopAddition, 100,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2021-2", Covers: true}, "100.0 m²"},
		{"unknown area: scope decides", []property.Permit{rooftop}, property.SubtypeRooftopAddition, 0,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2019-7", Covers: true}, "covers this structure"},
		{"revoked permit never covers", []property.Permit{revokedShed}, property.SubtypeFactoryShed, 50,
			property.PermitCheck{PermitNo: "P-2016-3"}, "no longer valid"},
		{"revoked shed permit beside a valid original", []property.Permit{original, revokedShed}, property.SubtypeFactoryShed, 50,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2016-3"}, "no longer valid"},
		{"door and window alteration ignores area", []property.Permit{facade}, property.SubtypeDoorWindowAlteration, 500,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2020-9", Covers: true}, "covers"},
		{"villa extension under an extension permit", []property.Permit{extension}, property.SubtypeVillaExtension, 35.5,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2018-4", Covers: true}, "35.5"},
		{"villa extension under an addition permit", []property.Permit{rooftop}, property.SubtypeVillaExtension, 20,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2019-7", Covers: true}, "covers"},
		{"green space can never be permitted", []property.Permit{original, rooftop, extension}, property.SubtypeGreenSpaceEncroachment, 10,
			property.PermitCheck{HasPermit: true}, "green space"},
		{"not a construction subtype", []property.Permit{original}, "SHOPFRONT_OVERFLOW", 10,
			property.PermitCheck{HasPermit: true}, "not an illegal-construction subtype"},
		{"case and separators are normalised", []property.Permit{facade}, " door window alteration ", 0,
			property.PermitCheck{HasPermit: true, PermitNo: "P-2020-9", Covers: true}, "covers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := property.CheckPermit(tc.permits, tc.subtype, tc.area)
			note := got.Note
			got.Note = ""
			if got != tc.want {
				t.Fatalf("CheckPermit = %+v (%s), want %+v", got, note, tc.want)
			}
			if !strings.Contains(note, tc.note) {
				t.Fatalf("note %q does not contain %q", note, tc.note)
			}
			// The answer does not depend on the order the permits came in.
			rev := make([]property.Permit, len(tc.permits))
			for i, p := range tc.permits {
				rev[len(rev)-1-i] = p
			}
			if again := property.CheckPermit(rev, tc.subtype, tc.area); again.PermitNo != tc.want.PermitNo || again.Covers != tc.want.Covers {
				t.Fatalf("reversed input gives %+v", again)
			}
		})
	}
}
