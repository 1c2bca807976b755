package app_test

import (
	"context"
	"testing"
)

// TestMutationsAuditWhatTheyReturn: a mutation that answers with a record
// discloses it as a read does. Water handles a case urban management
// dispatched to it; the case it gets back (another department's data) is
// audited under the mutation's operation, like a read of it.
func TestMutationsAuditWhatTheyReturn(t *testing.T) {
	h := newHub(t)
	um := h.token("urban-management", "officer", "dispatcher")
	r := h.do(um, `{ cases(filter: {status: [REPORTED]}, first: 1) { edges { node { id } } } }`, nil)
	reg := decode[caseConn](t, r.Data["cases"])
	if len(reg.Edges) != 1 {
		t.Fatalf("no REPORTED case in the demo data: %+v", r.Errors)
	}
	id := reg.Edges[0].Node.ID
	if r = h.do(um, `mutation($id: ID!) { registerCase(id: $id) { status } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
		t.Fatalf("register: %+v", r.Errors)
	}
	if r = h.do(um, `mutation($id: ID!) { dispatchCase(id: $id, dept: "water") { status } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
		t.Fatalf("dispatch: %+v", r.Errors)
	}
	r = h.do(h.token("water", "officer"), `mutation WaterHandlesCase($id: ID!) { submitCaseHandling(id: $id, note: "已疏通") {
		status reporter { phone } } }`, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		t.Fatalf("handle: %+v", r.Errors)
	}
	if err := h.app.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = h.do(h.token("urban-management", "auditor"), `{ auditTrail(filter: {dept: "water", operation: "WaterHandlesCase"}) {
		records { dataset rowCount } } }`, nil)
	recs := decode[struct {
		Records []struct {
			Dataset  string
			RowCount int
		}
	}](t, r.Data["auditTrail"]).Records
	if len(recs) != 1 || recs[0].Dataset != "cases" || recs[0].RowCount != 1 {
		t.Fatalf("audit of the case water's mutation returned: %+v %+v", recs, r.Errors)
	}
}
