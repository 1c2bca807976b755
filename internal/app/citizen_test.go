package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// hubWithEnv starts a hub whose configuration adds the given variables.
func hubWithEnv(t *testing.T, vars map[string]string, clk *fixture.Clock) *hub {
	t.Helper()
	base := newHub(t)
	cfg, err := config.Load(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		switch k {
		case "DATABASE_URL":
			return env.DatabaseURL
		case "REDIS_URL":
			return env.RedisURL
		case "REDIS_PREFIX":
			return env.RedisPrefix + t.Name() + ":"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{t: t, app: a, srv: srv, cfg: cfg, stmts: base.stmts}
}

// citizenApp creates a citizen-app API key.
func (h *hub) citizenApp() string {
	h.t.Helper()
	key, _, err := auth.NewAPIKeys(h.app.Pool).Create(context.Background(), auth.APIKeySpec{
		Name: "citizen app " + h.t.Name(), Dept: "urban-management", Roles: []string{"citizen-app"},
		ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return key
}

// asCitizen posts a query with an API key acting for a citizen.
func (h *hub) asCitizen(key, citizen, query string, vars map[string]any) gqlResponse {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	if citizen != "" {
		req.Header.Set("X-Citizen-ID", citizen)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := gqlResponse{Status: resp.StatusCode}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("decode %d %s: %v", resp.StatusCode, raw, err)
	}
	return out
}

const reportIssue = `mutation($in: CitizenReportInput!, $key: String!) { reportIssue(input: $in, idempotencyKey: $key) {
	id caseNo status source reporter { name phone } } }`

func issue() map[string]any {
	return map[string]any{"kind": "EVENT", "minorCode": "0201", "description": "小区门口电线杆上贴满小广告",
		"lat": 32.4931, "lng": 119.9187, "contactName": "李四", "contactPhone": "13900001111",
		"photoUrls": []string{"https://img.fengcheng.example/app/1.jpg"}}
}

func TestCitizenReportsAndFollows(t *testing.T) {
	h := newHub(t)
	app := h.citizenApp()
	r := h.asCitizen(app, "cit-test-1", reportIssue, map[string]any{"in": issue(), "key": "retry-key-0001"})
	if len(r.Errors) > 0 {
		t.Fatalf("report: %+v", r.Errors)
	}
	created := decode[struct {
		ID, CaseNo, Status, Source string
		Reporter                   struct{ Name, Phone string }
	}](t, r.Data["reportIssue"])
	if created.Source != "CITIZEN_REPORT" || created.Status != "REPORTED" || created.Reporter.Phone != "13900001111" {
		t.Fatalf("created: %+v", created)
	}
	// A retry (say after a dropped connection) returns the same case.
	r = h.asCitizen(app, "cit-test-1", reportIssue, map[string]any{"in": issue(), "key": "retry-key-0001"})
	if again := decode[struct{ ID string }](t, r.Data["reportIssue"]); again.ID != created.ID {
		t.Fatalf("retry created %s, first call %s", again.ID, created.ID)
	}
	var n int
	if err := h.app.Pool.QueryRow(context.Background(), "SELECT count(*) FROM cases WHERE citizen_id = 'cit-test-1'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d cases stored for the citizen (%v)", n, err)
	}

	r = h.asCitizen(app, "cit-test-1", `{ myCases { totalCount edges { node { id timeline { action } } } } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["myCases"]), created.ID) || !strings.Contains(string(r.Data["myCases"]), `"totalCount":1`) {
		t.Fatalf("myCases: %s %+v", r.Data["myCases"], r.Errors)
	}

	// Another citizen can never read it: by id, by list, by _entities, node or nodes.
	for name, q := range map[string]string{
		"myCase":    `query($id: ID!) { myCase(id: $id) { id } }`,
		"case":      `query($id: ID!) { case(id: $id) { id } }`,
		"_entities": `query($id: ID!) { _entities(representations: [{__typename: "Case", id: $id}]) { ... on Case { id description } } }`,
		"node":      `query($id: ID!) { node(id: $id) { id ... on Case { description } } }`,
		"nodes":     `query($id: ID!) { nodes(ids: [$id]) { id ... on Case { description } } }`,
	} {
		r = h.asCitizen(app, "cit-test-2", q, map[string]any{"id": created.ID})
		if len(r.Errors) > 0 || strings.Contains(string(mustJSON(r.Data)), created.ID) {
			t.Errorf("%s as another citizen: %s %+v", name, mustJSON(r.Data), r.Errors)
		}
	}
	r = h.asCitizen(app, "cit-test-2", `{ myCases { totalCount } }`, nil)
	if !strings.Contains(string(r.Data["myCases"]), `"totalCount":0`) {
		t.Errorf("another citizen's list: %s", r.Data["myCases"])
	}
	// The app without a citizen is only the public.
	r = h.asCitizen(app, "", `{ myCases { totalCount } }`, nil)
	if r.code(0) != "FORBIDDEN" {
		t.Errorf("app without citizen: %+v", r.Errors)
	}
}

func TestCitizenRatesOwnClosedCaseOnce(t *testing.T) {
	h := newHub(t)
	app := h.citizenApp()
	var id, citizen string
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT id::text, citizen_id FROM cases
		WHERE citizen_id IS NOT NULL AND status = 'CLOSED' AND rating IS NULL ORDER BY id LIMIT 1`).Scan(&id, &citizen); err != nil {
		t.Fatal(err)
	}
	const rate = `mutation($id: ID!, $s: Int!) { rateCase(id: $id, stars: $s, comment: "处理很快") { rating { stars comment } } }`
	if r := h.asCitizen(app, "cit-someone-else", rate, map[string]any{"id": id, "s": 1}); r.code(0) != "NOT_FOUND" {
		t.Fatalf("another citizen rating: %+v", r.Errors)
	}
	if r := h.asCitizen(app, citizen, rate, map[string]any{"id": id, "s": 6}); r.code(0) != "BAD_USER_INPUT" {
		t.Fatalf("six stars: %+v", r.Errors)
	}
	if r := h.asCitizen(app, citizen, rate, map[string]any{"id": id, "s": 5}); len(r.Errors) > 0 {
		t.Fatalf("rating: %+v", r.Errors)
	}
	if r := h.asCitizen(app, citizen, rate, map[string]any{"id": id, "s": 4}); r.code(0) != "CONFLICT" {
		t.Fatalf("second rating: %+v", r.Errors)
	}
}

func TestCitizenRateLimit(t *testing.T) {
	clk := fixture.NewClock(seedNow)
	h := hubWithEnv(t, map[string]string{"RATE_LIMIT_CITIZEN": "3/1m"}, clk)
	app := h.citizenApp()
	q := `{ myCases { totalCount } }`
	for i := range 3 {
		if r := h.asCitizen(app, "cit-rl-1", q, nil); len(r.Errors) > 0 {
			t.Fatalf("request %d: %+v", i, r.Errors)
		}
	}
	r := h.asCitizen(app, "cit-rl-1", q, nil)
	if r.Status != http.StatusTooManyRequests || r.code(0) != "RATE_LIMITED" || r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("4th request: %d %+v", r.Status, r.Errors)
	}
	if r := h.asCitizen(app, "cit-rl-2", q, nil); len(r.Errors) > 0 {
		t.Fatalf("another citizen limited: %+v", r.Errors)
	}
	clk.Advance(61 * time.Second)
	if r := h.asCitizen(app, "cit-rl-1", q, nil); len(r.Errors) > 0 {
		t.Fatalf("after the window: %+v", r.Errors)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
