package postgres_test

import (
	"context"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The parking service's rules (Near's batching past closed lots and ties,
// input validation, upsert permissions) on the real store.

// isolatedParking returns a pool on a fresh, migrated schema with the
// directory loaded, and the schema's name: Near reads every lot within the
// radius, so its tests must not see lots other tests create meanwhile.
func isolatedParking(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	pool, schema := env.Schema(t)
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate schema: %v", err)
	}
	if err := insertDirectory(ctx, pool); err != nil {
		t.Fatalf("insert directory: %v", err)
	}
	return pool, schema
}

// nearTracer records the Near batches a pool runs: the row limit of every
// statement that is the nearest-first scan of parking_lots.
type nearTracer struct {
	mu     sync.Mutex
	limits []int
}

// nearStatement matches Near's inner query (see nearSQL) and captures its
// LIMIT, which the store writes as a literal.
var nearStatement = regexp.MustCompile(`FROM parking_lots l WHERE [\s\S]* ORDER BY geog <-> [\s\S]* LIMIT (\d+)`)

func (n *nearTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if m := nearStatement.FindStringSubmatch(data.SQL); m != nil {
		limit, _ := strconv.Atoi(m[1])
		n.mu.Lock()
		n.limits = append(n.limits, limit)
		n.mu.Unlock()
	}
	return ctx
}

func (n *nearTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// calls returns the limits of the Near statements seen since the last reset.
func (n *nearTracer) calls() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.limits)
}

func (n *nearTracer) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.limits = nil
}

// tracedPool opens a second pool on schema whose statements tr sees.
func tracedPool(t *testing.T, schema string, tr pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	pool, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: u.String(), MaxConns: 4, Tracer: tr})
	if err != nil {
		t.Fatalf("open traced pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// lotWriter may write every lot (no field rules: the service applies none).
func lotWriter() *access.Decision {
	return &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true}, Actions: []string{"write"}}
}

