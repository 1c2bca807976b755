package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv/procs"
)

// faultHub starts a hub on the given database and Redis URLs.
func faultHub(t *testing.T, dbURL, redisURL string, vars map[string]string) *hub {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		switch k {
		case "DATABASE_URL":
			return dbURL
		case "REDIS_URL":
			return redisURL
		case "REDIS_PREFIX":
			return "faults:" + t.Name() + ":"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		app.Options{Now: func() time.Time { return seedNow }})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg}
}

func (h *hub) get(path string) (int, string) {
	h.t.Helper()
	res, err := http.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

const casesCount = `{ cases(first: 1) { totalCount } }`

// TestRedisOutage: with Redis down, reads go on, the instance stays in
// rotation (degraded, not unready), and the limits still apply, per instance.
func TestRedisOutage(t *testing.T) {
	newHub(t) // seeds the package database
	rds := procs.StartRedis(t)
	h := faultHub(t, env.DatabaseURL, rds.URL(), map[string]string{"RATE_LIMIT_CITIZEN": "3/1m"})
	staff := h.token("urban-management", "officer")
	key := h.citizenApp()

	rds.Stop()

	if r := h.do(staff, casesCount, nil); len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("a read with Redis down: %d %+v", r.Status, r.Errors)
	}
	if code, body := h.get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"degraded":["redis"]`) {
		t.Fatalf("readyz with Redis down: %d %s", code, body)
	}
	q := `{ myCases { totalCount } }`
	for i := range 3 {
		if r := h.asCitizen(key, "cit-outage", q, nil); len(r.Errors) > 0 {
			t.Fatalf("citizen request %d with Redis down: %+v", i, r.Errors)
		}
	}
	if r := h.asCitizen(key, "cit-outage", q, nil); r.Status != http.StatusTooManyRequests || r.code(0) != "RATE_LIMITED" {
		t.Fatalf("4th citizen request with Redis down: %d %+v", r.Status, r.Errors)
	}

	rds.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := h.get("/readyz")
		if code == http.StatusOK && strings.Contains(body, `"ready"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz 10 s after Redis came back: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ownDatabase starts a PostgreSQL of the test's own with a small seeded
// hub database, and returns the server and the database's URL.
func ownDatabase(t *testing.T) (*procs.Postgres, string) {
	t.Helper()
	ctx := context.Background()
	pg := procs.StartPostgres(t)
	dbURL, err := pg.CreateDatabase(ctx, "datahub")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: dbURL, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.All(ctx, pool, seed.Options{Seed: 7, Cases: 300, Now: seedNow, Calendar: calendar.Default()}, nil); err != nil {
		t.Fatal(err)
	}
	return pg, dbURL
}

// TestPostgresRestartUnderLoad: while the database restarts, requests fail
// at once with SERVICE_UNAVAILABLE (never INTERNAL, never held until the
// request timeout), readiness says so, and the same hub serves again once
// the database is back, without a restart of its own.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg, dbURL := ownDatabase(t)
	h := faultHub(t, dbURL, env.RedisURL, map[string]string{"REQUEST_TIMEOUT": "30s"})
	staff := h.token("urban-management", "officer")
	if r := h.do(staff, casesCount, nil); len(r.Errors) > 0 {
		t.Fatalf("before the restart: %+v", r.Errors)
	}

	// Load: readers in a loop, each request timed and its outcome counted.
	var (
		stop             atomic.Bool
		ok, unavailable  atomic.Int64
		mu               sync.Mutex
		others           []string
		slowest          time.Duration
		wg               sync.WaitGroup
		down             = make(chan struct{})
		okAfterDownStart atomic.Int64
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				start := time.Now()
				r := h.do(staff, casesCount, nil)
				took := time.Since(start)
				mu.Lock()
				slowest = max(slowest, took)
				mu.Unlock()
				switch {
				case len(r.Errors) == 0:
					ok.Add(1)
					select {
					case <-down:
					default:
						continue
					}
					okAfterDownStart.Add(1)
				case r.code(0) == "SERVICE_UNAVAILABLE":
					unavailable.Add(1)
				default:
					mu.Lock()
					others = append(others, r.code(0)+": "+r.Errors[0].Message)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	pg.Stop()
	close(down)
	time.Sleep(500 * time.Millisecond)
	if code, body := h.get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "postgres") {
		t.Errorf("readyz with PostgreSQL down: %d %s", code, body)
	}
	pg.Start()
	deadline := time.Now().Add(20 * time.Second)
	for h.do(staff, casesCount, nil).Errors != nil {
		if time.Now().After(deadline) {
			t.Fatal("the hub did not serve again within 20 s of the database's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if len(others) > 0 {
		t.Errorf("%d requests failed with another code than SERVICE_UNAVAILABLE, e.g. %s", len(others), others[0])
	}
	if unavailable.Load() == 0 {
		t.Error("no request saw SERVICE_UNAVAILABLE while the database was down")
	}
	if slowest > 10*time.Second {
		t.Errorf("a request took %s: requests must fail fast while the database is down", slowest)
	}
	if code, _ := h.get("/readyz"); code != http.StatusOK {
		t.Errorf("readyz after the restart: %d", code)
	}
	t.Logf("ok %d, unavailable %d, slowest %s", ok.Load(), unavailable.Load(), slowest)
}

// TestPostgresRestartUnderWriteLoad: case transitions write the case, a
// timeline event and an outbox row in one transaction. While PostgreSQL
// restarts under a stream of them, every failure is SERVICE_UNAVAILABLE,
// every acknowledged write stays, and nothing is half-applied: each case's
// status is its last timeline event's, and its version, timeline and outbox
// rows agree one to one.
func TestPostgresRestartUnderWriteLoad(t *testing.T) {
	ctx := context.Background()
	pg, dbURL := ownDatabase(t)
	h := faultHub(t, dbURL, env.RedisURL, map[string]string{"REQUEST_TIMEOUT": "30s"})
	var grid string
	if err := h.app.Pool.QueryRow(ctx, `SELECT code FROM jurisdictions WHERE level = 'GRID'
		AND code LIKE 'hailing.chengdong.%' ORDER BY code LIMIT 1`).Scan(&grid); err != nil {
		t.Fatal(err)
	}
	tok := h.token("urban-management", "officer", "dispatcher")
	marker := fmt.Sprintf("pg-restart-load-%d", time.Now().UnixNano())
	const dispatch = `mutation($id: ID!, $v: Int) { dispatchCase(id: $id, dept: "street-chengdong", version: $v) { id version } }`

	var (
		mu       sync.Mutex
		writes   []acked
		others   []string
		ok       atomic.Int64
		failed   atomic.Int64
		seq      atomic.Int64
		restored = make(chan struct{})
		after    atomic.Int64
		wg       sync.WaitGroup
	)
	const (
		writers    = 4
		opsCap     = 200 // acknowledged rounds per writer
		afterCount = 40  // acknowledged writes after the database is back
	)
	// step runs one mutation and records its outcome; it reports whether
	// the write was acknowledged.
	step := func(query, field string, vars map[string]any) (caseRef, bool) {
		r, err := post(ctx, h.srv.URL, tok, "", query, vars)
		var c caseRef
		switch {
		case err != nil:
			mu.Lock()
			others = append(others, "transport: "+err.Error())
			mu.Unlock()
		case len(r.Errors) == 0 && json.Unmarshal(r.Data[field], &c) == nil && c.ID != "":
			ok.Add(1)
			mu.Lock()
			writes = append(writes, acked{c.ID, c.Version})
			mu.Unlock()
			select {
			case <-restored:
				after.Add(1)
			default:
			}
			return c, true
		case r.code(0) == "SERVICE_UNAVAILABLE":
			failed.Add(1)
		default:
			mu.Lock()
			others = append(others, fmt.Sprintf("%s: %d %+v", field, r.Status, r.Errors))
			mu.Unlock()
		}
		return c, false
	}
	// Bounded by acknowledged rounds, by writes after the restart and by
	// time, whichever comes first.
	deadline := time.Now().Add(90 * time.Second)
	stopped := func(ops int) bool {
		return ops >= opsCap || after.Load() >= afterCount || time.Now().After(deadline)
	}
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A case whose step failed is left as it is: the failure may
			// have come after the commit, and the checks below cover it.
			for ops := 0; !stopped(ops); {
				c, done := step(reportForLoad, "reportCase", map[string]any{"in": map[string]any{
					"kind": "EVENT", "minorCode": "0502", "source": "INSPECTOR_PATROL",
					"description": fmt.Sprintf("%s %d", marker, seq.Add(1)), "lat": 32.49, "lng": 119.93,
					"jurisdiction": grid, "reporterName": "赵六", "reporterPhone": "13700001234"}})
				if !done {
					time.Sleep(10 * time.Millisecond) // a client's pause before it retries
					continue
				}
				ops++
				if c, done = step(registerCase, "registerCase", map[string]any{"id": c.ID, "v": c.Version}); !done {
					continue
				}
				step(dispatch, "dispatchCase", map[string]any{"id": c.ID, "v": c.Version})
			}
		}()
	}
	// Restart once some writes are through, and wait for acknowledged
	// writes again afterwards (the writers stop after afterCount of them).
	if !waitUntil(30*time.Second, func() bool { return ok.Load() >= 20 }) {
		t.Fatalf("only %d writes acknowledged in 30 s before the restart", ok.Load())
	}
	pg.Stop()
	if !waitUntil(10*time.Second, func() bool { return failed.Load() > 0 }) {
		t.Error("no write saw SERVICE_UNAVAILABLE while the database was down")
	}
	pg.Start()
	close(restored)
	wg.Wait()
	if after.Load() < afterCount {
		t.Errorf("only %d writes acknowledged after the database came back", after.Load())
	}
	if len(others) > 0 {
		t.Errorf("%d writes failed otherwise than with SERVICE_UNAVAILABLE, e.g. %s", len(others), others[0])
	}

	pool := h.app.Pool
	for _, w := range writes {
		var version int
		if err := pool.QueryRow(ctx, `SELECT version FROM cases WHERE id = $1`, w.id).Scan(&version); err != nil || version < w.version {
			t.Errorf("acknowledged write of case %s v%d: now v%d, %v", w.id, w.version, version, err)
		}
	}
	// Whole transactions or nothing, for every case of the load, including
	// those whose outcome the client never learned.
	var cases, broken int
	var example string
	if err := pool.QueryRow(ctx, `WITH c AS (
			SELECT c.id, c.status, c.version,
				(SELECT e.to_status FROM case_events e WHERE e.case_id = c.id ORDER BY e.at DESC, e.id DESC LIMIT 1) AS last_status,
				(SELECT count(*) FROM case_events e WHERE e.case_id = c.id) AS events,
				(SELECT count(DISTINCT o.version) FILTER (WHERE o.version BETWEEN 1 AND c.version)
					FROM outbox o WHERE o.dataset = 'cases' AND o.record_id = c.id::text) AS changes,
				(SELECT count(*) FROM outbox o WHERE o.dataset = 'cases' AND o.record_id = c.id::text) AS outbox
			FROM cases c WHERE c.description LIKE $1)
		SELECT count(*), count(*) FILTER (WHERE broken),
			coalesce(min(CASE WHEN broken THEN format('%s: status %s, last event %s, version %s, %s events, %s outbox rows',
				id, status, last_status, version, events, outbox) END), '')
		FROM (SELECT *, last_status IS DISTINCT FROM status OR events <> version OR changes <> version OR outbox <> version AS broken FROM c) x`,
		marker+" %").Scan(&cases, &broken, &example); err != nil {
		t.Fatal(err)
	}
	if broken > 0 {
		t.Errorf("%d of %d cases half-applied, e.g. %s", broken, cases, example)
	}
	t.Logf("%d writes acknowledged (%d cases), %d SERVICE_UNAVAILABLE", len(writes), cases, failed.Load())
}
