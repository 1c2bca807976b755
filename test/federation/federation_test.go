// Package federation_test checks that the hub's subgraph SDL composes with
// another department's subgraph using the standard Federation v2 composition
// library from npm, and that a standard gateway over the composed supergraph
// joins fields from both in one query while the hub's access rules still
// apply to the caller behind the gateway.
//
// The JavaScript side lives next to this file (pinned in package.json and
// package-lock.json, installed by scripts/npm-deps.sh, which `make test` runs):
//
//	compose.mjs         @apollo/composition: hub SDL + water SDL -> supergraph
//	water-schema.mjs    the water department's subgraph schema and resolvers
//	water-subgraph.mjs  serves it (@apollo/subgraph + @apollo/server)
//	gateway.mjs         @apollo/gateway + @apollo/server, forwarding credentials to the hub
//	relay/src           a Relay client project relay-compiler compiles against the hub's SDL (relay_test.go)
//
// Without node or node_modules the test skips, except under CI (CI set and not
// "false"/"0"), where it fails.
package federation_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// seedNow fixes the demo data's "now" so the run is deterministic.
var seedNow = time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC)

// The jurisdiction the query joins flood points onto.
const jurisdictionCode = "hailing.chengdong"

func TestHubComposesAndServesBehindGateway(t *testing.T) {
	node := requireNode(t)
	ctx := t.Context()

	h := startHub(t, ctx)
	housing := h.token(t, "housing", "viewer")

	// The SDL exactly as the running hub serves it to a gateway.
	var svc struct {
		Service struct {
			SDL string `json:"sdl"`
		} `json:"_service"`
	}
	r := post(t, h.url, housing, `{ _service { sdl } }`, nil)
	r.noErrors(t, "hub _service")
	r.decode(t, &svc)
	if !strings.Contains(svc.Service.SDL, "@link") {
		t.Fatalf("hub SDL has no @link (not a Federation v2 subgraph?):\n%s", svc.Service.SDL)
	}
	dir := t.TempDir()
	hubSDL := filepath.Join(dir, "hub.graphql")
	if err := os.WriteFile(hubSDL, []byte(svc.Service.SDL), 0o644); err != nil {
		t.Fatal(err)
	}
	doc, gerr := parser.ParseSchema(&ast.Source{Name: "hub.graphql", Input: svc.Service.SDL})
	if gerr != nil {
		t.Fatalf("hub SDL does not parse: %v", gerr)
	}
	withProperty := hasObjectType(doc, "Property")
	t.Logf("hub SDL: %d bytes; defines Property: %v", len(svc.Service.SDL), withProperty)

	// The water department's subgraph first: composition records its URL.
	water := startNode(t, ctx, node, "water-subgraph.mjs", "--port", "0", "--hub-sdl", hubSDL)
	waitGraphQL(t, water.url)

	// Standard Federation v2 composition must accept the hub's SDL.
	supergraph := filepath.Join(dir, "supergraph.graphql")
	out, err := runNode(ctx, node, "compose.mjs",
		"--hub-sdl", hubSDL, "--hub-url", h.url, "--water-url", water.url, "--out", supergraph)
	if err != nil {
		t.Fatalf("composition of the hub's SDL with the water subgraph failed (%v):\n%s", err, out)
	}
	t.Logf("compose: %s", strings.TrimSpace(out))

	gw := startNode(t, ctx, node, "gateway.mjs", "--supergraph", supergraph, "--port", "0")
	waitGraphQL(t, gw.url)

	// One query through the gateway, joining hub and water fields at the
	// root (Jurisdiction) and two entity hops deep (Case, then the case's
	// Jurisdiction). Only cases with a reporter (hotline, citizen app).
	const query = `query($code: String!) {
	  jurisdiction(code: $code) { code name floodPoints { name maxDepthCm } }
	  cases(first: 3, filter: { source: [HOTLINE_12345, CITIZEN_REPORT] }) {
	    edges { node {
	      id caseNo nearbyFloodRisk
	      reporter { phone }
	      jurisdiction { code name floodPoints { name } }
	    } }
	  }
	}`
	vars := map[string]any{"code": jurisdictionCode}
	type result struct {
		Jurisdiction *struct {
			Code        string
			Name        string
			FloodPoints []struct {
				Name       string
				MaxDepthCm int
			}
		}
		Cases struct {
			Edges []struct {
				Node struct {
					ID              string
					CaseNo          string
					NearbyFloodRisk *string
					Reporter        *struct{ Phone *string }
					Jurisdiction    struct {
						Code        string
						Name        string
						FloodPoints []struct{ Name string }
					}
				}
			}
		}
	}

	var viaGW result
	r = post(t, gw.url, housing, query, vars)
	r.noErrors(t, "gateway query (housing viewer)")
	r.decode(t, &viaGW)

	// Hub fields.
	j := viaGW.Jurisdiction
	if j == nil || j.Code != jurisdictionCode || j.Name == "" {
		t.Fatalf("jurisdiction (hub fields) through the gateway: %+v", j)
	}
	// Water fields, joined onto the hub's Jurisdiction.
	want := floodPointNames(jurisdictionCode)
	var got []string
	for _, fp := range j.FloodPoints {
		got = append(got, fp.Name)
		if fp.MaxDepthCm < 10 {
			t.Errorf("flood point %q: maxDepthCm %d", fp.Name, fp.MaxDepthCm)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("jurisdiction.floodPoints (water) = %q, want %q", got, want)
	}

	edges := viaGW.Cases.Edges
	if len(edges) == 0 {
		t.Fatal("no cases through the gateway: were the caller's credentials forwarded to the hub?")
	}
	for _, e := range edges {
		c := e.Node
		if c.ID == "" || c.CaseNo == "" || c.Jurisdiction.Code == "" || c.Jurisdiction.Name == "" {
			t.Errorf("case %q: hub fields missing: %+v", c.ID, c)
		}
		if w := riskOf("case:", c.ID); c.NearbyFloodRisk == nil || *c.NearbyFloodRisk != w {
			t.Errorf("case %s: nearbyFloodRisk (water) = %v, want %q", c.CaseNo, deref(c.NearbyFloodRisk), w)
		}
		if got, want := names(c.Jurisdiction.FloodPoints), floodPointNames(c.Jurisdiction.Code); !slices.Equal(got, want) {
			t.Errorf("case %s: jurisdiction %s floodPoints (water, two hops) = %q, want %q",
				c.CaseNo, c.Jurisdiction.Code, got, want)
		}
		// The access rule holds behind the gateway: housing is not the
		// provider of cases, so the reporter's phone is masked.
		if c.Reporter == nil || c.Reporter.Phone == nil || !strings.Contains(*c.Reporter.Phone, "****") {
			t.Errorf("case %s: reporter phone through the gateway for housing = %v, want masked (****)", c.CaseNo, c.Reporter)
		}
	}

	// Relay paging across subgraphs: the hub's and the water department's
	// connections share the standard PageInfo, so one query pages both.
	var pages struct {
		Cases struct {
			PageInfo relayPageInfo
		}
		FloodPointPage struct {
			Edges    []struct{ Cursor string }
			PageInfo relayPageInfo
		}
	}
	r = post(t, gw.url, housing, `query($code: String!) {
	  cases(first: 2) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
	  floodPointPage(jurisdiction: $code, first: 1) { edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
	}`, vars)
	r.noErrors(t, "gateway query (PageInfo of both subgraphs)")
	r.decode(t, &pages)
	if pi := pages.Cases.PageInfo; pi.StartCursor == nil || pi.EndCursor == nil || pi.HasPreviousPage {
		t.Errorf("hub PageInfo through the gateway: %+v", pi)
	}
	fp := pages.FloodPointPage
	if len(fp.Edges) != 1 || fp.PageInfo.StartCursor == nil || *fp.PageInfo.StartCursor != fp.Edges[0].Cursor ||
		fp.PageInfo.HasNextPage != (len(floodPointNames(jurisdictionCode)) > 1) {
		t.Errorf("water PageInfo through the gateway: %+v", fp)
	}

	// The gateway passes on who is calling, not a fixed identity: the
	// provider's own desk sees the same reporters unmasked, and the same
	// query straight to the hub gives the housing viewer exactly what the
	// gateway gave.
	var asProvider, direct result
	r = post(t, gw.url, h.token(t, "urban-management", "viewer"), query, vars)
	r.noErrors(t, "gateway query (urban-management viewer)")
	r.decode(t, &asProvider)
	r = post(t, h.url, housing, stripWater(query), vars)
	r.noErrors(t, "hub query (housing viewer)")
	r.decode(t, &direct)
	if len(asProvider.Cases.Edges) != len(edges) || len(direct.Cases.Edges) != len(edges) {
		t.Fatalf("case counts: gateway/housing %d, gateway/urban-management %d, hub/housing %d",
			len(edges), len(asProvider.Cases.Edges), len(direct.Cases.Edges))
	}
	for i, e := range edges {
		masked := deref(e.Node.Reporter.Phone)
		p, d := asProvider.Cases.Edges[i].Node, direct.Cases.Edges[i].Node
		if p.ID != e.Node.ID || d.ID != e.Node.ID {
			t.Fatalf("case order differs: %s / %s / %s", e.Node.ID, p.ID, d.ID)
		}
		if p.Reporter == nil || p.Reporter.Phone == nil || strings.Contains(*p.Reporter.Phone, "*") || *p.Reporter.Phone == masked {
			t.Errorf("case %s: reporter phone through the gateway for urban-management = %v, want unmasked", e.Node.CaseNo, p.Reporter)
		}
		if d.Reporter == nil || deref(d.Reporter.Phone) != masked {
			t.Errorf("case %s: reporter phone straight from the hub %v != through the gateway %q", e.Node.CaseNo, d.Reporter, masked)
		}
	}

	// No credentials, no cases: the gateway adds no identity of its own.
	r = post(t, gw.url, "", `{ cases(first: 3) { edges { node { reporter { phone } } } } }`, nil)
	if phones := findStrings(r.raw, "phone"); len(phones) > 0 {
		t.Errorf("anonymous caller got reporter phones through the gateway: %q", phones)
	}

	checkErrorCodes(t, h.url, gw.url, housing)

	if withProperty {
		checkProperty(t, doc, gw.url, housing)
	}
}

// checkErrorCodes: an error the hub raises keeps its extensions.code through
// the gateway (@apollo/gateway passes subgraph errors on by default), so a
// front-end behind the gateway can tell a refusal from a bad argument. Both
// errors come from the hub's resolvers, not from the gateway's validation.
func checkErrorCodes(t *testing.T, hubURL, gwURL, token string) {
	t.Helper()
	for _, c := range []struct{ query, code string }{
		{`{ cases(first: 100000) { totalCount } }`, "BAD_USER_INPUT"},
		// The audit trail is for auditors only.
		{`{ auditChain { ok } }`, "FORBIDDEN"},
	} {
		for _, url := range []string{hubURL, gwURL} {
			r := post(t, url, token, c.query, nil)
			var codes []any
			for _, e := range r.Errors {
				codes = append(codes, e.Extensions["code"])
			}
			if len(codes) == 0 || !slices.Contains(codes, any(c.code)) {
				t.Errorf("%s via %s: error codes %v, want %s: %s", c.query, url, codes, c.code, r.raw)
			}
		}
	}
}

// checkProperty queries the shortest path from a root field to Property
// found in the hub's SDL and checks the water department's floodRisk on every
// Property it returns. (Runs as soon as the hub defines Property.)
func checkProperty(t *testing.T, doc *ast.SchemaDocument, gwURL, token string) {
	t.Helper()
	key := propertyKey(doc)
	sel, ok := pathTo(doc, "Property", key+" floodRisk")
	if !ok {
		t.Fatalf("the hub defines Property but no root field without required arguments reaches it")
	}
	q := "{ " + sel + " }"
	t.Logf("Property query through the gateway: %s", q)
	r := post(t, gwURL, token, q, nil)
	r.noErrors(t, "gateway Property query")
	props := findObjects(r.raw, "floodRisk")
	if len(props) == 0 {
		t.Logf("the Property query returned no properties (none seeded?): only composition covers Property")
	}
	for _, p := range props {
		k := fmt.Sprint(p[key])
		if want := riskOf("property:", k); p["floodRisk"] != want {
			t.Errorf("property %s=%s: floodRisk (water) = %v, want %q", key, k, p["floodRisk"], want)
		}
	}
}

// ---------------------------------------------------------------- node side

// requireNode returns the node binary, or skips (fails under CI) when node
// or the installed packages are missing.
func requireNode(t *testing.T) string {
	t.Helper()
	ci := os.Getenv("CI")
	inCI := ci != "" && ci != "false" && ci != "0"
	missing := func(what string) {
		msg := what + "; run `bash scripts/npm-deps.sh` (or `make test`), which installs the pinned packages of test/federation"
		if inCI {
			t.Fatalf("CI: %s", msg)
		}
		t.Skipf("skipping the federation test: %s", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, pkg := range []string{"@apollo/composition", "@apollo/gateway", "@apollo/server", "@apollo/subgraph", "graphql", "graphql-http", "@apollo/client", "rxjs", "relay-compiler"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			missing("test/federation/node_modules/" + pkg + " is missing")
		}
	}
	return node
}

// nodeProc is a node child process that printed "READY <url>".
type nodeProc struct {
	url string
}

// startNode starts a script of this directory, killed when the test ends,
// and waits (bounded) for its READY line. Its stderr is logged if the test
// fails.
func startNode(t *testing.T, ctx context.Context, node, script string, args ...string) nodeProc {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, append([]string{script, "--exit-with-stdin"}, args...)...)
	cmd.Env = append(os.Environ(), "APOLLO_TELEMETRY_DISABLED=true", "NODE_ENV=test")
	cmd.WaitDelay = 5 * time.Second
	// The child stops when this pipe closes, so it cannot outlive the test
	// binary even if the binary is killed before its cleanups run.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = stdinR
	ready := make(chan string, 1)
	stdout := &readyWriter{ready: ready}
	stderr := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Start()
	stdinR.Close()
	if err != nil {
		stdinW.Close()
		t.Fatalf("start %s: %v", script, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// t.Context() is cancelled before cleanups run: the process is being
		// killed; reap it.
		_ = cmd.Process.Kill()
		<-exited
		stdinW.Close()
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", script, stdout.String(), script, stderr.String())
		}
	})
	select {
	case url := <-ready:
		return nodeProc{url: url}
	case err := <-exited:
		exited <- err
		t.Fatalf("%s exited before it was ready (%v):\n%s", script, err, stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s not ready after 20s:\n%s", script, stderr.String())
	}
	return nodeProc{}
}

// runNode runs a script of this directory to completion and returns its
// stderr (the supergraph goes to --out).
func runNode(ctx context.Context, node, script string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// waitGraphQL polls `{ __typename }` until the server answers 200 (bounded).
func waitGraphQL(t *testing.T, url string) {
	t.Helper()
	var last error
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s does not answer: %v", url, last)
}

// readyWriter keeps a process's stdout and reports the URL of its first
// "READY <url>" line.
type readyWriter struct {
	lockedBuffer
	ready chan string
	line  []byte
	sent  bool
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.sent {
		return len(p), nil
	}
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		line := string(w.line[:i])
		w.line = w.line[i+1:]
		if url, ok := strings.CutPrefix(line, "READY "); ok {
			w.sent = true
			w.ready <- strings.TrimSpace(url)
			break
		}
	}
	return len(p), nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---------------------------------------------------------------- the hub

type hub struct {
	url string // GraphQL endpoint
	cfg config.Config
}

func startHub(t *testing.T, ctx context.Context) hub { return startHubEnv(t, ctx, nil) }

var (
	seedOnce sync.Once
	seedErr  error
)

// startHubEnv starts a hub on the seeded test database whose configuration
// adds the given variables.
func startHubEnv(t *testing.T, ctx context.Context, extra map[string]string) hub {
	t.Helper()
	pool := env.Pool(t)
	seedOnce.Do(func() {
		_, seedErr = seed.Run(ctx, pool, seed.Options{Seed: 7, Cases: 300, Now: seedNow, Calendar: calendar.Default()}, nil)
	})
	if seedErr != nil {
		t.Fatalf("seed: %v", seedErr)
	}
	cfg, err := config.Load(func(k string) string {
		if v, ok := extra[k]; ok {
			return v
		}
		switch k {
		case "DATABASE_URL":
			return env.DatabaseURL
		case "REDIS_URL":
			return env.RedisURL
		case "REDIS_PREFIX":
			return env.RedisPrefix
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.WithoutCancel(ctx), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{
		Now: func() time.Time { return seedNow },
	})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return hub{url: srv.URL + "/query", cfg: cfg}
}

func (h hub) token(t *testing.T, dept string, roles ...string) string {
	t.Helper()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "federation-test", Dept: dept, Roles: roles}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ---------------------------------------------------------------- GraphQL over HTTP

type response struct {
	status int
	raw    []byte
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, url, token, query string, vars map[string]any) response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("POST %s: %d %s: %v", url, resp.StatusCode, raw, err)
	}
	return r
}

func (r response) noErrors(t *testing.T, what string) {
	t.Helper()
	if r.status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("%s: status %d: %s", what, r.status, r.raw)
	}
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode %s: %v", r.Data, err)
	}
}