func TestNearBatchesPastClosedLotsAndTies(t *testing.T) {
	pool, schema := isolatedParking(t)
	ctx := context.Background()
	grid, _, _ := gridIn(t, pool, "hailing.chengzhong")
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	lot := func(ext string, kind parking.Kind, lat, lng float64) parking.Lot {
		return parking.Lot{ID: uuid.New(), Name: "批次测试停车场" + ext, Kind: kind, Lat: lat, Lng: lng,
			JurisdictionCode: grid, OwnerDept: parking.ProviderDept, SourceDept: parking.ProviderDept, ExternalID: ext,
			TotalSpaces: 10, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	// 60 closed government lots nearest, then ties: 5 open lots at one point.
	var lots []parking.Lot
	for i := range 60 {
		l := lot("closed-"+strconv.Itoa(i), parking.KindGovernmentShared, 32.49+float64(i)*0.00001, 119.92)
		l.IsGovernment, l.SharedSpaces, l.Windows = true, 5, parking.StandardSharedWindows()
		lots = append(lots, l)
	}
	var open []uuid.UUID
	for i := range 5 {
		l := lot("open-"+strconv.Itoa(i), parking.KindPublic, 32.495, 119.92)
		lots = append(lots, l)
		open = append(open, l.ID)
	}
	if n, err := postgres.NewParkingStore(pool).InsertLots(ctx, lots); err != nil || n != int64(len(lots)) {
		t.Fatalf("insert lots: %d %v", n, err)
	}

	tr := &nearTracer{}
	svc := parking.NewService(parking.Config{Store: postgres.NewParkingStore(tracedPool(t, schema, tr)),
		Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{lotWriter()}, Calendar: calendar.Default()})
	noon := lt("2025-06-10 12:00").UTC()
	got, err := svc.Near(ctx, 32.49, 119.92, nil, &noon, ptr(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d lots, want 4", len(got))
	}
	seen := map[uuid.UUID]bool{}
	for _, nb := range got {
		if !nb.Status.Open || !slices.Contains(open, nb.Lot.ID) || seen[nb.Lot.ID] {
			t.Fatalf("unexpected lot %+v", nb)
		}
		seen[nb.Lot.ID] = true
	}
	if calls := tr.calls(); len(calls) < 2 {
		t.Fatalf("expected several batches, got %d", len(calls))
	}
	// Without openAt: one query of exactly first, closed lots included.
	tr.reset()
	all, err := svc.Near(ctx, 32.49, 119.92, ptr(20000.0), nil, ptr(100))
	if calls := tr.calls(); err != nil || len(all) != 65 || len(calls) != 1 || calls[0] != 100 {
		t.Fatalf("near without openAt: %d lots, %d calls (limits %v), %v", len(all), len(calls), calls, err)
	}
	// Ties across batch boundaries: all 5 open lots sit at one distance and
	// batches of 16 must neither skip nor repeat any.
	got, err = svc.Near(ctx, 32.49, 119.92, nil, &noon, ptr(100))
	if err != nil || len(got) != 5 {
		t.Fatalf("all open lots: %d, %v", len(got), err)
	}
}

func TestNearValidation(t *testing.T) {
	pool := setup(t)
	svc := parking.NewService(parking.Config{Store: postgres.NewParkingStore(pool), Directory: postgres.NewDirectoryStore(pool),
		Authorizer: fixedAuth{lotWriter()}, Calendar: calendar.Default()})
	tests := []struct {
		name     string
		lat, lng float64
		radius   *float64
		first    *int
		field    string
	}{
		{"latitude", 91, 119.92, nil, nil, "lat"},
		{"NaN latitude", math.NaN(), 119.92, nil, nil, "lat"},
		{"longitude", 32.49, -181, nil, nil, "lng"},
		{"zero radius", 32.49, 119.92, ptr(0.0), nil, "radiusMeters"},
		{"radius too large", 32.49, 119.92, ptr(20000.5), nil, "radiusMeters"},
		{"negative first", 32.49, 119.92, nil, ptr(-1), "first"},
		{"first too large", 32.49, 119.92, nil, ptr(101), "first"},
	}
	for _, tc := range tests {
		_, err := svc.Near(context.Background(), tc.lat, tc.lng, tc.radius, nil, tc.first)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
			t.Errorf("%s: %v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
	if got, err := svc.Near(context.Background(), 32.49, 119.92, ptr(20000.0), nil, ptr(0)); err != nil || len(got) != 0 {
		t.Errorf("first 0: %v %v", got, err)
	}
}

func validInput(ext string) parking.UpsertInput {
	return parking.UpsertInput{ExternalID: ext, Name: "海陵区实验小学停车场", Kind: parking.KindGovernmentShared,
		Address: "泰州市海陵区府前路8号", Lat: 32.4901, Lng: 119.9203, Operator: "海陵区实验小学",
		TotalSpaces: 80, SharedSpaces: 40, Windows: parking.StandardSharedWindows(), MaxSeats: 7,
		ContactName: "王师傅", ContactPhone: "0523-86881234"}
}

func TestUpsertRules(t *testing.T) {
	pool, _ := isolatedParking(t)
	st := postgres.NewParkingStore(pool)
	clk := time.Date(2025, 6, 10, 2, 0, 0, 0, time.UTC)
	svc := parking.NewService(parking.Config{Store: st, Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{lotWriter()}, Calendar: calendar.Default(),
		Now: func() time.Time { return clk }})
	officer := func(dept string) context.Context { return as(context.Background(), dept, "officer") }
	ctx := officer("street-chengzhong")
	in := validInput("SCH-1")
	in.OwnerDept = ""
	res, err := svc.Upsert(ctx, in)
	if err != nil || res.Outcome != upsert.Created || res.Record.OwnerDept != "street-chengzhong" || !res.Record.IsGovernment || res.Record.Version != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	// Another street office may not take it over, nor file one for others.
	other := validInput("SCH-1")
	other.OwnerDept = "street-chengzhong"
	if _, err := svc.Upsert(officer("street-chengdong"), other); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("other department: %v, want FORBIDDEN", err)
	}
	// Without the write action nobody writes.
	ro := parking.NewService(parking.Config{Store: st, Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{&access.Decision{Rows: access.RowScope{All: true}}}, Calendar: calendar.Default()})
	if _, err := ro.Upsert(officer(parking.ProviderDept), validInput("X")); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("no write action: %v", err)
	}
	bad := []struct {
		field string
		edit  func(*parking.UpsertInput)
	}{
		{"externalId", func(in *parking.UpsertInput) { in.ExternalID = " " }},
		{"name", func(in *parking.UpsertInput) { in.Name = "" }},
		{"kind", func(in *parking.UpsertInput) { in.Kind = "GARAGE" }},
		{"location", func(in *parking.UpsertInput) { in.Lat = 31 }},
		{"sharedSpaces", func(in *parking.UpsertInput) { in.SharedSpaces = 81 }},
		{"totalSpaces", func(in *parking.UpsertInput) { in.TotalSpaces = -1 }},
		{"maxSeats", func(in *parking.UpsertInput) { in.MaxSeats = -7 }},
		{"contactPhone", func(in *parking.UpsertInput) { in.ContactPhone = "12345" }},
		{"ownerDept", func(in *parking.UpsertInput) { in.OwnerDept = "no-such-dept" }},
		{"windows.hours", func(in *parking.UpsertInput) { in.Windows.Hours = []parking.Range{parking.AllDay} }},
	}
	for _, b := range bad {
		in := validInput("SCH-bad")
		b.edit(&in)
		_, err := svc.Upsert(officer(parking.ProviderDept), in)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != b.field {
			t.Errorf("%s: %v", b.field, err)
		}
	}
	var n int
	var exts []string
	if err := pool.QueryRow(context.Background(), "SELECT count(*), array_agg(external_id) FROM parking_lots").Scan(&n, &exts); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("invalid input wrote lots: %d (%s)", n, strings.Join(exts, ", "))
	}
}
