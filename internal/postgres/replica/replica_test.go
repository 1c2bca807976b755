package replica_test

import (
	"bytes"
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
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/postgres/replica"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv/procs"
	"github.com/jackc/pgx/v5"
)

var seedNow = time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)

// waitWait bounds every wait for the health loop: generous, for a shared
// two-core machine.
const waitWait = 60 * time.Second

func TestParseLSN(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		l, err := replica.ParseLSN(s)
		if err != nil || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v, %v", s, l, err)
		}
	}
	a, _ := replica.ParseLSN("1/0")
	b, _ := replica.ParseLSN("0/FFFFFFFF")
	if a <= b {
		t.Errorf("1/0 (%d) must be past 0/FFFFFFFF (%d)", a, b)
	}
	for _, s := range []string{"", "0", "/1", "1/", "x/1", "123456789/0", "1/2/3"} {
		if _, err := replica.ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) accepted", s)
		}
	}
}

type hub struct {
	t   *testing.T
	app *app.App
	srv *httptest.Server
	cfg config.Config
}

type reply struct {
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	lsn string
}

// do posts one operation, sending lsn as the write position when set.
func (h *hub) do(token, lsn, query string, vars map[string]any) (reply, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if lsn != "" {
		req.Header.Set(server.LSNHeader, lsn)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	var r reply
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return r, fmt.Errorf("status %d: %s %v", res.StatusCode, r.Errors[0].Message, r.Errors[0].Extensions)
	}
	r.lsn = res.Header.Get(server.LSNHeader)
	return r, nil
}

func (h *hub) token(dept string, roles ...string) string {
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "tester", Dept: dept, Roles: roles}, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *hub) replica() replica.NodeStats {
	nodes, _ := h.app.Replicas.Stats()
	return nodes[0]
}

func (h *hub) primaryReads() uint64 {
	_, n := h.app.Replicas.Stats()
	return n
}

// waitFor polls cond until it holds or waitWait passes.
func (h *hub) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitWait)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within %s (replica %+v)", what, waitWait, h.replica())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cluster starts a primary with a small seeded hub database, a streaming
// replica of it, a Redis, and a hub using both databases.
func cluster(t *testing.T) (*hub, *procs.Postgres, string) {
	t.Helper()
	ctx := context.Background()
	primary := procs.StartPostgres(t)
	dbURL, err := primary.CreateDatabase(ctx, "datahub")
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
	standby := procs.StartReplica(t, primary)
	rds := procs.StartRedis(t)
	vars := map[string]string{
		"DATABASE_URL": dbURL, "REDIS_URL": rds.URL(), "REDIS_PREFIX": "replica-test:",
		"DATABASE_REPLICA_URLS": standby.URL("datahub"), "REPLICA_MAX_LAG": "1s",
		"RATE_LIMIT_APIKEY": "100000/1m",
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{Now: func() time.Time { return seedNow }})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg}, standby, dbURL
}

const (
	upsertLot = `mutation($in: ParkingLotInput!) { upsertParkingLot(input: $in) { lot { id version totalSpaces } } }`
	readLot   = `query($id: ID!) { parkingLot(id: $id) { version totalSpaces } }`
	casesRead = `{ cases(first: 5) { totalCount edges { node { id } } } }`
)

func lotInput(ext string, spaces int) map[string]any {
	return map[string]any{"in": map[string]any{"externalId": ext, "name": "鼓楼路临时停车场", "kind": "PUBLIC",
		"address": "鼓楼路 88 号", "lat": 32.487, "lng": 119.915, "totalSpaces": spaces,
		"windows": map[string]any{"hours": []string{"07:00-22:00"}}}}
}

type lotReply struct {
	ID          string `json:"id"`
	Version     int    `json:"version"`
	TotalSpaces int    `json:"totalSpaces"`
}

