package audit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// migrationUp is the Up section of the audit migration, the single source of
// the table's DDL.
var migrationUp = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("../postgres/migrations/00030_audit.sql")
	if err != nil {
		return "", err
	}
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok {
		return "", fmt.Errorf("00030_audit.sql has no Down section")
	}
	return up, nil
})

// newSchema returns a pool on a fresh schema and its name. The chain is
// global to a table, and every test commits, so each test gets its own
// schema; withTable says whether to create audit_log there already.
func newSchema(tb testing.TB, withTable bool) (*pgxpool.Pool, string) {
	tb.Helper()
	_, name := env.Schema(tb)
	// Not env.Schema's pool: its search_path falls back to public, where
	// the package database's own audit_log would catch every write.
	pool := openSchema(tb, name)
	if withTable {
		createTable(tb, pool)
	}
	return pool, name
}

// createTable runs the migration's Up section in the pool's schema (the
// first on its search_path).
func createTable(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	up, err := migrationUp()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), up); err != nil {
		tb.Fatalf("create audit_log: %v", err)
	}
}

// openSchema opens a pool whose search_path is schema name alone; a second
// one is what a second hub instance would have.
func openSchema(tb testing.TB, name string) *pgxpool.Pool {
	tb.Helper()
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	pool, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: u.String(), MaxConns: 4})
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func ctxT(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// sample returns a plausible record numbered i.
func sample(i int) Record {
	depts := []string{"planning", "housing", "traffic-police"}
	return Record{
		At:          time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Subject:     fmt.Sprintf("user-%d", i%7),
		Dept:        depts[i%len(depts)],
		Roles:       []string{"officer", "viewer"},
		Purpose:     "违法建设核查",
		GrantID:     fmt.Sprintf("grant-%d", i%3),
		Dataset:     "violation",
		FieldGroups: []string{"basic", "party"},
		RowCount:    i % 50,
		Operation:   "ViolationList",
		RequestID:   fmt.Sprintf("req-%06d", i),
	}
}

// seed writes n sample records through a Writer.
func seed(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	ctx := ctxT(tb)
	w := NewWriter(pool, Options{})
	for i := range n {
		if err := w.Log(ctx, sample(i)); err != nil {
			tb.Fatalf("log: %v", err)
		}
	}
	if err := w.Close(ctx); err != nil {
		tb.Fatalf("close: %v", err)
	}
}

func countRows(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM audit_log").Scan(&n); err != nil {
		tb.Fatalf("count: %v", err)
	}
	return n
}

func verifyOK(tb testing.TB, pool *pgxpool.Pool, want int64) {
	tb.Helper()
	rep, err := Verify(ctxT(tb), pool, VerifyOptions{})
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	if !rep.OK || rep.Checked != want || rep.ProblemCount != 0 {
		tb.Fatalf("verify: OK=%v checked=%d (want %d) problems=%d %+v", rep.OK, rep.Checked, want, rep.ProblemCount, rep.Problems)
	}
	if want > 0 && rep.LastSeq != want {
		tb.Fatalf("verify: last seq %d, want %d", rep.LastSeq, want)
	}
}
