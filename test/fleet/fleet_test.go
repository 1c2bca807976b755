// Package fleet_test runs the hub as a fleet: hub processes behind HAProxy,
// composed with the water department's subgraph by a standard federation
// gateway (test/federation's pinned @apollo/gateway), serving a mixed load
// of staff queries, cross-subgraph queries and case reports while one
// instance is SIGKILLed and another started. Subscribers follow case
// changes through HAProxy and reconnect when their instance dies.
//
// Needs haproxy (scripts/services.sh installs it) and node with
// test/federation's packages (scripts/npm-deps.sh); skipped without them,
// except under CI, where a missing piece fails the test.
package fleet_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
)

var env testenv.Env

// seedNow fixes the demo data's "now".
var seedNow = time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC)

// childHubEnv makes the test binary serve a hub instead of running the
// tests: the fleet's instances are processes the test can SIGKILL.
const childHubEnv = "DATAHUB_FLEET_CHILD_HUB"

func TestMain(m *testing.M) {
	if os.Getenv(childHubEnv) != "" {
		os.Exit(runChildHub())
	}
	os.Exit(testenv.Main(m, &env))
}

func runChildHub() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child hub: config:", err)
		return 2
	}
	a, err := app.New(ctx, cfg, log, app.Options{Now: func() time.Time { return seedNow }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child hub:", err)
		return 1
	}
	defer a.Close()
	if err := a.Serve(ctx, func(addr string) { fmt.Printf("listening %s\n", addr) }); err != nil {
		fmt.Fprintln(os.Stderr, "child hub:", err)
		return 1
	}
	return 0
}

// require skips (or, under CI, fails) when a piece of the fleet is missing.
func require(t *testing.T) (haproxy, node string) {
	t.Helper()
	ci := os.Getenv("CI")
	inCI := ci != "" && ci != "false" && ci != "0"
	missing := func(what string) {
		msg := what + "; `make test` installs it (scripts/services.sh, scripts/npm-deps.sh)"
		if inCI {
			t.Fatalf("CI: %s", msg)
		}
		t.Skipf("skipping the fleet test: %s", msg)
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/haproxy"); serr != nil {
			missing("haproxy is not installed")
		}
		haproxy = "/usr/sbin/haproxy"
	}
	if node, err = exec.LookPath("node"); err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(federationDir, "node_modules", "@apollo", "gateway", "package.json")); err != nil {
		missing("test/federation/node_modules is missing")
	}
	return haproxy, node
}

