package policy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casbin/casbin/v2/persist"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/policies"
)

// clock is a settable clock for grant expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type bundle struct {
	eng     *policy.Engine
	store   *policy.MemoryAdapter
	clock   *clock
	watcher *fakeWatcher
}

func setup(t *testing.T, rules ...[]string) bundle {
	t.Helper()
	b := bundle{store: policy.NewMemoryAdapter(rules...), clock: &clock{now: t0}, watcher: &fakeWatcher{}}
	eng, err := policy.NewEngine(policy.EngineConfig{
		FS: policies.FS, Adapter: b.store, Watcher: b.watcher, Now: b.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	b.eng = eng
	return b
}

func decide(t *testing.T, eng *policy.Engine, p *access.Principal, dataset string) *access.Decision {
	t.Helper()
	ctx := context.Background()
	if p != nil {
		ctx = access.WithPrincipal(ctx, p)
	}
	d, err := eng.Decide(ctx, dataset)
	if err != nil {
		t.Fatalf("Decide(%s): %v", dataset, err)
	}
	return d
}

func user(dept, jur string, roles ...string) *access.Principal {
	return &access.Principal{Kind: access.KindUser, Subject: "u-1", Dept: dept, Roles: roles, Jurisdiction: jur}
}

// same reports whether want and got are equal, nil and empty slices and
// maps alike, and describes the difference.
func same(want, got any) (bool, string) {
	w, g := normalize(reflect.ValueOf(want)), normalize(reflect.ValueOf(got))
	if reflect.DeepEqual(w, g) {
		return true, ""
	}
	return false, fmt.Sprintf("want %+v\n got %+v", w, g)
}

func normalize(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return normalize(v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = normalize(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = normalize(v.MapIndex(k))
		}
		return out
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			out[v.Type().Field(i).Name] = normalize(v.Field(i))
		}
		return out
	default:
		return v.Interface()
	}
}

const (
	V = access.FieldVisible
	M = access.FieldMasked
	D = access.FieldDenied
)

// TestDecide checks hand-written expectations: each was worked out from the
// requirements (who should see what), not from the policy files.
func TestDecide(t *testing.T) {
	t.Parallel()
	b := setup(t)
	citizen := &access.Principal{Kind: access.KindService, Subject: "key-app", Dept: "urban-management", Roles: []string{"citizen-app"}, Jurisdiction: "hailing", CitizenID: "c-42"}

	tests := []struct {
		name    string
		p       *access.Principal // nil: no principal in ctx (anonymous)
		dataset string
		want    access.Decision
	}{
		{
			name: "urban-management officer: every case, reporter visible, all case actions",
			p:    user("urban-management", "hailing.chengdong", "officer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": V},
				Actions: []string{"report", "command", "handle"}},
		},
		{
			name: "urban-management admin inherits officer",
			p:    user("urban-management", "hailing", "admin"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": V},
				Actions: []string{"report", "command", "handle"}},
		},
		{
			name: "housing viewer: cases district-wide by SA-1, reporter masked, no actions",
			p:    user("housing", "hailing", "viewer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "housing",
				Fields: map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M}},
		},
		{
			name: "water officer handles cases dispatched to water",
			p:    user("water", "hailing", "officer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "water",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"handle"}},
		},
		{
			name: "street-officer of the Chengdong street office: his subtree and what his office handles",
			p:    user("street-chengdong", "hailing.chengdong", "street-officer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengdong"}, Depts: []string{"street-chengdong"}}, OwnDept: "street-chengdong",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"report", "handle"}},
		},
		{
			name: "street-officer of urban management: his subtree only (his department owns every case)",
			p:    user("urban-management", "hailing.chengdong", "street-officer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"report", "handle"}},
		},
		{
			name: "grid-worker: his grid, reporter masked, may report",
			p:    user("street-chengxi", "hailing.chengxi.xiqiao.g02", "grid-worker"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengxi.xiqiao.g02"}, Depts: []string{"street-chengxi"}}, OwnDept: "street-chengxi",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"report"}},
		},
		{
			name: "street office viewer: its street (SA-2) and what it handles",
			p:    user("street-chengdong", "hailing.chengdong", "viewer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengdong"}, Depts: []string{"street-chengdong"}}, OwnDept: "street-chengdong",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"report"}},
		},
		{
			name: "dispatcher: every case, reporter visible, report and command",
			p:    user("urban-management", "hailing", "dispatcher"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": V},
				Actions: []string{"report", "command"}},
		},
		{
			name: "department system: its own records, may report",
			p:    &access.Principal{Kind: access.KindService, Subject: "key-drone", Dept: "urban-management", Roles: []string{"system"}, Jurisdiction: "hailing"}, dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Depts: []string{"urban-management"}}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"report"}},
		},
		{
			name: "citizen app: the citizen's own reports, reporter visible (his own data)",
			p:    citizen, dataset: "cases",
			want: access.Decision{Rows: access.RowScope{CitizenID: "c-42"},
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": V},
				Actions: []string{"citizen-report"}},
		},
		{
			name: "citizen app: violations are not for citizens",
			p:    citizen, dataset: "violations",
			want: access.Decision{Fields: map[string]access.FieldAccess{"core": D, "party": D, "plate": D, "permit": D}},
		},
		{
			name: "anonymous: no cases at all",
			p:    nil, dataset: "cases",
			want: access.Decision{Fields: map[string]access.FieldAccess{"core": D, "workflow": D, "reporter": D}},
		},
		{
			name: "anonymous: every parking lot, public groups only",
			p:    nil, dataset: "parking",
			want: access.Decision{Rows: access.RowScope{All: true},
				Fields: map[string]access.FieldAccess{"core": V, "availability": V, "contact": D}},
		},
		{
			name: "anonymous: compounds' public group only",
			p:    access.Anonymous(), dataset: "properties",
			want: access.Decision{Rows: access.RowScope{All: true},
				Fields: map[string]access.FieldAccess{"public": V, "core": D, "management": D, "permits": D, "inspections": D}},
		},
		{
			name: "anonymous: public indicators, no snapshots",
			p:    nil, dataset: "evaluation",
			want: access.Decision{Rows: access.RowScope{All: true},
				Fields: map[string]access.FieldAccess{"indicators": V, "snapshots": D}},
		},
		{
			name: "evaluator: no live cases",
			p:    &access.Principal{Kind: access.KindService, Subject: "key-eval", Dept: "market-regulation", Roles: []string{"evaluator"}, Jurisdiction: "hailing"}, dataset: "cases",
			want: access.Decision{Fields: map[string]access.FieldAccess{"core": D, "workflow": D, "reporter": D}},
		},
		{
			name: "evaluator: indicators and snapshots",
			p:    &access.Principal{Kind: access.KindService, Subject: "key-eval", Dept: "market-regulation", Roles: []string{"evaluator"}, Jurisdiction: "hailing"}, dataset: "evaluation",
			want: access.Decision{Rows: access.RowScope{All: true},
				Fields: map[string]access.FieldAccess{"indicators": V, "snapshots": V}},
		},
		{
			name: "a viewer who is also an evaluator: the evaluator's deny on personal data wins",
			p:    user("housing", "hailing", "viewer", "evaluator"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "housing",
				Fields: map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": D}},
		},
		{
			name: "auditor: the audit trail",
			p:    user("urban-management", "hailing", "viewer", "auditor"), dataset: "audit",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "urban-management",
				Fields: map[string]access.FieldAccess{"core": V}},
		},
		{
			name: "urban-management admin without auditor: no audit trail",
			p:    user("urban-management", "hailing", "admin"), dataset: "audit",
			want: access.Decision{OwnDept: "urban-management", Fields: map[string]access.FieldAccess{"core": D}},
		},
		{
			name: "planning officer on violations: district-wide (SA-3), permit is planning's own, party masked",
			p:    user("planning", "hailing", "officer"), dataset: "violations",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "planning",
				Fields: map[string]access.FieldAccess{"core": V, "party": M, "plate": M, "permit": V}},
		},
		{
			name: "urban-management viewer on violations: everything but planning's permit status, which needs a grant",
			p:    user("urban-management", "hailing", "viewer"), dataset: "violations",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "party": V, "plate": V, "permit": D},
				Actions: []string{"report"}},
		},
		{
			name: "urban management's enforcement officer on violations: his subtree, party and plate to serve notices",
			p:    user("urban-management", "hailing.chengnan", "street-officer"), dataset: "violations",
			want: access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengnan"}}, OwnDept: "urban-management",
				Fields:  map[string]access.FieldAccess{"core": V, "party": V, "plate": V, "permit": D},
				Actions: []string{"report", "handle"}},
		},
		{
			name: "water viewer on violations: what water handles, permit needs a grant",
			p:    user("water", "hailing", "viewer"), dataset: "violations",
			want: access.Decision{Rows: access.RowScope{Depts: []string{"water"}}, OwnDept: "water",
				Fields: map[string]access.FieldAccess{"core": V, "party": M, "plate": M, "permit": D}},
		},
		{
			name: "housing admin on properties: its own contacts, planning's permits need a grant",
			p:    user("housing", "hailing", "admin"), dataset: "properties",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "housing",
				Fields:  map[string]access.FieldAccess{"public": V, "core": V, "management": V, "permits": D, "inspections": V},
				Actions: []string{"write"}},
		},
		{
			name: "traffic-police officer writes parking",
			p:    user("traffic-police", "hailing", "officer"), dataset: "parking",
			want: access.Decision{Rows: access.RowScope{All: true}, OwnDept: "traffic-police",
				Fields:  map[string]access.FieldAccess{"core": V, "availability": V, "contact": V},
				Actions: []string{"write"}},
		},
		{
			name: "a role nobody declared grants nothing",
			p:    user("housing", "hailing", "superuser"), dataset: "cases",
			want: access.Decision{Fields: map[string]access.FieldAccess{"core": D, "workflow": D, "reporter": D}},
		},
		{
			name: "a department the catalog does not know gets the generic department rules",
			p:    user("sports-bureau", "hailing", "officer"), dataset: "cases",
			want: access.Decision{Rows: access.RowScope{Depts: []string{"sports-bureau"}}, OwnDept: "sports-bureau",
				Fields:  map[string]access.FieldAccess{"core": V, "workflow": V, "reporter": M},
				Actions: []string{"handle"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decide(t, b.eng, tc.p, tc.dataset)
			tc.want.Dataset = tc.dataset
			if ok, diff := same(&tc.want, got); !ok {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideUnknownDataset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.eng.Decide(context.Background(), "casez")
	if err == nil || !strings.Contains(err.Error(), `unknown dataset "casez"`) {
		t.Fatalf("err = %v, want unknown dataset", err)
	}
}

func TestGrantAddsConditionalGroupUntilItExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	housing := user("housing", "hailing", "officer")

	if got := decide(t, b.eng, housing, "properties").Field("permits"); got != D {
		t.Fatalf("permits before the grant = %v, want denied", got)
	}
	g := access.Grant{
		ID: "g-1", Grantee: "housing", Dataset: "properties", Groups: []string{"permits"},
		Jurisdiction: "hailing", Purpose: "old-community renovation survey", Until: t0.Add(time.Hour),
	}
	if err := b.eng.AddGrant(ctx, g); err != nil {
		t.Fatalf("AddGrant: %v", err)
	}
	if n := b.watcher.updates.Load(); n != 1 {
		t.Errorf("watcher told %d times, want 1", n)
	}
	wantRules := [][]string{{"p2", "dept:housing", "properties/permits", "hailing", "2026-03-02T10:00:00Z", "g-1", "old-community renovation survey"}}
	if ok, diff := same(wantRules, b.store.Rules()); !ok {
		t.Errorf("stored rules (-want +got):\n%s", diff)
	}

	d := decide(t, b.eng, housing, "properties")
	if d.Field("permits") != V {
		t.Errorf("permits with the grant = %v, want visible", d.Field("permits"))
	}
	if !slices.Equal(d.GrantIDs, []string{"g-1"}) || d.Purpose != "old-community renovation survey" {
		t.Errorf("GrantIDs, Purpose = %v, %q; want [g-1], the purpose", d.GrantIDs, d.Purpose)
	}
	if !d.Rows.All {
		t.Errorf("rows = %+v, want all", d.Rows)
	}
	// Another department gains nothing from housing's grant.
	if got := decide(t, b.eng, user("water", "hailing", "officer"), "properties").Field("permits"); got != D {
		t.Errorf("water's permits = %v, want denied", got)
	}

	// One second before until it still applies; at until it does not, with
	// no reload and the line still stored.
	b.clock.Set(t0.Add(time.Hour - time.Second))
	if got := decide(t, b.eng, housing, "properties").Field("permits"); got != V {
		t.Errorf("permits just before until = %v, want visible", got)
	}
	b.clock.Set(t0.Add(time.Hour))
	d = decide(t, b.eng, housing, "properties")
	if d.Field("permits") != D || len(d.GrantIDs) != 0 || d.Purpose != "" {
		t.Errorf("after until: permits %v, grants %v, purpose %q; want denied, none, empty", d.Field("permits"), d.GrantIDs, d.Purpose)
	}
	if len(b.store.Rules()) != 1 {
		t.Errorf("the expired line was removed; the test wants expiry to work without removal")
	}

	n, err := b.eng.PruneExpiredGrants(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PruneExpiredGrants = %d, %v; want 1, nil", n, err)
	}
	if len(b.store.Rules()) != 0 || len(b.eng.Grants()) != 0 {
		t.Errorf("after pruning: rules %v, grants %v", b.store.Rules(), b.eng.Grants())
	}
}

func TestGrantOnPersonalGroupAndPartialSubtree(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	water := user("water", "hailing", "officer")
	if err := b.eng.AddGrant(ctx, access.Grant{
		ID: "g-7", Grantee: "water", Dataset: "violations", Groups: []string{"party", "permit"},
		Jurisdiction: "hailing.chengdong", Purpose: "river-bank encroachment clean-up", Until: t0.Add(24 * time.Hour),
	}); err != nil {
		t.Fatalf("AddGrant: %v", err)
	}
	d := decide(t, b.eng, water, "violations")
	want := access.RowScope{Jurisdictions: []string{"hailing.chengdong"}, Depts: []string{"water"}}
	if ok, diff := same(want, d.Rows); !ok {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	// Water also sees rows it handles outside Chengdong, so the grant raises
	// party and permit only under Chengdong.
	if d.Field("party") != M || d.Field("permit") != D {
		t.Errorf("Field: party %v, permit %v; want masked, denied outside the subtree", d.Field("party"), d.Field("permit"))
	}
	for _, tc := range []struct {
		group, jur string
		want       access.FieldAccess
	}{
		{"party", "hailing.chengdong.fenghuang.g01", V},
		{"party", "hailing.chengdong", V},
		{"party", "hailing.chengdongx", M},
		{"party", "hailing.chengxi", M},
		{"permit", "hailing.chengdong.fenghuang", V},
		{"permit", "hailing.chengnan", D},
		{"core", "hailing.chengnan", V},
	} {
		if got := d.FieldAt(tc.group, tc.jur); got != tc.want {
			t.Errorf("FieldAt(%s, %s) = %v, want %v", tc.group, tc.jur, got, tc.want)
		}
	}
	if !slices.Equal(d.GrantIDs, []string{"g-7"}) {
		t.Errorf("GrantIDs = %v", d.GrantIDs)
	}

	// A grid worker's grid lies inside the grant's subtree, but his office
	// also sees the cases it handles elsewhere: the grant stays partial.
	if err := b.eng.AddGrant(ctx, access.Grant{
		ID: "g-8", Grantee: "street-chengdong", Dataset: "cases", Groups: []string{"reporter"},
		Jurisdiction: "hailing.chengdong", Purpose: "calling reporters back", Until: t0.Add(time.Hour),
	}); err != nil {
		t.Fatalf("AddGrant: %v", err)
	}
	gw := decide(t, b.eng, user("street-chengdong", "hailing.chengdong.fenghuang", "grid-worker"), "cases")
	if gw.Field("reporter") != M || gw.FieldAt("reporter", "hailing.chengdong.fenghuang.g01") != V {
		t.Errorf("grid worker: reporter %v / at his grid %v; want masked / visible", gw.Field("reporter"), gw.FieldAt("reporter", "hailing.chengdong.fenghuang.g01"))
	}
	wantRows := access.RowScope{Jurisdictions: []string{"hailing.chengdong"}, Depts: []string{"street-chengdong"}}
	if ok, diff := same(wantRows, gw.Rows); !ok {
		t.Errorf("grid worker rows (-want +got):\n%s", diff)
	}

	if err := b.eng.RevokeGrant(ctx, "g-7"); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	d = decide(t, b.eng, water, "violations")
	if d.FieldAt("party", "hailing.chengdong") != M || len(d.GrantIDs) != 0 || len(d.Rows.Jurisdictions) != 0 {
		t.Errorf("after revoking: %+v", d)
	}
	if got := b.eng.Grants(); len(got) != 1 || got[0].ID != "g-8" {
		t.Errorf("Grants() = %+v, want only g-8", got)
	}
}

// TestGrantOfAnotherProvidersGroupOpensNoRows: planning grants its permit
// status on violations, but the violations are urban-management's: such a
// grant unlocks the group on rows the grantee already sees and never adds
// rows (it once widened a street officer's violations to the district).
func TestGrantOfAnotherProvidersGroupOpensNoRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for _, g := range []access.Grant{
		{ID: "g-p1", Grantee: "urban-management", Dataset: "violations", Groups: []string{"permit"},
			Jurisdiction: "hailing", Purpose: "enforcement checks permits", Until: t0.Add(time.Hour)},
		{ID: "g-p2", Grantee: "water", Dataset: "violations", Groups: []string{"permit"},
			Jurisdiction: "hailing.chengxi", Purpose: "river-bank structures", Until: t0.Add(time.Hour)},
	} {
		if err := b.eng.AddGrant(ctx, g); err != nil {
			t.Fatalf("AddGrant %s: %v", g.ID, err)
		}
	}
	officer := decide(t, b.eng, user("urban-management", "hailing.chengxi", "street-officer"), "violations")
	if ok, diff := same(access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}, officer.Rows); !ok {
		t.Errorf("street officer's rows (-want +got):\n%s", diff)
	}
	if officer.Field("permit") != V || officer.Field("party") != V {
		t.Errorf("street officer: permit %v, party %v; want visible, visible", officer.Field("permit"), officer.Field("party"))
	}
	water := decide(t, b.eng, user("water", "hailing", "viewer"), "violations")
	if ok, diff := same(access.RowScope{Depts: []string{"water"}}, water.Rows); !ok {
		t.Errorf("water's rows (-want +got):\n%s", diff)
	}
	if water.FieldAt("permit", "hailing.chengxi.jichuan") != V || water.FieldAt("permit", "hailing.chengdong") != D {
		t.Errorf("water's permit: %v in Chengxi, %v in Chengdong; want visible, denied",
			water.FieldAt("permit", "hailing.chengxi.jichuan"), water.FieldAt("permit", "hailing.chengdong"))
	}
}

func TestGrantCoveringTheWholeScopeRaisesTheField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.eng.AddGrant(context.Background(), access.Grant{
		ID: "g-10", Grantee: "water", Dataset: "cases", Groups: []string{"reporter"},
		Jurisdiction: "hailing", Purpose: "flood reports follow-up", Until: t0.Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	d := decide(t, b.eng, user("water", "hailing", "viewer"), "cases")
	if d.Field("reporter") != V || d.Partial != nil {
		t.Errorf("district-wide grant: reporter %v, partial %v; want visible everywhere", d.Field("reporter"), d.Partial)
	}
	if !d.Rows.All {
		t.Errorf("rows = %+v, want all (SA-1)", d.Rows)
	}
}

func TestAddGrantRefusesInvalidGrants(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ok := access.Grant{ID: "g-1", Grantee: "housing", Dataset: "violations", Groups: []string{"party"}, Jurisdiction: "hailing.chengdong", Purpose: "p", Until: t0.Add(time.Hour)}
	for _, tc := range []struct {
		name string
		edit func(g *access.Grant)
		want string
	}{
		{"unknown dataset", func(g *access.Grant) { g.Dataset = "casez" }, `unknown dataset "casez"`},
		{"unknown group", func(g *access.Grant) { g.Groups = []string{"parties"} }, `unknown field group "parties"`},
		{"unconditional group", func(g *access.Grant) { g.Groups = []string{"core"} }, "only conditional and personal groups"},
		{"not-shared group", func(g *access.Grant) { g.Dataset, g.Groups = "audit", []string{"core"} }, "only conditional and personal groups"},
		{"unknown grantee", func(g *access.Grant) { g.Grantee = "nobody" }, `unknown grantee department "nobody"`},
		{"provider itself", func(g *access.Grant) { g.Grantee = "urban-management" }, "needs no grant"},
		{"jurisdiction outside the district", func(g *access.Grant) { g.Jurisdiction = "jiangyan.x" }, "within \"hailing\""},
		{"no purpose", func(g *access.Grant) { g.Purpose = " " }, "purpose"},
		{"bad id", func(g *access.Grant) { g.ID = "g 1" }, "grant id"},
		{"no groups", func(g *access.Grant) { g.Groups = nil }, "at least one field group"},
		{"expired", func(g *access.Grant) { g.Until = t0 }, "expired"},
	} {
		g := ok
		tc.edit(&g)
		err := b.eng.AddGrant(context.Background(), g)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if len(b.store.Rules()) != 0 {
		t.Errorf("refused grants were stored: %v", b.store.Rules())
	}
	if err := b.eng.AddGrant(context.Background(), ok); err != nil {
		t.Errorf("valid grant: %v", err)
	}
}

func TestRuntimeStore(t *testing.T) {
	t.Parallel()
	t.Run("grant lines stored before start apply", func(t *testing.T) {
		b := setup(t, []string{"p2", "dept:housing", "violations/party", "hailing", "2026-12-31T16:00:00Z", "g-5", "demolition notices"})
		d := decide(t, b.eng, user("housing", "hailing", "viewer"), "violations")
		if d.Field("party") != V || !slices.Equal(d.GrantIDs, []string{"g-5"}) {
			t.Errorf("party %v, grants %v", d.Field("party"), d.GrantIDs)
		}
	})
	t.Run("an invalid grant line is ignored, not fatal", func(t *testing.T) {
		b := setup(t,
			[]string{"p2", "dept:housing", "violations/core", "hailing", "2026-12-31T16:00:00Z", "g-5", "x"},
			[]string{"p2", "dept:housing", "violations/party", "hailing", "tomorrow", "g-6", "x"})
		d := decide(t, b.eng, user("housing", "hailing", "viewer"), "violations")
		if d.Field("party") != M || len(d.GrantIDs) != 0 {
			t.Errorf("party %v, grants %v; want masked, none", d.Field("party"), d.GrantIDs)
		}
	})
	t.Run("a run-time p rule applies on top of the files", func(t *testing.T) {
		b := setup(t, []string{"p", "viewer", "water", "violations", "rows:all", "allow"})
		d := decide(t, b.eng, user("water", "hailing", "viewer"), "violations")
		if !d.Rows.All {
			t.Errorf("rows %+v, want all", d.Rows)
		}
	})
	t.Run("an invalid run-time rule refuses to start", func(t *testing.T) {
		_, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS, Adapter: policy.NewMemoryAdapter(
			[]string{"p", "inspector", "*", "cases", "rows:all", "allow"})})
		if !policy.IsPolicyError(err) || !strings.Contains(err.Error(), `run-time policy store`) || !strings.Contains(err.Error(), `unknown role "inspector"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a failed reload keeps the previous policy", func(t *testing.T) {
		b := setup(t)
		if err := b.store.AddPolicy("p", "p", []string{"viewer", "water", "casez", "rows:all", "allow"}); err != nil {
			t.Fatal(err)
		}
		err := b.eng.Reload(context.Background())
		if !policy.IsPolicyError(err) || !strings.Contains(err.Error(), `unknown dataset "casez"`) {
			t.Fatalf("Reload err = %v", err)
		}
		if d := decide(t, b.eng, user("housing", "hailing", "viewer"), "cases"); !d.Rows.All {
			t.Errorf("after a failed reload the engine lost its policy: %+v", d)
		}
	})
	t.Run("no store: grants are refused", func(t *testing.T) {
		eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS})
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.AddGrant(context.Background(), access.Grant{}); err == nil {
			t.Errorf("AddGrant without a store succeeded")
		}
	})
}

// fakeWatcher records updates and lets a test deliver them.
type fakeWatcher struct {
	mu       sync.Mutex
	callback func(string)
	updates  atomic.Int64
	peers    []*fakeWatcher
}

func (w *fakeWatcher) SetUpdateCallback(f func(string)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.callback = f
	return nil
}

func (w *fakeWatcher) Update() error {
	w.updates.Add(1)
	for _, p := range w.peers {
		p.mu.Lock()
		cb := p.callback
		p.mu.Unlock()
		if cb != nil {
			cb("update")
		}
	}
	return nil
}

func (w *fakeWatcher) Close() {}

var _ persist.Watcher = (*fakeWatcher)(nil)

func TestWatcherReloadsOtherInstances(t *testing.T) {
	t.Parallel()
	store := policy.NewMemoryAdapter()
	clk := &clock{now: t0}
	wa, wb := &fakeWatcher{}, &fakeWatcher{}
	wa.peers = []*fakeWatcher{wb}
	newEng := func(w *fakeWatcher) *policy.Engine {
		eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS, Adapter: store, Watcher: w, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	a, b := newEng(wa), newEng(wb)
	housing := user("housing", "hailing", "viewer")
	if got := decide(t, b, housing, "cases").Field("reporter"); got != M {
		t.Fatalf("reporter before = %v", got)
	}
	if err := a.AddGrant(context.Background(), access.Grant{ID: "g-1", Grantee: "housing", Dataset: "cases", Groups: []string{"reporter"}, Jurisdiction: "hailing", Purpose: "p", Until: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := decide(t, b, housing, "cases").Field("reporter"); got != V {
		t.Errorf("the other instance did not pick up the grant: reporter = %v", got)
	}
}

func TestRequestCacheComputesOncePerDataset(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := policy.WithRequestCache(access.WithPrincipal(context.Background(), user("housing", "hailing", "viewer")))
	before := b.eng.Decisions()

	var wg sync.WaitGroup
	got := make([]*access.Decision, 64)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds := "cases"
			if i%2 == 1 {
				ds = "parking"
			}
			d, err := b.eng.Decide(ctx, ds)
			if err != nil {
				t.Error(err)
			}
			got[i] = d
		}()
	}
	wg.Wait()
	for i := 2; i < len(got); i++ {
		if got[i] != got[i%2] {
			t.Fatalf("decision %d is not the cached one", i)
		}
	}
	if n := b.eng.Decisions() - before; n != 2 {
		t.Errorf("engine computed %d decisions, want 2 (one per dataset)", n)
	}
	if ok, diff := same(map[string]int{"cases": 1, "parking": 1}, policy.RequestDecisions(ctx)); !ok {
		t.Errorf("RequestDecisions (-want +got):\n%s", diff)
	}
	if policy.WithRequestCache(ctx) != ctx {
		t.Errorf("WithRequestCache replaced an existing cache")
	}

	// Without a cache every call computes.
	plain := access.WithPrincipal(context.Background(), user("housing", "hailing", "viewer"))
	before = b.eng.Decisions()
	for range 3 {
		if _, err := b.eng.Decide(plain, "cases"); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.eng.Decisions() - before; n != 3 {
		t.Errorf("without a cache: %d decisions, want 3", n)
	}
	if policy.RequestDecisions(plain) != nil {
		t.Errorf("RequestDecisions without a cache should be nil")
	}

	// The anonymous principal is made afresh by every PrincipalFrom; it
	// must still hit the cache.
	anon := policy.WithRequestCache(context.Background())
	for range 3 {
		if _, err := b.eng.Decide(anon, "parking"); err != nil {
			t.Fatal(err)
		}
	}
	if n := policy.RequestDecisions(anon)["parking"]; n != 1 {
		t.Errorf("anonymous: %d decisions, want 1", n)
	}
}

func TestDecideDuringReload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil && i < 50; i++ {
			if err := b.eng.Reload(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}
	}()
	roles := [][]string{{"viewer"}, {"officer"}, {"street-officer"}, {"dispatcher"}, {"admin", "auditor"}}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				p := user("housing", "hailing.chengdong", roles[(i+w)%len(roles)]...)
				d := decide(t, b.eng, p, "cases")
				if d.Field("core") != V {
					t.Errorf("core = %v", d.Field("core"))
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkDecide(b *testing.B) {
	eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS})
	if err != nil {
		b.Fatal(err)
	}
	p := user("housing", "hailing", "viewer")
	b.Run("uncached", func(b *testing.B) {
		ctx := access.WithPrincipal(context.Background(), p)
		for b.Loop() {
			if _, err := eng.Decide(ctx, "cases"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("request", func(b *testing.B) {
		// One request resolving 50 objects, each asking for its decision.
		for b.Loop() {
			ctx := policy.WithRequestCache(access.WithPrincipal(context.Background(), p))
			for range 50 {
				if _, err := eng.Decide(ctx, "cases"); err != nil {
					b.Fatal(err)
				}
			}
			if n := policy.RequestDecisions(ctx)["cases"]; n > 1 {
				b.Fatalf("%d decisions for cases in one request", n)
			}
		}
	})
}
