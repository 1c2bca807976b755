package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server of the test's own, without persistence,
// that the test can kill and restart on the same port.
type redisServer struct {
	tb   testing.TB
	port int
	cmd  *exec.Cmd
}

func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{tb: tb, port: port}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

func (s *redisServer) start() {
	s.tb.Helper()
	s.cmd = exec.CommandContext(context.Background(), "redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(wait)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.tb.Fatal("redis-server did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// signalHandler counts log records whose message starts with a prefix.
type signalHandler struct {
	slog.Handler
	prefix string
	n      *atomic.Int64
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.prefix) {
		h.n.Add(1)
	}
	if h.Handler.Enabled(ctx, r.Level) {
		return h.Handler.Handle(ctx, r)
	}
	return nil
}

func (h signalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return signalHandler{h.Handler.WithAttrs(as), h.prefix, h.n}
}

func (h signalHandler) WithGroup(g string) slog.Handler {
	return signalHandler{h.Handler.WithGroup(g), h.prefix, h.n}
}

// TestRedisDownAndBack: events written while Redis is down stay in the
// outbox and are delivered once it is back, although the restarted Redis
// has lost the stream; the broker follows the new stream.
func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr(), DialTimeout: time.Second, MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })

	var failures atomic.Int64
	rcfg := fastRelay(b, t)
	rcfg.Logger = slog.New(signalHandler{testLogger(t).Handler(), "publishing events failed", &failures})
	runRelay(t, b.pool, rdb, rcfg)
	br := runBroker(t, rdb, fastBroker(b, t))
	ch, cancel := br.Subscribe(context.Background(), events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}})
	defer cancel()

	want := map[uuid.UUID]bool{}
	var before []uuid.UUID
	for range 5 {
		w := insert(t, b.pool, change{})
		want[w.id] = true
		before = append(before, w.id)
	}
	for i, e := range receive(t, ch, len(before)) {
		if e.ID != before[i] {
			t.Fatalf("before the outage, event %d: %s, want %s", i, e.ID, before[i])
		}
	}

	srv.stop()
	for range 5 {
		want[insert(t, b.pool, change{}).id] = true
	}
	// Let the relay fail a few times with the rows in the outbox.
	f0 := failures.Load()
	eventually(t, "the relay to notice Redis is down", func() bool { return failures.Load() >= f0+3 })
	if n := unpublished(t, b.pool); n != 5 {
		t.Fatalf("%d rows unpublished while Redis is down, want 5", n)
	}

	srv.start()
	got := map[uuid.UUID]bool{}
	for _, id := range before {
		got[id] = true
	}
	timeout := time.After(wait)
	for len(got) < len(want) {
		select {
		case e := <-ch:
			if e.Err != nil {
				t.Fatalf("error event: %v", e.Err)
			}
			if !want[e.ID] {
				t.Fatalf("unexpected event %s", e.ID)
			}
			got[e.ID] = true // at least once: repeats are allowed
		case <-timeout:
			t.Fatalf("after Redis came back, received %d of %d distinct events", len(got), len(want))
		}
	}
	eventually(t, "the outbox to drain", func() bool { return unpublished(t, b.pool) == 0 })
}
