package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/ratelimit"
)

// bodyDeadline gives a request body timeout to arrive: a client that
// trickles its body (slowloris) is cut off instead of holding a connection
// and a goroutine for as long as it likes. The answer is 408.
func bodyDeadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && !isWebSocket(r) {
			// Not every writer supports deadlines (tests' recorders); the
			// server's ReadTimeout still applies then.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}

// minRateBody lets an upload run as long as it keeps up: after grace, it
// must have averaged at least rate bytes per second, or its next read fails
// with BAD_USER_INPUT (and, behind it, the deadline error). A fixed deadline
// would cut off honest large files; none at all lets a trickle hold a
// connection for ever.
func minRateBody(grace time.Duration, rate int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &minRateReader{r: r.Body, rc: http.NewResponseController(w), start: time.Now(), grace: grace, rate: rate}
			b.extend()
			r.Body = b
		}
		next.ServeHTTP(w, r)
	})
}

type minRateReader struct {
	r     io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
}

// extend moves the read deadline to where the minimum rate says the bytes
// read so far would have been due, plus the grace.
func (m *minRateReader) extend() {
	due := time.Duration(float64(m.n) / float64(m.rate) * float64(time.Second))
	_ = m.rc.SetReadDeadline(m.start.Add(m.grace + due))
}

func (m *minRateReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return n, fmt.Errorf("%w: %w", apperr.Invalid("body",
			"the upload arrived slower than %d bytes per second; send it over a faster link or in smaller files", m.rate), err)
	}
	if n > 0 {
		m.extend()
	}
	return n, err
}

func (m *minRateReader) Close() error { return m.r.Close() }

// streamSlots counts the uploads and exports each caller runs on this
// instance.
type streamSlots struct {
	mu      sync.Mutex
	running map[string]int
	max     int
}

func (s *streamSlots) acquire(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key] >= s.max {
		return false
	}
	s.running[key]++
	return true
}

func (s *streamSlots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key]--; s.running[key] <= 0 {
		delete(s.running, key)
	}
}

// streamCaller names the caller a stream limit counts against: the API key
// (whoever it acts for), the signed-in user, or the client address.
func streamCaller(p *access.Principal, remoteAddr string) string {
	if p.Kind == access.KindAnonymous {
		return "anon:" + remoteHost(remoteAddr)
	}
	return string(p.Kind) + ":" + p.Subject
}

// streamLimited bounds the uploads and exports of each caller: rule per
// window (shared by every instance through the limiter) and slots.max at
// once on this instance. Each holds a connection, a goroutine and, for an
// upload, spool space for as long as the client takes; without a bound one
// key could take them all.
func streamLimited(log *slog.Logger, l Allower, rule ratelimit.Rule, slots *streamSlots, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := streamCaller(access.PrincipalFrom(r.Context()), r.RemoteAddr)
		if l != nil {
			ok, wait, err := l.AllowAll(r.Context(), []ratelimit.Check{{Key: "stream:" + caller, Rule: rule}})
			if err != nil {
				log.WarnContext(r.Context(), "rate limiter unavailable", "err", err)
			} else if !ok {
				e := retryLater(wait, "too many uploads or exports")
				w.Header().Set("Retry-After", strconv.Itoa(e.Extra["retryAfter"].(int)))
				writeError(w, http.StatusTooManyRequests, e)
				return
			}
		}
		if !slots.acquire(caller) {
			w.Header().Set("Retry-After", "10")
			writeError(w, http.StatusTooManyRequests, &apperr.Error{Code: apperr.RateLimited,
				Message: "you already run " + strconv.Itoa(slots.max) + " uploads or exports at once; wait for one to finish",
				Extra:   map[string]any{"retryAfter": 10, "maxConcurrent": slots.max}})
			return
		}
		defer slots.release(caller)
		next.ServeHTTP(w, r)
	})
}
