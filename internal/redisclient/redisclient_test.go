package redisclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/availability"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/policy/casbinredis"
	"github.com/fengcheng/datahub/internal/ratelimit"
	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/internal/testenv/procs"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

var env testenv.Env

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; a failover makes many.
	redis.SetLogger(quiet{})
	os.Exit(testenv.Main(m, &env))
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// wait bounds every wait: generous, for a shared two-core machine.
const wait = 90 * time.Second

func TestNew(t *testing.T) {
	tests := []struct {
		url  string
		kind string // "client", "failover", "cluster" or "" for an error
	}{
		{"redis://127.0.0.1:6379/0", "client"},
		{"redis://:secret@127.0.0.1:6379/2", "client"},
		{"redis-sentinel://127.0.0.1:26379,127.0.0.1:26380,127.0.0.1:26381/mymaster", "failover"},
		{"redis-sentinel://:secret@10.0.0.1:26379/mymaster?db=3&sentinel_password=s", "failover"},
		{"redis-sentinel://10.0.0.1/mymaster", "failover"},
		{"redis-cluster://10.0.0.1:7000,10.0.0.2:7000", "cluster"},
		{"redis-cluster://:secret@10.0.0.1:7000", "cluster"},
		{"redis-sentinel://127.0.0.1:26379", ""}, // no master name
		{"redis-sentinel://127.0.0.1:26379/m?db=x", ""},
		{"redis-sentinel:///mymaster", ""},      // no hosts
		{"redis-cluster://10.0.0.1:7000/3", ""}, // clusters have db 0 only
		{"127.0.0.1:6379", ""},                  // no scheme
		{"http://127.0.0.1:6379", ""},
	}
	for _, tc := range tests {
		c, err := redisclient.New(tc.url)
		if tc.kind == "" {
			if err == nil {
				_ = c.Close()
				t.Errorf("New(%q) accepted", tc.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tc.url, err)
			continue
		}
		kind := "client"
		switch c.(type) {
		case *redis.ClusterClient:
			kind = "cluster"
		case *redis.Client:
			if tc.url[:len("redis-sentinel")] == "redis-sentinel" {
				kind = "failover" // NewFailoverClient returns a *redis.Client
			}
		}
		if kind != tc.kind {
			t.Errorf("New(%q) = %T, want a %s client", tc.url, c, tc.kind)
		}
		_ = c.Close()
	}
}

// instance is what one hub instance runs on Redis in this test.
type instance struct {
	rdb     redis.UniversalClient
	broker  *events.Broker
	watcher *casbinredis.Watcher
	limiter *ratelimit.Limiter
	// policy receives every policy message from another instance.
	policy chan casbinredis.Message
	// received holds the ids of the events its subscriptions delivered.
	mu       sync.Mutex
	received map[uuid.UUID]bool
}

func (in *instance) got(id uuid.UUID) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.received[id]
}

