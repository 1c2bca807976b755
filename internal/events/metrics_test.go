package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/events"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// relayMetrics reads the relay's lag histogram (count, sum) and backlog
// gauge as /metrics would.
func relayMetrics(t *testing.T, r *events.Relay) (count uint64, sum, backlog float64) {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch mf.GetName() {
		case "datahub_events_relay_lag_seconds":
			count, sum = m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
		case "datahub_events_relay_oldest_unpublished_seconds":
			backlog = m.GetGauge().GetValue()
		}
	}
	return count, sum, backlog
}

// insertAged writes an outbox row that was written age ago.
func insertAged(t *testing.T, pool *pgxpool.Pool, age time.Duration) {
	t.Helper()
	w := insert(t, pool, change{})
	if _, err := pool.Exec(context.Background(), `UPDATE outbox SET created_at = now() - $1::bigint * interval '1 microsecond'
		WHERE id = $2`, age.Microseconds(), w.seq); err != nil {
		t.Fatalf("age outbox row: %v", err)
	}
}

// TestRelayLagMetrics: a row waiting while Redis cannot be reached shows in
// the backlog gauge and not in the lag histogram; once published, its time
// from write to publication shows in the histogram and the backlog drops
// to 0.
func TestRelayLagMetrics(t *testing.T) {
	t.Parallel()
	const age = 30 * time.Second

	t.Run("redis down", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
		t.Cleanup(func() { _ = down.Close() })
		insertAged(t, b.pool, age)
		r := runRelay(t, b.pool, down, fastRelay(b, t))
		eventually(t, "backlog gauge at the row's age", func() bool {
			_, _, backlog := relayMetrics(t, r)
			return backlog >= age.Seconds()
		})
		if n, _, _ := relayMetrics(t, r); n != 0 {
			t.Errorf("lag histogram counted %d rows while nothing was published", n)
		}
	})

	t.Run("published", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		insertAged(t, b.pool, age)
		r := runRelay(t, b.pool, b.rdb, fastRelay(b, t))
		eventually(t, "row published", func() bool { return unpublished(t, b.pool) == 0 })
		eventually(t, "backlog back to 0", func() bool {
			_, _, backlog := relayMetrics(t, r)
			return backlog == 0
		})
		n, sum, _ := relayMetrics(t, r)
		if n != 1 || sum < age.Seconds() || sum > age.Seconds()+wait.Seconds() {
			t.Errorf("lag histogram: %d rows, sum %.3fs; want 1 row of about %s", n, sum, age)
		}
	})
}
