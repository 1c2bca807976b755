package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// isolatedProperties returns a pool on a fresh, migrated schema with the
// directory loaded. The draw reads the whole register of targets, so its
// tests must not see compounds other tests create meanwhile.
func isolatedProperties(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, _ := env.Schema(t)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate schema: %v", err)
	}
	if err := insertDirectory(ctx, pool); err != nil {
		t.Fatalf("insert directory: %v", err)
	}
	return pool
}

var (
	propFull = map[string]access.FieldAccess{"public": access.FieldVisible, "core": access.FieldVisible,
		"management": access.FieldVisible, "permits": access.FieldDenied, "inspections": access.FieldVisible}
	propPublic = map[string]access.FieldAccess{"public": access.FieldVisible, "core": access.FieldDenied,
		"management": access.FieldDenied, "permits": access.FieldDenied, "inspections": access.FieldDenied}
)

// housingDesk is what the policy gives a housing officer on properties.
func housingDesk() *access.Decision {
	return &access.Decision{Dataset: property.Dataset, Rows: access.RowScope{All: true}, OwnDept: "housing",
		Fields: propFull, Actions: []string{"write"}}
}

func anonymousProps() *access.Decision {
	return &access.Decision{Dataset: property.Dataset, Rows: access.RowScope{All: true}, Fields: propPublic}
}

func propService(pool *pgxpool.Pool, d *access.Decision) *property.Service {
	return property.NewService(property.Config{Store: postgres.NewPropertyStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{d}})
}

func housingOfficer() context.Context { return as(context.Background(), "housing", "officer") }

