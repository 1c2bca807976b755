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

// slide drops requests older than the window, then admits this one if the
// window has room. It returns {admitted, milliseconds until a slot frees}.
var slide = redis.NewScript(`
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
if wait < 1 then wait = 1 end
return {0, wait}
`)

// Allow admits one request for key under rule, or says how long to wait.
func (l *Limiter) Allow(ctx context.Context, key string, rule Rule) (bool, time.Duration, error) {
	if !rule.Enabled() {
		return true, 0, nil
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	now := l.now().UnixMilli()
	res, err := slide.Run(ctx, l.rdb, []string{l.prefix + key}, now, rule.Window.Milliseconds(), rule.Limit,
		strconv.FormatInt(now, 10)+"-"+hex.EncodeToString(b)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}
