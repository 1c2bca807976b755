package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
)

// The randomized leakage test: random queries as random principals of the
// matrix, every response checked against the oracle of matrix_test.go.
// Queries nest (case → handlingDept/ownerDept/jurisdiction → parent/children
// → the subtree's cases), alias, spread fields over inline and named
// fragments, look cases up by case(id:), _entities, node and nodes with a mix of
// in-scope, out-of-scope, nonexistent and malformed ids, page through lists
// with after cursors, filter (jurisdiction subtree, status, source, open,
// text, handling department, kind), and reach cases through the other
// datasets (a compound's cases, the case behind a violation). Replay a run
// with -leak.seed=N (or LEAK_SEED=N); -leak.n sets the number of queries.

var (
	leakSeedFlag = flag.Uint64("leak.seed", 0, "seed of the randomized leakage test (0: LEAK_SEED, else a fresh seed)")
	leakNFlag    = flag.Int("leak.n", 250, "number of random queries in the randomized leakage test")
)

func leakSeed(t testing.TB) uint64 {
	t.Helper()
	if *leakSeedFlag != 0 {
		return *leakSeedFlag
	}
	if s := os.Getenv("LEAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LEAK_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// newHubWith starts a hub on the package's seeded database with options
// (a planted leak) and without rate limits: the access tests send hundreds
// of requests as one citizen or anonymously, which the default limits
// (RATE_LIMIT_*) would refuse.
func newHubWith(t testing.TB, opts app.Options) *hub {
	t.Helper()
	base := newHub(t) // seeds the package database once (seedOnce) and loads the config
	if opts.Now == nil {
		opts.Now = func() time.Time { return seedNow }
	}
	cfg := base.cfg
	cfg.RateCitizen, cfg.RateAPIKey, cfg.RateAnonymous = "off", "off", "off"
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), opts)
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg, stmts: &stmtRecorder{}}
}

// ---------------------------------------------------------------- queries

// qField is one field of a generated selection: its response key (the alias,
// or the name), the schema field, arguments and, for objects, the type and
// the fields selected below (however they were spread over fragments).
type qField struct {
	key, name, args string
	typ             string
	kids            []*qField
	first           int // the page size of a nested cases(first:)
}

