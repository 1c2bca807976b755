package app_test

import (
	"testing"
	"time"
)

// TestCaseRequestsOverGraphQL walks a deferral request through the API: the
// handling department asks, the command centre sees it in its inbox and
// approves it, the case records it; who may do what is enforced with coded
// errors.
func TestCaseRequestsOverGraphQL(t *testing.T) {
	h := newHub(t)
	um := h.token("urban-management", "officer", "dispatcher")
	water := h.token("water", "officer")
	r := h.do(um, `{ cases(filter: {status: [REPORTED]}, first: 1, orderBy: REPORTED_AT_ASC) { edges { node { id } } } }`, nil)
	conn := decode[caseConn](t, r.Data["cases"])
	if len(conn.Edges) != 1 {
		t.Fatalf("no REPORTED case: %+v", r.Errors)
	}
	id := map[string]any{"id": conn.Edges[0].Node.ID}
	for _, q := range []string{
		`mutation($id: ID!) { registerCase(id: $id) { status } }`,
		`mutation($id: ID!) { dispatchCase(id: $id, dept: "water") { status } }`,
	} {
		if r := h.do(um, q, id); len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
	}
	ask := `mutation($id: ID!, $n: Int!, $why: String!) {
		requestCaseDeferral(id: $id, extraDays: $n, reason: $why) { id status kind extraDays requestedDept caseDeadline case { id } } }`
	r = h.do(water, ask, map[string]any{"id": id["id"], "n": 0, "why": "管网材料未到"})
	if len(r.Errors) != 1 || r.code(0) != "BAD_USER_INPUT" {
		t.Fatalf("0 extra days: %+v", r.Errors)
	}
	r = h.do(water, ask, map[string]any{"id": id["id"], "n": 2, "why": "管网材料未到"})
	if len(r.Errors) > 0 {
		t.Fatalf("request: %+v", r.Errors)
	}
	req := decode[struct {
		ID, Status, Kind, RequestedDept string
		ExtraDays                       int
		CaseDeadline                    time.Time
		Case                            struct{ ID string }
	}](t, r.Data["requestCaseDeferral"])
	if req.Status != "PENDING" || req.Kind != "DEFER" || req.ExtraDays != 2 || req.RequestedDept != "water" || req.Case.ID != id["id"] {
		t.Fatalf("request: %+v", req)
	}

	approve := `mutation($id: ID!) { approveCaseRequest(id: $id, note: "同意") { status decidedBy case { status deadline } } }`
	if r := h.do(water, approve, map[string]any{"id": req.ID}); len(r.Errors) != 1 || r.code(0) != "FORBIDDEN" {
		t.Fatalf("the requester approving: %+v", r.Errors)
	}
	// The public sees no case rows, so no requests either.
	if r := h.do("", `{ pendingCaseRequests { id } }`, nil); len(r.Errors) > 0 || string(r.Data["pendingCaseRequests"]) != "[]" {
		t.Fatalf("anonymous inbox: %s %+v", r.Data["pendingCaseRequests"], r.Errors)
	}
	r = h.do(um, `{ pendingCaseRequests { id reason } }`, nil)
	inbox := decode[[]struct{ ID, Reason string }](t, r.Data["pendingCaseRequests"])
	found := false
	for _, p := range inbox {
		found = found || p.ID == req.ID
	}
	if !found {
		t.Fatalf("inbox lacks the request: %+v %+v", inbox, r.Errors)
	}
	r = h.do(um, approve, map[string]any{"id": req.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("approve: %+v", r.Errors)
	}
	got := decode[struct {
		Status, DecidedBy string
		Case              struct {
			Status   string
			Deadline time.Time
		}
	}](t, r.Data["approveCaseRequest"])
	if got.Status != "APPROVED" || got.DecidedBy == "" || got.Case.Status != "DEFERRED" || !got.Case.Deadline.After(req.CaseDeadline) {
		t.Fatalf("approved: %+v (asked against %v)", got, req.CaseDeadline)
	}
	r = h.do(um, `query($id: ID!) { case(id: $id) { requests { id status reason decisionNote } } }`, id)
	hist := decode[struct {
		Requests []struct{ ID, Status, Reason, DecisionNote string }
	}](t, r.Data["case"])
	if len(hist.Requests) != 1 || hist.Requests[0].Status != "APPROVED" || hist.Requests[0].DecisionNote != "同意" {
		t.Fatalf("case requests: %+v %+v", hist, r.Errors)
	}
}
