package events_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
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
// outbox and are published once it is back, although the restarted Redis
// has lost the stream; the broker follows the new stream. Subscriptions say
// they are unavailable meanwhile: the open one ends with ErrUnavailable
// (SERVICE_UNAVAILABLE), a new one is refused with it, and subscribing
// works again once Redis is back.
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
	all := events.Filter{Scopes: map[string]access.RowScope{"cases": {All: true}}}
	ch, cancel := br.Subscribe(context.Background(), all)
	defer cancel()
	avail, cancelAvail := br.SubscribeAvailability(context.Background(), nil)
	defer cancelAvail()

	var before []uuid.UUID
	for range 5 {
		before = append(before, insert(t, b.pool, change{}).id)
	}
	for i, e := range receive(t, ch, len(before)) {
		if e.ID != before[i] {
			t.Fatalf("before the outage, event %d: %s, want %s", i, e.ID, before[i])
		}
	}
	if err := br.Available(); err != nil {
		t.Fatalf("available before the outage: %v", err)
	}
	// The relay marks a row published after Redis took it: a subscriber can
	// hold an event whose row is still unmarked. Start the outage from an
	// empty outbox, so the count below is of the outage's rows alone.
	eventually(t, "the relay to mark the first events published", func() bool { return unpublished(t, b.pool) == 0 })

	srv.stop()
	// The open subscription ends, saying why.
	select {
	case e, ok := <-ch:
		if !ok || !errors.Is(e.Err, events.ErrUnavailable) {
			t.Fatalf("open subscription when Redis went down: %+v (open %v), want ErrUnavailable", e, ok)
		}
	case <-time.After(wait):
		t.Fatal("the open subscription heard nothing when Redis went down")
	}
	if _, ok := <-ch; ok {
		t.Fatal("the subscription stayed open after its error")
	}
	if _, ok := <-avail; ok {
		t.Fatal("an availability reading while Redis is down")
	}
	var coded *apperr.Error
	if err := br.Available(); !errors.As(err, &coded) || coded.Code != apperr.ServiceUnavailable {
		t.Fatalf("Available while Redis is down: %v, want SERVICE_UNAVAILABLE", err)
	}
	// A new subscription is refused at once, not left waiting.
	down, cancelDown := br.Subscribe(context.Background(), all)
	defer cancelDown()
	if e := <-down; !errors.Is(e.Err, events.ErrUnavailable) {
		t.Fatalf("subscription while Redis is down: %+v, want ErrUnavailable", e)
	}
	availDown, cancelAvailDown := br.SubscribeAvailability(context.Background(), nil)
	defer cancelAvailDown()
	if a, ok := <-availDown; ok {
		t.Fatalf("availability subscription while Redis is down: %+v", a)
	}

	var during []uuid.UUID
	for range 5 {
		during = append(during, insert(t, b.pool, change{}).id)
	}
	// Let the relay fail a few times with the rows in the outbox.
	f0 := failures.Load()
	eventually(t, "the relay to notice Redis is down", func() bool { return failures.Load() >= f0+3 })
	if n := unpublished(t, b.pool); n != 5 {
		t.Fatalf("%d rows unpublished while Redis is down, want 5", n)
	}

	srv.start()
	eventually(t, "the outbox to drain", func() bool { return unpublished(t, b.pool) == 0 })
	eventually(t, "the broker to read Redis again", func() bool { return br.Available() == nil })
	again, cancelAgain := br.Subscribe(context.Background(), all)
	defer cancelAgain()
	after := insert(t, b.pool, change{}).id
	duringSet := map[uuid.UUID]bool{}
	for _, id := range during {
		duringSet[id] = true
	}
	timeout := time.After(wait)
	for {
		select {
		case e := <-again:
			if e.Err != nil {
				t.Fatalf("error event after Redis came back: %v", e.Err)
			}
			if e.ID == after {
				return
			}
			// Events published during the outage may still be on their
			// way when this subscription starts; nothing else may come.
			if !duringSet[e.ID] {
				t.Fatalf("unexpected event %s", e.ID)
			}
		case <-timeout:
			t.Fatal("after Redis came back, a new subscription received nothing")
		}
	}
}
