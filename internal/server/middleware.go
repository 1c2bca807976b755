package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"go.opentelemetry.io/otel/trace"
)

type requestIDKey struct{}

// RequestID returns the request id in ctx ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID takes the caller's X-Request-ID when it is sane, else makes
// one, and echoes it in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer
// (WebSocket hijacking, flushing of streamed exports).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observed logs each request as one JSON line and records its metrics.
func observed(log *slog.Logger, m *Metrics, route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// Authentication runs inside this handler and tells the log who
		// called through the note (the context only flows inwards).
		note := &requestNote{}
		r = r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note))
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(r.Context(), "panic", "panic", p, "request_id", RequestID(r.Context()))
				if rec.status == 0 {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			d := time.Since(start)
			m.observe(route, rec.status, d, isWebSocket(r))
			attrs := []slog.Attr{
				slog.String("request_id", RequestID(r.Context())), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Int("status", rec.status),
				slog.Float64("ms", float64(d.Microseconds())/1000), slog.String("principal", note.principal()),
			}
			// With tracing on, the line names its trace.
			if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
				attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// limitBody reads a request body of at most limit bytes into memory and
// answers 413 for anything larger. GraphQL documents are small; large data
// goes through the streaming ingest endpoints, which have their own limits.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Method == http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.BadUserInput, "the request body exceeds %d bytes", limit))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			writeError(w, http.StatusRequestTimeout, apperr.New(apperr.BadUserInput, "the request body arrived too slowly; send it again"))
			return
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "could not read the request body"))
			return
		}
		if int64(len(body)) > limit {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.BadUserInput, "the request body exceeds %d bytes", limit))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds a request's work; the database honours the deadline.
//
// A WebSocket upgrade gets none: the connection carries subscriptions for
// hours, and its context is the connection's (each event is bounded by the
// statement timeout of the reads it makes).
func withTimeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Authenticator turns a request's credentials into a principal.
type Authenticator interface {
	Authenticate(r *http.Request) (*access.Principal, error)
}

// authenticated puts the caller's principal in the context; bad credentials
// get 401 with UNAUTHENTICATED, no credentials the anonymous principal.
func authenticated(log *slog.Logger, a Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
				writeError(w, http.StatusUnauthorized, e)
				return
			}
			log.ErrorContext(r.Context(), "authenticate", "err", err, "request_id", RequestID(r.Context()))
			writeError(w, http.StatusServiceUnavailable, apperr.New(apperr.ServiceUnavailable, "authentication is unavailable, try again"))
			return
		}
		if n, ok := r.Context().Value(requestNoteKey{}).(*requestNote); ok {
			n.setPrincipal(p.Actor())
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), p)))
	})
}

// requestNote collects what inner handlers learn about a request for the
// access log line observed writes when it ends.
type requestNote struct {
	mu    sync.Mutex
	actor string
}

type requestNoteKey struct{}

func (n *requestNote) setPrincipal(actor string) {
	n.mu.Lock()
	n.actor = actor
	n.mu.Unlock()
}

// principal is the authenticated caller, "anonymous" before (or without)
// authentication.
func (n *requestNote) principal() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.actor == "" {
		return "anonymous"
	}
	return n.actor
}

// writeError answers with a GraphQL-shaped error body outside the executor.
func writeError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}
