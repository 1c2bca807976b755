package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/seed"
)

// TestFastPathMatchesExecutor is the fast path's differential test: many
// generated case-list queries, each sent by many principals to a hub with
// the fast path and to one without it, must get the same bytes back. The
// principals cover every way a row or a field is decided: the command
// centre (all rows, reporter visible), a street officer (own street,
// reporter masked), a street office admin (jurisdiction plus own
// department), another bureau (masked), a bureau holding a grant on one
// street only (reporter visible there, masked elsewhere), an evaluator (no
// rows) and an anonymous caller. Some queries are ones the fast path must
// leave to the executor (fragments, directives, nested lists).
func TestFastPathMatchesExecutor(t *testing.T) {
	// Hundreds of anonymous requests from one address: no limit, or the
	// package's other tests would find the address's budget spent.
	fast := newHubEnv(t, map[string]string{"RATE_LIMIT_ANONYMOUS": "off"})
	slow := newHubEnv(t, map[string]string{"GRAPHQL_FAST_PATH": "false", "RATE_LIMIT_ANONYMOUS": "off"})

	// water holds the reporter of Chengdong's cases through a grant.
	grantWaterChengdongReporters(t, fast)
	// Both hubs must see the grant before the comparison starts.
	if !waitUntil(10*time.Second, func() bool {
		q := `{ cases(filter: {jurisdiction: "hailing.chengdong"}, first: 20) { edges { node { reporter { phone } } } } }`
		tok := fast.token("water", "viewer")
		return !strings.Contains(string(rawPost(t, slow, tok, q, nil)), "*") && !strings.Contains(string(rawPost(t, fast, tok, q, nil)), "*")
	}) {
		t.Fatal("the grant did not reach both hubs within 10 s")
	}

	mint := func(dept, jur string, roles ...string) string {
		c := auth.DevClaims{Subject: "diff", Dept: dept, Roles: roles, Jurisdiction: jur}
		if dept == "" {
			c.Org = seed.EvaluationOrg // an evaluator belongs to an organisation
		}
		tok, err := auth.MintDev(fast.cfg.DevSecret(), c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	principals := map[string]string{
		"command centre":      mint("urban-management", "", "officer", "dispatcher"),
		"street officer":      mint("urban-management", "hailing.chengdong", "street-officer"),
		"street office admin": mint("street-chengxi", "hailing.chengxi", "admin"),
		"housing viewer":      mint("housing", "", "viewer"),
		"water with a grant":  mint("water", "", "viewer"),
		"evaluator":           mint("", "", "evaluator"),
		"anonymous":           "",
	}

	callers := make(map[string]http.Header, len(principals))
	for who, tok := range principals {
		callers[who] = bearerHeader(tok)
	}
	compareFastPath(t, fast, slow, callers, 60, rand.New(rand.NewPCG(11, 17)), func(rng *rand.Rand, _ int) (string, map[string]any) {
		return genCaseQuery(rng)
	})
}

// TestParkingFastPathMatchesExecutor is the differential test of the
// parking search: generated parkingLotsNear queries (some with arguments
// the service refuses, some with fields the fast path leaves to the
// executor) sent by citizens through the citizen app, anonymous callers,
// the lots' provider, another department and an evaluator.
func TestParkingFastPathMatchesExecutor(t *testing.T) {
	fast := newHubEnv(t, map[string]string{"RATE_LIMIT_ANONYMOUS": "off"})
	slow := newHubEnv(t, map[string]string{"GRAPHQL_FAST_PATH": "false", "RATE_LIMIT_ANONYMOUS": "off"})

	// Live counts for some lots, so freeSpaces is both set and null.
	police := fast.token("traffic-police", "officer")
	lots := fast.do(police, `{ parkingLots(first: 100) { edges { node { id totalSpaces } } } }`, nil)
	if len(lots.Errors) > 0 {
		t.Fatalf("lots: %v", lots.Errors)
	}
	var page struct {
		Edges []struct {
			Node struct {
				ID          string
				TotalSpaces int
			}
		}
	}
	if err := json.Unmarshal(lots.Data["parkingLots"], &page); err != nil || len(page.Edges) == 0 {
		t.Fatalf("lots: %v %s", err, lots.Data["parkingLots"])
	}
	for i, e := range page.Edges {
		if i%2 == 1 {
			continue
		}
		r := fast.do(police, `mutation($id: ID!, $free: Int!) { reportParkingAvailability(lotId: $id, free: $free) { free } }`,
			map[string]any{"id": e.Node.ID, "free": e.Node.TotalSpaces / 3})
		if len(r.Errors) > 0 {
			t.Fatalf("report availability: %v", r.Errors)
		}
	}

	app := fast.citizenApp()
	callers := map[string]func(i int) http.Header{
		"citizen": func(i int) http.Header {
			// One citizen per query: the per-citizen budget stays unspent.
			return http.Header{"X-Api-Key": {app}, "X-Citizen-Id": {fmt.Sprintf("diff-citizen-%d", i)}}
		},
		"citizen app alone": func(int) http.Header { return http.Header{"X-Api-Key": {app}} },
		"traffic police":    func(int) http.Header { return bearerHeader(police) },
		"housing viewer":    func(int) http.Header { return bearerHeader(fast.token("housing", "viewer")) },
		"evaluator":         func(int) http.Header { return bearerHeader(fast.evaluatorToken()) },
		"anonymous":         func(int) http.Header { return http.Header{} },
	}
	compareFastPathPer(t, fast, slow, callers, 60, rand.New(rand.NewPCG(5, 23)), genNearQuery)
}

// TestPropertyFastPathMatchesExecutor is the differential test of the
// nested page of compounds: generated properties queries with nested cases
// and violations, sent by callers whose decisions differ on every dataset
// involved (compounds' management contacts, cases' reporters, violations'
// rows).
func TestPropertyFastPathMatchesExecutor(t *testing.T) {
	fast := newHubEnv(t, map[string]string{"RATE_LIMIT_ANONYMOUS": "off"})
	slow := newHubEnv(t, map[string]string{"GRAPHQL_FAST_PATH": "false", "RATE_LIMIT_ANONYMOUS": "off"})
	mint := func(dept, jur string, roles ...string) http.Header {
		c := auth.DevClaims{Subject: "diff", Dept: dept, Roles: roles, Jurisdiction: jur}
		tok, err := auth.MintDev(fast.cfg.DevSecret(), c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return bearerHeader(tok)
	}
	callers := map[string]http.Header{
		"dispatcher":      mint("urban-management", "", "officer", "dispatcher"),
		"street officer":  mint("urban-management", "hailing.chengdong", "street-officer"),
		"housing officer": mint("housing", "", "officer"),
		"planning viewer": mint("planning", "", "viewer"),
		"street office":   mint("street-chengxi", "hailing.chengxi", "admin"),
		"water viewer":    mint("water", "", "viewer"),
		"evaluator":       bearerHeader(fast.evaluatorToken()),
		"anonymous":       {},
	}
	compareFastPath(t, fast, slow, callers, 50, rand.New(rand.NewPCG(3, 31)), func(rng *rand.Rand, _ int) (string, map[string]any) {
		return genPropertyQuery(rng)
	})
}

// TestIndicatorsFastPathMatchesExecutor is the differential test of the
// indicators: generated periods, groupings and filters (some the service
// refuses, some selections the fast path leaves to the executor) sent by
// callers who get exact figures (staff) and by callers who get small cells
// suppressed (evaluators, the anonymous public). Every request asks for a
// fresh answer, past the response cache.
func TestIndicatorsFastPathMatchesExecutor(t *testing.T) {
	fast := newHubEnv(t, map[string]string{"RATE_LIMIT_ANONYMOUS": "off"})
	slow := newHubEnv(t, map[string]string{"GRAPHQL_FAST_PATH": "false", "RATE_LIMIT_ANONYMOUS": "off"})
	fresh := func(h http.Header) http.Header {
		h = h.Clone()
		h.Set("Cache-Control", "no-cache")
		return h
	}
	callers := map[string]http.Header{
		"command centre": fresh(bearerHeader(fast.token("urban-management", "officer"))),
		"housing viewer": fresh(bearerHeader(fast.token("housing", "viewer"))),
		"evaluator":      fresh(bearerHeader(fast.evaluatorToken())),
		"anonymous":      fresh(http.Header{}),
	}
	compareFastPath(t, fast, slow, callers, 60, rand.New(rand.NewPCG(13, 29)), func(rng *rand.Rand, _ int) (string, map[string]any) {
		return genIndicatorQuery(rng)
	})
}

// genIndicatorQuery builds a random indicators query and its variables.
func genIndicatorQuery(rng *rand.Rand) (string, map[string]any) {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	some := func(fields []string) string { return someFields(rng, fields) }
	figure := some([]string{"name", "value", "numerator", "denominator", "formula", "suppressed", "__typename"})
	row := some([]string{"periodStart", "periodEnd", "street", "community", "department", "kind", "majorCode",
		"reporterGroup", "__typename", "figures { " + figure + " }"})
	switch rng.IntN(10) { // shapes the fast path must decline
	case 0:
		row += ` figure(name: "closure_rate") { value }`
	case 1:
		row = "...on IndicatorRow { " + row + " }"
	}
	period := pick("MONTH", "MONTH", "QUARTER", "YEAR")
	// Months from January 2024 to November 2025 (the seed's "now").
	from := time.Date(2024, time.Month(1+rng.IntN(23)), 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	to := from.AddDate(0, 1+rng.IntN(8), 0)
	if rng.IntN(12) == 0 {
		to = from.AddDate(0, -1, 0) // an empty range
	}
	vars := map[string]any{"p": period, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}
	switch rng.IntN(4) {
	case 0:
		vars["by"] = pick("STREET", "DEPARTMENT", "CASE_CLASS", "REPORTER_GROUP") // one value for a list
	case 1:
		vars["by"] = []string{pick("STREET", "COMMUNITY"), pick("DEPARTMENT", "CASE_CLASS", "REPORTER_GROUP")}
	case 2:
		vars["by"] = []string{}
	}
	filter := map[string]any{}
	for _, m := range []struct {
		key    string
		values []any
	}{
		{"jurisdiction", []any{"hailing.chengdong", "hailing.chengxi.gulou", "nowhere", nil}},
		{"kind", []any{"EVENT", "COMPONENT", nil}},
		{"majorCode", []any{"01", "05", nil}},
		{"source", []any{[]any{"CITIZEN_REPORT", "HOTLINE_12345"}, "INSPECTOR_PATROL", []any{}, nil}},
		{"handlingDept", []any{"housing", "water", nil}},
	} {
		if rng.IntN(2) == 0 {
			filter[m.key] = m.values[rng.IntN(len(m.values))]
		}
	}
	switch rng.IntN(6) {
	case 0:
		vars["f"] = nil
	case 1, 2, 3:
		vars["f"] = filter
	}
	root := "indicators(period: $p, from: $from, to: $to, groupBy: $by, filter: $f)"
	if rng.IntN(5) == 0 {
		root = "ind: " + root
	}
	return fmt.Sprintf("query($p: IndicatorPeriod!, $from: DateTime!, $to: DateTime!, $by: [IndicatorDimension!], $f: IndicatorFilter) { %s { %s } }",
		root, row), vars
}

// compareFastPath sends queries generated by gen, as every caller, to a hub
// with the fast path and to one without it, and fails on the first answer
// that differs in any byte (status line included). It fails too when the
// fast path served fewer than half the answers: the comparison would prove
// little.
func compareFastPath(t *testing.T, fast, slow *hub, callers map[string]http.Header, queries int, rng *rand.Rand,
	gen func(rng *rand.Rand, i int) (string, map[string]any)) {
	t.Helper()
	per := make(map[string]func(int) http.Header, len(callers))
	for who, h := range callers {
		per[who] = func(int) http.Header { return h }
	}
	compareFastPathPer(t, fast, slow, per, queries, rng, gen)
}

// compareFastPathPer is compareFastPath with headers that may change with
// the query's number.
func compareFastPathPer(t *testing.T, fast, slow *hub, callers map[string]func(i int) http.Header, queries int, rng *rand.Rand,
	gen func(rng *rand.Rand, i int) (string, map[string]any)) {
	t.Helper()
	served := fast.app.Resolver.FastPathServed()
	compared := 0
	for i := range queries {
		query, vars := gen(rng, i)
		for who, header := range callers {
			want := rawPostAs(t, slow, header(i), query, vars)
			got := rawPostAs(t, fast, header(i), query, vars)
			if !bytes.Equal(stripRequestIDs(got), stripRequestIDs(want)) {
				t.Fatalf("query %d as %s differs\nquery: %s\nvars: %v\nexecutor:  %.600s\nfast path: %.600s", i, who, query, vars, want, got)
			}
			compared++
		}
	}
	n := fast.app.Resolver.FastPathServed() - served
	t.Logf("%d answers compared; the fast path served %d", compared, n)
	if n < uint64(compared)/2 {
		t.Fatalf("the fast path served only %d of %d answers: the comparison proves little", n, compared)
	}
}

func bearerHeader(token string) http.Header {
	if token == "" {
		return http.Header{}
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

// rawPost returns the status and body of one GraphQL POST.
func rawPost(t *testing.T, h *hub, token, query string, vars map[string]any) []byte {
	t.Helper()
	return rawPostAs(t, h, bearerHeader(token), query, vars)
}

// rawPostAs is rawPost with the caller's headers.
func rawPostAs(t *testing.T, h *hub, header http.Header, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(fmt.Sprintf("%d ", res.StatusCode)), b...)
}

var requestIDs = regexp.MustCompile(`"requestId":"[^"]*"`)

// stripRequestIDs removes what differs between any two requests.
func stripRequestIDs(b []byte) []byte { return requestIDs.ReplaceAll(b, []byte(`"requestId":""`)) }

// someFields returns a random selection of fields, each kept with a
// chance of two in three (at least the first), some under an alias, in a
// random order.
func someFields(rng *rand.Rand, fields []string) string {
	var out []string
	for _, f := range fields {
		if rng.IntN(3) > 0 {
			if rng.IntN(8) == 0 {
				f = "a" + fmt.Sprint(rng.IntN(100)) + ": " + f // an alias
			}
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		out = append(out, fields[0])
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return strings.Join(out, " ")
}

// genCaseQuery builds a random case-list query and its variables.
func genCaseQuery(rng *rand.Rand) (string, map[string]any) {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	some := func(fields []string) string { return someFields(rng, fields) }
	dept := "{ " + some([]string{"code", "id", "name", "nameEn", "kind", "__typename"}) + " }"
	node := some([]string{"id", "caseNo", "kind", "majorCode", "minorCode", "className", "source", "status", "description",
		"address", "photoUrls", "reportedAt", "registeredAt", "dispatchedAt", "deadline", "handledAt", "closedAt", "overdue",
		"reworkCount", "createdAt", "updatedAt", "version", "__typename",
		"location { " + some([]string{"lat", "lng", "__typename"}) + " }",
		"rating { " + some([]string{"stars", "comment", "at", "__typename"}) + " }",
		"reporter { " + some([]string{"name", "phone", "__typename"}) + " }",
		"ownerDept " + dept, "handlingDept " + dept,
		"jurisdiction { " + some([]string{"code", "id", "level", "name", "nameEn", "adminCode", "__typename"}) + " }",
	})
	// Shapes the fast path must decline; the executor answers both.
	switch rng.IntN(10) {
	case 0:
		node = "...on Case { " + node + " }"
	case 1:
		node += " timeline { action at }"
	case 2:
		node = "caseNo @include(if: true) " + node
	}
	conn := some([]string{"edges { " + some([]string{"cursor", "node { " + node + " }", "__typename"}) + " }",
		"pageInfo { " + some([]string{"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"}) + " }", "totalCount", "__typename"})

	filter := map[string]any{}
	if rng.IntN(3) > 0 {
		filter["jurisdiction"] = pick("hailing", "hailing.chengdong", "hailing.chengxi", "hailing.chengdong.fenghuang", "hailing.jiulong")
	}
	if rng.IntN(2) == 0 {
		filter["open"] = rng.IntN(2) == 0
	}
	if rng.IntN(4) == 0 {
		filter["status"] = []string{pick("REPORTED", "DISPATCHED", "CLOSED", "HANDLED"), pick("REWORK", "CLOSED")}
	}
	if rng.IntN(5) == 0 {
		filter["kind"] = pick("EVENT", "COMPONENT")
	}
	if rng.IntN(6) == 0 {
		filter["handlingDept"] = pick("urban-management", "water", "street-chengdong")
	}
	if rng.IntN(6) == 0 {
		filter["overdue"] = rng.IntN(2) == 0
	}
	if rng.IntN(8) == 0 {
		filter["text"] = pick("井盖", "占道", "垃圾")
	}
	vars := map[string]any{"filter": filter, "first": rng.IntN(60) + 1}
	if rng.IntN(2) == 0 {
		vars["order"] = pick("REPORTED_AT_DESC", "REPORTED_AT_ASC", "DEADLINE_ASC", "DEADLINE_DESC")
	}
	root, size := "cases(filter: $filter, orderBy: $order, first: $first)", "$first: Int"
	if rng.IntN(6) == 0 { // a backward page: the fast path leaves it to the executor
		delete(vars, "first")
		vars["last"] = rng.IntN(60) + 1
		root, size = "cases(filter: $filter, orderBy: $order, last: $last)", "$last: Int"
	}
	if rng.IntN(5) == 0 {
		root = "list: " + root
	}
	typename := ""
	if rng.IntN(6) == 0 {
		typename = "__typename "
	}
	return fmt.Sprintf("query($filter: CaseFilter, $order: CaseOrder, %s) { %s%s { %s } }", size, typename, root, conn), vars
}

// genNearQuery builds a random parking search and its variables: mostly
// around the district, sometimes with an argument the service refuses or a
// field the fast path leaves to the executor.
func genNearQuery(rng *rand.Rand, _ int) (string, map[string]any) {
	some := func(fields []string) string { return someFields(rng, fields) }
	lot := some([]string{"id", "name", "kind", "address", "operator", "isGovernment", "totalSpaces", "sharedSpaces",
		"maxSeats", "bookingRule", "feeRule", "openedAt", "version", "__typename",
		"location { " + some([]string{"lat", "lng", "__typename"}) + " }",
		"jurisdiction { " + some([]string{"code", "id", "level", "name", "nameEn", "adminCode", "__typename"}) + " }",
		"ownerDept { " + some([]string{"code", "id", "name", "nameEn", "kind", "__typename"}) + " }",
		"sharingWindows { " + some([]string{"hours", "weekday", "restDayAllDay", "restDay", "noMovement", "__typename"}) + " }",
		"freeSpaces { " + some([]string{"free", "at", "__typename"}) + " }",
	})
	switch rng.IntN(10) { // shapes the fast path must decline
	case 0:
		lot += " contact { name phone }"
	case 1:
		lot += ` openToPublic(at: "2025-11-22T12:00:00+08:00")`
	case 2:
		lot = "...on ParkingLot { " + lot + " }"
	}
	item := some([]string{"distanceMeters", "openToPublic", "canMove", "__typename", "lot { " + lot + " }"})

	vars := map[string]any{"lat": 32.40 + 0.02*float64(rng.IntN(8)), "lng": 119.85 + 0.02*float64(rng.IntN(8))}
	if rng.IntN(4) > 0 {
		vars["radius"] = []int{500, 2000, 5000, 20000}[rng.IntN(4)]
	}
	if rng.IntN(2) == 0 {
		vars["at"] = []string{"2025-11-22T20:00:00+08:00", "2025-11-24T09:30:00+08:00", "2025-11-24T23:00:00+08:00"}[rng.IntN(3)]
	}
	if rng.IntN(4) > 0 {
		vars["first"] = rng.IntN(30)
	}
	switch rng.IntN(12) { // arguments the service or the executor refuses
	case 0:
		vars["lat"] = 95.0
	case 1:
		vars["radius"] = 0
	case 2:
		vars["first"] = 101
	case 3:
		vars["at"] = "tomorrow"
	}
	root := "parkingLotsNear(lat: $lat, lng: $lng, radiusMeters: $radius, openAt: $at, first: $first)"
	if rng.IntN(5) == 0 {
		root = "near: " + root
	}
	typename := ""
	if rng.IntN(6) == 0 {
		typename = "__typename "
	}
	return fmt.Sprintf("query($lat: Float!, $lng: Float!, $radius: Int, $at: DateTime, $first: Int) { %s%s { %s } }",
		typename, root, item), vars
}

// genPropertyQuery builds a random page of compounds with nested cases and
// violations, and its variables.
func genPropertyQuery(rng *rand.Rand) (string, map[string]any) {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	some := func(fields []string) string { return someFields(rng, fields) }
	conn := func(node string) string {
		return some([]string{"edges { " + some([]string{"cursor", "node { " + node + " }", "__typename"}) + " }",
			"pageInfo { " + some([]string{"hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename"}) + " }",
			"totalCount", "__typename"})
	}
	pageArg := func() string {
		switch rng.IntN(6) {
		case 0:
			return ""
		case 1:
			return fmt.Sprintf("(last: %d)", rng.IntN(4)+1)
		case 2:
			return "(first: -1)" // refused by the nested page
		}
		return fmt.Sprintf("(first: %d)", rng.IntN(7))
	}
	caseNode := some([]string{"id", "caseNo", "status", "deadline", "overdue", "className", "reportedAt", "__typename",
		"kind", "source", "address", "handledAt",
		"reporter { " + some([]string{"name", "phone"}) + " }", "handlingDept { code name }", "jurisdiction { name }"})
	violationNode := some([]string{"id", "recordNo", "kind", "subtype", "channel", "status", "outcome", "description",
		"address", "areaM2", "demolishedAreaM2", "discoveredAt", "noticeIssuedAt", "deadline", "overdue", "resolvedAt",
		"closedAt", "version", "__typename", "location { lat lng }", "jurisdiction { code name }", "ownerDept { code name }"})
	node := some([]string{"id", "name", "address", "buildYear", "version", "__typename", "location { lat lng }",
		"jurisdiction { " + some([]string{"code", "name", "level"}) + " }",
		"management { " + some([]string{"company", "creditCode", "contactName", "contactPhone", "__typename"}) + " }",
		"cases" + pageArg() + " { " + conn(caseNode) + " }",
		"violations" + pageArg() + " { " + conn(violationNode) + " }",
	})
	switch rng.IntN(10) { // shapes the fast path must decline
	case 0:
		node += " renovation { status }"
	case 1:
		node = "...on Property { " + node + " }"
	case 2:
		node += " permits { permitNo }"
	}
	filter := map[string]any{}
	if rng.IntN(4) > 0 {
		filter["jurisdiction"] = pick("hailing", "hailing.chengdong", "hailing.chengxi", "hailing.jiulong")
	}
	if rng.IntN(4) == 0 {
		filter["hasManagement"] = rng.IntN(2) == 0
	}
	if rng.IntN(8) == 0 {
		filter["text"] = pick("花园", "新村", "苑")
	}
	vars := map[string]any{"filter": filter, "first": rng.IntN(25) + 1}
	if rng.IntN(3) == 0 {
		vars["order"] = pick("NAME_ASC", "NAME_DESC", "BUILD_YEAR_ASC", "BUILD_YEAR_DESC")
	}
	root := "properties(filter: $filter, orderBy: $order, first: $first)"
	if rng.IntN(5) == 0 {
		root = "page: " + root
	}
	return fmt.Sprintf("query($filter: PropertyFilter, $order: PropertyOrder, $first: Int) { %s { %s } }", root, conn(node)), vars
}