func (s *qField) kid(name string) *qField {
	for _, k := range s.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

type opKind int

const (
	opList       opKind = iota // cases(filter, orderBy, first, after)
	opCase                     // case(id:)
	opEntities                 // _entities(representations: [Case…])
	opNodes                    // node(id:) or nodes(ids:): cases by their global id
	opJur                      // jurisdiction(code:), with nested cases
	opProperty                 // property(id:) { cases }: a compound's cases
	opViolations               // violations { case }: the case behind each violation
)

// rootOp is one root field of a generated query.
type rootOp struct {
	kind opKind
	sel  *qField // the root field as selected
	// opList
	filter   caseFilter
	order    string
	first    int
	afterVar string // set on the one list a query pages through
	// opCase, opEntities, opNodes: the case ids asked for; opJur: the code;
	// opProperty: the compound's id
	ids []string
}

type genQuery struct {
	index  int
	caller *matrixCaller
	text   string
	vars   map[string]any
	ops    []*rootOp
	walk   *rootOp // the list paged through with after cursors, if any
	pages  int     // how many pages to walk
}

type queryGen struct {
	r     *rand.Rand
	w     *accessWorld
	n     int
	frags []string
	vars  map[string]any
	defs  []string
}

func (g *queryGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *queryGen) pick(list []string) string { return list[g.r.IntN(len(list))] }

// field makes a leaf or object field, aliased now and then.
func (g *queryGen) field(name, typ string, kids ...*qField) *qField {
	key := name
	if g.chance(0.25) {
		g.n++
		key = fmt.Sprintf("%s_%d", strings.TrimLeft(name, "_"), g.n)
	}
	return &qField{key: key, name: name, typ: typ, kids: kids}
}

// some returns a non-empty random subset of names as leaf fields.
func (g *queryGen) some(p float64, names ...string) []*qField {
	var out []*qField
	for _, n := range names {
		if g.chance(p) {
			out = append(out, g.field(n, ""))
		}
	}
	if len(out) == 0 {
		out = append(out, g.field(g.pick(names), ""))
	}
	return out
}

func (g *queryGen) shuffle(s []*qField) []*qField {
	g.r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

var caseScalars = []string{"caseNo", "status", "source", "kind", "description", "address", "majorCode", "minorCode", "reportedAt", "__typename"}

// caseKids selects Case fields; inside a nested list (nested) the
// jurisdiction offers no further nested list.
func (g *queryGen) caseKids(nested bool) []*qField {
	kids := []*qField{g.field("id", "")}
	for _, f := range caseScalars {
		if g.chance(0.3) {
			kids = append(kids, g.field(f, ""))
		}
	}
	if g.chance(0.2) {
		kids = append(kids, g.field("ownerDept", "Department", g.deptKids(2, !nested)...))
	}
	if g.chance(0.3) {
		kids = append(kids, g.field("handlingDept", "Department", g.deptKids(2, !nested)...))
	}
	if g.chance(0.3) {
		kids = append(kids, g.field("jurisdiction", "Jurisdiction", g.jurKids(2, !nested)...))
	}
	if g.chance(0.6) {
		kids = append(kids, g.field("reporter", "Reporter", g.some(0.7, "name", "phone")...))
	}
	if g.chance(0.35) {
		kids = append(kids, g.field("timeline", "CaseEvent", g.some(0.5, "action", "toStatus", "actor", "actorDept")...))
	}
	return g.shuffle(kids)
}

func (g *queryGen) deptKids(depth int, lists bool) []*qField {
	kids := g.some(0.5, "code", "name", "kind")
	if depth > 0 && g.chance(0.3) {
		kids = append(kids, g.field("jurisdiction", "Jurisdiction", g.jurKids(depth-1, lists)...))
	}
	return g.shuffle(kids)
}

// jurKids selects Jurisdiction fields; with lists, now and then the
// subtree's cases (a nested list: another door to the rows).
func (g *queryGen) jurKids(depth int, lists bool) []*qField {
	kids := g.some(0.5, "code", "level", "name")
	if depth > 0 && g.chance(0.35) {
		kids = append(kids, g.field("parent", "Jurisdiction", g.jurKids(depth-1, lists)...))
	}
	if lists && g.chance(0.3) {
		kids = append(kids, g.nestedCases())
	}
	if depth > 0 && g.chance(0.2) {
		ch := []*qField{{key: "code", name: "code"}}
		if g.chance(0.5) {
			ch = append(ch, g.field("level", ""))
		}
		kids = append(kids, g.field("children", "Jurisdiction", ch...))
	}
	return g.shuffle(kids)
}

// connKids selects CaseConnection fields.
func (g *queryGen) connKids(nested bool) []*qField {
	var conn []*qField
	if g.chance(0.75) {
		conn = append(conn, g.field("totalCount", ""))
	}
	if g.chance(0.9) {
		edge := []*qField{g.field("node", "Case", g.caseKids(nested)...)}
		if g.chance(0.3) {
			edge = append(edge, g.field("cursor", ""))
		}
		conn = append(conn, g.field("edges", "CaseEdge", g.shuffle(edge)...))
	}
	if g.chance(0.5) {
		conn = append(conn, g.field("pageInfo", "PageInfo", g.some(0.6, "hasNextPage", "endCursor")...))
	}
	if len(conn) == 0 {
		conn = append(conn, g.field("totalCount", ""))
	}
	return g.shuffle(conn)
}

// nestedCases is a nested cases(first:) list (of a jurisdiction or a
// compound), newest first.
func (g *queryGen) nestedCases() *qField {
	s := g.field("cases", "CaseConnection", g.connKids(true)...)
	s.first = []int{0, 1, 3, 5, 20, 50}[g.r.IntN(6)]
	s.args = "(first: " + strconv.Itoa(s.first) + ")"
	return s
}

// renderSet renders a selection set, spreading the fields at random over
// plain fields, an inline fragment and a named fragment.
func (g *queryGen) renderSet(typ string, kids []*qField) string {
	var direct, inline, named []*qField
	for _, k := range kids {
		switch g.r.IntN(6) {
		case 0:
			inline = append(inline, k)
		case 1:
			named = append(named, k)
		default:
			direct = append(direct, k)
		}
	}
	var parts []string
	for _, k := range direct {
		parts = append(parts, g.renderField(k))
	}
	if len(inline) > 0 {
		parts = append(parts, "... on "+typ+" "+g.renderFields(inline))
	}
	if len(named) > 0 {
		g.n++
		name := fmt.Sprintf("F%d", g.n)
		g.frags = append(g.frags, "fragment "+name+" on "+typ+" "+g.renderFields(named))
		parts = append(parts, "..."+name)
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

func (g *queryGen) renderFields(kids []*qField) string {
	var parts []string
	for _, k := range kids {
		parts = append(parts, g.renderField(k))
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

func (g *queryGen) renderField(k *qField) string {
	s := k.name
	if k.key != k.name {
		s = k.key + ": " + k.name
	}
	s += k.args
	if k.typ != "" {
		s += " " + g.renderSet(k.typ, k.kids)
	}
	return s
}

func (g *queryGen) variable(typ string, v any) string {
	g.n++
	name := fmt.Sprintf("v%d", g.n)
	g.defs = append(g.defs, "$"+name+": "+typ)
	g.vars[name] = v
	return "$" + name
}

var (
	allStatuses = []string{"REPORTED", "REGISTERED", "NOT_REGISTERED", "DISPATCHED", "RETURNED", "HANDLED", "REWORK", "DEFERRED", "BACKLOG", "CLOSED"}
	allSources  = []string{"INSPECTOR_PATROL", "DRONE_PATROL", "VIDEO_ANALYTICS", "ENFORCEMENT_TERMINAL", "CITIZEN_REPORT", "HOTLINE_12345", "ASSIGNED_BY_SUPERIOR", "MEDIA"}
	allOrders   = []string{"REPORTED_AT_DESC", "REPORTED_AT_ASC", "DEADLINE_ASC", "DEADLINE_DESC"}
	textWords   = []string{"店外", "垃圾", "井盖", "占道", "渣土车", "12345", "市民反映", "巡查发现", "路", "号"}
)

func (g *queryGen) filter(c *matrixCaller) caseFilter {
	var f caseFilter
	if g.chance(0.45) {
		switch {
		case c.jur != "" && g.chance(0.4):
			// Inside, above or beside the caller's own subtree.
			f.Jurisdiction = c.jur
			if j := g.w.jurs[c.jur]; g.chance(0.5) && len(j.Children) > 0 {
				f.Jurisdiction = g.pick(j.Children)
			} else if g.chance(0.3) && j.Parent != "" {
				f.Jurisdiction = j.Parent
			}
		default:
			f.Jurisdiction = g.pick(g.w.jurCodes)
		}
	}
	if g.chance(0.2) {
		f.Status = []string{g.pick(allStatuses), g.pick(allStatuses)}[:1+g.r.IntN(2)]
	}
	if g.chance(0.2) {
		f.Source = []string{g.pick(allSources), g.pick(allSources)}[:1+g.r.IntN(2)]
	}
	if g.chance(0.2) {
		b := g.chance(0.5)
		f.Open = &b
	}
	if g.chance(0.25) {
		if g.chance(0.5) {
			f.Text = g.pick(textWords)
		} else {
			// Part of a case's description, more often one the caller may
			// not see.
			id := g.pick(g.w.ids)
			if len(c.outside) > 0 && g.chance(0.6) {
				id = g.pick(c.outside)
			}
			d := []rune(g.w.cases[id].Description)
			start := g.r.IntN(len(d))
			end := min(len(d), start+2+g.r.IntN(12))
			f.Text = strings.TrimSpace(string(d[start:end]))
		}
	}
	if g.chance(0.1) {
		f.HandlingDept = g.pick(g.w.deptList)
	}
	if g.chance(0.1) {
		f.Kind = g.pick([]string{"COMPONENT", "EVENT"})
	}
	return f
}

// someID picks a case id for case(id:) and _entities: in scope, out of
// scope, nonexistent or malformed.
func (g *queryGen) someID(c *matrixCaller) string {
	switch x := g.r.IntN(100); {
	case x < 40 && len(c.inside) > 0:
		return g.pick(c.inside)
	case x < 80 && len(c.outside) > 0:
		return g.pick(c.outside)
	case x < 95:
		var b [16]byte
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	default:
		return g.pick([]string{"not-a-uuid", "", "00000000-0000-0000-0000-000000000000"})
	}
}

// query generates one random query for a caller.
func (g *queryGen) query(c *matrixCaller) *genQuery {
	g.frags, g.defs, g.vars = nil, nil, map[string]any{}
	q := &genQuery{caller: c, vars: g.vars}
	nops := 1 + g.r.IntN(3)
	var parts []string
	for i := range nops {
		op := &rootOp{}
		switch x := g.r.IntN(100); {
		case x < 40:
			op.kind = opList
		case x < 60:
			op.kind = opCase
		case x < 70:
			op.kind = opEntities
		case x < 78:
			op.kind = opNodes
		case x < 88:
			op.kind = opJur
		case x < 94:
			op.kind = opProperty
		default:
			op.kind = opViolations
		}
		key := func(name string) string {
			if nops > 1 || g.chance(0.3) {
				return fmt.Sprintf("%s%d", strings.TrimLeft(name, "_"), i)
			}
			return name
		}
		switch op.kind {
		case opList:
			op.filter = g.filter(c)
			op.order = g.pick(allOrders)
			op.first = []int{1, 3, 10, 25, 60}[g.r.IntN(5)]
			op.sel = &qField{key: key("cases"), name: "cases", typ: "CaseConnection", kids: g.connKids(false)}
			args := []string{"first: " + strconv.Itoa(op.first)}
			if fi := op.filter.input(); len(fi) > 0 || g.chance(0.3) {
				args = append(args, "filter: "+g.variable("CaseFilter", fi))
			}
			if op.order != "REPORTED_AT_DESC" || g.chance(0.3) {
				args = append(args, "orderBy: "+op.order)
			}
			if q.walk == nil && g.chance(0.35) {
				// Page through: the edges (with ids) and pageInfo are needed.
				q.walk, q.pages = op, 2+g.r.IntN(3)
				if op.sel.kid("edges") == nil {
					op.sel.kids = append(op.sel.kids, g.field("edges", "CaseEdge", g.field("node", "Case", g.caseKids(false)...)))
				}
				if pi := op.sel.kid("pageInfo"); pi == nil {
					op.sel.kids = append(op.sel.kids, g.field("pageInfo", "PageInfo", g.field("hasNextPage", ""), g.field("endCursor", "")))
				} else {
					for _, n := range []string{"hasNextPage", "endCursor"} {
						if pi.kid(n) == nil {
							pi.kids = append(pi.kids, g.field(n, ""))
						}
					}
				}
				g.n++
				op.afterVar = fmt.Sprintf("after%d", g.n)
				g.defs = append(g.defs, "$"+op.afterVar+": String")
				args = append(args, "after: $"+op.afterVar)
			}
			g.r.Shuffle(len(args), func(i, j int) { args[i], args[j] = args[j], args[i] })
			op.sel.args = "(" + strings.Join(args, ", ") + ")"
			parts = append(parts, g.renderField(op.sel))
		case opCase:
			op.ids = []string{g.someID(c)}
			op.sel = &qField{key: key("case"), name: "case", typ: "Case", kids: g.caseKids(false)}
			op.sel.args = "(id: " + g.variable("ID!", op.ids[0]) + ")"
			parts = append(parts, g.renderField(op.sel))
		case opJur:
			code := g.pick(g.w.jurCodes)
			if c.jur != "" && g.chance(0.4) {
				code = c.jur
			}
			op.ids = []string{code}
			kids := g.jurKids(2, false)
			kids = append(kids, g.nestedCases())
			op.sel = &qField{key: key("jurisdiction"), name: "jurisdiction", typ: "Jurisdiction", kids: g.shuffle(kids)}
			op.sel.args = "(code: " + g.variable("String!", code) + ")"
			parts = append(parts, g.renderField(op.sel))
		case opProperty:
			id := g.pick(g.w.propertyIDs)
			op.ids = []string{id}
			op.sel = &qField{key: key("property"), name: "property", typ: "Property",
				kids: g.shuffle([]*qField{g.field("id", ""), g.nestedCases()})}
			op.sel.args = "(id: " + g.variable("ID!", id) + ")"
			parts = append(parts, g.renderField(op.sel))
		case opViolations:
			op.first = []int{5, 20, 50}[g.r.IntN(3)]
			node := g.field("node", "Violation", g.field("id", ""), g.field("case", "Case", g.caseKids(false)...))
			op.sel = &qField{key: key("violations"), name: "violations", typ: "ViolationConnection",
				kids: []*qField{g.field("edges", "ViolationEdge", node)}}
			op.sel.args = "(first: " + strconv.Itoa(op.first) + ")"
			parts = append(parts, g.renderField(op.sel))
		case opEntities, opNodes:
			n := 1 + g.r.IntN(6)
			reps := make([]any, n)
			for j := range n {
				op.ids = append(op.ids, g.someID(c))
				reps[j] = map[string]any{"__typename": "Case", "id": op.ids[j]}
			}
			switch {
			case op.kind == opEntities:
				op.sel = &qField{key: key("_entities"), name: "_entities", typ: "Case", kids: g.caseKids(false)}
				op.sel.args = "(representations: " + g.variable("[_Any!]!", reps) + ")"
			case g.chance(0.5):
				op.ids = op.ids[:1]
				op.sel = &qField{key: key("node"), name: "node", typ: "Case", kids: g.caseKids(false)}
				op.sel.args = "(id: " + g.variable("ID!", op.ids[0]) + ")"
			default:
				op.sel = &qField{key: key("nodes"), name: "nodes", typ: "Case", kids: g.caseKids(false)}
				op.sel.args = "(ids: " + g.variable("[ID!]!", op.ids) + ")"
			}
			// The entities are a union, nodes an interface: the Case
			// fields go in a fragment.
			var set string
			if g.chance(0.4) {
				g.n++
				name := fmt.Sprintf("E%d", g.n)
				g.frags = append(g.frags, "fragment "+name+" on Case "+g.renderSet("Case", op.sel.kids))
				set = "..." + name
			} else {
				set = "... on Case " + g.renderSet("Case", op.sel.kids)
			}
			head := op.sel.name
			if op.sel.key != op.sel.name {
				head = op.sel.key + ": " + op.sel.name
			}
			parts = append(parts, head+op.sel.args+" { "+set+" }")
		}
		q.ops = append(q.ops, op)
	}
	head := "query"
	if g.chance(0.5) {
		head += fmt.Sprintf(" Q%d", g.n)
	}
	if len(g.defs) > 0 {
		head += "(" + strings.Join(g.defs, ", ") + ")"
	}
	q.text = head + " { " + strings.Join(parts, " ") + " }"
	for _, f := range g.frags {
		q.text += "\n" + f
	}
	return q
}

// ---------------------------------------------------------------- checker

// leakViolation is one thing a response shows that the oracle forbids (or
// withholds that it allows).
type leakViolation struct {
	query   int // index of the query in the seeded sequence
	caller  string
	text    string
	vars    string
	path    string
	problem string
}

func (v leakViolation) String() string {
	return fmt.Sprintf("%s\n\tquery #%d as %s\n\tpath: %s\n\tquery: %s\n\tvariables: %s", v.problem, v.query, v.caller, v.path, v.text, v.vars)
}

// violationLog records violations instead of failing the test, so a planted
// leak can be required to produce some.
type violationLog struct {
	mu       sync.Mutex
	vs       []leakViolation
	requests int
	seen     map[string]int // what the checked answers covered, for the log
}

// saw counts one thing the checker judged.
func (c *violationLog) saw(what string) {
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[what]++
	c.mu.Unlock()
}

func (c *violationLog) add(v leakViolation) {
	c.mu.Lock()
	c.vs = append(c.vs, v)
	c.mu.Unlock()
}

// violations returns the violations found so far, by query.
func (c *violationLog) violations() []leakViolation {
	c.mu.Lock()
	defer c.mu.Unlock()
	vs := slices.Clone(c.vs)
	slices.SortStableFunc(vs, func(a, b leakViolation) int { return a.query - b.query })
	return vs
}

// respCheck is the judging of one response.
type respCheck struct {
	w        *accessWorld
	c        *matrixCaller
	q        *genQuery
	r        rawResponse
	out      *violationLog
	wantErrs map[string]bool // field paths (no indices) where a FORBIDDEN error must be
	ids      []string        // the case ids in the answer (to load timelines in one go)
}

func (k *respCheck) fail(path []any, format string, args ...any) {
	vars, _ := json.Marshal(k.q.vars)
	k.out.add(leakViolation{query: k.q.index, caller: k.c.String(), text: k.q.text, vars: string(vars), path: pathString(path), problem: fmt.Sprintf(format, args...)})
}

var (
	uuidRe  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	phoneRe = regexp.MustCompile(`1\d{10}`)
)

// judge checks a whole response; afterID is the oracle's last id of the
// previous page of q.walk.
func (k *respCheck) judge(afterID string) {
	if k.r.Status != 200 {
		k.fail(nil, "HTTP status %d: %s", k.r.Status, k.r.Body)
		return
	}
	// Nothing anywhere in the answer (errors included) may name a case
	// outside the caller's scope or carry a reporter's raw phone number
	// when the caller may not see it raw.
	k.ids = uuidRe.FindAllString(string(k.r.Body), -1)
	for _, id := range k.ids {
		if k.w.cases[id] != nil && !k.c.visible[id] {
			k.fail(nil, "the answer names case %s, outside the caller's scope", id)
		}
	}
	if k.c.reporter != wantVisible {
		for _, p := range phoneRe.FindAllString(string(k.r.Body), -1) {
			if k.w.phones[p] {
				k.fail(nil, "the answer carries the raw reporter phone %s (want %s)", p, k.c.reporter)
			}
		}
	}
	if len(k.r.Errors) == 1 && k.r.Errors[0].Extensions["maxCost"] != nil && len(k.r.Data) == 0 {
		// Refused before running as too large (the cost limit): nothing
		// was answered, and the refusal was scanned above like any answer.
		k.out.saw("operations refused as too large")
		return
	}
	for _, op := range k.q.ops {
		path := []any{op.sel.key}
		v := k.r.Data[op.sel.key]
		switch op.kind {
		case opList:
			after := ""
			if op == k.q.walk {
				after = afterID
			}
			k.list(path, v, op.sel, op.filter, op.order, op.first, after)
		case opJur:
			k.jur(path, v, op.sel.kids, op.ids[0])
		case opProperty:
			k.property(path, v, op.sel.kids, op.ids[0])
		case opViolations:
			k.violations(path, v, op.sel)
		case opCase:
			k.caseAt(path, v, op.sel.kids, op.ids[0])
		case opEntities, opNodes:
			if op.sel.name == "node" {
				k.caseAt(path, v, op.sel.kids, op.ids[0])
				continue
			}
			list, ok := v.([]any)
			if !ok || len(list) != len(op.ids) {
				k.fail(path, "%s answered %v for %d ids", op.sel.name, v, len(op.ids))
				continue
			}
			for i, e := range list {
				k.caseAt(pathWith(path, i), e, op.sel.kids, op.ids[i])
			}
		}
	}
	// The hub reports a denied field once per field path (the list indices
	// left out), so one FORBIDDEN error answers every row's denial there.
	answered := map[string]bool{}
	for _, e := range k.r.Errors {
		p := fieldPath(e.Path)
		if e.code() == "FORBIDDEN" && (k.wantErrs[p] || answered[p]) {
			delete(k.wantErrs, p)
			answered[p] = true
			continue
		}
		k.fail(e.Path, "unexpected error %s: %q", e.code(), e.Message)
	}
	for p := range k.wantErrs {
		k.fail([]any{p}, "a denied field group without a FORBIDDEN error")
	}
}

// list checks a CaseConnection (selected by s) against the oracle's list
// for the filter, order, page size and previous page.
func (k *respCheck) list(path []any, v any, s0 *qField, f caseFilter, order string, first int, afterID string) {
	conn, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "cases answered %v", v)
		return
	}
	wantIDs, more, total := k.w.list(k.c, f, order, first, afterID)
	k.out.saw("case lists")
	if afterID != "" {
		k.out.saw("next pages")
	}
	if total == 0 && len(k.c.visible) > 0 && f.matchesAny(k.w) {
		k.out.saw("lists whose matches are all out of scope")
	}
	if s := s0.kid("totalCount"); s != nil {
		if got, _ := conn[s.key].(float64); int(got) != total {
			k.fail(pathWith(path, s.key), "totalCount %v, the oracle counts %d", conn[s.key], total)
		}
	}
	if s := s0.kid("edges"); s != nil {
		edges, _ := conn[s.key].([]any)
		node := s.kid("node")
		var got []string
		for i, e := range edges {
			em, _ := e.(map[string]any)
			n, _ := em[node.key].(map[string]any)
			id, _ := n["id"].(string)
			if idk := node.kid("id"); idk != nil {
				id, _ = n[idk.key].(string)
			}
			got = append(got, id)
			k.caseAt(pathWith(path, s.key, i, node.key), em[node.key], node.kids, "")
		}
		if !slices.Equal(got, wantIDs) {
			k.fail(pathWith(path, s.key), "page of %d cases %v, the oracle's page is %d cases %v", len(got), shortIDs(got), len(wantIDs), shortIDs(wantIDs))
		}
	}
	if s := s0.kid("pageInfo"); s != nil {
		pi, _ := conn[s.key].(map[string]any)
		if hn := s.kid("hasNextPage"); hn != nil && pi[hn.key] != more {
			k.fail(pathWith(path, s.key, hn.key), "hasNextPage %v, the oracle says %v", pi[hn.key], more)
		}
		if ec := s.kid("endCursor"); ec != nil && (pi[ec.key] == nil) != (len(wantIDs) == 0) {
			k.fail(pathWith(path, s.key, ec.key), "endCursor %v for a page of %d", pi[ec.key], len(wantIDs))
		}
	}
}

func shortIDs(ids []string) string {
	if len(ids) > 4 {
		return fmt.Sprint(ids[:4]) + "…"
	}
	return fmt.Sprint(ids)
}

// caseAt checks one Case (or null) at path. wantID is the id asked for by
// case(id:) or _entities ("" in lists).
func (k *respCheck) caseAt(path []any, v any, kids []*qField, wantID string) {
	if wantID != "" {
		switch {
		case k.c.visible[wantID]:
			k.out.saw("lookups of in-scope ids")
		case k.w.cases[wantID] != nil:
			k.out.saw("lookups of out-of-scope ids")
		default:
			k.out.saw("lookups of nonexistent ids")
		}
	}
	if v == nil {
		if wantID != "" && k.c.visible[wantID] {
			k.fail(path, "case %s, in the caller's scope, answered null", wantID)
		}
		return
	}
	k.out.saw("cases checked")
	obj, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "not a case object: %v", v)
		return
	}
	var id string
	for _, s := range kids {
		if s.name == "id" {
			id, _ = obj[s.key].(string)
		}
	}
	db := k.w.cases[id]
	switch {
	case db == nil:
		k.fail(path, "a case with unknown id %q", id)
		return
	case !k.c.visible[id]:
		k.fail(path, "case %s (jurisdiction %s, handled by %v, citizen %v) is outside the caller's scope", id, db.Jur, strOf(db.Handling), strOf(db.Citizen))
		return
	case wantID != "" && id != wantID:
		k.fail(path, "asked for case %s, got %s", wantID, id)
	}
	for _, s := range kids {
		p := pathWith(path, s.key)
		got := obj[s.key]
		switch s.name {
		case "id":
		case "__typename":
			k.eq(p, got, "Case")
		case "caseNo":
			k.eq(p, got, db.CaseNo)
		case "status":
			k.eq(p, got, db.Status)
		case "source":
			k.eq(p, got, db.Source)
		case "kind":
			k.eq(p, got, db.Kind)
		case "description":
			k.eq(p, got, db.Description)
		case "address":
			k.eq(p, got, db.Address)
		case "majorCode":
			k.eq(p, got, db.MajorCode)
		case "minorCode":
			k.eq(p, got, db.MinorCode)
		case "reportedAt":
			ts, _ := got.(string)
			if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || !at.Equal(db.ReportedAt) {
				k.fail(p, "%v, stored %s", got, db.ReportedAt.Format(time.RFC3339Nano))
			}
		case "ownerDept":
			k.dept(p, got, s.kids, db.Owner)
		case "handlingDept":
			k.dept(p, got, s.kids, strOf(db.Handling))
		case "jurisdiction":
			k.jur(p, got, s.kids, db.Jur)
		case "timeline":
			k.timeline(p, got, s.kids, db)
		case "reporter":
			k.reporter(p, got, s.kids, db)
		default:
			k.fail(p, "the checker does not know Case.%s", s.name)
		}
	}
}

func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (k *respCheck) eq(path []any, got any, want string) {
	if s, ok := got.(string); !ok || s != want {
		k.fail(path, "%v, stored %q", got, want)
	}
}

func (k *respCheck) dept(path []any, v any, kids []*qField, code string) {
	if code == "" {
		if v != nil {
			k.fail(path, "%v where the case has none", v)
		}
		return
	}
	d, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "%v, want department %s", v, code)
		return
	}
	db := k.w.depts[code]
	for _, s := range kids {
		p := pathWith(path, s.key)
		switch s.name {
		case "code":
			k.eq(p, d[s.key], db.Code)
		case "name":
			k.eq(p, d[s.key], db.Name)
		case "kind":
			k.eq(p, d[s.key], db.Kind)
		case "jurisdiction":
			k.jur(p, d[s.key], s.kids, db.Jur)
		}
	}
}

