package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/parking/parkingtest"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// setupTB is setup for benchmarks too.
func setupTB(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := env.Pool(tb)
	var err error
	directoryOnce.Do(func() { err = insertDirectory(context.Background(), pool) })
	if err != nil {
		tb.Fatalf("insert directory: %v", err)
	}
	return pool
}

// parkingMigrationUp is the Up section of the parking migration and the
// statements of later migrations on parking_lots, the single source of the
// tables' DDL.
var parkingMigrationUp = sync.OnceValues(func() (string, error) {
	up := func(name string) (string, error) {
		b, err := os.ReadFile("migrations/" + name)
		if err != nil {
			return "", err
		}
		up, _, ok := strings.Cut(string(b), "-- +goose Down")
		if !ok {
			return "", fmt.Errorf("%s has no Down section", name)
		}
		return up, nil
	}
	ddl, err := up("00100_parking.sql")
	if err != nil {
		return "", err
	}
	later, err := up("00220_recusal_lookback_lot_opened.sql")
	if err != nil {
		return "", err
	}
	// That migration also alters inspection_rounds, which lives in public
	// here: only its parking statements apply to the fresh schema.
	for _, stmt := range strings.Split(later, ";") {
		if strings.Contains(stmt, "parking_lots") {
			ddl += stmt + ";\n"
		}
	}
	return ddl, nil
})

// parkingSchema returns a pool on a fresh schema holding empty parking
// tables (the directory and PostGIS stay in public, next on the
// search_path): for tests that need to know every lot there is.
func parkingSchema(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	setupTB(tb)
	pool, _ := env.Schema(tb)
	up, err := parkingMigrationUp()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(context.Background(), up); err != nil {
		tb.Fatalf("create parking tables: %v", err)
	}
	return pool
}

// grids returns the seeded directory's grids: those under a street or
// town that has its office among the departments. Other tests of the
// package add streets of their own (with grids but no office), on which
// the demo generator would name owner departments that do not exist.
func grids(tb testing.TB, pool *pgxpool.Pool) []seed.ParkingGrid {
	tb.Helper()
	ctx := context.Background()
	all, err := seed.ParkingGrids(ctx, pool)
	if err != nil || len(all) == 0 {
		tb.Fatalf("grids: %d %v", len(all), err)
	}
	rows, err := pool.Query(ctx, `SELECT jurisdiction_code FROM departments WHERE kind IN ('STREET', 'TOWN')`)
	if err != nil {
		tb.Fatal(err)
	}
	offices, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	var g []seed.ParkingGrid
	for _, gr := range all {
		for _, o := range offices {
			if strings.HasPrefix(gr.Code, o+".") {
				g = append(g, gr)
				break
			}
		}
	}
	if len(g) == 0 {
		tb.Fatal("no grid under a street or town office")
	}
	return g
}

func loadDemo(tb testing.TB, pool *pgxpool.Pool, rs int64, n int) []parking.Lot {
	tb.Helper()
	ctx := context.Background()
	lots := seed.ParkingLots(rs, grids(tb, pool), n)
	if got, err := postgres.NewParkingStore(pool).InsertLots(ctx, lots); err != nil || got != int64(n) {
		tb.Fatalf("insert lots: %d %v", got, err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE parking_lots"); err != nil {
		tb.Fatal(err)
	}
	return lots
}

func parkingWriter(dept string) *access.Decision {
	return &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true}, OwnDept: dept,
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "availability": access.FieldVisible, "contact": access.FieldVisible},
		Actions: []string{"write"}}
}

func publicReader() *access.Decision {
	return &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true},
		Fields: map[string]access.FieldAccess{"core": access.FieldVisible, "availability": access.FieldVisible}}
}

func parkingService(pool *pgxpool.Pool, d *access.Decision, now func() time.Time) *parking.Service {
	return parking.NewService(parking.Config{Store: postgres.NewParkingStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{d},
		Calendar: calendar.Default(), Now: now})
}

func lotInput(ext string) parking.UpsertInput {
	nm := parking.MustRange("22:00-06:00")
	return parking.UpsertInput{ExternalID: ext, Name: "海陵区人民政府机关停车场", Kind: parking.KindGovernmentShared,
		Address: "泰州市海陵区府前路8号", Lat: 32.4902, Lng: 119.9207, OwnerDept: "street-chengzhong",
		Operator: "海陵区人民政府机关", TotalSpaces: 120, SharedSpaces: 60,
		Windows:  parking.Windows{Weekday: []parking.Range{parking.MustRange("18:30-07:30")}, RestDayAllDay: true, NoMovement: &nm},
		MaxSeats: 7, BookingRule: "无需预约", FeeRule: "错时共享时段免费", ContactName: "王师傅", ContactPhone: "0523-86881234"}
}

