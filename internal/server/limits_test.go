package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/server"
)

// The tests below drive the hub's real schema through the server's
// handler with no services behind the resolvers: what they check is
// refused before any resolver runs (a resolver that did run fails as an
// internal error, which the tests tell apart).

var (
	schemaOnce sync.Once
	schema     graphql.ExecutableSchema
)

func hubSchema() graphql.ExecutableSchema {
	schemaOnce.Do(func() { schema = app.NewSchema(&graph.Resolver{}) })
	return schema
}

// principalAuth authenticates every request as p.
type principalAuth struct{ p *access.Principal }

func (a principalAuth) Authenticate(*http.Request) (*access.Principal, error) { return a.p, nil }

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResult struct {
	Status int
	Data   json.RawMessage
	Errors []gqlError
}

func (r gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	s, _ := r.Errors[0].Extensions["code"].(string)
	return s
}

// testServer is the server's handler over the hub's schema.
func testServer(t testing.TB, cfg config.Config, p *access.Principal) *httptest.Server {
	t.Helper()
	if cfg.Mode == "" {
		cfg.Mode = config.ModeDevelopment
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = config.RequestTimeoutDefault
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if p == nil {
		p = access.Anonymous()
	}
	h := server.Handler(server.Deps{
		Config:       cfg,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Auth:         principalAuth{p},
		Schema:       hubSchema(),
		RequestScope: func(ctx context.Context) context.Context { return ctx },
		Metrics:      server.NewMetrics(nil),
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, query string, vars map[string]any) gqlResult {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r gqlResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	r.Status = resp.StatusCode
	return r
}

// refusedBeforeRunning asserts the operation got exactly one error with
// code, and no data: nothing ran.
func refusedBeforeRunning(t *testing.T, r gqlResult, code string) {
	t.Helper()
	if len(r.Errors) != 1 || r.code() != code || (len(r.Data) > 0 && string(r.Data) != "null") {
		first := gqlError{}
		if len(r.Errors) > 0 {
			first = r.Errors[0]
		}
		t.Fatalf("want one %s error and no data, got status %d, %d bytes of data, %d errors, the first %+v", code, r.Status, len(r.Data), len(r.Errors), first)
	}
}

// TestHugePageSizesAreRefusedBeforeEstimating: a `first` beyond what its
// list serves is refused (BAD_USER_INPUT, field first) before the cost is
// estimated, in the document and through variables, on root and nested
// lists. Before, 2^62 wrapped the estimate below zero and let a thousand
// full pages beside it through.
func TestHugePageSizesAreRefusedBeforeEstimating(t *testing.T) {
	srv := testServer(t, config.Config{}, nil)
	var heavy strings.Builder
	for i := range 500 {
		fmt.Fprintf(&heavy, " h%d: cases(first: 200) { edges { node { id description } } }", i)
	}
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"literal wraps the sum", `{ w: snapshots(first: 4611686018427387904) { columns { name } } w2: snapshots(first: 4611686018427387904) { columns { name } }` + heavy.String() + ` }`, nil},
		{"nested product wraps", `{ jurisdictions { cases(first: 4294967296) { edges { node { violations { id } } } } } }`, nil},
		{"variable", `query($n: Int) { cases(first: $n) { edges { node { id } } } }`, map[string]any{"n": int64(1) << 62}},
		{"nested variable", `query($n: Int) { jurisdictions { properties(first: $n) { totalCount } } }`, map[string]any{"n": 51}},
		{"negative", `{ parkingLotsNear(lat: 32.49, lng: 119.92, first: -1) { distanceMeters } }`, nil},
		{"above the near list's page", `{ parkingLotsNear(lat: 32.49, lng: 119.92, first: 101) { distanceMeters } }`, nil},
		{"audit trail", `{ auditTrail(first: 1001) { next } }`, nil},
		{"in a fragment", `query($n: Int) { ...Q } fragment Q on Query { violations(first: $n) { totalCount } }`, map[string]any{"n": 201}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv, tc.query, tc.vars)
			refusedBeforeRunning(t, r, "BAD_USER_INPUT")
			if r.Errors[0].Extensions["field"] != "first" || !strings.Contains(r.Errors[0].Message, "must be between 0 and") {
				t.Fatalf("error does not name first: %+v", r.Errors[0])
			}
		})
	}
	// The largest pages each list serves are not refused as too large.
	for _, q := range []string{
		`{ cases(first: 200) { edges { node { id } } } }`,
		`{ auditTrail(first: 1000) { next } }`,
		`{ jurisdictions { cases(first: 50) { totalCount } } }`,
	} {
		if r := post(t, srv, q, nil); r.code() == "BAD_USER_INPUT" {
			t.Errorf("%s: %+v", q, r.Errors)
		}
	}
}

