package pubsub_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/pubsub"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

var env testenv.Env

// TestMain checks, once every test has cleaned up, that no goroutine is
// left behind: a Run that outlived its context would show here.
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

// client opens a client on the test Redis whose connections carry name,
// so that a test can find and kill them.
func client(t *testing.T, name string) *redis.Client {
	t.Helper()
	testenv.SkipShort(t)
	opt, err := redis.ParseURL(env.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	opt.ClientName = name
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// clientName is a name unique to the test, for CLIENT LIST.
func clientName(t *testing.T) string {
	return strings.NewReplacer(":", "", "/", "-").Replace(env.RedisPrefix + t.Name())
}

func channel(t *testing.T) string { return env.RedisPrefix + "pubsub:" + t.Name() }

// killClients drops every connection Redis knows under name, as a network
// failure or a Redis restart would.
func killClients(t *testing.T, name string) int {
	t.Helper()
	ctx := context.Background()
	admin := client(t, "")
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

// recorder collects what a Subscription hands its owner.
type recorder struct {
	msgs     chan string
	subs     chan bool
	received atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan string, 100), subs: make(chan bool, 100)}
}

func (r *recorder) config(t *testing.T, c redis.UniversalClient) pubsub.Config {
	return pubsub.Config{
		Client:      c,
		Channel:     channel(t),
		HealthCheck: 200 * time.Millisecond,
		RetryMax:    100 * time.Millisecond,
		Name:        "test subscription",
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnMessage:   func(m *redis.Message) { r.msgs <- m.Payload },
		OnSubscribe: func(first bool) { r.subs <- first },
		OnReceive:   func() { r.received.Add(1) },
	}
}

// run starts s.Run and returns a function that stops it and waits.
func run(t *testing.T, s *pubsub.Subscription) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func wantSubscribe(t *testing.T, r *recorder, first bool) {
	t.Helper()
	select {
	case got := <-r.subs:
		if got != first {
			t.Fatalf("OnSubscribe(first=%v), want first=%v", got, first)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no OnSubscribe(first=%v)", first)
	}
}

// publishUntil publishes payload until it arrives: after a reconnect the
// subscription may not be back yet, and what is published meanwhile is
// lost (pub/sub does not queue).
func publishUntil(t *testing.T, c redis.UniversalClient, r *recorder, payload string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.Publish(context.Background(), channel(t), payload).Err(); err != nil {
			t.Fatalf("publish: %v", err)
		}
		select {
		case got := <-r.msgs:
			if got == payload {
				return
			}
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%q never arrived", payload)
		}
	}
}

// TestDeliversAndResubscribesAfterKill: messages reach OnMessage; the
// first confirmation is reported as first, and after the subscriber's
// connection is killed the subscription comes back by itself, is reported
// as a re-subscription (the owner's cue to resync), and carries messages
// again.
func TestDeliversAndResubscribesAfterKill(t *testing.T) {
	t.Parallel()
	name := clientName(t)
	r := newRecorder()
	s := pubsub.Subscribe(context.Background(), r.config(t, client(t, name)))
	run(t, s)
	wantSubscribe(t, r, true)
	pub := client(t, "")
	publishUntil(t, pub, r, "before")
	if r.received.Load() == 0 {
		t.Error("OnReceive never ran")
	}

	if n := killClients(t, name); n == 0 {
		t.Fatal("no connection of the subscription found")
	}
	wantSubscribe(t, r, false)
	publishUntil(t, pub, r, "after")

	// A second loss, the same again.
	if n := killClients(t, name); n == 0 {
		t.Fatal("no connection of the subscription found")
	}
	wantSubscribe(t, r, false)
	publishUntil(t, pub, r, "again")
}

// TestConfirmConsumesTheFirstConfirmation: after Confirm a published
// message is received, and only re-subscriptions reach OnSubscribe.
func TestConfirmConsumesTheFirstConfirmation(t *testing.T) {
	t.Parallel()
	name := clientName(t)
	r := newRecorder()
	s := pubsub.Subscribe(context.Background(), r.config(t, client(t, name)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Confirm(ctx); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	pub := client(t, "")
	// Published before Run starts, after the confirmation: not lost.
	if err := pub.Publish(ctx, channel(t), "early").Err(); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	select {
	case got := <-r.msgs:
		if got != "early" {
			t.Fatalf("got %q, want early", got)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a message published after Confirm was lost")
	}
	if n := killClients(t, name); n == 0 {
		t.Fatal("no connection of the subscription found")
	}
	wantSubscribe(t, r, false)
	select {
	case first := <-r.subs:
		t.Fatalf("another OnSubscribe(first=%v)", first)
	default:
	}
}

// TestCloseEndsRun: Close ends Run while its context is still live, and a
// closed subscription is not replaced.
func TestCloseEndsRun(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	s := pubsub.Subscribe(context.Background(), r.config(t, client(t, clientName(t))))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(context.Background())
	}()
	wantSubscribe(t, r, true)
	s.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	s.Close() // idempotent
}

// TestSilentSubscriptionStaysUp: a subscription that hears nothing for
// several health-check intervals is pinged, answers, and is neither
// replaced nor reported as a re-subscription.
func TestSilentSubscriptionStaysUp(t *testing.T) {
	t.Parallel()
	r := newRecorder()
	s := pubsub.Subscribe(context.Background(), r.config(t, client(t, clientName(t))))
	run(t, s)
	wantSubscribe(t, r, true)
	time.Sleep(time.Second) // five intervals
	select {
	case first := <-r.subs:
		t.Fatalf("a quiet subscription was re-subscribed (first=%v)", first)
	default:
	}
	if n := r.received.Load(); n < 3 {
		t.Errorf("%d answers in five quiet intervals; the pings went unanswered", n)
	}
	publishUntil(t, client(t, ""), r, "still there")
}

// TestBackoff: pauses start at RetryMin and double up to the cap.
func TestBackoff(t *testing.T) {
	t.Parallel()
	var got []time.Duration
	var d time.Duration
	for range 7 {
		d = pubsub.Backoff(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("pauses %v, want %v ms", got, want)
		}
	}
	if d := pubsub.Backoff(0, 10*time.Millisecond); d != 10*time.Millisecond {
		t.Errorf("first pause under a 10ms cap: %v", d)
	}
}

// TestPause: a pause lasts between half of d and d, and ends early with
// false when ctx ends.
func TestPause(t *testing.T) {
	t.Parallel()
	const d = 100 * time.Millisecond
	for range 5 {
		start := time.Now()
		if !pubsub.Pause(context.Background(), d) {
			t.Fatal("Pause reported an ended context")
		}
		if took := time.Since(start); took < d/2 || took > d+50*time.Millisecond {
			t.Fatalf("paused %v for %v", took, d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if pubsub.Pause(ctx, time.Hour) {
		t.Fatal("Pause went on after its context ended")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Pause took %v after its context ended", took)
	}
}
