// Package replica routes the hub's read-only operations to PostgreSQL
// streaming replicas and everything else to the primary.
//
// The rules a caller can rely on:
//   - Only statements of a context marked by Read may go to a replica;
//     writes, the audit trail, the outbox and background work always run on
//     the primary (their contexts are never marked).
//   - A replica serves only while a health check every CheckInterval finds
//     it in recovery and no more than MaxLag behind the primary; one that
//     dies or falls behind is dropped at the next check (or at once, when a
//     statement cannot reach it) and rejoins by itself when it catches up.
//   - Read-your-writes: after a write the caller is handed the primary's WAL
//     position (WriteLSN); a read carrying it goes to a replica only once
//     that replica has replayed it, else to the primary.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults for Config.
const (
	MaxLagDefault        = time.Second
	CheckIntervalDefault = 500 * time.Millisecond
)

// LSN is a position in PostgreSQL's write-ahead log.
type LSN uint64

// ParseLSN reads PostgreSQL's text form of an LSN, "16/B374D848".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, fmt.Errorf("lsn %q: want HEX/HEX", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("lsn %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// String is PostgreSQL's text form of l.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

type readKey struct{}

// Read marks ctx as a read-only operation that must see every write up to
// min (0: any healthy replica will do).
func Read(ctx context.Context, min LSN) context.Context {
	return context.WithValue(ctx, readKey{}, min)
}

// Config configures a Router.
type Config struct {
	// URLs of the replicas.
	URLs []string
	// Pool sizes each replica's pool (its URL is replaced).
	Pool postgres.PoolConfig
	// MaxLag is how far behind the primary a replica may be and serve.
	MaxLag time.Duration
	// CheckInterval is how often every replica's health is checked.
	CheckInterval time.Duration
	Logger        *slog.Logger
}

// Router is a postgres.DB that sends the statements of contexts marked by
// Read to a healthy replica and everything else to the primary.
type Router struct {
	primary  *pgxpool.Pool
	nodes    []*node
	maxLag   time.Duration
	interval time.Duration
	log      *slog.Logger
	next     atomic.Uint64
	// primaryReads counts marked statements the primary served because no
	// replica could.
	primaryReads atomic.Uint64

	mu sync.Mutex
	// samples are the primary's WAL positions over the last MaxLag and a
	// bit: a replica whose replay position has reached the one of MaxLag
	// ago is less than MaxLag behind. Measured on the primary's clock, so
	// an idle primary does not make replicas look late.
	samples []sample
}

type sample struct {
	at  time.Time
	lsn LSN
}

type node struct {
	name     string
	pool     *pgxpool.Pool
	healthy  atomic.Bool
	replayed atomic.Uint64
	reads    atomic.Uint64
}

var _ postgres.DB = (*Router)(nil)

// New builds a router over primary and the replicas in cfg and checks them
// once; a replica that does not answer yet is out of rotation until it
// does. Run keeps checking.
func New(ctx context.Context, primary *pgxpool.Pool, cfg Config) (*Router, error) {
	r := &Router{primary: primary, maxLag: cfg.MaxLag, interval: cfg.CheckInterval, log: cfg.Logger}
	if r.maxLag <= 0 {
		r.maxLag = MaxLagDefault
	}
	if r.interval <= 0 {
		r.interval = CheckIntervalDefault
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, u := range cfg.URLs {
		pc := cfg.Pool
		pc.URL = u
		pool, err := postgres.NewPool(ctx, pc)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("replica %s: %w", redact(u), err)
		}
		r.nodes = append(r.nodes, &node{name: redact(u), pool: pool})
	}
	r.Check(ctx)
	return r, nil
}

// redact names a replica by host, port and database only.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "replica"
	}
	return u.Host + u.Path
}

// Close closes the replicas' pools (not the primary's).
func (r *Router) Close() {
	for _, n := range r.nodes {
		n.pool.Close()
	}
}

// Primary is the primary's pool.
func (r *Router) Primary() *pgxpool.Pool { return r.primary }

// NodeStats is one replica's state.
type NodeStats struct {
	Name     string
	Healthy  bool
	Replayed LSN
	// Reads counts the statements it served.
	Reads uint64
}

// Stats reports every replica's state and how many marked statements the
// primary served.
func (r *Router) Stats() (nodes []NodeStats, primaryReads uint64) {
	for _, n := range r.nodes {
		nodes = append(nodes, NodeStats{Name: n.name, Healthy: n.healthy.Load(), Replayed: LSN(n.replayed.Load()), Reads: n.reads.Load()})
	}
	return nodes, r.primaryReads.Load()
}

// WriteLSN is the primary's WAL insert position: at or past the commit of
// every transaction committed before the call, so a read that waits for a
// replica to replay it sees those writes.
func (r *Router) WriteLSN(ctx context.Context) (LSN, error) {
	var s string
	if err := r.primary.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
		return 0, fmt.Errorf("primary wal position: %w", err)
	}
	return ParseLSN(s)
}

// Run checks the replicas every CheckInterval until ctx ends.
func (r *Router) Run(ctx context.Context) error {
	if len(r.nodes) == 0 {
		return nil
	}
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.Check(ctx)
		}
	}
}

// Check samples the primary's position and checks every replica once.
func (r *Router) Check(ctx context.Context) {
	if len(r.nodes) == 0 {
		return
	}
	// A check that hangs (a replica's host gone) must not delay the next.
	ctx, cancel := context.WithTimeout(ctx, max(r.interval, time.Second))
	defer cancel()
	threshold, ok := r.sample(ctx)
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Go(func() { r.checkNode(ctx, n, threshold, ok) })
	}
	wg.Wait()
}

