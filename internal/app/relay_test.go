package app_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// relayConn is a connection with its ids and full page info.
type relayConn struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			ID string `json:"id"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo pageInfo `json:"pageInfo"`
}

// pageInfo is a Relay connection's PageInfo.
type pageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

const relaySelection = `edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`

// relayVars are a page's Relay arguments as variables.
func relayVars(a page.Args) map[string]any {
	vars := map[string]any{}
	if a.First != nil {
		vars["first"] = *a.First
	}
	if a.After != nil {
		vars["after"] = *a.After
	}
	if a.Last != nil {
		vars["last"] = *a.Last
	}
	if a.Before != nil {
		vars["before"] = *a.Before
	}
	return vars
}

// relayError turns a GraphQL error into the apperr CheckRelay expects.
func relayError(r gqlResponse) error {
	if len(r.Errors) == 0 {
		return nil
	}
	if r.code(0) == string(apperr.BadUserInput) {
		field, _ := r.Errors[0].Extensions["field"].(string)
		return apperr.Invalid(field, "%s", r.Errors[0].Message)
	}
	return fmt.Errorf("%+v", r.Errors)
}

// relayPage reads one connection as CheckRelay does, checking that its
// start and end cursors are its first and last edges' (null when empty).
func relayPage(t *testing.T, raw json.RawMessage) fixture.RelayPage[string] {
	t.Helper()
	c := decode[relayConn](t, raw)
	p := fixture.RelayPage[string]{HasNext: c.PageInfo.HasNextPage, HasPrev: c.PageInfo.HasPreviousPage,
		Cursor: func(i int) string { return c.Edges[i].Cursor }}
	for _, e := range c.Edges {
		p.Rows = append(p.Rows, e.Node.ID)
	}
	if n := len(c.Edges); n == 0 && (c.PageInfo.StartCursor != nil || c.PageInfo.EndCursor != nil) ||
		n > 0 && (c.PageInfo.StartCursor == nil || *c.PageInfo.StartCursor != c.Edges[0].Cursor ||
			c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[n-1].Cursor) {
		t.Fatalf("page info %+v does not match its %d edges", c.PageInfo, n)
	}
	return p
}

// TestRelayConnectionsOverHTTP walks every root list forward with
// first/after and backward with last/before through GraphQL: the same rows
// in the same order, page info right at both ends, first: 0 and last: 0
// honest, mixed directions BAD_USER_INPUT naming the argument.
func TestRelayConnectionsOverHTTP(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	for _, l := range []struct{ field, filter string }{
		{"cases", `filter: {jurisdiction: "hailing.chengdong.fenghuang"}, orderBy: DEADLINE_ASC`},
		{"violations", `filter: {jurisdiction: "hailing.chengdong"}`},
		{"properties", `orderBy: BUILD_YEAR_DESC`},
		{"parkingLots", `filter: {jurisdiction: "hailing.chengdong"}`},
	} {
		t.Run(l.field, func(t *testing.T) {
			q := fmt.Sprintf(`query($first: Int, $after: String, $last: Int, $before: String) {
				list: %s(%s, first: $first, after: $after, last: $last, before: $before) { %s } }`, l.field, l.filter, relaySelection)
			rows := fixture.CheckRelay(t, 7, func(a page.Args) (fixture.RelayPage[string], error) {
				r := h.do(tok, q, relayVars(a))
				if err := relayError(r); err != nil {
					return fixture.RelayPage[string]{}, err
				}
				return relayPage(t, r.Data["list"]), nil
			})
			if len(rows) < 8 {
				t.Fatalf("only %d rows: the walk proves little", len(rows))
			}
		})
	}
}

// TestNestedConnectionPages: a nested connection pages within its parent
// with after (and back with before), and refuses a cursor of another list.
func TestNestedConnectionPages(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	const q = `query($first: Int, $after: String, $last: Int, $before: String) { jurisdiction(code: "hailing.chengdong") {
		cases(first: $first, after: $after, last: $last, before: $before) { ` + relaySelection + ` } } }`
	nested := func(a page.Args) (fixture.RelayPage[string], error) {
		r := h.do(tok, q, relayVars(a))
		if err := relayError(r); err != nil {
			return fixture.RelayPage[string]{}, err
		}
		raw := decode[map[string]json.RawMessage](t, r.Data["jurisdiction"])["cases"]
		return relayPage(t, raw), nil
	}
	two, six := 2, 6
	all, err := nested(page.Args{First: &six})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rows) != 6 || !all.HasNext || all.HasPrev {
		t.Fatalf("first 6: %d rows, hasNextPage %v, hasPreviousPage %v", len(all.Rows), all.HasNext, all.HasPrev)
	}
	var walked []string
	var after *string
	for range 3 {
		p, err := nested(page.Args{First: &two, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if !p.HasNext || p.HasPrev != (after != nil) {
			t.Fatalf("page after %v: hasNextPage %v, hasPreviousPage %v", after, p.HasNext, p.HasPrev)
		}
		walked = append(walked, p.Rows...)
		c := p.Cursor(len(p.Rows) - 1)
		after = &c
	}
	if !slices.Equal(walked, all.Rows) {
		t.Fatalf("paging with after read %v, the first six are %v", walked, all.Rows)
	}
	c := all.Cursor(2)
	back, err := nested(page.Args{Last: &two, Before: &c})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Rows, all.Rows[:2]) || back.HasPrev || !back.HasNext {
		t.Fatalf("last 2 before the third: %v (hasPreviousPage %v, hasNextPage %v), want %v", back.Rows, back.HasPrev, back.HasNext, all.Rows[:2])
	}

	// A cursor of another list (parking lots by name) is not this list's.
	r := h.do(tok, `{ parkingLots(first: 1) { edges { cursor } } }`, nil)
	lots := decode[relayConn](t, r.Data["parkingLots"])
	if len(lots.Edges) == 0 {
		t.Fatal("no parking lot")
	}
	foreign := lots.Edges[0].Cursor
	_, err = nested(page.Args{After: &foreign})
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "after" {
		t.Fatalf("a parking lot cursor on nested cases: %v", err)
	}
	for _, bad := range []struct {
		a     page.Args
		field string
	}{{page.Args{First: &two, Last: &two}, "last"}, {page.Args{Last: &two, After: &c}, "after"}, {page.Args{First: &two, Before: &c}, "before"}} {
		_, err := nested(bad.a)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != bad.field {
			t.Fatalf("%+v: %v, want BAD_USER_INPUT on %s", bad.a, err, bad.field)
		}
	}
}

// TestAuditTrailPagesBothWays: the audit trail's page info, and a backward
// page from a later page's start cursor is the page before it.
func TestAuditTrailPagesBothWays(t *testing.T) {
	h := newHub(t)
	tok := h.token("urban-management", "officer", "dispatcher")
	for range 3 { // reads the trail records
		h.do(tok, `{ cases(first: 1) { totalCount } }`, nil)
	}
	auditor := h.token("urban-management", "auditor")
	type auditPage struct {
		Records []struct {
			Seq int `json:"seq"`
		} `json:"records"`
		Next     *string  `json:"next"`
		PageInfo pageInfo `json:"pageInfo"`
	}
	const q = `query($first: Int, $after: String, $last: Int, $before: String) { auditTrail(filter: {dataset: "cases"},
		first: $first, after: $after, last: $last, before: $before) { records { seq } next pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	read := func(a page.Args) auditPage {
		t.Helper()
		r := h.do(auditor, q, relayVars(a))
		if len(r.Errors) > 0 {
			t.Fatalf("%+v: %+v", a, r.Errors)
		}
		return decode[auditPage](t, r.Data["auditTrail"])
	}
	two := 2
	p1 := read(page.Args{First: &two})
	if len(p1.Records) != 2 || !p1.PageInfo.HasNextPage || p1.PageInfo.HasPreviousPage || p1.Next == nil || *p1.Next != *p1.PageInfo.EndCursor {
		t.Fatalf("first page: %+v", p1)
	}
	p2 := read(page.Args{First: &two, After: p1.PageInfo.EndCursor})
	if len(p2.Records) == 0 || !p2.PageInfo.HasPreviousPage || p2.Records[0].Seq >= p1.Records[1].Seq {
		t.Fatalf("second page: %+v", p2)
	}
	back := read(page.Args{Last: &two, Before: p2.PageInfo.StartCursor})
	if !slices.Equal(back.Records, p1.Records) || back.PageInfo.HasPreviousPage || !back.PageInfo.HasNextPage {
		t.Fatalf("back from the second page: %+v, want %+v", back, p1.Records)
	}
	zero := 0
	if z := read(page.Args{First: &zero}); len(z.Records) != 0 || !z.PageInfo.HasNextPage || z.PageInfo.StartCursor != nil {
		t.Fatalf("first: 0: %+v", z)
	}
	r := h.do(auditor, q, relayVars(page.Args{First: &two, Last: &two}))
	if err := relayError(r); err == nil {
		t.Fatal("first with last: no error")
	} else if e, ok := apperr.As(err); !ok || e.Field != "last" {
		t.Fatalf("first with last: %v", err)
	}
}

// TestMyCasesRelay: the citizen app's own-reports list pages both ways too.
func TestMyCasesRelay(t *testing.T) {
	h := newHub(t)
	app := h.citizenApp()
	for i := range 5 {
		r := h.asCitizen(app, "cit-relay", reportIssue, map[string]any{"in": issue(), "key": fmt.Sprintf("relay-key-%04d", i)})
		if len(r.Errors) > 0 {
			t.Fatalf("report %d: %+v", i, r.Errors)
		}
	}
	q := `query($first: Int, $after: String, $last: Int, $before: String) {
		myCases(first: $first, after: $after, last: $last, before: $before) { ` + relaySelection + ` } }`
	rows := fixture.CheckRelay(t, 2, func(a page.Args) (fixture.RelayPage[string], error) {
		r := h.asCitizen(app, "cit-relay", q, relayVars(a))
		if err := relayError(r); err != nil {
			return fixture.RelayPage[string]{}, err
		}
		return relayPage(t, r.Data["myCases"]), nil
	})
	if len(rows) != 5 {
		t.Fatalf("walked %d own reports, want 5", len(rows))
	}
}
