// Package availability keeps the live free-space counts of parking lots in
// Redis. Lot systems report at a high rate; each report is one atomic Redis
// script (compare timestamps, store, publish), so every hub instance can
// take reports and answer reads without touching PostgreSQL on the hot
// path. A sampler copies the current values into PostgreSQL history once a
// minute, and every change is published on a Redis channel for
// subscriptions to fan out.
//
// Keys, under the configured prefix (REDIS_PREFIX):
//
//	<prefix>parking:{avail}:<lot id>   hash {free, at}  (at: Unix microseconds)
//	<prefix>parking:{avail}:lots       set of lot ids that have a value
//	<prefix>parking:availability       pub/sub channel, JSON {lotId, free, at}
//
// The {avail} hash tag keeps a lot's key and the index set in one Redis
// Cluster slot, which the report script (two keys) requires.
package availability

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Capacities tells how many spaces lots have (PostgreSQL).
type Capacities interface {
	// TotalSpaces returns the total spaces of each existing lot among ids.
	TotalSpaces(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error)
}

// History stores sampled values (PostgreSQL).
type History interface {
	// RecordAvailability writes one row per lot for tick at, skipping rows
	// that exist already, and returns how many it wrote.
	RecordAvailability(ctx context.Context, at time.Time, values map[uuid.UUID]parking.Availability) (int64, error)
}

// Defaults.
const (
	SampleIntervalDefault = time.Minute
	CapacityTTLDefault    = time.Minute
	// FutureSkewDefault is how far ahead of this instance's clock a report
	// may be timestamped. A report from tomorrow would otherwise freeze the
	// counter: every true report after it would look older.
	FutureSkewDefault = 5 * time.Minute
	// currentBatch bounds one pipeline of Current (and of a sampler tick).
	currentBatch = 1000
)

// Config are a Counter's dependencies.
type Config struct {
	Redis redis.UniversalClient
	// Prefix namespaces keys and the channel (config REDIS_PREFIX; tests
	// use testenv's).
	Prefix string
	Lots   Capacities
	// History may be nil when this instance runs no sampler.
	History History
	// CapacityTTL is how long a lot's total spaces are cached.
	CapacityTTL time.Duration
	FutureSkew  time.Duration
	Logger      *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnSample, when set, sees the outcome of every sampler tick (tests use
	// it as a signal; production may count it).
	OnSample func(at time.Time, written int64, err error)
}

// Counter is the live availability store. It implements parking.Counters
// and is safe for concurrent use.
type Counter struct {
	cfg     Config
	channel string
	lotKey  string // key prefix of one lot's hash
	index   string
	report  *redis.Script

	mu    sync.Mutex
	capac map[uuid.UUID]capacity
}

type capacity struct {
	total   int
	expires time.Time
}

var _ parking.Counters = (*Counter)(nil)

// New returns a Counter.
func New(cfg Config) (*Counter, error) {
	if cfg.Redis == nil || cfg.Lots == nil {
		return nil, errors.New("availability: Redis and Lots are required")
	}
	if cfg.CapacityTTL <= 0 {
		cfg.CapacityTTL = CapacityTTLDefault
	}
	if cfg.FutureSkew <= 0 {
		cfg.FutureSkew = FutureSkewDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Counter{cfg: cfg, channel: Channel(cfg.Prefix), lotKey: cfg.Prefix + "parking:{avail}:",
		index: cfg.Prefix + "parking:{avail}:lots", report: redis.NewScript(reportScript),
		capac: map[uuid.UUID]capacity{}}, nil
}

// Channel is the pub/sub channel availability changes go out on.
func Channel(prefix string) string { return prefix + "parking:availability" }

// Change is one published availability change.
type Change struct {
	LotID uuid.UUID `json:"lotId"`
	Free  int       `json:"free"`
	At    time.Time `json:"at"`
}

// DecodeChange parses a message of the availability channel.
func DecodeChange(payload string) (Change, error) {
	var c Change
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return Change{}, fmt.Errorf("decode availability change: %w", err)
	}
	return c, nil
}

// reportScript stores a report unless the stored value is newer, indexes
// the lot, and publishes when the count changed. A report with the same
// timestamp as the stored one replaces it (a lot system correcting itself).
//
// KEYS[1] lot hash, KEYS[2] index set; ARGV: free, at (µs), lot id,
// channel, message. Returns {stored 0|1, free, at}.
//
//go:embed report.lua
var reportScript string

// Report implements parking.Counters: it records free spaces of lotID at
// instant at and returns the current value. Reports older than the stored
// value are ignored (stored false, the stored value returned); unchanged
// counts are stored (newer timestamp) but not published. BAD_USER_INPUT
// when free is negative or above the lot's total spaces, or at lies in the
// future; NOT_FOUND for an unknown lot.
func (c *Counter) Report(ctx context.Context, lotID uuid.UUID, free int, at time.Time) (parking.Availability, bool, error) {
	if free < 0 {
		return parking.Availability{}, false, apperr.Invalid("free", "free spaces cannot be negative")
	}
	if at.After(c.cfg.Now().Add(c.cfg.FutureSkew)) {
		return parking.Availability{}, false, apperr.Invalid("at", "the report time %s lies in the future", at.UTC().Format(time.RFC3339))
	}
	total, err := c.capacity(ctx, lotID)
	if err != nil {
		return parking.Availability{}, false, err
	}
	if free > total {
		return parking.Availability{}, false, apperr.Invalid("free", "%d free spaces exceed the lot's %d spaces", free, total)
	}
	at = at.UTC().Truncate(time.Microsecond)
	msg, err := json.Marshal(Change{LotID: lotID, Free: free, At: at})
	if err != nil {
		return parking.Availability{}, false, fmt.Errorf("encode change: %w", err)
	}
	res, err := c.report.Run(ctx, c.cfg.Redis, []string{c.lotKey + lotID.String(), c.index},
		free, at.UnixMicro(), lotID.String(), c.channel, msg).Int64Slice()
	if err != nil {
		return parking.Availability{}, false, fmt.Errorf("report availability %s: %w", lotID, err)
	}
	if len(res) != 3 {
		return parking.Availability{}, false, fmt.Errorf("report availability %s: unexpected reply %v", lotID, res)
	}
	return parking.Availability{Free: int(res[1]), At: time.UnixMicro(res[2]).UTC()}, res[0] == 1, nil
}

// capacity returns a lot's total spaces, cached for CapacityTTL: reports
// arrive far more often than lots change.
func (c *Counter) capacity(ctx context.Context, id uuid.UUID) (int, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	e, ok := c.capac[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.total, nil
	}
	m, err := c.cfg.Lots.TotalSpaces(ctx, []uuid.UUID{id})
	if err != nil {
		return 0, fmt.Errorf("lot capacity %s: %w", id, err)
	}
	total, ok := m[id]
	if !ok {
		return 0, apperr.New(apperr.NotFound, "parking lot %s not found", id)
	}
	c.mu.Lock()
	if len(c.capac) > 100_000 { // bound memory against a flood of ids
		clear(c.capac)
	}
	c.capac[id] = capacity{total: total, expires: now.Add(c.cfg.CapacityTTL)}
	c.mu.Unlock()
	return total, nil
}

// Current implements parking.Counters: the last value of each lot among ids
// that has one, read with one pipelined round trip (HMGET per lot).
func (c *Counter) Current(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]parking.Availability, error) {
	out := make(map[uuid.UUID]parking.Availability, len(ids))
	for start := 0; start < len(ids); start += currentBatch {
		chunk := ids[start:min(start+currentBatch, len(ids))]
		if err := c.current(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *Counter) current(ctx context.Context, ids []uuid.UUID, out map[uuid.UUID]parking.Availability) error {
	pipe := c.cfg.Redis.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, c.lotKey+id.String(), "free", "at")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read availability: %w", err)
	}
	for i, cmd := range cmds {
		vals, err := cmd.Result()
		if err != nil || len(vals) != 2 || vals[0] == nil || vals[1] == nil {
			continue
		}
		free, err1 := strconv.Atoi(fmt.Sprint(vals[0]))
		at, err2 := strconv.ParseInt(fmt.Sprint(vals[1]), 10, 64)
		if err1 != nil || err2 != nil {
			c.cfg.Logger.Warn("availability: unreadable value", "lot", ids[i], "free", vals[0], "at", vals[1])
			continue
		}
		out[ids[i]] = parking.Availability{Free: free, At: time.UnixMicro(at).UTC()}
	}
	return nil
}