func TestParkingUpsert(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC))
	svc := parkingService(pool, parkingWriter("traffic-police"), clk.Now)
	ctx := as(context.Background(), "traffic-police", "officer")
	ext := "upsert-" + uuid.NewString()

	created, err := svc.Upsert(ctx, lotInput(ext))
	if err != nil || created.Outcome != upsert.Created || created.Record.Version != 1 {
		t.Fatalf("create: %+v %v", created, err)
	}
	got, err := svc.Get(ctx, created.Record.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.JurisdictionCode == "" || !strings.HasPrefix(got.JurisdictionCode, "hailing.") || got.SourceDept != "traffic-police" ||
		!got.Windows.Equal(created.Record.Windows) || got.Windows.NoMovement == nil || got.MaxSeats != 7 || !got.IsGovernment ||
		got.ContactPhone != "0523-86881234" || !got.CreatedAt.Equal(clk.Now()) {
		t.Fatalf("stored lot differs: %+v", got)
	}

	clk.Advance(time.Hour)
	same, err := svc.Upsert(ctx, lotInput(ext))
	if err != nil || same.Outcome != upsert.Unchanged || same.Record.Version != 1 || !same.Record.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("unchanged: %+v %v", same, err)
	}

	changed := lotInput(ext)
	changed.SharedSpaces = 80
	changed.Windows.Weekday = []parking.Range{parking.MustRange("19:00-07:00")}
	v1 := 1
	changed.Version = &v1
	upd, err := svc.Upsert(ctx, changed)
	if err != nil || upd.Outcome != upsert.Updated || upd.Record.Version != 2 || upd.Record.ID != created.Record.ID {
		t.Fatalf("update: %+v %v", upd, err)
	}

	// The same change re-sent with its (now stale) version: nothing to do.
	if again, err := svc.Upsert(ctx, changed); err != nil || again.Outcome != upsert.Unchanged || again.Record.Version != 2 {
		t.Fatalf("re-send: %+v %v", again, err)
	}
	// Another change on the stale version: CONFLICT, nothing written.
	stale := changed
	stale.TotalSpaces = 150
	if _, err := svc.Upsert(ctx, stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v, want CONFLICT", err)
	}
	zero := 0
	stale.Version = &zero
	if _, err := svc.Upsert(ctx, stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("create-only on an existing lot: %v, want CONFLICT", err)
	}
	cur, _ := svc.Get(ctx, created.Record.ID)
	if cur.Version != 2 || cur.TotalSpaces != 120 || cur.SharedSpaces != 80 || cur.Windows.Weekday[0].String() != "19:00-07:00" {
		t.Fatalf("after refusals: %+v", cur)
	}

	// The owner department may write its lot; another department may not.
	owner := parkingService(pool, parkingWriter("street-chengzhong"), clk.Now)
	octx := as(context.Background(), "street-chengzhong", "officer")
	mine := lotInput("own-" + uuid.NewString())
	if res, err := owner.Upsert(octx, mine); err != nil || res.Record.SourceDept != "street-chengzhong" {
		t.Fatalf("owner create: %+v %v", res, err)
	}
	theirs := lotInput("theirs-" + uuid.NewString())
	theirs.OwnerDept = "street-chengdong"
	if _, err := owner.Upsert(octx, theirs); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("other owner: %v, want FORBIDDEN", err)
	}
	badJ := lotInput("badj-" + uuid.NewString())
	badJ.Jurisdiction = "hailing.nowhere"
	if _, err := svc.Upsert(ctx, badJ); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("unknown jurisdiction: %v", err)
	}
}

func TestParkingConcurrentCreateOneWins(t *testing.T) {
	pool := setup(t)
	svc := parkingService(pool, parkingWriter("traffic-police"), nil)
	ctx := as(context.Background(), "traffic-police", "system")
	ext := "race-" + uuid.NewString()
	var wg sync.WaitGroup
	results := make([]upsert.Result[*parking.Lot], 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = svc.Upsert(ctx, lotInput(ext))
		}()
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("upsert %d: %v", i, err)
		}
		if results[i].Outcome == upsert.Created {
			created++
		}
	}
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM parking_lots WHERE external_id = $1", ext).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if created != 1 || n != 1 {
		t.Fatalf("created %d times, %d rows", created, n)
	}
}