func (k *respCheck) jur(path []any, v any, kids []*qField, code string) {
	if code == "" {
		if v != nil {
			k.fail(path, "%v where there is none", v)
		}
		return
	}
	j, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "%v, want jurisdiction %s", v, code)
		return
	}
	db := k.w.jurs[code]
	for _, s := range kids {
		p := pathWith(path, s.key)
		switch s.name {
		case "code":
			k.eq(p, j[s.key], db.Code)
		case "level":
			k.eq(p, j[s.key], db.Level)
		case "name":
			k.eq(p, j[s.key], db.Name)
		case "parent":
			k.jur(p, j[s.key], s.kids, db.Parent)
		case "cases":
			k.out.saw("nested lists of a jurisdiction's cases")
			k.list(p, j[s.key], s, caseFilter{Jurisdiction: code}, "REPORTED_AT_DESC", s.first, "")
		case "children":
			list, _ := j[s.key].([]any)
			var got []string
			for _, c := range list {
				got = append(got, fmt.Sprint(c.(map[string]any)["code"]))
				if lv := s.kid("level"); lv != nil {
					cc := k.w.jurs[fmt.Sprint(c.(map[string]any)["code"])]
					if cc == nil || c.(map[string]any)[lv.key] != cc.Level {
						k.fail(p, "child %v", c)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, db.Children) {
				k.fail(p, "children %v, stored %v", got, db.Children)
			}
		}
	}
}

// property checks property(id:) { id cases }: compounds are public, and
// their cases are the caller's cases about that compound.
func (k *respCheck) property(path []any, v any, kids []*qField, id string) {
	m, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "property %s answered %v", id, v)
		return
	}
	for _, s := range kids {
		switch s.name {
		case "id":
			k.eq(pathWith(path, s.key), m[s.key], id)
		case "cases":
			k.out.saw("nested lists of a compound's cases")
			k.list(pathWith(path, s.key), m[s.key], s, caseFilter{PropertyID: id}, "REPORTED_AT_DESC", s.first, "")
		}
	}
}