// run starts fn until the test ends.
func run(t *testing.T, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startInstance connects through the Sentinels and runs what every hub
// instance runs on Redis: an outbox relay, the event broker with one
// subscriber that resubscribes whenever its subscription ends (as a client
// reconnects), the policy watcher and the rate limiter.
func startInstance(t *testing.T, url, prefix string, pool *pgxpool.Pool) *instance {
	t.Helper()
	rdb, err := redisclient.New(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	log := logger(t)
	in := &instance{rdb: rdb, received: map[uuid.UUID]bool{}, policy: make(chan casbinredis.Message, 64),
		limiter: ratelimit.New(rdb, prefix, nil)}
	relay := events.NewRelay(pool, rdb, events.RelayConfig{Prefix: prefix, PollInterval: 20 * time.Millisecond, NoListen: true,
		RetryMax: 200 * time.Millisecond, CheckInterval: 100 * time.Millisecond, Logger: log})
	run(t, relay.Run)
	in.broker = events.NewBroker(rdb, events.BrokerConfig{Prefix: prefix, Block: 200 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		CheckInterval: 100 * time.Millisecond, HealthCheck: time.Second, Logger: log})
	run(t, in.broker.Run)
	select {
	case <-in.broker.Ready():
	case <-time.After(wait):
		t.Fatal("broker not ready")
	}
	run(t, func(ctx context.Context) error {
		all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
		for ctx.Err() == nil {
			if in.broker.Available() != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			ch, cancel := in.broker.Subscribe(ctx, all)
			for e := range ch {
				if e.Err == nil {
					in.mu.Lock()
					in.received[e.ID] = true
					in.mu.Unlock()
				}
			}
			cancel()
		}
		return nil
	})
	in.watcher, err = casbinredis.New(context.Background(), casbinredis.Config{Client: rdb, Channel: prefix + "policy",
		RetryMax: 200 * time.Millisecond, HealthCheck: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.watcher.Close)
	if err := in.watcher.SetUpdateCallback(func(raw string) {
		var m casbinredis.Message
		_ = json.Unmarshal([]byte(raw), &m)
		select {
		case in.policy <- m:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

// eventually polls cond until it holds or wait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// policyReaches publishes a policy change on from (again while Redis
// refuses it, as the grant service's caller would retry) and waits until
// to hears of it: the message itself or, after a resubscription, a resync.
func policyReaches(t *testing.T, from, to *instance, publish func(*casbinredis.Watcher) error) string {
	t.Helper()
	for {
		select {
		case <-to.policy:
		default:
			goto drained
		}
	}
drained:
	eventually(t, "a policy change published", func() bool { return publish(from.watcher) == nil })
	select {
	case m := <-to.policy:
		return m.Op
	case <-time.After(wait):
		t.Fatalf("the other instance heard nothing of a policy change within %s", wait)
	}
	return ""
}

// TestSentinelFailover: two instances on a Redis primary, a replica and
// three Sentinels. The primary is killed while events are written; the
// Sentinels promote the replica and both instances follow it: every event
// written reaches the stream and both instances' subscribers (which
// resubscribe when their subscription ends, as a client reconnects) go on
// receiving, grants and revocations published after the failover reach the
// other instance, and rate limits are counted again.
func TestSentinelFailover(t *testing.T) {
	g := procs.StartSentinelGroup(t)
	pool, _ := env.Schema(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE TABLE outbox (LIKE public.outbox INCLUDING ALL)"); err != nil {
		t.Fatalf("create outbox: %v", err)
	}
	prefix := "sentinel-test:"
	a := startInstance(t, g.URL(), prefix, pool)
	b := startInstance(t, g.URL(), prefix, pool)

	// The write load: outbox rows as the stores write them, every 20 ms.
	var (
		mu      sync.Mutex
		written []uuid.UUID
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for !stop.Load() {
			id := uuid.Must(uuid.NewV7())
			if _, err := pool.Exec(ctx, `INSERT INTO outbox (event_id, dataset, record_id, op, jurisdiction, owner_dept,
				handling_dept, citizen_id, version, payload) VALUES ($1, 'cases', $2, 'UPDATED', '', '', '', '', 1, '{}')`,
				id, uuid.NewString()); err != nil {
				t.Errorf("insert outbox: %v", err)
				return
			}
			mu.Lock()
			written = append(written, id)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	defer func() { stop.Store(true); wg.Wait() }()
	last := func() uuid.UUID {
		mu.Lock()
		defer mu.Unlock()
		return written[len(written)-1]
	}

	eventually(t, "the first events reach both instances", func() bool {
		mu.Lock()
		n := len(written)
		mu.Unlock()
		if n < 10 {
			return false
		}
		id := last()
		return a.got(id) && b.got(id)
	})
	if op := policyReaches(t, a, b, func(w *casbinredis.Watcher) error {
		return w.UpdateForAddPolicy("p", "p", "grant-before")
	}); op == "" {
		t.Fatal("no policy message before the failover")
	}

	// A live parking counter, reported through instance a and read
	// through b (the citizen app's free spaces).
	lot := uuid.New()
	counters := func(in *instance) *availability.Counter {
		c, err := availability.New(availability.Config{Redis: in.rdb, Prefix: prefix, Lots: fixedCapacity{lot: 40}, Logger: logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := counters(a), counters(b)
	if _, _, err := ca.Report(ctx, lot, 12, time.Now()); err != nil {
		t.Fatalf("report before the failover: %v", err)
	}

	old := g.Primary()
	old.Stop() // SIGKILL: the primary is gone, as after a crash
	failedAt := time.Now()
	promoted := g.WaitPrimary(old)
	t.Logf("Sentinels promoted 127.0.0.1:%d in %s", promoted.Port, time.Since(failedAt).Round(time.Millisecond))

	// Writes go on; the events written after the failover reach both.
	mu.Lock()
	mark := len(written)
	mu.Unlock()
	eventually(t, "events written after the failover reach both instances", func() bool {
		mu.Lock()
		n := len(written)
		mu.Unlock()
		if n < mark+20 {
			return false
		}
		id := last()
		return a.got(id) && b.got(id)
	})
	t.Logf("instances receive events again %s after the primary died", time.Since(failedAt).Round(time.Millisecond))
	stop.Store(true)
	wg.Wait()

	// Nothing is lost on the way to the stream: entries the old primary
	// took but had not passed to its replica are published again.
	eventually(t, "the outbox drains", func() bool {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n)
		return err == nil && n == 0
	})
	inStream := map[string]bool{}
	eventually(t, "every event written is in the promoted primary's stream", func() bool {
		entries, err := a.rdb.XRange(ctx, events.StreamKey(prefix), "-", "+").Result()
		if err != nil {
			return false
		}
		for _, e := range entries {
			if id, ok := e.Values["id"].(string); ok {
				inStream[id] = true
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range written {
			if !inStream[id.String()] {
				return false
			}
		}
		return true
	})
	// What subscribers miss: events published while their subscription
	// was down (it ended with SERVICE_UNAVAILABLE) are not replayed to it.
	missedA, missedB := 0, 0
	for _, id := range written {
		if !a.got(id) {
			missedA++
		}
		if !b.got(id) {
			missedB++
		}
	}
	t.Logf("%d events written; subscriptions missed %d (instance A) and %d (instance B) while resubscribing", len(written), missedA, missedB)

	// Grants and revocations published after the failover reach the other
	// instance (a resync counts: the engine reloads the whole policy).
	for _, pub := range []func(*casbinredis.Watcher) error{
		func(w *casbinredis.Watcher) error { return w.UpdateForAddPolicy("p", "p", "grant-after") },
		func(w *casbinredis.Watcher) error { return w.UpdateForRemovePolicy("p", "p", "grant-after") },
	} {
		if op := policyReaches(t, a, b, pub); op == "" {
			t.Fatal("no policy message after the failover")
		}
		if op := policyReaches(t, b, a, pub); op == "" {
			t.Fatal("no policy message after the failover")
		}
	}

	// Live parking counters take reports again on the promoted primary
	// and every instance reads them.
	eventually(t, "a parking report after the failover", func() bool {
		_, _, err := ca.Report(ctx, lot, 7, time.Now())
		return err == nil
	})
	eventually(t, "the other instance reads the new count", func() bool {
		cur, err := cb.Current(ctx, []uuid.UUID{lot})
		return err == nil && cur[lot].Free == 7
	})

	// Rate limits are counted in the promoted primary.
	rule, err := ratelimit.ParseRule("3/1m")
	if err != nil {
		t.Fatal(err)
	}
	var allowed int
	for i := range 4 {
		var ok bool
		eventually(t, "the rate limiter answers", func() bool {
			var err error
			ok, _, err = a.limiter.Allow(ctx, fmt.Sprintf("failover-key-%d", 0), rule)
			if err != nil && !errors.Is(err, context.Canceled) {
				return false
			}
			return err == nil
		})
		if ok {
			allowed++
		}
		_ = i
	}
	if allowed != 3 {
		t.Errorf("after the failover the limiter allowed %d of 4 requests under 3/1m", allowed)
	}
}

// fixedCapacity is the lots' total spaces (PostgreSQL in the hub).
type fixedCapacity map[uuid.UUID]int

func (f fixedCapacity) TotalSpaces(_ context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	out := map[uuid.UUID]int{}
	for _, id := range ids {
		if n, ok := f[id]; ok {
			out[id] = n
		}
	}
	return out, nil
}
