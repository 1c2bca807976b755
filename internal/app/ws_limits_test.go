package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/config"
)

// hubWith is a hub on its own listener whose configuration tune changed.
func hubWith(t *testing.T, tune func(*config.Config)) *hub {
	t.Helper()
	base := newHub(t) // seeds once and gives the config
	cfg := base.cfg
	tune(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)),
		app.Options{Now: func() time.Time { return seedNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg, stmts: base.stmts}
}

// wsDial opens a graphql-transport-ws connection without initialising it.
func (h *hub) wsDial(t *testing.T) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	return &wsClient{t: t, conn: conn}
}

// wsConnect opens and initialises a connection with the init payload.
func (h *hub) wsConnect(t *testing.T, init map[string]any) *wsClient {
	t.Helper()
	c := h.wsDial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.send(ctx, map[string]any{"type": "connection_init", "payload": init})
	if m := c.read(ctx); m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	return c
}

// start sends operation id.
func (c *wsClient) start(id, query string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.send(ctx, map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}})
}

// answer waits up to d for the first "next", "error" or "complete" of
// operation id (payload nil for "complete"), skipping pings and other
// operations' messages; ok is false on a timeout or a closed connection,
// and err says which.
func (c *wsClient) answer(id string, d time.Duration) (payload map[string]any, ok bool, err error) {
	return c.answerAny([]string{id}, d)
}

// answerAny is answer for the first of several operations; the payload's
// "id" says which.
func (c *wsClient) answerAny(ids []string, d time.Duration) (payload map[string]any, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		var m map[string]any
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return nil, false, err
		}
		switch {
		case m["type"] == "ping":
			_ = wsjson.Write(ctx, c.conn, map[string]any{"type": "pong"})
		case slices.Contains(ids, fmt.Sprint(m["id"])) && (m["type"] == "next" || m["type"] == "error" || m["type"] == "complete"):
			p, _ := m["payload"].(map[string]any)
			if p == nil {
				p = map[string]any{}
			}
			p["id"] = m["id"]
			return p, true, nil
		}
	}
}

// closedWith waits up to d for the server to close the connection and
// returns the close code and reason (-1 when it stayed open).
func (c *wsClient) closedWith(d time.Duration) (websocket.StatusCode, string) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		var m map[string]any
		err := wsjson.Read(ctx, c.conn, &m)
		if err == nil {
			if m["type"] == "ping" {
				_ = wsjson.Write(ctx, c.conn, map[string]any{"type": "pong"})
			}
			continue
		}
		var ce websocket.CloseError
		if ctx.Err() != nil {
			return -1, err.Error()
		}
		if code := websocket.CloseStatus(err); code != -1 {
			_ = asCloseError(err, &ce)
			return code, ce.Reason
		}
		return -1, err.Error()
	}
}

func asCloseError(err error, ce *websocket.CloseError) bool {
	for err != nil {
		if e, ok := err.(websocket.CloseError); ok {
			*ce = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func errorCode(p map[string]any) string {
	errs, _ := p["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

func systemKey(t *testing.T, h *hub) (plaintext, id string) {
	t.Helper()
	key, k, err := auth.NewAPIKeys(h.app.Pool).Create(context.Background(), auth.APIKeySpec{Name: "ws test " + t.Name(),
		Dept: "urban-management", Roles: []string{"system"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return key, k.ID
}

const wsCaseQuery = `{ cases(first: 1) { edges { node { id } } } }`

// TestWebSocketClosesWhenKeyRevoked: a subscription opened with an API key
// ends within the recheck interval of the key's revocation, with close code
// 4401 and a reason saying why; before it, queries on the socket work.
func TestWebSocketClosesWhenKeyRevoked(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.WSRecheckInterval = 200 * time.Millisecond })
	h.app.Start() // its background work hears the revocation's announcement
	key, id := systemKey(t, h)
	c := h.wsConnect(t, map[string]any{"apiKey": key})
	c.start("sub", `subscription { caseUpdated { id } }`)
	c.start("q", wsCaseQuery)
	if p, ok, err := c.answer("q", 5*time.Second); !ok || errorCode(p) != "" {
		t.Fatalf("query before revocation: %v %v", p, err)
	}
	revokeKey(t, h, id)
	code, reason := c.closedWith(3 * time.Second)
	if code != 4401 || !strings.Contains(reason, "revoked") {
		t.Fatalf("after revocation: close %d %q, want 4401 saying the key was revoked", code, reason)
	}
}

// revokeKey revokes key id as `datahub apikey revoke` does: in the
// database, then announced to the running hubs.
func revokeKey(t *testing.T, h *hub, id string) {
	t.Helper()
	ctx := context.Background()
	if err := auth.NewAPIKeys(h.app.Pool).Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := auth.AnnounceRevoked(ctx, h.app.Redis, h.cfg.RedisPrefix, id); err != nil {
		t.Fatal(err)
	}
}

// TestWebSocketTokenExpiry: an operation sent after the token's expiry is
// refused with UNAUTHENTICATED and the connection closed with 4401, even
// when the periodic recheck has not run yet; a connection left alone is
// closed by the recheck.
func TestWebSocketTokenExpiry(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.WSRecheckInterval = time.Minute })
	// Expired 28 s ago: the verifier's 30 s leeway accepts it for about 2 s.
	minted := time.Now()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "expiring", Dept: "urban-management",
		Roles: []string{"viewer"}, Now: minted.Add(-time.Hour)}, time.Hour-28*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := h.wsConnect(t, map[string]any{"Authorization": "Bearer " + tok})
	c.start("before", wsCaseQuery)
	if p, ok, err := c.answer("before", 5*time.Second); !ok || errorCode(p) != "" {
		t.Fatalf("query before expiry: %v %v", p, err)
	}
	time.Sleep(time.Until(minted.Add(3 * time.Second)))
	c.start("after", wsCaseQuery)
	if p, ok, err := c.answer("after", 5*time.Second); !ok || errorCode(p) != "UNAUTHENTICATED" ||
		!strings.Contains(mustString(p), "expired") {
		t.Fatalf("query after expiry: %v %v, want UNAUTHENTICATED", p, err)
	}
	if code, reason := c.closedWith(3 * time.Second); code != 4401 {
		t.Fatalf("after expiry: close %d %q, want 4401", code, reason)
	}

	h2 := hubWith(t, func(c *config.Config) { c.WSRecheckInterval = 200 * time.Millisecond })
	minted = time.Now()
	tok, err = auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "expiring", Dept: "urban-management",
		Roles: []string{"viewer"}, Now: minted.Add(-time.Hour)}, time.Hour-28*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c = h2.wsConnect(t, map[string]any{"Authorization": "Bearer " + tok})
	c.start("sub", `subscription { caseUpdated { id } }`)
	if code, reason := c.closedWith(6 * time.Second); code != 4401 || !strings.Contains(reason, "expired") {
		t.Fatalf("idle subscription after expiry: close %d %q, want 4401", code, reason)
	}
}

// TestWebSocketOperationsAreRateLimited: operations over a socket count
// against the key's bucket like HTTP requests, which they share.
func TestWebSocketOperationsAreRateLimited(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.RateAPIKey = "3/1m" })
	key, _ := systemKey(t, h)
	c := h.wsConnect(t, map[string]any{"apiKey": key})
	for i := range 3 {
		id := "q" + string(rune('0'+i))
		c.start(id, wsCaseQuery)
		if p, ok, err := c.answer(id, 5*time.Second); !ok || errorCode(p) != "" {
			t.Fatalf("operation %d: %v %v", i, p, err)
		}
	}
	c.start("over", wsCaseQuery)
	p, ok, err := c.answer("over", 5*time.Second)
	if !ok || errorCode(p) != "RATE_LIMITED" {
		t.Fatalf("fourth operation: %v %v, want RATE_LIMITED", p, err)
	}
	// The bucket is the key's, whatever the transport.
	r := h.doKey(key, wsCaseQuery)
	if r.Status != 429 {
		t.Fatalf("HTTP after the socket used the bucket: %d", r.Status)
	}
}

