package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/jackc/pgx/v5"
)

var env testenv.Env

func TestMain(m *testing.M) {
	if os.Getenv(childHubEnv) != "" {
		// Re-executed by startChildHub: this process is a hub, not a test run.
		os.Exit(runChildHub())
	}
	os.Exit(testenv.Main(m, &env))
}

// seedNow fixes the demo data's "now" so tests are deterministic.
var seedNow = time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC)

var seedOnce sync.Once

// hub is a running hub on a real HTTP listener, with a statement recorder.
type hub struct {
	t     testing.TB
	app   *app.App
	srv   *httptest.Server
	cfg   config.Config
	stmts *stmtRecorder
}

func newHub(t testing.TB) *hub {
	t.Helper()
	return newHubEnv(t, nil)
}

// newHubEnv is newHub with extra environment settings; adjust, when given,
// changes the options (each test's own tracer provider, say).
func newHubEnv(t testing.TB, extra map[string]string, adjust ...func(*app.Options)) *hub {
	t.Helper()
	testenv.SkipShort(t)
	ctx := context.Background()
	var seedErr error
	seedOnce.Do(func() {
		pool := env.Pool(t)
		_, seedErr = seed.All(ctx, pool, seed.Options{Seed: 7, Cases: 20_000, Now: seedNow, Calendar: calendar.Default()}, nil)
		if seedErr == nil {
			_, seedErr = app.RebuildIndicators(ctx, pool, func() time.Time { return seedNow }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		}
	})
	if seedErr != nil {
		t.Fatalf("seed: %v", seedErr)
	}
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return env.DatabaseURL
		case "REDIS_URL":
			return env.RedisURL
		case "REDIS_PREFIX":
			return env.RedisPrefix
		case "MAX_BODY_BYTES":
			return "65536"
		}
		return extra[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &stmtRecorder{}
	opts := app.Options{
		Now: func() time.Time { return seedNow }, Tracer: postgres.PoolConfig{Tracer: rec},
	}
	for _, f := range adjust {
		f(&opts)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), opts)
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg, stmts: rec}
}

func (h *hub) token(dept string, roles ...string) string {
	h.t.Helper()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "tester", Dept: dept, Roles: roles}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// evaluatorToken is a token of the demo evaluation organisation's
// evaluator (an organisation, not a department: no dept claim).
func (h *hub) evaluatorToken() string {
	h.t.Helper()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "tester", Org: seed.EvaluationOrg,
		Roles: []string{"evaluator"}}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

type gqlResponse struct {
	Status int
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
}

func (r gqlResponse) code(i int) string {
	if i >= len(r.Errors) {
		return ""
	}
	c, _ := r.Errors[i].Extensions["code"].(string)
	return c
}

func (h *hub) do(token, query string, vars map[string]any) gqlResponse {
	h.t.Helper()
	status, raw := h.post(token, query, vars, nil)
	var out gqlResponse
	out.Status = status
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("decode %d %s: %v", status, raw, err)
	}
	return out
}

// post sends one GraphQL request with the caller's token and extra
// headers, and returns the status and the body.
func (h *hub) post(token, query string, vars map[string]any, header http.Header) (int, []byte) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// stmtRecorder counts and keeps the SQL statements the hub runs for HTTP
// requests. Background work (the indicator refresh, the event relays, the
// audit writer) runs on its own context and is left out: a refresh that
// happened to run between a test's reset and its count used to show up as
// a second statement of the request.
type stmtRecorder struct {
	mu    sync.Mutex
	stmts []recorded
}

type recorded struct {
	SQL  string
	Args []any
}

func (s *stmtRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if server.RequestID(ctx) == "" {
		return ctx
	}
	s.mu.Lock()
	s.stmts = append(s.stmts, recorded{d.SQL, d.Args})
	s.mu.Unlock()
	return ctx
}

func (s *stmtRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *stmtRecorder) reset() {
	s.mu.Lock()
	s.stmts = nil
	s.mu.Unlock()
}

func (s *stmtRecorder) find(substr string) []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []recorded
	for _, r := range s.stmts {
		if strings.Contains(r.SQL, substr) {
			out = append(out, r)
		}
	}
	return out
}

// countReads counts the statements a request ran for its answer, leaving out
// the audit writer's (batched off the request path, so not the request's).
func (s *stmtRecorder) countReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.stmts {
		sql := strings.ToLower(strings.TrimSpace(r.SQL))
		if strings.Contains(sql, "audit_log") || strings.Contains(sql, "pg_advisory") || strings.Contains(sql, "api_keys") ||
			sql == "begin" || sql == "commit" || sql == "rollback" {
			continue
		}
		n++
	}
	return n
}