// writeLoad upserts a lot of its own in a loop until stop, so that the
// primary's WAL moves on (and a paused replica falls behind).
func writeLoad(h *hub, token string, stop *atomic.Bool, wg *sync.WaitGroup, failures *atomic.Int64) {
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			if _, err := h.do(token, "", upsertLot, lotInput("tp-replica-load", 10+i%50)); err != nil {
				failures.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// TestReplicaRouting: with a real streaming replica, queries are served by
// it; a caller that sends back the write position of its mutation reads
// its write, under a write load; a replica whose replay is paused falls out
// of rotation and rejoins; a stopped replica is dropped while the hub keeps
// answering, and rejoins when it is back.
func TestReplicaRouting(t *testing.T) {
	h, standby, _ := cluster(t)
	officer := h.token("traffic-police", "officer")
	h.waitFor("the replica joins the rotation", func() bool { return h.replica().Healthy })

	t.Run("queries go to the replica", func(t *testing.T) {
		before, primaryBefore := h.replica().Reads, h.primaryReads()
		for range 20 {
			if _, err := h.do(officer, "", casesRead, nil); err != nil {
				t.Fatal(err)
			}
		}
		served := h.replica().Reads - before
		t.Logf("20 queries: %d statements on the replica, %d on the primary", served, h.primaryReads()-primaryBefore)
		if served < 20 {
			t.Fatalf("the replica served %d statements for 20 queries", served)
		}
		// A mutation reads and writes on the primary only.
		before = h.replica().Reads
		r, err := h.do(officer, "", upsertLot, lotInput("tp-replica-probe", 30))
		if err != nil {
			t.Fatal(err)
		}
		if n := h.replica().Reads - before; n != 0 {
			t.Fatalf("a mutation ran %d statements on the replica", n)
		}
		if _, err := replica.ParseLSN(r.lsn); err != nil {
			t.Fatalf("a mutation's response carries no write position: %q (%v)", r.lsn, err)
		}
	})

	t.Run("read your writes under a write load", func(t *testing.T) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		var loadFailures atomic.Int64
		writeLoad(h, officer, &stop, &wg, &loadFailures)
		defer func() { stop.Store(true); wg.Wait() }()
		replicaBefore, primaryBefore := h.replica().Reads, h.primaryReads()
		var id string
		for i := range 60 {
			w, err := h.do(officer, "", upsertLot, lotInput("tp-replica-ryw", 100+i))
			if err != nil {
				t.Fatal(err)
			}
			var wrote struct {
				UpsertParkingLot struct{ Lot lotReply } `json:"upsertParkingLot"`
			}
			if err := json.Unmarshal(mustJSON(t, w.Data), &wrote); err != nil {
				t.Fatal(err)
			}
			id = wrote.UpsertParkingLot.Lot.ID
			if w.lsn == "" {
				t.Fatalf("write %d: no %s header", i, server.LSNHeader)
			}
			// Every other read waits a little, so that some are served by
			// the replica once it has replayed the write.
			if i%2 == 1 {
				time.Sleep(time.Duration(i%7) * 100 * time.Millisecond)
			}
			r, err := h.do(officer, w.lsn, readLot, map[string]any{"id": id})
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ ParkingLot *lotReply }
			if err := json.Unmarshal(mustJSON(t, r.Data), &got); err != nil {
				t.Fatal(err)
			}
			if got.ParkingLot == nil || got.ParkingLot.TotalSpaces != 100+i || got.ParkingLot.Version < wrote.UpsertParkingLot.Lot.Version {
				t.Fatalf("read %d after its write (version %d, %d spaces) saw %+v", i, wrote.UpsertParkingLot.Lot.Version, 100+i, got.ParkingLot)
			}
		}
		stop.Store(true)
		wg.Wait()
		if n := loadFailures.Load(); n > 0 {
			t.Errorf("%d writes of the load failed", n)
		}
		replicaReads, primaryReads := h.replica().Reads-replicaBefore, h.primaryReads()-primaryBefore
		t.Logf("60 reads after their writes: %d statements on the replica, %d on the primary", replicaReads, primaryReads)
		if replicaReads == 0 || primaryReads == 0 {
			t.Errorf("want reads after writes served by both (replica once it replayed the write, primary before): replica %d, primary %d",
				replicaReads, primaryReads)
		}
	})

	t.Run("a lagging replica is skipped", func(t *testing.T) {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, standby.URL("datahub"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var loadFailures atomic.Int64
		writeLoad(h, officer, &stop, &wg, &loadFailures)
		h.waitFor("the paused replica leaves the rotation", func() bool { return !h.replica().Healthy })
		replicaBefore, primaryBefore := h.replica().Reads, h.primaryReads()
		for range 10 {
			if _, err := h.do(officer, "", casesRead, nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := h.replica().Reads - replicaBefore; n != 0 {
			t.Errorf("the lagging replica served %d statements", n)
		}
		if h.primaryReads() == primaryBefore {
			t.Error("the primary served none of the queries")
		}
		if _, err := c.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		h.waitFor("the replica rejoins after catching up", func() bool { return h.replica().Healthy })
		stop.Store(true)
		wg.Wait()
		if n := loadFailures.Load(); n > 0 {
			t.Errorf("%d writes of the load failed", n)
		}
	})

	t.Run("a stopped replica is dropped and rejoins", func(t *testing.T) {
		standby.Stop()
		// The hub keeps answering from the moment the replica is gone: a
		// statement that cannot reach it is run on the primary.
		for i := range 20 {
			if _, err := h.do(officer, "", casesRead, nil); err != nil {
				t.Fatalf("query %d with the replica stopped: %v", i, err)
			}
		}
		h.waitFor("the stopped replica leaves the rotation", func() bool { return !h.replica().Healthy })
		h.metric(t, fmt.Sprintf(`datahub_db_replica_healthy{replica="127.0.0.1:%d/datahub"} 0`, standby.Port))
		standby.Start()
		h.waitFor("the restarted replica rejoins", func() bool { return h.replica().Healthy })
		before := h.replica().Reads
		for range 5 {
			if _, err := h.do(officer, "", casesRead, nil); err != nil {
				t.Fatal(err)
			}
		}
		if h.replica().Reads == before {
			t.Error("the rejoined replica serves nothing")
		}
		h.metric(t, fmt.Sprintf(`datahub_db_replica_healthy{replica="127.0.0.1:%d/datahub"} 1`, standby.Port))
	})
}

// metric fails the test unless /metrics has line.
func (h *hub) metric(t *testing.T, line string) {
	t.Helper()
	res, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(b), line+"\n") {
		t.Errorf("/metrics has no %q", line)
	}
}

func mustJSON(t *testing.T, data map[string]json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
