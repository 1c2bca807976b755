package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fengcheng/datahub/internal/pubsub"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults for RelayConfig.
const (
	BatchSizeDefault     = 500
	PollIntervalDefault  = 50 * time.Millisecond
	ListenPollDefault    = time.Second
	MaxLenDefault        = 100_000
	TimeoutDefault       = 5 * time.Second
	RetryMaxDefault      = 2 * time.Second
	CheckIntervalDefault = time.Second
	ReplayWindowDefault  = 10 * time.Second
	RetentionDefault     = 24 * time.Hour
	PruneIntervalDefault = time.Minute
	PruneBatchDefault    = 10_000
	// OutboxChannel is the PostgreSQL channel relays LISTEN on. The
	// outbox's insert trigger notifies it, so every relay wakes the moment
	// a transaction that wrote outbox rows commits (PostgreSQL delivers
	// notifications on commit only), instead of at the next poll.
	OutboxChannel = "datahub_outbox"
)

// RelayConfig configures a Relay. Zero values take the defaults above.
type RelayConfig struct {
	// Prefix namespaces the stream (StreamKey). Default PrefixDefault.
	Prefix string
	// BatchSize is how many rows one transaction claims and publishes.
	BatchSize int
	// PollInterval is how long the relay sleeps when the outbox is empty
	// and nothing woke it (Kick, a notification) while it is not listening.
	PollInterval time.Duration
	// ListenPoll is that sleep while its LISTEN connection is up: a
	// notification wakes it, so the poll is only a backstop. An idle hub
	// then costs the database a poll a second instead of twenty.
	ListenPoll time.Duration
	// MaxLen caps the stream, approximately (XADD MAXLEN ~).
	MaxLen int64
	// ListenChannel is the PostgreSQL channel to LISTEN on for wake-ups.
	// Default OutboxChannel. Listening holds one connection of its own.
	ListenChannel string
	// NoListen turns listening off: the relay then wakes on Kick and
	// polls.
	NoListen bool
	// Timeout bounds one claim-publish-commit round.
	Timeout time.Duration
	// RetryMax caps the pause between attempts while PostgreSQL or Redis
	// fails.
	RetryMax time.Duration
	// CheckInterval is how often the relay checks that the stream still
	// holds its checkpoint entry (see the package doc).
	CheckInterval time.Duration
	// ReplayWindow is how far before the checkpoint rows are published
	// again when the stream was lost: it must exceed how far a broker may
	// lag behind the stream.
	ReplayWindow time.Duration
	// Retention is how long a published row stays in the outbox (the
	// replay after a stream loss reads it back, and operators trace events
	// there); older ones are deleted. It is at least ReplayWindow plus a
	// minute, and rows the replay could still need are kept whatever it
	// says (see prune).
	Retention time.Duration
	// PruneInterval is how often the relay deletes rows past Retention,
	// and PruneBatch how many one statement deletes at most; a full batch
	// has the next one follow at the relay's next round.
	PruneInterval time.Duration
	PruneBatch    int
	// Logger receives failures and recoveries. Default slog.Default().
	Logger *slog.Logger
}

// Relay publishes outbox rows to the Redis stream. Run any number of relays
// (one per instance is simplest): they take turns, one batch at a time, and
// the others carry on when one stops or cannot reach Redis.
type Relay struct {
	pool   *pgxpool.Pool
	rdb    redis.UniversalClient
	cfg    RelayConfig
	stream string
	log    *slog.Logger
	kick   chan struct{}

	// lag observes each published row's time from outbox write to
	// publication; backlog is the age of the oldest row the relay last
	// claimed (0 when it found none), which keeps growing while
	// publishing fails.
	lag     prometheus.Histogram
	backlog prometheus.Gauge
	pruned  prometheus.Counter
	// listening is true while the LISTEN connection is up.
	listening atomic.Bool

	// Owned by Run's goroutine.
	cp        *checkpoint
	lastCheck time.Time
	needCheck bool
	lastPrune time.Time
}

