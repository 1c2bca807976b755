package app_test

import (
	"testing"
)

// TestUnstorableTextIsBadUserInput: a NUL character (which PostgreSQL text
// cannot hold) in any text argument — a filter, an id, a cursor, a mutation
// input, as a variable or as a literal — is the caller's mistake:
// BAD_USER_INPUT naming the argument, never an uncoded internal error.
func TestUnstorableTextIsBadUserInput(t *testing.T) {
	h := newHub(t)
	auditor := h.token("urban-management", "auditor")
	um := h.token("urban-management", "officer", "dispatcher", "admin")
	water := h.token("water", "admin")
	const nul = "x\u0000y"
	for _, tc := range []struct {
		name, token, query string
		vars               map[string]any
		field              string
	}{
		{"auditTrail dept", auditor, `query($v: String) { auditTrail(filter: {dept: $v}) { next } }`, map[string]any{"v": nul}, "filter.dept"},
		{"auditTrail subject", auditor, `query($v: String) { auditTrail(filter: {subject: $v}) { next } }`, map[string]any{"v": nul}, "filter.subject"},
		{"auditTrail operation literal", auditor, `{ auditTrail(filter: {operation: "a\u0000b"}) { next } }`, nil, "filter.operation"},
		{"auditTrail dataset", auditor, `query($f: AuditFilter) { auditTrail(filter: $f) { next } }`, map[string]any{"f": map[string]any{"dataset": nul}}, "filter.dataset"},
		{"auditTrail cursor", auditor, `query($v: String) { auditTrail(after: $v) { next } }`, map[string]any{"v": nul}, "after"},
		{"case id", um, `query($v: ID!) { case(id: $v) { id } }`, map[string]any{"v": nul}, "id"},
		{"cases cursor", um, `query($v: String) { cases(after: $v) { totalCount } }`, map[string]any{"v": nul}, "after"},
		{"jurisdiction code", um, `query($v: String!) { jurisdiction(code: $v) { code } }`, map[string]any{"v": nul}, "code"},
		{"department code", um, `query($v: String!) { department(code: $v) { code } }`, map[string]any{"v": nul}, "code"},
		{"inspection round", um, `query($v: String!) { inspectionRound(round: $v) { round } }`, map[string]any{"v": nul}, "round"},
		{"nested argument", um, `query($v: String!) { jurisdictions(root: "hailing") { code jurisdictionCases: cases(first: 1) { totalCount } } x: jurisdiction(code: $v) { code } }`, map[string]any{"v": nul}, "code"},
		{"decline note", um, `mutation($v: String!) { declineCase(id: "nope", note: $v) { id } }`, map[string]any{"v": nul}, "note"},
		{"access purpose", water, `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"dataset": "cases", "fieldGroups": []string{"reporter"}, "jurisdiction": "hailing", "purpose": "回访" + nul, "until": "2030-01-01T00:00:00Z"}}, "input.purpose"},
		{"access field group", water, `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"dataset": "cases", "fieldGroups": []string{"basic", nul}, "jurisdiction": "hailing", "purpose": "回访核实情况", "until": "2030-01-01T00:00:00Z"}}, "input.fieldGroups[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.token, tc.query, tc.vars)
			if len(r.Errors) == 0 || r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("got %+v, want BAD_USER_INPUT on %s", r.Errors, tc.field)
			}
		})
	}
}
