package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
)

// The case-list benchmarks run against a database prepared once with
// `make bench-db` (1,000,000 seeded cases); DATAHUB_BENCH_DATABASE_URL names
// it. Without it they fall back to the package's 20,000-case test database.
func benchApp(b *testing.B) *app.App {
	return benchAppWith(b, app.Options{})
}

func benchAppWith(b *testing.B, opts app.Options) *app.App {
	b.Helper()
	return benchAppEnv(b, opts, nil)
}

// benchAppEnv is benchAppWith with extra settings.
func benchAppEnv(b *testing.B, opts app.Options, extra map[string]string) *app.App {
	b.Helper()
	url := os.Getenv("DATAHUB_BENCH_DATABASE_URL")
	if url == "" {
		newHub(b) // make sure the small demo data exists
		url = env.DatabaseURL
	}
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return url
		case "REDIS_URL":
			return env.RedisURL
		case "REDIS_PREFIX":
			return env.RedisPrefix
		}
		return extra[k]
	})
	if err != nil {
		b.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	return a
}

// BenchmarkCaseListSQL is the SQL floor: 50 open cases of one street by
// deadline, through the store.
func BenchmarkCaseListSQL(b *testing.B) {
	a := benchApp(b)
	store := postgres.NewCaseStore(a.Pool)
	ctx := context.Background()
	open := true
	for _, tc := range []struct {
		name string
		skip cases.Parts
	}{
		{"whole", 0},
		{"s1-parts", cases.AllParts &^ cases.PartReporter}, // what the fast path reads for S1
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := cases.ListQuery{Filter: cases.Filter{Jurisdiction: "hailing.chengdong", Open: &open}, Order: cases.OrderDeadlineAsc,
				First: 50, Skip: tc.skip}
			b.ReportAllocs()
			for b.Loop() {
				list, _, err := store.List(ctx, access.RowScope{All: true}, q)
				if err != nil || len(list) == 0 || len(list) > 50 {
					b.Fatalf("%d %v", len(list), err)
				}
			}
		})
	}
}

const benchQuery = `{"query":"{ cases(filter: {jurisdiction: \"hailing.chengdong\", open: true}, orderBy: DEADLINE_ASC, first: 50) { edges { node { id caseNo status className deadline overdue address reporter { name phone } handlingDept { code name } } } } }"}`

// BenchmarkCaseListGraphQL is the same list through the whole HTTP stack:
// authentication, access decisions, field masking, GraphQL execution.
func BenchmarkCaseListGraphQL(b *testing.B) {
	for _, tc := range []struct {
		name  string
		dept  string
		roles []string
	}{
		{"dispatcher", "urban-management", []string{"officer", "dispatcher"}},
		{"housing-viewer-masked", "housing", []string{"viewer"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a := benchApp(b)
			before, audited := a.Access.Decisions(), a.Audit.Stats()
			runList(b, a, tc.dept, tc.roles)
			b.ReportMetric(float64(a.Access.Decisions()-before)/float64(b.N), "decisions/op")
			reportCommits(b, audited, a.Audit.Stats())
		})
	}
	// The audited caller again, each response's audit commit written at
	// once instead of waiting up to 1 ms for others to share it.
	b.Run("housing-viewer-masked-no-group-commit", func(b *testing.B) {
		a := benchAppEnv(b, app.Options{}, map[string]string{"AUDIT_FLUSH_LINGER": "0"})
		audited := a.Audit.Stats()
		runList(b, a, "housing", []string{"viewer"})
		reportCommits(b, audited, a.Audit.Stats())
	})
	// The audited caller again, its responses not waiting for their audit
	// commit: what is left is the CPU of deciding, masking and auditing.
	b.Run("housing-viewer-masked-async-audit", func(b *testing.B) {
		a := benchAppEnv(b, app.Options{}, map[string]string{"AUDIT_SYNC": "false"})
		runList(b, a, "housing", []string{"viewer"})
	})
	// The same query with access control and audit bypassed: every caller
	// sees everything, nothing is decided, masked or audited.
	b.Run("bypass", func(b *testing.B) {
		a := benchAppWith(b, app.Options{WrapDecider: func(app.Decider) app.Decider { return allowAll{} }})
		runList(b, a, "housing", []string{"viewer"})
	})
}

// reportCommits reports how many audit records and responses shared each
// audit commit (group commit).
func reportCommits(b *testing.B, before, after audit.Stats) {
	if commits := after.Commits - before.Commits; commits > 0 {
		b.ReportMetric(float64(after.Written-before.Written)/float64(commits), "records/commit")
		b.ReportMetric(float64(after.Flushes-before.Flushes)/float64(commits), "flushes/commit")
	}
}

func runList(b *testing.B, a *app.App, dept string, roles []string) {
	runQuery(b, a, dept, roles, benchQuery)
}

// allowAll is the bypass: one fixed decision for every dataset, under a
// dataset name the catalog does not know, so the auditor records nothing.
type allowAll struct{}

func (allowAll) Decide(context.Context, string) (*access.Decision, error) {
	return &access.Decision{Dataset: "bypass", Rows: access.RowScope{All: true},
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "workflow": access.FieldVisible, "reporter": access.FieldVisible},
		Actions: []string{"report", "command", "handle"}}, nil
}

// BenchmarkNestedPage is the nested page: 50 compounds, each with
// its first 5 violations and first 5 cases (with counts), through HTTP.
func BenchmarkNestedPage(b *testing.B) {
	a := benchApp(b)
	runQuery(b, a, "urban-management", []string{"officer", "dispatcher"},
		`{"query":"{ properties(first: 50) { edges { node { name management { company } violations(first: 5) { totalCount edges { node { recordNo status } } } cases(first: 5) { totalCount edges { node { caseNo status deadline } } } } } } }"}`)
}

// BenchmarkParkingNear is the citizen app's "open shared parking near me".
func BenchmarkParkingNear(b *testing.B) {
	a := benchApp(b)
	runQuery(b, a, "traffic-police", []string{"viewer"},
		`{"query":"{ parkingLotsNear(lat: 32.4901, lng: 119.9102, radiusMeters: 3000, openAt: \"2025-11-22T20:00:00+08:00\", first: 10) { distanceMeters openToPublic lot { name kind sharedSpaces freeSpaces { free } } } }"}`)
}

func runQuery(b *testing.B, a *app.App, dept string, roles []string, body string) {
	tok, _ := auth.MintDev(a.Config.DevSecret(), auth.DevClaims{Subject: "bench", Dept: dept, Roles: roles}, time.Hour)
	h := a.Handler()
	b.ReportAllocs()
	// 32 requests at once on 2 cores, as the load benchmark sends them: a
	// response that waits for its audit commit shares it with the others
	// waiting (AUDIT_SYNC), so ns/op is the cost per request under load,
	// not one commit's latency.
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/query", bytes.NewBufferString(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
				b.Fatalf("%d %s", rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
			}
		}
	})
}