func TestParkingListAndScope(t *testing.T) {
	pool := parkingSchema(t)
	lots := loadDemo(t, pool, 11, 57)
	svc := parkingService(pool, publicReader(), nil)
	ctx := context.Background()

	for _, order := range []parking.Order{parking.OrderName, parking.OrderID} {
		t.Run(string(order), func(t *testing.T) {
			sortKey := "name, id"
			if order == parking.OrderID {
				sortKey = "id"
			}
			rows, err := pool.Query(ctx, "SELECT id FROM parking_lots ORDER BY "+sortKey)
			if err != nil {
				t.Fatal(err)
			}
			var want []uuid.UUID
			for rows.Next() {
				var id uuid.UUID
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			var got []uuid.UUID
			first := 10
			fixture.Walk(t, 11, func(after *string) (fixture.Page[*parking.Lot], error) {
				p, err := svc.List(ctx, parking.Filter{}, order, &first, after)
				if err != nil {
					return fixture.Page[*parking.Lot]{}, err
				}
				return fixture.Page[*parking.Lot]{Rows: p.Lots, HasNext: p.HasNext, Cursor: p.Cursor}, nil
			}, func(_, _ int, l *parking.Lot) { got = append(got, l.ID) })
			if !slices.Equal(got, want) {
				t.Fatalf("walk gave %d lots, want %d in the database's order", len(got), len(want))
			}
			relayRows := fixture.CheckRelay(t, first, func(a page.Args) (fixture.RelayPage[uuid.UUID], error) {
				p, err := svc.ListPage(ctx, parking.Filter{}, order, a)
				if err != nil {
					return fixture.RelayPage[uuid.UUID]{}, err
				}
				return relayPage(p.Lots, func(l *parking.Lot) uuid.UUID { return l.ID }, p.HasNext, p.HasPrev, p.Cursor), nil
			})
			if !slices.Equal(relayRows, want) {
				t.Fatalf("relay walk gave %d lots, want %d in the database's order", len(relayRows), len(want))
			}
		})
	}
	if _, err := svc.List(ctx, parking.Filter{}, parking.OrderID, nil, ptr(parkingPageCursor(t, svc))); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("a NAME cursor on an ID list: %v", err)
	}

	// Filters.
	kindCount := map[parking.Kind]int{}
	streetCount := map[string]int{}
	for _, l := range lots {
		kindCount[l.Kind]++
		streetCount[strings.Join(strings.Split(l.JurisdictionCode, ".")[:2], ".")]++
	}
	big := 200
	p, err := svc.List(ctx, parking.Filter{Kind: parking.KindGovernmentShared}, "", &big, nil)
	if err != nil || len(p.Lots) != kindCount[parking.KindGovernmentShared] {
		t.Fatalf("kind filter: %d lots, want %d (%v)", len(p.Lots), kindCount[parking.KindGovernmentShared], err)
	}
	p, err = svc.List(ctx, parking.Filter{Jurisdiction: "hailing.chengzhong"}, "", &big, nil)
	if err != nil || len(p.Lots) != streetCount["hailing.chengzhong"] {
		t.Fatalf("street filter: %d lots, want %d (%v)", len(p.Lots), streetCount["hailing.chengzhong"], err)
	}

	// Row scopes compile into SQL: a street-only scope sees that street.
	street := access.RowScope{Jurisdictions: []string{"hailing.chengzhong"}}
	scoped := parkingService(pool, &access.Decision{Dataset: parking.Dataset, Rows: street}, nil)
	p, err = scoped.List(ctx, parking.Filter{}, "", &big, nil)
	if err != nil || len(p.Lots) != streetCount["hailing.chengzhong"] {
		t.Fatalf("scoped list: %d, want %d (%v)", len(p.Lots), streetCount["hailing.chengzhong"], err)
	}
	var outside *parking.Lot
	for i := range lots {
		if !strings.HasPrefix(lots[i].JurisdictionCode, "hailing.chengzhong.") {
			outside = &lots[i]
			break
		}
	}
	if _, err := scoped.Get(ctx, outside.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("out of scope: %v, want NOT_FOUND", err)
	}
	nobody := parkingService(pool, &access.Decision{Dataset: parking.Dataset}, nil)
	if p, err := nobody.List(ctx, parking.Filter{}, "", &big, nil); err != nil || len(p.Lots) != 0 {
		t.Fatalf("empty scope: %d %v", len(p.Lots), err)
	}
	if many, err := nobody.GetMany(ctx, []uuid.UUID{lots[0].ID, lots[1].ID}); err != nil || len(many) != 0 {
		t.Fatalf("empty scope GetMany: %d %v", len(many), err)
	}
}

