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

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newService(pool *pgxpool.Pool, d *access.Decision, clk *clock) *cases.Service {
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	return cases.NewService(cases.Config{Store: postgres.NewCaseStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{d}, Calendar: calendar.Default(), Now: now})
}

func as(ctx context.Context, dept string, roles ...string) context.Context {
	return access.WithPrincipal(ctx, &access.Principal{Kind: access.KindUser, Subject: "u-" + dept, Dept: dept, Roles: roles, Jurisdiction: "hailing"})
}
