package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newMain(extra map[string]string) (*Main, *testenv.SyncBuffer) {
	out := &testenv.SyncBuffer{}
	vars := map[string]string{"DATABASE_URL": env.DatabaseURL, "REDIS_URL": env.RedisURL, "REDIS_PREFIX": env.RedisPrefix}
	for k, v := range extra {
		vars[k] = v
	}
	return &Main{Stdout: out, Stderr: &testenv.SyncBuffer{}, Getenv: func(k string) string { return vars[k] }}, out
}

// TestServeGracefulShutdown starts `datahub serve`, keeps a request in
// flight, cancels (as SIGTERM does) and checks that the request completes
// and serve returns nil (exit status 0).
func TestServeGracefulShutdown(t *testing.T) {
	testenv.SkipShort(t)
	addr := freeAddr(t)
	m, out := newMain(map[string]string{"LISTEN_ADDR": addr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, []string{"serve"}) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "is running") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "DEVELOPMENT mode") || !strings.Contains(out.String(), "anyone can mint") {
		t.Errorf("the welcome text does not say development keys are accepted:\n%s", out.String())
	}
	// A slow in-flight request: pg_sleep through a GraphQL query is not
	// available, so hold the body open instead: the server is reading it
	// when shutdown begins.
	pr, pw := io.Pipe()
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/query", "application/json", pr)
		if err != nil {
			t.Error(err)
			respc <- nil
			return
		}
		respc <- resp
	}()
	_, _ = pw.Write([]byte(`{"query":"{ de`))
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	_, _ = pw.Write([]byte(`partments { code } }"}`))
	_ = pw.Close()
	resp := <-respc
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("in-flight request: %+v", resp)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	// New connections are refused after shutdown.
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// TestServeDevelopmentRefusesNetworkAddress: `serve` without DATAHUB_MODE
// runs in development mode, whose tokens anyone can mint, so it refuses to
// listen where other machines reach it, before it opens anything.
func TestServeDevelopmentRefusesNetworkAddress(t *testing.T) {
	for _, args := range [][]string{{"serve", "--listen", "0.0.0.0:0"}, {"serve", "--listen", ":0"}, {"serve", "--listen", "192.168.1.20:8080"}} {
		m, out := newMain(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := m.Run(ctx, args)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "DATAHUB_MODE=production") {
			t.Fatalf("%v: %v", args, err)
		}
		if out.String() != "" {
			t.Fatalf("%v printed %q", args, out.String())
		}
	}
}

func TestTokenRefusedInProduction(t *testing.T) {
	m, _ := newMain(map[string]string{"DATAHUB_MODE": "production", "JWT_PUBLIC_KEYS": "/nonexistent.pem"})
	err := m.Run(context.Background(), []string{"token", "--sub", "a", "--dept", "housing", "--roles", "viewer"})
	if err == nil || !strings.Contains(err.Error(), "production") {
		t.Fatalf("token in production: %v", err)
	}
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"token", "--sub", "a", "--dept", "housing", "--roles", "viewer"}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), ".") != 2 {
		t.Fatalf("not a JWT: %q", out.String())
	}
}