// findObjects returns every JSON object in raw's data that has the key.
func findObjects(raw []byte, key string) []map[string]any {
	var v struct {
		Data any `json:"data"`
	}
	_ = json.Unmarshal(raw, &v)
	var out []map[string]any
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if _, ok := x[key]; ok {
				out = append(out, x)
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v.Data)
	return out
}

// findStrings returns the non-null string values of key anywhere in raw's data.
func findStrings(raw []byte, key string) []string {
	var out []string
	for _, o := range findObjects(raw, key) {
		if s, ok := o[key].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// stripWater removes the water department's fields from a query, for the
// same query straight to the hub.
func stripWater(q string) string {
	for _, s := range []string{"floodPoints { name maxDepthCm }", "floodPoints { name }", "nearbyFloodRisk"} {
		q = strings.ReplaceAll(q, s, "")
	}
	return q
}

// ---------------------------------------------------------------- the water subgraph's data (water-schema.mjs)

var risks = []string{"LOW", "MEDIUM", "HIGH"}

func hash32(s string) uint32 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint32(sum[:4])
}

func riskOf(prefix, key string) string { return risks[hash32(prefix+key)%3] }

func floodPointNames(code string) []string {
	n := 1 + int(hash32("jurisdiction:"+code)%3)
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s flood point %d", code, i+1)
	}
	return out
}