// gridIn returns a grid of a street and its centroid.
func gridIn(t *testing.T, pool *pgxpool.Pool, street string) (code string, lat, lng float64) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT code, lat, lng FROM jurisdictions
		WHERE level = 'GRID' AND code LIKE $1 || '.%' ORDER BY code LIMIT 1`, street).Scan(&code, &lat, &lng)
	if err != nil {
		t.Fatalf("grid in %s: %v", street, err)
	}
	return code, lat, lng
}

// creditCode returns a valid unified social credit code numbered n.
func creditCode(n int) string {
	body := fmt.Sprintf("91321202MA%07d", n)
	c, _ := property.CreditCodeCheck(body)
	return body + string(c)
}

func compound(ext, name, grid string, lat, lng float64, year int) property.UpsertInput {
	return property.UpsertInput{
		ExternalID: ext, Name: name, Address: "泰州市海陵区青年南路" + ext + "号",
		Lat: lat, Lng: lng, Jurisdiction: grid, BuildYear: year, Buildings: 6, Households: 240,
		Management: &property.Management{Company: "泰州市凤城物业管理有限公司", CreditCode: creditCode(len(ext)),
			ContactName: "王建国", ContactPhone: "13812345678"},
	}
}

func marker() string { return strings.ReplaceAll(uuid.NewString()[:8], "-", "") }

func TestPropertyUpsert(t *testing.T) {
	pool := setup(t)
	svc := propService(pool, housingDesk())
	ctx := housingOfficer()
	grid, lat, lng := gridIn(t, pool, "hailing.chengzhong")
	m := marker()
	in := compound("upsert-"+m, "鼓楼小区"+m, "", lat, lng, 1994) // located from the point
	year, budget := 2023, int64(328_000_000)                  // 3,280,000.00 yuan
	in.Renovation = property.Renovation{Status: property.RenovationDone, Year: &year, Scope: "屋面防水、雨污分流", BudgetFen: &budget}

	created, err := svc.Upsert(ctx, in)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	p := created.Record
	if created.Outcome != upsert.Created || p.Version != 1 || p.JurisdictionCode == "" || p.SourceDept != "housing" {
		t.Fatalf("created %s: %+v", created.Outcome, p)
	}
	got, err := svc.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SameContent(p) || *got.Renovation.BudgetFen != budget || got.Management.ContactPhone != "13812345678" {
		t.Fatalf("stored %+v (renovation %+v), want %+v", got, got.Renovation, p)
	}

	again, err := svc.Upsert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Outcome != upsert.Unchanged || again.Record.Version != 1 || again.Record.ID != p.ID ||
		!again.Record.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("resend: %s %+v", again.Outcome, again.Record)
	}

	in.Households = 256
	in.Jurisdiction = grid
	upd, err := svc.Upsert(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if upd.Outcome != upsert.Updated || upd.Record.Version != 2 || upd.Record.ID != p.ID || upd.Record.Households != 256 {
		t.Fatalf("update: %s %+v", upd.Outcome, upd.Record)
	}

	stale := 1
	in.Households = 300
	in.Version = &stale
	if _, err := svc.Upsert(ctx, in); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v, want CONFLICT", err)
	}
	zero := 0
	in.Version = &zero
	if _, err := svc.Upsert(ctx, in); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("version 0 on an existing record: %v, want CONFLICT", err)
	}
	cur := 2
	in.Version = &cur
	if r, err := svc.Upsert(ctx, in); err != nil || r.Record.Version != 3 {
		t.Fatalf("current version: %+v %v", r, err)
	}

	bad := compound("bad-"+m, "坏码小区"+m, grid, lat, lng, 2005)
	bad.Management.CreditCode = "91350100M000100Y44"
	if _, err := svc.Upsert(ctx, bad); !apperr.Is(err, apperr.BadUserInput) || !strings.Contains(err.Error(), "check character") {
		t.Fatalf("bad check digit: %v", err)
	}
	bad.Management.CreditCode = "91350100m000100y43" // lower case is normalised
	if r, err := svc.Upsert(ctx, bad); err != nil || r.Record.Management.CreditCode != "91350100M000100Y43" {
		t.Fatalf("lower-case code: %+v %v", r, err)
	}
	none := compound("norenov-"+m, "无改造小区"+m, grid, lat, lng, 2005)
	none.Renovation.BudgetFen = &budget
	if _, err := svc.Upsert(ctx, none); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("budget without renovation: %v", err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM properties WHERE external_id = $1", "norenov-"+m).Scan(&n); err != nil || n != 0 {
		t.Fatalf("refused upsert wrote %d rows (%v)", n, err)
	}

	reader := propService(pool, &access.Decision{Dataset: property.Dataset, Rows: access.RowScope{All: true}, Fields: propFull})
	if _, err := reader.Upsert(as(context.Background(), "planning", "officer"), in); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("planning writing properties: %v, want FORBIDDEN", err)
	}
}

func TestPropertyConcurrentCreateOneRow(t *testing.T) {
	pool := setup(t)
	svc := propService(pool, housingDesk())
	grid, lat, lng := gridIn(t, pool, "hailing.chengxi")
	m := marker()
	in := compound("race-"+m, "并发小区"+m, grid, lat, lng, 2010)
	errs := make(chan error, 6)
	outcomes := make(chan upsert.Outcome, 6)
	for range 6 {
		go func() {
			r, err := svc.Upsert(housingOfficer(), in)
			errs <- err
			if err == nil {
				outcomes <- r.Outcome
			}
		}()
	}
	created := 0
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent upsert: %v", err)
		}
		if <-outcomes == upsert.Created {
			created++
		}
	}
	var n, version int
	if err := pool.QueryRow(context.Background(), "SELECT count(*), max(version) FROM properties WHERE external_id = $1", in.ExternalID).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if created != 1 || n != 1 || version != 1 {
		t.Fatalf("created %d times, %d rows at version %d", created, n, version)
	}
}

func TestPropertyListWalk(t *testing.T) {
	pool := setup(t)
	svc := propService(pool, housingDesk())
	ctx := housingOfficer()
	m := marker()
	streets := []string{"hailing.chengdong", "hailing.chengnan", "hailing.jiulong"}
	want := map[uuid.UUID]*property.Property{}
	for i := range 23 {
		grid, lat, lng := gridIn(t, pool, streets[i%3])
		// Duplicate names and years: the keyset must break ties by id.
		in := compound(fmt.Sprintf("walk-%s-%02d", m, i), fmt.Sprintf("春晖新村%s-%02d", m, i%17), grid, lat, lng, 1985+(i%6)*5)
		if i%4 == 0 {
			y := 2024
			in.Renovation = property.Renovation{Status: property.RenovationDone, Year: &y}
		}
		r, err := svc.Upsert(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		want[r.Record.ID] = r.Record
	}
	for _, order := range []property.Order{property.OrderNameAsc, property.OrderNameDesc, property.OrderBuildYearAsc, property.OrderBuildYearDesc} {
		t.Run(string(order), func(t *testing.T) {
			seen := map[uuid.UUID]bool{}
			var all []*property.Property
			first := 5
			fixture.Walk(t, 10, func(after *string) (fixture.Page[*property.Property], error) {
				pg, err := svc.List(ctx, property.Filter{Text: m}, order, &first, after)
				if err != nil {
					return fixture.Page[*property.Property]{}, err
				}
				return fixture.Page[*property.Property]{Rows: pg.Properties, HasNext: pg.HasNext, Cursor: pg.Cursor}, nil
			}, func(_, _ int, p *property.Property) {
				if seen[p.ID] {
					t.Fatalf("%s returned twice", p.Name)
				}
				seen[p.ID] = true
				all = append(all, p)
			})
			if len(all) != len(want) {
				t.Fatalf("walked %d compounds, want %d", len(all), len(want))
			}
			rows := fixture.CheckRelay(t, first, func(a page.Args) (fixture.RelayPage[uuid.UUID], error) {
				pg, err := svc.ListPage(ctx, property.Filter{Text: m}, order, a)
				if err != nil {
					return fixture.RelayPage[uuid.UUID]{}, err
				}
				return relayPage(pg.Properties, func(p *property.Property) uuid.UUID { return p.ID }, pg.HasNext, pg.HasPrev, pg.Cursor), nil
			})
			for i, p := range all {
				if rows[i] != p.ID {
					t.Fatalf("relay walk row %d is %s, the forward walk's %s", i, rows[i], p.ID)
				}
			}
			if !order.ByName() {
				sorted := slices.IsSortedFunc(all, func(a, b *property.Property) int {
					c := a.BuildYear - b.BuildYear
					if c == 0 {
						c = strings.Compare(a.ID.String(), b.ID.String())
					}
					if order.Desc() {
						return -c
					}
					return c
				})
				if !sorted {
					t.Fatal("not sorted by build year and id")
				}
			}
			// Names sort under the database's collation: the walk must
			// match one big page in the same order.
			big := 200
			one, err := svc.List(ctx, property.Filter{Text: m}, order, &big, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range one.Properties {
				if all[i].ID != p.ID {
					t.Fatalf("row %d: walk has %s, one page has %s", i, all[i].Name, p.Name)
				}
			}
		})
	}
	from, to := 1990, 2000
	pg, err := svc.List(ctx, property.Filter{Text: m, BuildYearFrom: &from, BuildYearTo: &to, Jurisdiction: "hailing.chengdong"}, property.OrderBuildYearAsc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pg.Properties {
		if p.BuildYear < from || p.BuildYear > to || !strings.HasPrefix(p.JurisdictionCode, "hailing.chengdong.") {
			t.Fatalf("filtered list holds %+v", p)
		}
	}
	pg, err = svc.List(ctx, property.Filter{Text: m, Renovation: []property.RenovationStatus{property.RenovationDone}}, "", nil, nil)
	if err != nil || len(pg.Properties) != 6 {
		t.Fatalf("renovation filter: %d, %v", len(pg.Properties), err)
	}
	bad := "bad"
	if _, err := svc.List(ctx, property.Filter{}, property.OrderNameAsc, nil, &bad); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestPropertyRowScope(t *testing.T) {
	pool := setup(t)
	writer := propService(pool, housingDesk())
	m := marker()
	ids := map[string]uuid.UUID{}
	for _, st := range []string{"hailing.chengdong", "hailing.chengxi"} {
		grid, lat, lng := gridIn(t, pool, st)
		r, err := writer.Upsert(housingOfficer(), compound("scope-"+m+"-"+st, "凤凰花园"+m+st, grid, lat, lng, 2008))
		if err != nil {
			t.Fatal(err)
		}
		ids[st] = r.Record.ID
	}
	east, west := ids["hailing.chengdong"], ids["hailing.chengxi"]
	both := []uuid.UUID{east, west}
	ctx := as(context.Background(), "street-chengdong", "viewer")
	scoped := func(rows access.RowScope) *property.Service {
		return propService(pool, &access.Decision{Dataset: property.Dataset, Rows: rows, Fields: propFull})
	}
	tests := []struct {
		name string
		rows access.RowScope
		want []uuid.UUID
	}{
		{"street", access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, []uuid.UUID{east}},
		{"deeper subtree", access.RowScope{Jurisdictions: []string{strings.Join(strings.Split(mustJurisdiction(t, pool, east), ".")[:3], ".")}}, []uuid.UUID{east}},
		{"two streets", access.RowScope{Jurisdictions: []string{"hailing.chengdong", "hailing.chengxi"}}, both},
		{"owner department", access.RowScope{Depts: []string{"housing"}}, both},
		{"another department", access.RowScope{Depts: []string{"water"}}, nil},
		{"nothing", access.RowScope{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := scoped(tc.rows)
			pg, err := svc.List(ctx, property.Filter{Text: m}, "", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			for _, p := range pg.Properties {
				got = append(got, p.ID)
			}
			many, err := svc.GetMany(ctx, both)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || len(many) != len(tc.want) {
				t.Fatalf("list %v, getMany %d, want %v", got, len(many), tc.want)
			}
			for _, id := range both {
				_, err := svc.Get(ctx, id)
				if in := slices.Contains(tc.want, id); in != (err == nil) || (!in && !apperr.Is(err, apperr.NotFound)) {
					t.Fatalf("get %s: %v (visible: %v)", id, err, in)
				}
			}
		})
	}
}

func mustJurisdiction(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) string {
	t.Helper()
	var code string
	if err := pool.QueryRow(context.Background(), "SELECT jurisdiction_code FROM properties WHERE id = $1", id).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return code
}

func insertPermit(t *testing.T, pool *pgxpool.Pool, propID uuid.UUID, no string, scope property.PermitScope, area float64, valid bool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO building_permits (id, permit_no, property_id, issued_on, scope,
		structure, floor_area_m2, valid, owner_dept, source_dept, external_id)
		VALUES ($1, $2, $3, '2019-05-12', $4, '3号楼顶层', $5, $6, 'planning', 'planning', $2)`,
		uuid.New(), no, propID, string(scope), area, valid)
	if err != nil {
		t.Fatal(err)
	}
}