const federationDir = "../federation"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a child process killed at cleanup, its output shown on failure.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// start runs cmd, waits until its output has a line with prefix and
// returns the rest of that line.
func start(t *testing.T, name string, cmd *exec.Cmd, prefix string) (*proc, string) {
	t.Helper()
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = p.out.Write(append(sc.Bytes(), '\n'))
			if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok && prefix != "" {
				select {
				case found <- strings.TrimSpace(rest):
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	if prefix == "" {
		return p, ""
	}
	select {
	case s := <-found:
		return p, s
	case <-p.exited:
		t.Fatalf("%s exited at start:\n%s", name, p.out.String())
	case <-time.After(120 * time.Second):
		t.Fatalf("%s not ready within 120 s:\n%s", name, p.out.String())
	}
	return p, ""
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startHub(t *testing.T, name string, port int, vars map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childHubEnv+"=1", fmt.Sprintf("LISTEN_ADDR=127.0.0.1:%d", port), "LOG_LEVEL=warn")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, _ := start(t, "hub "+name, cmd, "listening ")
	return p
}

// haproxyConfig balances the hubs: health checks on /readyz every 500 ms;
// a request that cannot connect to an instance (it died before the checks
// noticed) is retried on another. Only connection failures are retried: a
// request the dead instance had received may have committed (a mutation
// retried elsewhere would be applied twice), so it fails to the caller.
const haproxyConfig = `global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    retries 3
    option redispatch 1
    retry-on conn-failure
    option http-buffer-request
frontend hubs
    bind 127.0.0.1:%d
    default_backend hubs
backend hubs
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
%s`

type response struct {
	Status int
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
}

func post(ctx context.Context, url, token, query string, vars map[string]any) (response, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, err
	}
	r := response{Status: res.StatusCode}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("status %d: %s", res.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return r, fmt.Errorf("status %d: %s %v", res.StatusCode, r.Errors[0].Message, r.Errors[0].Extensions)
	}
	return r, nil
}

func waitOK(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// subscriber follows caseUpdated through HAProxy, reconnecting whenever the
// connection or subscription ends — resuming with since = the updatedAt of
// the last case it heard of, as a client should — and records the case ids
// it heard of.
type subscriber struct {
	mu         sync.Mutex
	seen       map[string]bool
	last       time.Time // the newest updatedAt heard, or when it first subscribed
	reconnects int
	connected  atomic.Bool
}

func (s *subscriber) heard(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id]
}

func follow(ctx context.Context, wsURL, token string) *subscriber {
	s := &subscriber{seen: map[string]bool{}, last: time.Now()}
	go func() {
		for ctx.Err() == nil {
			s.session(ctx, wsURL, token)
			s.connected.Store(false)
			if ctx.Err() == nil {
				s.mu.Lock()
				s.reconnects++
				s.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
		}
	}()
	return s
}

func (s *subscriber) session(ctx context.Context, wsURL, token string) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	cancel()
	if err != nil {
		return
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	if wsjson.Write(ctx, conn, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}) != nil {
		return
	}
	var ack map[string]any
	if wsjson.Read(ctx, conn, &ack) != nil || ack["type"] != "connection_ack" {
		return
	}
	s.mu.Lock()
	// A little earlier than the last change heard: repeats are harmless.
	since := s.last.Add(-2 * time.Second).UTC().Format(time.RFC3339Nano)
	s.mu.Unlock()
	if wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe",
		"payload": map[string]any{"query": `subscription($since: DateTime) { caseUpdated(since: $since) { id version updatedAt } }`,
			"variables": map[string]any{"since": since}}}) != nil {
		return
	}
	s.connected.Store(true)
	for {
		var m struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					CaseUpdated struct {
						ID        string
						UpdatedAt time.Time
					} `json:"caseUpdated"`
				} `json:"data"`
			} `json:"payload"`
		}
		if wsjson.Read(ctx, conn, &m) != nil {
			return
		}
		switch m.Type {
		case "ping":
			_ = wsjson.Write(ctx, conn, map[string]any{"type": "pong"})
		case "next":
			s.mu.Lock()
			s.seen[m.Payload.Data.CaseUpdated.ID] = true
			if u := m.Payload.Data.CaseUpdated.UpdatedAt; u.After(s.last) {
				s.last = u
			}
			s.mu.Unlock()
		default:
			return
		}
	}
}

// outcome is one request of the load.
type outcome struct {
	started, ended time.Time
	err            error
	caseID         string // a reported case's id
}