// checkpoint is a stream entry known to have been in the stream.
type checkpoint struct {
	id      string // stream entry id
	eventID string
	seq     int64 // outbox id
}

// NewRelay returns a relay on the outbox in pool's search path, publishing
// to rdb. Start it with Run.
func NewRelay(pool *pgxpool.Pool, rdb redis.UniversalClient, cfg RelayConfig) *Relay {
	if cfg.Prefix == "" {
		cfg.Prefix = PrefixDefault
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = BatchSizeDefault
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = PollIntervalDefault
	}
	if cfg.ListenPoll <= 0 {
		cfg.ListenPoll = ListenPollDefault
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = MaxLenDefault
	}
	if cfg.ListenChannel == "" {
		cfg.ListenChannel = OutboxChannel
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = RetryMaxDefault
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = CheckIntervalDefault
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = ReplayWindowDefault
	}
	if cfg.Retention <= 0 {
		cfg.Retention = RetentionDefault
	}
	cfg.Retention = max(cfg.Retention, cfg.ReplayWindow+time.Minute)
	if cfg.PruneInterval <= 0 {
		cfg.PruneInterval = PruneIntervalDefault
	}
	if cfg.PruneBatch <= 0 {
		cfg.PruneBatch = PruneBatchDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	stream := StreamKey(cfg.Prefix)
	return &Relay{
		pool:   pool,
		rdb:    rdb,
		cfg:    cfg,
		stream: stream,
		log:    cfg.Logger.With("component", "events.relay", "stream", stream),
		kick:   make(chan struct{}, 1),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "datahub_events_relay_lag_seconds",
			Help:    "Time from an outbox row's write to its publication to the Redis stream.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "datahub_events_relay_oldest_unpublished_seconds",
			Help: "Age of the oldest outbox row the relay last claimed (0: none was waiting); grows while publishing fails.",
		}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "datahub_events_outbox_pruned_total",
			Help: "Published outbox rows deleted once past the retention (OUTBOX_RETENTION).",
		}),
	}
}

// Collectors returns the relay's metrics, for the /metrics registry.
func (r *Relay) Collectors() []prometheus.Collector {
	return []prometheus.Collector{r.lag, r.backlog, r.pruned}
}

