package server

import (
	"context"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/ratelimit"
)

// RateLimits are the per-caller limits; a zero rule does not limit.
type RateLimits struct {
	Citizen   ratelimit.Rule // each citizen the app acts for
	APIKey    ratelimit.Rule // each API key (department systems, the citizen app as a whole, evaluators)
	Anonymous ratelimit.Rule // each client address without credentials
	Stream    ratelimit.Rule // uploads and exports of each caller
}

// Allower admits or refuses one request for a key.
type Allower interface {
	Allow(ctx context.Context, key string, rule ratelimit.Rule) (bool, time.Duration, error)
}

// rateLimited refuses callers over their limit with HTTP 429, a
// Retry-After header and RATE_LIMITED with extensions.retryAfter (seconds).
// Staff with personal tokens are not limited here. The hub's Allower falls
// back to per-instance limits while Redis cannot answer
// (ratelimit.WithFallback); should an Allower still fail, the request
// passes: an outage of the limiter must not become an outage of the hub
// (it is logged).
func rateLimited(log *slog.Logger, l Allower, limits RateLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := rateCheck(r.Context(), log, l, limits, access.PrincipalFrom(r.Context()), r.RemoteAddr); e != nil {
			w.Header().Set("Retry-After", strconv.Itoa(e.Extra["retryAfter"].(int)))
			writeError(w, http.StatusTooManyRequests, e)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rateCheck counts one request of p (from remoteAddr) against its limits
// and returns RATE_LIMITED with extensions.retryAfter (seconds) when one is
// exhausted. HTTP requests and WebSocket operations share the buckets.
func rateCheck(ctx context.Context, log *slog.Logger, l Allower, limits RateLimits, p *access.Principal, remoteAddr string) *apperr.Error {
	type check struct {
		key  string
		rule ratelimit.Rule
	}
	var checks []check
	switch p.Kind {
	case access.KindService:
		checks = append(checks, check{"key:" + p.Subject, limits.APIKey})
		if p.CitizenID != "" {
			checks = append(checks, check{"citizen:" + p.Subject + ":" + p.CitizenID, limits.Citizen})
		}
	case access.KindAnonymous:
		checks = append(checks, check{"anon:" + remoteHost(remoteAddr), limits.Anonymous})
	}
	for _, c := range checks {
		ok, wait, err := l.Allow(ctx, c.key, c.rule)
		if err != nil {
			log.WarnContext(ctx, "rate limiter unavailable", "err", err)
			return nil
		}
		if !ok {
			return retryLater(wait, "too many requests")
		}
	}
	return nil
}

// retryLater is RATE_LIMITED with the wait in whole seconds.
func retryLater(wait time.Duration, what string) *apperr.Error {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	return &apperr.Error{Code: apperr.RateLimited,
		Message: what + "; retry in " + strconv.Itoa(secs) + " s", Extra: map[string]any{"retryAfter": secs}}
}

// remoteHost is the address part of a RemoteAddr.
func remoteHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