func TestPropertyPermits(t *testing.T) {
	pool := setup(t)
	writer := propService(pool, housingDesk())
	m := marker()
	var east, west uuid.UUID
	for i, st := range []string{"hailing.chengdong", "hailing.chengxi"} {
		grid, lat, lng := gridIn(t, pool, st)
		r, err := writer.Upsert(housingOfficer(), compound(fmt.Sprintf("permit-%s-%d", m, i), "梅兰家园"+m+st, grid, lat, lng, 2010))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			east = r.Record.ID
		} else {
			west = r.Record.ID
		}
	}
	insertPermit(t, pool, east, "E1-"+m, property.ScopeAddition, 60, true)
	insertPermit(t, pool, east, "E2-"+m, property.ScopeAncillary, 40, false)
	insertPermit(t, pool, west, "W1-"+m, property.ScopeAddition, 30, true)
	ids := []uuid.UUID{east, west, uuid.New()}
	ctx := housingOfficer()

	// Housing without a grant: planning's conditional permits are refused.
	if _, err := writer.Permits(ctx, ids); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("permits without a grant: %v, want FORBIDDEN", err)
	}
	granted := housingDesk()
	granted.Fields = map[string]access.FieldAccess{"permits": access.FieldVisible}
	got, err := propService(pool, granted).Permits(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[east]) != 2 || len(got[west]) != 1 || got[west][0].PermitNo != "W1-"+m || got[west][0].FloorAreaM2 != 30 {
		t.Fatalf("permits %+v", got)
	}
	// A grant limited to Chengdong: only Chengdong's compounds.
	partial := housingDesk()
	partial.Partial = map[string]access.PartialAccess{"permits": {Access: access.FieldVisible, Jurisdictions: []string{"hailing.chengdong"}}}
	got, err = propService(pool, partial).Permits(ctx, ids)
	if err != nil || len(got) != 1 || len(got[east]) != 2 {
		t.Fatalf("partial grant: %+v %v", got, err)
	}
	check, err := propService(pool, granted).CheckPermit(ctx, east, property.SubtypeRooftopAddition, 45)
	if err != nil || !check.Covers || check.PermitNo != "E1-"+m {
		t.Fatalf("check: %+v %v", check, err)
	}
	// The store's own check applies no field rule (the violations service
	// decides on its "permit" group itself).
	check, err = postgres.NewPropertyStore(pool).CheckPermit(context.Background(), west, property.SubtypeRooftopAddition, 45)
	if err != nil || check.Covers || !check.HasPermit || check.PermitNo != "W1-"+m {
		t.Fatalf("store check: %+v %v", check, err)
	}
}

