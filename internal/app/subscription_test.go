package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// wsClient is a graphql-transport-ws client for one subscription.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (h *hub) subscribe(t *testing.T, init map[string]any, query string, vars map[string]any) *wsClient {
	t.Helper()
	return subscribeAt(t, h.srv.URL, init, query, vars)
}

// subscribeAt opens one subscription on the hub at base (http://host:port).
func subscribeAt(t *testing.T, base string, init map[string]any, query string, vars map[string]any) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	c := &wsClient{t: t, conn: conn}
	c.send(ctx, map[string]any{"type": "connection_init", "payload": init})
	if m := c.read(ctx); m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	c.send(ctx, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	return c
}

func (c *wsClient) send(ctx context.Context, v any) {
	if err := wsjson.Write(ctx, c.conn, v); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) read(ctx context.Context) map[string]any {
	var m map[string]any
	if err := wsjson.Read(ctx, c.conn, &m); err != nil {
		return map[string]any{"type": "timeout", "err": err.Error()}
	}
	return m
}

// next waits for the next "next" message (skipping pings) up to d.
func (c *wsClient) next(d time.Duration) (map[string]any, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		m := c.read(ctx)
		switch m["type"] {
		case "ping":
			c.send(ctx, map[string]any{"type": "pong"})
		case "next":
			return m, true
		case "timeout":
			return nil, false
		default:
			c.t.Fatalf("unexpected message: %v", m)
		}
	}
}