func parkingPageCursor(t *testing.T, svc *parking.Service) string {
	t.Helper()
	one := 1
	p, err := svc.List(context.Background(), parking.Filter{}, parking.OrderName, &one, nil)
	if err != nil || len(p.Lots) != 1 {
		t.Fatal(err)
	}
	return p.Cursor(0)
}

func ptr[T any](v T) *T { return &v }

const earthRadius = 6371008.771 // meters: the sphere PostGIS measures geography on

func haversine(lat1, lng1, lat2, lng2 float64) float64 {
	r := math.Pi / 180
	dlat, dlng := (lat2-lat1)*r, (lng2-lng1)*r
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Sin(dlng/2)*math.Sin(dlng/2)
	return 2 * earthRadius * math.Asin(math.Sqrt(a))
}

type bruteHit struct {
	lot *parking.Lot
	d   float64
}

// bruteNear is the reference answer: every lot's haversine distance,
// filtered, sorted, cut.
func bruteNear(lots []parking.Lot, lat, lng, radius float64, openAt *time.Time, first int) []bruteHit {
	cal := calendar.Default()
	var out []bruteHit
	for i := range lots {
		l := &lots[i]
		d := haversine(lat, lng, l.Lat, l.Lng)
		if d > radius {
			continue
		}
		if openAt != nil && !parking.OpenToPublic(l, *openAt, cal).Open {
			continue
		}
		out = append(out, bruteHit{l, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].d < out[j].d })
	return out[:min(first, len(out))]
}

func TestParkingNearMatchesBruteForce(t *testing.T) {
	pool := parkingSchema(t)
	lots := loadDemo(t, pool, 2025, 2400)
	// Two lots at one point (a building's surface and underground parks).
	twin := lots[0]
	twin.ID, twin.ExternalID, twin.Name = uuid.New(), "twin", twin.Name+"（地下）"
	if _, err := postgres.NewParkingStore(pool).InsertLots(context.Background(), []parking.Lot{twin}); err != nil {
		t.Fatal(err)
	}
	lots = append(lots, twin)
	svc := parkingService(pool, publicReader(), nil)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	times := map[string]*time.Time{
		"any time":             nil,
		"working-day noon":     ptr(time.Date(2025, 6, 10, 4, 0, 0, 0, time.UTC)),
		"working-day 23:00":    ptr(time.Date(2025, 6, 10, 15, 0, 0, 0, time.UTC)),
		"National Day noon":    ptr(time.Date(2025, 10, 1, 4, 0, 0, 0, time.UTC)),
		"make-up Sunday 10:00": ptr(time.Date(2025, 9, 28, 2, 0, 0, 0, time.UTC)),
	}
	type point struct{ lat, lng float64 }
	points := []point{{32.49, 119.92}, {lots[5].Lat, lots[5].Lng}, {twin.Lat, twin.Lng}}
	for range 5 {
		points = append(points, point{32.43 + rng.Float64()*0.12, 119.86 + rng.Float64()*0.12})
	}
	for name, openAt := range times {
		for pi, pt := range points {
			for _, radius := range []float64{300, 2000, 20000} {
				for _, first := range []int{1, 10, 100} {
					t.Run(fmt.Sprintf("%s/p%d/r%.0f/n%d", name, pi, radius, first), func(t *testing.T) {
						got, err := svc.Near(ctx, pt.lat, pt.lng, &radius, openAt, &first)
						if err != nil {
							t.Fatal(err)
						}
						want := bruteNear(lots, pt.lat, pt.lng, radius, openAt, first)
						compareNear(t, got, want, lots, pt.lat, pt.lng, radius)
					})
				}
			}
		}
	}
}