// drawFixture fills an isolated schema with n target compounds (and two
// without a management company), six active housing inspectors, one
// inactive one and one of another department.
type drawFixture struct {
	pool    *pgxpool.Pool
	svc     *property.Service
	targets []uuid.UUID
}

func newDrawFixture(t *testing.T, n int) *drawFixture {
	t.Helper()
	pool := isolatedProperties(t)
	f := &drawFixture{pool: pool, svc: propService(pool, housingDesk())}
	ctx := housingOfficer()
	grid, lat, lng := gridIn(t, pool, "hailing.chengnan")
	for i := range n + 2 {
		in := compound(fmt.Sprintf("draw-%03d", i), fmt.Sprintf("天德湖花园%03d", i), grid, lat, lng, 2000+i%20)
		in.Complaints = i % 5
		if i >= n {
			in.Management = nil
		}
		r, err := f.svc.Upsert(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i < n {
			f.targets = append(f.targets, r.Record.ID)
		}
	}
	for i := range 6 {
		f.exec(t, "INSERT INTO inspectors (id, name, dept) VALUES ($1, $2, 'housing')", fmt.Sprintf("HS-%02d", i+1), "检查员"+fmt.Sprint(i+1))
	}
	f.exec(t, "INSERT INTO inspectors (id, name, dept, active) VALUES ('HS-99', '退休检查员', 'housing', false)")
	f.exec(t, "INSERT INTO inspectors (id, name, dept) VALUES ('UM-01', '城管检查员', 'urban-management')")
	return f
}

func (f *drawFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func TestDrawInspections(t *testing.T) {
	f := newDrawFixture(t, 30)
	ctx := housingOfficer()
	// HS-01 declared a conflict with every target: never drawn.
	for _, id := range f.targets {
		f.exec(t, "INSERT INTO inspector_conflicts (inspector_id, property_id, reason) VALUES ('HS-01', $1, '本人居住在该小区')", id)
	}

	refusals := []struct {
		name  string
		ctx   context.Context
		svc   *property.Service
		round string
		ratio float64
		k     int
		code  apperr.Code
	}{
		{"planning officer", as(context.Background(), "planning", "officer"), propService(f.pool, &access.Decision{Rows: access.RowScope{All: true}, Fields: propFull}), "2026-H1", 0.1, 2, apperr.Forbidden},
		{"housing viewer", as(context.Background(), "housing", "viewer"), propService(f.pool, &access.Decision{Rows: access.RowScope{All: true}, Fields: propFull}), "2026-H1", 0.1, 2, apperr.Forbidden},
		{"housing system", access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindService, Subject: "key", Dept: "housing", Roles: []string{"system"}}), f.svc, "2026-H1", 0.1, 2, apperr.Forbidden},
		{"ratio under 5 %", ctx, f.svc, "2026-H1", 0.04, 2, apperr.BadUserInput},
		{"one inspector", ctx, f.svc, "2026-H1", 0.1, 1, apperr.BadUserInput},
		{"malformed round", ctx, f.svc, "2026-H3", 0.1, 2, apperr.BadUserInput},
	}
	for _, tc := range refusals {
		if _, _, err := tc.svc.DrawInspections(tc.ctx, tc.round, tc.ratio, tc.k, 1); !apperr.Is(err, tc.code) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}

	store := postgres.NewPropertyStore(f.pool)
	start, _, _ := property.ParseRound("2026-H1")
	before, err := store.Registers(context.Background(), "housing", start, property.RecusalRoundsDefault)
	if err != nil {
		t.Fatal(err)
	}
	r, list, err := f.svc.DrawInspections(ctx, "2026-H1", 0.1, 2, 20260105)
	if err != nil {
		t.Fatalf("draw: %v", err)
	}
	if r.Drawn != 3 || len(list) != 3 || r.RegisterSize != 30 || r.Seed != 20260105 || r.PreviousRound != "" ||
		r.DrawnBy != "u-housing@housing" || r.Published {
		t.Fatalf("round %+v with %d inspections", r, len(list))
	}
	// Reproducible: the registers as read before the draw hash to the
	// recorded hashes and, drawn with the same seed, give the same picks.
	th, ih := before.Hashes()
	if th != r.TargetsHash || ih != r.InspectorsHash {
		t.Fatal("recorded hashes differ from the registers'")
	}
	res, err := property.Draw(before, r.Seed, r.Ratio, r.PerTarget)
	if err != nil {
		t.Fatal(err)
	}
	if diff := property.ComparePicks(res.Picks, list); len(diff) > 0 {
		t.Fatalf("same seed and registers, other draw: %v", diff)
	}
	stored, err := f.svc.RoundInspections(ctx, "2026-H1")
	if err != nil || len(stored) != 3 {
		t.Fatalf("stored inspections: %d %v", len(stored), err)
	}
	for _, in := range stored {
		if len(in.InspectorIDs) < 2 || in.InspectorIDs[0] == in.InspectorIDs[1] {
			t.Fatalf("inspectors %v", in.InspectorIDs)
		}
		for _, id := range in.InspectorIDs {
			if id == "HS-01" || id == "HS-99" || id == "UM-01" {
				t.Fatalf("%s drawn: conflicted, inactive or of another department", id)
			}
		}
		if in.ScheduledOn.Before(start) || in.Result != "" {
			t.Fatalf("inspection %+v", in)
		}
	}
	replay, err := f.svc.ReplayDraw(ctx, "2026-H1")
	if err != nil || !replay.Matches || !replay.HashesMatch {
		t.Fatalf("replay: %+v %v", replay, err)
	}

	// A round is drawn once, whatever the seed.
	if _, _, err := f.svc.DrawInspections(ctx, "2026-H1", 0.1, 2, 7); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second draw: %v, want CONFLICT", err)
	}
	// A changed register gives another hash.
	in := compound("draw-000", "天德湖花园000", mustJurisdiction(t, f.pool, f.targets[0]), 32.466, 119.922, 2000)
	in.Complaints = 40
	if _, err := f.svc.Upsert(ctx, in); err != nil {
		t.Fatal(err)
	}
	after, err := store.Registers(context.Background(), "housing", start, property.RecusalRoundsDefault)
	if err != nil {
		t.Fatal(err)
	}
	if th2, _ := after.Hashes(); th2 == r.TargetsHash {
		t.Fatal("a changed register kept its hash")
	}

	// Next round, every target: nobody inspects the same compound twice in a row.
	r2, list2, err := f.svc.DrawInspections(ctx, "2026-H2", 1, 2, 99)
	if err != nil {
		t.Fatal(err)
	}
	if r2.PreviousRound != "2026-H1" || len(list2) != 30 {
		t.Fatalf("round 2: %+v, %d inspections", r2, len(list2))
	}
	prev := map[uuid.UUID][]string{}
	for _, in := range stored {
		prev[in.PropertyID] = in.InspectorIDs
	}
	for _, in := range list2 {
		for _, id := range in.InspectorIDs {
			if slices.Contains(prev[in.PropertyID], id) {
				t.Fatalf("%s inspects %s in 2026-H1 and 2026-H2", id, in.PropertyID)
			}
		}
	}
	if replay, err := f.svc.ReplayDraw(ctx, "2026-H2"); err != nil || !replay.Matches {
		t.Fatalf("replay round 2: %+v %v", replay, err)
	}
}

