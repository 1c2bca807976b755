package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/redis/go-redis/v9"
)

// ownRedis is a redis-server of the test's own, without persistence, that
// the test stops and starts again on the same port (an outage that also
// loses everything Redis held).
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &ownRedis{t: t, port: l.Addr().(*net.TCPAddr).Port}
	_ = l.Close()
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; {
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *ownRedis) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestRevocationAcrossRedisOutage: two instances share the database and a
// Redis that goes down. A grant revoked on A while Redis is down cannot be
// announced to B; once Redis is back, B reloads the whole policy and the
// grant stops applying there. A grant revoked before the outage stays
// revoked through it.
func TestRevocationAcrossRedisOutage(t *testing.T) {
	rs := startOwnRedis(t)
	clk := fixture.NewClock(seedNow)
	base := newHub(t)
	cfg := base.cfg
	cfg.RedisURL = rs.url()
	cfg.RedisPrefix = "outage:"
	start := func() *hub {
		a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(a.Handler())
		t.Cleanup(func() { srv.Close(); a.Close() })
		return &hub{t: t, app: a, srv: srv, cfg: cfg, stmts: base.stmts}
	}
	a, b := start(), start()
	ctx := context.Background()
	var caseID, rawPhone string
	if err := a.app.Pool.QueryRow(ctx, `SELECT id::text, reporter_phone FROM cases WHERE reporter_phone IS NOT NULL
		ORDER BY id DESC LIMIT 1`).Scan(&caseID, &rawPhone); err != nil {
		t.Fatal(err)
	}
	waterViewer := b.token("water", "viewer")
	phoneOnB := func() string {
		r := b.do(waterViewer, `query($id: ID!) { case(id: $id) { reporter { phone } } }`, map[string]any{"id": caseID})
		if len(r.Errors) > 0 {
			t.Fatalf("read on B: %+v", r.Errors)
		}
		return decode[struct {
			Reporter struct{ Phone string } `json:"reporter"`
		}](t, r.Data["case"]).Reporter.Phone
	}
	masked := func(p string) bool { return p != rawPhone && strings.Contains(p, "****") }
	raw := func(p string) bool { return p == rawPhone }
	waitFor := func(what string, want func(string) bool, within time.Duration) {
		t.Helper()
		for start := time.Now(); !want(phoneOnB()); time.Sleep(20 * time.Millisecond) {
			if time.Since(start) > within {
				t.Fatalf("%s: not seen on instance B within %s (phone %q)", what, within, phoneOnB())
			}
		}
	}
	admin := a.token("urban-management", "admin")
	grant := func() string {
		r := a.do(a.token("water", "admin"), `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id status } }`,
			map[string]any{"in": map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"},
				"purpose": "积水点报案人回访 (flood-point reporter follow-up)", "until": clk.Now().Add(time.Hour).Format(time.RFC3339)}})
		if len(r.Errors) > 0 {
			t.Fatalf("request: %+v", r.Errors)
		}
		id := decode[accessRequest](t, r.Data["requestAccess"]).ID
		if r = a.do(admin, `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": id}); len(r.Errors) > 0 {
			t.Fatalf("approve: %+v", r.Errors)
		}
		t.Cleanup(func() {
			a.do(admin, `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": id})
		})
		return id
	}
	revoke := func(id string) gqlResponse {
		return a.do(admin, `mutation($id: ID!) { revokeGrant(id: $id, reason: "回访结束") { status } }`, map[string]any{"id": id})
	}
	if !masked(phoneOnB()) {
		t.Fatal("water sees the phone before any grant")
	}

	// Revoked before the outage.
	before := grant()
	waitFor("first approval", raw, time.Second)
	if r := revoke(before); len(r.Errors) > 0 {
		t.Fatalf("revoke: %+v", r.Errors)
	}
	waitFor("revocation before the outage", masked, time.Second)

	// Revoked during the outage.
	during := grant()
	waitFor("second approval", raw, time.Second)
	rs.stop()
	r := revoke(during)
	t.Logf("revoke while Redis is down: %+v", r.Errors)
	var status string
	if err := a.app.Pool.QueryRow(ctx, `SELECT status FROM access_requests WHERE id = $1`, during).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "REVOKED" {
		t.Fatalf("grant %s while Redis is down: %s, want REVOKED (the database is the source of truth)", during, status)
	}
	rs.start()
	// The watcher backs off up to 2 s between attempts, then reloads.
	waitFor("revocation during the outage, after Redis is back", masked, 15*time.Second)
	// And the grant revoked before stays revoked.
	for range 10 {
		if !masked(phoneOnB()) {
			t.Fatal("after the outage water sees the phone again")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