// TestTokenRefusesUnknownNames: `datahub token` mints nothing for a
// department, role or jurisdiction that does not exist, and says which
// departments and roles there are. It needs no database.
func TestTokenRefusesUnknownNames(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		mentions []string
	}{
		{"unknown department", []string{"--dept", "nosuch", "--roles", "viewer"}, []string{`"nosuch"`, "urban-management", "town-suchen"}},
		{"unknown role", []string{"--dept", "housing", "--roles", "viewer,superuser"}, []string{`"superuser"`, "officer", "street-officer", "evaluator"}},
		{"abstract role", []string{"--dept", "housing", "--roles", "staff"}, []string{`"staff"`}},
		{"unknown jurisdiction", []string{"--dept", "housing", "--roles", "viewer", "--jurisdiction", "hailing.nowhere"}, []string{`"hailing.nowhere"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out := newMain(map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
			err := m.Run(context.Background(), append([]string{"token", "--sub", "a"}, tt.args...))
			if err == nil {
				t.Fatalf("minted %q", out.String())
			}
			for _, want := range tt.mentions {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not mention %s", err, want)
				}
			}
			if out.String() != "" {
				t.Errorf("printed %q", out.String())
			}
		})
	}
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"token", "--sub", "a", "--dept", "street-chengdong", "--roles", "grid-worker",
		"--jurisdiction", "hailing.chengdong"}); err != nil || strings.Count(out.String(), ".") != 2 {
		t.Fatalf("a known department, role and jurisdiction: %q %v", out.String(), err)
	}
}

// TestTokenJurisdictionStaysInTheDepartmentsArea: `datahub token` never
// gives a field role the whole district by default, defaults a desk role
// to its department's own area, and refuses a jurisdiction outside it.
func TestTokenJurisdictionStaysInTheDepartmentsArea(t *testing.T) {
	mint := func(args ...string) (string, error) {
		m, out := newMain(map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
		err := m.Run(context.Background(), append([]string{"token", "--sub", "a"}, args...))
		return strings.TrimSpace(out.String()), err
	}
	jurOf := func(tok string) string {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Jur string }
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		return c.Jur
	}
	for _, tc := range []struct {
		args []string
		jur  string
	}{
		{[]string{"--dept", "street-chengdong", "--roles", "viewer"}, "hailing.chengdong"},
		{[]string{"--dept", "town-jiulong", "--roles", "admin,officer"}, "hailing.jiulong"},
		{[]string{"--dept", "housing", "--roles", "viewer"}, "hailing"},
		{[]string{"--dept", "housing", "--roles", "officer", "--jurisdiction", "hailing.chengxi"}, "hailing.chengxi"},
		{[]string{"--dept", "street-chengdong", "--roles", "grid-worker", "--jurisdiction", "hailing.chengdong.fenghuang"}, "hailing.chengdong.fenghuang"},
	} {
		tok, err := mint(tc.args...)
		if err != nil || jurOf(tok) != tc.jur {
			t.Errorf("%v: jur %q, %v; want %q", tc.args, tok, err, tc.jur)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dept", "street-chengdong", "--roles", "grid-worker"}, "give --jurisdiction"},
		{[]string{"--dept", "urban-management", "--roles", "street-officer"}, "give --jurisdiction"},
		{[]string{"--dept", "street-chengdong", "--roles", "officer", "--jurisdiction", "hailing"}, "outside street-chengdong's area"},
		{[]string{"--dept", "street-chengdong", "--roles", "grid-worker", "--jurisdiction", "hailing.chengxi.jichuan"}, "outside street-chengdong's area"},
	} {
		tok, err := mint(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %q, %v; want an error saying %q", tc.args, tok, err, tc.want)
		}
	}
}

// TestAPIKeyCreateRefusesUnknownNames: `datahub apikey create` stores no
// key for a department, role or jurisdiction that does not exist, and says
// which departments and roles there are.
func TestAPIKeyCreateRefusesUnknownNames(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	seedDemo(t)
	const name = "unknown names test"
	tests := []struct {
		name     string
		args     []string
		mentions []string
	}{
		{"unknown department", []string{"--dept", "nosuch", "--roles", "viewer"}, []string{"BAD_USER_INPUT", `"nosuch"`, "urban-management", "town-suchen"}},
		{"unknown role", []string{"--dept", "housing", "--roles", "superuser"}, []string{"BAD_USER_INPUT", `"superuser"`, "officer", "citizen-app"}},
		{"unknown jurisdiction", []string{"--dept", "housing", "--roles", "viewer", "--jurisdiction", "hailing.nowhere"}, []string{"BAD_USER_INPUT", `"hailing.nowhere"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, out := newMain(nil)
			err := m.Run(ctx, append([]string{"apikey", "create", "--name", name}, tt.args...))
			if err == nil {
				t.Fatalf("created %q", out.String())
			}
			for _, want := range tt.mentions {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not mention %s", err, want)
				}
			}
		})
	}
	m, out := newMain(nil)
	if err := m.Run(ctx, []string{"apikey", "list"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), name) {
		t.Fatalf("a refused key was stored:\n%s", out.String())
	}
}