// violations checks the case behind each violation the caller gets (which
// violations those are is the violations dataset's matrix, not this one's):
// a case within the caller's scope, else null.
func (k *respCheck) violations(path []any, v any, s *qField) {
	conn, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "violations answered %v", v)
		return
	}
	edges := s.kid("edges")
	node := edges.kid("node")
	cs := node.kid("case")
	list, _ := conn[edges.key].([]any)
	for i, e := range list {
		n, _ := e.(map[string]any)[node.key].(map[string]any)
		vid, _ := n[node.kid("id").key].(string)
		caseID, known := k.w.violations[vid]
		if !known {
			k.fail(pathWith(path, edges.key, i, node.key), "unknown violation %q", vid)
			continue
		}
		p := pathWith(path, edges.key, i, node.key, cs.key)
		k.out.saw("cases behind violations")
		want := ""
		if caseID != nil {
			want = *caseID
		}
		if want == "" || !k.c.visible[want] {
			if n[cs.key] != nil {
				k.fail(p, "violation %s shows case %v, want null (linked case %q is not the caller's)", vid, n[cs.key], want)
			}
			continue
		}
		k.caseAt(p, n[cs.key], cs.kids, want)
	}
}

func (k *respCheck) timeline(path []any, v any, kids []*qField, db *dbCase) {
	k.out.saw("timelines " + k.c.workflow.String())
	switch k.c.workflow {
	case wantDenied:
		k.denied(path, v)
		return
	}
	list, ok := v.([]any)
	evs, err := k.w.timelineOf(db.ID, k.ids...)
	if err != nil {
		k.fail(path, "oracle: %v", err)
		return
	}
	if !ok || len(list) != len(evs) {
		k.fail(path, "timeline %v, want the %d stored events", v, len(evs))
		return
	}
	for i, e := range list {
		m, _ := e.(map[string]any)
		for _, s := range kids {
			var want string
			switch s.name {
			case "action":
				want = evs[i].Action
			case "toStatus":
				want = evs[i].ToStatus
			case "actor":
				want = evs[i].Actor
			case "actorDept":
				want = evs[i].ActorDept
			}
			k.eq(pathWith(path, i, s.key), m[s.key], want)
		}
	}
}

