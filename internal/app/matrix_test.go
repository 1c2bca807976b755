package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file holds the access matrix for cases written out by hand, the
// independent oracle it is checked against (plain SQL on the package
// database, never internal/policy), and TestAccessMatrixOverHTTP, which
// asks the running hub as every principal and compares. leak_test.go reuses
// the table and the oracle for randomized queries.

// fieldWant is what a principal should get of a field group. The values are
// this test's own, not internal/access's.
type fieldWant int

const (
	wantDenied  fieldWant = iota // null plus a FORBIDDEN error on that path
	wantMasked                   // personal fields through their masking rule, never raw
	wantVisible                  // exactly as stored
)

func (w fieldWant) String() string {
	switch w {
	case wantVisible:
		return "visible"
	case wantMasked:
		return "masked"
	default:
		return "denied"
	}
}

type credKind int

const (
	credToken  credKind = iota // a dev JWT
	credAPIKey                 // an API key (X-API-Key), with X-Citizen-ID when citizen is set
	credNone                   // no credentials at all
)

// citizenPlaceholder in a spec stands for the test citizen: the citizen
// with the most reports in the demo data, picked at run time.
const citizenPlaceholder = "{citizen}"

// principalSpec is one row of the matrix: who calls, which cases they may
// see (a SQL predicate over the cases table, written by hand) and what they
// get of each field group of those cases. core is every field without an
// @access directive (description, status, …), workflow the timeline,
// reporter { name phone } the personal group.
type principalSpec struct {
	name     string
	cred     credKind
	dept     string
	org      string // evaluation organisation (evaluators, instead of dept)
	roles    []string
	jur      string // JWT claim jur / API key jurisdiction ("" = the district)
	citizen  string // X-Citizen-ID sent with a citizen-app key
	rows     string
	core     fieldWant
	workflow fieldWant
	reporter fieldWant
}

// matrixSpecs is the hand-written matrix for the cases dataset
// (docs/design.md, policies/policy.csv): V visible, M masked, D denied. A
// principal who sees no rows sees no fields either: its groups are denied,
// which no response can show except through a leak.
func matrixSpecs() []principalSpec {
	const (
		all  = "TRUE"
		none = "FALSE"
		V    = wantVisible
		M    = wantMasked
		D    = wantDenied
	)
	under := func(root string) string {
		return "starts_with(jurisdiction_code || '.', '" + root + ".')"
	}
	dept := func(code string) string {
		return "(owner_dept = '" + code + "' OR handling_dept = '" + code + "')"
	}
	return []principalSpec{
		// The provider's desks: every case, everything as stored.
		{name: "urban-management admin", dept: "urban-management", roles: []string{"admin"},
			rows: all, core: V, workflow: V, reporter: V},
		{name: "urban-management officer", dept: "urban-management", roles: []string{"officer"},
			rows: all, core: V, workflow: V, reporter: V},
		{name: "urban-management viewer", dept: "urban-management", roles: []string{"viewer"},
			rows: all, core: V, workflow: V, reporter: V},
		// Another bureau (SA-1): every case, the reporter masked (SA-personal).
		{name: "housing viewer", dept: "housing", roles: []string{"viewer"},
			rows: all, core: V, workflow: V, reporter: M},
		{name: "housing officer", dept: "housing", roles: []string{"officer"},
			rows: all, core: V, workflow: V, reporter: M},
		// The provider's own field staff keep to their jurisdiction.
		{name: "urban-management street-officer of Chengdong", dept: "urban-management", roles: []string{"street-officer"},
			jur: "hailing.chengdong", rows: under("hailing.chengdong"), core: V, workflow: V, reporter: M},
		{name: "urban-management grid-worker of Xijiao community", dept: "urban-management", roles: []string{"grid-worker"},
			jur: "hailing.chengxi.xijiao", rows: under("hailing.chengxi.xijiao"), core: V, workflow: V, reporter: M},
		// Other departments' field staff: their jurisdiction plus what their department handles.
		{name: "housing street-officer of Jiulong", dept: "housing", roles: []string{"street-officer"},
			jur: "hailing.jiulong", rows: under("hailing.jiulong") + " OR " + dept("housing"),
			core: V, workflow: V, reporter: M},
		{name: "street-chengdong grid-worker of Fenghuang grid 03", dept: "street-chengdong", roles: []string{"grid-worker"},
			jur: "hailing.chengdong.fenghuang.g03", rows: under("hailing.chengdong.fenghuang.g03") + " OR " + dept("street-chengdong"),
			core: V, workflow: V, reporter: M},
		// The command centre: every case, everything.
		{name: "dispatcher", dept: "urban-management", roles: []string{"dispatcher"},
			rows: all, core: V, workflow: V, reporter: V},
		{name: "dispatcher seconded to street-chengnan", dept: "street-chengnan", roles: []string{"dispatcher"},
			rows: all, core: V, workflow: V, reporter: V},
		// A street office (SA-2): its street, and what it handles.
		{name: "street-chengxi viewer", dept: "street-chengxi", roles: []string{"viewer"},
			jur: "hailing.chengxi", rows: under("hailing.chengxi") + " OR " + dept("street-chengxi"),
			core: V, workflow: V, reporter: M},
		// A department system: what its department handles.
		{name: "traffic-police system key", cred: credAPIKey, dept: "traffic-police", roles: []string{"system"},
			rows: dept("traffic-police"), core: V, workflow: V, reporter: M},
		// No access to cases at all.
		{name: "auditor", dept: "urban-management", roles: []string{"auditor"},
			rows: none, core: D, workflow: D, reporter: D},
		{name: "evaluator key", cred: credAPIKey, org: seed.EvaluationOrg, roles: []string{"evaluator"},
			rows: none, core: D, workflow: D, reporter: D},
		// The citizen app: the citizen's own reports, all of them; nothing
		// without a citizen.
		{name: "citizen app for a citizen", cred: credAPIKey, dept: "urban-management", roles: []string{"citizen-app"},
			citizen: citizenPlaceholder, rows: "citizen_id = '" + citizenPlaceholder + "'",
			core: V, workflow: V, reporter: V},
		{name: "citizen app for a citizen without reports", cred: credAPIKey, dept: "urban-management", roles: []string{"citizen-app"},
			citizen: "cit-nobody-000", rows: none, core: D, workflow: D, reporter: D},
		{name: "citizen app without a citizen", cred: credAPIKey, dept: "urban-management", roles: []string{"citizen-app"},
			rows: none, core: D, workflow: D, reporter: D},
		{name: "anonymous", cred: credNone,
			rows: none, core: D, workflow: D, reporter: D},
	}
}