// Kick wakes the relay now rather than at its next poll. Call it after
// committing a change; it never blocks and is safe from any goroutine.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends, then returns nil. Failures of PostgreSQL or
// Redis are logged and retried with backoff; they never end Run.
func (r *Relay) Run(ctx context.Context) error {
	done := make(chan struct{})
	if r.cfg.NoListen {
		close(done)
	} else {
		go func() {
			defer close(done)
			r.listen(ctx)
		}()
	}
	defer func() { <-done }()

	// Since Go 1.23 a stopped or reset timer delivers no stale tick, so
	// one timer serves every wait.
	timer := time.NewTimer(r.cfg.PollInterval)
	timer.Stop()
	defer timer.Stop()
	var retry time.Duration
	for {
		n, err := r.step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			r.needCheck = true
			r.measureBacklog(ctx)
			if retry == 0 {
				r.log.Warn("publishing events failed; rows stay in the outbox and are retried", "err", err)
			} else {
				r.log.Debug("publishing events failed again", "err", err)
			}
			retry = pubsub.Backoff(retry, r.cfg.RetryMax)
			// Kicks do not cut a failure's pause short: they would turn
			// the backoff into a busy loop under a steady write load.
			if !pubsub.Pause(ctx, retry) {
				return nil
			}
			continue
		case n == r.cfg.BatchSize:
			wait = 0 // more rows are probably waiting
		case r.listening.Load():
			wait = r.cfg.ListenPoll
		default:
			wait = r.cfg.PollInterval
		}
		if retry != 0 {
			r.log.Info("publishing events again")
			retry = 0
		}
		if wait == 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// step checks the stream when due, then publishes one batch; it returns how
// many rows it published.
func (r *Relay) step(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if r.needCheck || time.Since(r.lastCheck) >= r.cfg.CheckInterval {
		if err := r.check(ctx); err != nil {
			return 0, err
		}
	}
	n, err := r.publishBatch(ctx)
	if err == nil && time.Since(r.lastPrune) >= r.cfg.PruneInterval {
		r.prune(ctx)
	}
	return n, err
}

// pruneSQL deletes up to @batch published rows older than the retention,
// and never one the replay after a stream loss could need: the rows
// published within ReplayWindow before the last time this relay saw the
// stream whole (@since_check ago). The scan walks the primary key from the
// oldest row and stops at the first row written after the cutoff (a row is
// published after it is written), so a prune that finds nothing to delete
// costs a few index pages, not a pass over the table. Several relays may
// prune at once: each skips the rows another is deleting.
const pruneSQL = `WITH cutoff AS (
	SELECT least(now() - @retention::bigint * interval '1 microsecond',
		now() - (@since_check::bigint + @replay::bigint) * interval '1 microsecond') AS at
), old AS (
	SELECT o.id FROM outbox o, cutoff
	WHERE o.id < coalesce((SELECT min(n.id) FROM outbox n WHERE n.created_at >= cutoff.at), 9223372036854775807)
		AND o.published_at < cutoff.at
	ORDER BY o.id LIMIT @batch::int FOR UPDATE OF o SKIP LOCKED
)
DELETE FROM outbox WHERE id IN (SELECT id FROM old)`

// prune deletes one batch of published rows past the retention. A failure
// is logged and tried again at the next interval: the rows only wait.
func (r *Relay) prune(ctx context.Context) {
	if r.lastCheck.IsZero() {
		return // the stream was never seen whole: keep everything
	}
	tag, err := r.pool.Exec(ctx, pruneSQL, pgx.NamedArgs{
		"retention":   r.cfg.Retention.Microseconds(),
		"since_check": time.Since(r.lastCheck).Microseconds(),
		"replay":      r.cfg.ReplayWindow.Microseconds(),
		"batch":       r.cfg.PruneBatch,
	})
	if err != nil {
		r.log.Warn("pruning published outbox rows failed; retrying later", "err", err)
		r.lastPrune = time.Now()
		return
	}
	n := tag.RowsAffected()
	r.pruned.Add(float64(n))
	if n < int64(r.cfg.PruneBatch) {
		r.lastPrune = time.Now() // else more are waiting: prune again next round
	}
}

// oldestAgeSQL is the age in seconds of the oldest unpublished row (by
// id, on the outbox_unpublished index), from the database's clock.
const oldestAgeSQL = `SELECT extract(epoch FROM clock_timestamp() - created_at)::float8
	FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 1`

// measureBacklog sets the backlog gauge after a failed round, which may
// not have reached the claim (Redis down fails the stream check first), so
// that the gauge keeps growing while nothing is published. When
// PostgreSQL fails too the gauge keeps its last value.
func (r *Relay) measureBacklog(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var age float64
	err := r.pool.QueryRow(ctx, oldestAgeSQL).Scan(&age)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		r.backlog.Set(0)
	case err == nil:
		r.backlog.Set(max(age, 0))
	}
}