// compareNear checks got against the brute-force answer: same length,
// distances within 1 m position by position, every lot's distance right,
// the same lots except where distances tie within 1 m at the cut.
func compareNear(t *testing.T, got []parking.Nearby, want []bruteHit, lots []parking.Lot, lat, lng, radius float64) {
	t.Helper()
	for i := range lots {
		if d := haversine(lat, lng, lots[i].Lat, lots[i].Lng); math.Abs(d-radius) < 0.01 {
			t.Skipf("a lot lies on the radius: %.3f m", d)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lots, want %d", len(got), len(want))
	}
	ids := map[uuid.UUID]bool{}
	for i, nb := range got {
		if math.Abs(nb.DistanceMeters-want[i].d) > 1 {
			t.Fatalf("row %d: distance %.3f, want %.3f", i, nb.DistanceMeters, want[i].d)
		}
		if own := haversine(lat, lng, nb.Lot.Lat, nb.Lot.Lng); math.Abs(nb.DistanceMeters-own) > 1 {
			t.Fatalf("row %d (%s): reported %.3f m, haversine %.3f m", i, nb.Lot.Name, nb.DistanceMeters, own)
		}
		if i > 0 && nb.DistanceMeters < got[i-1].DistanceMeters {
			t.Fatalf("row %d out of order", i)
		}
		if ids[nb.Lot.ID] {
			t.Fatalf("row %d repeats %s", i, nb.Lot.ID)
		}
		ids[nb.Lot.ID] = true
	}
	if len(want) == 0 {
		return
	}
	cut := want[len(want)-1].d
	for _, w := range want {
		if !ids[w.lot.ID] && math.Abs(w.d-cut) > 1 {
			t.Fatalf("missing %s at %.3f m", w.lot.Name, w.d)
		}
	}
}

func TestParkingNearUsesGiSTIndex(t *testing.T) {
	pool := parkingSchema(t)
	loadDemo(t, pool, 7, 2400)
	store := postgres.NewParkingStore(pool)
	ctx := context.Background()
	queries := map[string]parking.NearQuery{
		"2 km, first page":      {Lat: 32.49, Lng: 119.92, Radius: 2000, Limit: 10},
		"20 km, first page":     {Lat: 32.49, Lng: 119.92, Radius: 20000, Limit: 100},
		"20 km, next batch":     {Lat: 32.49, Lng: 119.92, Radius: 20000, Limit: 512, After: &parking.NearCursor{Distance: 1234.5, Seen: []uuid.UUID{uuid.New()}}},
		"300 m, edge of box":    {Lat: 32.42, Lng: 119.99, Radius: 300, Limit: 16},
		"scoped by street":      {Lat: 32.49, Lng: 119.92, Radius: 5000, Limit: 10},
		"huge limit (no stops)": {Lat: 32.49, Lng: 119.92, Radius: 20000, Limit: 100},
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			scope := access.RowScope{All: true}
			if strings.HasPrefix(name, "scoped") {
				scope = access.RowScope{Jurisdictions: []string{"hailing.chengzhong"}}
			}
			plan, err := store.ExplainNear(ctx, scope, q, false)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "parking_lots_geog") {
				t.Fatalf("Near does not use the GiST index:\n%s", plan)
			}
		})
	}
	// The generic plan (what a cached prepared statement may switch to) too.
	plan, err := store.ExplainNear(ctx, access.RowScope{All: true}, queries["20 km, first page"], true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "$") || strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "parking_lots_geog") {
		t.Fatalf("the generic plan of Near does not use the GiST index:\n%s", plan)
	}
	t.Logf("generic plan:\n%s", plan)
}