// SampleOnce copies every lot's current value into the history under tick
// at and returns how many rows it wrote (0 when another instance already
// sampled this tick).
func (c *Counter) SampleOnce(ctx context.Context, at time.Time) (int64, error) {
	if c.cfg.History == nil {
		return 0, errors.New("availability: no history store configured")
	}
	members, err := c.cfg.Redis.SMembers(ctx, c.index).Result()
	if err != nil {
		return 0, fmt.Errorf("list lots with availability: %w", err)
	}
	ids := make([]uuid.UUID, 0, len(members))
	for _, m := range members {
		if id, err := uuid.Parse(m); err == nil {
			ids = append(ids, id)
		}
	}
	values, err := c.Current(ctx, ids)
	if err != nil {
		return 0, err
	}
	n, err := c.cfg.History.RecordAvailability(ctx, at.UTC(), values)
	if err != nil {
		return 0, fmt.Errorf("sample availability at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// RunSampler samples every interval (SampleIntervalDefault when 0) until
// ctx ends, and returns nil then. Ticks fall on multiples of the interval
// (12:00:00, 12:01:00, …), the same on every instance: each instance that
// runs the sampler writes the same (lot, tick) rows and all but the first
// write nothing, so running it everywhere is safe and survives the loss of
// any instance. A failed tick is logged and the next one tried.
func (c *Counter) RunSampler(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = SampleIntervalDefault
	}
	if c.cfg.History == nil {
		return errors.New("availability: no history store configured")
	}
	for {
		now := c.cfg.Now()
		tick := now.Truncate(interval).Add(interval)
		timer := time.NewTimer(tick.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		// The tick is the instant waited for, not the clock after waking:
		// instances whose clocks differ slightly still agree on it.
		n, err := c.SampleOnce(ctx, tick)
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Error("availability sampler", "tick", tick, "err", err)
		}
		if c.cfg.OnSample != nil {
			c.cfg.OnSample(tick, n, err)
		}
	}
}
