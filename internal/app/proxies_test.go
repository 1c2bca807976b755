package app_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"testing"

	"github.com/fengcheng/datahub/internal/config"
)

// Behind a trusted gateway every anonymous client keeps its own rate-limit
// bucket (X-Forwarded-For through TRUSTED_PROXIES); a client that is not a
// trusted proxy cannot choose its bucket by sending the header itself.
func TestAnonymousLimitsFollowTheRealClient(t *testing.T) {
	h := hubWith(t, func(c *config.Config) {
		c.RateAnonymous, c.RedisPrefix = "2/1m", c.RedisPrefix+"proxies:"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	get := func(xff string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewBufferString(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 2 {
		if code := get("203.0.113.7"); code != http.StatusOK {
			t.Fatalf("client A request %d: %d", i+1, code)
		}
	}
	if code := get("203.0.113.7"); code != http.StatusTooManyRequests {
		t.Fatalf("client A's third request: %d, want 429", code)
	}
	if code := get("203.0.113.8"); code != http.StatusOK {
		t.Fatalf("client B behind the same gateway: %d, want its own bucket", code)
	}

	// Without trusted proxies the header is ignored: one bucket, the peer's.
	plain := hubWith(t, func(c *config.Config) { c.RateAnonymous, c.RedisPrefix = "2/1m", c.RedisPrefix+"noproxies:" })
	codes := []int{}
	for _, xff := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		req, _ := http.NewRequest("POST", plain.srv.URL+"/query", bytes.NewBufferString(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
	if codes[2] != http.StatusTooManyRequests {
		t.Fatalf("an untrusted peer chose its bucket through X-Forwarded-For: %v", codes)
	}
}