// TestRecusalLooksBackOverRounds draws four monthly rounds of every target
// with two inspectors each from six: with the default look-back of two
// rounds, the third round's teams are forced (the two inspectors who served
// neither of the last two rounds) and the fourth repeats the first's; a
// look-back of one leaves four candidates, and one of three leaves none.
func TestRecusalLooksBackOverRounds(t *testing.T) {
	f := newDrawFixture(t, 2)
	ctx := housingOfficer()
	teams := map[string]map[uuid.UUID][]string{}
	draw := func(svc *property.Service, round string) (*property.Round, error) {
		t.Helper()
		r, list, err := svc.DrawInspections(ctx, round, 1, 2, int64(len(teams)+1))
		if err != nil {
			return nil, err
		}
		teams[round] = map[uuid.UUID][]string{}
		for _, in := range list {
			teams[round][in.PropertyID] = in.InspectorIDs
		}
		return r, nil
	}
	svc := f.svc // RecusalRounds unset: the default, 2
	for _, round := range []string{"2026-01", "2026-02", "2026-03"} {
		if _, err := draw(svc, round); err != nil {
			t.Fatalf("%s: %v", round, err)
		}
	}
	r, err := svc.Round(ctx, "2026-03")
	if err != nil || r.PreviousRound != "2026-02" || !slices.Equal(r.PreviousRounds, []string{"2026-02", "2026-01"}) {
		t.Fatalf("2026-03 looked back over %q %v (%v); want 2026-02, 2026-01", r.PreviousRound, r.PreviousRounds, err)
	}
	all := []string{"HS-01", "HS-02", "HS-03", "HS-04", "HS-05", "HS-06"}
	for _, id := range f.targets {
		used := append(slices.Clone(teams["2026-01"][id]), teams["2026-02"][id]...)
		want := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(used, s) })
		if got := teams["2026-03"][id]; !slices.Equal(got, want) {
			t.Fatalf("compound %s: 2026-03 drew %v; after %v and %v only %v were eligible", id,
				got, teams["2026-01"][id], teams["2026-02"][id], want)
		}
	}
	// A look-back of three rounds leaves nobody: refused, nothing stored.
	three := property.NewService(property.Config{Store: postgres.NewPropertyStore(f.pool), Directory: postgres.NewDirectoryStore(f.pool), Authorizer: fixedAuth{housingDesk()}, RecusalRounds: 3})
	if _, err := draw(three, "2026-04"); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("look-back 3 with six inspectors: %v, want BAD_USER_INPUT", err)
	}
	// A look-back of one round leaves four candidates for each compound.
	one := postgres.NewPropertyStore(f.pool)
	start, _, _ := property.ParseRound("2026-04")
	reg, err := one.Registers(context.Background(), "housing", start, 1)
	if err != nil || !slices.Equal(reg.PreviousRounds, []string{"2026-03"}) || len(reg.Previous) != 4 {
		t.Fatalf("look-back 1: %v with %d assignments (%v)", reg.PreviousRounds, len(reg.Previous), err)
	}
	// Two rounds back: the fourth round's teams are the first's again.
	if _, err := draw(svc, "2026-04"); err != nil {
		t.Fatal(err)
	}
	for _, id := range f.targets {
		if got, want := teams["2026-04"][id], teams["2026-01"][id]; !slices.Equal(got, want) {
			t.Fatalf("compound %s: 2026-04 drew %v, want 2026-01's %v", id, got, want)
		}
	}
	if replay, err := svc.ReplayDraw(ctx, "2026-04"); err != nil || !replay.Matches || !replay.HashesMatch {
		t.Fatalf("replay: %+v %v", replay, err)
	}
}