func (k *respCheck) reporter(path []any, v any, kids []*qField, db *dbCase) {
	if db.RepPhone != nil || db.RepName != nil || k.c.reporter == wantDenied {
		k.out.saw("reporters " + k.c.reporter.String())
	}
	if k.c.reporter == wantDenied {
		k.denied(path, v)
		return
	}
	if db.RepName == nil && db.RepPhone == nil {
		if v != nil {
			k.fail(path, "%v for a case without a reporter", v)
		}
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		k.fail(path, "%v, want the reporter %s", v, k.c.reporter)
		return
	}
	for _, s := range kids {
		p := pathWith(path, s.key)
		raw := db.RepName
		if s.name == "phone" {
			raw = db.RepPhone
		}
		got, isStr := m[s.key].(string)
		switch {
		case raw == nil:
			if m[s.key] != nil {
				k.fail(p, "%v where nothing is stored", m[s.key])
			}
		case !isStr:
			k.fail(p, "%v, want %s", m[s.key], k.c.reporter)
		case k.c.reporter == wantVisible:
			if got != *raw {
				k.fail(p, "%q, stored %q (want visible)", got, *raw)
			}
		case s.name == "phone":
			if msg := wantMaskedPhone(*raw, got); msg != "" {
				k.fail(p, "%s", msg)
			}
		default:
			if msg := wantMaskedName(*raw, got); msg != "" {
				k.fail(p, "%s", msg)
			}
		}
	}
}

