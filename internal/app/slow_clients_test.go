package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/config"
)

// stalledRequest sends head (request line and headers) and the first part
// of a body on a raw connection, then sends nothing more, and returns the
// answer the server gives within wait (status 0 when none came).
func stalledRequest(t *testing.T, h *hub, head, partial string, wait time.Duration) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"\r\n"+partial); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestSlowBodyIsCutOff: a GraphQL body that trickles in (slowloris) is
// answered 408 once BODY_READ_TIMEOUT passes, instead of holding its
// connection for as long as the client likes.
func TestSlowBodyIsCutOff(t *testing.T) {
	h := hubWith(t, func(c *config.Config) { c.BodyReadTimeout = 300 * time.Millisecond })
	status, body := stalledRequest(t, h, "POST /query HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 200\r\n",
		`{"query":"{ cases`, 5*time.Second)
	if status != http.StatusRequestTimeout || !strings.Contains(body, "too slowly") {
		t.Fatalf("slow body: %d %s, want 408", status, body)
	}
}

// TestSlowUploadIsCutOff: an upload that falls below UPLOAD_MIN_RATE once
// the grace has passed is refused with a message saying so.
func TestSlowUploadIsCutOff(t *testing.T) {
	h := hubWith(t, func(c *config.Config) {
		c.BodyReadTimeout = 300 * time.Millisecond
		c.UploadMinRate = 1000
	})
	key, _ := systemKey(t, h)
	status, body := stalledRequest(t, h, "POST /ingest/cases HTTP/1.1\r\nHost: hub\r\nContent-Type: application/x-ndjson\r\n"+
		"X-API-Key: "+key+"\r\nContent-Length: 100000\r\n", `{"externalId":"slow-1",`, 5*time.Second)
	if status != http.StatusBadRequest || !strings.Contains(body, "slower than 1000 bytes per second") {
		t.Fatalf("slow upload: %d %s, want 400", status, body)
	}
}

// slowUpload starts an upload that sends one line and then waits until
// the test ends.
func slowUpload(t *testing.T, h *hub, key string, wg *sync.WaitGroup) (status chan int, stop func()) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", h.srv.URL+"/ingest/cases?mode=skip-invalid", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("X-API-Key", key)
	status = make(chan int, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		status <- res.StatusCode
	}()
	go func() {
		_, _ = io.WriteString(pw, `{"externalId":"slow-upload","kind":"EVENT","minorCode":"0302","source":"DRONE_PATROL","description":"x","lat":32.49,"lng":119.92}`+"\n")
	}()
	return status, func() { _ = pw.CloseWithError(io.ErrUnexpectedEOF) }
}

// TestSlowUploadsDoNotExhaustThePool: more slow uploads than the pool has
// connections are all waiting on their clients, and the hub still answers
// queries: an upload is spooled before it takes a connection.
func TestSlowUploadsDoNotExhaustThePool(t *testing.T) {
	h := hubWith(t, func(c *config.Config) {
		c.DBMaxConns = 3
		c.StreamConcurrency = 10
	})
	key, keyID := systemKey(t, h)
	var wg sync.WaitGroup
	var stops []func()
	for range 5 {
		_, stop := slowUpload(t, h, key, &wg)
		stops = append(stops, stop)
	}
	defer func() {
		for _, s := range stops {
			s()
		}
		wg.Wait()
	}()
	waitAdmitted(t, h, keyID, 5) // every upload holds its slot
	done := make(chan gqlResponse, 1)
	go func() { done <- h.do(h.token("urban-management", "viewer"), wsCaseQuery, nil) }()
	select {
	case r := <-done:
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("query beside slow uploads: %d %+v", r.Status, r.Errors)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a query waited more than 5 s beside 5 slow uploads on a pool of 3: the uploads hold the connections")
	}
}

// waitAdmitted waits until n uploads of API key id have been admitted. An
// upload holds its slot once the stream window has counted it: the slot is
// taken right after the count, with nothing between to wait on.
func waitAdmitted(t *testing.T, h *hub, id string, n int64) {
	t.Helper()
	window := h.cfg.RedisPrefix + "ratelimit:stream:" + string(access.KindService) + ":" + id
	if !waitUntil(10*time.Second, func() bool {
		got, _ := h.app.Redis.ZCard(context.Background(), window).Result()
		return got == n
	}) {
		t.Fatalf("%d uploads were not admitted within 10 s", n)
	}
}

// TestStreamLimitsPerCaller: one caller runs at most STREAM_CONCURRENCY
// uploads at once and RATE_LIMIT_STREAM per window; another caller is not
// held up by it.
func TestStreamLimitsPerCaller(t *testing.T) {
	h := hubWith(t, func(c *config.Config) {
		c.StreamConcurrency = 1
		c.RateStream = "3/1h"
	})
	key, keyID := systemKey(t, h)
	other, _ := systemKey(t, h)
	post := func(key string) (int, string) {
		req, _ := http.NewRequest("POST", h.srv.URL+"/ingest/cases?dryRun=true", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	var wg sync.WaitGroup
	status, stop := slowUpload(t, h, key, &wg)
	defer wg.Wait()
	defer stop()
	waitAdmitted(t, h, keyID, 1)
	if code, body := post(key); code != http.StatusTooManyRequests || !strings.Contains(body, "at once") {
		t.Fatalf("second upload of the same key at once: %d %s, want 429", code, body)
	}
	if code, body := post(other); code == http.StatusTooManyRequests {
		t.Fatalf("another key: %d %s", code, body)
	}
	stop()
	wg.Wait()
	<-status
	// The slot is free again; this is the key's third upload in the window.
	if code, body := post(key); code == http.StatusTooManyRequests {
		t.Fatalf("upload after the slow one ended: %d %s", code, body)
	}
	// The window (3) is full.
	if code, body := post(key); code != http.StatusTooManyRequests || !strings.Contains(body, "too many uploads") {
		t.Fatalf("fourth upload in the window: %d %s, want 429", code, body)
	}
}