// sample records the primary's position now and returns the position a
// replica must have replayed to be at most MaxLag behind. ok is false
// when the primary did not answer (replicas keep their state).
func (r *Router) sample(ctx context.Context) (threshold LSN, ok bool) {
	var s string
	err := r.primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&s)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		if l, perr := ParseLSN(s); perr == nil {
			r.samples = append(r.samples, sample{at: now, lsn: l})
		}
	}
	// Keep the newest sample at least MaxLag old and every later one.
	cut := now.Add(-r.maxLag)
	keep := 0
	for i, sm := range r.samples {
		if !sm.at.After(cut) {
			keep = i
		}
	}
	r.samples = r.samples[keep:]
	if len(r.samples) == 0 || err != nil {
		return 0, false
	}
	// Until a sample is MaxLag old, the oldest one (the safe side).
	return r.samples[0].lsn, true
}

func (r *Router) checkNode(ctx context.Context, n *node, threshold LSN, known bool) {
	var inRecovery bool
	var replayed *string
	err := n.pool.QueryRow(ctx, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text").Scan(&inRecovery, &replayed)
	var why string
	switch {
	case err != nil:
		why = err.Error()
	case !inRecovery:
		// Promoted, or pointed at a primary by mistake: its data may
		// diverge from the primary's.
		why = "not in recovery (not a replica)"
	case replayed == nil:
		why = "has replayed nothing yet"
	}
	if why == "" {
		l, perr := ParseLSN(*replayed)
		if perr != nil {
			why = perr.Error()
		} else {
			n.replayed.Store(uint64(l))
			if known && l < threshold {
				why = fmt.Sprintf("more than %s behind (replayed %s, primary was at %s)", r.maxLag, l, threshold)
			}
		}
	}
	if !known && why == "" {
		// The primary did not answer: the lag is unknown, the state stays.
		return
	}
	r.setHealthy(n, why == "", why)
}

func (r *Router) setHealthy(n *node, healthy bool, why string) {
	if n.healthy.Swap(healthy) == healthy {
		return
	}
	if healthy {
		r.log.Info("replica joins the rotation", "replica", n.name)
	} else {
		r.log.Warn("replica leaves the rotation", "replica", n.name, "reason", why)
	}
}

// pick chooses the pool for ctx's statements: a healthy replica that has
// replayed what the caller must see, round robin, else the primary.
func (r *Router) pick(ctx context.Context) (*pgxpool.Pool, *node) {
	min, ok := ctx.Value(readKey{}).(LSN)
	if !ok || len(r.nodes) == 0 {
		return r.primary, nil
	}
	start := r.next.Add(1)
	for i := range uint64(len(r.nodes)) {
		n := r.nodes[(start+i)%uint64(len(r.nodes))]
		if n.healthy.Load() && LSN(n.replayed.Load()) >= min {
			n.reads.Add(1)
			return n.pool, n
		}
	}
	r.primaryReads.Add(1)
	return r.primary, nil
}

// failed drops n from the rotation when err says it cannot be reached, and
// reports whether the statement should be retried on the primary.
func (r *Router) failed(n *node, err error) bool {
	if n == nil || err == nil || !postgres.Unavailable(err) {
		return false
	}
	r.setHealthy(n, false, err.Error())
	return true
}

// Query runs sql on the pool ctx routes to; a replica that cannot be
// reached is dropped and the primary answers.
func (r *Router) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	pool, n := r.pick(ctx)
	rows, err := pool.Query(ctx, sql, args...)
	if r.failed(n, err) {
		return r.primary.Query(ctx, sql, args...)
	}
	return rows, err
}

// QueryRow runs sql on the pool ctx routes to, as Query.
func (r *Router) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	pool, n := r.pick(ctx)
	if n == nil {
		return pool.QueryRow(ctx, sql, args...)
	}
	return retryRow{Row: pool.QueryRow(ctx, sql, args...), retry: func(err error) pgx.Row {
		if r.failed(n, err) {
			return r.primary.QueryRow(ctx, sql, args...)
		}
		return nil
	}}
}

// retryRow scans again from the primary when the replica was unreachable.
type retryRow struct {
	pgx.Row
	retry func(error) pgx.Row
}

func (rr retryRow) Scan(dest ...any) error {
	err := rr.Row.Scan(dest...)
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if again := rr.retry(err); again != nil {
		return again.Scan(dest...)
	}
	return err
}

// Exec always runs on the primary: statements without rows are writes.
func (r *Router) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return r.primary.Exec(ctx, sql, args...)
}

// Begin always starts on the primary: a read-write transaction.
func (r *Router) Begin(ctx context.Context) (pgx.Tx, error) { return r.primary.Begin(ctx) }

// BeginTx starts a read-only transaction where ctx routes, any other on
// the primary.
func (r *Router) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	if opts.AccessMode != pgx.ReadOnly {
		return r.primary.BeginTx(ctx, opts)
	}
	pool, n := r.pick(ctx)
	tx, err := pool.BeginTx(ctx, opts)
	if r.failed(n, err) {
		return r.primary.BeginTx(ctx, opts)
	}
	return tx, err
}

// Acquire always takes a primary connection: what a caller does with a
// bare connection (COPY, several statements) is not known to be a read.
func (r *Router) Acquire(ctx context.Context) (*pgxpool.Conn, error) { return r.primary.Acquire(ctx) }
