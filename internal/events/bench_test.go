package events_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/google/uuid"
)

// fanout is one end-to-end measurement: subscribers on one broker, changes
// committed one at a time, each awaited by every subscriber.
type fanout struct {
	b      *bundle
	relay  *events.Relay
	notify string // NOTIFY channel the committing transaction signals, or ""
	kick   bool   // call Relay.Kick after commit

	subs    int
	cur     atomic.Int64 // index of the change in flight
	pending sync.WaitGroup
	recv    [][]time.Time // [subscriber][change]
}

// wake says how the relay learns of a commit.
type wake int

const (
	wakePoll wake = iota
	wakeKick
	wakeNotify
)

func (w wake) String() string { return [...]string{"poll", "kick", "notify"}[w] }

func newFanout(tb testing.TB, subs, changes int, how wake) *fanout {
	f := &fanout{b: setup(tb), subs: subs}
	cfg := events.RelayConfig{Prefix: f.b.prefix, NoListen: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	switch how {
	case wakeKick:
		f.kick = true
	case wakeNotify:
		f.notify = "outbox_" + uuid.NewString()[:8]
		cfg.NoListen, cfg.ListenChannel = false, f.notify
	}
	f.relay = runRelay(tb, f.b.pool, f.b.rdb, cfg)
	br := runBroker(tb, f.b.rdb, events.BrokerConfig{Prefix: f.b.prefix, Logger: cfg.Logger})

	// Realistic scopes, every one admitting the change, so that each
	// subscriber pays the scope check and receives the event.
	scopes := []access.RowScope{
		{Jurisdictions: []string{"hailing.chengxi", "hailing.chengdong"}},
		{Depts: []string{"planning", "water"}},
		{CitizenID: "c-1"},
		{All: true},
	}
	f.recv = make([][]time.Time, subs)
	var ready sync.WaitGroup
	for i := range subs {
		f.recv[i] = make([]time.Time, changes)
		ch, cancel := br.Subscribe(context.Background(), events.Filter{
			Scopes: map[string]access.RowScope{"cases": scopes[i%len(scopes)]}})
		tb.Cleanup(cancel)
		ready.Add(1)
		go func() {
			ready.Done()
			for e := range ch {
				if e.Err != nil {
					continue
				}
				f.recv[i][f.cur.Load()] = time.Now()
				f.pending.Done()
			}
		}()
	}
	ready.Wait()
	return f
}

// commit writes change i and returns when it is committed.
func (f *fanout) commit(tb testing.TB, i int) time.Time {
	ctx := context.Background()
	f.cur.Store(int64(i))
	f.pending.Add(f.subs)
	tx, err := f.b.pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, dataset, record_id, op, jurisdiction, owner_dept,
		handling_dept, citizen_id, version, payload) VALUES ($1, 'cases', $2, 'TRANSITION', 'hailing.chengdong.g01',
		'urban-management', 'water', 'c-1', 2, '{"status":"DISPATCHED"}')`, uuid.Must(uuid.NewV7()), uuid.NewString()); err != nil {
		tb.Fatal(err)
	}
	if f.notify != "" {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, '')", f.notify); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	at := time.Now()
	if f.kick {
		f.relay.Kick()
	}
	return at
}

// latencies returns every subscriber's commit → receive time, sorted.
func (f *fanout) latencies(committed []time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(committed)*f.subs)
	for _, r := range f.recv {
		for i, c := range committed {
			out = append(out, r[i].Sub(c))
		}
	}
	slices.Sort(out)
	return out
}

// firsts returns, per change, the first subscriber's latency, sorted.
func (f *fanout) firsts(committed []time.Time) []time.Duration {
	out := make([]time.Duration, len(committed))
	for i, c := range committed {
		out[i] = f.recv[0][i].Sub(c)
		for _, r := range f.recv[1:] {
			out[i] = min(out[i], r[i].Sub(c))
		}
	}
	slices.Sort(out)
	return out
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// BenchmarkFanout1000 measures end-to-end event latency, change committed →
// subscriber receives, with 1,000 subscribers on one broker, for each way
// the relay may learn of the commit: its poll (50 ms), Kick from the
// committing process, NOTIFY in the committing transaction. Changes are
// committed one at a time, each awaited by all subscribers, at random
// moments; ns/op includes the wait and is not a throughput figure.
func BenchmarkFanout1000(b *testing.B) {
	for _, how := range []wake{wakePoll, wakeKick, wakeNotify} {
		b.Run(how.String(), func(b *testing.B) {
			f := newFanout(b, 1000, b.N, how)
			committed := make([]time.Time, b.N)
			b.ResetTimer()
			for i := range b.N {
				// Changes arrive independently of the relay's rhythm: without
				// a pause, each commit would follow the previous delivery
				// and fall at the same point of the poll cycle.
				b.StopTimer()
				time.Sleep(rand.N(events.PollIntervalDefault))
				b.StartTimer()
				committed[i] = f.commit(b, i)
				f.pending.Wait()
			}
			b.StopTimer()
			lat := f.latencies(committed)
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
			// The first subscriber's latency is the pipeline's (relay,
			// Redis, broker); the rest is the fan-out across 1,000
			// goroutines on this machine's cores.
			first := f.firsts(committed)
			b.ReportMetric(float64(percentile(first, 0.50).Microseconds())/1000, "first-p50-ms")
		})
	}
}

// TestFanout1000 is the benchmark's scenario at test size: every one of
// 1,000 subscribers receives every change, promptly.
func TestFanout1000(t *testing.T) {
	t.Parallel()
	const changes = 10
	f := newFanout(t, 1000, changes, wakeKick)
	committed := make([]time.Time, changes)
	for i := range changes {
		committed[i] = f.commit(t, i)
		done := make(chan struct{})
		go func() {
			f.pending.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatalf("change %d did not reach every subscriber", i)
		}
	}
	lat := f.latencies(committed)
	t.Logf("1000 subscribers × %d changes: p50 %v, p99 %v", changes, percentile(lat, 0.5), percentile(lat, 0.99))
}