// TestFleetKillAndStart: three hubs behind HAProxy, composed with the
// water subgraph by Apollo Gateway, serve a mixed load; one hub is
// SIGKILLed mid-load and a fourth started. No request fails but those in
// flight on the killed instance; every case report acknowledged reaches
// every subscriber: those on the killed instance reconnect through HAProxy
// and resume with since, losing nothing.
func TestFleetKillAndStart(t *testing.T) {
	haproxyBin, node := require(t)
	ctx := t.Context()
	if _, err := seed.Run(ctx, env.Pool(t), seed.Options{Seed: 7, Cases: 300, Now: seedNow, Calendar: calendar.Default()}, nil); err != nil {
		t.Fatalf("seed: %v", err)
	}
	var grid string
	if err := env.Pool(t).QueryRow(ctx, `SELECT code FROM jurisdictions WHERE level = 'GRID'
		AND code LIKE 'hailing.chengdong.%' ORDER BY code LIMIT 1`).Scan(&grid); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"DATABASE_URL": env.DatabaseURL, "REDIS_URL": env.RedisURL, "REDIS_PREFIX": env.RedisPrefix + "fleet:",
		"RATE_LIMIT_APIKEY": "1000000/1m", "TRUSTED_PROXIES": "127.0.0.1", "SHUTDOWN_GRACE": "5s"}

	// Four slots: three hubs now, the fourth started mid-load.
	ports := []int{freePort(t), freePort(t), freePort(t), freePort(t)}
	var servers strings.Builder
	for i, p := range ports {
		fmt.Fprintf(&servers, "    server hub%d 127.0.0.1:%d check\n", i+1, p)
	}
	lbPort := freePort(t)
	cfgFile := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(haproxyConfig, lbPort, servers.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	hubs := make([]*proc, 4)
	for i := range 3 {
		hubs[i] = startHub(t, fmt.Sprint(i+1), ports[i], vars)
	}
	start(t, "haproxy", exec.Command(haproxyBin, "-f", cfgFile, "-db"), "")
	lb := fmt.Sprintf("http://127.0.0.1:%d", lbPort)

	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	token := func(dept string, roles ...string) string {
		tok, err := auth.MintDev(cfg.DevSecret(), auth.DevClaims{Subject: "fleet", Dept: dept, Roles: roles}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	housing := token("housing", "viewer")
	officer := token("urban-management", "officer", "dispatcher")

	// Compose the hub (through HAProxy) with the water subgraph.
	var sdl string
	waitOK(t, "the hubs answer through HAProxy", func() error {
		r, err := post(ctx, lb+"/query", housing, `{ _service { sdl } }`, nil)
		if err != nil {
			return err
		}
		var svc struct {
			Service struct{ SDL string } `json:"_service"`
		}
		if err := json.Unmarshal(r.Data["_service"], &svc.Service); err != nil {
			return err
		}
		sdl = svc.Service.SDL
		return nil
	})
	dir := t.TempDir()
	hubSDL, supergraph := filepath.Join(dir, "hub.graphql"), filepath.Join(dir, "supergraph.graphql")
	if err := os.WriteFile(hubSDL, []byte(sdl), 0o600); err != nil {
		t.Fatal(err)
	}
	nodeCmd := func(script string, args ...string) *exec.Cmd {
		cmd := exec.Command(node, append([]string{script}, args...)...)
		cmd.Dir = federationDir
		cmd.Env = append(os.Environ(), "APOLLO_TELEMETRY_DISABLED=true", "NODE_ENV=production")
		return cmd
	}
	_, waterURL := start(t, "water subgraph", nodeCmd("water-subgraph.mjs", "--port", "0", "--hub-sdl", hubSDL), "READY ")
	if out, err := nodeCmd("compose.mjs", "--hub-sdl", hubSDL, "--hub-url", lb+"/query", "--water-url", waterURL,
		"--out", supergraph).CombinedOutput(); err != nil {
		t.Fatalf("compose: %v\n%s", err, out)
	}
	_, gw := start(t, "gateway", nodeCmd("gateway.mjs", "--supergraph", supergraph, "--port", "0"), "READY ")

	const (
		casesQuery = `{ cases(first: 10) { totalCount edges { node { id caseNo status } } } }`
		joinQuery  = `query($code: String!) { jurisdiction(code: $code) { code name floodPoints { name maxDepthCm } } }`
		report     = `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id version } }`
	)
	waitOK(t, "the gateway answers", func() error {
		_, err := post(ctx, gw, housing, joinQuery, map[string]any{"code": "hailing.chengdong"})
		return err
	})

	// Subscribers through HAProxy: enough that the instance to be killed
	// holds some of them (leastconn spreads them over the three).
	sctx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	wsURL := "ws://" + strings.TrimPrefix(lb, "http://") + "/query"
	subs := make([]*subscriber, 6)
	for i := range subs {
		subs[i] = follow(sctx, wsURL, officer)
	}
	waitOK(t, "every subscriber is connected", func() error {
		for i, s := range subs {
			if !s.connected.Load() {
				return fmt.Errorf("subscriber %d not connected", i)
			}
		}
		return nil
	})
	// A subscription is live once it hears of a change.
	waitOK(t, "every subscription hears of a change", func() error {
		r, err := post(ctx, gw, officer, report, map[string]any{"in": caseInput(grid, "warm-up")})
		if err != nil {
			return err
		}
		var c struct{ ID string }
		_ = json.Unmarshal(r.Data["reportCase"], &c)
		time.Sleep(500 * time.Millisecond)
		for i, s := range subs {
			if !s.heard(c.ID) {
				return fmt.Errorf("subscriber %d has not heard of %s", i, c.ID)
			}
		}
		return nil
	})
	reconnectsBefore := make([]int, len(subs))
	for i, s := range subs {
		s.mu.Lock()
		reconnectsBefore[i] = s.reconnects
		s.mu.Unlock()
	}

	// The load: four workers through the gateway, per 10 operations 6 case
	// lists, 2 cross-subgraph joins and 2 case reports.
	var (
		mu       sync.Mutex
		outcomes []outcome
		ops      atomic.Int64
		stopLoad atomic.Bool
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stopLoad.Load(); i++ {
				o := outcome{started: time.Now()}
				var r response
				switch i % 10 {
				case 0, 5:
					r, o.err = post(ctx, gw, officer, report, map[string]any{"in": caseInput(grid, fmt.Sprintf("fleet %d-%d", w, i))})
					if o.err == nil {
						var c struct{ ID string }
						_ = json.Unmarshal(r.Data["reportCase"], &c)
						o.caseID = c.ID
					}
				case 3, 7:
					_, o.err = post(ctx, gw, housing, joinQuery, map[string]any{"code": "hailing.chengdong"})
				default:
					_, o.err = post(ctx, gw, officer, casesQuery, nil)
				}
				o.ended = time.Now()
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				ops.Add(1)
			}
		})
	}
	waitCount := func(n int64) {
		deadline := time.Now().Add(5 * time.Minute)
		for ops.Load() < n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitCount(200)
	// In flight at the kill: started before the process was gone, ended
	// after the signal.
	killedAt := time.Now()
	hubs[0].kill()
	goneAt := time.Now()
	t.Logf("hub 1 SIGKILLed after %d requests", ops.Load())
	waitCount(ops.Load() + 200)
	hubs[3] = startHub(t, "4", ports[3], vars)
	startedAt := time.Now()
	t.Logf("hub 4 started after %d requests", ops.Load())
	// Until the new instance has served requests of the load.
	served := func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[3]))
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "datahub_http_requests_total") && strings.Contains(line, `route="query"`) &&
				!strings.HasSuffix(line, " 0") {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !served() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	newServes := served()
	servingAfter := time.Since(startedAt).Round(100 * time.Millisecond)
	waitCount(ops.Load() + 200)
	stopLoad.Store(true)
	wg.Wait()

	// Requests: only those in flight on the killed instance may fail.
	var failed, inFlight int
	var reports []string
	for _, o := range outcomes {
		if o.caseID != "" {
			reports = append(reports, o.caseID)
		}
		if o.err == nil {
			continue
		}
		failed++
		if o.started.Before(goneAt) && o.ended.After(killedAt) {
			inFlight++
			continue
		}
		t.Errorf("a request that started %s after the killed hub was gone failed: %v", o.started.Sub(goneAt).Round(time.Millisecond), o.err)
	}

	// Events: every acknowledged report reaches every subscriber, those
	// that reconnected (resuming with since) included.
	var lost []int
	waitOK(t, "the last reports reach the subscribers that stayed connected", func() error {
		lost = lost[:0]
		var missing error
		for i, s := range subs {
			s.mu.Lock()
			reconnected := s.reconnects > reconnectsBefore[i]
			s.mu.Unlock()
			n := 0
			for _, id := range reports {
				if !s.heard(id) {
					n++
				}
			}
			lost = append(lost, n)
			if n > 0 {
				missing = fmt.Errorf("subscriber %d (reconnected: %v) missed %d of %d events", i, reconnected, n, len(reports))
			}
		}
		return missing
	})
	reconnected := 0
	for i, s := range subs {
		s.mu.Lock()
		if s.reconnects > reconnectsBefore[i] {
			reconnected++
		}
		s.mu.Unlock()
		if !s.connected.Load() {
			t.Errorf("subscriber %d is not connected at the end", i)
		}
	}
	if reconnected == 0 {
		t.Log("no subscriber was on the killed instance (leastconn placed them elsewhere)")
	}
	if !newServes {
		t.Error("the instance started mid-load never served a request of the load")
	}
	t.Logf("FIGURES requests=%d failed=%d (in flight on the killed instance) reports=%d subscribers=%d reconnected=%d events lost per subscriber=%v new instance serving %s after its start",
		len(outcomes), failed, len(reports), len(subs), reconnected, lost, servingAfter)
	if failed != inFlight {
		t.Errorf("%d requests failed, %d of them in flight at the kill", failed, inFlight)
	}
}

func caseInput(grid, description string) map[string]any {
	return map[string]any{"kind": "EVENT", "minorCode": "0502", "source": "INSPECTOR_PATROL",
		"description": description, "lat": 32.49, "lng": 119.93, "jurisdiction": grid}
}