// doKey posts a query with an API key.
func (h *hub) doKey(key, query string) gqlResponse {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest("POST", h.srv.URL+"/query", strings.NewReader(string(body)))
	req.RequestURI = ""
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var out gqlResponse
	_ = json.NewDecoder(res.Body).Decode(&out)
	out.Status = res.StatusCode
	return out
}

// TestWebSocketQueriesGetTheRequestTimeout: a query over a socket runs under
// REQUEST_TIMEOUT like one over HTTP (here a timeout nothing can meet): it
// answers no data.
func TestWebSocketQueriesGetTheRequestTimeout(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.RequestTimeout = time.Nanosecond })
	c := h.wsConnect(t, map[string]any{"Authorization": "Bearer " + h.token("urban-management", "viewer")})
	c.start("q", wsCaseQuery)
	p, ok, err := c.answer("q", 5*time.Second)
	if data, _ := p["data"].(map[string]any); !ok || data["cases"] != nil {
		t.Fatalf("query with a timeout nothing can meet: %v %v, want no data", p, err)
	}
}

// TestWebSocketSubscriptionCap: a connection carries at most
// WS_MAX_SUBSCRIPTIONS subscriptions; the next is refused with a message
// saying so, and completing one frees its place.
func TestWebSocketSubscriptionCap(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.WSMaxSubscriptions = 2 })
	c := h.wsConnect(t, map[string]any{"Authorization": "Bearer " + h.token("urban-management", "viewer")})
	c.start("s1", `subscription { caseUpdated { id } }`)
	c.start("s2", `subscription { caseUpdated { id } }`)
	c.start("s3", `subscription { caseUpdated { id } }`)
	// The operations run concurrently: one of the three, whichever came
	// last, is refused.
	p, ok, err := c.answerAny([]string{"s1", "s2", "s3"}, 5*time.Second)
	if !ok || errorCode(p) != "RATE_LIMITED" || !strings.Contains(mustString(p), "already carries 2 subscriptions") {
		t.Fatalf("third subscription: %v %v, want RATE_LIMITED", p, err)
	}
	running := "s1"
	if p["id"] == "s1" {
		running = "s2"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.send(ctx, map[string]any{"id": running, "type": "complete"})
	// The place frees once the server has ended s1; try until it has.
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; ; i++ {
		id := "again" + string(rune('a'+i))
		c.start(id, `subscription { caseUpdated { id } }`)
		p, ok, _ := c.answer(id, 500*time.Millisecond)
		if !ok {
			return // no refusal: the subscription runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("after completing one, a new subscription is still refused: %v", p)
		}
	}
}

// TestWebSocketInitTimeout: a connection that never sends connection_init
// is closed after WS_INIT_TIMEOUT.
func TestWebSocketInitTimeout(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.WSInitTimeout = 200 * time.Millisecond })
	c := h.wsDial(t)
	if code, reason := c.closedWith(3 * time.Second); code == -1 {
		t.Fatalf("a connection without connection_init stayed open: %s", reason)
	}
}