func TestInspectionResultsArePublished(t *testing.T) {
	f := newDrawFixture(t, 12)
	ctx := housingOfficer()
	if _, _, err := f.svc.DrawInspections(ctx, "2026-Q1", 0.25, 2, 5); err != nil {
		t.Fatal(err)
	}
	public := propService(f.pool, anonymousProps())
	anon := context.Background()
	if rounds, err := public.Rounds(anon); err != nil || len(rounds) != 0 {
		t.Fatalf("public rounds before publishing: %v %v", rounds, err)
	}
	if _, err := public.RoundInspections(anon, "2026-Q1"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unpublished round for the public: %v, want NOT_FOUND", err)
	}
	list, err := f.svc.RoundInspections(ctx, "2026-Q1")
	if err != nil || len(list) != 3 {
		t.Fatalf("%d inspections, %v", len(list), err)
	}
	if _, err := f.svc.PublishRound(ctx, "2026-Q1"); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("publishing without results: %v", err)
	}
	if _, err := f.svc.RecordResult(ctx, list[0].ID, property.ResultInput{Result: property.ResultRectify}); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("RECTIFY without findings: %v", err)
	}
	results := []property.Result{property.ResultPass, property.ResultRectify, property.ResultFail}
	for i, in := range list {
		v := in.Version
		got, err := f.svc.RecordResult(ctx, in.ID, property.ResultInput{Result: results[i], Findings: "消防通道堆放杂物", Version: &v})
		if err != nil || got.Version != v+1 || got.RecordedAt == nil {
			t.Fatalf("record: %+v %v", got, err)
		}
	}
	if _, err := propService(f.pool, anonymousProps()).RecordResult(anon, list[0].ID, property.ResultInput{Result: property.ResultPass}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("anonymous recording: %v", err)
	}
	r, err := f.svc.PublishRound(ctx, "2026-Q1")
	if err != nil || !r.Published || r.PublishedAt == nil {
		t.Fatalf("publish: %+v %v", r, err)
	}
	if _, err := f.svc.PublishRound(ctx, "2026-Q1"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second publish: %v", err)
	}
	if _, err := f.svc.RecordResult(ctx, list[0].ID, property.ResultInput{Result: property.ResultFail, Findings: "改判"}); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("changing a published result: %v", err)
	}

	// The public sees the published round and its results, not the inspectors.
	rounds, err := public.Rounds(anon)
	if err != nil || len(rounds) != 1 || rounds[0].DrawnBy != "" || rounds[0].TargetsHash == "" {
		t.Fatalf("public rounds: %+v %v", rounds, err)
	}
	pubList, err := public.RoundInspections(anon, "2026-Q1")
	if err != nil || len(pubList) != 3 {
		t.Fatal(err)
	}
	for _, in := range pubList {
		if in.InspectorIDs != nil || in.Result == "" || !in.Published {
			t.Fatalf("public inspection %+v", in)
		}
	}
	byProp, err := public.Inspections(anon, f.targets)
	if err != nil || len(byProp) != 3 {
		t.Fatalf("public inspections by compound: %d %v", len(byProp), err)
	}
	if _, err := public.Inspectors(anon, []string{"HS-01"}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("public inspectors: %v", err)
	}
	if replay, err := public.ReplayDraw(anon, "2026-Q1"); err != nil || !replay.Matches {
		t.Fatalf("public replay: %+v %v", replay, err)
	}
	// An unpublished round stays with staff.
	if _, _, err := f.svc.DrawInspections(ctx, "2026-Q2", 0.25, 2, 6); err != nil {
		t.Fatal(err)
	}
	staff, err := f.svc.Inspections(ctx, f.targets)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := public.Inspections(anon, f.targets)
	if err != nil {
		t.Fatal(err)
	}
	count := func(m map[uuid.UUID][]property.Inspection) (n int) {
		for _, l := range m {
			n += len(l)
		}
		return n
	}
	if count(staff) != 6 || count(pub) != 3 {
		t.Fatalf("staff see %d inspections, the public %d; want 6 and 3", count(staff), count(pub))
	}
	names, err := f.svc.Inspectors(ctx, []string{"HS-02", "HS-03", "nobody"})
	if err != nil || len(names) != 2 || names[0].Name == "" {
		t.Fatalf("inspectors: %+v %v", names, err)
	}
}