func TestParkingOpeningRate(t *testing.T) {
	pool := parkingSchema(t)
	store := postgres.NewParkingStore(pool)
	ctx := context.Background()
	g := grids(t, pool)
	var east, central string
	for _, gr := range g {
		if east == "" && strings.HasPrefix(gr.Code, "hailing.chengdong.") {
			east = gr.Code
		}
		if central == "" && strings.HasPrefix(gr.Code, "hailing.chengzhong.") {
			central = gr.Code
		}
	}
	mk := func(i int, kind parking.Kind, gov bool, total, shared int, grid string) parking.Lot {
		now := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
		return parking.Lot{ID: uuid.New(), Name: fmt.Sprintf("测试停车场%d", i), Kind: kind, IsGovernment: gov, Lat: 32.49, Lng: 119.92,
			JurisdictionCode: grid, OwnerDept: "traffic-police", TotalSpaces: total, SharedSpaces: shared,
			SourceDept: "traffic-police", ExternalID: fmt.Sprintf("rate-%d", i), CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	lots := []parking.Lot{
		mk(1, parking.KindGovernmentShared, true, 100, 40, central),
		mk(2, parking.KindGovernmentShared, true, 60, 30, central),
		mk(3, parking.KindGovernmentShared, true, 80, 20, east),
		mk(4, parking.KindGovernmentShared, true, 50, 0, central), // in the scheme, shares nothing
		mk(5, parking.KindGovernmentShared, true, 70, 0, east),
		mk(6, parking.KindCommercial, true, 300, 300, east), // a hospital's paying car park
		mk(7, parking.KindPublic, false, 200, 200, central),
		mk(8, parking.KindCommercial, false, 500, 500, central),
		mk(9, parking.KindResidential, false, 300, 30, east),
		mk(10, parking.KindOnStreet, false, 20, 20, east),
	}
	if _, err := store.InsertLots(ctx, lots); err != nil {
		t.Fatal(err)
	}
	svc := parkingService(pool, publicReader(), nil)
	r, err := svc.OpeningRate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Open != 3 || r.Total != 6 || r.SharedSpaces != 90 || r.Rate != 0.5 {
		t.Fatalf("rate = %+v, want 3/6 = 0.5 with 90 shared spaces", r)
	}
	scoped := parkingService(pool, &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{Jurisdictions: []string{"hailing.chengzhong"}}}, nil)
	if r, err := scoped.OpeningRate(ctx); err != nil || r.Open != 2 || r.Total != 3 {
		t.Fatalf("scoped rate = %+v %v, want 2/3", r, err)
	}
	empty := parkingService(pool, &access.Decision{Dataset: parking.Dataset}, nil)
	if r, err := empty.OpeningRate(ctx); err != nil || r.Total != 0 || r.Rate != 0 {
		t.Fatalf("empty scope rate = %+v %v", r, err)
	}
	// The CHECK keeps shared government lots government lots.
	bad := mk(11, parking.KindGovernmentShared, false, 10, 5, central)
	if _, err := store.InsertLots(ctx, []parking.Lot{bad}); err == nil {
		t.Fatal("a GOVERNMENT_SHARED lot that is not a government lot was accepted")
	}
}

func TestSeedParking(t *testing.T) {
	pool := parkingSchema(t)
	ctx := context.Background()
	before := outboxTotal(t, pool)
	n, err := seed.SeedParking(ctx, pool, 42, seed.ParkingLotsDefault)
	if err != nil || n != seed.ParkingLotsDefault {
		t.Fatalf("seed: %d %v", n, err)
	}
	if got := outboxTotal(t, pool); got != before {
		t.Fatalf("seeding wrote %d outbox rows; a bulk demo load is not a stream of changes", got-before)
	}
	svc := parkingService(pool, publicReader(), nil)
	r, err := svc.OpeningRate(ctx)
	if err != nil || r.Open != 17 || r.Total != 40 || math.Abs(r.Rate-0.42) > 0.01 {
		t.Fatalf("demo opening rate %+v %v, want about 42 %%", r, err)
	}
	near, err := svc.Near(ctx, 32.49, 119.92, nil, nil, nil)
	if err != nil || len(near) == 0 {
		t.Fatalf("nothing near the centre: %v", err)
	}
	// The 800+ new spaces: lots opened since 2023 hold 800–900 spaces, and
	// every lot reads back with its opening date.
	added, err := svc.AddedSpaces(ctx, seed.ParkingNewSince, nil)
	if err != nil || added.Spaces < seed.ParkingNewSpacesMin || added.Spaces > seed.ParkingNewSpacesMax || added.Lots < 2 {
		t.Fatalf("spaces added since 2023: %+v %v, want 800+", added, err)
	}
	if before, err := svc.AddedSpaces(ctx, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), &seed.ParkingNewSince); err != nil ||
		before.Lots != seed.ParkingLotsDefault-added.Lots {
		t.Fatalf("lots opened before 2023: %+v %v, want the other %d", before, err, seed.ParkingLotsDefault-added.Lots)
	}
	if _, err := svc.AddedSpaces(ctx, seed.ParkingNewSince, &seed.ParkingNewSince); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("empty period: %v, want BAD_USER_INPUT", err)
	}
	if l, err := svc.Get(ctx, near[0].Lot.ID); err != nil || l.OpenedAt == nil || l.OpenedAt.After(time.Now()) {
		t.Fatalf("lot %+v: no opening date (%v)", l, err)
	}
	// Seeding again with the same seed collides: the registry is not
	// silently doubled.
	if _, err := seed.SeedParking(ctx, pool, 42, seed.ParkingLotsDefault); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second seed: %v, want CONFLICT", err)
	}
}