// TestSubscriptionsAcrossInstances: a change made through instance A
// reaches a subscriber on instance B whose scope includes the record, and
// never one whose scope does not.
func TestSubscriptionsAcrossInstances(t *testing.T) {
	clk := fixture.NewClock(seedNow)
	a, b := instance(t, clk), instance(t, clk)
	a.app.Start()
	b.app.Start()
	var grid string
	if err := a.app.Pool.QueryRow(context.Background(), `SELECT code FROM jurisdictions WHERE level = 'GRID'
		AND code LIKE 'hailing.chengdong.%' ORDER BY code LIMIT 1`).Scan(&grid); err != nil {
		t.Fatal(err)
	}
	mint := func(dept, jur string, roles ...string) map[string]any {
		tok, err := auth.MintDev(b.cfg.DevSecret(), auth.DevClaims{Subject: "sub-" + jur, Dept: dept, Roles: roles, Jurisdiction: jur}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"Authorization": "Bearer " + tok}
	}
	const q = `subscription { caseUpdated { id caseNo status reporter { phone } } }`
	east := b.subscribe(t, mint("street-chengdong", "hailing.chengdong", "street-officer"), q, nil)
	west := b.subscribe(t, mint("street-chengxi", "hailing.chengxi", "street-officer"), q, nil)
	time.Sleep(200 * time.Millisecond) // let both subscriptions register with the broker

	r := a.do(a.token("urban-management", "officer", "dispatcher"), `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"kind": "EVENT", "minorCode": "0502", "source": "INSPECTOR_PATROL",
			"description": "东进路流动摊贩占道", "lat": 32.49, "lng": 119.93, "jurisdiction": grid,
			"reporterName": "赵六", "reporterPhone": "13700001234"}})
	if len(r.Errors) > 0 {
		t.Fatalf("report: %+v", r.Errors)
	}
	id := decode[struct{ ID string }](t, r.Data["reportCase"]).ID
	start := time.Now()
	// Other tests change cases too: wait for this record's event.
	var got []byte
	for {
		m, ok := east.next(5 * time.Second)
		if !ok {
			t.Fatal("the Chengdong subscriber on instance B never heard of the new case")
		}
		got, _ = json.Marshal(m["payload"])
		if strings.Contains(string(got), id) {
			break
		}
	}
	if !strings.Contains(string(got), `"REPORTED"`) || !strings.Contains(string(got), `"137****1234"`) {
		t.Fatalf("event: %s", got)
	}
	t.Logf("event reached instance B after %s", time.Since(start))
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		m, ok := west.next(time.Until(deadline))
		if !ok {
			break
		}
		if b, _ := json.Marshal(m); strings.Contains(string(b), id) {
			t.Fatalf("a subscriber outside the record's scope heard of it: %s", b)
		}
	}
}

func TestAvailabilitySubscription(t *testing.T) {
	clk := fixture.NewClock(seedNow)
	a, b := instance(t, clk), instance(t, clk)
	a.app.Start()
	b.app.Start()
	var lot string
	if err := a.app.Pool.QueryRow(context.Background(), `SELECT id::text FROM parking_lots WHERE owner_dept = 'traffic-police'
		AND total_spaces >= 10 ORDER BY id LIMIT 1`).Scan(&lot); err != nil {
		t.Fatal(err)
	}
	watcher := b.subscribe(t, map[string]any{}, `subscription($id: ID!) { parkingAvailabilityChanged(watch: {lotIds: [$id]}) { free lot { name } } }`,
		map[string]any{"id": lot})
	time.Sleep(200 * time.Millisecond)
	r := a.do(a.token("traffic-police", "officer"), `mutation($id: ID!, $at: DateTime) { reportParkingAvailability(lotId: $id, free: 7, at: $at) { free } }`,
		map[string]any{"id": lot, "at": seedNow.Format(time.RFC3339)})
	if len(r.Errors) > 0 {
		t.Fatalf("report: %+v", r.Errors)
	}
	m, ok := watcher.next(5 * time.Second)
	if !ok {
		t.Fatal("no availability event on instance B")
	}
	if got, _ := json.Marshal(m["payload"]); !strings.Contains(string(got), `"free":7`) {
		t.Fatalf("event: %s", got)
	}
}

// TestSubscriptionFollowsRevocation: a subscription opened under a grant
// stops receiving the granted fields as soon as the grant is revoked.
func TestSubscriptionFollowsRevocation(t *testing.T) {
	clk := fixture.NewClock(seedNow)
	a := instance(t, clk)
	a.app.Start()
	tok, err := auth.MintDev(a.cfg.DevSecret(), auth.DevClaims{Subject: "env-sub", Dept: "environment", Roles: []string{"viewer"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := a.do(a.token("environment", "admin"), `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"}, "purpose": "扬尘投诉回访核实",
			"until": seedNow.Add(time.Hour).Format(time.RFC3339)}})
	id := decode[accessRequest](t, r.Data["requestAccess"]).ID
	if r = a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
		t.Fatalf("approve: %+v", r.Errors)
	}
	revoked := false
	t.Cleanup(func() {
		if !revoked {
			a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": id})
		}
	})
	sub := a.subscribe(t, map[string]any{"Authorization": "Bearer " + tok}, `subscription { caseUpdated { id reporter { phone } } }`, nil)
	time.Sleep(200 * time.Millisecond)
	report := func(phone string) string {
		r := a.do(a.token("urban-management", "officer", "dispatcher"), `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"kind": "EVENT", "minorCode": "0303", "source": "HOTLINE_12345",
				"description": "工地扬尘", "lat": 32.48, "lng": 119.91, "reporterName": "钱七", "reporterPhone": phone}})
		if len(r.Errors) > 0 {
			t.Fatalf("report: %+v", r.Errors)
		}
		return decode[struct{ ID string }](t, r.Data["reportCase"]).ID
	}
	await := func(caseID string) string {
		for {
			m, ok := sub.next(5 * time.Second)
			if !ok {
				t.Fatalf("no event for %s", caseID)
			}
			if b, _ := json.Marshal(m["payload"]); strings.Contains(string(b), caseID) {
				return string(b)
			}
		}
	}
	if got := await(report("13611112222")); !strings.Contains(got, "13611112222") {
		t.Fatalf("under the grant the phone should be visible: %s", got)
	}
	if r = a.do(a.token("urban-management", "admin"), `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
		t.Fatalf("revoke: %+v", r.Errors)
	}
	revoked = true
	if got := await(report("13633334444")); strings.Contains(got, "13633334444") || !strings.Contains(got, "136****4444") {
		t.Fatalf("after the revocation the phone must be masked: %s", got)
	}
}

// TestSubscriptionRefusesBadToken: a connection_init with a token that does
// not verify is closed with 4403 and the reason, as graphql-transport-ws
// has it, not with a normal closure that tells the client nothing.
func TestSubscriptionRefusesBadToken(t *testing.T) {
	h := newHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/query"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow()
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init",
		"payload": map[string]any{"Authorization": "Bearer not-a-token"}}); err != nil {
		t.Fatal(err)
	}
	for {
		var m map[string]any
		err := wsjson.Read(ctx, conn, &m)
		if err == nil {
			if m["type"] == "connection_ack" {
				t.Fatal("a bad token was acknowledged")
			}
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4403 || ce.Reason == "" || ce.Reason == "terminated" {
			t.Fatalf("want a 4403 close with a reason, got %v", err)
		}
		return
	}
}
