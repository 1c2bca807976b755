package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
)

type headerAuth struct{}

// Authenticate accepts "Bearer <dept>" and refuses any other token.
func (headerAuth) Authenticate(r *http.Request) (*access.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return access.Anonymous(), nil
	}
	dept, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || dept == "" {
		return nil, apperr.New(apperr.Unauthenticated, "bad token")
	}
	return &access.Principal{Kind: access.KindUser, Subject: "tester", Dept: dept}, nil
}

// lockedBuffer is a log sink the server's goroutines may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLogNamesTheCaller: the request line observed writes names the
// principal that authentication found inside it.
func TestAccessLogNamesTheCaller(t *testing.T) {
	sink := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(sink, nil))
	h := observed(log, NewMetrics(nil), "query", authenticated(log, headerAuth{},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, auth := range []string{"Bearer housing", "", "Basic nope"} {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var got []string
	for _, l := range sink.lines() {
		if l["msg"] == "request" {
			got = append(got, l["principal"].(string))
		}
	}
	want := []string{"tester@housing", access.Anonymous().Actor(), "anonymous"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("principals logged %v, want %v", got, want)
	}
}

// TestCancelledRequestsAreNotInternalErrors: a client hanging up cancels
// the resolvers' context; that is logged as information, not as an error.
func TestCancelledRequestsAreNotInternalErrors(t *testing.T) {
	sink := &lockedBuffer{}
	present := errorPresenter(slog.New(slog.NewJSONHandler(sink, nil)), NewMetrics(nil), nil)
	got := present(context.Background(), fmt.Errorf("list cases: query cases: %w", context.Canceled))
	if got.Extensions["code"] != "SERVICE_UNAVAILABLE" || got.Message != "the request was cancelled" {
		t.Fatalf("presented %+v", got)
	}
	for _, l := range sink.lines() {
		if l["level"] == "ERROR" {
			t.Fatalf("logged as an error: %v", l)
		}
	}
}

// TestWebSocketsOutliveTheRequestTimeout: the request timeout bounds
// requests, not the WebSocket connections that carry subscriptions.
func TestWebSocketsOutliveTheRequestTimeout(t *testing.T) {
	var deadlines []bool
	h := withTimeout(30*time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := r.Context().Deadline()
		deadlines = append(deadlines, ok)
	}))
	for _, upgrade := range []string{"", "websocket", "WebSocket"} {
		r := httptest.NewRequest("GET", "/query", nil)
		if upgrade != "" {
			r.Header.Set("Upgrade", upgrade)
			r.Header.Set("Connection", "Upgrade")
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if want := []bool{true, false, false}; fmt.Sprint(deadlines) != fmt.Sprint(want) {
		t.Fatalf("deadlines %v, want %v (a plain request, then two upgrades)", deadlines, want)
	}
}