// TestCostSaturates: the estimate multiplies numbers the caller chooses
// (here 27 groupings of indicators, 120 × 10^27 rows) and must stay "too
// large" when the product passes 2^63 rather than wrap below zero, which
// would let the full pages beside it through.
func TestCostSaturates(t *testing.T) {
	srv := testServer(t, config.Config{}, nil)
	var q strings.Builder
	q.WriteString(`{ n: indicators(period: MONTH, from: "2015-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z", groupBy: [`)
	q.WriteString(strings.Repeat("STREET ", 27))
	q.WriteString(`]) { street }`)
	for i := range 450 {
		fmt.Fprintf(&q, " h%d: cases(first: 200) { edges { node { id description } } }", i)
	}
	q.WriteString(" }")
	r := post(t, srv, q.String(), nil)
	refusedBeforeRunning(t, r, "BAD_USER_INPUT")
	if r.Errors[0].Extensions["maxCost"] == nil {
		t.Fatalf("not refused by cost: %+v", r.Errors[0])
	}
}

// TestEntitiesAndIndicatorsCostWhatTheyReturn: _entities counts one
// selection per representation and indicators one row per period and
// group, not a flat guess.
func TestEntitiesAndIndicatorsCostWhatTheyReturn(t *testing.T) {
	srv := testServer(t, config.Config{}, nil)
	reps := make([]any, 6000)
	for i := range reps {
		reps[i] = map[string]any{"__typename": "Case", "id": fmt.Sprintf("00000000-0000-0000-0000-%012d", i)}
	}
	entities := `query($r: [_Any!]!) { _entities(representations: $r) { ... on Case { id caseNo description timeline { action actor at note } violations { id kind } } } }`
	r := post(t, srv, entities, map[string]any{"r": reps})
	refusedBeforeRunning(t, r, "BAD_USER_INPUT")
	if r.Errors[0].Extensions["maxCost"] == nil {
		t.Fatalf("6,000 representations: %+v", r.Errors[0])
	}
	r = post(t, srv, entities, map[string]any{"r": reps[:10]})
	if r.code() == "BAD_USER_INPUT" {
		t.Fatalf("10 representations: %+v", r.Errors)
	}

	indicators := `{ indicators(period: MONTH, from: "2015-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z", groupBy: [COMMUNITY, CASE_CLASS]) { street figures { name value numerator denominator } } }`
	r = post(t, srv, indicators, nil)
	refusedBeforeRunning(t, r, "BAD_USER_INPUT")
	if r.Errors[0].Extensions["maxCost"] == nil {
		t.Fatalf("ten years × communities × classes: %+v", r.Errors[0])
	}
	small := `{ indicators(period: YEAR, from: "2024-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z", groupBy: [STREET]) { street figures { name value } } }`
	if r := post(t, srv, small, nil); r.code() == "BAD_USER_INPUT" {
		t.Fatalf("a year by street: %+v", r.Errors)
	}
}

