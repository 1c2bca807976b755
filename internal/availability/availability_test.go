package availability_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/availability"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

var directoryOnce sync.Once

// The smallest directory lots can live in: the district, one street, one
// community, one grid, the departments the tests use.
const grid = "hailing.chengzhong.pozijie.g01"

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := env.Pool(t)
	var err error
	directoryOnce.Do(func() {
		err = postgres.InTx(context.Background(), pool, func(tx pgx.Tx) error {
			for _, q := range []string{
				`INSERT INTO jurisdictions (code, level, parent_code, name_zh, name_en, lat, lng) VALUES
					('hailing', 'DISTRICT', NULL, '海陵区', 'Hailing District', 32.49, 119.92),
					('hailing.chengzhong', 'STREET', 'hailing', '城中街道', 'Chengzhong Street', 32.49, 119.92),
					('hailing.chengzhong.pozijie', 'COMMUNITY', 'hailing.chengzhong', '坡子街社区', 'Pozijie Community', 32.489, 119.921),
					('hailing.chengzhong.pozijie.g01', 'GRID', 'hailing.chengzhong.pozijie', '坡子街社区第1网格', 'Pozijie Community Grid 1', 32.489, 119.921)`,
				`INSERT INTO departments (code, name_zh, name_en, kind, jurisdiction_code) VALUES
					('traffic-police', '公安交警大队', 'Traffic Police Brigade', 'BUREAU', 'hailing'),
					('urban-management', '城市管理局', 'Urban Management Bureau', 'BUREAU', 'hailing'),
					('housing', '住房和城乡建设局', 'Housing Bureau', 'BUREAU', 'hailing'),
					('planning', '自然资源和规划局', 'Planning Bureau', 'BUREAU', 'hailing'),
					('water', '水利局', 'Water Bureau', 'BUREAU', 'hailing'),
					('environment', '生态环境局', 'Environment Bureau', 'BUREAU', 'hailing'),
					('market-regulation', '市场监督管理局', 'Market Regulation Bureau', 'BUREAU', 'hailing'),
					('street-chengzhong', '城中街道办事处', 'Chengzhong Street Office', 'STREET', 'hailing.chengzhong')`,
			} {
				if _, err := tx.Exec(context.Background(), q); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("insert directory: %v", err)
	}
	return pool
}

var seedN atomic.Int64

// newLots inserts n fresh demo lots (each test its own, by seed).
func newLots(t *testing.T, pool *pgxpool.Pool, n int) []parking.Lot {
	t.Helper()
	lots := seed.ParkingLots(1000+seedN.Add(1), []seed.ParkingGrid{{Code: grid, NameZh: "坡子街社区第1网格", Lat: 32.489, Lng: 119.921}}, n)
	for i := range lots {
		lots[i].ExternalID = uuid.NewString()
		lots[i].ID = uuid.New()
	}
	if _, err := postgres.NewParkingStore(pool).InsertLots(context.Background(), lots); err != nil {
		t.Fatal(err)
	}
	return lots
}

// prefix returns a key prefix of the test's own, whose keys are removed at
// cleanup.
func prefix(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	p := env.RedisPrefix + strings.ReplaceAll(t.Name(), "/", "_") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

// roundTrips counts the data commands and pipelines sent (connection set-up
// such as HELLO aside).
type roundTrips struct {
	mu   sync.Mutex
	sent []string
}

func (r *roundTrips) add(s string) { r.mu.Lock(); r.sent = append(r.sent, s); r.mu.Unlock() }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "client" {
			r.add(n)
		}
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() != "hello" && cmds[0].Name() != "client" {
			r.add(fmt.Sprintf("pipeline of %d %s", len(cmds), cmds[0].Name()))
		}
		return next(ctx, cmds)
	}
}

func newCounter(t *testing.T, pool *pgxpool.Pool, rdb *redis.Client, pfx string, now func() time.Time) *availability.Counter {
	t.Helper()
	store := postgres.NewParkingStore(pool)
	c, err := availability.New(availability.Config{Redis: rdb, Prefix: pfx, Lots: store, History: store, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var base = time.Date(2025, 6, 10, 10, 0, 0, 0, time.UTC)

func TestReportAndCurrent(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	clk := fixture.NewClock(base.Add(time.Hour))
	c := newCounter(t, pool, rdb, pfx, clk.Now)
	lots := newLots(t, pool, 3)
	ctx := context.Background()
	for i, l := range lots {
		cur, stored, err := c.Report(ctx, l.ID, i, base.Add(time.Duration(i)*time.Second))
		if err != nil || !stored || cur.Free != i || !cur.At.Equal(base.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("report %d: %+v %v %v", i, cur, stored, err)
		}
	}
	rt := &roundTrips{}
	rdb.AddHook(rt)
	silent := uuid.New()
	got, err := c.Current(ctx, []uuid.UUID{lots[0].ID, lots[1].ID, lots[2].ID, silent})
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.sent) != 1 || rt.sent[0] != "pipeline of 4 hmget" {
		t.Errorf("Current sent %q, want one pipeline of 4 HMGET", rt.sent)
	}
	if len(got) != 3 {
		t.Fatalf("got %d values, want 3 (a lot that never reported is absent)", len(got))
	}
	for i, l := range lots {
		if v := got[l.ID]; v.Free != i || !v.At.Equal(base.Add(time.Duration(i)*time.Second)) {
			t.Errorf("lot %d: %+v", i, v)
		}
	}
}

func TestReportOutOfOrder(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	c := newCounter(t, pool, rdb, pfx, func() time.Time { return base.Add(time.Hour) })
	lot := newLots(t, pool, 1)[0]
	ctx := context.Background()
	t2, t1 := base.Add(2*time.Minute), base.Add(time.Minute)
	if _, stored, err := c.Report(ctx, lot.ID, 5, t2); err != nil || !stored {
		t.Fatalf("newer: %v %v", stored, err)
	}
	cur, stored, err := c.Report(ctx, lot.ID, 9, t1)
	if err != nil || stored || cur.Free != 5 || !cur.At.Equal(t2) {
		t.Fatalf("older report: %+v stored=%v %v; want ignored, current 5 at t2", cur, stored, err)
	}
	// The same instant replaces (a system correcting itself).
	if cur, stored, err := c.Report(ctx, lot.ID, 4, t2); err != nil || !stored || cur.Free != 4 {
		t.Fatalf("same instant: %+v %v %v", cur, stored, err)
	}
	got, _ := c.Current(ctx, []uuid.UUID{lot.ID})
	if got[lot.ID].Free != 4 || !got[lot.ID].At.Equal(t2) {
		t.Fatalf("current = %+v", got[lot.ID])
	}
	// Concurrent reports from several instances: the newest wins whatever
	// the arrival order.
	other := newCounter(t, pool, rdb, pfx, func() time.Time { return base.Add(time.Hour) })
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := c
			if i%2 == 1 {
				cc = other
			}
			if _, _, err := cc.Report(ctx, lot.ID, i%lot.TotalSpaces, base.Add(10*time.Minute+time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ = c.Current(ctx, []uuid.UUID{lot.ID})
	if want := base.Add(10*time.Minute + 39*time.Second); !got[lot.ID].At.Equal(want) || got[lot.ID].Free != 39%lot.TotalSpaces {
		t.Fatalf("after concurrent reports: %+v, want %d at %v", got[lot.ID], 39%lot.TotalSpaces, want)
	}
}

func TestReportInvalid(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	now := base.Add(time.Hour)
	c := newCounter(t, pool, rdb, pfx, func() time.Time { return now })
	lot := newLots(t, pool, 1)[0]
	ctx := context.Background()
	tests := []struct {
		name  string
		id    uuid.UUID
		free  int
		at    time.Time
		code  apperr.Code
		field string
	}{
		{"negative", lot.ID, -1, base, apperr.BadUserInput, "free"},
		{"more than the lot has", lot.ID, lot.TotalSpaces + 1, base, apperr.BadUserInput, "free"},
		{"from the future", lot.ID, 1, now.Add(time.Hour), apperr.BadUserInput, "at"},
		{"unknown lot", uuid.New(), 1, base, apperr.NotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Report(ctx, tc.id, tc.free, tc.at)
			e, ok := apperr.As(err)
			if !ok || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("err = %v, want %s on %q", err, tc.code, tc.field)
			}
		})
	}
	if got, _ := c.Current(ctx, []uuid.UUID{lot.ID}); len(got) != 0 {
		t.Fatalf("an invalid report was stored: %+v", got)
	}
	// Exactly full and exactly empty are fine.
	for _, free := range []int{0, lot.TotalSpaces} {
		if _, _, err := c.Report(ctx, lot.ID, free, base.Add(time.Duration(free)*time.Second)); err != nil {
			t.Fatalf("free=%d: %v", free, err)
		}
	}
}

func TestReportPublishesChanges(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	c := newCounter(t, pool, rdb, pfx, func() time.Time { return base.Add(time.Hour) })
	lot := newLots(t, pool, 1)[0]
	ctx := context.Background()
	sub := rdb.Subscribe(ctx, availability.Channel(pfx))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	msgs := sub.Channel()
	next := func() (availability.Change, bool) {
		select {
		case m := <-msgs:
			ch, err := availability.DecodeChange(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Payload, `"lotId"`) || !strings.Contains(m.Payload, `"free"`) || !strings.Contains(m.Payload, `"at"`) {
				t.Fatalf("payload %s", m.Payload)
			}
			return ch, true
		case <-time.After(500 * time.Millisecond):
			return availability.Change{}, false
		}
	}
	steps := []struct {
		free    int
		at      time.Duration
		publish bool
	}{
		{7, 1, true},   // first value
		{7, 2, false},  // same count, newer: stored, not published
		{6, 3, true},   // a change
		{9, 0, false},  // older: ignored
		{10, 4, true},  // a change
		{10, 4, false}, // repeated
	}
	for i, s := range steps {
		at := base.Add(s.at * time.Minute)
		if _, _, err := c.Report(ctx, lot.ID, s.free, at); err != nil {
			t.Fatal(err)
		}
		if !s.publish {
			continue
		}
		ch, ok := next()
		if !ok {
			t.Fatalf("step %d: no message", i)
		}
		if ch.LotID != lot.ID || ch.Free != s.free || !ch.At.Equal(at) {
			t.Fatalf("step %d: message %+v", i, ch)
		}
	}
	if ch, ok := next(); ok {
		t.Fatalf("unexpected message %+v", ch)
	}
}

func historyRows(t *testing.T, pool *pgxpool.Pool, lots []parking.Lot) map[time.Time]int {
	t.Helper()
	ids := make([]uuid.UUID, len(lots))
	for i := range lots {
		ids[i] = lots[i].ID
	}
	rows, err := pool.Query(context.Background(), `SELECT at, count(*) FROM parking_availability_history
		WHERE lot_id = ANY($1) GROUP BY at`, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]int{}
	for rows.Next() {
		var at time.Time
		var n int
		if err := rows.Scan(&at, &n); err != nil {
			t.Fatal(err)
		}
		out[at.UTC()] = n
	}
	return out
}

func TestSampleOnceIsIdempotent(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	now := func() time.Time { return base.Add(time.Hour) }
	a := newCounter(t, pool, rdb, pfx, now)
	b := newCounter(t, pool, rdb, pfx, now) // a second hub instance
	lots := newLots(t, pool, 5)
	ctx := context.Background()
	for i, l := range lots {
		if _, _, err := a.Report(ctx, l.ID, i, base); err != nil {
			t.Fatal(err)
		}
	}
	tick := base.Add(time.Minute)
	if n, err := a.SampleOnce(ctx, tick); err != nil || n != 5 {
		t.Fatalf("first sample: %d %v", n, err)
	}
	if n, err := b.SampleOnce(ctx, tick); err != nil || n != 0 {
		t.Fatalf("same tick from another instance: %d %v, want 0", n, err)
	}
	if _, _, err := a.Report(ctx, lots[0].ID, 3, base.Add(90*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := b.SampleOnce(ctx, tick.Add(time.Minute)); err != nil || n != 5 {
		t.Fatalf("next tick: %d %v", n, err)
	}
	got := historyRows(t, pool, lots)
	if len(got) != 2 || got[tick] != 5 || got[tick.Add(time.Minute)] != 5 {
		t.Fatalf("history = %v, want 5 rows at each of 2 ticks", got)
	}
	var free int
	var reported time.Time
	if err := pool.QueryRow(ctx, "SELECT free, reported_at FROM parking_availability_history WHERE lot_id = $1 AND at = $2",
		lots[0].ID, tick.Add(time.Minute)).Scan(&free, &reported); err != nil || free != 3 || !reported.Equal(base.Add(90*time.Second)) {
		t.Fatalf("second tick of lot 0: free %d reported %v %v", free, reported, err)
	}
}

func TestRunSamplerOneRowPerLotPerTick(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	lots := newLots(t, pool, 4)
	const interval = 200 * time.Millisecond
	ticks := make(chan time.Time, 64)
	var errs atomic.Int64
	mk := func() *availability.Counter {
		store := postgres.NewParkingStore(pool)
		c, err := availability.New(availability.Config{Redis: rdb, Prefix: pfx, Lots: store, History: store,
			OnSample: func(at time.Time, _ int64, err error) {
				if err != nil {
					errs.Add(1)
				}
				ticks <- at
			}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(), mk()
	ctx := context.Background()
	for i, l := range lots {
		if _, _, err := a.Report(ctx, l.ID, i, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range []*availability.Counter{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.RunSampler(runCtx, interval); err != nil {
				t.Error(err)
			}
		}()
	}
	// Three ticks seen by both instances.
	seen := map[time.Time]int{}
	deadline := time.After(10 * time.Second)
	for full := 0; full < 3; {
		select {
		case at := <-ticks:
			if at.Truncate(interval) != at {
				t.Errorf("tick %v is not on the interval", at)
			}
			seen[at]++
			if seen[at] == 2 {
				full++
			}
		case <-deadline:
			t.Fatalf("ticks seen: %v", seen)
		}
	}
	cancel()
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d sampler errors", errs.Load())
	}
	for at, n := range historyRows(t, pool, lots) {
		if n != len(lots) {
			t.Errorf("tick %v has %d rows, want %d", at, n, len(lots))
		}
	}
}

func TestServiceReportAvailability(t *testing.T) {
	pool := setup(t)
	rdb := env.Redis(t)
	pfx := prefix(t, rdb)
	now := base.Add(time.Hour)
	counter := newCounter(t, pool, rdb, pfx, func() time.Time { return now })
	lot := newLots(t, pool, 1)[0]
	ctx := context.Background()
	svcFor := func(actions ...string) *parking.Service {
		d := &access.Decision{Dataset: parking.Dataset, Rows: access.RowScope{All: true}, Actions: actions}
		return parking.NewService(parking.Config{Store: postgres.NewParkingStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixture.Auth{D: d},
			Availability: counter, Calendar: calendar.Default(), Now: func() time.Time { return now }})
	}
	as := func(dept string, roles ...string) context.Context {
		return access.WithPrincipal(ctx, &access.Principal{Kind: access.KindService, Subject: "k-" + dept, Dept: dept, Roles: roles})
	}
	at := base.Add(30 * time.Minute)
	tests := []struct {
		name    string
		svc     *parking.Service
		ctx     context.Context
		free    int
		code    apperr.Code
		wantNow int
	}{
		{"traffic police system", svcFor("write"), as("traffic-police", "system"), 3, "", 3},
		{"owner department", svcFor("write"), as(lot.OwnerDept, "system"), 2, "", 2},
		{"another department with write", svcFor("write"), as(otherDept(lot.OwnerDept), "system"), 1, apperr.Forbidden, 2},
		{"no write action", svcFor(), as("traffic-police", "viewer"), 1, apperr.Forbidden, 2},
		{"too many free spaces", svcFor("write"), as("traffic-police", "system"), lot.TotalSpaces + 1, apperr.BadUserInput, 2},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			when := at.Add(time.Duration(i) * time.Second)
			_, err := tc.svc.ReportAvailability(tc.ctx, lot.ID, tc.free, &when)
			if tc.code == "" && err != nil || tc.code != "" && !apperr.Is(err, tc.code) {
				t.Fatalf("err = %v, want %q", err, tc.code)
			}
			cur, err := svcFor().Availability(ctx, []uuid.UUID{lot.ID})
			if err != nil || cur[lot.ID].Free != tc.wantNow {
				t.Fatalf("current = %+v %v, want %d", cur[lot.ID], err, tc.wantNow)
			}
		})
	}
	if _, err := svcFor("write").ReportAvailability(as("traffic-police", "system"), uuid.New(), 1, nil); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown lot: %v", err)
	}
}

func otherDept(owner string) string {
	if owner == "urban-management" {
		return "housing"
	}
	return "urban-management"
}
