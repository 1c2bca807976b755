package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// childHubEnv, when set, makes the test binary run a hub instead of the
// tests (see TestMain): fault tests re-execute themselves to get hub
// processes they can SIGKILL, without building the command first.
const childHubEnv = "DATAHUB_TEST_CHILD_HUB"

// runChildHub serves a hub configured from the environment until SIGTERM or
// SIGINT, announcing its address on stdout as "listening <addr>".
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

// childHub is a hub in a process of its own.
type childHub struct {
	URL    string
	cmd    *exec.Cmd
	stderr *testenv.SyncBuffer
	exited chan struct{}
}

// startChildHub re-executes the test binary as a hub with vars added to the
// environment and waits until it listens. The hub is killed at cleanup; its
// log is shown if the test failed.
func startChildHub(t *testing.T, name string, vars map[string]string) *childHub {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childHubEnv+"=1", "LISTEN_ADDR=127.0.0.1:0", "LOG_LEVEL=warn")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &childHub{cmd: cmd, stderr: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hub %s: %v", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
		_ = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("hub %s log:\n%s", name, c.stderr.String())
		}
	})
	select {
	case a := <-addr:
		c.URL = "http://" + a
	case <-c.exited:
		t.Fatalf("hub %s exited at start:\n%s", name, c.stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("hub %s did not listen within 90 s:\n%s", name, c.stderr.String())
	}
	return c
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *childHub) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// post sends one GraphQL request to base with a request id of the caller's
// choosing. A transport error (the hub is gone) is returned, not fatal.
func post(ctx context.Context, base, token, requestID, query string, vars map[string]any) (gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/query", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if requestID != "" {
		req.Header.Set("X-Request-ID", requestID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return gqlResponse{}, err
	}
	out := gqlResponse{Status: res.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("decode %d %s: %w", res.StatusCode, raw, err)
	}
	return out, nil
}

// acked is a write the hub acknowledged: the case reached version.
type acked struct {
	id      string
	version int
}

// caseFeed follows caseUpdated on one hub and keeps, per case, how many
// events arrived and the highest version seen.
type caseFeed struct {
	mu       sync.Mutex
	events   map[string]int
	versions map[string]int
	err      error
}

func (f *caseFeed) seen(id string) (events, version int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.events[id], f.versions[id]
}

func (f *caseFeed) failure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func followCases(t *testing.T, base, token string) *caseFeed {
	t.Helper()
	c := subscribeAt(t, base, map[string]any{"Authorization": "Bearer " + token},
		`subscription { caseUpdated { id version status } }`, nil)
	f := &caseFeed{events: map[string]int{}, versions: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			var m struct {
				Type    string `json:"type"`
				Payload struct {
					Data struct {
						CaseUpdated struct {
							ID      string `json:"id"`
							Version int    `json:"version"`
						} `json:"caseUpdated"`
					} `json:"data"`
					Errors json.RawMessage `json:"errors"`
				} `json:"payload"`
			}
			if err := wsjson.Read(ctx, c.conn, &m); err != nil {
				if ctx.Err() == nil {
					f.mu.Lock()
					f.err = fmt.Errorf("subscription read: %w", err)
					f.mu.Unlock()
				}
				return
			}
			switch m.Type {
			case "ping":
				_ = wsjson.Write(ctx, c.conn, map[string]any{"type": "pong"})
			case "next":
				f.mu.Lock()
				if len(m.Payload.Errors) > 0 {
					f.err = fmt.Errorf("subscription event with errors: %s", m.Payload.Errors)
				}
				u := m.Payload.Data.CaseUpdated
				f.events[u.ID]++
				f.versions[u.ID] = max(f.versions[u.ID], u.Version)
				f.mu.Unlock()
			default:
				f.mu.Lock()
				f.err = fmt.Errorf("subscription ended: %s %s", m.Type, m.Payload.Errors)
				f.mu.Unlock()
				return
			}
		}
	}()
	return f
}

// waitUntil polls cond (a check against the database or a feed, not a
// clock) until it holds or d passes.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(25 * time.Millisecond)
	}
	return true
}

const (
	reportForLoad = `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id version } }`
	registerCase  = `mutation($id: ID!, $v: Int) { registerCase(id: $id, version: $v, note: "核实属实") { id version } }`
	readReporter  = `query($id: ID!) { case(id: $id) { reporter { phone } } }`
)