func TestMigrateIdempotent(t *testing.T) {
	testenv.SkipShort(t)
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"migrate"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "migrations applied: 0") {
		t.Fatalf("second migrate applied something: %q", out.String())
	}
}

// TestSchemaPrintClient: --client prints a schema with no extensions and
// the Federation directives declared, which a plain GraphQL parser loads.
func TestSchemaPrintClient(t *testing.T) {
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"schema", "print", "--client"}); err != nil {
		t.Fatal(err)
	}
	sdl := out.String()
	for _, bad := range []string{"extend schema", "extend type", "@link("} {
		if strings.Contains(sdl, bad) {
			t.Errorf("client schema holds %q", bad)
		}
	}
	for _, want := range []string{"directive @key(", "type Query {", "interface Node", "\tnode(", "\tnodes(", "hasPreviousPage: Boolean!"} {
		if !strings.Contains(sdl, want) {
			t.Errorf("client schema lacks %q", want)
		}
	}
	if _, err := gqlparser.LoadSchema(&ast.Source{Name: "client.graphql", Input: sdl}); err != nil {
		t.Fatalf("the client schema does not load: %v", err)
	}
}

func TestSchemaPrintMatchesService(t *testing.T) {
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"schema", "print"}); err != nil {
		t.Fatal(err)
	}
	sdl := out.String()
	for _, want := range []string{`@link(`, `type Case @key(fields: "id")`, `type Jurisdiction @key(fields: "code")`, `type Department @key(fields: "code")`} {
		if !strings.Contains(sdl, want) {
			t.Errorf("SDL lacks %s", want)
		}
	}
}

