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

// Allower admits a request into every window it counts against, or into
// none and says how long to wait.
type Allower interface {
	AllowAll(ctx context.Context, checks []ratelimit.Check) (bool, time.Duration, error)
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
// exhausted. HTTP requests and WebSocket operations share the buckets. A
// request acting for a citizen counts against its key's window and the
// citizen's in one round trip, into both or neither; the two keys share a
// hash tag, so a Redis Cluster keeps them on one node.
func rateCheck(ctx context.Context, log *slog.Logger, l Allower, limits RateLimits, p *access.Principal, remoteAddr string) *apperr.Error {
	var checks []ratelimit.Check
	switch p.Kind {
	case access.KindService:
		key := "{key:" + p.Subject + "}"
		checks = append(checks, ratelimit.Check{Key: key, Rule: limits.APIKey})
		if p.CitizenID != "" {
			checks = append(checks, ratelimit.Check{Key: key + ":citizen:" + p.CitizenID, Rule: limits.Citizen})
		}
	case access.KindAnonymous:
		checks = append(checks, ratelimit.Check{Key: "anon:" + remoteHost(remoteAddr), Rule: limits.Anonymous})
	default:
		return nil
	}
	ok, wait, err := l.AllowAll(ctx, checks)
	if err != nil {
		log.WarnContext(ctx, "rate limiter unavailable", "err", err)
		return nil
	}
	if !ok {
		return retryLater(wait, "too many requests")
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
