package casbinpg_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/fengcheng/datahub/internal/policy/casbinpg"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// rbacWithDomains is Casbin's RBAC-with-domains model, the shape the hub's
// department-scoped policy takes.
const rbacWithDomains = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`

func newModel(t *testing.T) model.Model {
	t.Helper()
	m, err := model.NewModelFromString(rbacWithDomains)
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	return m
}

// bundle is what a test works with: an adapter on its own table (a copy of
// the migrated public.casbin_rules in a fresh schema, so tests that commit do
// not see each other) and a pool on that schema.
type bundle struct {
	pool    *pgxpool.Pool
	adapter *casbinpg.Adapter
}

func setup(t *testing.T) bundle {
	t.Helper()
	t.Parallel()
	pool, _ := env.Schema(t)
	// The copy keeps the migration's columns, defaults, checks and unique
	// index; unqualified names resolve to the test schema first.
	if _, err := pool.Exec(context.Background(), "CREATE TABLE casbin_rules (LIKE public.casbin_rules INCLUDING ALL)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	a, err := casbinpg.New(pool, casbinpg.Config{})
	if err != nil {
		t.Fatalf("new adapter: %v", err)
	}
	return bundle{pool: pool, adapter: a}
}

func (b bundle) enforcer(t *testing.T) *casbin.Enforcer {
	t.Helper()
	e, err := casbin.NewEnforcer(newModel(t), b.adapter)
	if err != nil {
		t.Fatalf("new enforcer: %v", err)
	}
	return e
}

// stored returns the table's rules in load order as "ptype,v0,...,v5".
func (b bundle) stored(t *testing.T) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), "SELECT concat_ws(',', ptype, v0, v1, v2, v3, v4, v5) FROM casbin_rules ORDER BY id")
	if err != nil {
		t.Fatalf("query rules: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return out
}

// assertSynced checks that a fresh enforcer loading from the table holds
// exactly the policy e holds in memory: the adapter did to the table what
// Casbin did to the model. Order is compared by the tests through stored:
// Casbin's model fills a removed rule's slot with its last rule, so only the
// table keeps insertion order.
func assertSynced(t *testing.T, b bundle, e *casbin.Enforcer) {
	t.Helper()
	fresh := b.enforcer(t)
	for _, get := range []func(*casbin.Enforcer) ([][]string, error){
		(*casbin.Enforcer).GetPolicy,
		(*casbin.Enforcer).GetGroupingPolicy,
	} {
		want, err := get(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := get(fresh)
		if err != nil {
			t.Fatal(err)
		}
		// GetPolicy hands out the model's own slice; sort a copy.
		want = slices.Clone(want)
		slices.SortFunc(want, slices.Compare)
		slices.SortFunc(got, slices.Compare)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("table holds %q, enforcer holds %q", got, want)
		}
	}
}

// mustOK checks a Casbin management call: mustOK(t)(e.AddPolicy(...)).
func mustOK(t *testing.T) func(bool, error) {
	t.Helper()
	return func(ok bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatal("casbin reported no change")
		}
	}
}

func check(t *testing.T, e *casbin.Enforcer, want bool, req ...any) {
	t.Helper()
	got, err := e.Enforce(req...)
	if err != nil {
		t.Fatalf("enforce %v: %v", req, err)
	}
	if got != want {
		t.Errorf("enforce %v = %v, want %v", req, got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	mustOK(t)(e.AddPolicy("officer", "urban", "cases", "read"))
	mustOK(t)(e.AddPolicy("officer", "urban", "cases", "write"))
	mustOK(t)(e.AddPolicy("viewer", "housing", "properties", "read"))
	mustOK(t)(e.AddGroupingPolicy("alice", "officer", "urban"))
	mustOK(t)(e.AddGroupingPolicy("bob", "viewer", "housing"))
	// A rule ending in an empty field keeps its length: the model, not the
	// table, says how many fields a "p" rule has.
	mustOK(t)(e.AddPolicy("auditor", "urban", "audit", ""))
	// Adding a rule twice is refused by Casbin and harmless to the table.
	if ok, err := e.AddPolicy("officer", "urban", "cases", "read"); err != nil || ok {
		t.Fatalf("second add = %v, %v", ok, err)
	}
	if err := b.adapter.AddPolicy("p", "p", []string{"officer", "urban", "cases", "read"}); err != nil {
		t.Fatalf("adapter add of a stored rule: %v", err)
	}

	fresh := b.enforcer(t)
	check(t, fresh, true, "alice", "urban", "cases", "read")
	check(t, fresh, true, "alice", "urban", "cases", "write")
	check(t, fresh, false, "alice", "housing", "properties", "read")
	check(t, fresh, true, "bob", "housing", "properties", "read")
	check(t, fresh, false, "bob", "urban", "cases", "read")
	check(t, fresh, true, "auditor", "urban", "audit", "")
	assertSynced(t, b, e)

	want := []string{
		"p,officer,urban,cases,read,,",
		"p,officer,urban,cases,write,,",
		"p,viewer,housing,properties,read,,",
		"g,alice,officer,urban,,,",
		"g,bob,viewer,housing,,,",
		"p,auditor,urban,audit,,,",
	}
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}
}

func TestRemove(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	_, err := e.AddPolicies([][]string{
		{"officer", "urban", "cases", "read"},
		{"officer", "urban", "cases", "write"},
		{"officer", "urban", "violations", "read"},
		{"officer", "traffic", "cases", "read"},
		{"viewer", "urban", "cases", "read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(e.AddGroupingPolicy("alice", "officer", "urban"))
	mustOK(t)(e.AddGroupingPolicy("alice", "officer", "traffic"))

	mustOK(t)(e.RemovePolicy("officer", "urban", "cases", "write"))
	check(t, b.enforcer(t), false, "alice", "urban", "cases", "write")
	// Removing a rule the table no longer has is not an adapter error.
	if err := b.adapter.RemovePolicy("p", "p", []string{"officer", "urban", "cases", "write"}); err != nil {
		t.Fatal(err)
	}
	assertSynced(t, b, e)

	// Filter on a middle field with a wildcard before it: every rule in
	// "urban" on "cases", whoever the subject.
	mustOK(t)(e.RemoveFilteredPolicy(0, "", "urban", "cases"))
	assertSynced(t, b, e)
	// Filter starting past field 0.
	mustOK(t)(e.RemoveFilteredGroupingPolicy(2, "traffic"))
	assertSynced(t, b, e)

	want := []string{
		"p,officer,urban,violations,read,,",
		"p,officer,traffic,cases,read,,",
		"g,alice,officer,urban,,,",
	}
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}
}

func TestRemoveFilteredPolicyOutOfRange(t *testing.T) {
	b := setup(t)
	for _, tc := range []struct {
		index  int
		values []string
	}{
		{-1, []string{"a"}},
		{6, []string{"a"}},
		{4, []string{"a", "b", "c"}},
	} {
		if err := b.adapter.RemoveFilteredPolicy("p", "p", tc.index, tc.values...); err == nil {
			t.Errorf("RemoveFilteredPolicy(%d, %q) succeeded", tc.index, tc.values)
		}
	}
}

func TestBatch(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	rules := [][]string{
		{"officer", "urban", "cases", "read"},
		{"officer", "urban", "cases", "write"},
		{"viewer", "urban", "cases", "read"},
	}
	mustOK(t)(e.AddPolicies(rules))
	mustOK(t)(e.AddGroupingPolicies([][]string{{"alice", "officer", "urban"}, {"bob", "viewer", "urban"}}))
	assertSynced(t, b, e)
	check(t, b.enforcer(t), true, "bob", "urban", "cases", "read")

	// The adapter stores a batch overlapping what is there (and itself)
	// without complaint, skipping the duplicates.
	err := b.adapter.AddPolicies("p", "p", [][]string{
		{"officer", "urban", "cases", "read"},
		{"clerk", "urban", "cases", "read"},
		{"clerk", "urban", "cases", "read"},
	})
	if err != nil {
		t.Fatalf("overlapping batch: %v", err)
	}
	if got := len(b.stored(t)); got != 6 {
		t.Errorf("%d rows after overlapping batch, want 6", got)
	}
	if err := b.adapter.RemovePolicies("p", "p", [][]string{{"clerk", "urban", "cases", "read"}}); err != nil {
		t.Fatal(err)
	}

	mustOK(t)(e.RemovePolicies(rules[:2]))
	assertSynced(t, b, e)
	check(t, b.enforcer(t), false, "alice", "urban", "cases", "read")

	// All or nothing: one rule too long refuses the whole batch.
	err = b.adapter.AddPolicies("p", "p", [][]string{{"x", "urban", "cases", "read"}, {"1", "2", "3", "4", "5", "6", "7"}})
	if !errors.Is(err, casbinpg.ErrRuleTooLong) {
		t.Fatalf("too-long batch: %v", err)
	}
	assertSynced(t, b, e)
	// Empty batches are no-ops.
	if err := b.adapter.AddPolicies("p", "p", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.adapter.RemovePolicies("p", "p", nil); err != nil {
		t.Fatal(err)
	}
}

func TestUpdate(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	mustOK(t)(e.AddPolicies([][]string{
		{"officer", "urban", "cases", "read"},
		{"officer", "urban", "cases", "write"},
		{"officer", "urban", "violations", "read"},
		{"viewer", "housing", "properties", "read"},
	}))
	mustOK(t)(e.AddGroupingPolicy("alice", "officer", "urban"))

	// In place: the rule keeps its position in the load order.
	mustOK(t)(e.UpdatePolicy([]string{"officer", "urban", "cases", "read"}, []string{"officer", "urban", "cases", "export"}))
	assertSynced(t, b, e)
	check(t, b.enforcer(t), true, "alice", "urban", "cases", "export")
	check(t, b.enforcer(t), false, "alice", "urban", "cases", "read")

	mustOK(t)(e.UpdatePolicies(
		[][]string{{"officer", "urban", "cases", "write"}, {"officer", "urban", "violations", "read"}},
		[][]string{{"officer", "urban", "cases", "close"}, {"officer", "urban", "violations", "write"}},
	))
	assertSynced(t, b, e)

	mustOK(t)(e.UpdateGroupingPolicy([]string{"alice", "officer", "urban"}, []string{"alice", "viewer", "housing"}))
	assertSynced(t, b, e)
	check(t, b.enforcer(t), true, "alice", "housing", "properties", "read")

	// Every officer rule in urban becomes one rule.
	mustOK(t)(e.UpdateFilteredPolicies([][]string{{"officer", "urban", "cases", "all"}}, 0, "officer", "urban"))
	assertSynced(t, b, e)

	want := []string{
		"p,viewer,housing,properties,read,,",
		"g,alice,viewer,housing,,,",
		"p,officer,urban,cases,all,,",
	}
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}

	// Updating to a rule the table already holds (behind the model's back)
	// leaves one copy of it, in the updated rule's place.
	if err := b.adapter.AddPolicy("p", "p", []string{"x", "d", "o", "a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.adapter.UpdatePolicy("p", "p", []string{"viewer", "housing", "properties", "read"}, []string{"x", "d", "o", "a"}); err != nil {
		t.Fatal(err)
	}
	if err := b.adapter.UpdatePolicy("p", "p", []string{"x", "d", "o", "a"}, []string{"x", "d", "o", "a"}); err != nil {
		t.Fatal(err)
	}
	want = []string{"p,x,d,o,a,,", "g,alice,viewer,housing,,,", "p,officer,urban,cases,all,,"}
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored\n%q\nwant\n%q", got, want)
	}
	if err := b.adapter.UpdatePolicies("p", "p", [][]string{{"a"}}, nil); err == nil {
		t.Error("UpdatePolicies with mismatched lengths succeeded")
	}
}

func TestUpdateFilteredPoliciesReturnsOldRules(t *testing.T) {
	b := setup(t)
	rules := [][]string{{"s", "d1", "o1", "a"}, {"s", "d2", "o1", "a"}, {"s", "d1", "o2", "a"}}
	if err := b.adapter.AddPolicies("p", "p", rules); err != nil {
		t.Fatal(err)
	}
	old, err := b.adapter.UpdateFilteredPolicies("p", "p", [][]string{{"s", "d1", "o3", "a"}}, 1, "d1")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{rules[0], rules[2]}
	if !slices.EqualFunc(old, want, slices.Equal) {
		t.Errorf("old rules %q, want %q", old, want)
	}
	if got, want := b.stored(t), []string{"p,s,d2,o1,a,,", "p,s,d1,o3,a,,"}; !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
}

func TestSavePolicy(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	mustOK(t)(e.AddPolicy("stale", "urban", "cases", "read"))

	m := newModel(t)
	for _, r := range [][]string{{"officer", "urban", "cases", "read"}, {"viewer", "urban", "cases", "read"}} {
		if err := m.AddPolicy("p", "p", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddPolicy("g", "g", []string{"alice", "officer", "urban"}); err != nil {
		t.Fatal(err)
	}
	if err := b.adapter.SavePolicy(m); err != nil {
		t.Fatal(err)
	}
	want := []string{"p,officer,urban,cases,read,,", "p,viewer,urban,cases,read,,", "g,alice,officer,urban,,,"}
	if got := b.stored(t); !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}

	// Through the enforcer, after in-memory-only changes.
	e = b.enforcer(t)
	e.EnableAutoSave(false)
	mustOK(t)(e.AddPolicy("clerk", "urban", "cases", "read"))
	mustOK(t)(e.RemovePolicy("viewer", "urban", "cases", "read"))
	e.EnableAutoSave(true)
	if err := e.SavePolicy(); err != nil {
		t.Fatal(err)
	}
	assertSynced(t, b, e)

	// Saving an empty model empties the table.
	if err := b.adapter.SavePolicy(newModel(t)); err != nil {
		t.Fatal(err)
	}
	if got := b.stored(t); len(got) != 0 {
		t.Errorf("stored %q after saving an empty model", got)
	}
}

func TestSavePolicyIsAtomic(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	e := b.enforcer(t)
	mustOK(t)(e.AddPolicies([][]string{{"officer", "urban", "cases", "read"}, {"viewer", "urban", "cases", "read"}}))
	before := b.stored(t)

	// The database refuses one rule of the new policy, after the old rows
	// have been deleted within the transaction; nothing must change.
	if _, err := b.pool.Exec(ctx, "ALTER TABLE casbin_rules ADD CONSTRAINT no_forbidden CHECK (v0 <> 'forbidden')"); err != nil {
		t.Fatal(err)
	}
	m := newModel(t)
	for _, r := range [][]string{{"clerk", "urban", "cases", "read"}, {"forbidden", "urban", "cases", "read"}} {
		if err := m.AddPolicy("p", "p", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.adapter.SavePolicy(m); err == nil {
		t.Fatal("save of a refused rule succeeded")
	}
	if got := b.stored(t); !slices.Equal(got, before) {
		t.Errorf("after a failed save: %q, want %q", got, before)
	}
}

func TestSavePolicyConcurrent(t *testing.T) {
	b := setup(t)
	// Two instances save different policies at once: the table ends up
	// holding exactly one of them, never a union or an error.
	models := make([]model.Model, 2)
	for i := range models {
		models[i] = newModel(t)
		for j := range 50 {
			rule := []string{fmt.Sprintf("instance%d", i), "d", fmt.Sprintf("o%d", j), "read"}
			if err := models[i].AddPolicy("p", "p", rule); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 5 {
		var wg sync.WaitGroup
		errs := make([]error, len(models))
		for i, m := range models {
			wg.Go(func() { errs[i] = b.adapter.SavePolicy(m) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent save: %v", err)
			}
		}
		got := b.stored(t)
		if len(got) != 50 {
			t.Fatalf("%d rules after concurrent saves, want 50", len(got))
		}
		subject := func(r string) string { return strings.Split(r, ",")[1] }
		for _, r := range got {
			if subject(r) != subject(got[0]) {
				t.Fatalf("rules of both saves are stored: %q and %q", got[0], r)
			}
		}
	}
}

func TestLoadFilteredPolicy(t *testing.T) {
	b := setup(t)
	e := b.enforcer(t)
	mustOK(t)(e.AddPolicies([][]string{
		{"officer", "urban", "cases", "read"},
		{"officer", "traffic", "cases", "read"},
		{"viewer", "housing", "properties", "read"},
	}))
	mustOK(t)(e.AddGroupingPolicies([][]string{{"alice", "officer", "urban"}, {"alice", "officer", "traffic"}}))

	for _, tc := range []struct {
		name   string
		filter any
		policy int
		groups int
	}{
		{"domain", casbinpg.Filter{V1: []string{"urban"}}, 1, 0},
		{"domain pointer", &casbinpg.Filter{V1: []string{"urban", "traffic"}}, 2, 0},
		{"grouping in a domain", casbinpg.Filter{Ptype: []string{"g"}, V2: []string{"traffic"}}, 0, 1},
		{"ptypes", casbinpg.Filter{Ptype: []string{"p", "g"}, V0: []string{"officer", "alice"}}, 2, 2},
		{"zero filter", casbinpg.Filter{}, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := b.enforcer(t)
			if err := f.LoadFilteredPolicy(tc.filter); err != nil {
				t.Fatal(err)
			}
			if !f.IsFiltered() {
				t.Error("IsFiltered after a filtered load is false")
			}
			p, _ := f.GetPolicy()
			g, _ := f.GetGroupingPolicy()
			if len(p) != tc.policy || len(g) != tc.groups {
				t.Errorf("loaded %q and %q, want %d and %d rules", p, g, tc.policy, tc.groups)
			}
			if err := f.SavePolicy(); err == nil {
				t.Error("Casbin saved a filtered policy")
			}
		})
	}

	if err := b.adapter.LoadFilteredPolicy(newModel(t), "not a filter"); err == nil {
		t.Error("load with a foreign filter type succeeded")
	}
	f := b.enforcer(t)
	if err := f.LoadFilteredPolicy(casbinpg.Filter{V1: []string{"urban"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.LoadPolicy(); err != nil {
		t.Fatal(err)
	}
	if f.IsFiltered() {
		t.Error("IsFiltered after a full load is true")
	}
}

func TestLoadPolicyRejectsUnknownPtype(t *testing.T) {
	b := setup(t)
	if err := b.adapter.AddPolicy("p", "p9", []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if err := b.adapter.LoadPolicy(newModel(t)); err == nil {
		t.Error("loaded a rule the model does not define")
	}
}

func TestTimeout(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	a, err := casbinpg.New(b.pool, casbinpg.Config{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Another session holds the table; every operation must give up after
	// the timeout instead of hanging the enforcer.
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // test cleanup
	if _, err := tx.Exec(ctx, "LOCK TABLE casbin_rules IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"load": func() error { return a.LoadPolicy(newModel(t)) },
		"add":  func() error { return a.AddPolicy("p", "p", []string{"a", "b", "c", "d"}) },
		"save": func() error { return a.SavePolicy(newModel(t)) },
		"ctx": func() error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return a.RemovePolicyCtx(ctx, "p", "p", []string{"a"})
		},
	} {
		start := time.Now()
		err := op()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s under a lock: %v, want a deadline error", name, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s took %s", name, d)
		}
	}
}

func TestNewValidates(t *testing.T) {
	pool := env.Pool(t)
	for _, table := range []string{"a.b.c", ".x", "x.", "a..b"} {
		if _, err := casbinpg.New(pool, casbinpg.Config{Table: table}); err == nil {
			t.Errorf("New accepted table %q", table)
		}
	}
	if _, err := casbinpg.New(pool, casbinpg.Config{Timeout: -time.Second}); err == nil {
		t.Error("New accepted a negative timeout")
	}
	if _, err := casbinpg.New(nil, casbinpg.Config{}); err == nil {
		t.Error("New accepted a nil pool")
	}
}

func TestQualifiedTable(t *testing.T) {
	t.Parallel()
	pool, schema := env.Schema(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE "+schema+".\"Policy Rules\" (LIKE public.casbin_rules INCLUDING ALL)"); err != nil {
		t.Fatal(err)
	}
	// A plain pool (search_path public) reaches the table by its qualified
	// name, quoted as needed.
	a, err := casbinpg.New(env.Pool(t), casbinpg.Config{Table: schema + ".Policy Rules"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewEnforcer(newModel(t), a)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t)(e.AddPolicy("officer", "urban", "cases", "read"))
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".\"Policy Rules\"").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d rows in the qualified table, want 1", n)
	}
	if err := e.SavePolicy(); err != nil {
		t.Fatal(err)
	}
	check(t, e, true, "officer", "urban", "cases", "read")
}
