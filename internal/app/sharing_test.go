package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// instance starts one more hub on the package database and Redis, as a
// second server behind a load balancer would be.
func instance(t *testing.T, clk *fixture.Clock) *hub {
	t.Helper()
	base := newHub(t) // seeds once and gives the config
	a, err := app.New(context.Background(), base.cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: base.cfg, stmts: base.stmts}
}

type accessRequest struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// TestGrantAcrossInstances: water asks urban management for the cases'
// reporter data; the approval, the revocation and the expiry made through
// instance A are enforced by instance B within a second.
func TestGrantAcrossInstances(t *testing.T) {
	clk := fixture.NewClock(seedNow)
	a, b := instance(t, clk), instance(t, clk)
	ctx := context.Background()
	var caseID, rawPhone string
	if err := a.app.Pool.QueryRow(ctx, `SELECT id::text, reporter_phone FROM cases WHERE reporter_phone IS NOT NULL
		ORDER BY id LIMIT 1`).Scan(&caseID, &rawPhone); err != nil {
		t.Fatal(err)
	}
	waterViewer := b.token("water", "viewer")
	phoneOnB := func() (string, string) {
		r := b.do(waterViewer, `query($id: ID!) { case(id: $id) { reporter { phone } } }`, map[string]any{"id": caseID})
		if len(r.Errors) > 0 {
			t.Fatalf("read on B: %+v", r.Errors)
		}
		c := decode[struct {
			Reporter struct{ Phone string } `json:"reporter"`
		}](t, r.Data["case"])
		return c.Reporter.Phone, string(r.Data["case"])
	}
	waitFor := func(what string, want func(string) bool) time.Duration {
		start := time.Now()
		for {
			got, raw := phoneOnB()
			if want(got) {
				return time.Since(start)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: not seen on instance B within 1 s (last %s)", what, raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	masked := func(p string) bool { return p != rawPhone && strings.Contains(p, "****") }
	if got, _ := phoneOnB(); !masked(got) {
		t.Fatalf("before any grant water sees %q", got)
	}

	request := func() string {
		r := a.do(a.token("water", "admin"), `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"},
				"purpose": "积水点报案人回访 (flood-point reporter follow-up)", "until": clk.Now().Add(time.Hour).Format(time.RFC3339)}})
		if len(r.Errors) > 0 {
			t.Fatalf("request: %+v", r.Errors)
		}
		req := decode[accessRequest](t, r.Data["requestAccess"])
		if req.Status != "PENDING" {
			t.Fatalf("request status %s", req.Status)
		}
		return req.ID
	}
	approve := func(id string) {
		// Only the provider's admin may approve: water's own admin cannot.
		r := a.do(a.token("water", "admin"), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": id})
		if r.code(0) != "FORBIDDEN" {
			t.Fatalf("requester approving its own request: %+v", r.Errors)
		}
		r = a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatalf("approve: %+v", r.Errors)
		}
	}

	id := request()
	approve(id)
	t.Cleanup(func() {
		a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": id})
	})
	d := waitFor("approval", func(p string) bool { return p == rawPhone })
	t.Logf("grant visible on B after %s", d)

	r := a.do(a.token("water", "admin"), `{ activeGrants(direction: OUTGOING) { id dataset fieldGroups providerDept { code } } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["activeGrants"]), id) {
		t.Fatalf("active grants: %s %+v", r.Data["activeGrants"], r.Errors)
	}

	r = a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { revokeGrant(id: $id, reason: "回访结束") { status } }`, map[string]any{"id": id})
	if len(r.Errors) > 0 {
		t.Fatalf("revoke: %+v", r.Errors)
	}
	waitFor("revocation", masked)

	// Expiry needs no instance to act: the clock passing until is enough.
	id2 := request()
	approve(id2)
	t.Cleanup(func() {
		a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": id2})
	})
	waitFor("second approval", func(p string) bool { return p == rawPhone })
	clk.Advance(2 * time.Hour)
	if got, _ := phoneOnB(); !masked(got) {
		t.Fatalf("after expiry water still sees %q", got)
	}
	clk.Advance(-2 * time.Hour)
}

func TestAccessRequestRules(t *testing.T) {
	h := newHub(t)
	until := seedNow.Add(24 * time.Hour).Format(time.RFC3339)
	const m = `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`
	tests := []struct {
		name string
		tok  string
		in   map[string]any
		code string
	}{
		{"unconditional data is not requested", h.token("water", "admin"),
			map[string]any{"dataset": "cases", "fieldGroups": []string{"core"}, "purpose": "need it", "until": until}, "BAD_USER_INPUT"},
		{"provider asking itself", h.token("urban-management", "admin"),
			map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"}, "purpose": "need it", "until": until}, "BAD_USER_INPUT"},
		{"unknown dataset", h.token("water", "admin"),
			map[string]any{"dataset": "secrets", "fieldGroups": []string{"x"}, "purpose": "need it", "until": until}, "BAD_USER_INPUT"},
		{"past end", h.token("water", "admin"),
			map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"}, "purpose": "need it", "until": seedNow.Add(-time.Hour).Format(time.RFC3339)}, "BAD_USER_INPUT"},
		{"viewer may not request", h.token("water", "viewer"),
			map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"}, "purpose": "need it", "until": until}, "FORBIDDEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.tok, m, map[string]any{"in": tc.in})
			if r.code(0) != tc.code {
				t.Fatalf("got %+v, want %s", r.Errors, tc.code)
			}
		})
	}
	// Rejection needs a reason and the provider's admin; the requester sees it.
	r := h.do(h.token("environment", "officer"), m, map[string]any{"in": map[string]any{"dataset": "cases",
		"fieldGroups": []string{"reporter"}, "purpose": "扬尘投诉回访", "until": until}})
	req := decode[accessRequest](t, r.Data["requestAccess"])
	r = h.do(h.token("housing", "admin"), `mutation($id: ID!) { rejectAccessRequest(id: $id, reason: "no") { status } }`, map[string]any{"id": req.ID})
	if r.code(0) != "NOT_FOUND" {
		t.Fatalf("a third department deciding: %+v", r.Errors)
	}
	r = h.do(h.token("urban-management", "admin"), `mutation($id: ID!) { rejectAccessRequest(id: $id, reason: "用途不明确") { status reason } }`, map[string]any{"id": req.ID})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["rejectAccessRequest"]), "REJECTED") {
		t.Fatalf("reject: %s %+v", r.Data["rejectAccessRequest"], r.Errors)
	}
	r = h.do(h.token("environment", "viewer"), `{ accessRequests(direction: OUTGOING) { id status reason } }`, nil)
	if !strings.Contains(string(r.Data["accessRequests"]), "用途不明确") {
		t.Fatalf("requester's view: %s %+v", r.Data["accessRequests"], r.Errors)
	}
	r = h.do(h.token("urban-management", "admin"), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": req.ID})
	if r.code(0) != "CONFLICT" {
		t.Fatalf("approving a rejected request: %+v", r.Errors)
	}
}

// TestAuditTrail: a cross-department read leaves a record that auditors,
// and only auditors, can read; the chain verifies.
func TestAuditTrail(t *testing.T) {
	h := newHub(t)
	r := h.do(h.token("planning", "viewer"), `query PlanningLooksAtCases { cases(first: 3) { edges { node { id } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	if err := h.app.Audit.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = h.do(h.token("urban-management", "auditor"), `{ auditTrail(filter: {dept: "planning", operation: "PlanningLooksAtCases"}, first: 5) {
		records { subject dept dataset rowCount operation fieldGroups hash } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("auditor: %+v", r.Errors)
	}
	page := string(r.Data["auditTrail"])
	if !strings.Contains(page, `"rowCount":3`) || !strings.Contains(page, `"dataset":"cases"`) {
		t.Fatalf("audit page: %s", page)
	}
	r = h.do(h.token("planning", "admin"), `{ auditTrail { records { seq } } }`, nil)
	if r.code(0) != "FORBIDDEN" {
		t.Fatalf("non-auditor: %+v", r.Errors)
	}
}
