package casbinredis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/fengcheng/datahub/internal/policy/casbinpg"
	"github.com/fengcheng/datahub/internal/policy/casbinredis"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

var env testenv.Env

// TestMain checks, once every test has cleaned up, that no goroutine is
// left behind: a watcher that leaks its receiver on Close would show here.
func TestMain(m *testing.M) {
	code := testenv.Main(m, &env)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const rbacWithDomains = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
`

// propagation is how quickly a change must reach another instance
// (docs/design.md, Access control: "within a second").
const propagation = time.Second

// policyTable gives the test its own copy of the migrated rules table.
func policyTable(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, _ := env.Schema(t)
	if _, err := pool.Exec(context.Background(), "CREATE TABLE casbin_rules (LIKE public.casbin_rules INCLUDING ALL)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	return pool
}

// redisClient opens a client on the test Redis, optionally adjusted (a name
// to find its connections by, another address).
func redisClient(t *testing.T, adjust func(*redis.Options)) *redis.Client {
	t.Helper()
	testenv.SkipShort(t)
	opt, err := redis.ParseURL(env.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(opt)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func channel(t *testing.T) string { return env.RedisPrefix + "casbin:" + t.Name() }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newWatcher(t *testing.T, client redis.UniversalClient, id string, adjust func(*casbinredis.Config)) *casbinredis.Watcher {
	t.Helper()
	cfg := casbinredis.Config{Client: client, Channel: channel(t), InstanceID: id, Logger: testLogger(t)}
	if adjust != nil {
		adjust(&cfg)
	}
	w, err := casbinredis.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("new watcher: %v", err)
	}
	t.Cleanup(w.Close)
	return w
}

// instance is one hub instance's share of the policy machinery.
type instance struct {
	e     *casbin.SyncedEnforcer
	w     *casbinredis.Watcher
	calls chan casbinredis.Message // every callback, after its reload
}

func newInstance(t *testing.T, pool *pgxpool.Pool, client redis.UniversalClient, id string, adjust func(*casbinredis.Config)) *instance {
	t.Helper()
	a, err := casbinpg.New(pool, casbinpg.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.NewModelFromString(rbacWithDomains)
	if err != nil {
		t.Fatal(err)
	}
	e, err := casbin.NewSyncedEnforcer(m, a)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{e: e, w: newWatcher(t, client, id, adjust), calls: make(chan casbinredis.Message, 100)}
	if err := e.SetWatcher(in.w); err != nil {
		t.Fatal(err)
	}
	// WatcherEx: SetWatcher installs no callback, so set it afterwards.
	err = in.w.SetUpdateCallback(func(payload string) {
		if err := e.LoadPolicy(); err != nil {
			t.Errorf("%s: reload: %v", id, err)
		}
		var msg casbinredis.Message
		if err := json.Unmarshal([]byte(payload), &msg); err != nil {
			t.Errorf("%s: callback payload %q: %v", id, payload, err)
		}
		select {
		case in.calls <- msg:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allows(t *testing.T, e *casbin.SyncedEnforcer, req ...any) bool {
	t.Helper()
	ok, err := e.Enforce(req...)
	if err != nil {
		t.Fatalf("enforce %v: %v", req, err)
	}
	return ok
}

func TestPolicyChangeReachesOtherInstance(t *testing.T) {
	t.Parallel()
	pool := policyTable(t)
	client := redisClient(t, nil)
	a := newInstance(t, pool, client, "a", nil)
	b := newInstance(t, pool, client, "b", nil)

	alice := []any{"alice", "urban", "cases", "read"}
	bob := []any{"bob", "housing", "properties", "read"}
	steps := []struct {
		name  string
		do    func(*casbin.SyncedEnforcer) (bool, error)
		req   []any
		allow bool
	}{
		{"add grouping", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.AddGroupingPolicy("alice", "officer", "urban")
		}, alice, false},
		{"add policy", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.AddPolicy("officer", "urban", "cases", "read")
		}, alice, true},
		{"remove policy", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.RemovePolicy("officer", "urban", "cases", "read")
		}, alice, false},
		{"add policies", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.AddPolicies([][]string{{"officer", "urban", "cases", "read"}, {"viewer", "housing", "properties", "read"}})
		}, alice, true},
		{"update policy", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.UpdatePolicy([]string{"officer", "urban", "cases", "read"}, []string{"officer", "urban", "cases", "write"})
		}, alice, false},
		{"add grouping for bob", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.AddGroupingPolicy("bob", "viewer", "housing")
		}, bob, true},
		{"remove filtered", func(e *casbin.SyncedEnforcer) (bool, error) {
			return e.RemoveFilteredPolicy(1, "housing")
		}, bob, false},
		{"save policy", func(e *casbin.SyncedEnforcer) (bool, error) {
			if _, err := e.AddPolicy("viewer", "housing", "properties", "read"); err != nil {
				return false, err
			}
			return true, e.SavePolicy()
		}, bob, true},
	}
	for _, s := range steps {
		ok, err := s.do(a.e)
		if err != nil || !ok {
			t.Fatalf("%s on a: %v, %v", s.name, ok, err)
		}
		if got := allows(t, a.e, s.req...); got != s.allow {
			t.Fatalf("%s: a decides %v, want %v", s.name, got, s.allow)
		}
		eventually(t, propagation, s.name+" reaching b", func() bool { return allows(t, b.e, s.req...) == s.allow })
	}

	// And the other way round.
	if _, err := b.e.AddPolicy("officer", "urban", "cases", "read"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagation, "b's change reaching a", func() bool { return allows(t, a.e, alice...) })
}

func TestOwnMessagesIgnored(t *testing.T) {
	t.Parallel()
	client := redisClient(t, nil)
	var mu sync.Mutex
	got := map[string][]casbinredis.Message{}
	record := func(id string) func(string) {
		return func(payload string) {
			var m casbinredis.Message
			if err := json.Unmarshal([]byte(payload), &m); err != nil {
				t.Errorf("payload %q: %v", payload, err)
			}
			mu.Lock()
			got[id] = append(got[id], m)
			mu.Unlock()
		}
	}
	a := newWatcher(t, client, "a", nil)
	b := newWatcher(t, client, "b", nil)
	_ = a.SetUpdateCallback(record("a"))
	_ = b.SetUpdateCallback(record("b"))

	if err := a.Update(); err != nil {
		t.Fatal(err)
	}
	if err := b.UpdateForAddPolicy("p", "p", "x"); err != nil {
		t.Fatal(err)
	}
	// Redis delivers one channel's messages in order, so once a has b's
	// message it has seen (and must have dropped) its own.
	eventually(t, propagation, "both watchers called", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["a"]) > 0 && len(got["b"]) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for id, msgs := range got {
		for _, m := range msgs {
			if m.Instance == id {
				t.Errorf("%s was called with its own message %+v", id, m)
			}
		}
	}
	if m := got["a"][0]; m.Instance != "b" || m.Op != casbinredis.OpAddPolicy {
		t.Errorf("a got %+v, want b's add_policy", m)
	}
	if m := got["b"][0]; m.Instance != "a" || m.Op != casbinredis.OpUpdate {
		t.Errorf("b got %+v, want a's update", m)
	}
}

func TestMessageFormat(t *testing.T) {
	t.Parallel()
	client := redisClient(t, nil)
	w := newWatcher(t, client, "inst-1", nil)
	ctx := context.Background()
	sub := client.Subscribe(ctx, channel(t))
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.ReceiveTimeout(ctx, time.Second); err != nil { // the confirmation
		t.Fatal(err)
	}

	for _, tc := range []struct {
		op      string
		publish func() error
	}{
		{casbinredis.OpUpdate, w.Update},
		{casbinredis.OpAddPolicy, func() error { return w.UpdateForAddPolicy("p", "p", "a", "b") }},
		{casbinredis.OpAddPolicies, func() error { return w.UpdateForAddPolicies("p", "p", []string{"a"}) }},
		{casbinredis.OpRemovePolicy, func() error { return w.UpdateForRemovePolicy("p", "p", "a") }},
		{casbinredis.OpRemovePolicies, func() error { return w.UpdateForRemovePolicies("p", "p", []string{"a"}) }},
		{casbinredis.OpRemoveFilteredPolicy, func() error { return w.UpdateForRemoveFilteredPolicy("p", "p", 1, "a") }},
		{casbinredis.OpUpdatePolicy, func() error { return w.UpdateForUpdatePolicy("p", "p", []string{"a"}, []string{"b"}) }},
		{casbinredis.OpUpdatePolicies, func() error {
			return w.UpdateForUpdatePolicies("p", "p", [][]string{{"a"}}, [][]string{{"b"}})
		}},
		{casbinredis.OpSavePolicy, func() error { return w.UpdateForSavePolicy(nil) }},
	} {
		before := time.Now()
		if err := tc.publish(); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(msg.Payload))
		dec.DisallowUnknownFields()
		var m casbinredis.Message
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: payload %q: %v", tc.op, msg.Payload, err)
		}
		if m.Instance != "inst-1" || m.Op != tc.op || m.Time.Before(before.Add(-time.Second)) || m.Time.After(time.Now()) {
			t.Errorf("payload %q: got %+v for op %s", msg.Payload, m, tc.op)
		}
		if len(msg.Payload) > 200 {
			t.Errorf("%s: payload of %d bytes", tc.op, len(msg.Payload))
		}
	}
}

// killClients drops every connection Redis knows under name, as a network
// failure or a Redis restart would, without touching anyone else's.
func killClients(t *testing.T, admin *redis.Client, name string) int {
	t.Helper()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		var id, cname string
		for field := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "id":
				id = v
			case "name":
				cname = v
			}
		}
		if cname != name {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
			t.Fatalf("client kill %s: %v", id, err)
		}
		n++
	}
	return n
}

// waitForCall waits for a callback with op and drains the others.
func waitForCall(t *testing.T, in *instance, op string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case m := <-in.calls:
			if m.Op == op {
				return
			}
		case <-timeout:
			t.Fatalf("no %s callback within %s", op, within)
		}
	}
}

func TestResyncAfterConnectionKilled(t *testing.T) {
	t.Parallel()
	pool := policyTable(t)
	name := strings.ReplaceAll(env.RedisPrefix, ":", "") + "-watcher-b"
	a := newInstance(t, pool, redisClient(t, nil), "a", nil)
	b := newInstance(t, pool, redisClient(t, func(o *redis.Options) { o.ClientName = name }), "b", nil)
	alice := []any{"alice", "urban", "cases", "read"}

	// A change b is not told about, as if its message had been published
	// while b was disconnected.
	a.e.EnableAutoNotifyWatcher(false)
	if _, err := a.e.AddPolicies([][]string{{"officer", "urban", "cases", "read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddGroupingPolicy("alice", "officer", "urban"); err != nil {
		t.Fatal(err)
	}
	a.e.EnableAutoNotifyWatcher(true)
	if allows(t, b.e, alice...) {
		t.Fatal("b saw a change it was not told about")
	}

	if n := killClients(t, redisClient(t, nil), name); n == 0 {
		t.Fatal("no connection of b's watcher found")
	}
	// b reconnects, re-subscribes and reloads although no message came.
	waitForCall(t, b, casbinredis.OpResync, 5*time.Second)
	if !allows(t, b.e, alice...) {
		t.Fatal("b did not reload after re-subscribing")
	}

	// The new subscription carries messages as before.
	if _, err := a.e.RemovePolicy("officer", "urban", "cases", "read"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagation, "change after reconnect reaching b", func() bool { return !allows(t, b.e, alice...) })
}

func TestResyncAfterOutage(t *testing.T) {
	t.Parallel()
	pool := policyTable(t)
	p := startProxy(t, redisAddr(t))
	fast := func(c *casbinredis.Config) { c.RetryMax = 100 * time.Millisecond }
	a := newInstance(t, pool, redisClient(t, nil), "a", nil)
	b := newInstance(t, pool, redisClient(t, func(o *redis.Options) {
		o.Addr = p.addr
		o.MaxRetries = -1 // fail fast while the proxy is down
	}), "b", fast)
	alice := []any{"alice", "urban", "cases", "read"}

	// Redis is unreachable for b for a while; a's change, published
	// meanwhile, never reaches it.
	p.stop()
	if _, err := a.e.AddPolicy("officer", "urban", "cases", "read"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.e.AddGroupingPolicy("alice", "officer", "urban"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnection attempts
	if allows(t, b.e, alice...) {
		t.Fatal("b saw a change while cut off")
	}

	p.start(t)
	waitForCall(t, b, casbinredis.OpResync, 5*time.Second)
	if !allows(t, b.e, alice...) {
		t.Fatal("b did not reload after the outage")
	}
	if _, err := a.e.RemoveGroupingPolicy("alice", "officer", "urban"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagation, "change after the outage reaching b", func() bool { return !allows(t, b.e, alice...) })
}

func TestUnresponsiveSubscriptionReplaced(t *testing.T) {
	t.Parallel()
	p := startProxy(t, redisAddr(t))
	w := newWatcher(t, redisClient(t, func(o *redis.Options) { o.Addr = p.addr }), "b", func(c *casbinredis.Config) {
		c.HealthCheck = 100 * time.Millisecond
	})
	calls := make(chan string, 10)
	_ = w.SetUpdateCallback(func(s string) { calls <- s })

	// The connection stays open but nothing comes through it any more,
	// as when a network path dies silently.
	p.freeze()
	waitForPayload(t, calls, `"op":"resync"`, 5*time.Second)

	// The replacement carries messages.
	other := newWatcher(t, redisClient(t, nil), "a", nil)
	if err := other.Update(); err != nil {
		t.Fatal(err)
	}
	waitForPayload(t, calls, `"instance":"a"`, propagation)
}

// waitForPayload waits for a callback payload containing want.
func waitForPayload(t *testing.T, calls <-chan string, want string, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case s := <-calls:
			if strings.Contains(s, want) {
				return
			}
		case <-timeout:
			t.Fatalf("no callback with %s within %s", want, within)
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	client := redisClient(t, nil)
	var calls atomic.Int32
	w, err := casbinredis.New(context.Background(), casbinredis.Config{Client: client, Channel: channel(t), InstanceID: "b", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	_ = w.SetUpdateCallback(func(string) { calls.Add(1) })
	other := newWatcher(t, client, "a", nil)

	start := time.Now()
	w.Close()
	// Close does not wait for the health-check interval to unblock the
	// receiver.
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
	w.Close() // idempotent
	if err := w.Update(); !errors.Is(err, casbinredis.ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if err := other.Update(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // long enough for a delivery to show
	if n := calls.Load(); n != 0 {
		t.Errorf("callback ran %d times after Close", n)
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	client := redisClient(t, func(o *redis.Options) { o.Addr = addr; o.MaxRetries = -1 })
	_, err = casbinredis.New(context.Background(), casbinredis.Config{Client: client, Channel: channel(t), Timeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("New succeeded without Redis")
	}
	if _, err := casbinredis.New(context.Background(), casbinredis.Config{}); err == nil {
		t.Fatal("New succeeded without a client")
	}
}

func redisAddr(t *testing.T) string {
	testenv.SkipShort(t)
	opt, err := redis.ParseURL(env.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	return opt.Addr
}

// proxy forwards TCP connections to Redis, so a test can cut one watcher
// off from the shared Redis server without disturbing anyone else.
type proxy struct {
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[*link]struct{}
	wg    sync.WaitGroup
}

// link is one client connection and its upstream.
type link struct {
	client, upstream net.Conn
	frozen           atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{addr: "127.0.0.1:0", target: target, conns: map[*link]struct{}{}}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			l := &link{client: c, upstream: up}
			p.mu.Lock()
			p.conns[l] = struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { l.pipe(l.upstream, l.client) })
			p.wg.Go(func() { l.pipe(l.client, l.upstream) })
		}
	})
}

// pipe copies src to dst until either closes, dropping the bytes once the
// link is frozen.
func (l *link) pipe(dst io.Writer, src io.Reader) {
	defer l.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.frozen.Load() {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *link) close() {
	_ = l.client.Close()
	_ = l.upstream.Close()
}

// stop closes the listener and every connection: Redis is gone.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for l := range p.conns {
		l.close()
		delete(p.conns, l)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// freeze makes every current connection a black hole, leaving it open.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.conns {
		l.frozen.Store(true)
	}
}