// TestNodesCostWhatTheyAsk: nodes counts one selection per id, like
// _entities per representation, so refetching one object with a deep
// selection passes while the same selection for hundreds of ids does not.
func TestNodesCostWhatTheyAsk(t *testing.T) {
	srv := testServer(t, config.Config{}, nil)
	nodes := `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Jurisdiction {
		cases(first: 50) { edges { node { id caseNo description timeline { action actor at note } } } } } } }`
	ids := make([]any, 500)
	for i := range ids {
		ids[i] = fmt.Sprintf("hailing.j%d", i)
	}
	r := post(t, srv, nodes, map[string]any{"ids": ids})
	refusedBeforeRunning(t, r, "BAD_USER_INPUT")
	if r.Errors[0].Extensions["maxCost"] == nil {
		t.Fatalf("500 ids: %+v", r.Errors[0])
	}
	if r := post(t, srv, nodes, map[string]any{"ids": ids[:1]}); r.code() == "BAD_USER_INPUT" {
		t.Fatalf("one id: %+v", r.Errors)
	}
}

// TestOversizedDocumentsAreRefusedBeforeValidation: documents whose
// validation is quadratic (tens of thousands of fields under one response
// key) or merely huge are refused with BAD_USER_INPUT naming the limit,
// before gqlparser validates them (which took minutes for 50,000).
func TestOversizedDocumentsAreRefusedBeforeValidation(t *testing.T) {
	srv := testServer(t, config.Config{}, nil)
	for _, tc := range []struct {
		name, query, ext string
	}{
		{"same alias", "{" + strings.Repeat(" a: __typename", 50_000) + " }", "maxTokens"},
		{"same alias, under the token limit", "{" + strings.Repeat(" a: __typename", 2_000) + " }", "maxFieldPairs"},
		{"same field", "{" + strings.Repeat(" __typename", 1_000) + " }", "maxFieldPairs"},
		{"same field across fragments", "{ ...A ...B } fragment A on Query {" + strings.Repeat(" __typename", 80) + " } fragment B on Query {" + strings.Repeat(" __typename", 80) + " }", "maxFieldPairs"},
		{"same field below same-named parents", "{" + strings.Repeat(" a: jurisdictions { code }", 50) + strings.Repeat(" a: jurisdictions { code name }", 50) + " }", "maxFieldPairs"},
		{"fragments doubling", "{ ...F0 }" + func() string {
			var b strings.Builder
			for i := range 20 {
				fmt.Fprintf(&b, " fragment F%d on Query { a%d: __typename ...F%d ...F%d }", i, i, i+1, i+1)
			}
			return b.String() + " fragment F20 on Query { __typename }"
		}(), "maxSelections"},
		{"many distinct fields", "{" + func() string {
			var b strings.Builder
			for i := range 6000 {
				fmt.Fprintf(&b, " a%d: __typename", i)
			}
			return b.String()
		}() + " }", "maxSelections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, srv, tc.query, nil)
			refusedBeforeRunning(t, r, "BAD_USER_INPUT")
			if r.Errors[0].Extensions[tc.ext] == nil || r.Errors[0].Message == "" {
				t.Fatalf("want %s: %+v", tc.ext, r.Errors[0])
			}
		})
	}
	// Keys repeated in different places are not compared and pass, like
	// a few repeats in one place.
	var lists strings.Builder
	lists.WriteString("{")
	for i := range 100 {
		fmt.Fprintf(&lists, " a%d: jurisdictions { code name }", i)
	}
	lists.WriteString(" __typename __typename }")
	r := post(t, srv, lists.String(), nil)
	if r.code() == "BAD_USER_INPUT" {
		t.Fatalf("ordinary document: %+v", r.Errors)
	}
}

