package postgres_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
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
// and departments loaded (once per package).
func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := env.Pool(t)
	var err error
	directoryOnce.Do(func() { err = insertDirectory(context.Background(), pool) })
	if err != nil {
		t.Fatalf("insert directory: %v", err)
	}
	return pool
}

func insertDirectory(ctx context.Context, pool *pgxpool.Pool) error {
	return postgres.InTx(ctx, pool, func(tx pgx.Tx) error { return seed.Directory(ctx, tx) })
}

// fixedAuth grants one decision to every caller: these tests exercise the
// store and the workflow; the policy engine has its own tests. A decision
// given without field groups reads its dataset's public and unconditional
// groups, as every real decision with rows does (lists refuse filters on
// groups a caller cannot read).
type fixedAuth struct{ d *access.Decision }

func (f fixedAuth) Decide(_ context.Context, dataset string) (*access.Decision, error) {
	if f.d == nil || f.d.Fields != nil || f.d.Rows.Empty() {
		return f.d, nil
	}
	d := *f.d
	d.Fields = map[string]access.FieldAccess{}
	if ds, ok := testCatalog.Dataset(dataset); ok {
		for _, g := range ds.Groups {
			if g.Class == access.ClassPublic || g.Class == access.ClassUnconditional {
				d.Fields[g.Name] = access.FieldVisible
			}
		}
	}
	return &d, nil
}

// testCatalog is the shipped catalog, for fixedAuth's default field groups.
var testCatalog = func() *access.Catalog {
	data, err := policies.FS.ReadFile("catalog.yaml")
	if err != nil {
		panic(err)
	}
	c, err := policy.ParseCatalog(data)
	if err != nil {
		panic(err)
	}
	return c
}()

func commandCentre() *access.Decision {
	return &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{All: true},
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "reporter": access.FieldVisible, "workflow": access.FieldVisible},
		Actions: []string{"report", "command", "handle"}}
}

// as is a staff member's context (fixture.As).
var as = fixture.As

func newService(pool *pgxpool.Pool, d *access.Decision, clk *fixture.Clock) *cases.Service {
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	return cases.NewService(cases.Config{Store: postgres.NewCaseStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{d}, Calendar: calendar.Default(), Now: now})
}
