// Package ratelimit is a sliding-window rate limiter in Redis, shared by
// every hub instance: a caller's requests in the last window are counted
// wherever they landed.
package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rule allows Limit requests per Window.
type Rule struct {
	Limit  int
	Window time.Duration
}

// ParseRule reads "60/1m" (60 requests a minute). "0" or "off" disables.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || s == "off" {
		return Rule{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return Rule{}, fmt.Errorf("rate limit %q: want N/duration, e.g. 60/1m", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 0 {
		return Rule{}, fmt.Errorf("rate limit %q: bad count", s)
	}
	window, err := time.ParseDuration(w)
	if err != nil || window <= 0 {
		return Rule{}, fmt.Errorf("rate limit %q: bad window", s)
	}
	return Rule{Limit: limit, Window: window}, nil
}

// Enabled reports whether the rule limits anything.
func (r Rule) Enabled() bool { return r.Limit > 0 && r.Window > 0 }

// Limiter counts requests per key in Redis sorted sets (one member per
// request, scored by time), so the window slides instead of resetting.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a limiter whose keys start with prefix.
func New(rdb redis.UniversalClient, prefix string, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rdb: rdb, prefix: prefix + "ratelimit:", now: now}
}

// Allow admits one request for key under rule, or says how long to wait.
func (l *Limiter) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	return l.AllowAll(ctx, []Check{{Key: key, Rule: rule}})
}

// Check is one window a request counts against.
type Check struct {
	Key  string
	Rule Rule
}

// slideAll is slide for several windows in one round trip: KEYS are the
// windows, ARGV now, the request's member, then each window's length and
// limit. It admits the request into every window or, when one is full,
// into none, and returns the longest wait.
var slideAll = redis.NewScript(`
local now, member = tonumber(ARGV[1]), ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local window, limit = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local w = window
    if oldest[2] then w = tonumber(oldest[2]) + window - now end
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, wait} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, tonumber(ARGV[1 + 2 * i]))
end
return {1, 0}
`)

// AllowAll admits one request into every window of checks in one round
// trip, or into none and says how long to wait. Checks with a disabled rule
// are left out. On a Redis Cluster the keys must share a hash tag.
func (l *Limiter) AllowAll(ctx context.Context, checks []Check) (bool, time.Duration, error) {
	keys := make([]string, 0, len(checks))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	now := l.now().UnixMilli()
	args := []any{now, strconv.FormatInt(now, 10) + "-" + hex.EncodeToString(b)}
	for _, c := range checks {
		if c.Rule.Enabled() {
			keys = append(keys, l.prefix+c.Key)
			args = append(args, c.Rule.Window.Milliseconds(), c.Rule.Limit)
		}
	}
	if len(keys) == 0 {
		return true, 0, nil
	}
	res, err := slideAll.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", strings.Join(keys, ", "), err)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}
