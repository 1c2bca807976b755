package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/graph"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/google/uuid"
)

// Query.node and Query.nodes are one more door to the datasets' records
// (Relay refetches through them). They must answer exactly as _entities
// does: the caller's rows only, a record outside them indistinguishable
// from one that does not exist, every field through the same field rules.

// nodeFields is what the tests ask of each node type: an @access field of
// each dataset that some callers see masked or not at all.
var nodeFields = map[string]string{
	"Case":         `id caseNo status description timeline { action toStatus } reporter { name phone }`,
	"Violation":    `id kind plate party { name phone }`,
	"Property":     `id name households management { contactName contactPhone }`,
	"ParkingLot":   `id name contact { phone }`,
	"Jurisdiction": `id code name`,
	"Department":   `id code name`,
}

// nodeSelection selects every type's fields by inline fragments.
func nodeSelection() string {
	var b strings.Builder
	b.WriteString("__typename")
	for _, typ := range []string{"Case", "Violation", "Property", "ParkingLot", "Jurisdiction", "Department"} {
		fmt.Fprintf(&b, " ... on %s { %s }", typ, nodeFields[typ])
	}
	return b.String()
}

// streetToken is a token of the urban-management field staff of
// Chengdong: the cases under hailing.chengdong, reporters masked.
func (h *hub) streetToken(jurisdiction string) string {
	h.t.Helper()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "tester", Dept: "urban-management",
		Roles: []string{"street-officer"}, Jurisdiction: jurisdiction}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// queryOne returns the first value of a one-column query.
