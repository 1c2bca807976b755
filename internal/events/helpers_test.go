package events_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

var env testenv.Env

// TestMain checks, once every test has cleaned up, that no goroutine is
// left behind: a relay or broker whose Run returned while a helper
// goroutine lived on would show here.
func TestMain(m *testing.M) {
	// go-redis logs every failed dial; TestRedisDownAndBack makes many.
	redis.SetLogger(quietRedis{})
	code := testenv.Main(m, &env)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// wait bounds every wait for an event in the tests.
const wait = 10 * time.Second

// bundle is one test's outbox, Redis and key prefix.
type bundle struct {
	pool   *pgxpool.Pool
	rdb    redis.UniversalClient
	prefix string
}

// setup gives the test an outbox of its own (a fresh schema, since the
// relay must commit) and a Redis prefix of its own.
func setup(tb testing.TB) *bundle {
	tb.Helper()
	pool, _ := env.Schema(tb)
	if _, err := pool.Exec(context.Background(), "CREATE TABLE outbox (LIKE public.outbox INCLUDING ALL)"); err != nil {
		tb.Fatalf("create outbox: %v", err)
	}
	return &bundle{pool: pool, rdb: env.Redis(tb), prefix: uniquePrefix(tb)}
}

func uniquePrefix(tb testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := env.RedisPrefix + strings.NewReplacer("/", ".", " ", "_").Replace(tb.Name()) + "." + hex.EncodeToString(b) + ":"
	rdb := env.Redis(tb)
	tb.Cleanup(func() { _ = rdb.Del(context.Background(), events.StreamKey(p)).Err() })
	return p
}

// testLogger writes to the test's output.
func testLogger(tb testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastRelay is a relay configuration with short pauses, so tests wait
// little.
func fastRelay(b *bundle, tb testing.TB) events.RelayConfig {
	return events.RelayConfig{Prefix: b.prefix, PollInterval: 10 * time.Millisecond, NoListen: true,
		RetryMax: 100 * time.Millisecond, CheckInterval: 50 * time.Millisecond, Logger: testLogger(tb)}
}

func fastBroker(b *bundle, tb testing.TB) events.BrokerConfig {
	return events.BrokerConfig{Prefix: b.prefix, Block: 100 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		CheckInterval: 50 * time.Millisecond, HealthCheck: time.Second, Logger: testLogger(tb)}
}

// runRelay runs a relay until the test ends.
func runRelay(tb testing.TB, pool *pgxpool.Pool, rdb redis.UniversalClient, cfg events.RelayConfig) *events.Relay {
	tb.Helper()
	r := events.NewRelay(pool, rdb, cfg)
	run(tb, r.Run)
	return r
}

// runBroker runs a broker until the test ends and waits until it is ready.
func runBroker(tb testing.TB, rdb redis.UniversalClient, cfg events.BrokerConfig) *events.Broker {
	tb.Helper()
	br := events.NewBroker(rdb, cfg)
	run(tb, br.Run)
	select {
	case <-br.Ready():
	case <-time.After(wait):
		tb.Fatal("broker not ready")
	}
	return br
}

// run runs fn in a goroutine, cancelled and awaited at cleanup.
func run(tb testing.TB, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := fn(ctx); err != nil {
			tb.Errorf("run: %v", err)
		}
	}()
	tb.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// change is one outbox row to write.
type change struct {
	dataset, recordID, op             string
	jurisdiction, owner, handling, cz string
	version                           int
	payload                           map[string]any
}

// written is what insert wrote.
type written struct {
	id  uuid.UUID
	seq int64
}

// insert writes c to the outbox and commits, as a store would.
func insert(tb testing.TB, pool *pgxpool.Pool, c change) written {
	tb.Helper()
	if c.dataset == "" {
		c.dataset = "cases"
	}
	if c.op == "" {
		c.op = "UPDATED"
	}
	if c.recordID == "" {
		c.recordID = uuid.NewString()
	}
	payload, _ := json.Marshal(c.payload)
	if c.payload == nil {
		payload = []byte("{}")
	}
	w := written{id: uuid.Must(uuid.NewV7())}
	err := pool.QueryRow(context.Background(), `INSERT INTO outbox (event_id, dataset, record_id, op, jurisdiction,
		owner_dept, handling_dept, citizen_id, version, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING id`, w.id, c.dataset, c.recordID, c.op, c.jurisdiction, c.owner, c.handling, c.cz, c.version,
		payload).Scan(&w.seq)
	if err != nil {
		tb.Fatalf("insert outbox: %v", err)
	}
	return w
}

// receive reads n events from ch, failing the test on an error event, a
// closed channel or a timeout.
func receive(tb testing.TB, ch <-chan events.Event, n int) []events.Event {
	tb.Helper()
	out := make([]events.Event, 0, n)
	timeout := time.After(wait)
	for len(out) < n {
		select {
		case e, ok := <-ch:
			if !ok {
				tb.Fatalf("channel closed after %d of %d events", len(out), n)
			}
			if e.Err != nil {
				tb.Fatalf("error event after %d of %d events: %v", len(out), n, e.Err)
			}
			out = append(out, e)
		case <-timeout:
			tb.Fatalf("received %d of %d events", len(out), n)
		}
	}
	return out
}

// drain ends a subscription and returns what was left in its channel.
func drain(ch <-chan events.Event, cancel func()) []events.Event {
	cancel()
	var out []events.Event
	for e := range ch {
		out = append(out, e)
	}
	return out
}

func unpublished(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		tb.Fatalf("count unpublished: %v", err)
	}
	return n
}

// eventually polls cond every 10 ms until it holds or wait passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