// matrixCaller is a principalSpec with credentials and the oracle's view of it.
type matrixCaller struct {
	principalSpec
	citizenID string
	bearer    string
	apiKey    string
	// visible is every case id the oracle says the caller may see;
	// visibleAt the same by the world's case numbers.
	visible   map[string]bool
	visibleAt []bool
	// outside is a sample of existing case ids the caller may not see.
	outside []string
	// inside lists the visible ids, sorted.
	inside []string
}

func (c *matrixCaller) String() string {
	s := c.name
	if c.dept != "" {
		s += " [" + c.dept + " " + strings.Join(c.roles, ",")
		if c.jur != "" {
			s += " jur=" + c.jur
		}
		if c.citizenID != "" {
			s += " citizen=" + c.citizenID
		}
		s += "]"
	}
	return s
}

var citizenIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// setupCallers mints a token or creates an API key for every spec and
// computes each caller's visible cases with the spec's own SQL.
func setupCallers(t testing.TB, h *hub, w *accessWorld, specs []principalSpec) []*matrixCaller {
	t.Helper()
	ctx := context.Background()
	expectBaselinePolicy(t, h, specs)
	keys := auth.NewAPIKeys(h.app.Pool)
	var out []*matrixCaller
	for _, s := range specs {
		c := &matrixCaller{principalSpec: s}
		c.rows = strings.ReplaceAll(s.rows, citizenPlaceholder, w.citizen)
		c.citizenID = strings.ReplaceAll(s.citizen, citizenPlaceholder, w.citizen)
		if c.citizenID != "" && !citizenIDRe.MatchString(c.citizenID) {
			t.Fatalf("bad citizen id %q", c.citizenID)
		}
		switch s.cred {
		case credToken:
			tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "matrix", Dept: s.dept, Org: s.org, Roles: s.roles, Jurisdiction: s.jur}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c.bearer = tok
		case credAPIKey:
			plain, _, err := keys.Create(ctx, auth.APIKeySpec{Name: "access tests: " + s.name, Dept: s.dept, Org: s.org, Roles: s.roles,
				Jurisdiction: s.jur, ExpiresAt: time.Now().Add(2 * time.Hour)})
			if err != nil {
				t.Fatalf("api key for %s: %v", s.name, err)
			}
			c.apiKey = plain
		}
		c.visible = w.visibleIDs(t, c.rows)
		c.visibleAt = make([]bool, len(w.ids))
		for id := range c.visible {
			i, ok := w.index[id]
			if !ok {
				t.Fatalf("case %s appeared after the snapshot", id)
			}
			c.visibleAt[i] = true
		}
		for _, id := range w.ids {
			if c.visible[id] {
				c.inside = append(c.inside, id)
			}
		}
		for _, id := range w.ids {
			if !c.visible[id] {
				c.outside = append(c.outside, id)
				if len(c.outside) == 400 {
					break
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// expectBaselinePolicy stops the test when the run-time policy store holds
// rules the matrix does not describe: a rule added at run time, or an
// unexpired grant to one of the matrix's departments (another test's
// leftover would otherwise look like a leak or a regression).
func expectBaselinePolicy(t testing.TB, h *hub, specs []principalSpec) {
	t.Helper()
	rows, err := h.app.Pool.Query(context.Background(), `SELECT ptype, v0, v1, v2, v3 FROM casbin_rules`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var ptype, v0, v1, v2, v3 string
		if err := rows.Scan(&ptype, &v0, &v1, &v2, &v3); err != nil {
			t.Fatal(err)
		}
		if ptype != "p2" {
			t.Fatalf("run-time policy rule %s, %s, %s, %s, %s: the hand-written matrix describes the baseline policy only", ptype, v0, v1, v2, v3)
		}
		until, err := time.Parse(time.RFC3339Nano, v3)
		for _, s := range specs {
			if s.dept != "" && v0 == "dept:"+s.dept && (err != nil || until.After(seedNow)) {
				t.Fatalf("an unexpired grant to %s (%s, %s, until %s) is in force: the matrix assumes none", s.dept, v1, v2, v3)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func callerNamed(t testing.TB, cs []*matrixCaller, name string) *matrixCaller {
	t.Helper()
	for _, c := range cs {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no caller %q", name)
	return nil
}

// ---------------------------------------------------------------- HTTP

type gqlErr struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlErr) code() string { c, _ := e.Extensions["code"].(string); return c }

type rawResponse struct {
	Status int
	Body   []byte
	Data   map[string]any
	Errors []gqlErr
}

// errorAt returns the errors whose path is path.
func (r rawResponse) errorsAt(path []any) []gqlErr {
	var out []gqlErr
	for _, e := range r.Errors {
		if pathString(e.Path) == pathString(path) {
			out = append(out, e)
		}
	}
	return out
}

func pathString(p []any) string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		switch v := s.(type) {
		case float64:
			fmt.Fprintf(&b, "%d", int(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

func pathWith(p []any, more ...any) []any {
	return append(slices.Clone(p), more...)
}

// doAs posts a GraphQL request with the caller's credentials: a bearer
// token, or X-API-Key (and X-Citizen-ID), or nothing.
func (h *hub) doAs(t testing.TB, c *matrixCaller, query string, vars map[string]any) rawResponse {
	t.Helper()
	r, err := h.postAs(c, query, vars)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return r
}

// postAs is doAs for goroutines that may not stop the test.
func (h *hub) postAs(c *matrixCaller, query string, vars map[string]any) (rawResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return rawResponse{}, err
	}
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.apiKey != "" {
		req.Header.Set(auth.HeaderAPIKey, c.apiKey)
	}
	if c.citizenID != "" {
		req.Header.Set(auth.HeaderCitizenID, c.citizenID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return rawResponse{}, err
	}
	out := rawResponse{Status: resp.StatusCode, Body: raw}
	var env struct {
		Data   map[string]any `json:"data"`
		Errors []gqlErr       `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return out, fmt.Errorf("decode %d %s: %w", resp.StatusCode, raw, err)
	}
	out.Data, out.Errors = env.Data, env.Errors
	return out, nil
}

// ---------------------------------------------------------------- oracle

// dbCase is a case as stored, read with plain SQL.
type dbCase struct {
	ID, CaseNo, Status, Source, Kind, Description, Address, MajorCode, MinorCode string
	Jur, Owner                                                                   string
	Handling, RepName, RepPhone, Citizen                                         *string
	ReportedAt                                                                   time.Time
	Deadline                                                                     *time.Time
	PropertyID                                                                   *string
	lowerDesc                                                                    string
}

type dbEvent struct {
	Action, ToStatus, Actor, ActorDept string
}

type dbJur struct {
	Code, Level, Name, Parent string
	Children                  []string
}

type dbDept struct {
	Code, Name, Kind, Jur string
}

// accessWorld is a snapshot of the package database taken when a test starts; the
// oracle judges every response against it.
type accessWorld struct {
	pool     *pgxpool.Pool
	cases    map[string]*dbCase
	ids      []string // sorted
	eventsMu sync.Mutex
	events   map[string][]dbEvent // loaded on demand (timelineOf)
	jurs     map[string]*dbJur
	jurCodes []string
	depts    map[string]*dbDept
	deptList []string
	phones   map[string]bool
	citizen  string // the citizen with the most reports
	// propertyIDs are the compounds; violations maps each violation to
	// its case (nil when none).
	propertyIDs []string
	violations  map[string]*string
	// index numbers the cases (by id order); sorted holds the numbers in
	// each CaseOrder, pos their positions there.
	index  map[string]int
	byNum  []*dbCase
	sorted map[string][]int
	pos    map[string][]int
	lists  sync.Map // memo of list answers
}

func loadWorld(t testing.TB, pool *pgxpool.Pool) *accessWorld {
	t.Helper()
	ctx := context.Background()
	w := &accessWorld{pool: pool, cases: map[string]*dbCase{}, events: map[string][]dbEvent{}, jurs: map[string]*dbJur{},
		depts: map[string]*dbDept{}, phones: map[string]bool{}}
	rows, err := pool.Query(ctx, `SELECT id::text, case_no, status, source, kind, description, address, major_code, minor_code,
		jurisdiction_code, owner_dept, handling_dept, reporter_name, reporter_phone, citizen_id, reported_at, deadline,
		property_id::text FROM cases ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c dbCase
		if err := rows.Scan(&c.ID, &c.CaseNo, &c.Status, &c.Source, &c.Kind, &c.Description, &c.Address, &c.MajorCode, &c.MinorCode,
			&c.Jur, &c.Owner, &c.Handling, &c.RepName, &c.RepPhone, &c.Citizen, &c.ReportedAt, &c.Deadline, &c.PropertyID); err != nil {
			t.Fatal(err)
		}
		c.lowerDesc = strings.ToLower(c.Description)
		w.cases[c.ID] = &c
		w.ids = append(w.ids, c.ID)
		if c.RepPhone != nil {
			w.phones[*c.RepPhone] = true
		}
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = pool.Query(ctx, `SELECT code, level, name_zh, coalesce(parent_code, '') FROM jurisdictions ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var j dbJur
		if err := rows.Scan(&j.Code, &j.Level, &j.Name, &j.Parent); err != nil {
			t.Fatal(err)
		}
		w.jurs[j.Code] = &j
		w.jurCodes = append(w.jurCodes, j.Code)
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, code := range w.jurCodes {
		if p := w.jurs[code].Parent; p != "" {
			w.jurs[p].Children = append(w.jurs[p].Children, code)
		}
	}
	rows, err = pool.Query(ctx, `SELECT code, name_zh, kind, jurisdiction_code FROM departments ORDER BY code`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d dbDept
		if err := rows.Scan(&d.Code, &d.Name, &d.Kind, &d.Jur); err != nil {
			t.Fatal(err)
		}
		w.depts[d.Code] = &d
		w.deptList = append(w.deptList, d.Code)
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = pool.Query(ctx, `SELECT id::text FROM properties ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		w.propertyIDs = append(w.propertyIDs, id)
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	w.violations = map[string]*string{}
	rows, err = pool.Query(ctx, `SELECT id::text, case_id::text FROM violations`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var caseID *string
		if err := rows.Scan(&id, &caseID); err != nil {
			t.Fatal(err)
		}
		w.violations[id] = caseID
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if err := pool.QueryRow(ctx, `SELECT citizen_id FROM cases WHERE citizen_id IS NOT NULL
		GROUP BY citizen_id ORDER BY count(*) DESC, citizen_id LIMIT 1`).Scan(&w.citizen); err != nil {
		t.Fatalf("no citizen reports in the demo data: %v", err)
	}
	w.sortOrders()
	if len(w.ids) < 1000 || len(w.phones) == 0 || len(w.propertyIDs) == 0 || len(w.violations) == 0 {
		t.Fatalf("demo data too small: %d cases, %d reporter phones, %d compounds, %d violations",
			len(w.ids), len(w.phones), len(w.propertyIDs), len(w.violations))
	}
	return w
}

// timelineOf returns the stored events of a case, oldest first, loading
// them (and those of every case id in also) on first use.
func (w *accessWorld) timelineOf(id string, also ...string) ([]dbEvent, error) {
	w.eventsMu.Lock()
	defer w.eventsMu.Unlock()
	if evs, ok := w.events[id]; ok {
		return evs, nil
	}
	var load []string
	for _, x := range append(also, id) {
		if _, ok := w.events[x]; !ok && w.cases[x] != nil {
			load = append(load, x)
		}
	}
	rows, err := w.pool.Query(context.Background(), `SELECT case_id::text, action, to_status, actor, actor_dept
		FROM case_events WHERE case_id = ANY($1::uuid[]) ORDER BY case_id, at, id`, load)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for _, x := range load {
		w.events[x] = []dbEvent{}
	}
	for rows.Next() {
		var cid string
		var e dbEvent
		if err := rows.Scan(&cid, &e.Action, &e.ToStatus, &e.Actor, &e.ActorDept); err != nil {
			return nil, err
		}
		w.events[cid] = append(w.events[cid], e)
	}
	return w.events[id], rows.Err()
}

func (w *accessWorld) visibleIDs(t testing.TB, rows string) map[string]bool {
	t.Helper()
	list, err := w.pool.Query(context.Background(), "SELECT id::text FROM cases WHERE "+rows)
	if err != nil {
		t.Fatalf("rows %q: %v", rows, err)
	}
	out := map[string]bool{}
	for list.Next() {
		var id string
		if err := list.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	if list.Close(); list.Err() != nil {
		t.Fatal(list.Err())
	}
	return out
}

// caseFilter is a CaseFilter the tests send, with its own SQL.
type caseFilter struct {
	Jurisdiction string
	Status       []string
	Source       []string
	Open         *bool
	Text         string
	HandlingDept string
	Kind         string
	PropertyID   string // not a CaseFilter field: the cases of a compound (Property.cases)
	lowerText    string // Text lower-cased, set by the in-memory oracle
}

func (f caseFilter) input() map[string]any {
	m := map[string]any{}
	if f.Jurisdiction != "" {
		m["jurisdiction"] = f.Jurisdiction
	}
	if len(f.Status) > 0 {
		m["status"] = f.Status
	}
	if len(f.Source) > 0 {
		m["source"] = f.Source
	}
	if f.Open != nil {
		m["open"] = *f.Open
	}
	if f.Text != "" {
		m["text"] = f.Text
	}
	if f.HandlingDept != "" {
		m["handlingDept"] = f.HandlingDept
	}
	if f.Kind != "" {
		m["kind"] = f.Kind
	}
	return m
}

// sql is the filter as the oracle understands the schema's descriptions:
// a jurisdiction subtree, statuses, sources, open (not CLOSED,
// NOT_REGISTERED or BACKLOG), a description substring (case-insensitive),
// the handling department and the kind.
func (f caseFilter) sql(args *[]any) string {
	arg := func(v any) string {
		*args = append(*args, v)
		return fmt.Sprintf("$%d", len(*args))
	}
	conds := []string{"TRUE"}
	if f.Jurisdiction != "" {
		conds = append(conds, "starts_with(jurisdiction_code || '.', "+arg(f.Jurisdiction+".")+"::text)")
	}
	if len(f.Status) > 0 {
		conds = append(conds, "status = ANY("+arg(f.Status)+"::text[])")
	}
	if len(f.Source) > 0 {
		conds = append(conds, "source = ANY("+arg(f.Source)+"::text[])")
	}
	if f.Open != nil {
		conds = append(conds, "(status NOT IN ('CLOSED', 'NOT_REGISTERED', 'BACKLOG')) = "+arg(*f.Open)+"::boolean")
	}
	if f.Text != "" {
		conds = append(conds, "strpos(lower(description), lower("+arg(f.Text)+"::text)) > 0")
	}
	if f.HandlingDept != "" {
		conds = append(conds, "handling_dept IS NOT DISTINCT FROM "+arg(f.HandlingDept)+"::text")
	}
	if f.Kind != "" {
		conds = append(conds, "kind = "+arg(f.Kind)+"::text")
	}
	if f.PropertyID != "" {
		conds = append(conds, "property_id = "+arg(f.PropertyID)+"::uuid")
	}
	return strings.Join(conds, " AND ")
}

// count is how many cases within rows match f.
func (w *accessWorld) count(t testing.TB, rows string, f caseFilter) int {
	t.Helper()
	var args []any
	q := "SELECT count(*) FROM cases WHERE (" + rows + ") AND " + f.sql(&args)
	var n int
	if err := w.pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// page is the oracle's page of cases within rows matching f, in order,
// after the case afterID (none when empty): the ids and whether more follow.
func (w *accessWorld) page(t testing.TB, rows string, f caseFilter, order string, first int, afterID string) ([]string, bool) {
	t.Helper()
	var args []any
	where := "(" + rows + ") AND " + f.sql(&args)
	key, dir, op := "reported_at", "DESC", "<"
	switch order {
	case "REPORTED_AT_ASC":
		dir, op = "ASC", ">"
	case "DEADLINE_ASC":
		key, dir, op = "coalesce(deadline, 'infinity'::timestamptz)", "ASC", ">"
	case "DEADLINE_DESC":
		key = "coalesce(deadline, 'infinity'::timestamptz)"
	}
	if afterID != "" {
		args = append(args, afterID)
		where += fmt.Sprintf(" AND (%s, id) %s (SELECT %s, id FROM cases WHERE id = $%d::uuid)", key, op, key, len(args))
	}
	q := fmt.Sprintf("SELECT id::text FROM cases WHERE %s ORDER BY %s %s, id %s LIMIT %d", where, key, dir, dir, first+1)
	list, err := w.pool.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var ids []string
	for list.Next() {
		var id string
		if err := list.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if list.Close(); list.Err() != nil {
		t.Fatal(list.Err())
	}
	if len(ids) > first {
		return ids[:first], true
	}
	return ids, false
}

// sortOrders sorts the cases in every CaseOrder: by the report time or the
// deadline (none last when ascending, first when descending), then by id,
// each in the order's direction.
func (w *accessWorld) sortOrders() {
	w.index, w.sorted, w.pos = map[string]int{}, map[string][]int{}, map[string][]int{}
	w.byNum = make([]*dbCase, len(w.ids))
	for i, id := range w.ids {
		w.index[id], w.byNum[i] = i, w.cases[id]
	}
	infinity := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, order := range []string{"REPORTED_AT_DESC", "REPORTED_AT_ASC", "DEADLINE_ASC", "DEADLINE_DESC"} {
		key := func(c *dbCase) time.Time {
			if strings.HasPrefix(order, "REPORTED") {
				return c.ReportedAt
			}
			if c.Deadline == nil {
				return infinity
			}
			return *c.Deadline
		}
		desc := strings.HasSuffix(order, "DESC")
		idx := make([]int, len(w.ids))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			r := key(w.byNum[a]).Compare(key(w.byNum[b]))
			if r == 0 {
				r = strings.Compare(w.ids[a], w.ids[b]) // canonical UUID text sorts like the bytes
			}
			if desc {
				r = -r
			}
			return r
		})
		pos := make([]int, len(idx))
		for p, i := range idx {
			pos[i] = p
		}
		w.sorted[order], w.pos[order] = idx, pos
	}
}

// matches is the filter applied to a stored case in memory, with the same
// meaning as sql (f.lowerText must be set).
func (f caseFilter) matches(c *dbCase) bool {
	switch {
	case f.Jurisdiction != "" && !strings.HasPrefix(c.Jur+".", f.Jurisdiction+"."),
		len(f.Status) > 0 && !slices.Contains(f.Status, c.Status),
		len(f.Source) > 0 && !slices.Contains(f.Source, c.Source),
		f.Open != nil && *f.Open != !slices.Contains([]string{"CLOSED", "NOT_REGISTERED", "BACKLOG"}, c.Status),
		f.Text != "" && !strings.Contains(c.lowerDesc, f.lowerText),
		f.HandlingDept != "" && (c.Handling == nil || *c.Handling != f.HandlingDept),
		f.Kind != "" && c.Kind != f.Kind,
		f.PropertyID != "" && (c.PropertyID == nil || *c.PropertyID != f.PropertyID):
		return false
	}
	return true
}

// matchesAny reports whether any stored case matches f.
func (f caseFilter) matchesAny(w *accessWorld) bool {
	f.lowerText = strings.ToLower(f.Text)
	for _, c := range w.byNum {
		if f.matches(c) {
			return true
		}
	}
	return false
}

type listResult struct {
	page  []string
	more  bool
	total int
}

// list is the oracle's answer to a case list in memory: the page after
// afterID, whether more follow, and the total count, over the cases the
// caller may see (from the caller's own SQL).
func (w *accessWorld) list(c *matrixCaller, f caseFilter, order string, first int, afterID string) (page []string, more bool, total int) {
	key := fmt.Sprintf("%s|%+v|%s|%d|%s", c.name, f, order, first, afterID)
	if r, ok := w.lists.Load(key); ok {
		r := r.(listResult)
		return r.page, r.more, r.total
	}
	defer func() { w.lists.Store(key, listResult{page, more, total}) }()
	start := 0
	if afterID != "" {
		start = w.pos[order][w.index[afterID]] + 1
	}
	f.lowerText = strings.ToLower(f.Text)
	for p, i := range w.sorted[order] {
		if !c.visibleAt[i] {
			continue
		}
		cs := w.byNum[i]
		if !f.matches(cs) {
			continue
		}
		total++
		if p >= start {
			if len(page) < first {
				page = append(page, cs.ID)
			} else {
				more = true
			}
		}
	}
	return page, more, total
}

// firstWhere returns the first case id (by id) matching a SQL predicate, or "".
func (w *accessWorld) firstWhere(t testing.TB, pred string) string {
	t.Helper()
	var id string
	err := w.pool.QueryRow(context.Background(), "SELECT id::text FROM cases WHERE "+pred+" ORDER BY id LIMIT 1").Scan(&id)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("%s: %v", pred, err)
	}
	return id
}

// The masking rules as docs/design.md (Access control) states them: a mobile
// number keeps its first 3 and last 4 digits, a name its surname.
var maskedMobile = regexp.MustCompile(`^1\d{2}\*{4}\d{4}$`)

func wantMaskedPhone(raw, got string) string {
	switch {
	case got == raw:
		return fmt.Sprintf("raw phone %q where masked is expected", raw)
	case !maskedMobile.MatchString(got):
		return fmt.Sprintf("phone %q is not masked like 138****5678", got)
	case got[:3] != raw[:3] || got[7:] != raw[7:]:
		return fmt.Sprintf("masked phone %q does not keep the first 3 and last 4 digits of the stored number", got)
	}
	return ""
}

// wantMaskedName accepts the surname (one character, or two for a compound
// surname) followed by a star for every other character.
func wantMaskedName(raw, got string) string {
	r, g := []rune(raw), []rune(got)
	if got == raw {
		return fmt.Sprintf("raw name %q where masked is expected", raw)
	}
	if len(g) != len(r) {
		return fmt.Sprintf("masked name %q does not have the length of the stored name", got)
	}
	keep := 0
	for keep < len(g) && g[keep] == r[keep] && g[keep] != '*' {
		keep++
	}
	if keep > 2 || (keep == 0 && len(r) > 1) || strings.Trim(string(g[keep:]), "*") != "" {
		return fmt.Sprintf("name %q is not masked as surname + *", got)
	}
	return ""
}

// ---------------------------------------------------------------- the matrix

const probeFields = `id caseNo status description timeline { action toStatus } reporter { name phone }`

// TestAccessMatrixOverHTTP asks the hub, over HTTP, as every principal of
// the matrix: which cases come back (totalCount against the oracle's own
// count, the first page against the oracle's own page), what each field
// group looks like on a case with a reporter, and that a case outside the
// caller's scope is indistinguishable from one that does not exist.
func TestAccessMatrixOverHTTP(t *testing.T) {
	h := newHubWith(t, app.Options{})
	w := loadWorld(t, h.app.Pool)
	callers := setupCallers(t, h, w, matrixSpecs())

	// The table means something only if it splits the data: scoped callers
	// see some but not all cases, no-access callers none.
	for _, c := range callers {
		switch {
		case c.rows == "TRUE" && len(c.visible) != len(w.ids),
			c.rows == "FALSE" && len(c.visible) != 0,
			c.rows != "TRUE" && c.rows != "FALSE" && (len(c.visible) == 0 || len(c.visible) == len(w.ids)):
			t.Fatalf("%s: the oracle's row predicate selects %d of %d cases", c, len(c.visible), len(w.ids))
		}
	}

	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			// Which rows: totalCount and the first page.
			r := h.doAs(t, c, `{ cases(first: 200) { totalCount edges { node { `+probeFields+` } } pageInfo { hasNextPage } } }`, nil)
			conn := mapAt(t, r, "cases")
			if n := int(conn["totalCount"].(float64)); n != len(c.visible) {
				t.Errorf("totalCount %d, the oracle counts %d", n, len(c.visible))
			}
			wantIDs, more := w.page(t, c.rows, caseFilter{}, "REPORTED_AT_DESC", 200, "")
			edges := conn["edges"].([]any)
			var gotIDs []string
			for i, e := range edges {
				node := e.(map[string]any)["node"].(map[string]any)
				id := node["id"].(string)
				gotIDs = append(gotIDs, id)
				if !c.visible[id] {
					t.Errorf("cases.edges.%d: case %s is outside the caller's scope", i, id)
					continue
				}
				expectGroups(t, c, w, r, []any{"cases", "edges", i, "node"}, node)
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("first page: %d ids, the oracle's page has %d (first difference at %d)", len(gotIDs), len(wantIDs), firstDiff(gotIDs, wantIDs))
			}
			if hn := conn["pageInfo"].(map[string]any)["hasNextPage"].(bool); hn != more {
				t.Errorf("hasNextPage %v, want %v", hn, more)
			}
			expectOnlyForbiddenFor(t, c, r)

			// The field groups on one case with a reporter, through case(id:)
			// and _entities.
			probe := w.firstWhere(t, "("+c.rows+") AND reporter_name IS NOT NULL AND reporter_phone IS NOT NULL")
			if probe != "" {
				r := h.doAs(t, c, `query($id: ID!, $reps: [_Any!]!) { case(id: $id) { `+probeFields+` }
					_entities(representations: $reps) { ... on Case { `+probeFields+` } }
					node(id: $id) { ... on Case { `+probeFields+` } }
					nodes(ids: [$id]) { ... on Case { `+probeFields+` } } }`,
					map[string]any{"id": probe, "reps": []any{map[string]any{"__typename": "Case", "id": probe}}})
				expectGroups(t, c, w, r, []any{"case"}, mapAt(t, r, "case"))
				expectGroups(t, c, w, r, []any{"node"}, mapAt(t, r, "node"))
				for _, list := range []string{"_entities", "nodes"} {
					items, _ := r.Data[list].([]any)
					if len(items) != 1 || items[0] == nil {
						t.Fatalf("%s for in-scope case %s: %s", list, probe, r.Body)
					}
					expectGroups(t, c, w, r, []any{list, 0}, items[0].(map[string]any))
				}
				expectOnlyForbiddenFor(t, c, r)
			} else if len(c.visible) > 0 {
				t.Errorf("no visible case with a reporter to probe")
			}

			// Out of scope = does not exist.
			if len(c.outside) > 0 {
				out := w.firstWhere(t, "NOT ("+c.rows+") AND reporter_phone IS NOT NULL")
				expectIndistinguishable(t, h, c, out)
			}
		})
	}

	t.Run("field staff of Chengdong get Chengdong only", func(t *testing.T) {
		c := callerNamed(t, callers, "urban-management street-officer of Chengdong")
		r := h.doAs(t, c, `{ cases(first: 200, orderBy: DEADLINE_ASC) { totalCount edges { node { id jurisdiction { code } } } } }`, nil)
		conn := mapAt(t, r, "cases")
		var n int
		if err := h.app.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM cases WHERE jurisdiction_code LIKE 'hailing.chengdong.%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if got := int(conn["totalCount"].(float64)); got != n || n == 0 {
			t.Errorf("totalCount %d, SQL counts %d", got, n)
		}
		for i, e := range conn["edges"].([]any) {
			code := e.(map[string]any)["node"].(map[string]any)["jurisdiction"].(map[string]any)["code"].(string)
			if !strings.HasPrefix(code, "hailing.chengdong.") {
				t.Errorf("edge %d: case in %s", i, code)
			}
		}
	})

	t.Run("a citizen gets only their own reports", func(t *testing.T) {
		c := callerNamed(t, callers, "citizen app for a citizen")
		var own int
		if err := h.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases WHERE citizen_id = $1`, c.citizenID).Scan(&own); err != nil {
			t.Fatal(err)
		}
		// Through cases and through the citizen app's own list.
		for _, root := range []string{"cases", "myCases"} {
			r := h.doAs(t, c, `{ `+root+`(first: 50) { totalCount edges { node { id reporter { name phone } } } } }`, nil)
			conn := mapAt(t, r, root)
			edges := conn["edges"].([]any)
			if len(edges) == 0 || len(edges) != own || int(conn["totalCount"].(float64)) != own || len(r.Errors) > 0 {
				t.Fatalf("%s for citizen %s (%d own reports): %s", root, c.citizenID, own, r.Body)
			}
			for _, e := range edges {
				id := e.(map[string]any)["node"].(map[string]any)["id"].(string)
				if cz := w.cases[id].Citizen; cz == nil || *cz != c.citizenID {
					t.Errorf("%s: case %s was reported by %v, not %s", root, id, cz, c.citizenID)
				}
			}
		}
		// Nobody else has own reports.
		for _, o := range callers {
			if o.citizenID != "" {
				continue
			}
			r := h.doAs(t, o, `{ myCase(id: "`+c.inside[0]+`") { id reporter { phone } } }`, nil)
			if r.Data["myCase"] != nil || len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("%s asking for a citizen's case through myCase: %s", o, r.Body)
			}
		}
	})

	t.Run("the same rows through every other door", func(t *testing.T) {
		// The compound with the most cases, and a violation whose case each
		// caller may or may not see.
		var prop string
		if err := h.app.Pool.QueryRow(context.Background(), `SELECT property_id::text FROM cases WHERE property_id IS NOT NULL
			GROUP BY property_id ORDER BY count(*) DESC, property_id LIMIT 1`).Scan(&prop); err != nil {
			t.Fatal(err)
		}
		const q = `query($p: ID!) {
			district: jurisdiction(code: "hailing") { cases(first: 20) { totalCount edges { node { id reporter { phone } } } } }
			property(id: $p) { cases(first: 20) { totalCount edges { node { id } } } }
			violations(first: 50) { edges { node { id case { id reporter { phone } } } } } }`
		for _, c := range callers {
			r := h.doAs(t, c, q, map[string]any{"p": prop})
			if len(r.Errors) > 0 {
				t.Errorf("%s: errors %s", c, r.Body)
				continue
			}
			for _, door := range []struct {
				name string
				conn any
				f    caseFilter
			}{
				{"jurisdiction(hailing).cases", r.Data["district"].(map[string]any)["cases"], caseFilter{}},
				{"property.cases", r.Data["property"].(map[string]any)["cases"], caseFilter{PropertyID: prop}},
			} {
				conn := door.conn.(map[string]any)
				want, _, total := w.list(c, door.f, "REPORTED_AT_DESC", 20, "")
				var got []string
				for _, e := range conn["edges"].([]any) {
					got = append(got, e.(map[string]any)["node"].(map[string]any)["id"].(string))
				}
				if int(conn["totalCount"].(float64)) != total || !slices.Equal(got, want) {
					t.Errorf("%s, %s: totalCount %v and %d cases, the oracle has %d and %d", c, door.name, conn["totalCount"], len(got), total, len(want))
				}
			}
			for i, e := range r.Data["violations"].(map[string]any)["edges"].([]any) {
				n := e.(map[string]any)["node"].(map[string]any)
				linked := w.violations[n["id"].(string)]
				switch {
				case linked != nil && c.visible[*linked]:
					if cs, _ := n["case"].(map[string]any); cs == nil || cs["id"] != *linked {
						t.Errorf("%s: violations.edges.%d.node.case: %v, want case %s", c, i, n["case"], *linked)
					}
				case n["case"] != nil:
					t.Errorf("%s: violations.edges.%d.node.case: %v, outside the caller's scope", c, i, n["case"])
				}
			}
		}
	})

	t.Run("aggregates count only what the caller may see", func(t *testing.T) {
		for _, c := range callers {
			if len(c.outside) == 0 {
				continue
			}
			// A filter whose matches all lie outside the caller's scope: the
			// description of an out-of-scope case that no visible case shares.
			var text string
			err := h.app.Pool.QueryRow(context.Background(), `SELECT c.description FROM cases c WHERE NOT (`+qualify(c.rows, "c")+`)
				AND NOT EXISTS (SELECT 1 FROM cases d WHERE (`+qualify(c.rows, "d")+`) AND strpos(d.description, c.description) > 0)
				ORDER BY c.id LIMIT 1`).Scan(&text)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			f := caseFilter{Text: text}
			if w.count(t, "TRUE", f) == 0 || w.count(t, c.rows, f) != 0 {
				t.Fatalf("%s: the oracle's filter %q is not out-of-scope only", c, text)
			}
			r := h.doAs(t, c, `query($f: CaseFilter) { cases(filter: $f) { totalCount edges { node { id } } } }`, map[string]any{"f": f.input()})
			conn := mapAt(t, r, "cases")
			if n := int(conn["totalCount"].(float64)); n != 0 || len(conn["edges"].([]any)) != 0 || len(r.Errors) > 0 {
				t.Errorf("%s: filter matching only out-of-scope cases: %s", c, r.Body)
			}
		}
		// And by hand: a street officer of Chengdong asking for Chengxi.
		c := callerNamed(t, callers, "urban-management street-officer of Chengdong")
		for _, j := range []string{"hailing.chengxi", "hailing.chengxi.xijiao", "hailing.jiulong"} {
			r := h.doAs(t, c, `query($j: String) { cases(filter: {jurisdiction: $j}) { totalCount } }`, map[string]any{"j": j})
			if n := int(mapAt(t, r, "cases")["totalCount"].(float64)); n != 0 {
				t.Errorf("Chengdong street officer counts %d cases in %s", n, j)
			}
		}
		d := callerNamed(t, callers, "dispatcher")
		r := h.doAs(t, d, `{ cases(filter: {jurisdiction: "hailing.chengxi"}) { totalCount } }`, nil)
		if n := int(mapAt(t, r, "cases")["totalCount"].(float64)); n != w.count(t, "TRUE", caseFilter{Jurisdiction: "hailing.chengxi"}) || n == 0 {
			t.Errorf("dispatcher counts %d cases in Chengxi", n)
		}
	})
}

// qualify prefixes the bare column names of a spec's row predicate with a
// table alias.
func qualify(rows, alias string) string {
	for _, col := range []string{"jurisdiction_code", "owner_dept", "handling_dept", "citizen_id"} {
		rows = strings.ReplaceAll(rows, col, alias+"."+col)
	}
	return rows
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// mapAt returns the object at a root field, failing the test on null.
func mapAt(t *testing.T, r rawResponse, key string) map[string]any {
	t.Helper()
	m, ok := r.Data[key].(map[string]any)
	if !ok {
		t.Fatalf("%s is not an object: %s", key, r.Body)
	}
	return m
}

// expectGroups checks one case node (fields of probeFields) against the
// table: core fields as stored; the timeline and the reporter visible,
// masked or denied as the caller's row says.
func expectGroups(t *testing.T, c *matrixCaller, w *accessWorld, r rawResponse, path []any, node map[string]any) {
	t.Helper()
	at := pathString(path)
	db := w.cases[node["id"].(string)]
	if db == nil {
		t.Errorf("%s: unknown case %v", at, node["id"])
		return
	}
	if c.core != wantVisible {
		t.Errorf("%s: case %s returned to a caller with no access to cases", at, db.ID)
		return
	}
	if node["description"] != db.Description || node["status"] != db.Status || node["caseNo"] != db.CaseNo {
		t.Errorf("%s: core fields %v/%v/%v, stored %q/%q/%q", at, node["caseNo"], node["status"], node["description"], db.CaseNo, db.Status, db.Description)
	}

	switch c.workflow {
	case wantVisible:
		tl, ok := node["timeline"].([]any)
		evs, err := w.timelineOf(db.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || len(tl) != len(evs) {
			t.Errorf("%s.timeline: %v, want the %d stored events", at, node["timeline"], len(evs))
			break
		}
		for i, e := range tl {
			if e.(map[string]any)["action"] != evs[i].Action || e.(map[string]any)["toStatus"] != evs[i].ToStatus {
				t.Errorf("%s.timeline.%d: %v, stored %+v", at, i, e, evs[i])
			}
		}
	default:
		expectDenied(t, r, pathWith(path, "timeline"), node["timeline"])
	}

	rep := node["reporter"]
	switch c.reporter {
	case wantVisible, wantMasked:
		if db.RepName == nil && db.RepPhone == nil {
			if rep != nil {
				t.Errorf("%s.reporter: %v for a case without a reporter", at, rep)
			}
			break
		}
		m, ok := rep.(map[string]any)
		if !ok {
			t.Errorf("%s.reporter: %v, want %s", at, rep, c.reporter)
			break
		}
		for _, f := range []struct {
			key string
			raw *string
		}{{"name", db.RepName}, {"phone", db.RepPhone}} {
			got, _ := m[f.key].(string)
			switch {
			case f.raw == nil:
				if m[f.key] != nil {
					t.Errorf("%s.reporter.%s: %v, nothing stored", at, f.key, m[f.key])
				}
			case c.reporter == wantVisible:
				if got != *f.raw {
					t.Errorf("%s.reporter.%s: %q, stored %q (want visible)", at, f.key, got, *f.raw)
				}
			case f.key == "phone":
				if msg := wantMaskedPhone(*f.raw, got); msg != "" {
					t.Errorf("%s.reporter.phone: %s", at, msg)
				}
			default:
				// By hand: the surname and a star per remaining character.
				rr := []rune(*f.raw)
				if exp := string(rr[0]) + strings.Repeat("*", len(rr)-1); got != exp {
					t.Errorf("%s.reporter.name: %q, want %q (stored %q)", at, got, exp, *f.raw)
				}
			}
		}
	default:
		expectDenied(t, r, pathWith(path, "reporter"), rep)
	}
}

func expectDenied(t *testing.T, r rawResponse, path []any, v any) {
	t.Helper()
	if v != nil {
		t.Errorf("%s: %v, want denied (null)", pathString(path), v)
	}
	errs := r.errorsAt(path)
	if len(errs) != 1 || errs[0].code() != "FORBIDDEN" {
		t.Errorf("%s: errors %+v, want one FORBIDDEN", pathString(path), errs)
	}
}

// expectOnlyForbiddenFor fails on any error except FORBIDDEN on a group
// the caller's row denies.
func expectOnlyForbiddenFor(t *testing.T, c *matrixCaller, r rawResponse) {
	t.Helper()
	for _, e := range r.Errors {
		last := ""
		if len(e.Path) > 0 {
			last, _ = e.Path[len(e.Path)-1].(string)
		}
		ok := e.code() == "FORBIDDEN" && ((last == "timeline" && c.workflow == wantDenied) || (last == "reporter" && c.reporter == wantDenied))
		if !ok {
			t.Errorf("unexpected error at %s: %s %q", pathString(e.Path), e.code(), e.Message)
		}
	}
}

// expectIndistinguishable asserts that every door answers the same for a
// case outside the caller's scope as for an id that does not exist: case(id:),
// _entities, node and nodes, and the errors of mutations (the id itself aside).
func expectIndistinguishable(t *testing.T, h *hub, c *matrixCaller, outside string) {
	t.Helper()
	if outside == "" {
		t.Fatal("no out-of-scope case with a reporter")
	}
	missing := uuid.NewString()
	phone := h.app.Pool.QueryRow(context.Background(), "SELECT reporter_phone FROM cases WHERE id = $1", outside)
	var raw string
	if err := phone.Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ name, query string }{
		{"case", `query($id: ID!) { case(id: $id) { ` + probeFields + ` } }`},
		{"_entities", `query($id: ID!) { _entities(representations: [{__typename: "Case", id: $id}]) { ... on Case { ` + probeFields + ` } } }`},
		{"_entities among others", `query($id: ID!, $x: ID!) { _entities(representations: [{__typename: "Case", id: $x}, {__typename: "Case", id: $id}]) { ... on Case { id } } }`},
		{"node", `query($id: ID!) { node(id: $id) { ... on Case { ` + probeFields + ` } } }`},
		{"nodes among others", `query($id: ID!, $x: ID!) { nodes(ids: [$x, $id, "hailing"]) { id ... on Case { ` + probeFields + ` } } }`},
		{"returnCase", `mutation($id: ID!) { returnCase(id: $id, version: -1, note: "access test") { id status } }`},
		{"rateCase", `mutation($id: ID!) { rateCase(id: $id, stars: 5) { id } }`},
		{"registerCase", `mutation($id: ID!) { registerCase(id: $id, version: -1) { id } }`},
		{"myCase", `query($id: ID!) { myCase(id: $id) { ` + probeFields + ` } }`},
	} {
		vars := func(id string) map[string]any {
			return map[string]any{"id": id, "x": uuid.NewSHA1(uuid.NameSpaceOID, []byte(c.name)).String()}
		}
		a := h.doAs(t, c, q.query, vars(outside))
		b := h.doAs(t, c, q.query, vars(missing))
		ga := strings.ReplaceAll(string(a.Body), outside, "<id>")
		gb := strings.ReplaceAll(string(b.Body), missing, "<id>")
		if a.Status != b.Status || ga != gb {
			t.Errorf("%s: out-of-scope case answers\n\t%d %s\nbut a nonexistent id answers\n\t%d %s", q.name, a.Status, ga, b.Status, gb)
		}
		switch {
		case strings.HasPrefix(q.name, "_entities") || strings.HasPrefix(q.name, "node") || q.name == "case" || (q.name == "myCase" && c.citizenID != ""):
			if len(a.Errors) > 0 || !strings.Contains(string(a.Body), "null") {
				t.Errorf("%s: an out-of-scope id answers %s, want null and no error", q.name, a.Body)
			}
		case q.name == "myCase":
			// Not acting for a citizen: refused whatever the id.
		case c.citizenID != "" && q.name != "rateCase":
			// The citizen app may not call staff mutations at all:
			// FORBIDDEN whatever the id, so nothing is learnt either.
			if len(a.Errors) == 0 || a.Errors[0].code() != "FORBIDDEN" {
				t.Errorf("%s: the citizen app's staff mutation answers %s, want FORBIDDEN", q.name, a.Body)
			}
		case len(a.Errors) == 0 || a.Errors[0].code() != "NOT_FOUND":
			t.Errorf("%s: out-of-scope mutation answers %s, want NOT_FOUND", q.name, a.Body)
		}
		if strings.Contains(string(a.Body), raw) {
			t.Errorf("%s: the out-of-scope case's reporter phone is in the answer", q.name)
		}
	}
}