func names(fps []struct{ Name string }) []string {
	var out []string
	for _, fp := range fps {
		out = append(out, fp.Name)
	}
	return out
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// ---------------------------------------------------------------- the hub's SDL

// objectDefs returns the definitions and extensions of an object type.
func objectDefs(doc *ast.SchemaDocument, name string) []*ast.Definition {
	var out []*ast.Definition
	for _, list := range []ast.DefinitionList{doc.Definitions, doc.Extensions} {
		for _, d := range list {
			if d.Kind == ast.Object && d.Name == name {
				out = append(out, d)
			}
		}
	}
	return out
}

func hasObjectType(doc *ast.SchemaDocument, name string) bool {
	return len(objectDefs(doc, name)) > 0
}

// propertyKey is the field of Property's first single-field @key ("id" by
// default), as water-schema.mjs reads it.
func propertyKey(doc *ast.SchemaDocument) string {
	for _, d := range objectDefs(doc, "Property") {
		for _, dir := range d.Directives.ForNames("key") {
			if a := dir.Arguments.ForName("fields"); a != nil && a.Value != nil {
				if f := strings.TrimSpace(a.Value.Raw); f != "" && !strings.ContainsAny(f, " {") {
					return f
				}
			}
		}
	}
	return "id"
}

// pathTo builds the selection of the shortest path from a Query field to a
// field of type target, through fields without required arguments (list
// fields with a `first` argument get first: 2), ending in leaf.
func pathTo(doc *ast.SchemaDocument, target, leaf string) (string, bool) {
	type step struct {
		typ string
		sel func(inner string) string
	}
	queue := []step{{"Query", func(inner string) string { return inner }}}
	seen := map[string]bool{"Query": true}
	for depth := 0; depth < 5 && len(queue) > 0; depth++ {
		var next []step
		for _, s := range queue {
			for _, d := range objectDefs(doc, s.typ) {
				for _, f := range d.Fields {
					if strings.HasPrefix(f.Name, "_") || !callable(f) {
						continue
					}
					field := f.Name
					if f.Arguments.ForName("first") != nil {
						field += "(first: 2)"
					}
					outer := s.sel
					wrap := func(inner string) string { return outer(field + " { " + inner + " }") }
					name := namedType(f.Type)
					if name == target {
						return wrap(leaf), true
					}
					if !seen[name] && hasObjectType(doc, name) {
						seen[name] = true
						next = append(next, step{name, wrap})
					}
				}
			}
		}
		queue = next
	}
	return "", false
}

func callable(f *ast.FieldDefinition) bool {
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			return false
		}
	}
	return true
}

func namedType(t *ast.Type) string {
	for t.Elem != nil {
		t = t.Elem
	}
	return t.NamedType
}

// relayPageInfo is the standard Relay PageInfo both subgraphs define.
type relayPageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       *string
}