func (h *hub) queryOne(sql string, args ...any) string {
	h.t.Helper()
	var v string
	if err := h.app.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// canonical re-encodes a JSON value so equal values compare equal.
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// errorsBelow lists the errors of r under root field (and, for a list,
// its index 0) as code, message and the path below it.
func errorsBelow(r gqlResponse, root string, list bool) []string {
	var out []string
	for _, e := range r.Errors {
		if len(e.Path) == 0 || e.Path[0] != root {
			continue
		}
		rest := e.Path[1:]
		if list {
			if len(rest) == 0 || rest[0] != float64(0) {
				continue
			}
			rest = rest[1:]
		}
		code, _ := e.Extensions["code"].(string)
		out = append(out, fmt.Sprintf("%s %q at %v", code, e.Message, rest))
	}
	slices.Sort(out)
	return out
}

// sameAsEntities fails unless node, nodes and _entities (askThreeDoors)
// answered the same object (or null) with the same errors below the root.
// It returns node's answer.
func sameAsEntities(t *testing.T, r gqlResponse) string {
	t.Helper()
	nodes := decode[[]json.RawMessage](t, r.Data["nodes"])
	ents := decode[[]json.RawMessage](t, r.Data["_entities"])
	if len(nodes) != 1 || len(ents) != 1 {
		t.Fatalf("nodes %s, _entities %s: want one answer each (%+v)", r.Data["nodes"], r.Data["_entities"], r.Errors)
	}
	node := canonical(t, r.Data["node"])
	if n, e := canonical(t, nodes[0]), canonical(t, ents[0]); node != e || n != e {
		t.Errorf("node answers %s, nodes %s, _entities %s", node, n, e)
	}
	ne, nse, ee := errorsBelow(r, "node", false), errorsBelow(r, "nodes", true), errorsBelow(r, "_entities", true)
	if !slices.Equal(ne, ee) || !slices.Equal(nse, ee) {
		t.Errorf("errors differ:\n\tnode %v\n\tnodes %v\n\t_entities %v", ne, nse, ee)
	}
	return node
}

// askThreeDoors asks for the object typ id as token through node(id:),
// nodes(ids:) and _entities, in one request.
func askThreeDoors(h *hub, token, typ, id string) gqlResponse {
	h.t.Helper()
	sel := nodeSelection()
	return h.do(token, `query($id: ID!, $ids: [ID!]!, $reps: [_Any!]!) {
		node(id: $id) { `+sel+` }
		nodes(ids: $ids) { `+sel+` }
		_entities(representations: $reps) { `+sel+` } }`,
		map[string]any{"id": id, "ids": []string{id}, "reps": []any{entityRep(typ, id)}})
}

func entityRep(typ, id string) map[string]any {
	if typ == "Jurisdiction" || typ == "Department" {
		return map[string]any{"__typename": typ, "code": id}
	}
	return map[string]any{"__typename": typ, "id": id}
}

// TestNodeAnswersAsEntities: for callers of every kind (the provider, a
// bureau seeing reporters masked, field staff of one street, the
// anonymous public) and objects of every type, in and out of their rows,
// node and nodes answer what _entities answers, field for field.
func TestNodeAnswersAsEntities(t *testing.T) {
	h := newHub(t)
	objects := []struct{ typ, id string }{
		{"Case", h.queryOne(`SELECT id::text FROM cases WHERE jurisdiction_code LIKE 'hailing.chengdong.%' AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1`)},
		{"Case", h.queryOne(`SELECT id::text FROM cases WHERE jurisdiction_code LIKE 'hailing.chengxi.%' AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1`)},
		{"Violation", h.queryOne(`SELECT id::text FROM violations WHERE party_phone IS NOT NULL ORDER BY id LIMIT 1`)},
		{"Property", h.queryOne(`SELECT id::text FROM properties ORDER BY id LIMIT 1`)},
		{"ParkingLot", h.queryOne(`SELECT id::text FROM parking_lots ORDER BY id LIMIT 1`)},
		{"Case", uuid.NewString()},
		{"Jurisdiction", "hailing.chengxi"},
		{"Department", "street-chengdong"},
	}
	// What each caller must (true) or must not (false) get, by index in
	// objects, so that the comparison is not one of nulls.
	callers := []struct {
		name, token string
		sees        map[int]bool
	}{
		{"urban-management officer", h.token("urban-management", "officer"), map[int]bool{0: true, 1: true, 5: false, 6: true, 7: true}},
		{"housing viewer", h.token("housing", "viewer"), map[int]bool{0: true, 1: true, 3: true, 5: false}},
		{"urban-management street-officer of Chengdong", h.streetToken("hailing.chengdong"), map[int]bool{0: true, 1: false, 5: false}},
		{"anonymous", "", map[int]bool{0: false, 1: false, 3: true, 4: true, 5: false, 6: true}},
	}
	for _, c := range callers {
		for i, o := range objects {
			t.Run(c.name+"/"+o.typ+"/"+o.id, func(t *testing.T) {
				got := sameAsEntities(t, askThreeDoors(h, c.token, o.typ, o.id))
				if want, ok := c.sees[i]; ok && want != (got != "null") {
					t.Errorf("answered %s; want an object: %v", got, want)
				}
			})
		}
	}
}

// TestNodeKeepsToTheCallersRows: field staff of Chengdong get a Chengdong
// case with its reporter masked, and null, without an error, for a case
// of Chengxi: exactly the answer for an id that does not exist, and
// nothing of the record in it. nodes keeps the order asked, repeats
// included, and resolves codes through the directory.
func TestNodeKeepsToTheCallersRows(t *testing.T) {
	h := newHub(t)
	inside := h.queryOne(`SELECT id::text FROM cases WHERE jurisdiction_code LIKE 'hailing.chengdong.%' AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1`)
	outside := h.queryOne(`SELECT id::text FROM cases WHERE jurisdiction_code LIKE 'hailing.chengxi.%' AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1`)
	insidePhone := h.queryOne(`SELECT reporter_phone FROM cases WHERE id = $1`, inside)
	outsidePhone := h.queryOne(`SELECT reporter_phone FROM cases WHERE id = $1`, outside)
	outsideNo := h.queryOne(`SELECT case_no FROM cases WHERE id = $1`, outside)
	missing := uuid.NewString()
	street := h.streetToken("hailing.chengdong")
	sel := nodeSelection()

	one := func(id string) (string, int) {
		r := h.do(street, `query($id: ID!) { node(id: $id) { `+sel+` } }`, map[string]any{"id": id})
		b, _ := json.Marshal(r)
		return strings.ReplaceAll(string(b), id, "<id>"), len(r.Errors)
	}
	a, errsA := one(outside)
	b, errsB := one(missing)
	if a != b || errsA+errsB > 0 || !strings.Contains(a, `"node":null`) {
		t.Errorf("node: an out-of-scope case answers\n\t%s\nan id that does not exist\n\t%s\nwant both null without errors", a, b)
	}

	ids := []string{inside, outside, missing, "hailing.chengxi", "street-chengdong", "no-such-code", outside[:8], inside}
	r := h.do(street, `query($ids: [ID!]!) { nodes(ids: $ids) { `+sel+` } }`, map[string]any{"ids": ids})
	if len(r.Errors) > 0 {
		t.Fatalf("nodes: %+v", r.Errors)
	}
	raw := string(r.Data["nodes"])
	for _, leak := range []string{outside, outsidePhone, outsideNo, insidePhone} {
		if strings.Contains(raw, leak) {
			t.Errorf("nodes answers %q (out-of-scope case %s or the unmasked phone): %s", leak, outside, raw)
		}
	}
	got := decode[[]*struct {
		Typename string `json:"__typename"`
		ID       string
		Reporter *struct{ Phone string }
	}](t, r.Data["nodes"])
	want := []string{"Case " + inside, "", "", "Jurisdiction hailing.chengxi", "Department street-chengdong", "", "", "Case " + inside}
	if len(got) != len(want) {
		t.Fatalf("nodes answered %d objects for %d ids: %s", len(got), len(ids), raw)
	}
	for i, g := range got {
		s := ""
		if g != nil {
			s = g.Typename + " " + g.ID
		}
		if s != want[i] {
			t.Errorf("nodes[%d] (id %q) = %q, want %q", i, ids[i], s, want[i])
		}
	}
	if rep := got[0].Reporter; rep == nil || rep.Phone == insidePhone || !strings.Contains(rep.Phone, "****") {
		t.Errorf("the street officer's reporter phone through nodes: %+v, want %s masked", rep, insidePhone)
	}

	// The provider's desk sees the same case's reporter as stored.
	r = h.do(h.token("urban-management", "officer"), `query($id: ID!) { node(id: $id) { ... on Case { reporter { phone } } } }`,
		map[string]any{"id": inside})
	if c := decode[struct{ Reporter struct{ Phone string } }](t, r.Data["node"]); c.Reporter.Phone != insidePhone || len(r.Errors) > 0 {
		t.Errorf("the provider's reporter phone through node: %+v %+v, want %s", c, r.Errors, insidePhone)
	}
}

// TestNodeForCitizensAndThePublic: the citizen app sees a citizen's own
// report through node and nodes, another citizen gets null; the anonymous
// public gets public records (as the root fields answer them) and null
// for a case.
func TestNodeForCitizensAndThePublic(t *testing.T) {
	h := newHub(t)
	app := h.citizenApp()
	r := h.asCitizen(app, "cit-node-1", reportIssue, map[string]any{"in": issue(), "key": "node-key-0001"})
	if len(r.Errors) > 0 {
		t.Fatalf("report: %+v", r.Errors)
	}
	own := decode[struct{ ID string }](t, r.Data["reportIssue"]).ID
	seeded := h.queryOne(`SELECT id::text FROM cases WHERE citizen_id IS NULL ORDER BY id LIMIT 1`)
	const q = `query($id: ID!, $ids: [ID!]!) { node(id: $id) { id ... on Case { description reporter { phone } } }
		nodes(ids: $ids) { id } }`
	vars := map[string]any{"id": own, "ids": []string{seeded, own}}

	r = h.asCitizen(app, "cit-node-1", q, vars)
	c := decode[*struct {
		ID       string
		Reporter struct{ Phone string }
	}](t, r.Data["node"])
	if len(r.Errors) > 0 || c == nil || c.ID != own || c.Reporter.Phone != "13900001111" {
		t.Errorf("the citizen's own case through node: %s %+v", r.Data["node"], r.Errors)
	}
	if got := canonical(t, r.Data["nodes"]); got != `[null,{"id":"`+own+`"}]` {
		t.Errorf("the citizen's nodes: %s, want only the own case", got)
	}

	r = h.asCitizen(app, "cit-node-2", q, vars)
	if len(r.Errors) > 0 || canonical(t, r.Data["node"]) != "null" || canonical(t, r.Data["nodes"]) != "[null,null]" {
		t.Errorf("another citizen: node %s nodes %s %+v", r.Data["node"], r.Data["nodes"], r.Errors)
	}

	// The anonymous public: no case, public records as the root fields
	// show them.
	lot := h.queryOne(`SELECT id::text FROM parking_lots ORDER BY id LIMIT 1`)
	prop := h.queryOne(`SELECT id::text FROM properties ORDER BY id LIMIT 1`)
	r = h.do("", `query($lot: ID!, $prop: ID!, $ids: [ID!]!) {
		lotNode: node(id: $lot) { ... on ParkingLot { id name totalSpaces } }
		lot: parkingLot(id: $lot) { id name totalSpaces }
		propNode: node(id: $prop) { ... on Property { id name buildYear } }
		prop: property(id: $prop) { id name buildYear }
		nodes(ids: $ids) { __typename id } }`,
		map[string]any{"lot": lot, "prop": prop, "ids": []string{own, seeded, "hailing"}})
	if len(r.Errors) > 0 {
		t.Fatalf("anonymous: %+v", r.Errors)
	}
	for _, pair := range [][2]string{{"lotNode", "lot"}, {"propNode", "prop"}} {
		if a, b := canonical(t, r.Data[pair[0]]), canonical(t, r.Data[pair[1]]); a != b || a == "null" {
			t.Errorf("anonymous %s answers %s, the root field %s", pair[0], a, b)
		}
	}
	if got := canonical(t, r.Data["nodes"]); got != `[null,null,{"__typename":"Jurisdiction","id":"hailing"}]` {
		t.Errorf("anonymous nodes: %s, want no case", got)
	}
}

// TestNodesRefusesTooManyIds: one nodes() call takes at most
// graph.MaxNodes ids.
func TestNodesRefusesTooManyIds(t *testing.T) {
	h := newHub(t)
	ids := make([]string, graph.MaxNodes+1)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	r := h.do(h.token("urban-management", "officer"), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
	if r.code(0) != "BAD_USER_INPUT" {
		t.Fatalf("%d ids: %+v", len(ids), r.Errors)
	}
	r = h.do(h.token("urban-management", "officer"), `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids[:graph.MaxNodes]})
	if len(r.Errors) > 0 {
		t.Fatalf("%d ids: %+v", graph.MaxNodes, r.Errors)
	}
}
