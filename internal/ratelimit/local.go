package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// LocalMaxKeysDefault bounds how many callers a Local limiter tracks.
const LocalMaxKeysDefault = 100_000

// Local is a sliding-window limiter in this process's memory. It stands in
// for the shared Limiter while Redis is unreachable: each instance then
// enforces the full limit on its own, so a caller spread over n instances
// gets at most n times its limit rather than no limit at all.
type Local struct {
	mu      sync.Mutex
	now     func() time.Time
	maxKeys int
	hits    map[string][]time.Time // admitted requests, oldest first
	swept   time.Time
}

// NewLocal returns an empty Local limiter; maxKeys <= 0 takes
// LocalMaxKeysDefault.
func NewLocal(now func() time.Time, maxKeys int) *Local {
	if now == nil {
		now = time.Now
	}
	if maxKeys <= 0 {
		maxKeys = LocalMaxKeysDefault
	}
	return &Local{now: now, maxKeys: maxKeys, hits: map[string][]time.Time{}}
}

// Allow admits one request for key under rule, or says how long to wait.
// When maxKeys callers are already tracked, a caller not among them is
// refused for a window: many distinct callers during an outage (addresses
// of an attack) must not grow the map without bound. It never fails.
func (l *Local) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	return l.AllowAll(ctx, []Check{{Key: key, Rule: rule}})
}

// AllowAll admits one request into every window of checks, or into none
// and says how long to wait (see Allow).
func (l *Local) AllowAll(_ context.Context, checks []Check) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) >= time.Minute {
		l.sweep(now)
	}
	var wait time.Duration
	for _, c := range checks {
		if !c.Rule.Enabled() {
			continue
		}
		hits := l.hits[c.Key]
		start := now.Add(-c.Rule.Window)
		i := 0
		for i < len(hits) && !hits[i].After(start) {
			i++
		}
		hits = hits[i:]
		_, tracked := l.hits[c.Key]
		switch {
		case len(hits) >= c.Rule.Limit:
			wait = max(wait, hits[0].Add(c.Rule.Window).Sub(now), time.Millisecond)
		case !tracked && len(l.hits) >= l.maxKeys:
			wait = max(wait, c.Rule.Window)
		}
		if tracked {
			l.hits[c.Key] = hits
		}
	}
	if wait > 0 {
		return false, wait, nil
	}
	for _, c := range checks {
		if c.Rule.Enabled() {
			l.hits[c.Key] = append(l.hits[c.Key], now)
		}
	}
	return true, 0, nil
}

// sweep forgets callers with no request in the last hour (longer than any
// sensible window).
func (l *Local) sweep(now time.Time) {
	l.swept = now
	for k, hits := range l.hits {
		if len(hits) == 0 || now.Sub(hits[len(hits)-1]) > time.Hour {
			delete(l.hits, k)
		}
	}
}

// sharedTimeout bounds one question to the shared limiter.
const sharedTimeout = time.Second

// sharedRetryAfter is how long, after the shared limiter failed, requests
// go straight to the per-instance one before Redis is asked again.
const sharedRetryAfter = 5 * time.Second

// WithFallback is the hub's limiter: the shared Redis limiter, and while
// Redis cannot answer, the per-instance Local one with the same rules. So
// an outage of Redis neither stops the hub (fail closed) nor lifts the
// limits (fail open) for any caller class.
type WithFallback struct {
	shared   *Limiter
	fallback *Local
	log      *slog.Logger
	// skipUntil (Unix nanoseconds) is when the shared limiter is next
	// asked after it failed: during an outage no request waits for it and
	// the outage is logged once per sharedRetryAfter, not once a request.
	skipUntil atomic.Int64
}

// NewWithFallback returns the limiter asking shared, and fallback while
// shared fails; log may be nil.
func NewWithFallback(shared *Limiter, fallback *Local, log *slog.Logger) *WithFallback {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WithFallback{shared: shared, fallback: fallback, log: log}
}

// Allow asks the shared limiter, and the fallback if that fails or failed
// less than sharedRetryAfter ago.
func (f *WithFallback) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	return f.AllowAll(ctx, []Check{{Key: key, Rule: rule}})
}

// AllowAll is Allow for every window of checks at once (Limiter.AllowAll).
func (f *WithFallback) AllowAll(ctx context.Context, checks []Check) (bool, time.Duration, error) {
	now := time.Now()
	if now.UnixNano() < f.skipUntil.Load() {
		return f.fallback.AllowAll(ctx, checks)
	}
	// A Redis that does not answer must not hold a request for the
	// client's full dial and read timeouts.
	sctx, cancel := context.WithTimeout(ctx, sharedTimeout)
	ok, wait, err := f.shared.AllowAll(sctx, checks)
	cancel()
	if err == nil {
		return ok, wait, nil
	}
	if ctx.Err() != nil {
		return false, 0, err
	}
	f.skipUntil.Store(now.Add(sharedRetryAfter).UnixNano())
	f.log.WarnContext(ctx, "shared rate limiter unavailable; limiting per instance", "retry_in", sharedRetryAfter, "err", err)
	return f.fallback.AllowAll(ctx, checks)
}