// relayLockSQL serialises relays on the outbox in the current schema, for
// the rest of the transaction. Why one at a time: with several relays
// claiming disjoint batches at once, a later change to a record could reach
// the stream before an earlier one claimed by a slower relay. A single
// writer to a single stream loses no throughput worth having. The lock is
// waited for rather than tried, so a relay woken by Kick while another is
// mid-batch publishes what is left right after, not at its next poll.
const relayLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('datahub.events.relay:' || current_schema(), 0))`

type outboxRow struct {
	Event
	payload json.RawMessage
	age     float64 // seconds since the row was written, at the claim
}

// wireEvent is Event as stored in the stream: the payload stays the JSON
// the outbox holds.
type wireEvent struct {
	ID           uuid.UUID       `json:"id"`
	Seq          int64           `json:"seq"`
	Dataset      string          `json:"dataset"`
	RecordID     string          `json:"recordId"`
	Op           string          `json:"op"`
	Version      int             `json:"version"`
	Jurisdiction string          `json:"jurisdiction,omitempty"`
	OwnerDept    string          `json:"ownerDept,omitempty"`
	HandlingDept string          `json:"handlingDept,omitempty"`
	CitizenID    string          `json:"citizenId,omitempty"`
	Payload      json.RawMessage `json:"payload,omitempty"`
	CreatedAt    time.Time       `json:"createdAt"`
}

// Stream entry fields: the event id on its own, so that a checkpoint can
// be verified without decoding, and the event as JSON.
const (
	fieldID    = "id"
	fieldEvent = "e"
)

// publishBatch claims unpublished rows in id order, publishes them and marks
// them published, in one transaction. Rows stay claimed (locked) until the
// commit, so no other relay publishes them meanwhile; if anything fails
// they are released unpublished and published later, perhaps again.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	if _, err := tx.Exec(ctx, relayLockSQL); err != nil {
		return 0, fmt.Errorf("relay lock: %w", err)
	}
	// SKIP LOCKED as well: the advisory lock already keeps relays apart,
	// but anything else holding outbox rows must not stall the relay.
	rows, err := tx.Query(ctx, `SELECT id, event_id, dataset, record_id, op, jurisdiction, owner_dept, handling_dept,
		citizen_id, version, payload, created_at, extract(epoch FROM clock_timestamp() - created_at)::float8
		FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("claim outbox rows: %w", err)
	}
	// Ages come from the database's clock, as created_at does, plus the
	// time since the claim on ours: no skew between the two clocks.
	claimed := time.Now()
	batch, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := row.Scan(&o.Seq, &o.ID, &o.Dataset, &o.RecordID, &o.Op, &o.Jurisdiction, &o.OwnerDept, &o.HandlingDept,
			&o.CitizenID, &o.Version, &o.payload, &o.CreatedAt, &o.age)
		return o, err
	})
	if err != nil {
		return 0, fmt.Errorf("claim outbox rows: %w", err)
	}
	if len(batch) == 0 {
		r.backlog.Set(0)
		return 0, nil
	}
	r.backlog.Set(max(batch[0].age, 0))

	cmds := make([]*redis.StringCmd, len(batch))
	ids := make([]int64, len(batch))
	_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, o := range batch {
			data, err := json.Marshal(wireEvent{ID: o.ID, Seq: o.Seq, Dataset: o.Dataset, RecordID: o.RecordID, Op: o.Op,
				Version: o.Version, Jurisdiction: o.Jurisdiction, OwnerDept: o.OwnerDept, HandlingDept: o.HandlingDept,
				CitizenID: o.CitizenID, Payload: o.payload, CreatedAt: o.CreatedAt.UTC()})
			if err != nil {
				return fmt.Errorf("encode event %d: %w", o.Seq, err)
			}
			cmds[i] = p.XAdd(ctx, &redis.XAddArgs{Stream: r.stream, MaxLen: r.cfg.MaxLen, Approx: true, ID: "*",
				Values: []any{fieldID, o.ID.String(), fieldEvent, data}})
			ids[i] = o.Seq
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("xadd %d events: %w", len(batch), err)
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return 0, fmt.Errorf("mark published: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		// The events are in the stream but the rows stay unpublished:
		// they will be published again (at least once).
		return 0, fmt.Errorf("commit: %w", err)
	}
	since := time.Since(claimed).Seconds()
	for _, o := range batch {
		r.lag.Observe(max(o.age, 0) + since)
	}
	last := batch[len(batch)-1]
	// The reply to XADD proves the entry was in the stream: a checkpoint
	// as good as one verified by check.
	r.cp = &checkpoint{id: cmds[len(cmds)-1].Val(), eventID: last.ID.String(), seq: last.Seq}
	return len(batch), nil
}

