package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The scenarios' GraphQL documents (tests count their statements). They are
// what the hub's users send: S1 a street officer's work list, S2 a planning
// viewer's cross-department detail under a grant, S3 a dispatcher's nested
// page, S4 the citizen app's parking search, S5 a year of monthly
// indicators for every street.
const (
	QueryS1 = `query S1($street: String!) { cases(filter: {jurisdiction: $street, open: true}, orderBy: DEADLINE_ASC, first: 50) {
  edges { node { id caseNo status className deadline overdue address jurisdiction { name } handlingDept { code name }
  reporter { name phone } } } } }`
	QueryS2 = `query S2($id: ID!) { violation(id: $id) { recordNo kind status address party { name phone }
  property { name address management { company contactName contactPhone } }
  permitCheck { hasPermit covers permitNo note } case { caseNo status className deadline } } }`
	QueryS3 = `query S3($street: String!) { properties(filter: {jurisdiction: $street}, first: 50) { edges { node { name
  management { company } violations(first: 5) { totalCount edges { node { recordNo status } } }
  cases(first: 5) { totalCount edges { node { caseNo status deadline } } } } } } }`
	QueryS4 = `query S4($lat: Float!, $lng: Float!, $at: DateTime!) { parkingLotsNear(lat: $lat, lng: $lng, radiusMeters: 5000, openAt: $at, first: 20) {
  distanceMeters openToPublic lot { name kind address sharedSpaces freeSpaces { free } } } }`
	QueryS5 = `query S5($from: DateTime!, $to: DateTime!) { indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET]) {
  periodStart street figures { name value numerator denominator suppressed } } }`
	mutationReturn   = `mutation T($id: ID!) { returnCase(id: $id, note: "load benchmark: back to the command centre") { status version } }`
	mutationDispatch = `mutation T($id: ID!, $dept: String!) { dispatchCase(id: $id, dept: $dept, note: "load benchmark") { status version } }`
)

// fixtures are what the scenarios need from the database and the hub:
// credentials, the streets, linked violations, case pools.
type fixtures struct {
	o         Options
	transport *http.Transport
	streets   []string
	officers  map[string]string // street → street officer's token
	dispatch  string            // command centre token (dispatcher)
	planning  string            // planning viewer's token (holds a grant)
	evaluator string            // a viewer that reads indicators
	citizen   string            // the citizen app's API key
	sysToken  string            // urban-management system (imports)
	linked    []string          // violations with a compound and a case
	cycle     []cycleCase       // dispatched cases S6 returns and dispatches again
	year      time.Time         // start of the indicators' year
	seedNow   time.Time         // newest report: "now" of the demo data
}

type cycleCase struct {
	id, dept string
	// uses counts the transitions sent for the case: odd ones return it,
	// even ones dispatch it again.
	uses atomic.Uint64
}

