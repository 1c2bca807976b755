package ingest_test

import (
	"context"
	"github.com/fengcheng/datahub/internal/loadbench"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/policies"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

var directoryOnce sync.Once

// setup returns a pool on the package database with the jurisdiction tree
// and departments loaded (once per package). The tests of this package
// compare database-wide figures (the outbox's last id, the sum of case
// versions) before and after an import, so they do not run in parallel.
func setup(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := env.Pool(tb)
	var err error
	directoryOnce.Do(func() { err = insertDirectory(context.Background(), pool) })
	if err != nil {
		tb.Fatalf("insert directory: %v", err)
	}
	return pool
}

func insertDirectory(ctx context.Context, pool *pgxpool.Pool) error {
	return postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return seed.Directory(ctx, tx) })
}

func catalog(tb testing.TB) *access.Catalog {
	tb.Helper()
	data, err := policies.FS.ReadFile("catalog.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := policy.ParseCatalog(data)
	if err != nil {
		tb.Fatal(err)
	}
	return cat
}

func newService(tb testing.TB, pool *pgxpool.Pool, cfg ingest.Config) *ingest.Service {
	tb.Helper()
	if cfg.Catalog == nil {
		cfg.Catalog = catalog(tb)
	}
	if cfg.Authorizer == nil {
		cfg.Authorizer = ownRows{}
	}
	return ingest.NewService(postgres.NewIngestStore(pool, postgres.IngestConfig{}), cfg)
}

// ownRows scopes every caller to its own department's rows, the scope of
// a department system (the access rules are tested with the real engine in
// internal/app).
type ownRows struct{}

func (ownRows) Decide(ctx context.Context, dataset string) (*access.Decision, error) {
	return &access.Decision{Dataset: dataset, Rows: access.RowScope{Depts: []string{access.PrincipalFrom(ctx).Dept}}}, nil
}

// as is a department system's context (fixture.AsService).
var as = fixture.AsService

// umSystem is the urban-management command centre's system, the provider
// of cases.
func umSystem() context.Context { return as(context.Background(), "urban-management", "system") }

// genCase writes the i-th generated case of a run as one NDJSON line.
// Every third case leaves its jurisdiction to be located.
func genCase(w io.Writer, prefix string, i int, rng *rand.Rand) {
	loadbench.WriteNewCase(w, prefix, i, rng)
}

func genNDJSON(prefix string, n int) string {
	var b strings.Builder
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range n {
		genCase(&b, prefix, i, rng)
	}
	return b.String()
}
