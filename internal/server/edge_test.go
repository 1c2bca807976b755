package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := corsHeaders([]string{"console.example.cn", "*.taizhou.gov.cn", "https://app.example.cn"}, ok)
	preflight := func(h http.Handler, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/query", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, origin := range []string{"https://console.example.cn", "https://hl.taizhou.gov.cn", "https://app.example.cn"} {
		w := preflight(h, origin)
		if w.Header().Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight from %s: %d %v", origin, w.Code, w.Header())
		}
		if w.Header().Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials travel in headers; no cookies are allowed: %v", w.Header())
		}
	}
	for _, origin := range []string{"https://evil.example.com", "http://app.example.cn", "https://example.cn", "null"} {
		if w := preflight(h, origin); w.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s allowed: %v", origin, w.Header())
		}
	}
	// A simple cross-origin POST gets the header too, and the request runs.
	r := httptest.NewRequest(http.MethodPost, "/query", nil)
	r.Header.Set("Origin", "https://console.example.cn")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "https://console.example.cn" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}
	// No patterns: same origin only, no CORS headers at all.
	if w := preflight(corsHeaders(nil, ok), "https://console.example.cn"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("without ALLOWED_ORIGINS: %v", w.Header())
	}
}

func TestRealClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	var got string
	h := realClient(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = remoteHost(r.RemoteAddr) }))
	for _, tc := range []struct{ peer, xff, want string }{
		{"127.0.0.1:5000", "203.0.113.7", "203.0.113.7"},           // through the gateway
		{"127.0.0.1:5000", "203.0.113.7, 10.1.2.3", "203.0.113.7"}, // through two trusted hops
		{"127.0.0.1:5000", "1.2.3.4, 203.0.113.7", "203.0.113.7"},  // a client's own XFF entry is not believed
		{"198.51.100.9:5000", "203.0.113.7", "198.51.100.9"},       // an untrusted peer is the client
		{"127.0.0.1:5000", "", "127.0.0.1"},                        // no header: the peer
		{"127.0.0.1:5000", "garbage, 203.0.113.7", "203.0.113.7"},  // garbage left of the client is ignored
		{"127.0.0.1:5000", "203.0.113.7, garbage", "127.0.0.1"},    // garbage in a trusted position: trust nothing
		{"[::ffff:10.0.0.5]:5000", "2001:db8::1", "2001:db8::1"},   // mapped IPv4 peer
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestRefuseBatches(t *testing.T) {
	var got string
	h := refuseBatches(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(` 
 [{"query":"{ __typename }"},{"query":"{ __typename }"}]`)))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "BAD_USER_INPUT") || !strings.Contains(w.Body.String(), "one operation per request") {
		t.Fatalf("a batch: %d %s", w.Code, w.Body)
	}
	body := `  {"query":"{ __typename }"}`
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body)))
	if w.Code != http.StatusOK || got != strings.TrimLeft(body, " ") {
		t.Fatalf("one operation must pass with its body intact (less leading blanks): %d %q", w.Code, got)
	}
}
