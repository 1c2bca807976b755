package postgres

import (
	"slices"
	"testing"
)

// A maintained count may stand for a live one only if its groups are
// judged on the very columns the rows are: a scope column added to a
// table's row scope must reach its count groups too (or the count would
// reveal rows the list hides).
func TestCountScopeMatchesRowScope(t *testing.T) {
	for _, nt := range []nestedTable{casesNested, violationsNested, propertiesNested, lotsNested} {
		if nt.counts == "" {
			continue
		}
		rows, groups := nt.scope, nt.countScope
		if rows.path != groups.path || rows.street != groups.street || !slices.Equal(rows.depts, groups.depts) || groups.citizenID != "" {
			t.Errorf("%s: count groups judged on %+v, rows on %+v", nt.from, groups, rows)
		}
	}
}
