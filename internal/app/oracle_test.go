package app_test

import (
	"strings"
	"testing"
)

// TestFiltersOnUnreadableGroupsAreRefused: a list filtered on a field group
// the caller may not read unmasked would answer whether a record holds a
// value the caller cannot see. Anonymous callers and the citizen app read
// compounds' public fields only: filtering on the management company (core)
// is FORBIDDEN naming the filter field, in the list, its count and a
// subscription alike, while public filters and callers who read the group
// are served.
func TestFiltersOnUnreadableGroupsAreRefused(t *testing.T) {
	h := newHub(t)
	const q = `query($f: PropertyFilter) { properties(filter: $f, first: 5) { totalCount edges { node { id name } } } }`
	mgmt := map[string]any{"f": map[string]any{"hasManagement": true}}
	for _, tc := range []struct {
		name, token string
	}{
		{"anonymous", ""},
		{"evaluator", h.evaluatorToken()},
	} {
		r := h.do(tc.token, q, mgmt)
		if r.code(0) != "FORBIDDEN" || r.Errors[0].Extensions["field"] != "filter.hasManagement" ||
			!strings.Contains(r.Errors[0].Message, "filter.hasManagement") || strings.Contains(string(r.Data["properties"]), "totalCount") {
			t.Fatalf("%s filtering on the management company: %s %+v", tc.name, r.Data["properties"], r.Errors)
		}
	}
	// The same caller's public filters answer.
	r := h.do("", q, map[string]any{"f": map[string]any{"text": "花园", "buildYearFrom": 1990}})
	if len(r.Errors) > 0 {
		t.Fatalf("anonymous public filter: %+v", r.Errors)
	}
	// Callers who read compounds' core fields may filter on them.
	r = h.do(h.token("water", "viewer"), q, mgmt)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["properties"]), `"totalCount"`) {
		t.Fatalf("water viewer: %s %+v", r.Data["properties"], r.Errors)
	}
}