// TestSigkillMidWriteLoad: two hub processes share the database and Redis;
// writes and audited reads go to both, and one is SIGKILLed mid-load. Every
// write either instance acknowledged is in the database whole (case,
// timeline event, outbox row), every outbox row of the load reaches the
// Redis stream and a subscriber on the surviving instance, and every read of
// personal data either instance answered has its audit record.
func TestSigkillMidWriteLoad(t *testing.T) {
	base := newHub(t) // seeds the package database
	ctx := context.Background()
	pool := base.app.Pool
	var grid, readID string
	if err := pool.QueryRow(ctx, `SELECT code FROM jurisdictions WHERE level = 'GRID'
		AND code LIKE 'hailing.chengdong.%' ORDER BY code LIMIT 1`).Scan(&grid); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT id::text FROM cases WHERE reporter_phone IS NOT NULL ORDER BY id LIMIT 1`).Scan(&readID); err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("sigkill-load-%d", time.Now().UnixNano())
	prefix := env.RedisPrefix + "sigkill:" + marker + ":"
	vars := map[string]string{"DATABASE_URL": env.DatabaseURL, "REDIS_URL": env.RedisURL, "REDIS_PREFIX": prefix}
	if v := os.Getenv("DATAHUB_TEST_AUDIT_SYNC"); v != "" {
		vars["AUDIT_SYNC"] = v // lets a developer watch the test fail without the audit fix
	}
	hubs := []*childHub{startChildHub(t, "A", vars), startChildHub(t, "B", vars)}
	victim, survivor := hubs[0], hubs[1]
	writer := base.token("urban-management", "officer", "dispatcher")
	reader := base.token("urban-management", "officer")

	feed := followCases(t, survivor.URL, reader)
	report := func(hubURL string, n int) (gqlResponse, error) {
		return post(ctx, hubURL, writer, "", reportForLoad, map[string]any{"in": map[string]any{
			"kind": "EVENT", "minorCode": "0502", "source": "INSPECTOR_PATROL",
			"description": fmt.Sprintf("%s %d", marker, n), "lat": 32.49, "lng": 119.93, "jurisdiction": grid,
			"reporterName": "赵六", "reporterPhone": "13700001234"}})
	}
	// The subscription is registered once it hears of a change: write until
	// one is heard of.
	if !waitUntil(30*time.Second, func() bool {
		r, err := report(survivor.URL, -1)
		if err != nil || len(r.Errors) > 0 {
			t.Fatalf("warm-up write: %v %+v", err, r.Errors)
		}
		id := decode[caseRef](t, r.Data["reportCase"]).ID
		return waitUntil(time.Second, func() bool { n, _ := feed.seen(id); return n > 0 })
	}) {
		t.Fatalf("the subscriber never heard of a change: %v", feed.failure())
	}

	var (
		mu         sync.Mutex
		writes     []acked
		reads      []string // request ids of answered reads of personal data
		seq        atomic.Int64
		killed     = make(chan struct{})
		victimAcks atomic.Int64
		afterKill  atomic.Int64
		wg         sync.WaitGroup
		failures   = make(chan string, 64)
	)
	const (
		writersPerHub  = 2
		opsCap         = 150 // per writer: bounds the load whatever the timing
		afterKillOps   = 6   // per surviving writer
		victimAcksKill = 40  // acknowledged writes and reads on A before the kill
	)
	fail := func(format string, args ...any) {
		select {
		case failures <- fmt.Sprintf(format, args...):
		default:
		}
	}
	isKilled := func() bool {
		select {
		case <-killed:
			return true
		default:
			return false
		}
	}
	// done reports whether a worker on h should stop: A's once it is dead,
	// B's after a few operations past the kill.
	done := func(h *childHub, ops int) bool {
		if ops >= opsCap {
			return true
		}
		if h == survivor && isKilled() {
			return afterKill.Add(1) > writersPerHub*afterKillOps*2
		}
		return false
	}
	for _, h := range hubs {
		for range writersPerHub {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ops := 0; !done(h, ops); ops++ {
					r, err := report(h.URL, int(seq.Add(1)))
					if err != nil || len(r.Errors) > 0 {
						if err == nil || h == survivor {
							fail("report on %s: %v %+v", h.URL, err, r.Errors)
						}
						return
					}
					var c caseRef
					_ = json.Unmarshal(r.Data["reportCase"], &c)
					mu.Lock()
					writes = append(writes, acked{c.ID, c.Version})
					mu.Unlock()
					r, err = post(ctx, h.URL, writer, "", registerCase, map[string]any{"id": c.ID, "v": c.Version})
					if err != nil || len(r.Errors) > 0 {
						if err == nil || h == survivor {
							fail("register on %s: %v %+v", h.URL, err, r.Errors)
						}
						return
					}
					_ = json.Unmarshal(r.Data["registerCase"], &c)
					mu.Lock()
					writes = append(writes, acked{c.ID, c.Version})
					mu.Unlock()
					if h == victim {
						victimAcks.Add(1)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ops := 0; !done(h, ops); ops++ {
				id := fmt.Sprintf("%s-r%d", marker, seq.Add(1))
				r, err := post(ctx, h.URL, reader, id, readReporter, map[string]any{"id": readID})
				if err != nil {
					if h == survivor || !isKilled() {
						fail("read on %s: %v", h.URL, err)
					}
					return
				}
				if len(r.Errors) > 0 || !strings.Contains(string(r.Data["case"]), `"phone"`) {
					fail("read on %s: %s %+v", h.URL, r.Data["case"], r.Errors)
					return
				}
				mu.Lock()
				reads = append(reads, id)
				mu.Unlock()
				if h == victim {
					victimAcks.Add(1)
				}
			}
		}()
	}
	if !waitUntil(60*time.Second, func() bool { return victimAcks.Load() >= victimAcksKill || len(failures) > 0 }) {
		t.Fatalf("hub A acknowledged only %d operations in 60 s", victimAcks.Load())
	}
	close(killed) // first: from now on A's workers expect to lose their connection
	victim.kill()
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		return
	}

	// Every acknowledged write is in the database, whole.
	for _, w := range writes {
		var version, timeline, outbox int
		if err := pool.QueryRow(ctx, `SELECT c.version,
			(SELECT count(*) FROM case_events e WHERE e.case_id = c.id),
			(SELECT count(*) FROM outbox o WHERE o.record_id = c.id::text AND o.dataset = 'cases')
			FROM cases c WHERE c.id = $1`, w.id).Scan(&version, &timeline, &outbox); err != nil {
			t.Fatalf("acknowledged write %s v%d: %v", w.id, w.version, err)
		}
		if version < w.version || timeline != version || outbox != version {
			t.Errorf("case %s: acknowledged v%d; version %d, %d timeline events, %d outbox rows", w.id, w.version, version, timeline, outbox)
		}
	}
	// Every outbox row of the load, acknowledged or cut off by the kill, is
	// published, is in the stream and reached the subscriber on B.
	var unpublished int
	if !waitUntil(30*time.Second, func() bool {
		err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox o JOIN cases c ON o.record_id = c.id::text
			WHERE c.description LIKE $1 AND o.published_at IS NULL`, marker+" %").Scan(&unpublished)
		return err == nil && unpublished == 0
	}) {
		t.Fatalf("%d outbox rows of the load still unpublished after 30 s", unpublished)
	}
	rows, err := pool.Query(ctx, `SELECT o.event_id::text, c.id::text, c.version FROM outbox o JOIN cases c ON o.record_id = c.id::text
		WHERE c.description LIKE $1`, marker+" %")
	if err != nil {
		t.Fatal(err)
	}
	type outboxRow struct {
		event, caseID string
		version       int
	}
	var outbox []outboxRow
	for rows.Next() {
		var o outboxRow
		if err := rows.Scan(&o.event, &o.caseID, &o.version); err != nil {
			t.Fatal(err)
		}
		outbox = append(outbox, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	ropt, err := redis.ParseURL(env.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	msgs, err := rdb.XRange(ctx, events.StreamKey(prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), events.StreamKey(prefix)) })
	inStream := map[string]bool{}
	for _, m := range msgs {
		if id, ok := m.Values["id"].(string); ok {
			inStream[id] = true
		}
	}
	perCase := map[string]int{}
	for _, o := range outbox {
		if !inStream[o.event] {
			t.Errorf("outbox event %s (case %s) is marked published but is not in the stream", o.event, o.caseID)
		}
		perCase[o.caseID]++
	}
	for id, n := range perCase {
		var version int
		for _, o := range outbox {
			if o.caseID == id {
				version = o.version
			}
		}
		if !waitUntil(10*time.Second, func() bool { e, v := feed.seen(id); return e >= n && v >= version }) {
			e, v := feed.seen(id)
			t.Errorf("case %s: %d outbox events up to v%d; the subscriber on B got %d events, up to v%d", id, n, version, e, v)
		}
	}
	if err := feed.failure(); err != nil {
		t.Errorf("subscriber on B: %v", err)
	}

	// Every answered read of personal data has its audit record.
	var audited []string
	arows, err := pool.Query(ctx, `SELECT request_id FROM audit_log WHERE request_id LIKE $1`, marker+"-r%")
	if err != nil {
		t.Fatal(err)
	}
	for arows.Next() {
		var id string
		if err := arows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		audited = append(audited, id)
	}
	if err := arows.Err(); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, id := range audited {
		have[id] = true
	}
	var lost []string
	for _, id := range reads {
		if !have[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d answered reads of personal data have no audit record, e.g. %s", len(lost), len(reads), lost[0])
	}
	t.Logf("%d acknowledged writes, %d outbox events over %d cases, %d audited reads", len(writes), len(outbox), len(perCase), len(reads))
}

// caseRef is the id and version a mutation answers with.
type caseRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}