// denied expects null here and a FORBIDDEN error on this path.
func (k *respCheck) denied(path []any, v any) {
	if v != nil {
		k.fail(path, "visible where denied: %v", v)
	}
	k.wantErrs[fieldPath(path)] = true
}

// fieldPath is a response path without its list indices.
func fieldPath(p []any) string {
	var named []any
	for _, s := range p {
		switch s.(type) {
		case float64, int:
		default:
			named = append(named, s)
		}
	}
	return pathString(named)
}

// leakRunner sends random queries as random callers and records every
// violation. The generator is seeded: a seed replays the same queries.
type leakRunner struct {
	t       testing.TB
	h       *hub
	w       *accessWorld
	callers []*matrixCaller
	g       *queryGen
	out     *violationLog
	next    int
}

func newRunner(t testing.TB, h *hub, w *accessWorld, callers []*matrixCaller, seed uint64) *leakRunner {
	return &leakRunner{t: t, h: h, w: w, callers: callers, out: &violationLog{},
		g: &queryGen{r: rand.New(rand.NewPCG(seed, seed^0x5eed1ea4)), w: w}}
}

// run generates n more queries and sends them from a few goroutines.
func (rn *leakRunner) run(n, workers int) {
	qs := make([]*genQuery, n)
	for i := range qs {
		c := rn.callers[rn.g.r.IntN(len(rn.callers))]
		qs[i] = rn.g.query(c)
		qs[i].index = rn.next
		rn.next++
	}
	ch := make(chan *genQuery)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for q := range ch {
				rn.one(q)
			}
		})
	}
	for _, q := range qs {
		ch <- q
	}
	close(ch)
	wg.Wait()
}