// TestShutdownUnderLoadKeepsEveryAuditRecord: planning staff read cases
// (cross-department reads, each audited) from several clients while the
// hub is told to stop; every read that was answered has its audit record.
func TestShutdownUnderLoadKeepsEveryAuditRecord(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	seedDemo(t)
	addr := freeAddr(t)
	m, out := newMain(map[string]string{"LISTEN_ADDR": addr})
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(sctx, []string{"serve"}) }()
	for !strings.Contains(out.String(), "is running") {
		time.Sleep(20 * time.Millisecond)
	}
	tokM, tokOut := newMain(nil)
	if err := tokM.Run(ctx, []string{"token", "--sub", "load", "--dept", "planning", "--roles", "viewer"}); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(tokOut.String())
	var answered sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	client := &http.Client{Timeout: 10 * time.Second}
	for range 6 {
		answered.Add(1)
		go func() {
			defer answered.Done()
			for {
				req, _ := http.NewRequest("POST", "http://"+addr+"/query",
					strings.NewReader(`{"query":"query LoadTest { cases(first: 5) { edges { node { id } } } }"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"errors"`) {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	answered.Wait()
	if ok == 0 {
		t.Fatal("no request was answered")
	}
	var logged int
	checkM, _ := newMain(nil)
	pool, err := checkM.openPool(ctx, newFlagSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE dept = 'planning' AND operation = 'LoadTest'`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != ok {
		t.Fatalf("%d reads answered, %d audit records", ok, logged)
	}
	t.Logf("%d audited reads survived shutdown", ok)
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }

// TestReadmeMatrixIsCurrent keeps the README's policy matrix equal to what
// `datahub policy matrix` prints (headings one level deeper).
func TestReadmeMatrixIsCurrent(t *testing.T) {
	m, out := newMain(nil)
	if err := m.Run(context.Background(), []string{"policy", "matrix"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			l = "#" + l
		}
		want = append(want, l)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start, end = "<!-- policy-matrix:start -->\n", "\n<!-- policy-matrix:end -->"
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the policy-matrix markers")
	}
	if got := s[i+len(start) : j]; got != strings.Join(want, "\n") {
		t.Fatal("README.md's policy matrix is stale: replace the text between the markers with `datahub policy matrix` (headings demoted one level)")
	}
}

// TestExportResumes: `datahub export` writes a snapshot that matches its
// manifest, and continues a partial file where it stopped.
func TestExportResumes(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	seedDemo(t)
	// The evaluation team is its own organisation, registered with its
	// contract; its key names the organisation, not a department.
	orgM, orgOut := newMain(nil)
	if err := orgM.Run(ctx, []string{"evalorg", "register", "--code", "cli-assessors", "--name", "命令行评估所", "--contract", "CLI-1",
		"--from", "2020-01-01", "--to", "2100-01-01", "--datasets", "cases,violations"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(orgOut.String(), "registered cli-assessors") {
		t.Fatalf("evalorg register: %q", orgOut.String())
	}
	if m, _ := newMain(nil); m.Run(ctx, []string{"apikey", "create", "--name", "eval team", "--dept", "urban-management", "--roles", "evaluator"}) == nil {
		t.Fatal("an evaluator key of a department was created")
	}
	keyM, keyOut := newMain(nil)
	if err := keyM.Run(ctx, []string{"apikey", "create", "--name", "eval team", "--org", "cli-assessors", "--roles", "evaluator"}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())
	cfgM, _ := newMain(nil)
	cfg, err := cfgM.loadConfig(newFlagSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p, err := auth.NewAPIKeys(a.Pool).Authenticate(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	man, err := a.Resolver.EvaluationService.CreateSnapshot(access.WithPrincipal(ctx, p), "cases", evaluation.SnapshotFilter{}, evaluation.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "snap.ndjson")
	run := func() {
		m, _ := newMain(map[string]string{"DATAHUB_API_KEY": key})
		if err := m.Run(ctx, []string{"export", "--snapshot", man.ID.String(), "--out", out}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	full, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(full); hex.EncodeToString(sum[:]) != man.NDJSON.SHA256 {
		t.Fatal("export does not match the manifest checksum")
	}
	if err := os.Truncate(out, int64(len(full)/2)); err != nil { // an interrupted download
		t.Fatal(err)
	}
	run()
	if again, _ := os.ReadFile(out); string(again) != string(full) {
		t.Fatal("the resumed export differs")
	}
	// The workbook and CSV with BOM too, resumed the same way: the command
	// sizes the partial file against that format's own length.
	for _, c := range []struct {
		args []string
		want string
	}{{[]string{"--format", "xlsx"}, man.XLSX.SHA256}, {[]string{"--format", "csv", "--bom"}, man.CSVBOM.SHA256}} {
		o := filepath.Join(t.TempDir(), "snap")
		exp := func() {
			m, _ := newMain(map[string]string{"DATAHUB_API_KEY": key})
			if err := m.Run(ctx, append([]string{"export", "--snapshot", man.ID.String(), "--out", o}, c.args...)); err != nil {
				t.Fatal(err)
			}
		}
		exp()
		b, _ := os.ReadFile(o)
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != c.want {
			t.Fatalf("export %v does not match the manifest", c.args)
		}
		if err := os.Truncate(o, int64(len(b)*2/3)); err != nil {
			t.Fatal(err)
		}
		exp()
		if again, _ := os.ReadFile(o); string(again) != string(b) {
			t.Fatalf("the resumed export %v differs", c.args)
		}
	}
}

// TestImportCommand: `datahub import` loads a file with a department
// system's API key and prints the report; the same file again changes
// nothing; a file with a bad row in the default mode writes nothing and
// fails.
func TestImportCommand(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	seedDemo(t)
	keyM, keyOut := newMain(nil)
	if err := keyM.Run(ctx, []string{"apikey", "create", "--name", "drone platform", "--dept", "urban-management", "--roles", "system"}); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(keyOut.String())
	dir := t.TempDir()
	line := func(id, extra string) string {
		return fmt.Sprintf(`{"externalId":"cli-%s","kind":"EVENT","minorCode":"0501","source":"DRONE_PATROL","description":"无人机巡查发现占道经营","lat":32.47,"lng":119.93%s}`+"\n", id, extra)
	}
	good := filepath.Join(dir, "good.ndjson")
	body := line("1", `,"jurisdiction":"hailing.chengdong"`) + line("2", "") + line("3", "")
	if err := os.WriteFile(good, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (*ingest.Report, error) {
		m, out := newMain(map[string]string{"DATAHUB_API_KEY": key})
		err := m.Run(ctx, append([]string{"import"}, args...))
		var rep ingest.Report
		if out.String() != "" {
			if jerr := json.Unmarshal([]byte(out.String()), &rep); jerr != nil {
				t.Fatalf("report: %v\n%s", jerr, out.String())
			}
		}
		return &rep, err
	}
	rep, err := run("--dataset", "cases", good)
	if err != nil || rep.Inserted != 3 || !rep.Committed {
		t.Fatalf("first import: %+v %v", rep, err)
	}
	rep, err = run(good)
	if err != nil || rep.Unchanged != 3 || rep.Inserted+rep.Updated != 0 {
		t.Fatalf("the same file again: %+v %v", rep, err)
	}
	bad := filepath.Join(dir, "bad.ndjson")
	if err := os.WriteFile(bad, []byte(line("4", "")+line("5", `,"jurisdiction":"nowhere"`)), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = run(bad)
	if err == nil || rep.Committed || rep.Rejected != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 2 {
		t.Fatalf("a bad row in all-or-nothing mode: %+v %v", rep, err)
	}
	rep, err = run("--mode", "skip-invalid", bad)
	if err != nil || rep.Inserted != 1 || rep.Rejected != 1 {
		t.Fatalf("skip-invalid: %+v %v", rep, err)
	}
}

// TestEveryCommandHelps: --help on any command prints its flags and does
// nothing else (no flag defined twice, nothing run).
func TestEveryCommandHelps(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"seed"}, {"token"}, {"schema", "print"}, {"apikey", "create"},
		{"apikey", "list"}, {"apikey", "revoke"}, {"policy", "matrix"}, {"audit", "verify"}, {"export"}, {"import"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			m, out := newMain(map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
			err := m.Run(context.Background(), append(cmd, "--help"))
			if !errors.Is(err, errUsage) {
				t.Fatalf("err %v, want the usage error", err)
			}
			if stderr := m.Stderr.(*testenv.SyncBuffer).String(); !strings.Contains(stderr, "Usage of") || out.String() != "" {
				t.Fatalf("stderr %q, stdout %q", stderr, out.String())
			}
		})
	}
}

// seedDemo seeds the package's database with a small demo data set, once.
func seedDemo(t *testing.T) {
	t.Helper()
	m, _ := newMain(nil)
	if err := m.Run(context.Background(), []string{"seed", "--cases", "2000", "--if-empty"}); err != nil {
		t.Fatal(err)
	}
}

// TestSeedBuildsIndicators: `datahub seed` leaves the indicator rollups
// current, so the first hub to start serves instead of rebuilding them.
func TestSeedBuildsIndicators(t *testing.T) {
	testenv.SkipShort(t)
	ctx := context.Background()
	seedDemo(t)
	m, _ := newMain(nil)
	pool, err := m.openPool(ctx, newFlagSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st, err := app.RefreshIndicators(ctx, pool, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if st.Rebuilt {
		t.Fatalf("the indicators were rebuilt after seeding (%d cases): seed left them stale", st.Cases)
	}
}