func prepare(ctx context.Context, o Options) (*fixtures, error) {
	fx := &fixtures{o: o, officers: map[string]string{},
		transport: &http.Transport{MaxIdleConnsPerHost: max(o.Connections, 64), MaxConnsPerHost: 0,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext}}
	mint := func(sub, dept string, roles []string, jur string) (string, error) {
		return auth.MintDev(o.DevSecret, auth.DevClaims{Subject: sub, Dept: dept, Roles: roles, Jurisdiction: jur}, 24*time.Hour)
	}
	var err error
	if fx.streets, err = strings1(ctx, o, `SELECT jurisdiction_code FROM departments WHERE kind = 'STREET' ORDER BY code`); err != nil {
		return nil, fmt.Errorf("streets: %w", err)
	}
	if len(fx.streets) == 0 {
		return nil, fmt.Errorf("no streets: is the database seeded?")
	}
	for _, s := range fx.streets {
		if fx.officers[s], err = mint("bench-officer-"+s, "urban-management", []string{"street-officer"}, s); err != nil {
			return nil, err
		}
	}
	if fx.dispatch, err = mint("bench-dispatcher", "urban-management", []string{"officer", "dispatcher"}, ""); err != nil {
		return nil, err
	}
	if fx.planning, err = mint("bench-planning", "planning", []string{"viewer"}, ""); err != nil {
		return nil, err
	}
	if fx.evaluator, err = mint("bench-indicators", "environment", []string{"viewer"}, ""); err != nil {
		return nil, err
	}
	if fx.sysToken, err = mint("bench-import", "urban-management", []string{"system"}, ""); err != nil {
		return nil, err
	}
	if err := fx.grantPlanning(ctx, mint); err != nil {
		return nil, err
	}
	if fx.citizen, _, err = auth.NewAPIKeys(o.Pool).Create(ctx, auth.APIKeySpec{Name: "load benchmark citizen app",
		Dept: "urban-management", Roles: []string{"citizen-app"}, ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
		return nil, fmt.Errorf("citizen app key: %w", err)
	}
	if err := o.Pool.QueryRow(ctx, `SELECT max(reported_at) FROM cases`).Scan(&fx.seedNow); err != nil {
		return nil, fmt.Errorf("newest case: %w", err)
	}
	fx.year = time.Date(fx.seedNow.Year()-1, fx.seedNow.Month(), 1, 0, 0, 0, 0, time.UTC)
	// Violations linked to a compound or a case (the seed links each to
	// one of them), so every detail crosses departments.
	if fx.linked, err = strings1(ctx, o, `SELECT id::text FROM violations WHERE property_id IS NOT NULL OR case_id IS NOT NULL
		ORDER BY id LIMIT 500`); err != nil || len(fx.linked) == 0 {
		return nil, fmt.Errorf("no linked violations: %v", err)
	}
	crows, err := o.Pool.Query(ctx, `SELECT id::text, handling_dept FROM cases WHERE status = 'DISPATCHED' AND handling_dept IS NOT NULL
		ORDER BY id LIMIT 20000`)
	if err != nil {
		return nil, fmt.Errorf("dispatched cases: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var c cycleCase
		if err := crows.Scan(&c.id, &c.dept); err != nil {
			return nil, err
		}
		fx.cycle = append(fx.cycle, cycleCase{id: c.id, dept: c.dept})
	}
	return fx, crows.Err()
}

// strings1 returns the one text column of sql's rows.
func strings1(ctx context.Context, o Options, sql string) ([]string, error) {
	rows, err := o.Pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// grantPlanning gives planning the violations' party and the compounds'
// management contacts through the real workflow: its admin asks, the
// providers' admins approve.
func (fx *fixtures) grantPlanning(ctx context.Context, mint func(sub, dept string, roles []string, jur string) (string, error)) error {
	requester, err := mint("bench-planning-admin", "planning", []string{"admin"}, "")
	if err != nil {
		return err
	}
	until := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	for _, g := range []struct{ dataset, group, provider string }{{"violations", "party", "urban-management"}, {"properties", "management", "housing"}} {
		var req struct {
			RequestAccess struct{ ID string } `json:"requestAccess"`
		}
		if err := fx.post(ctx, requester, `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"dataset": g.dataset, "fieldGroups": []string{g.group},
				"purpose": "load benchmark: cross-department detail", "until": until}}, &req); err != nil {
			return fmt.Errorf("request %s.%s: %w", g.dataset, g.group, err)
		}
		approver, err := mint("bench-"+g.provider+"-admin", g.provider, []string{"admin"}, "")
		if err != nil {
			return err
		}
		if err := fx.post(ctx, approver, `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`,
			map[string]any{"id": req.RequestAccess.ID}, nil); err != nil {
			return fmt.Errorf("approve %s.%s: %w", g.dataset, g.group, err)
		}
	}
	return nil
}

// post sends one GraphQL request with a bearer token and decodes data.
func (fx *fixtures) post(ctx context.Context, token, query string, vars map[string]any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fx.o.HubURL+"/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Transport: fx.transport, Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || hasErrors(b) {
		return fmt.Errorf("HTTP %d: %.300s", res.StatusCode, b)
	}
	if data == nil {
		return nil
	}
	var env struct{ Data json.RawMessage }
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	return json.Unmarshal(env.Data, data)
}

func hasErrors(body []byte) bool { return bytes.Contains(body, []byte(`"errors":[`)) }

// gql builds one target: a POST of query and vars with the given headers.
func (fx *fixtures) gql(query string, vars map[string]any, header http.Header) vegeta.Target {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	h := header.Clone()
	h.Set("Content-Type", "application/json")
	return vegeta.Target{Method: http.MethodPost, URL: fx.o.HubURL + "/query", Body: body, Header: h}
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// rotating returns a targeter that cycles through n targets, built up
// front by build.
func rotating(n int, build func(i int) vegeta.Target) vegeta.Targeter {
	ts := make([]vegeta.Target, n)
	for i := range ts {
		ts[i] = build(i)
	}
	var next atomic.Uint64
	return func(t *vegeta.Target) error {
		*t = ts[int((next.Add(1)-1)%uint64(n))]
		return nil
	}
}

func (fx *fixtures) targetsS1() vegeta.Targeter {
	return rotating(len(fx.streets), func(i int) vegeta.Target {
		s := fx.streets[i]
		return fx.gql(QueryS1, map[string]any{"street": s}, bearer(fx.officers[s]))
	})
}

func (fx *fixtures) targetsS2() vegeta.Targeter {
	return rotating(len(fx.linked), func(i int) vegeta.Target {
		return fx.gql(QueryS2, map[string]any{"id": fx.linked[i]}, bearer(fx.planning))
	})
}

func (fx *fixtures) targetsS3() vegeta.Targeter {
	return rotating(len(fx.streets), func(i int) vegeta.Target {
		return fx.gql(QueryS3, map[string]any{"street": fx.streets[i]}, bearer(fx.dispatch))
	})
}

// targetsS4 searches around 64 points of the district, as 64 citizens.
func (fx *fixtures) targetsS4() vegeta.Targeter {
	at := fx.seedNow.In(time.FixedZone("CST", 8*3600))
	at = time.Date(at.Year(), at.Month(), at.Day(), 20, 0, 0, 0, at.Location()) // an evening: shared spaces open
	return rotating(64, func(i int) vegeta.Target {
		lat := 32.40 + 0.02*float64(i%8)
		lng := 119.85 + 0.02*float64(i/8)
		h := http.Header{"X-Api-Key": {fx.citizen}, "X-Citizen-Id": {"bench-citizen-" + strconv.Itoa(i)}}
		return fx.gql(QueryS4, map[string]any{"lat": lat, "lng": lng, "at": at.Format(time.RFC3339)}, h)
	})
}

func (fx *fixtures) targetS5() vegeta.Target {
	return fx.gql(QueryS5, map[string]any{"from": fx.year.Format(time.RFC3339),
		"to": fx.year.AddDate(1, 0, 0).Format(time.RFC3339)}, bearer(fx.evaluator))
}

// targetsS6 mixes the workloads: per 100 requests 68 S1, 10 each of S2,
// S3 and S4, and 2 case transitions (a dispatched case returned to the
// command centre, then dispatched again to its department).
func (fx *fixtures) targetsS6() (vegeta.Targeter, error) {
	if len(fx.cycle) == 0 {
		return nil, fmt.Errorf("no dispatched cases to transition")
	}
	s1, s2, s3, s4 := fx.targetsS1(), fx.targetsS2(), fx.targetsS3(), fx.targetsS4()
	var n, c atomic.Uint64
	return func(t *vegeta.Target) error {
		switch i := n.Add(1) % 100; {
		case i < 68:
			return s1(t)
		case i < 78:
			return s2(t)
		case i < 88:
			return s3(t)
		case i < 98:
			return s4(t)
		}
		cc := &fx.cycle[int((c.Add(1)-1)%uint64(len(fx.cycle)))]
		if cc.uses.Add(1)%2 == 0 {
			*t = fx.gql(mutationDispatch, map[string]any{"id": cc.id, "dept": cc.dept}, bearer(fx.dispatch))
		} else {
			*t = fx.gql(mutationReturn, map[string]any{"id": cc.id}, bearer(fx.dispatch))
		}
		return nil
	}, nil
}

// counters reads the hub's statement and request counters from /metrics
// (-1, -1 when the hub does not expose them).
func (fx *fixtures) counters(ctx context.Context) (stmts, reqs float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fx.o.HubURL+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+fx.o.MetricsToken)
	res, err := (&http.Client{Transport: fx.transport, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("read metrics: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return -1, -1, nil
	}
	stmts, reqs = -1, 0
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := cutMetric(line)
		if !ok {
			continue
		}
		switch {
		case name == "datahub_db_statements_total":
			stmts = value
		case strings.HasPrefix(name, "datahub_http_requests_total{"):
			reqs += value
		}
	}
	return stmts, reqs, sc.Err()
}

// cutMetric splits a Prometheus text line into its series and value.
func cutMetric(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(line[i+1:], 64)
	return line[:i], v, err == nil
}
