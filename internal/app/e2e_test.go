package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

type caseNode struct {
	ID       string `json:"id"`
	CaseNo   string `json:"caseNo"`
	Status   string `json:"status"`
	Version  int    `json:"version"`
	Deadline *string
	Timeline []struct {
		Action     string  `json:"action"`
		Actor      string  `json:"actor"`
		FromStatus *string `json:"fromStatus"`
	} `json:"timeline"`
}

type caseConn struct {
	TotalCount int `json:"totalCount"`
	Edges      []struct {
		Cursor string   `json:"cursor"`
		Node   caseNode `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool   `json:"hasNextPage"`
		EndCursor   string `json:"endCursor"`
	} `json:"pageInfo"`
}

// TestCaseWorkflowOverHTTP is the newcomer's path: a token, a case list, a
// transition, the timeline — through the real server.
func TestCaseWorkflowOverHTTP(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")

	r := h.do(tok, `query($f: CaseFilter) { cases(filter: $f, orderBy: DEADLINE_ASC, first: 5) {
		totalCount edges { cursor node { id caseNo status version deadline } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"f": map[string]any{"jurisdiction": "hailing.chengdong", "open": true}})
	if len(r.Errors) > 0 {
		t.Fatalf("cases: %+v", r.Errors)
	}
	conn := decode[caseConn](t, r.Data["cases"])
	if conn.TotalCount == 0 || len(conn.Edges) != min(5, conn.TotalCount) || conn.PageInfo.HasNextPage != (conn.TotalCount > 5) {
		t.Fatalf("open Chengdong cases: total %d, %d edges", conn.TotalCount, len(conn.Edges))
	}

	r = h.do(tok, `{ cases(filter: {status: [REPORTED]}, first: 1) { edges { node { id version status } } } }`, nil)
	reported := decode[caseConn](t, r.Data["cases"])
	if len(reported.Edges) != 1 {
		t.Fatalf("no REPORTED case in the demo data: %+v", r.Errors)
	}
	c := reported.Edges[0].Node

	r = h.do(tok, `mutation($id: ID!, $v: Int) { registerCase(id: $id, version: $v, note: "核实属实") { status version } }`,
		map[string]any{"id": c.ID, "v": c.Version})
	if len(r.Errors) > 0 {
		t.Fatalf("register: %+v", r.Errors)
	}
	r = h.do(tok, `mutation($id: ID!) { dispatchCase(id: $id, dept: "street-chengdong") { status deadline
		timeline { action actor fromStatus } } }`, map[string]any{"id": c.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("dispatch: %+v", r.Errors)
	}
	got := decode[caseNode](t, r.Data["dispatchCase"])
	if got.Status != "DISPATCHED" || got.Deadline == nil {
		t.Fatalf("after dispatch: %+v", got)
	}
	n := len(got.Timeline)
	if n < 3 || got.Timeline[n-2].Action != "REGISTER" || got.Timeline[n-1].Action != "DISPATCH" ||
		got.Timeline[n-1].Actor != "tester@urban-management" {
		t.Fatalf("timeline: %+v", got.Timeline)
	}
	// The report comes from no status: null, not "" (which no CaseStatus is).
	if first := got.Timeline[0]; first.Action != "REPORT" || first.FromStatus != nil || *got.Timeline[n-1].FromStatus != "REGISTERED" {
		t.Fatalf("timeline statuses: %+v", got.Timeline)
	}

	// The old version is now stale: CONFLICT, naming the state.
	r = h.do(tok, `mutation($id: ID!, $v: Int) { returnCase(id: $id, version: $v, note: "x") { status } }`,
		map[string]any{"id": c.ID, "v": c.Version})
	if r.code(0) != "CONFLICT" {
		t.Fatalf("stale version: %+v", r.Errors)
	}
	// An illegal transition: BAD_USER_INPUT naming the current status.
	r = h.do(tok, `mutation($id: ID!) { registerCase(id: $id) { status } }`, map[string]any{"id": c.ID})
	if r.code(0) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "DISPATCHED") {
		t.Fatalf("illegal transition: %+v", r.Errors)
	}
}

func TestPagesOverHTTP(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	seen := map[string]bool{}
	after := ""
	for page := 0; ; page++ {
		vars := map[string]any{"f": map[string]any{"jurisdiction": "hailing.jiulong", "source": []string{"DRONE_PATROL"}}}
		if after != "" {
			vars["after"] = after
		}
		r := h.do(tok, `query($f: CaseFilter, $after: String) { cases(filter: $f, first: 50, after: $after) {
			totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, vars)
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		conn := decode[caseConn](t, r.Data["cases"])
		for _, e := range conn.Edges {
			if seen[e.Node.ID] {
				t.Fatalf("case %s twice", e.Node.ID)
			}
			seen[e.Node.ID] = true
		}
		if !conn.PageInfo.HasNextPage {
			if len(seen) != conn.TotalCount {
				t.Fatalf("walked %d cases, totalCount %d", len(seen), conn.TotalCount)
			}
			break
		}
		after = conn.PageInfo.EndCursor
	}
	if len(seen) == 0 {
		t.Fatal("no drone-patrol cases in Jiulong")
	}
}

// TestZeroFirstStillSaysWhetherThereIsMore: first: 0 asks for counts
// only; hasNextPage still tells whether rows follow (Relay: more edges than
// first exist).
func TestZeroFirstStillSaysWhetherThereIsMore(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	for _, q := range []string{
		`{ list: cases(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }`,
		`{ list: violations(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }`,
		`{ list: properties(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }`,
		`{ list: parkingLots(first: 0) { totalCount edges { cursor } pageInfo { hasNextPage } } }`,
	} {
		r := h.do(tok, q, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
		got := decode[caseConn](t, r.Data["list"])
		if got.TotalCount == 0 || len(got.Edges) != 0 || !got.PageInfo.HasNextPage {
			t.Fatalf("%s: total %d, %d edges, hasNextPage %v", q, got.TotalCount, len(got.Edges), got.PageInfo.HasNextPage)
		}
	}
}

// TestOversizedOperationsAreRefused: an operation is weighed by the rows
// it may return, not its field count, before anything runs; ordinary pages
// pass.
func TestOversizedOperationsAreRefused(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 500 {
		fmt.Fprintf(&aliases, " a%d: cases(first: 200) { edges { node { id description } } }", i)
	}
	aliases.WriteString(" }")
	for _, q := range []struct {
		query string
		vars  map[string]any
	}{
		{aliases.String(), nil},
		{`{ a: jurisdictions { code cases(first: 50) { edges { node { id timeline { action actor at } } } } } }`, nil},
		{`query($n: Int) { cases(first: $n) { edges { node { id jurisdiction { cases(first: 50) { edges { node { id
			timeline { action actor at } } } } } } } } }`, map[string]any{"n": 200}},
	} {
		start := time.Now()
		r := h.do(tok, q.query, q.vars)
		if r.code(0) != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "field values") || r.Data["cases"] != nil {
			t.Fatalf("%.80s…: %+v", q.query, r.Errors)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusing took %v: the operation ran", d)
		}
	}
	r := h.do(tok, `{ cases(first: 50) { totalCount edges { node { id caseNo status timeline { action actor at } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("an ordinary page: %+v", r.Errors)
	}
}

func TestBadInputOverHTTP(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	count := func() int {
		var n int
		if err := h.app.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	const m = `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id } }`
	valid := func() map[string]any {
		return map[string]any{"kind": "EVENT", "minorCode": "0501", "source": "INSPECTOR_PATROL",
			"description": "坡子街店外经营", "lat": 32.49, "lng": 119.92}
	}
	tests := []struct {
		name  string
		edit  func(map[string]any)
		code  string
		field string
	}{
		{"invalid coordinates", func(in map[string]any) { in["lat"] = 132.0 }, "BAD_USER_INPUT", "location"},
		{"unknown class code", func(in map[string]any) { in["minorCode"] = "0999" }, "BAD_USER_INPUT", "class"},
		{"empty description", func(in map[string]any) { in["description"] = "" }, "BAD_USER_INPUT", "description"},
		{"unknown enum", func(in map[string]any) { in["source"] = "RUMOUR" }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			tc.edit(in)
			r := h.do(tok, m, map[string]any{"in": in})
			if len(r.Errors) == 0 {
				t.Fatal("accepted")
			}
			if tc.code != "" && (r.code(0) != tc.code || r.Errors[0].Extensions["field"] != tc.field) {
				t.Fatalf("got %+v, want %s on %s", r.Errors, tc.code, tc.field)
			}
			if r.code(0) == "" || r.code(0) == "INTERNAL" {
				t.Fatalf("error without a useful code: %+v", r.Errors)
			}
		})
	}
	// Date-times that are not RFC 3339, in an input object, an argument and
	// a variable: the caller's mistake, with the field named.
	in := valid()
	in["reportedAt"] = "yesterday"
	for _, q := range []struct {
		query string
		vars  map[string]any
		field string
	}{
		{m, map[string]any{"in": in}, "reportedAt"},
		{`{ cases(filter: {reportedFrom: "not-a-date"}, first: 1) { totalCount } }`, nil, "reportedFrom"},
		{`query($f: DateTime) { cases(filter: {reportedFrom: $f}, first: 1) { totalCount } }`, map[string]any{"f": "2026-13-45"}, "reportedFrom"},
	} {
		r := h.do(tok, q.query, q.vars)
		if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != q.field || !strings.Contains(r.Errors[0].Message, "RFC 3339") {
			t.Fatalf("%s: %+v", q.query, r.Errors)
		}
	}
	// A body that is not JSON: 400, BAD_USER_INPUT, and the body is not
	// echoed back.
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", strings.NewReader(`{"query": "secret-ish`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"BAD_USER_INPUT"`) ||
		!strings.Contains(string(raw), "not valid JSON") || strings.Contains(string(raw), "secret-ish") {
		t.Fatalf("broken JSON body: %d %s", resp.StatusCode, raw)
	}
	// A NUL character PostgreSQL cannot store, in a filter and in a report.
	for _, q := range []struct {
		query string
		vars  map[string]any
	}{
		{`query($t: String) { cases(filter: {text: $t}, first: 1) { totalCount } }`, map[string]any{"t": "x\u0000y"}},
		{m, map[string]any{"in": func() map[string]any { in := valid(); in["description"] = "店外\u0000经营"; return in }()}},
	} {
		if r := h.do(tok, q.query, q.vars); r.code(0) != "BAD_USER_INPUT" {
			t.Fatalf("NUL in %s: %+v", q.query, r.Errors)
		}
	}
	// Entity representations naming no entity type, or without their key.
	for _, rep := range []map[string]any{{"__typename": "Nothing", "id": "x"}, {"__typename": "Case"}} {
		r := h.do(tok, `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`, map[string]any{"r": []any{rep}})
		if r.code(0) != "BAD_USER_INPUT" {
			t.Fatalf("_entities %v: %+v", rep, r.Errors)
		}
	}
	// An oversized body is refused before GraphQL sees it.
	big := strings.Repeat("x", 70_000)
	r := h.do(tok, m, map[string]any{"in": map[string]any{"kind": "EVENT", "minorCode": "0501", "source": "INSPECTOR_PATROL",
		"description": big, "lat": 32.49, "lng": 119.92}})
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d", r.Status)
	}
	if after := count(); after != before {
		t.Fatalf("bad input wrote %d cases", after-before)
	}
}

func TestAuthenticationOverHTTP(t *testing.T) {
	h := newHub(t)
	r := h.do("not-a-token", `{ viewer { subject } }`, nil)
	if r.Status != http.StatusUnauthorized || r.code(0) != "UNAUTHENTICATED" {
		t.Fatalf("bad token: %d %+v", r.Status, r.Errors)
	}
	r = h.do(h.token("housing", "viewer"), `{ viewer { subject roles department { code name } } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["viewer"]), `"housing"`) {
		t.Fatalf("viewer: %s %+v", r.Data["viewer"], r.Errors)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	h := newHub(t)
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "datahub_db_pool_conns"} {
		resp, err := http.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		n, _ := resp.Body.Read(buf)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(buf[:n]), want) {
			t.Errorf("%s: %d %q", path, resp.StatusCode, buf[:min(n, 200)])
		}
	}
}

// TestGridCasesUseTheirIndex: the nested cases of a page of grids are read
// by each grid's own code along cases_jurisdiction_reported, not by walking
// every case in report order testing its path (seconds at a million cases).
func TestGridCasesUseTheirIndex(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	h.stmts.reset()
	r := h.do(tok, `{ jurisdictions(root: "hailing.chengdong", level: GRID) { code cases(first: 5) { totalCount edges { node { id } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	// The nested pages and their counts may come in more than one batch
	// when the machine is slow; every statement must read by grid.
	for _, plan := range h.plansOf("FROM unnest(") {
		if strings.Contains(plan, "cases_reported") || !strings.Contains(plan, "cases_jurisdiction_reported") {
			t.Fatalf("the grids' cases are not read by grid:\n%s", plan)
		}
	}
}

// planOf returns the JSON plan of the one recorded statement containing
// substr, explained with its arguments.
func (h *hub) planOf(substr string) string {
	h.t.Helper()
	plans := h.plansOf(substr)
	if len(plans) != 1 {
		h.t.Fatalf("%d statements with %q", len(plans), substr)
	}
	return plans[0]
}

// plansOf returns the JSON plans of the recorded statements containing
// substr (at least one), each explained with its arguments.
func (h *hub) plansOf(substr string) []string {
	h.t.Helper()
	stmts := h.stmts.find(substr)
	if len(stmts) == 0 {
		h.t.Fatalf("no statement with %q", substr)
	}
	out := make([]string, len(stmts))
	for i, st := range stmts {
		var plan []json.RawMessage
		if err := h.app.Pool.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+st.SQL, st.Args...).Scan(&plan); err != nil {
			h.t.Fatal(err)
		}
		b, _ := json.Marshal(plan)
		out[i] = string(b)
	}
	return out
}

// TestHotListUsesIndex asserts the plan of the street list by deadline: an
// index scan on cases, never a sequential scan.
func TestHotListUsesIndex(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	h.stmts.reset()
	r := h.do(tok, `{ cases(filter: {jurisdiction: "hailing.chengdong", open: true}, orderBy: DEADLINE_ASC, first: 50) { edges { node { id } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	// 20,000 rows are enough for the planner to prefer the index on its own.
	plan := h.planOf("FROM cases WHERE")
	if strings.Contains(string(plan), `"Seq Scan"`) || !strings.Contains(string(plan), "cases_street_open_deadline") {
		t.Fatalf("plan does not use the street/open/deadline index:\n%s", plan)
	}
}
