package app_test

import (
	"context"
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

// TestPostgresRestartUnderLoad: while the database restarts, requests fail
// at once with SERVICE_UNAVAILABLE (never INTERNAL, never held until the
// request timeout), readiness says so, and the same hub serves again once
// the database is back, without a restart of its own.
func TestPostgresRestartUnderLoad(t *testing.T) {
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
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.All(ctx, pool, seed.Options{Seed: 7, Cases: 300, Now: seedNow, Calendar: calendar.Default()}, nil); err != nil {
		t.Fatal(err)
	}
	pool.Close()
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