// check verifies that the stream still holds the checkpoint entry. If it
// does not, the stream was lost with events brokers may not have read, and
// the rows published since ReplayWindow before the checkpoint are marked
// unpublished, to be published again. The newest entry of the stream then
// becomes the checkpoint.
func (r *Relay) check(ctx context.Context) error {
	if r.cp != nil {
		ok, err := holdsEntry(ctx, r.rdb, r.stream, r.cp.id, r.cp.eventID)
		if err != nil {
			return fmt.Errorf("check stream: %w", err)
		}
		if !ok {
			// The checkpoint row may have been pruned from the outbox;
			// then the time of the last check stands in for its
			// publication.
			since := time.Since(r.lastCheck)
			tag, err := r.pool.Exec(ctx, `UPDATE outbox SET published_at = NULL
				WHERE published_at >= coalesce((SELECT published_at FROM outbox WHERE id = $1),
					now() - $2::bigint * interval '1 microsecond') - $3::bigint * interval '1 microsecond'`,
				r.cp.seq, since.Microseconds(), r.cfg.ReplayWindow.Microseconds())
			if err != nil {
				return fmt.Errorf("reopen events after stream loss: %w", err)
			}
			r.log.Warn("event stream lost its recent entries (Redis restarted or failed over); publishing recent events again",
				"checkpoint", r.cp.id, "rows", tag.RowsAffected())
			r.cp = nil
		}
	}
	newest, err := r.rdb.XRevRangeN(ctx, r.stream, "+", "-", 1).Result()
	if err != nil {
		return fmt.Errorf("check stream: %w", err)
	}
	if len(newest) == 1 {
		if cp, ok := checkpointOf(newest[0]); ok {
			r.cp = &cp
		}
	}
	r.lastCheck = time.Now()
	r.needCheck = false
	return nil
}

// checkpointOf reads the fields of a stream entry a checkpoint needs.
func checkpointOf(m redis.XMessage) (checkpoint, bool) {
	id, _ := m.Values[fieldID].(string)
	data, _ := m.Values[fieldEvent].(string)
	var w struct {
		Seq int64 `json:"seq"`
	}
	if id == "" || json.Unmarshal([]byte(data), &w) != nil {
		return checkpoint{}, false
	}
	return checkpoint{id: m.ID, eventID: id, seq: w.Seq}, true
}

// holdsEntry reports whether the stream holds entry id carrying eventID.
// Comparing the event id too tells a stream that was replaced by one that
// happens to reuse the id apart from the original.
func holdsEntry(ctx context.Context, rdb redis.UniversalClient, stream, id, eventID string) (bool, error) {
	msgs, err := rdb.XRangeN(ctx, stream, id, id, 1).Result()
	if err != nil {
		return false, err
	}
	if len(msgs) == 0 {
		return false, nil
	}
	got, _ := msgs[0].Values[fieldID].(string)
	return got == eventID, nil
}

// listen wakes the relay on notifications until ctx ends, reconnecting
// with backoff.
func (r *Relay) listen(ctx context.Context) {
	var retry time.Duration
	for {
		err := r.listenOnce(ctx, func() { retry = 0 })
		if ctx.Err() != nil {
			return
		}
		if retry == 0 {
			r.log.Warn("listening for outbox notifications failed; polling meanwhile", "err", err)
		}
		retry = pubsub.Backoff(retry, r.cfg.RetryMax)
		if !pubsub.Pause(ctx, retry) {
			return
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context, listening func()) error {
	c, err := r.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	// The connection leaves the pool: it stays in LISTEN mode, which must
	// not leak into other users' work, and is closed here.
	conn := c.Hijack()
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{r.cfg.ListenChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	listening()
	// Poll fast again the moment this connection is gone; the kick cuts
	// short a backstop sleep that began while it was up.
	r.listening.Store(true)
	defer func() { r.listening.Store(false); r.Kick() }()
	// Rows committed while nobody listened are found by this round.
	r.Kick()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		r.Kick()
	}
}
