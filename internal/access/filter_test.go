package access

import (
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

// TestCheckFilter: a filter or order on a group the caller may not read
// unmasked is FORBIDDEN naming the term; a group a grant opens under a
// subtree may be filtered on inside it only; a decision without rows
// checks nothing.
func TestCheckFilter(t *testing.T) {
	d := &Decision{Dataset: "violations", Rows: RowScope{All: true},
		Fields:  map[string]FieldAccess{"core": FieldVisible, "party": FieldMasked, "permit": FieldDenied},
		Partial: map[string]PartialAccess{"party": {Access: FieldVisible, Jurisdictions: []string{"hailing.chengdong"}}}}
	core := FilterTerm{Field: "filter.kind", Group: "core"}
	party := FilterTerm{Field: "filter.partyName", Group: "party"}
	permit := FilterTerm{Field: "filter.permitted", Group: "permit"}
	for _, tc := range []struct {
		name  string
		d     *Decision
		jur   string
		terms []FilterTerm
		field string // "" = allowed
	}{
		{"visible group", d, "", []FilterTerm{core}, ""},
		{"masked group", d, "", []FilterTerm{core, party}, "filter.partyName"},
		{"denied group", d, "hailing.chengdong", []FilterTerm{permit}, "filter.permitted"},
		{"masked group, inside the grant's subtree", d, "hailing.chengdong.fenghuang", []FilterTerm{party}, ""},
		{"masked group, the grant's subtree is not the filter's", d, "hailing.chengxi", []FilterTerm{party}, "filter.partyName"},
		{"masked group, no rows", &Decision{Dataset: "violations", Fields: d.Fields}, "", []FilterTerm{party}, ""},
		{"nil decision", nil, "", []FilterTerm{party}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.CheckFilter(tc.jur, tc.terms)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Forbidden || e.Field != tc.field {
				t.Fatalf("want FORBIDDEN on %s, got %v", tc.field, err)
			}
		})
	}
}
