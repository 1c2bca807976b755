package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/events"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRelayPrunesPublishedRows: published rows older than the retention
// are deleted, a batch at a time; recent ones stay, and so does a row
// written long ago that is not yet published (once published, it is
// recent).
func TestRelayPrunesPublishedRows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	day := 24 * time.Hour
	// age sets a row's write and publication times back: published is
	// false for a row still waiting.
	age := func(seq int64, by time.Duration, published bool) {
		t.Helper()
		if _, err := b.pool.Exec(ctx, `UPDATE outbox SET created_at = now() - $1::bigint * interval '1 microsecond',
			published_at = CASE WHEN $3 THEN now() - $1::bigint * interval '1 microsecond' + interval '1 second' END
			WHERE id = $2`, by.Microseconds(), seq, published); err != nil {
			t.Fatal(err)
		}
	}
	var old []int64
	for range 7 {
		w := insert(t, b.pool, change{})
		age(w.seq, 3*day, true)
		old = append(old, w.seq)
	}
	waiting := insert(t, b.pool, change{})
	age(waiting.seq, 3*day, false)
	recent := insert(t, b.pool, change{})
	age(recent.seq, day/2, true)

	cfg := fastRelay(b, t)
	cfg.Retention, cfg.PruneInterval, cfg.PruneBatch = day, 10*time.Millisecond, 3
	r := runRelay(t, b.pool, b.rdb, cfg)
	deadline := time.Now().Add(wait)
	for count(t, b.pool, "id = ANY($1)", old) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d rows past the retention still in the outbox", count(t, b.pool, "id = ANY($1)", old))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := count(t, b.pool, "id = ANY($1) AND published_at IS NOT NULL", []int64{waiting.seq, recent.seq}); n != 2 {
		t.Fatalf("%d of the waiting and the recent row left, published; want both", n)
	}
	if got := pruned(t, r); got != float64(len(old)) {
		t.Fatalf("pruned counter %v, want %d", got, len(old))
	}
}

func count(t *testing.T, pool *pgxpool.Pool, where string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pruned reads the relay's pruned-rows counter as /metrics would.
func pruned(t *testing.T, r *events.Relay) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "datahub_events_outbox_pruned_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no datahub_events_outbox_pruned_total")
	return 0
}
