package app_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// metric reads one series of the hub's /metrics (open in development
// mode); -1 when it is absent.
func metric(t *testing.T, h *hub, series string) float64 {
	t.Helper()
	res, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// Open WebSockets and subscriptions are gauges; a WebSocket's lifetime is
// not a request latency; the audit writer's queue is exported.
func TestWebSocketAndAuditMetrics(t *testing.T) {
	h := newHub(t)
	const latency = `datahub_http_request_duration_seconds_count{route="query"}`
	before := metric(t, h, latency)
	tok := h.token("urban-management", "officer")
	c := h.subscribe(t, map[string]any{"Authorization": "Bearer " + tok}, `subscription { caseUpdated { id } }`, nil)
	if !waitUntil(5*time.Second, func() bool {
		return metric(t, h, "datahub_websocket_connections") == 1 && metric(t, h, "datahub_subscriptions") == 1
	}) {
		t.Fatalf("with one subscription open: connections %v, subscriptions %v",
			metric(t, h, "datahub_websocket_connections"), metric(t, h, "datahub_subscriptions"))
	}
	c.conn.Close(websocket.StatusNormalClosure, "")
	if !waitUntil(5*time.Second, func() bool {
		return metric(t, h, "datahub_websocket_connections") == 0 && metric(t, h, "datahub_subscriptions") == 0
	}) {
		t.Fatalf("after the close: connections %v, subscriptions %v",
			metric(t, h, "datahub_websocket_connections"), metric(t, h, "datahub_subscriptions"))
	}
	if after := metric(t, h, latency); after != before {
		t.Errorf("the WebSocket's lifetime went into the request-latency histogram: count %v → %v", before, after)
	}
	for _, m := range []string{"datahub_audit_pending", "datahub_audit_written_total", "datahub_audit_lost_total", "datahub_db_statements_total"} {
		if metric(t, h, m) < 0 {
			t.Errorf("%s is not exported", m)
		}
	}
}
