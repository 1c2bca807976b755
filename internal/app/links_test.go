package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEnforcementStory is the cross-department join the district lacked
// (docs/design.md, The problem the hub answers): an enforcement officer opens
// a violation and sees, in one query, the compound, its management company,
// the linked case and — only once planning grants it — whether the structure
// has a planning permit.
func TestEnforcementStory(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var id string
	if err := h.app.Pool.QueryRow(ctx, `SELECT v.id::text FROM violations v
		JOIN properties p ON p.id = v.property_id
		WHERE v.kind = 'ILLEGAL_CONSTRUCTION' AND p.mgmt_company IS NOT NULL
		ORDER BY (v.case_id IS NULL), v.id LIMIT 1`).Scan(&id); err != nil {
		t.Fatalf("no construction violation in a managed compound in the demo data: %v", err)
	}
	// Make sure it names the case it came from (a 违法建设 case of its street).
	if _, err := h.app.Pool.Exec(ctx, `UPDATE violations v SET case_id = (SELECT c.id FROM cases c
		WHERE c.street_code = v.street_code AND c.minor_code = '0302' ORDER BY c.id LIMIT 1)
		WHERE v.id = $1 AND v.case_id IS NULL`, id); err != nil {
		t.Fatal(err)
	}
	officer := h.token("urban-management", "officer")
	const q = `query($id: ID!) { violation(id: $id) { recordNo kind status areaM2
		property { name address management { company creditCode contactPhone } }
		case { caseNo status className }
		permitCheck { hasPermit covers permitNo note } } }`
	r := h.do(officer, q, map[string]any{"id": id})
	v := string(r.Data["violation"])
	for _, want := range []string{`"company":`, `"caseNo":"HL`, `"recordNo":"WF`} {
		if !strings.Contains(v, want) {
			t.Fatalf("one query should join compound, company and case (%s missing): %s %+v", want, v, r.Errors)
		}
	}
	if !strings.Contains(v, `"permitCheck":null`) || len(r.Errors) != 1 || r.code(0) != "FORBIDDEN" ||
		fmt.Sprint(r.Errors[0].Path) != "[violation permitCheck]" {
		t.Fatalf("without planning's grant the permit status must be denied: %s %+v", v, r.Errors)
	}

	// Urban management asks planning; planning's admin approves.
	r = h.do(h.token("urban-management", "admin"), `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"dataset": "violations", "fieldGroups": []string{"permit"},
			"purpose": "违法建设查处核验规划许可", "until": seedNow.Add(30 * 24 * time.Hour).Format(time.RFC3339)}})
	req := decode[accessRequest](t, r.Data["requestAccess"])
	if req.ID == "" {
		t.Fatalf("request: %+v", r.Errors)
	}
	t.Cleanup(func() {
		h.do(h.token("planning", "admin"), `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": req.ID})
	})
	if r = h.do(h.token("planning", "admin"), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`,
		map[string]any{"id": req.ID}); len(r.Errors) > 0 {
		t.Fatalf("approve: %+v", r.Errors)
	}
	r = h.do(officer, q, map[string]any{"id": id})
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["violation"]), `"hasPermit":`) {
		t.Fatalf("with the grant: %s %+v", r.Data["violation"], r.Errors)
	}
}

// TestNestedStatementsDoNotGrowWithPageSize counts the SQL statements of a
// nested page: 10 or 50 compounds, each with its first violations and cases
// and their counts, cost the same number of statements.
func TestNestedStatementsDoNotGrowWithPageSize(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	const q = `query($n: Int!) { properties(first: $n) { edges { node { name
		violations(first: 5) { totalCount edges { node { recordNo case { caseNo } property { name } } } }
		cases(first: 5) { totalCount edges { node { caseNo handlingDept { name } jurisdiction { name } } } } } } }
		jurisdiction(code: "hailing") { children { name cases(first: 3) { totalCount edges { node { caseNo } } }
			violations(first: 3) { totalCount } properties(first: 3) { totalCount } parkingLots(first: 3) { totalCount } } } }`
	count := func(n int) int {
		h.stmts.reset()
		r := h.do(tok, q, map[string]any{"n": n})
		if len(r.Errors) > 0 {
			t.Fatalf("query: %+v", r.Errors)
		}
		if c := strings.Count(string(r.Data["properties"]), `"name"`); c < n {
			t.Fatalf("first %d: only %d names", n, c)
		}
		return h.stmts.countReads()
	}
	count(1) // warm the in-memory directory
	small, large := count(10), count(50)
	t.Logf("statements: %d for 10 compounds, %d for 50", small, large)
	if small != large {
		t.Fatalf("statements grow with the page: %d for 10, %d for 50", small, large)
	}
	if large > 25 {
		t.Fatalf("%d statements for one nested page", large)
	}
}

func TestNestedFirstOutOfRange(t *testing.T) {
	h := newHub(t)
	for _, first := range []int{-1, 51} {
		r := h.do(h.token("urban-management", "officer"), `query($n: Int!) { jurisdiction(code: "hailing.chengdong") { cases(first: $n) { totalCount } } }`,
			map[string]any{"n": first})
		if r.code(0) != "BAD_USER_INPUT" {
			t.Errorf("first %d: %+v", first, r.Errors)
		}
	}
}

// TestSeededCasesNameRealCompounds: the seeder links cases to compounds
// while generating them; every link must name a compound that exists.
func TestSeededCasesNameRealCompounds(t *testing.T) {
	h := newHub(t)
	var linked, dangling int
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE p.id IS NOT NULL),
		count(*) FILTER (WHERE p.id IS NULL) FROM cases c LEFT JOIN properties p ON p.id = c.property_id
		WHERE c.property_id IS NOT NULL`).Scan(&linked, &dangling); err != nil {
		t.Fatal(err)
	}
	if linked == 0 || dangling != 0 {
		t.Fatalf("%d cases linked to compounds, %d to compounds that do not exist", linked, dangling)
	}
}