// one sends a query, and when it pages through a list, the next pages
// with the server's cursors, judging every answer.
func (rn *leakRunner) one(q *genQuery) {
	c := q.caller
	afterID := ""
	var cursor any
	for page := 0; ; page++ {
		if q.walk != nil {
			q.vars[q.walk.afterVar] = cursor
		}
		r, err := rn.h.postAs(c, q.text, q.vars)
		rn.out.mu.Lock()
		rn.out.requests++
		rn.out.mu.Unlock()
		k := &respCheck{w: rn.w, c: c, q: q, r: r, out: rn.out, wantErrs: map[string]bool{}}
		if err != nil {
			k.fail(nil, "request failed: %v", err)
			return
		}
		before := len(rn.out.violations())
		k.judge(afterID)
		if q.walk == nil || page+1 >= q.pages || len(rn.out.violations()) > before {
			return
		}
		conn, _ := r.Data[q.walk.sel.key].(map[string]any)
		pi := q.walk.sel.kid("pageInfo")
		info, _ := conn[pi.key].(map[string]any)
		if info[pi.kid("hasNextPage").key] != true {
			return
		}
		// The next page: the server's cursor, and the oracle's last id.
		ids, _, _ := rn.w.list(c, q.walk.filter, q.walk.order, q.walk.first, afterID)
		afterID, cursor = ids[len(ids)-1], info[pi.kid("endCursor").key]
	}
}

func reportViolations(t *testing.T, seed uint64, vs []leakViolation) {
	t.Helper()
	for i, v := range vs {
		if i == 15 {
			t.Errorf("… and %d more violations", len(vs)-i)
			break
		}
		t.Errorf("violation %d (seed %d): %s", i+1, seed, v)
	}
}

// ---------------------------------------------------------------- tests

// TestLeakRandomized runs random queries as every principal of the matrix
// against the real hub: the oracle must find nothing.
func TestLeakRandomized(t *testing.T) {
	h := newHubWith(t, app.Options{})
	w := loadWorld(t, h.app.Pool)
	callers := setupCallers(t, h, w, matrixSpecs())
	seed := leakSeed(t)
	t.Logf("leak seed %d (replay: go test ./internal/app -run TestLeakRandomized -leak.seed=%d)", seed, seed)
	rn := newRunner(t, h, w, callers, seed)
	start := time.Now()
	rn.run(*leakNFlag, leakWorkers)
	vs := rn.out.violations()
	t.Logf("%d queries, %d requests in %s, %d violations", *leakNFlag, rn.out.requests, time.Since(start).Round(time.Millisecond), len(vs))
	for _, k := range slices.Sorted(maps.Keys(rn.out.seen)) {
		t.Logf("  %6d %s", rn.out.seen[k], k)
	}
	reportViolations(t, seed, vs)
	if *leakNFlag >= 100 {
		// The run must have exercised what it claims to check, answered
		// most of its queries rather than been refused as too large.
		if refused := rn.out.seen["operations refused as too large"]; refused > *leakNFlag/4 {
			t.Errorf("%d of %d queries refused as too large (seed %d): the generator no longer tests much", refused, *leakNFlag, seed)
		}
		for _, k := range []string{"cases checked", "reporters masked", "reporters visible", "timelines visible",
			"lookups of out-of-scope ids", "lookups of nonexistent ids", "next pages", "lists whose matches are all out of scope"} {
			if rn.out.seen[k] == 0 {
				t.Errorf("no %s in %d queries (seed %d)", k, *leakNFlag, seed)
			}
		}
	}
}