func TestSeedProperties(t *testing.T) {
	pool := isolatedProperties(t)
	ctx := context.Background()
	start := time.Now()
	if err := seed.SeedProperties(ctx, pool, 20250101, calendar.Default()); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	if n := outboxTotal(t, pool); n != 0 {
		t.Fatalf("seeding wrote %d outbox rows; a bulk demo load is not a stream of changes", n)
	}
	if err := seed.SeedProperties(ctx, pool, 20250101, calendar.Default()); !errors.Is(err, seed.ErrPropertiesSeeded) {
		t.Fatalf("second seed: %v", err)
	}
	var compounds, done, managed, withPermit, inspectors, rounds, published int
	err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE renovation_status = 'DONE'),
		count(*) FILTER (WHERE mgmt_company IS NOT NULL),
		count(*) FILTER (WHERE EXISTS (SELECT 1 FROM building_permits b WHERE b.property_id = p.id)),
		(SELECT count(*) FROM inspectors), (SELECT count(*) FROM inspection_rounds),
		(SELECT count(*) FROM inspection_rounds WHERE published)
		FROM properties p`).Scan(&compounds, &done, &managed, &withPermit, &inspectors, &rounds, &published)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d compounds, %d renovated, %d managed, %d with a permit, %d inspectors, %d rounds", compounds, done, managed, withPermit, inspectors, rounds)
	if compounds != seed.PropertyCompounds || done != seed.PropertyRenovated || inspectors != seed.PropertyInspectors ||
		rounds != len(seed.PropertyRounds) || published != rounds || withPermit < compounds/2 || withPermit > compounds*7/10 {
		t.Fatal("demo data out of shape")
	}
	svc := propService(pool, housingDesk())
	staff := housingOfficer()
	for _, round := range seed.PropertyRounds {
		replay, err := svc.ReplayDraw(staff, round)
		if err != nil || !replay.Matches || !replay.HashesMatch {
			t.Fatalf("replay %s: %+v %v", round, replay, err)
		}
	}
	// Every stored compound reads back and validates like an upsert.
	pg, err := svc.List(staff, property.Filter{Jurisdiction: "hailing.chengzhong"}, property.OrderBuildYearDesc, nil, nil)
	if err != nil || len(pg.Properties) == 0 {
		t.Fatalf("list: %v", err)
	}
	for _, p := range pg.Properties {
		if p.Management != nil {
			if err := property.ValidateCreditCode(p.Management.CreditCode); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The next live draw recuses the inspectors of 2025-H2 and 2025-H1.
	r, _, err := svc.DrawInspections(staff, "2026-H1", 0.05, 2, 1)
	if err != nil || r.PreviousRound != "2025-H2" || !slices.Equal(r.PreviousRounds, []string{"2025-H2", "2025-H1"}) ||
		r.Drawn != property.SampleSize(managed, 0.05) {
		t.Fatalf("draw after seeding: %+v %v", r, err)
	}
}

// TestPropertyOutbox checks that creating or changing a compound writes
// one outbox row in its transaction, with the record's scope columns, and
// that unchanged, refused or failed upserts, and the inspection workflow,
// write none.
func TestPropertyOutbox(t *testing.T) {
	pool := setup(t)
	svc := propService(pool, housingDesk())
	ctx := housingOfficer()
	grid, lat, lng := gridIn(t, pool, "hailing.chengxi")
	m := marker()
	in := compound("outbox-"+m, "稻河小区"+m, grid, lat, lng, 1998)

	created, err := svc.Upsert(ctx, in)
	if err != nil || created.Outcome != upsert.Created {
		t.Fatalf("create: %+v %v", created, err)
	}
	p := created.Record
	o := checkChange(t, pool, p.ID, 0, outboxRow{Dataset: "properties", Op: "CREATED", Jurisdiction: grid,
		OwnerDept: "housing", Version: 1})
	if o.Payload["action"] != "CREATE" {
		t.Fatalf("create payload %v", o.Payload)
	}

	// Unchanged and refused upserts write nothing.
	total := outboxTotal(t, pool)
	if r, err := svc.Upsert(ctx, in); err != nil || r.Outcome != upsert.Unchanged {
		t.Fatalf("resend: %+v %v", r, err)
	}
	stale := 0
	changed := in
	changed.Households = 300
	changed.Version = &stale
	if _, err := svc.Upsert(ctx, changed); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v, want CONFLICT", err)
	}
	reader := propService(pool, &access.Decision{Dataset: property.Dataset, Rows: access.RowScope{All: true}, Fields: propFull})
	if _, err := reader.Upsert(as(context.Background(), "planning", "officer"), changed); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("planning writing properties: %v, want FORBIDDEN", err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("unchanged and refused upserts wrote %d outbox rows", got-total)
	}

	// A change: UPDATED, in the compound's new grid.
	grid2, lat2, lng2 := gridIn(t, pool, "hailing.chengdong")
	changed.Version = nil
	changed.Jurisdiction, changed.Lat, changed.Lng = grid2, lat2, lng2
	upd, err := svc.Upsert(ctx, changed)
	if err != nil || upd.Outcome != upsert.Updated || upd.Record.Version != 2 {
		t.Fatalf("update: %+v %v", upd, err)
	}
	o = checkChange(t, pool, p.ID, 1, outboxRow{Dataset: "properties", Op: "UPDATED", Jurisdiction: grid2,
		OwnerDept: "housing", Version: 2})
	if o.Payload["action"] != "UPDATE" {
		t.Fatalf("update payload %v", o.Payload)
	}

	// A transaction that fails after the outbox row was written leaves
	// neither the change nor the row.
	failing := "失败小区" + m
	failAtCommit(t, pool, "properties", "NEW.name = '"+failing+"'")
	total = outboxTotal(t, pool)
	bad := compound("outbox-bad-"+m, failing, grid, lat, lng, 2001)
	if _, err := svc.Upsert(ctx, bad); !failedAtCommit(err) {
		t.Fatalf("create: %v, want the failure at commit", err)
	}
	changed.Name = failing
	if _, err := svc.Upsert(ctx, changed); !failedAtCommit(err) {
		t.Fatalf("update: %v, want the failure at commit", err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("failed transactions left %d outbox rows", got-total)
	}
	if cur, err := svc.Get(ctx, p.ID); err != nil || cur.Version != 2 || cur.Name == failing {
		t.Fatalf("failed update changed the compound: %+v %v", cur, err)
	}
}

// TestInspectionsWriteNoOutbox: draws, results and publication are not
// changes of a compound, so subscribers to properties hear nothing of them.
func TestInspectionsWriteNoOutbox(t *testing.T) {
	f := newDrawFixture(t, 8)
	ctx := housingOfficer()
	before := outboxTotal(t, f.pool)
	if before != 10 {
		t.Fatalf("%d outbox rows for the fixture's 10 compounds", before)
	}
	if _, _, err := f.svc.DrawInspections(ctx, "2026-Q3", 0.25, 2, 7); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.RoundInspections(ctx, "2026-Q3")
	if err != nil || len(list) == 0 {
		t.Fatalf("%d inspections, %v", len(list), err)
	}
	for _, in := range list {
		if _, err := f.svc.RecordResult(ctx, in.ID, property.ResultInput{Result: property.ResultPass}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.PublishRound(ctx, "2026-Q3"); err != nil {
		t.Fatal(err)
	}
	if got := outboxTotal(t, f.pool); got != before {
		t.Fatalf("the inspection workflow wrote %d outbox rows", got-before)
	}
}