// TestViolationLinksOnlyToVisibleCases: a street office linking a violation
// to a case outside its scope hears "unknown case", as for a case that does
// not exist, and nothing is written: the link neither confirms that the case
// exists nor attaches to it.
func TestViolationLinksOnlyToVisibleCases(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var inChengdong, inChengxi string
	for _, q := range []struct {
		street string
		id     *string
	}{{"hailing.chengdong", &inChengdong}, {"hailing.chengxi", &inChengxi}} {
		if err := h.app.Pool.QueryRow(ctx, `SELECT id::text FROM cases WHERE street_code = $1
			AND coalesce(handling_dept, '') <> 'street-chengxi' ORDER BY id LIMIT 1`, q.street).Scan(q.id); err != nil {
			t.Fatal(err)
		}
	}
	chengxi := h.token("street-chengxi", "officer")
	report := func(caseID string) gqlResponse {
		return h.do(chengxi, `mutation($in: ViolationInput!) { reportViolation(input: $in) { id case { id } } }`,
			map[string]any{"in": map[string]any{"kind": "STREET_OCCUPATION", "subtype": "SHOPFRONT_OVERFLOW", "channel": "PATROL", "description": "西仓街店外经营",
				"lat": 32.487, "lng": 119.905, "jurisdiction": "hailing.chengxi", "caseId": caseID}})
	}
	var before int
	if err := h.app.Pool.QueryRow(ctx, "SELECT count(*) FROM violations").Scan(&before); err != nil {
		t.Fatal(err)
	}
	hidden, missing := report(inChengdong), report("01890000-0000-7000-8000-000000000000")
	for _, r := range []gqlResponse{hidden, missing} {
		if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "caseId" {
			t.Fatalf("link to a case outside the scope: %+v", r.Errors)
		}
	}
	if a, b := strings.Replace(hidden.Errors[0].Message, inChengdong, "X", 1),
		strings.Replace(missing.Errors[0].Message, "01890000-0000-7000-8000-000000000000", "X", 1); a != b {
		t.Fatalf("a hidden case and a missing one answer differently: %q vs %q", a, b)
	}
	var after int
	if err := h.app.Pool.QueryRow(ctx, "SELECT count(*) FROM violations").Scan(&after); err != nil || after != before {
		t.Fatalf("refused links wrote %d violations (%v)", after-before, err)
	}
	if r := report(inChengxi); len(r.Errors) > 0 {
		t.Fatalf("link to a case in the office's own street: %+v", r.Errors)
	}
}