// leakWorkers is how many queries are in flight at once.
const leakWorkers = 4

// isCountCall reports whether ctx is the resolution of a totalCount.
func isCountCall(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && fc.Field.Name == "totalCount"
}

// plant wraps every decision on cases: a planted leak or restriction for
// the principals it picks. It copies the decision and never modifies the
// engine's.
func plant(change func(ctx context.Context, p *access.Principal, d *access.Decision) bool) func(app.Decider) app.Decider {
	return func(inner app.Decider) app.Decider { return plantedDecider{inner: inner, change: change} }
}

type plantedDecider struct {
	inner  app.Decider
	change func(ctx context.Context, p *access.Principal, d *access.Decision) bool
}

func (p plantedDecider) Decide(ctx context.Context, dataset string) (*access.Decision, error) {
	d, err := p.inner.Decide(ctx, dataset)
	if err != nil || dataset != "cases" {
		return d, err
	}
	cp := *d
	cp.Fields = maps.Clone(d.Fields)
	cp.Rows.Jurisdictions = slices.Clone(d.Rows.Jurisdictions)
	cp.Rows.Depts = slices.Clone(d.Rows.Depts)
	if !p.change(ctx, access.PrincipalFrom(ctx), &cp) {
		return d, nil
	}
	return &cp, nil
}

// TestLeakCheckerFindsPlantedLeaks proves the checker bites: hubs with a
// leak planted through app.Options.WrapDecider must produce violations,
// and a hub that denies groups the checker is told are denied must not.
func TestLeakCheckerFindsPlantedLeaks(t *testing.T) {
	seed := leakSeed(t)
	t.Logf("leak seed %d", seed)
	isHousingViewer := func(p *access.Principal) bool { return p.Dept == "housing" && p.HasRole("viewer") }

	// run sends random queries as one principal of the matrix (its row
	// edited by edit) to a hub built with opts, in batches until the
	// checker reports something or n queries have gone.
	w := loadWorld(t, newHub(t).app.Pool)
	run := func(t *testing.T, opts app.Options, spec string, edit func(*principalSpec), n int) []leakViolation {
		h := newHubWith(t, opts)
		var specs []principalSpec
		for _, s := range matrixSpecs() {
			if s.name == spec {
				if edit != nil {
					edit(&s)
				}
				specs = append(specs, s)
			}
		}
		rn := newRunner(t, h, w, setupCallers(t, h, w, specs), seed)
		for sent := 0; sent < n && len(rn.out.violations()) == 0; sent += 8 {
			rn.run(8, leakWorkers)
		}
		t.Logf("%d queries, %d requests, %d violations", rn.next, rn.out.requests, len(rn.out.violations()))
		return rn.out.violations()
	}
	expectCaught := func(t *testing.T, vs []leakViolation, what string) {
		t.Helper()
		found := 0
		for _, v := range vs {
			if strings.Contains(v.problem, what) {
				found++
			}
		}
		if found == 0 {
			t.Fatalf("the planted leak went unnoticed: %d violations, none about %q", len(vs), what)
		}
		t.Logf("caught: %d violations, %d about %q; the first:\n%s", len(vs), found, what, vs[0])
	}

	t.Run("reporter unmasked for the housing viewer", func(t *testing.T) {
		vs := run(t, app.Options{WrapDecider: plant(func(ctx context.Context, p *access.Principal, d *access.Decision) bool {
			if !isHousingViewer(p) || d.Fields["reporter"] != access.FieldMasked {
				return false
			}
			d.Fields["reporter"] = access.FieldVisible
			return true
		})}, "housing viewer", nil, 160)
		expectCaught(t, vs, "raw")
	})

	t.Run("all rows for the street officer", func(t *testing.T) {
		vs := run(t, app.Options{WrapDecider: plant(func(ctx context.Context, p *access.Principal, d *access.Decision) bool {
			if !p.HasRole("street-officer") {
				return false
			}
			d.Rows = access.RowScope{All: true}
			return true
		})}, "urban-management street-officer of Chengdong", nil, 160)
		expectCaught(t, vs, "outside the caller's scope")
	})

	t.Run("aggregates only: totalCount over every row", func(t *testing.T) {
		// Rows widened only where no case is fetched (the count): the
		// leak shows in totalCount alone.
		vs := run(t, app.Options{WrapDecider: plant(func(ctx context.Context, p *access.Principal, d *access.Decision) bool {
			if !p.HasRole("grid-worker") || !isCountCall(ctx) {
				return false
			}
			d.Rows = access.RowScope{All: true}
			return true
		})}, "urban-management grid-worker of Xijiao community", nil, 160)
		expectCaught(t, vs, "totalCount")
	})

	// A positive control for the denied path: with the timeline and the
	// reporter denied to the housing viewer, a checker told so finds
	// nothing, and a checker expecting the real matrix objects.
	denyGroups := app.Options{WrapDecider: plant(func(ctx context.Context, p *access.Principal, d *access.Decision) bool {
		if !isHousingViewer(p) {
			return false
		}
		d.Fields["reporter"], d.Fields["workflow"] = access.FieldDenied, access.FieldDenied
		return true
	})}
	t.Run("denied groups, expected denied", func(t *testing.T) {
		vs := run(t, denyGroups, "housing viewer", func(s *principalSpec) { s.reporter, s.workflow = wantDenied, wantDenied }, 24)
		if len(vs) > 0 {
			reportViolations(t, seed, vs)
		}
	})
	t.Run("denied groups, expected masked", func(t *testing.T) {
		vs := run(t, denyGroups, "housing viewer", nil, 160)
		expectCaught(t, vs, "FORBIDDEN")
	})
}