// BenchmarkSameKeyDocument measures what the document limit saves: a
// document of n fields under one alias, refused before validation now.
// Before the limit, 800 such fields took about 0.4 s to validate and
// 50,000 minutes.
func BenchmarkSameKeyDocument(b *testing.B) {
	srv := testServer(b, config.Config{}, nil)
	q := "{" + strings.Repeat(" a: __typename", 5_000) + " }"
	body, _ := json.Marshal(map[string]any{"query": q})
	b.ResetTimer()
	for range b.N {
		resp, err := http.Post(srv.URL+"/query", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestSchemaExposure: introspection and the federation SDL follow their
// settings, open in development and closed in production by default,
// wherever in the document they are asked for; __typename stays open.
func TestSchemaExposure(t *testing.T) {
	user := &access.Principal{Kind: access.KindUser, Subject: "u", Dept: "water", Roles: []string{"officer"}, Jurisdiction: "hailing"}
	system := &access.Principal{Kind: access.KindService, Subject: "k", Dept: "water", Roles: []string{"system"}, Jurisdiction: "hailing"}
	citizen := &access.Principal{Kind: access.KindService, Subject: "app", Roles: []string{"citizen-app"}, CitizenID: "c1", Jurisdiction: "hailing"}
	const (
		schemaQ   = `{ __schema { queryType { name } } }`
		typeQ     = `{ __type(name: "Case") { name } }`
		hiddenQ   = `{ ...F } fragment F on Query { x: __schema { queryType { name } } }`
		sdlQ      = `{ _service { sdl } }`
		typenameQ = `{ __typename }`
	)
	prod := config.Config{Mode: config.ModeProduction}
	for _, tc := range []struct {
		name  string
		cfg   config.Config
		p     *access.Principal
		query string
		open  bool
	}{
		{"development, anonymous introspects", config.Config{}, nil, schemaQ, true},
		{"development, anonymous reads the SDL", config.Config{}, nil, sdlQ, true},
		{"production, anonymous __schema", prod, nil, schemaQ, false},
		{"production, anonymous __type", prod, nil, typeQ, false},
		{"production, in a fragment", prod, nil, hiddenQ, false},
		{"production, staff __schema", prod, user, schemaQ, false},
		{"production, anonymous _service", prod, nil, sdlQ, false},
		{"production, staff _service", prod, user, sdlQ, false},
		{"production, citizen app _service", prod, citizen, sdlQ, false},
		{"production, a system's key reads _service", prod, system, sdlQ, true},
		{"production, __typename", prod, nil, typenameQ, true},
		{"production, introspection opened to staff", config.Config{Mode: config.ModeProduction, Introspection: config.ExposureAuthenticated}, user, typeQ, true},
		{"production, introspection opened to staff, anonymous", config.Config{Mode: config.ModeProduction, Introspection: config.ExposureAuthenticated}, nil, typeQ, false},
		{"development, SDL off", config.Config{FederationSDL: config.ExposureOff}, system, sdlQ, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, testServer(t, tc.cfg, tc.p), tc.query, nil)
			if tc.open {
				if len(r.Errors) > 0 || len(r.Data) < 10 {
					t.Fatalf("want data: %s %+v", r.Data, r.Errors)
				}
				return
			}
			refusedBeforeRunning(t, r, "FORBIDDEN")
		})
	}
}

// TestMetricsAccess: /metrics answers Prometheus with the configured
// bearer token, anyone in development without one, and nobody in
// production without one.
func TestMetricsAccess(t *testing.T) {
	const token = "0123456789abcdef0123"
	get := func(srv *httptest.Server, auth string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	dev := testServer(t, config.Config{}, nil)
	prodOff := testServer(t, config.Config{Mode: config.ModeProduction}, nil)
	prodTok := testServer(t, config.Config{Mode: config.ModeProduction, MetricsToken: token}, nil)
	devTok := testServer(t, config.Config{MetricsToken: token}, nil)
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		auth string
		want int
	}{
		{"development", dev, "", 200},
		{"production without a token", prodOff, "", 404},
		{"production without a token, any bearer", prodOff, "Bearer " + token, 404},
		{"production, no header", prodTok, "", 401},
		{"production, wrong token", prodTok, "Bearer " + token + "x", 401},
		{"production, token", prodTok, "Bearer " + token, 200},
		{"development with a token, no header", devTok, "", 401},
	} {
		if got := get(tc.srv, tc.auth); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