// BenchmarkParkingNear measures Near through the service (SQL, scan,
// opening rule) at the demo registry's size and at 2,400 lots.
func BenchmarkParkingNear(b *testing.B) {
	for _, size := range []int{seed.ParkingLotsDefault, 2400} {
		pool := parkingSchema(b)
		loadDemo(b, pool, 2025, size)
		svc := parkingService(pool, publicReader(), nil)
		ctx := context.Background()
		noon := time.Date(2025, 6, 10, 4, 0, 0, 0, time.UTC) // working day: shared lots closed
		for _, tc := range []struct {
			name   string
			openAt *time.Time
		}{{"any", nil}, {"openAt", &noon}} {
			b.Run(fmt.Sprintf("lots=%d/%s", size, tc.name), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				first := 10
				b.ReportAllocs()
				for b.Loop() {
					lat, lng := 32.45+rng.Float64()*0.08, 119.88+rng.Float64()*0.08
					if _, err := svc.Near(ctx, lat, lng, nil, tc.openAt, &first); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestParkingOutbox checks that creating or changing a lot writes one
// outbox row in its transaction, with the lot's scope columns, and that
// unchanged, refused or failed upserts and availability readings write
// none.
func TestParkingOutbox(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 6, 11, 2, 0, 0, 0, time.UTC))
	// A system of the lot's owner department files it.
	svc := parkingService(pool, parkingWriter("street-chengzhong"), clk.Now)
	ctx := as(context.Background(), "street-chengzhong", "system")
	ext := "outbox-" + uuid.NewString()

	created, err := svc.Upsert(ctx, lotInput(ext))
	if err != nil || created.Outcome != upsert.Created {
		t.Fatalf("create: %+v %v", created, err)
	}
	l := created.Record
	if !strings.HasPrefix(l.JurisdictionCode, "hailing.chengzhong.") {
		t.Fatalf("jurisdiction %q", l.JurisdictionCode)
	}
	o := checkChange(t, pool, l.ID, 0, outboxRow{Dataset: "parking", Op: "CREATED", Jurisdiction: l.JurisdictionCode,
		OwnerDept: "street-chengzhong", Version: 1})
	if o.Payload["action"] != "CREATE" {
		t.Fatalf("create payload %v", o.Payload)
	}

	// Unchanged and refused upserts write nothing.
	total := outboxTotal(t, pool)
	clk.Advance(time.Minute)
	if r, err := svc.Upsert(ctx, lotInput(ext)); err != nil || r.Outcome != upsert.Unchanged {
		t.Fatalf("resend: %+v %v", r, err)
	}
	changed := lotInput(ext)
	changed.SharedSpaces = 90
	zero := 0
	changed.Version = &zero
	if _, err := svc.Upsert(ctx, changed); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("create-only on an existing lot: %v, want CONFLICT", err)
	}
	theirs := lotInput("theirs-" + uuid.NewString())
	theirs.OwnerDept = "street-chengdong"
	if _, err := svc.Upsert(ctx, theirs); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("another department's lot: %v, want FORBIDDEN", err)
	}
	// Availability readings are not record changes.
	if _, err := postgres.NewParkingStore(pool).RecordAvailability(context.Background(), clk.Now(),
		map[uuid.UUID]parking.Availability{l.ID: {Free: 12, At: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("unchanged and refused upserts wrote %d outbox rows", got-total)
	}

	// A change: UPDATED; a lot the traffic police file is still its owner's.
	police := parkingService(pool, parkingWriter("traffic-police"), clk.Now)
	pctx := as(context.Background(), "traffic-police", "officer")
	changed.Version = nil
	if r, err := svc.Upsert(ctx, changed); err != nil || r.Outcome != upsert.Updated || r.Record.Version != 2 {
		t.Fatalf("update: %+v %v", r, err)
	}
	o = checkChange(t, pool, l.ID, 1, outboxRow{Dataset: "parking", Op: "UPDATED", Jurisdiction: l.JurisdictionCode,
		OwnerDept: "street-chengzhong", Version: 2})
	if o.Payload["action"] != "UPDATE" {
		t.Fatalf("update payload %v", o.Payload)
	}
	byPolice := lotInput("police-" + uuid.NewString())
	r, err := police.Upsert(pctx, byPolice)
	if err != nil || r.Outcome != upsert.Created {
		t.Fatalf("police create: %+v %v", r, err)
	}
	checkChange(t, pool, r.Record.ID, 0, outboxRow{Dataset: "parking", Op: "CREATED", Jurisdiction: r.Record.JurisdictionCode,
		OwnerDept: "street-chengzhong", Version: 1})

	// A transaction that fails after the outbox row was written leaves
	// neither the change nor the row.
	failing := "失败停车场 " + ext
	failAtCommit(t, pool, "parking_lots", "NEW.name = '"+failing+"'")
	total = outboxTotal(t, pool)
	bad := lotInput("bad-" + uuid.NewString())
	bad.Name = failing
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
	if cur, err := svc.Get(ctx, l.ID); err != nil || cur.Version != 2 || cur.Name == failing {
		t.Fatalf("failed update changed the lot: %+v %v", cur, err)
	}
	if got, err := postgres.NewParkingStore(pool).BySource(context.Background(), access.RowScope{All: true}, "street-chengzhong", bad.ExternalID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("failed create left a lot: %+v %v", got, err)
	}
}

// TestParkingStoreContract holds the PostgreSQL store to the contract the
// lot service's in-memory fake is held to (internal/parking).
func TestParkingStoreContract(t *testing.T) {
	pool := setup(t)
	inside, _, _ := gridIn(t, pool, "hailing.chengdong")
	outside, _, _ := gridIn(t, pool, "hailing.chengxi")
	parkingtest.Contract(t, parkingtest.Fixture{Store: postgres.NewParkingStore(pool), Inside: inside, Outside: outside,
		InsideDept: "street-chengdong", OtherDept: "street-chengxi"})
}

// TestParkingNearServesChangedLots: Near keeps decoded lots between
// searches, and a lot changed in any way — through the store, or by a bare
// UPDATE that bumps no version — is read again, never served as it was.
// Lots out of the caller's scope stay out however warm the cache is.
func TestParkingNearServesChangedLots(t *testing.T) {
	pool := parkingSchema(t)
	loadDemo(t, pool, 11, 2400)
	store := postgres.NewParkingStore(pool)
	ctx := context.Background()
	all := access.RowScope{All: true}
	q := parking.NearQuery{Lat: 32.49, Lng: 119.92, Radius: 20000, Limit: 5}
	near := func(scope access.RowScope) []parking.Nearby {
		t.Helper()
		got, err := store.Near(ctx, scope, q)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := near(all)
	if len(first) == 0 {
		t.Fatal("no lot near the point")
	}
	lot := first[0].Lot
	// A caller changing what it got does not change what others get.
	lot.Name = "changed by a caller"
	if again := near(all); again[0].Lot.Name == "changed by a caller" {
		t.Fatal("a caller's change to a lot reached the next search")
	}
	if _, err := pool.Exec(ctx, `UPDATE parking_lots SET name = name || '（新）', contact_phone = '13900000000' WHERE id = $1`, first[0].Lot.ID); err != nil {
		t.Fatal(err)
	}
	got := near(all)[0].Lot
	if got.ID != first[0].Lot.ID || !strings.HasSuffix(got.Name, "（新）") || got.ContactPhone != "13900000000" {
		t.Fatalf("after an update Near returned %q, %q: the lot as it was", got.Name, got.ContactPhone)
	}
	// The same search in a scope that excludes the lot, right after it was
	// cached for another caller.
	var street string
	if err := pool.QueryRow(ctx, `SELECT street_code FROM parking_lots WHERE id = $1`, got.ID).Scan(&street); err != nil {
		t.Fatal(err)
	}
	other := "hailing.chengzhong"
	if street == other {
		other = "hailing.chengdong"
	}
	for _, nb := range near(access.RowScope{Jurisdictions: []string{other}}) {
		if nb.Lot.ID == got.ID {
			t.Fatalf("a lot of %s reached a caller scoped to %s", street, other)
		}
	}
}
