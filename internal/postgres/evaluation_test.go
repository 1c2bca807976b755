package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/policies"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The hand-built evaluation data set. Every test gets its own street (and
// two communities) so tests do not see each other's cases, nor the cases of
// the package's other tests; indicators are asked for that street.
//
// The clock stands at Friday 2025-06-20 12:00 Asia/Shanghai: April and May
// are completed months, June and Q2 the current period.
var (
	shanghai = calendar.Default().Location()
	evalNow  = lt("2025-06-20 12:00")
)

const (
	deptA = "street-chengdong" // handles most cases
	deptB = "housing"
)

func lt(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// evalCase is one hand-built case; times are local "2006-01-02 15:04".
type evalCase struct {
	name                                      string
	community                                 int // 1 or 2
	dept                                      string
	kind, major, minor                        string
	source, status                            string
	reported                                  string
	registered, dispatched, deadline, handled string
	closed                                    string
	rework, deferred                          int
	rating                                    int
}

// evalCases: for each, the story and what it contributes (see the
// expectations in TestEvaluationIndicatorsHandComputed).
var evalCases = []evalCase{
	// April.
	// A1 on time, 2 working hours, rated 5, citizen app.
	{name: "A1", community: 1, dept: deptA, source: "CITIZEN_REPORT", status: "CLOSED", reported: "2025-04-14 08:50",
		registered: "2025-04-14 09:00", dispatched: "2025-04-14 09:30", deadline: "2025-04-15 09:30",
		handled: "2025-04-14 11:30", closed: "2025-04-14 15:00", rating: 5},
	// A2 handled and closed late: 10 working hours (Tue 10:00 → Wed 14:00), rated 3.
	{name: "A2", community: 1, dept: deptA, source: "INSPECTOR_PATROL", status: "CLOSED", reported: "2025-04-15 08:50",
		registered: "2025-04-15 09:00", dispatched: "2025-04-15 10:00", deadline: "2025-04-16 10:00",
		handled: "2025-04-16 14:00", closed: "2025-04-17 09:00", rating: 3},
	// A3 deferred: the deadline (originally Fri 18 April) was extended to
	// Tue 6 May; handled exactly at it (on time), closed a day later (late).
	// 90 working hours: 7 + 7.5 + 7.5 + 37.5 + 7.5 (Sun 27 April, make-up
	// day) + 22.5 + 0.5 (1–5 May is the Labour Day holiday). Hotline.
	{name: "A3", community: 2, dept: deptB, kind: "COMPONENT", major: "02", minor: "0202", source: "HOTLINE_12345",
		status: "CLOSED", reported: "2025-04-16 08:50", registered: "2025-04-16 09:00", dispatched: "2025-04-16 09:00",
		deadline: "2025-05-06 09:00", handled: "2025-05-06 09:00", closed: "2025-05-07 10:00", deferred: 1},
	// A4 reworked once: handled at 10:00 on 22 April, verification failed at
	// 11:00, new deadline 23 April 11:00; handled again 23 April 10:00 and
	// closed 10:30 (both on time). 8.5 working hours from dispatch to the
	// last handling. Rated 4, citizen app.
	{name: "A4", community: 1, dept: deptA, source: "CITIZEN_REPORT", status: "CLOSED", reported: "2025-04-22 08:50",
		registered: "2025-04-22 09:00", dispatched: "2025-04-22 09:00", deadline: "2025-04-23 11:00",
		handled: "2025-04-23 10:00", closed: "2025-04-23 10:30", rework: 1, rating: 4},
	// A5 in backlog: registered and dispatched, never due, never open.
	{name: "A5", community: 2, dept: deptA, source: "INSPECTOR_PATROL", status: "BACKLOG", reported: "2025-04-24 08:50",
		registered: "2025-04-24 09:00", dispatched: "2025-04-24 09:00", deadline: "2025-04-25 09:00"},
	// A6 never handled: overdue since 29 April.
	{name: "A6", community: 1, dept: deptB, source: "MEDIA", status: "DISPATCHED", reported: "2025-04-28 08:50",
		registered: "2025-04-28 09:00", dispatched: "2025-04-28 09:00", deadline: "2025-04-29 09:00"},
	// A7 declined at registration: counts nowhere.
	{name: "A7", community: 1, source: "CITIZEN_REPORT", status: "NOT_REGISTERED", reported: "2025-04-14 10:00"},
	// May.
	// M1 on time, 1 working hour, rated 2, hotline.
	{name: "M1", community: 1, dept: deptA, source: "HOTLINE_12345", status: "CLOSED", reported: "2025-05-12 08:50",
		registered: "2025-05-12 09:00", dispatched: "2025-05-12 09:00", deadline: "2025-05-13 09:00",
		handled: "2025-05-12 10:00", closed: "2025-05-12 14:00", rating: 2},
	// M2 due in May, handled and closed in June (late): 37.5 working hours
	// (31 May – 2 June is the Dragon Boat holiday).
	{name: "M2", community: 2, dept: deptB, source: "INSPECTOR_PATROL", status: "CLOSED", reported: "2025-05-26 08:50",
		registered: "2025-05-26 09:00", dispatched: "2025-05-26 09:00", deadline: "2025-05-27 09:00",
		handled: "2025-06-03 09:00", closed: "2025-06-04 10:00"},
	// M3 handled on time (5.5 working hours), still awaiting verification.
	{name: "M3", community: 1, dept: deptA, source: "CITIZEN_REPORT", status: "HANDLED", reported: "2025-05-29 08:50",
		registered: "2025-05-29 09:00", dispatched: "2025-05-29 09:00", deadline: "2025-05-30 09:00",
		handled: "2025-05-29 16:00"},
	// June (the current month).
	// J1 on time, 1 working hour, rated 5, citizen app.
	{name: "J1", community: 1, dept: deptA, source: "CITIZEN_REPORT", status: "CLOSED", reported: "2025-06-16 08:50",
		registered: "2025-06-16 09:00", dispatched: "2025-06-16 09:00", deadline: "2025-06-17 09:00",
		handled: "2025-06-16 10:00", closed: "2025-06-16 11:00", rating: 5},
	// J2 not handled, deadline passed yesterday: due and overdue.
	{name: "J2", community: 1, dept: deptA, source: "INSPECTOR_PATROL", status: "DISPATCHED", reported: "2025-06-18 08:50",
		registered: "2025-06-18 09:00", dispatched: "2025-06-18 09:00", deadline: "2025-06-19 09:00"},
	// J3 dispatched this morning, deadline Monday: not due yet.
	{name: "J3", community: 2, dept: deptB, source: "INSPECTOR_PATROL", status: "DISPATCHED", reported: "2025-06-20 08:50",
		registered: "2025-06-20 09:00", dispatched: "2025-06-20 09:00", deadline: "2025-06-23 09:00"},
	// J4 handled on time (4.5 working hours), deadline passed this morning
	// without verification: due to close, not closed.
	{name: "J4", community: 2, dept: deptA, kind: "COMPONENT", major: "02", minor: "0202", source: "VIDEO_ANALYTICS",
		status: "HANDLED", reported: "2025-06-19 08:50", registered: "2025-06-19 09:00", dispatched: "2025-06-19 09:00",
		deadline: "2025-06-20 09:00", handled: "2025-06-19 15:00"},
}

// Personal data planted in every case, so the anonymisation tests can look
// for it in exports.
var (
	evalNames = []string{"王小明", "李四海", "张三丰", "赵雪梅", "陈国强", "刘德胜", "杨秀英", "黄建华", "周美玲", "吴志刚", "徐海燕", "孙立新", "马永福", "朱红霞"}
)

type evalFixture struct {
	street, c1, c2 string
	ids            map[string]uuid.UUID
	caseNos        []string
	externalIDs    []string
	phones         []string
	citizenIDs     []string
	photos         []string
}

func randomCode(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func insertEvalJurisdictions(t testing.TB, pool *pgxpool.Pool) (street, c1, c2 string) {
	t.Helper()
	ctx := context.Background()
	street = "hailing." + randomCode("ev")
	c1, c2 = street+".c1", street+".c2"
	for _, j := range []struct{ code, level, parent string }{{street, "STREET", "hailing"}, {c1, "COMMUNITY", street}, {c2, "COMMUNITY", street}} {
		if _, err := pool.Exec(ctx, `INSERT INTO jurisdictions (code, level, parent_code, name_zh, name_en, lat, lng)
			VALUES ($1, $2, $3, '测试', 'Test', 32.49, 119.92)`, j.code, j.level, j.parent); err != nil {
			t.Fatalf("insert jurisdiction: %v", err)
		}
	}
	return street, c1, c2
}

// newEvalFixture inserts evalCases under a fresh street.
func newEvalFixture(t *testing.T, pool *pgxpool.Pool) *evalFixture {
	t.Helper()
	ctx := context.Background()
	f := &evalFixture{ids: map[string]uuid.UUID{}}
	f.street, f.c1, f.c2 = insertEvalJurisdictions(t, pool)
	opt := func(s string) *time.Time {
		if s == "" {
			return nil
		}
		v := lt(s)
		return &v
	}
	for i, c := range evalCases {
		id := uuid.New()
		f.ids[c.name] = id
		community := f.c1
		if c.community == 2 {
			community = f.c2
		}
		kind, major, minor := c.kind, c.major, c.minor
		if kind == "" {
			kind, major, minor = "EVENT", "05", "0501"
		}
		var dept *string
		if c.dept != "" {
			dept = &c.dept
		}
		var rating *int
		if c.rating > 0 {
			rating = &c.rating
		}
		phone := fmt.Sprintf("139%08d", 10000000+i*7919)
		cid := fmt.Sprintf("3212021990%02d%02d%03d%s", 1+i%12, 1+i%28, 100+i, []string{"X", "7"}[i%2])
		caseNo := randomCode("EVC-")
		ext := randomCode("EXT-")
		photo := "https://img.example.com/" + randomCode("p") + ".jpg"
		desc := fmt.Sprintf("%s反映店外经营占道，车牌苏M%05d，联系电话%s，身份证%s", evalNames[i], 10000+i, phone, cid)
		f.caseNos, f.externalIDs, f.phones, f.citizenIDs, f.photos = append(f.caseNos, caseNo), append(f.externalIDs, ext),
			append(f.phones, phone), append(f.citizenIDs, cid), append(f.photos, photo)
		_, err := pool.Exec(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source, status,
			description, address, lat, lng, jurisdiction_code, street_code, community_code, handling_dept, reporter_name,
			reporter_phone, citizen_id, photo_urls, reported_at, registered_at, dispatched_at, deadline, handled_at, closed_at,
			rework_count, defer_count, rating, rating_comment, rated_at, source_dept, external_id)
			VALUES ($1, $2, 'urban-management', $3, $4, $5, $6, $7, $8, '青年路 18 号', $9, $10, $11, $12, $11, $13, $14, $15, $16,
			ARRAY[$17], $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, 'urban-management', $29)`,
			id, caseNo, kind, major, minor, c.source, c.status, desc, 32.4912345+float64(i)*0.0001, 119.9212345,
			community, f.street, dept, evalNames[i], phone, cid, photo, lt(c.reported), opt(c.registered), opt(c.dispatched),
			opt(c.deadline), opt(c.handled), opt(c.closed), c.rework, c.deferred, rating,
			ratingComment(rating, evalNames[i], phone), ratedAt(rating, c.closed), ext)
		if err != nil {
			t.Fatalf("insert case %s: %v", c.name, err)
		}
	}
	return f
}

func ratingComment(r *int, name, phone string) *string {
	if r == nil {
		return nil
	}
	s := fmt.Sprintf("很满意，我是%s，有事打%s", name, phone)
	return &s
}

func ratedAt(r *int, closed string) *time.Time {
	if r == nil {
		return nil
	}
	t := lt(closed).Add(time.Hour)
	return &t
}

// evalAuth is the real policy engine on the embedded policy files.
var (
	evalEngineOnce sync.Once
	evalEngine     *policy.Engine
	evalEngineErr  error
)

func policyEngine(t testing.TB) *policy.Engine {
	t.Helper()
	evalEngineOnce.Do(func() { evalEngine, evalEngineErr = policy.NewEngine(policy.EngineConfig{FS: policies.FS}) })
	if evalEngineErr != nil {
		t.Fatalf("policy engine: %v", evalEngineErr)
	}
	return evalEngine
}

func newEvalService(t testing.TB, pool *pgxpool.Pool, clk *fixture.Clock, mod ...func(*evaluation.Config)) *evaluation.Service {
	t.Helper()
	eng := policyEngine(t)
	w, err := policy.LoadWeights(policies.FS)
	if err != nil {
		t.Fatalf("weights: %v", err)
	}
	pv, err := evaluation.PolicyVersion(policies.FS)
	if err != nil {
		t.Fatalf("policy version: %v", err)
	}
	cfg := evaluation.Config{Store: postgres.NewEvaluationStore(pool), Authorizer: eng, Calendar: calendar.Default(),
		Weights: w, Catalog: eng.Catalog(), PolicyVersion: pv, Now: clk.Now}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := evaluation.NewService(cfg)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	if _, err := svc.RegisterOrganisation(context.Background(), evaluation.Organisation{Code: testOrg, Name: "测试评估机构",
		ContractNo: "TEST-2025", From: time.Date(2025, 1, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai),
		Datasets: evaluation.SnapshotDatasets(), Jurisdictions: []string{"hailing"}}); err != nil {
		t.Fatalf("register the test organisation: %v", err)
	}
	// Bring the rollups to this clock (rebuilding them if an earlier test
	// left them at another horizon).
	if _, err := svc.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	return svc
}

func staffCtx() context.Context {
	return as(context.Background(), "urban-management", "officer")
}

// testOrg is the evaluation organisation newEvalService registers: its
// contract covers every dataset of the district through 2025.
const testOrg = "test-assessors"

func evaluatorCtx() context.Context {
	return access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindService, Subject: "eval-team-1",
		Org: testOrg, Roles: []string{access.RoleEvaluator}, Jurisdiction: "hailing"})
}

// want is an expected figure: value nil means undefined.
type want struct {
	num, den int64
	val      *float64
}

func ratio(n, d int64) want { v := float64(n) / float64(d); return want{n, d, &v} }
func count(n int64) want    { v := float64(n); return want{n, 0, &v} }
func undefined() want       { return want{} }
func value(n, d int64, v float64) want {
	return want{n, d, &v}
}

func checkRow(t *testing.T, label string, r evaluation.Row, wants map[string]want) {
	t.Helper()
	for name, w := range wants {
		f, ok := r.Figure(name)
		if !ok {
			t.Errorf("%s: no figure %s", label, name)
			continue
		}
		if f.Suppressed {
			t.Errorf("%s: %s suppressed for staff", label, name)
			continue
		}
		if f.Numerator != w.num || f.Denominator != w.den {
			t.Errorf("%s: %s = %d/%d, want %d/%d", label, name, f.Numerator, f.Denominator, w.num, w.den)
		}
		switch {
		case w.val == nil && f.Value != nil:
			t.Errorf("%s: %s = %v, want undefined", label, name, *f.Value)
		case w.val != nil && f.Value == nil:
			t.Errorf("%s: %s undefined, want %v", label, name, *w.val)
		case w.val != nil && math.Abs(*f.Value-*w.val) > 1e-6:
			t.Errorf("%s: %s = %v, want %v", label, name, *f.Value, *w.val)
		}
		if f.Formula == "" {
			t.Errorf("%s: %s has no formula", label, name)
		}
	}
}

func rowsByPeriod(t *testing.T, rows []evaluation.Row) map[string]evaluation.Row {
	t.Helper()
	out := map[string]evaluation.Row{}
	for _, r := range rows {
		k := r.PeriodStart.In(shanghai).Format("2006-01") + "|" + r.Group.Street + "|" + r.Group.Community + "|" + r.Group.Department +
			"|" + r.Group.Kind + r.Group.MajorCode
		if r.Group.ReporterGroup != "" {
			k += "|" + r.Group.ReporterGroup
		}
		if _, dup := out[k]; dup {
			t.Fatalf("two rows for %s", k)
		}
		out[k] = r
	}
	return out
}

func indicators(t *testing.T, ctx context.Context, svc *evaluation.Service, q evaluation.Query) []evaluation.Row {
	t.Helper()
	rows, err := svc.Indicators(ctx, q)
	if err != nil {
		t.Fatalf("indicators %+v: %v", q, err)
	}
	return rows
}

const hour = int64(3600)

// composite is the weights file's formula, by hand.
func composite(closure, onTimeClosure, satisfaction, participation, rework, overdue float64) float64 {
	return 0.20*closure + 0.20*onTimeClosure + 0.25*(satisfaction-1)/4 + 0.10*participation + 0.10*(1-rework) + 0.15*(1-overdue)
}

// otherFixture plants violations, parking lots and inspections in the
// fixture's street when their tables exist, and reports which do.
type otherFixture struct{ violations, parking, inspections bool }

func tableExists(t *testing.T, pool *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func insertOther(t *testing.T, pool *pgxpool.Pool, f *evalFixture) otherFixture {
	t.Helper()
	ctx := context.Background()
	var o otherFixture
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[2], err)
		}
	}
	if o.violations = tableExists(t, pool, "violations"); o.violations {
		// V1 found in April, demolished in May (75 m² measured); V2 found in
		// April, still open; V3 found and demolished in May (40 m² recorded);
		// V4 dumping, found and cleared in May.
		for _, v := range []struct {
			kind, subtype, status, community string
			area, demolished                 *float64
			discovered                       string
			resolved                         string
		}{
			{"ILLEGAL_CONSTRUCTION", "ROOFTOP_ADDITION", "DEMOLISHED", f.c1, ptrF(80), ptrF(75), "2025-04-10 10:00", "2025-05-08 10:00"},
			{"STREET_OCCUPATION", "SHOPFRONT_OVERFLOW", "DISCOVERED", f.c1, nil, nil, "2025-04-20 10:00", ""},
			{"ILLEGAL_CONSTRUCTION", "FACTORY_SHED", "DEMOLISHED", f.c2, ptrF(40), nil, "2025-05-02 10:00", "2025-05-20 10:00"},
			// V4: construction waste dumped in May and cleared in May: a
			// removal, not a demolished building, whatever its outcome code.
			{"DUMPING", "CONSTRUCTION_WASTE", "DEMOLISHED", f.c2, ptrF(12), nil, "2025-05-05 10:00", "2025-05-06 10:00"},
		} {
			var outcome, resolved any
			if v.resolved != "" {
				outcome, resolved = "DEMOLISHED", lt(v.resolved)
			}
			exec(`INSERT INTO violations (id, record_no, owner_dept, kind, subtype, channel, status, outcome, description, area_m2,
				demolished_area_m2, lat, lng, jurisdiction_code, street_code, community_code, party_name, party_phone,
				discovered_at, resolved_at, source_dept)
				VALUES ($1, $2, 'urban-management', $3, $4, 'PATROL', $5, $6, '违法建设', $7, $8, 32.49, 119.92, $9, $10, $9,
				'钱多多', '13700001111', $11, $12, 'urban-management')`,
				uuid.New(), randomCode("EVW-"), v.kind, v.subtype, v.status, outcome, v.area, v.demolished, v.community, f.street,
				lt(v.discovered), resolved)
		}
	}
	if o.parking = tableExists(t, pool, "parking_lots"); o.parking {
		// Government lots: P1 shared (April), P2 not shared (April), P3
		// shared (registered mid May); P4 is commercial.
		for _, p := range []struct {
			kind      string
			gov       bool
			shared    int
			community string
			created   string
		}{
			{"GOVERNMENT_SHARED", true, 20, f.c1, "2025-04-01 09:00"},
			{"PUBLIC", true, 0, f.c2, "2025-04-01 09:00"},
			{"GOVERNMENT_SHARED", true, 10, f.c1, "2025-05-15 09:00"},
			{"COMMERCIAL", false, 0, f.c1, "2025-04-01 09:00"},
		} {
			exec(`INSERT INTO parking_lots (id, name, kind, is_government, lat, lng, jurisdiction_code, street_code, owner_dept,
				total_spaces, shared_spaces, source_dept, external_id, created_at)
				VALUES ($1, '测试停车场', $2, $3, 32.49, 119.92, $4, $5, 'traffic-police', 50, $6, 'traffic-police', $7, $8)`,
				uuid.New(), p.kind, p.gov, p.community, f.street, p.shared, randomCode("EVP-"), lt(p.created))
		}
	}
	if o.inspections = tableExists(t, pool, "inspections") && tableExists(t, pool, "properties"); o.inspections {
		prop := uuid.New()
		exec(`INSERT INTO properties (id, owner_dept, name, lat, lng, jurisdiction_code, street_code, community_code, build_year,
			buildings, households, source_dept, external_id)
			VALUES ($1, 'housing', '测试小区', 32.49, 119.92, $2, $3, $2, 1998, 6, 240, 'housing', $4)`,
			prop, f.c1, f.street, randomCode("EVH-"))
		var round string
		for {
			b := make([]byte, 2)
			_, _ = rand.Read(b)
			round = fmt.Sprintf("20%02d-%02d", 30+int(b[0])%70, 1+int(b[1])%12)
			var taken bool
			if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inspection_rounds WHERE round = $1)`, round).Scan(&taken); err != nil {
				t.Fatal(err)
			}
			if !taken {
				break
			}
		}
		hash := strings.Repeat("ab", 32)
		exec(`INSERT INTO inspection_rounds (round, period_start, dept, seed, ratio, k, register_size, drawn, targets_hash,
			inspectors_hash, targets_register, inspectors_register, drawn_at, drawn_by)
			VALUES ($1, '2025-04-01', 'housing', 7, 0.1, 2, 10, 3, $2, $2, '\x00', '\x00', $3, 'test')`, round, hash, lt("2025-04-01 09:00"))
		// The same compound three times would break UNIQUE (round,
		// property_id): give each inspection its own compound.
		for i, in := range []struct{ result, recorded string }{
			{"PASS", "2025-04-20 10:00"}, {"RECTIFY", "2025-04-25 10:00"}, {"PASS", "2025-05-10 10:00"},
		} {
			p := prop
			if i > 0 {
				p = uuid.New()
				exec(`INSERT INTO properties (id, owner_dept, name, lat, lng, jurisdiction_code, street_code, community_code,
					build_year, buildings, households, source_dept, external_id)
					VALUES ($1, 'housing', '测试小区', 32.49, 119.92, $2, $3, $2, 1998, 6, 240, 'housing', $4)`,
					p, f.c1, f.street, randomCode("EVH-"))
			}
			exec(`INSERT INTO inspections (id, round, rank, property_id, inspector_ids, scheduled_on, result, recorded_at)
				VALUES ($1, $2, $3, $4, ARRAY['i1', 'i2'], '2025-04-15', $5, $6)`, uuid.New(), round, i+1, p, in.result, lt(in.recorded))
		}
	}
	return o
}

func ptrF(v float64) *float64 { return &v }

// TestEvaluationIndicatorsHandComputed checks every figure against values
// computed by hand from evalCases (the comments there tell each case's
// story).
func TestEvaluationIndicatorsHandComputed(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	other := insertOther(t, pool, f)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := staffCtx()

	vio := func(w want) want {
		if !other.violations {
			return undefined()
		}
		return w
	}
	park := func(w want) want {
		if !other.parking {
			return undefined()
		}
		return w
	}
	insp := func(w want) want {
		if !other.inspections {
			return undefined()
		}
		return w
	}

	rows := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodMonth,
		From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"), Filter: evaluation.Filter{Jurisdiction: f.street}}))
	if len(rows) != 3 {
		t.Fatalf("%d rows, want April, May, June: %v", len(rows), rows)
	}
	// April. Handled: A1, A2, A4 (A3 was handled in May); not handled by
	// the end of April although due in April: A6 (A5 is in backlog). Closed:
	// A1, A2, A4; due unclosed: A6. Open at the end of April: A3 (deadline
	// in May) and A6 (overdue).
	checkRow(t, "April", rows["2025-04||||"], map[string]want{
		"registered":                  count(6),
		"dispatched":                  count(6),
		"handling_rate":               ratio(3, 4),
		"on_time_handling_rate":       ratio(2, 4), // A2 late
		"closure_rate":                ratio(3, 4),
		"on_time_closure_rate":        ratio(2, 4), // A2 late
		"rework_rate":                 ratio(1, 4), // A4
		"overdue_pending_rate":        ratio(1, 2),
		"avg_handling_hours":          value((2*hour + 10*hour + 8*hour + hour/2), 3, 20.5/3),
		"p90_handling_hours":          value(3, 3, 10), // nearest rank 3 of 3: 10 h, bucket (7.5, 10]
		"satisfaction":                value(5+3+4, 3, 4),
		"rating_coverage":             ratio(3, 3),
		"participation":               ratio(2+1, 6), // A1, A4 app; A3 hotline
		"violations_found":            vio(count(2)), // V1, V2
		"illegal_construction_found":  vio(count(1)), // V1
		"violations_demolished":       vio(count(0)),
		"demolished_area_m2":          vio(value(0, 0, 0)),
		"violations_removed":          vio(count(0)),
		"shared_parking_opening_rate": park(ratio(1, 2)),
		"inspection_pass_rate":        insp(ratio(1, 2)),
		"composite":                   value(0, 0, composite(0.75, 0.5, 4, 0.5, 0.25, 0.5)),
	})
	// May. Handled: A3 (deferred, exactly at its extended deadline: on
	// time), M1, M3; due unhandled: M2 (handled 3 June). Closed: A3 (late),
	// M1; due unclosed: M2, M3. Open at the end of May: A6 (overdue), M2
	// (overdue), M3 (handled in time: not overdue).
	checkRow(t, "May", rows["2025-05||||"], map[string]want{
		"registered":                  count(3),
		"dispatched":                  count(3),
		"handling_rate":               ratio(3, 4),
		"on_time_handling_rate":       ratio(3, 4),
		"closure_rate":                ratio(2, 4),
		"on_time_closure_rate":        ratio(1, 4),
		"rework_rate":                 ratio(0, 4),
		"overdue_pending_rate":        ratio(2, 3),
		"avg_handling_hours":          value(90*hour+hour+5*hour+hour/2, 3, 96.5/3),
		"p90_handling_hours":          value(3, 3, 112.5), // 90 h, bucket (75, 112.5]
		"satisfaction":                value(2, 1, 2),
		"rating_coverage":             ratio(1, 2),
		"participation":               ratio(2, 3),
		"violations_found":            vio(count(2)), // V3, V4
		"illegal_construction_found":  vio(count(1)), // V3
		"violations_demolished":       vio(count(2)), // V1, V3: buildings only
		"demolished_area_m2":          vio(value(115, 2, 115)),
		"violations_removed":          vio(count(1)), // V4's waste cleared
		"shared_parking_opening_rate": park(ratio(2, 3)),
		"inspection_pass_rate":        insp(ratio(1, 1)),
		"composite":                   value(0, 0, composite(0.5, 0.25, 2, 2.0/3, 0, 2.0/3)),
	})
	// May asked alone: V1, found in April, still counts as demolished in
	// May, read among the violations demolished in the period but found
	// before it.
	may := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodMonth,
		From: lt("2025-05-01 00:00"), To: lt("2025-06-01 00:00"), Filter: evaluation.Filter{Jurisdiction: f.street}}))
	checkRow(t, "May alone", may["2025-05||||"], map[string]want{
		"violations_found":      vio(count(2)), // V3, V4
		"violations_demolished": vio(count(2)), // V1, V3
		"demolished_area_m2":    vio(value(115, 2, 115)),
		"violations_removed":    vio(count(1)),
	})
	// June, the current month, judged at Friday 12:00. Handled: M2 (late),
	// J1, J4; due unhandled: J2 (J3's deadline is Monday: not due). Closed:
	// M2 (late), J1; due unclosed: J2, J4. Open now: A6, M3, J2, J3, J4, of
	// which A6 and J2 are overdue.
	checkRow(t, "June", rows["2025-06||||"], map[string]want{
		"registered":                  count(4),
		"dispatched":                  count(4),
		"handling_rate":               ratio(3, 4),
		"on_time_handling_rate":       ratio(2, 4),
		"closure_rate":                ratio(2, 4),
		"on_time_closure_rate":        ratio(1, 4),
		"rework_rate":                 ratio(0, 4),
		"overdue_pending_rate":        ratio(2, 5),
		"avg_handling_hours":          value(37*hour+hour/2+hour+4*hour+hour/2, 3, 43.0/3),
		"p90_handling_hours":          value(3, 3, 37.5),
		"satisfaction":                value(5, 1, 5),
		"rating_coverage":             ratio(1, 2),
		"participation":               ratio(1, 4),
		"violations_found":            vio(count(0)),
		"illegal_construction_found":  vio(count(0)),
		"violations_demolished":       vio(count(0)),
		"demolished_area_m2":          vio(value(0, 0, 0)),
		"violations_removed":          vio(count(0)),
		"shared_parking_opening_rate": park(ratio(2, 3)),
		"inspection_pass_rate":        insp(undefined()),
		"composite":                   value(0, 0, composite(0.5, 0.25, 5, 0.25, 0, 0.4)),
	})

	// The quarter is not the sum of its months: M2 fell due unclosed in May
	// and closed in June, so it is due once in Q2; A6, J2 and J4 are due
	// unclosed, J3 is not due yet.
	q := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodQuarter,
		From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"), Filter: evaluation.Filter{Jurisdiction: f.street}}))
	checkRow(t, "Q2", q["2025-04||||"], map[string]want{
		"registered":                  count(13),
		"dispatched":                  count(13),
		"handling_rate":               ratio(9, 11),
		"on_time_handling_rate":       ratio(7, 11),
		"closure_rate":                ratio(7, 11),
		"on_time_closure_rate":        ratio(4, 11),
		"rework_rate":                 ratio(1, 11),
		"overdue_pending_rate":        ratio(2, 5),
		"avg_handling_hours":          value(160*hour, 9, 160.0/9),
		"p90_handling_hours":          value(9, 9, 112.5),
		"satisfaction":                value(19, 5, 3.8),
		"rating_coverage":             ratio(5, 7),
		"participation":               ratio(6, 13),
		"violations_found":            vio(count(4)),
		"illegal_construction_found":  vio(count(2)),
		"violations_demolished":       vio(count(2)),
		"demolished_area_m2":          vio(value(115, 2, 115)),
		"violations_removed":          vio(count(1)),
		"shared_parking_opening_rate": park(ratio(2, 3)),
		"inspection_pass_rate":        insp(ratio(2, 3)),
		"composite":                   value(0, 0, composite(7.0/11, 4.0/11, 3.8, 6.0/13, 1.0/11, 0.4)),
	})
	// The year so far is the quarter (no other data).
	y := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodYear,
		From: lt("2025-01-01 00:00"), To: lt("2026-01-01 00:00"), Filter: evaluation.Filter{Jurisdiction: f.street}}))
	checkRow(t, "2025", y["2025-01||||"], map[string]want{"closure_rate": ratio(7, 11), "handling_rate": ratio(9, 11),
		"registered": count(13), "overdue_pending_rate": ratio(2, 5)})
	if len(y) != 1 {
		t.Errorf("year rows: %d, want 1 (periods after the current one are not reported)", len(y))
	}

	// April by community: C1 holds A1, A2, A4, A6; C2 holds A3 and the
	// backlog A5, of which nothing was due in April.
	bc := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodMonth,
		From: lt("2025-04-01 00:00"), To: lt("2025-05-01 00:00"), GroupBy: []evaluation.Dim{evaluation.DimStreet, evaluation.DimCommunity},
		Filter: evaluation.Filter{Jurisdiction: f.street}}))
	checkRow(t, "April C1", bc["2025-04|"+f.street+"|"+f.c1+"||"], map[string]want{
		"registered": count(4), "handling_rate": ratio(3, 4), "closure_rate": ratio(3, 4), "overdue_pending_rate": ratio(1, 1),
		"participation": ratio(2, 4), "violations_found": vio(count(2)), "shared_parking_opening_rate": park(ratio(1, 1)),
		"inspection_pass_rate": insp(ratio(1, 2)),
	})
	checkRow(t, "April C2", bc["2025-04|"+f.street+"|"+f.c2+"||"], map[string]want{
		"registered": count(2), "dispatched": count(2), "handling_rate": undefined(), "closure_rate": undefined(),
		"overdue_pending_rate": ratio(0, 1), "participation": ratio(1, 2), "composite": undefined(),
		"shared_parking_opening_rate": park(ratio(0, 1)),
	})
	// April by department and by class: the other datasets do not follow.
	bd := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodMonth,
		From: lt("2025-04-01 00:00"), To: lt("2025-05-01 00:00"), GroupBy: []evaluation.Dim{evaluation.DimDepartment},
		Filter: evaluation.Filter{Jurisdiction: f.street}}))
	checkRow(t, "April "+deptA, bd["2025-04|||"+deptA+"|"], map[string]want{
		"registered": count(4), "handling_rate": ratio(3, 3), "closure_rate": ratio(3, 3), "rework_rate": ratio(1, 3),
		"violations_found": undefined(), "shared_parking_opening_rate": undefined(),
	})
	checkRow(t, "April "+deptB, bd["2025-04|||"+deptB+"|"], map[string]want{
		"registered": count(2), "handling_rate": ratio(0, 1), "overdue_pending_rate": ratio(1, 2),
	})
	bk := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodQuarter,
		From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"), GroupBy: []evaluation.Dim{evaluation.DimCaseClass},
		Filter: evaluation.Filter{Jurisdiction: f.street, Sources: nil}}))
	// Q2 by class: COMPONENT/02 holds A3 (deferred) and J4.
	checkRow(t, "Q2 COMPONENT/02", bk["2025-04||||COMPONENT02"], map[string]want{
		"registered": count(2), "handling_rate": ratio(2, 2), "on_time_handling_rate": ratio(2, 2),
		"closure_rate": ratio(1, 2), "on_time_closure_rate": ratio(0, 2), "participation": ratio(1, 2),
	})
	// Filtered by source (the fine rollup): the citizen-app cases A1, A4, M3,
	// J1 (A7 was never registered). M3 fell due in May and is not closed.
	bs := rowsByPeriod(t, indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodQuarter,
		From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"),
		Filter: evaluation.Filter{Jurisdiction: f.street, Sources: []cases.Source{cases.SourceCitizenReport}}}))
	checkRow(t, "Q2 citizen app", bs["2025-04||||"], map[string]want{
		"registered": count(4), "participation": ratio(4, 4), "closure_rate": ratio(3, 4), "rework_rate": ratio(1, 4),
		"satisfaction": value(5+4+5, 3, 14.0/3), "violations_found": undefined(),
	})
}

// figureDump returns every figure of every row, for comparing two runs.
func figureDump(rows []evaluation.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %+v\n", r.PeriodStart.Format(time.RFC3339), r.Group)
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "  %s suppressed=%v\n", f, f.Suppressed)
		}
	}
	return b.String()
}

// TestEvaluationRollupsFollowChanges changes cases through plain SQL (as
// any writer would) and checks that the next Indicators call reflects it,
// and that the incrementally maintained rollups equal a rebuild from
// scratch.
func TestEvaluationRollupsFollowChanges(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := staffCtx()
	month := evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"),
		Filter: evaluation.Filter{Jurisdiction: f.street}}
	before := rowsByPeriod(t, indicators(t, ctx, svc, month))
	checkRow(t, "June before", before["2025-06||||"], map[string]want{"closure_rate": ratio(2, 4), "overdue_pending_rate": ratio(2, 5)})

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// J2 is handled (late) and closed this morning and rated 4; A3 (closed
	// in May) is rated 5 after the fact; J3 moves to community 1; A5 leaves
	// the backlog and is closed in June; A6 is deleted.
	exec(`UPDATE cases SET status = 'CLOSED', handled_at = $2, closed_at = $3, rating = 4, rated_at = $3 WHERE id = $1`,
		f.ids["J2"], lt("2025-06-20 10:00"), lt("2025-06-20 11:00"))
	exec(`UPDATE cases SET rating = 5, rated_at = $2 WHERE id = $1`, f.ids["A3"], lt("2025-06-01 10:00"))
	exec(`UPDATE cases SET jurisdiction_code = $2, community_code = $2 WHERE id = $1`, f.ids["J3"], f.c1)
	exec(`UPDATE cases SET status = 'CLOSED', handled_at = $2, closed_at = $3 WHERE id = $1`,
		f.ids["A5"], lt("2025-06-10 10:00"), lt("2025-06-10 11:00"))
	exec(`DELETE FROM cases WHERE id = $1`, f.ids["A6"])

	after := rowsByPeriod(t, indicators(t, ctx, svc, month))
	// April without A6 and with A5 out of backlog: A5's deadline (25 April)
	// passed unhandled, so it is due unhandled and unclosed in April; A6 is
	// gone. Open at the end of April: A3 and A5 (overdue).
	checkRow(t, "April after", after["2025-04||||"], map[string]want{
		"registered": count(5), "handling_rate": ratio(3, 4), "closure_rate": ratio(3, 4),
		"overdue_pending_rate": ratio(1, 2), "participation": ratio(3, 5),
	})
	// May: A3 is now rated 5 (with M1's 2); A6 no longer open at the end
	// of May, A5 is (overdue).
	checkRow(t, "May after", after["2025-05||||"], map[string]want{
		"satisfaction": value(7, 2, 3.5), "rating_coverage": ratio(2, 2), "overdue_pending_rate": ratio(2, 3),
	})
	// June: handled M2, J1, J4, J2, A5 (J2 and A5 late); closed M2, J1, J2,
	// A5; due unclosed J4 (J3 still not due). Open now: M3, J3, J4 — none
	// overdue.
	checkRow(t, "June after", after["2025-06||||"], map[string]want{
		"handling_rate":         ratio(5, 5),
		"on_time_handling_rate": ratio(2, 5),
		"closure_rate":          ratio(4, 5),
		"on_time_closure_rate":  ratio(1, 5),
		"overdue_pending_rate":  ratio(0, 3),
		"satisfaction":          value(5+4, 2, 4.5),
		"rating_coverage":       ratio(2, 4),
	})
	byCommunity := evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-06-01 00:00"), To: lt("2025-07-01 00:00"),
		GroupBy: []evaluation.Dim{evaluation.DimCommunity}, Filter: evaluation.Filter{Jurisdiction: f.street}}
	bc := rowsByPeriod(t, indicators(t, ctx, svc, byCommunity))
	checkRow(t, "June C1", bc["2025-06||"+f.c1+"||"], map[string]want{"registered": count(3)}) // J1, J2, J3
	checkRow(t, "June C2", bc["2025-06||"+f.c2+"||"], map[string]want{"registered": count(1)}) // J4

	// Incremental maintenance equals a rebuild from the cases, on every tier.
	queries := []evaluation.Query{month, byCommunity,
		{Period: evaluation.PeriodQuarter, From: lt("2025-01-01 00:00"), To: lt("2025-07-01 00:00"),
			GroupBy: []evaluation.Dim{evaluation.DimDepartment, evaluation.DimCaseClass}, Filter: evaluation.Filter{Jurisdiction: f.street}},
		{Period: evaluation.PeriodYear, From: lt("2025-01-01 00:00"), To: lt("2026-01-01 00:00"),
			GroupBy: []evaluation.Dim{evaluation.DimCommunity, evaluation.DimDepartment}, Filter: evaluation.Filter{Jurisdiction: f.street,
				Sources: []cases.Source{cases.SourceInspectorPatrol, cases.SourceCitizenReport}}},
	}
	var incremental []string
	for _, q := range queries {
		incremental = append(incremental, figureDump(indicators(t, ctx, svc, q)))
	}
	if _, err := svc.Rebuild(context.Background()); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	for i, q := range queries {
		if got := figureDump(indicators(t, ctx, svc, q)); got != incremental[i] {
			t.Errorf("query %d: incremental rollups differ from a rebuild:\nincremental:\n%s\nrebuilt:\n%s", i, incremental[i], got)
		}
	}
}

// TestEvaluationDeferredBulkLoad: a bulk loader that sets
// datahub.evaluation_defer skips the change queue; the rollups are marked
// for a rebuild, indicators say so until Refresh has rebuilt them, and then
// include the loaded cases.
func TestEvaluationDeferredBulkLoad(t *testing.T) {
	pool := setup(t)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	street, c1, _ := insertEvalJurisdictions(t, pool)
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL datahub.evaluation_defer = 'on'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source, status, description,
			lat, lng, jurisdiction_code, street_code, community_code, reported_at, registered_at, source_dept)
			SELECT gen_random_uuid(), $1 || g, 'urban-management', 'EVENT', '05', '0501', 'HOTLINE_12345', 'REGISTERED', '批量',
			32.49, 119.92, $2, $3, $2, $4, $4, 'urban-management' FROM generate_series(1, 7) g`,
			randomCode("EVD-"), c1, street, lt("2025-05-05 10:00"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM case_eval_dirty d JOIN cases c ON c.id = d.case_id WHERE c.street_code = $1`, street).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Errorf("%d deferred cases queued", queued)
	}
	q := evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-05-01 00:00"), To: lt("2025-06-01 00:00"),
		Filter: evaluation.Filter{Jurisdiction: street}}
	if _, err := svc.Indicators(staffCtx(), q); apperr.CodeOf(err) != apperr.ServiceUnavailable {
		t.Fatalf("indicators before the rebuild: %v, want SERVICE_UNAVAILABLE", err)
	}
	st, err := svc.Refresh(ctx)
	if err != nil || !st.Rebuilt {
		t.Fatalf("refresh: %+v %v", st, err)
	}
	rows := indicators(t, staffCtx(), svc, q)
	checkRow(t, "May", rows[0], map[string]want{"registered": count(7), "participation": ratio(7, 7)})
}

// TestEvaluationNewMonth moves the clock into July: June becomes a
// completed month whose stock figures come from the rollups, and J3's
// deadline (23 June) has passed.
func TestEvaluationNewMonth(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	clk := fixture.NewClock(evalNow)
	svc := newEvalService(t, pool, clk)
	t.Cleanup(func() {
		// Later tests run at evalNow: take the rollups back there.
		clk.Set(evalNow)
		if _, err := svc.Refresh(context.Background()); err != nil {
			t.Errorf("refresh back: %v", err)
		}
	})
	ctx := staffCtx()
	q := evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-06-01 00:00"), To: lt("2025-08-01 00:00"),
		Filter: evaluation.Filter{Jurisdiction: f.street}}
	checkRow(t, "June at 20 June", rowsByPeriod(t, indicators(t, ctx, svc, q))["2025-06||||"], map[string]want{
		"handling_rate": ratio(3, 4), "closure_rate": ratio(2, 4), "overdue_pending_rate": ratio(2, 5)})

	clk.Set(lt("2025-07-02 12:00"))
	rows := rowsByPeriod(t, indicators(t, ctx, svc, q))
	// June is over. Due unhandled: J2, J3; due unclosed: J2, J3, J4. Open at
	// the end of June: A6, M3, J2, J3, J4; overdue: A6, J2, J3.
	checkRow(t, "June at 2 July", rows["2025-06||||"], map[string]want{
		"handling_rate": ratio(3, 5), "closure_rate": ratio(2, 5), "overdue_pending_rate": ratio(3, 5)})
	// July so far: nothing new happened; the same five are open, and J4 is
	// still not overdue (handled on time).
	checkRow(t, "July", rows["2025-07||||"], map[string]want{
		"registered": count(0), "handling_rate": undefined(), "overdue_pending_rate": ratio(3, 5)})
}

// TestEvaluationSuppression checks small-cell suppression for public
// callers (evaluators, the anonymous public) and none for staff.
func TestEvaluationSuppression(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	other := insertOther(t, pool, f)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	if svc.SuppressBelow() != 5 {
		t.Fatalf("suppressBelow = %d, want the catalog's 5", svc.SuppressBelow())
	}
	q := evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2025-04-01 00:00"), To: lt("2025-05-01 00:00"),
		Filter: evaluation.Filter{Jurisdiction: f.street}}
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"evaluator", evaluatorCtx()}, {"anonymous", context.Background()},
		{"citizen app", access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindService, Subject: "app",
			Roles: []string{access.RoleCitizenApp}, CitizenID: "c-1", Jurisdiction: "hailing"})}} {
		t.Run(c.name, func(t *testing.T) {
			rows := indicators(t, c.ctx, svc, q)
			if len(rows) != 1 {
				t.Fatalf("%d rows", len(rows))
			}
			r := rows[0]
			// Shown: registered (6), dispatched (6), reports (7), the rates
			// on those (the verification of the 7 decided reports; returns,
			// deferrals and backlog of the 6 dispatched; the densities of
			// the 6 registered), zero counts, and the public registers.
			// Participation (3/6) rests on 6 cases but counts 3 citizens'
			// reports, the valid and declined report rates count 1 declined
			// report: hidden.
			shown := map[string]bool{"registered": true, "dispatched": true,
				"violations_demolished": true, "demolished_area_m2": true, "violations_removed": true, "shared_parking_opening_rate": true,
				"inspection_pass_rate": true, "reports": true, "on_time_verification_rate": true, "return_rate": true,
				"dispatch_accuracy": true, "deferral_rate": true, "backlog_rate": true, "problems_per_grid": true,
				"problems_per_km2": true}
			if !other.violations {
				shown["violations_found"] = true
			}
			for _, fig := range r.Figures {
				if shown[fig.Name] {
					if fig.Suppressed {
						t.Errorf("%s suppressed", fig)
					}
					continue
				}
				if !fig.Suppressed || fig.Value != nil || fig.Numerator != 0 || fig.Denominator != 0 {
					t.Errorf("%s: want suppressed with no value, numerator or denominator (suppressed=%v)", fig, fig.Suppressed)
				}
			}
		})
	}
	rows := indicators(t, staffCtx(), svc, q)
	for _, fig := range rows[0].Figures {
		if fig.Suppressed {
			t.Errorf("staff: %s suppressed", fig)
		}
	}
	if p, _ := rows[0].Figure("participation"); p.Value == nil || *p.Value != 0.5 {
		t.Errorf("staff: participation = %s, want 0.5", p)
	}
}

// countingStore records which reads the service asks of the store.
type countingStore struct {
	*postgres.EvaluationStore
	mu                               sync.Mutex
	cells, wideCells, live, wideLive int
}

func (s *countingStore) Cells(ctx context.Context, q evaluation.CellQuery) ([]evaluation.Cell, []evaluation.Cell, evaluation.Month, error) {
	s.mu.Lock()
	s.cells++
	if q.Wide {
		s.wideCells++
	}
	s.mu.Unlock()
	return s.EvaluationStore.Cells(ctx, q)
}

func (s *countingStore) Live(ctx context.Context, q evaluation.LiveQuery) ([]evaluation.LiveCell, []evaluation.LiveCell, error) {
	s.mu.Lock()
	s.live++
	if q.Wide {
		s.wideLive++
	}
	s.mu.Unlock()
	return s.EvaluationStore.Live(ctx, q)
}

// reads returns and resets the counts: cells, wide cells, live, wide live.
func (s *countingStore) reads() [4]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := [4]int{s.cells, s.wideCells, s.live, s.wideLive}
	s.cells, s.wideCells, s.live, s.wideLive = 0, 0, 0, 0
	return r
}

// insertComplementCases plants the red team's differencing attack in a
// fresh community: in April, 6 rated closed cases (5 EVENT rated 4, 4, 4,
// 3, 3 = 18 stars; 1 COMPONENT rated 5: 23 stars over 6 in all) and 7
// unrated closed COMPONENT cases (so COMPONENT counts 1 rated of 8
// closed); in June (the current month), 6 open overdue cases, 5 EVENT and
// 1 COMPONENT. Every case is an inspector's, handled by deptA.
func insertComplementCases(t *testing.T, pool *pgxpool.Pool) (community string) {
	t.Helper()
	street, community, _ := insertEvalJurisdictions(t, pool)
	type c struct {
		kind   string
		day    int // of the month
		month  string
		rating int
		closed bool
	}
	var cs []c
	for i, r := range []int{4, 4, 4, 3, 3} {
		cs = append(cs, c{"EVENT", 7 + i, "2025-04", r, true})
	}
	cs = append(cs, c{"COMPONENT", 14, "2025-04", 5, true})
	for i := range 7 {
		cs = append(cs, c{"COMPONENT", 15 + i, "2025-04", 0, true})
	}
	for i := range 5 {
		cs = append(cs, c{"EVENT", 2 + i, "2025-06", 0, false})
	}
	cs = append(cs, c{"COMPONENT", 9, "2025-06", 0, false})
	for _, k := range cs {
		major, minor := "05", "0501"
		if k.kind == "COMPONENT" {
			major, minor = "02", "0202"
		}
		day := fmt.Sprintf("%s-%02d", k.month, k.day)
		reg, deadline := lt(day+" 09:00"), lt(day+" 09:00").Add(48*time.Hour)
		status := "DISPATCHED"
		var handled, closed, ratedAt *time.Time
		var rating *int
		if k.closed {
			status = "CLOSED"
			h, cl := reg.Add(2*time.Hour), reg.Add(4*time.Hour)
			handled, closed = &h, &cl
			if k.rating > 0 {
				r, at := k.rating, cl.Add(time.Hour)
				rating, ratedAt = &r, &at
			}
		}
		_, err := pool.Exec(context.Background(), `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code,
			source, status, description, lat, lng, jurisdiction_code, street_code, community_code, handling_dept, reported_at,
			registered_at, dispatched_at, deadline, handled_at, closed_at, rating, rated_at, source_dept)
			VALUES ($1, $2, 'urban-management', $3, $4, $5, 'INSPECTOR_PATROL', $6, '占道经营', 32.49, 119.92, $7, $8, $7, $9,
			$10, $10, $10, $11, $12, $13, $14, $15, 'urban-management')`,
			uuid.New(), randomCode("EVC-"), k.kind, major, minor, status, community, street, deptA, reg, deadline,
			handled, closed, rating, ratedAt)
		if err != nil {
			t.Fatalf("insert case: %v", err)
		}
	}
	return community
}

// TestEvaluationSuppressionComplements reproduces the red team's
// differencing attack: satisfaction 23/6 for a community, 18/5 for its
// EVENT cases, the single COMPONENT rating suppressed — and 23 − 18 = 5
// stars gave that rating away. For public callers a figure is now hidden
// when the cases a narrowing filter removed (the complement) are 1 to k−1
// too; departments still see every figure; a filter that removes nothing
// hides nothing; and the extra read happens only for public callers with
// narrowing filters.
func TestEvaluationSuppressionComplements(t *testing.T) {
	pool := setup(t)
	community := insertComplementCases(t, pool)
	store := &countingStore{EvaluationStore: postgres.NewEvaluationStore(pool)}
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), func(c *evaluation.Config) { c.Store = store })
	store.reads()

	ask := func(ctx context.Context, month string, f evaluation.Filter) evaluation.Row {
		t.Helper()
		f.Jurisdiction = community
		from := lt(month + "-01 00:00")
		rows := indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: from.AddDate(0, 1, 0),
			GroupBy: []evaluation.Dim{evaluation.DimCommunity}, Filter: f})
		if len(rows) != 1 || rows[0].Group.Community != community {
			t.Fatalf("%s %+v: %d rows, want one for %s", month, f, len(rows), community)
		}
		return rows[0]
	}
	event := evaluation.Filter{Kind: cases.KindEvent}
	component := evaluation.Filter{Kind: cases.KindComponent}
	nothing := evaluation.Filter{HandlingDept: deptA} // every case is deptA's
	hidden := func(label string, r evaluation.Row, names ...string) {
		t.Helper()
		for _, n := range names {
			f, _ := r.Figure(n)
			if !f.Suppressed || f.Value != nil || f.Numerator != 0 || f.Denominator != 0 {
				t.Errorf("%s: %s shown, want suppressed", label, f)
			}
		}
	}
	shown := func(label string, r evaluation.Row, wants map[string]want) {
		t.Helper()
		checkRow(t, label, r, wants) // fails on a suppressed figure too
	}
	stars := func(sum, n int64) want { return value(sum, n, float64(sum)/float64(n)) }

	for _, p := range []struct {
		name string
		ctx  context.Context
	}{{"anonymous", context.Background()}, {"evaluator", evaluatorCtx()}} {
		t.Run(p.name, func(t *testing.T) {
			ctx := p.ctx
			shown("all", ask(ctx, "2025-04", evaluation.Filter{}), map[string]want{
				"satisfaction": stars(23, 6), "rating_coverage": ratio(6, 13), "registered": count(13)})
			// EVENT: 5 ratings, but the filter removed 1: 23/6 − 18/5.
			r := ask(ctx, "2025-04", event)
			hidden("EVENT", r, "satisfaction", "rating_coverage", "composite")
			// What the filter removed is 8 cases, but June's EVENT cells
			// are hidden (their complement is 1 case, below) and Q2 =
			// April + June: Q2 − April would give June's away, so April's
			// go too and the quarter stays (doc.go, "Small cells across
			// periods").
			hidden("EVENT", r, "registered", "closure_rate")
			q2 := lt("2025-04-01 00:00")
			qr := indicators(t, ctx, svc, evaluation.Query{Period: evaluation.PeriodQuarter, From: q2, To: q2.AddDate(0, 3, 0),
				GroupBy: []evaluation.Dim{evaluation.DimCommunity}, Filter: evaluation.Filter{Jurisdiction: community, Kind: cases.KindEvent}})
			if len(qr) != 1 {
				t.Fatalf("Q2 EVENT: %d rows", len(qr))
			}
			shown("Q2 EVENT", qr[0], map[string]want{"registered": count(10)})
			// COMPONENT: 1 rating of 8 closed cases; rating coverage used to
			// show the 1.
			r = ask(ctx, "2025-04", component)
			hidden("COMPONENT", r, "satisfaction", "rating_coverage", "composite")
			// June's one COMPONENT case is hidden: April's 8 go with it.
			hidden("COMPONENT", r, "registered", "closure_rate")
			// A filter that removes nothing (complement 0) hides nothing.
			shown("deptA", ask(ctx, "2025-04", nothing), map[string]want{
				"satisfaction": stars(23, 6), "rating_coverage": ratio(6, 13), "registered": count(13)})

			// The current month: the open cases are read live, and so are
			// their complements. EVENT keeps 5 of 6 open cases.
			shown("June", ask(ctx, "2025-06", evaluation.Filter{}), map[string]want{"overdue_pending_rate": ratio(6, 6)})
			hidden("June EVENT", ask(ctx, "2025-06", event), "overdue_pending_rate", "registered")
			shown("June deptA", ask(ctx, "2025-06", nothing), map[string]want{"overdue_pending_rate": ratio(6, 6)})
		})
	}

	t.Run("department", func(t *testing.T) {
		ctx := staffCtx()
		shown("EVENT", ask(ctx, "2025-04", event), map[string]want{"satisfaction": stars(18, 5), "rating_coverage": ratio(5, 5)})
		shown("COMPONENT", ask(ctx, "2025-04", component), map[string]want{"satisfaction": stars(5, 1), "rating_coverage": ratio(1, 8)})
		shown("June EVENT", ask(ctx, "2025-06", event), map[string]want{"overdue_pending_rate": ratio(5, 5), "registered": count(5)})
	})

	t.Run("reads", func(t *testing.T) {
		store.reads()
		anon := context.Background()
		for _, c := range []struct {
			name  string
			ctx   context.Context
			month string
			f     evaluation.Filter
			want  [4]int // cells, wide cells, live, wide live
		}{
			// A public caller's cells are judged across the months,
			// quarters and years of the years the query touches: one read
			// of their months, and, when that includes the current month,
			// the live part of the current month, quarter and year.
			{"public, jurisdiction only", anon, "2025-04", evaluation.Filter{}, [4]int{1, 0, 3, 0}},
			{"public, current month, jurisdiction only", anon, "2025-06", evaluation.Filter{}, [4]int{1, 0, 3, 0}},
			{"department, narrowing filter", staffCtx(), "2025-04", event, [4]int{1, 0, 0, 0}},
			{"department, current month, narrowing filter", staffCtx(), "2025-06", event, [4]int{1, 0, 1, 0}},
			{"public, narrowing filter", anon, "2025-04", event, [4]int{1, 1, 3, 3}},
			{"public, current month, narrowing filter", anon, "2025-06", event, [4]int{1, 1, 3, 3}},
		} {
			ask(c.ctx, c.month, c.f)
			if got := store.reads(); got != c.want {
				t.Errorf("%s: reads (cells, wide cells, live, wide live) = %v, want %v", c.name, got, c.want)
			}
		}
		// A past year has no live part.
		from := lt("2024-04-01 00:00")
		indicators(t, anon, svc, evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: from.AddDate(0, 1, 0)})
		if got := store.reads(); got != [4]int{1, 0, 0, 0} {
			t.Errorf("public, last year: reads = %v, want [1 0 0 0]", got)
		}
	})
}

func TestEvaluationIndicatorsInput(t *testing.T) {
	pool := setup(t)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := staffCtx()
	from, to := lt("2025-01-01 00:00"), lt("2025-07-01 00:00")
	for _, c := range []struct {
		name  string
		q     evaluation.Query
		field string
	}{
		{"period", evaluation.Query{Period: "WEEK", From: from, To: to}, "period"},
		{"to before from", evaluation.Query{Period: evaluation.PeriodMonth, From: to, To: from}, "to"},
		{"grid", evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: to, Filter: evaluation.Filter{Jurisdiction: "hailing.a.b.g01"}}, "filter.jurisdiction"},
		{"dim", evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: to, GroupBy: []evaluation.Dim{"GRID"}}, "groupBy"},
		{"twice", evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: to, GroupBy: []evaluation.Dim{evaluation.DimStreet, evaluation.DimStreet}}, "groupBy"},
		{"major without kind", evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: to, Filter: evaluation.Filter{MajorCode: "05"}}, "filter.majorCode"},
		{"source", evaluation.Query{Period: evaluation.PeriodMonth, From: from, To: to, Filter: evaluation.Filter{Sources: []cases.Source{"FAX"}}}, "filter.sources"},
		{"too long", evaluation.Query{Period: evaluation.PeriodMonth, From: lt("2000-01-01 00:00"), To: to}, "to"},
	} {
		_, err := svc.Indicators(ctx, c.q)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.BadUserInput || e.Field != c.field {
			t.Errorf("%s: err = %v, want BAD_USER_INPUT on %s", c.name, err, c.field)
		}
	}
}

// --- snapshots ---

// Numbers are matched as tokens (no letter or digit around them): a
// 32-digit hex pseudonym may well contain eleven decimal digits in a row.
var (
	mobileRe = regexp.MustCompile(`(?:^|[^0-9A-Za-z])1[3-9][0-9]{9}(?:[^0-9A-Za-z]|$)`)
	idRe     = regexp.MustCompile(`(?:^|[^0-9A-Za-z])[0-9]{17}[0-9Xx](?:[^0-9A-Za-z]|$)`)
	plateRe  = regexp.MustCompile(`[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}`)
)

// scanForPersonalData fails if any personal datum of the fixture (or any
// phone number, ID number or plate) appears in data.
func scanForPersonalData(t *testing.T, label string, data []byte, f *evalFixture) {
	t.Helper()
	for _, found := range personalData(data, f) {
		t.Errorf("%s: %s", label, found)
	}
}

func personalData(data []byte, f *evalFixture) []string {
	var out []string
	s := string(data)
	for _, re := range []*regexp.Regexp{mobileRe, idRe, plateRe} {
		if m := re.FindString(s); m != "" {
			out = append(out, fmt.Sprintf("%q matches %s", m, re))
		}
	}
	var exact []string
	exact = append(exact, evalNames...)
	exact = append(exact, f.caseNos...)
	exact = append(exact, f.externalIDs...)
	exact = append(exact, f.phones...)
	exact = append(exact, f.citizenIDs...)
	exact = append(exact, f.photos...)
	exact = append(exact, "青年路")
	for _, id := range f.ids {
		exact = append(exact, id.String(), hex.EncodeToString(id[:]))
	}
	for _, x := range exact {
		if strings.Contains(s, x) {
			out = append(out, fmt.Sprintf("contains %q", x))
		}
	}
	return out
}

func exportBytes(t *testing.T, ctx context.Context, svc *evaluation.Service, id uuid.UUID, f evaluation.Format, off int64) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := svc.Export(ctx, id, f, &b, off)
	if err != nil {
		t.Fatalf("export %s from %d: %v", f, off, err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("export reported %d bytes, wrote %d", n, b.Len())
	}
	return b.Bytes()
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// renderingOnly lowers the k-anonymity threshold to 1 for the tests that
// check how each column of the hand-built cases (a dozen rows, nearly all
// unique) is rendered; TestSnapshotKAnonymity tests the threshold itself.
func renderingOnly(c *evaluation.Config) { c.SnapshotK = 1 }

func TestEvaluationSnapshotAnonymised(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), renderingOnly)
	ctx := evaluatorCtx()
	filter := evaluation.SnapshotFilter{Jurisdiction: f.street}

	m, err := svc.CreateSnapshot(ctx, "cases", filter, evaluation.Profile{})
	if err != nil {
		t.Fatalf("create snapshot: %v", err)
	}
	if m.Rows != int64(len(evalCases)) || m.CreatedBy != "eval-team-1@org:"+testOrg || !strings.HasPrefix(m.PolicyVersion, "sha256:") {
		t.Fatalf("manifest: %+v", m)
	}
	nd := exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)
	csvData := exportBytes(t, ctx, svc, m.ID, evaluation.FormatCSV, 0)
	if int64(len(nd)) != m.NDJSON.Bytes || sha(nd) != m.NDJSON.SHA256 {
		t.Errorf("ndjson: %d bytes %s, manifest %+v", len(nd), sha(nd), m.NDJSON)
	}
	if int64(len(csvData)) != m.CSV.Bytes || sha(csvData) != m.CSV.SHA256 {
		t.Errorf("csv: %d bytes %s, manifest %+v", len(csvData), sha(csvData), m.CSV)
	}
	scanForPersonalData(t, "ndjson", nd, f)
	scanForPersonalData(t, "csv", csvData, f)
	// The scan does find what the fixture planted.
	var raw []byte
	if err := pool.QueryRow(context.Background(), `SELECT string_agg(concat_ws(',', case_no, reporter_name, reporter_phone,
		citizen_id, description), E'\n') FROM cases WHERE street_code = $1`, f.street).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, re := range []*regexp.Regexp{mobileRe, idRe, plateRe} {
		if !re.Match(raw) {
			t.Errorf("%s finds nothing in the raw cases", re)
		}
	}
	if found := personalData(raw, f); len(found) < 3+len(evalNames) {
		t.Errorf("the scan finds only %v in the raw cases", found)
	}

	// The NDJSON is valid, one object per row with the schema's keys, and
	// its figures are reproducible: times truncated to the hour, the flags
	// and working hours computed on the exact times.
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(lines) != len(evalCases) {
		t.Fatalf("%d lines", len(lines))
	}
	byDispatch := map[string]map[string]any{}
	for _, l := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if len(row) != len(m.Columns) {
			t.Errorf("row has %d keys, schema %d", len(row), len(m.Columns))
		}
		for _, k := range []string{"description", "rating_comment", "lat", "lng", "reporter_name", "address"} {
			if _, ok := row[k]; ok {
				t.Errorf("default profile kept %s", k)
			}
		}
		if d, ok := row["dispatched_at"].(string); ok {
			byDispatch[d] = row
		}
	}
	a2 := byDispatch["2025-04-15T02:00:00Z"] // A2 dispatched 10:00 local
	if a2 == nil || a2["handled_at"] != "2025-04-16T06:00:00Z" || a2["handling_work_hours"] != 10.0 ||
		a2["handled_on_time"] != false || a2["community_code"] != f.c1 || a2["citizen_raised"] != false {
		t.Errorf("A2 row: %v", a2)
	}
	a1 := byDispatch["2025-04-14T01:00:00Z"] // A1 dispatched 09:30 local, truncated to 09:00
	if a1 == nil || a1["handled_on_time"] != true || a1["handling_work_hours"] != 2.0 || a1["rating"] != 5.0 {
		t.Errorf("A1 row: %v", a1)
	}
	header := strings.SplitN(string(csvData), "\n", 2)[0]
	if header != m.CSVHeader() || !strings.HasPrefix(header, "case_ref,kind,major_code") {
		t.Errorf("csv header %q", header)
	}

	// Re-export is byte-identical.
	if !bytes.Equal(nd, exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)) ||
		!bytes.Equal(csvData, exportBytes(t, ctx, svc, m.ID, evaluation.FormatCSV, 0)) {
		t.Error("re-export differs")
	}
	// A second snapshot of the same data has other pseudonyms and otherwise
	// the same rows.
	m2, err := svc.CreateSnapshot(ctx, "cases", filter, evaluation.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	nd2 := exportBytes(t, ctx, svc, m2.ID, evaluation.FormatNDJSON, 0)
	refs := func(data []byte) (map[string]bool, []string) {
		set := map[string]bool{}
		var rest []string
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			var row map[string]any
			_ = json.Unmarshal([]byte(l), &row)
			set[row["case_ref"].(string)] = true
			delete(row, "case_ref")
			b, _ := json.Marshal(row)
			rest = append(rest, string(b))
		}
		return set, rest
	}
	r1, rest1 := refs(nd)
	r2, rest2 := refs(nd2)
	for ref := range r1 {
		if r2[ref] {
			t.Errorf("pseudonym %s appears in both snapshots", ref)
		}
	}
	if len(r1) != len(evalCases) || strings.Join(rest1, "\n") != strings.Join(rest2, "\n") {
		t.Error("the two snapshots differ beyond their pseudonyms")
	}

	// The keep-text profile keeps descriptions, scrubbed; coordinates come
	// rounded to 0.001°.
	m3, err := svc.CreateSnapshot(ctx, "cases", filter, evaluation.Profile{KeepText: true, Coordinates: true})
	if err != nil {
		t.Fatal(err)
	}
	nd3 := exportBytes(t, ctx, svc, m3.ID, evaluation.FormatNDJSON, 0)
	scanForPersonalData(t, "keep-text ndjson", nd3, f)
	scanForPersonalData(t, "keep-text csv", exportBytes(t, ctx, svc, m3.ID, evaluation.FormatCSV, 0), f)
	if !strings.Contains(string(nd3), `"description":"[removed]反映店外经营占道`) || !strings.Contains(string(nd3), `"lat":32.491,`) {
		t.Errorf("keep-text snapshot: %.400s", nd3)
	}

	// Snapshots are immutable.
	for _, q := range []string{`UPDATE eval_snapshot_rows SET ndjson = '{}' WHERE snapshot_id = $1`,
		`DELETE FROM eval_snapshot_rows WHERE snapshot_id = $1`, `DELETE FROM eval_snapshots WHERE id = $1`,
		`UPDATE eval_snapshots SET row_count = 0 WHERE id = $1`} {
		if _, err := pool.Exec(context.Background(), q, m.ID); err == nil || !strings.Contains(err.Error(), "immutable") {
			t.Errorf("%s: err = %v, want refused", q, err)
		}
	}

	// Only evaluators (and the command centre's admins, see policy.csv) read
	// or make snapshots.
	if _, err := svc.Export(as(context.Background(), "urban-management", "admin"), m.ID, evaluation.FormatNDJSON, io.Discard, 0); err != nil {
		t.Errorf("export by the command centre's admin: %v", err)
	}
	for _, c := range []struct {
		ctx  context.Context
		code apperr.Code
	}{{staffCtx(), apperr.Forbidden}, {context.Background(), apperr.Unauthenticated},
		{as(context.Background(), "housing", "admin"), apperr.Forbidden}} {
		if _, err := svc.Export(c.ctx, m.ID, evaluation.FormatNDJSON, io.Discard, 0); apperr.CodeOf(err) != c.code {
			t.Errorf("export by %v: %v, want %s", access.PrincipalFrom(c.ctx).Roles, err, c.code)
		}
		if _, err := svc.CreateSnapshot(c.ctx, "cases", filter, evaluation.Profile{}); apperr.CodeOf(err) != c.code {
			t.Errorf("create by %v: %v, want %s", access.PrincipalFrom(c.ctx).Roles, err, c.code)
		}
	}
	// Exports are audited before any byte leaves; an export that cannot be
	// audited is refused.
	rec := &recordingAuditor{}
	audited := newEvalService(t, pool, fixture.NewClock(evalNow), func(c *evaluation.Config) { c.Auditor = rec })
	if _, err := audited.Export(ctx, m.ID, evaluation.FormatCSV, io.Discard, 0); err != nil || rec.rows.Load() != m.Rows {
		t.Errorf("audited export: %v, %d rows recorded", err, rec.rows.Load())
	}
	rec.fail.Store(true)
	var sink bytes.Buffer
	if _, err := audited.Export(ctx, m.ID, evaluation.FormatCSV, &sink, 0); err == nil || sink.Len() != 0 {
		t.Errorf("export with a failing audit trail: %v, %d bytes", err, sink.Len())
	}
	if _, err := svc.Snapshot(ctx, uuid.New()); apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("unknown snapshot: %v", err)
	}
	if _, err := svc.CreateSnapshot(ctx, "audit", filter, evaluation.Profile{}); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("snapshot of audit: %v", err)
	}
	if list, err := svc.Snapshots(ctx, 10); err != nil || len(list) < 3 {
		t.Errorf("list: %d, %v", len(list), err)
	}
}

type recordingAuditor struct {
	rows atomic.Int64
	fail atomic.Bool
}

func (a *recordingAuditor) Read(_ context.Context, d *access.Decision, rows int) error {
	if a.fail.Load() {
		return fmt.Errorf("audit trail unavailable")
	}
	if d == nil || d.Dataset != evaluation.Dataset {
		return fmt.Errorf("audited decision %+v", d)
	}
	a.rows.Add(int64(rows))
	return nil
}

// insertBulkCases adds n cases under a fresh street with one statement.
func insertBulkCases(t testing.TB, pool *pgxpool.Pool, n int) (street string) {
	t.Helper()
	street, c1, _ := insertEvalJurisdictions(t, pool)
	_, err := pool.Exec(context.Background(), `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source,
		status, description, lat, lng, jurisdiction_code, street_code, community_code, handling_dept, reporter_name, reporter_phone,
		citizen_id, reported_at, registered_at, dispatched_at, deadline, handled_at, closed_at, rating, source_dept)
		SELECT gen_random_uuid(), $1 || g, 'urban-management', 'EVENT', '05', '0501',
			(ARRAY['CITIZEN_REPORT','HOTLINE_12345','INSPECTOR_PATROL','DRONE_PATROL'])[1 + g % 4], 'CLOSED',
			'占道经营 "批量" 第' || g || '号, 含逗号', 32.49, 119.92, $2, $3, $2, 'street-chengdong', '王批量', '13800000000',
			'320102199001011234', t, t + interval '10 minutes', t + interval '20 minutes', t + interval '1 day',
			t + interval '3 hours', t + interval '5 hours', CASE WHEN g % 3 = 0 THEN 1 + g % 5 END, 'urban-management'
		FROM generate_series(1, $4::int) g, LATERAL (SELECT timestamptz '2025-01-06 01:00:00+00' + g * interval '37 minutes' AS t) x`,
		randomCode("EVB-"), c1, street, n)
	if err != nil {
		t.Fatalf("bulk cases: %v", err)
	}
	return street
}

// TestEvaluationExportResume checks that an export resumed at any offset
// (service and HTTP Range) gives exactly the bytes of a full one, across
// checkpoints (every 1,000 rows) and keyset batches.
func TestEvaluationExportResume(t *testing.T) {
	pool := setup(t)
	street := insertBulkCases(t, pool, 2500)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), func(c *evaluation.Config) { c.ExportBatch = 300 })
	ctx := evaluatorCtx()
	m, err := svc.CreateSnapshot(ctx, "cases", evaluation.SnapshotFilter{Jurisdiction: street}, evaluation.Profile{KeepText: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 2500 {
		t.Fatalf("rows %d", m.Rows)
	}
	for _, f := range []evaluation.Format{evaluation.FormatNDJSON, evaluation.FormatCSV} {
		var calls atomic.Int64
		var full bytes.Buffer
		if _, err := svc.Export(ctx, m.ID, f, &full, 0, evaluation.WithProgress(func(done, total int64) {
			calls.Add(1)
			if done > total {
				t.Errorf("progress %d of %d", done, total)
			}
		})); err != nil {
			t.Fatal(err)
		}
		data := full.Bytes()
		if sha(data) != m.Rendering(f).SHA256 || calls.Load() == 0 {
			t.Fatalf("%s: checksum %s, manifest %s, %d progress calls", f, sha(data), m.Rendering(f).SHA256, calls.Load())
		}
		// Row starts around the second checkpoint, inside the CSV header,
		// mid-row, the last byte and the end.
		nl := 0
		var row1001 int64
		for i, c := range data {
			if c == '\n' {
				nl++
				if (f == evaluation.FormatNDJSON && nl == 1000) || (f == evaluation.FormatCSV && nl == 1001) {
					row1001 = int64(i + 1)
				}
			}
		}
		for _, off := range []int64{0, 1, 5, 37, row1001 - 1, row1001, row1001 + 1, row1001 + 250, int64(len(data)) / 2,
			int64(len(data)) - 1, int64(len(data))} {
			if got := exportBytes(t, ctx, svc, m.ID, f, off); !bytes.Equal(got, data[off:]) {
				t.Errorf("%s from %d: %d bytes differ from the full export's tail (%d bytes)", f, off, len(got), len(data)-int(off))
			}
		}
		if _, err := svc.Export(ctx, m.ID, f, io.Discard, int64(len(data))+1); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("offset past the end: %v", err)
		}
	}
}

// withPrincipal is the hub's authentication, reduced to a header.
func withPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.Header.Get("X-Test-Role") {
		case "evaluator":
			ctx = access.WithPrincipal(ctx, &access.Principal{Kind: access.KindService, Subject: "eval-http", Org: testOrg, Roles: []string{access.RoleEvaluator}, Jurisdiction: "hailing"})
		case "staff":
			ctx = access.WithPrincipal(ctx, &access.Principal{Kind: access.KindUser, Subject: "u1", Dept: "urban-management", Roles: []string{access.RoleOfficer}, Jurisdiction: "hailing"})
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func TestEvaluationExportHTTP(t *testing.T) {
	pool := setup(t)
	street := insertBulkCases(t, pool, 1500)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), func(c *evaluation.Config) { c.ExportBatch = 250 })
	m, err := svc.CreateSnapshot(evaluatorCtx(), "cases", evaluation.SnapshotFilter{Jurisdiction: street}, evaluation.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(withPrincipal(server.ExportHandler(svc, nil)))
	t.Cleanup(srv.Close)
	get := func(path string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("X-Test-Role", "evaluator")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, f := range []evaluation.Format{evaluation.FormatNDJSON, evaluation.FormatCSV} {
		path := "/datasets/" + m.ID.String() + "." + string(f)
		resp := get(path)
		full, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rend := m.Rendering(f)
		if resp.StatusCode != 200 || int64(len(full)) != rend.Bytes || sha(full) != rend.SHA256 ||
			resp.Header.Get("X-Content-SHA256") != rend.SHA256 || resp.Header.Get("ETag") != `"sha256-`+rend.SHA256+`"` ||
			resp.Header.Get("Content-Length") != strconv.FormatInt(rend.Bytes, 10) || resp.Header.Get("Accept-Ranges") != "bytes" ||
			!strings.HasPrefix(resp.Header.Get("Digest"), "sha-256=") {
			t.Fatalf("%s: %d, %d bytes, headers %v", f, resp.StatusCode, len(full), resp.Header)
		}
		// An interrupted download: the client got the first 40 % and the
		// connection dropped; it resumes with Range.
		cut := int64(len(full)) * 2 / 5
		resp = get(path)
		part := make([]byte, cut)
		if _, err := io.ReadFull(resp.Body, part); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp = get(path, "Range", fmt.Sprintf("bytes=%d-", cut), "If-Range", `"sha256-`+rend.SHA256+`"`)
		rest, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent ||
			resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", cut, len(full)-1, len(full)) {
			t.Fatalf("resume: %d %v", resp.StatusCode, resp.Header)
		}
		if !bytes.Equal(append(part, rest...), full) {
			t.Errorf("%s: resumed download differs from the full one", f)
		}
		// A bounded range, a suffix range.
		resp = get(path, "Range", "bytes=10-99")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 206 || !bytes.Equal(b, full[10:100]) {
			t.Errorf("bytes=10-99: %d, %q", resp.StatusCode, b)
		}
		resp = get(path, "Range", "bytes=-50")
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 206 || !bytes.Equal(b, full[len(full)-50:]) {
			t.Errorf("bytes=-50: %d", resp.StatusCode)
		}
		// A stale If-Range gets the whole file; a range past the end 416.
		resp = get(path, "Range", "bytes=100-", "If-Range", `"sha256-stale"`)
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(b, full) {
			t.Errorf("stale If-Range: %d, %d bytes", resp.StatusCode, len(b))
		}
		resp = get(path, "Range", fmt.Sprintf("bytes=%d-", len(full)))
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", len(full)) {
			t.Errorf("past the end: %d %v", resp.StatusCode, resp.Header)
		}
		resp = get(path, "If-None-Match", `"sha256-`+rend.SHA256+`"`)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %d", resp.StatusCode)
		}
	}
	// The manifest; HEAD; who may not.
	resp := get("/datasets/" + m.ID.String())
	var got evaluation.Manifest
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != 200 || got.NDJSON != m.NDJSON || got.Rows != m.Rows {
		t.Errorf("manifest: %d %+v", resp.StatusCode, got)
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/datasets/"+m.ID.String()+".csv", nil)
	req.Header.Set("X-Test-Role", "evaluator")
	resp, err = srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != m.CSV.Bytes {
		t.Errorf("HEAD: %v %v", err, resp)
	}
	for role, status := range map[string]int{"": 401, "staff": 403} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/datasets/"+m.ID.String()+".ndjson", nil)
		req.Header.Set("X-Test-Role", role)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || bytes.Contains(body, []byte("case_ref")) {
			t.Errorf("role %q: %d %s", role, resp.StatusCode, body)
		}
	}
	for path, status := range map[string]int{"/datasets/" + uuid.NewString() + ".ndjson": 404, "/datasets/nope.csv": 404,
		"/datasets/" + m.ID.String() + ".xml": 404} {
		resp := get(path)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, status)
		}
	}
}

// --- benchmarks ---

// benchEvalPool returns a pool for the indicators benchmark: on
// DATAHUB_BENCH_DATABASE_URL when set (a database with seeded cases), in a
// schema of its own (datahub_eval_bench) holding only this package's
// evaluation tables, so neither the cases nor the migration history there
// change; else on the package's test database with 20,000 bulk cases.
func benchEvalPool(b *testing.B) (*pgxpool.Pool, string) {
	b.Helper()
	url := os.Getenv("DATAHUB_BENCH_DATABASE_URL")
	if url == "" {
		pool := env.Pool(b)
		var err error
		directoryOnce.Do(func() { err = insertDirectory(context.Background(), pool) })
		if err != nil {
			b.Fatal(err)
		}
		insertBulkCases(b, pool, 20000)
		return pool, "test database, 20,000 bulk cases"
	}
	ctx := context.Background()
	base, err := postgres.Open(ctx, postgres.PoolConfig{URL: url, StatementTimeout: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer base.Close()
	var exists bool
	if err := base.QueryRow(ctx, `SELECT to_regclass('datahub_eval_bench.case_eval_state') IS NOT NULL`).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if !exists {
		ddl, err := os.ReadFile("migrations/00070_evaluation.sql")
		if err != nil {
			b.Fatal(err)
		}
		up, _, _ := strings.Cut(string(ddl), "-- +goose Down")
		// Not the triggers on the shared cases table.
		up = regexp.MustCompile(`(?s)CREATE TRIGGER case_eval_\w+ AFTER \w+ ON cases.*?;`).ReplaceAllString(up, "")
		conn, err := base.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		_, err = conn.Conn().PgConn().Exec(ctx, `CREATE SCHEMA datahub_eval_bench; SET search_path = datahub_eval_bench, public; `+up).ReadAll()
		conn.Release()
		if err != nil {
			b.Fatalf("create bench schema: %v", err)
		}
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: url + sep + "search_path=datahub_eval_bench,public", StatementTimeout: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	// The bench schema has no trigger on the shared cases: if they changed
	// since the last rebuild (a new seed), mark the rollups for a rebuild.
	if _, err := pool.Exec(ctx, `UPDATE case_eval_state SET rules_version = 0
		WHERE rebuilt_at IS NULL OR (SELECT max(updated_at) FROM cases) > rebuilt_at`); err != nil {
		b.Fatal(err)
	}
	return pool, fmt.Sprintf("%s, %d cases, schema datahub_eval_bench", url, n)
}

// BenchmarkIndicatorsYearMonthlyStreets: twelve months of indicators for
// every street (the last twelve months before the data's newest case).
func BenchmarkIndicatorsYearMonthlyStreets(b *testing.B) {
	pool, where := benchEvalPool(b)
	ctx := context.Background()
	var newest time.Time
	if err := pool.QueryRow(ctx, `SELECT max(reported_at) FROM cases`).Scan(&newest); err != nil {
		b.Fatal(err)
	}
	clk := fixture.NewClock(newest.Add(time.Minute))
	svc, err := evaluation.NewService(evaluation.Config{Store: postgres.NewEvaluationStore(pool), Authorizer: fixedAuth{&access.Decision{
		Rows: access.RowScope{All: true}, Fields: map[string]access.FieldAccess{"indicators": access.FieldVisible}}},
		Calendar: calendar.Default(), Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	st, err := svc.Refresh(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s; refresh before the run: %+v", where, st)
	q := evaluation.Query{Period: evaluation.PeriodMonth, From: clk.Now().AddDate(-1, 0, 0), To: clk.Now(),
		GroupBy: []evaluation.Dim{evaluation.DimStreet}}
	b.ResetTimer()
	var rows []evaluation.Row
	for b.Loop() {
		if rows, err = svc.Indicators(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(rows) == 0 {
		b.Fatal("no rows")
	}
	b.ReportMetric(float64(len(rows)), "rows")
}

// BenchmarkExport streams a snapshot of DATAHUB_BENCH_EXPORT_ROWS rows
// (1,000,000 by default) and reports rows/s and the peak heap in use.
// The snapshot rows are the anonymizer's rendering of synthetic cases,
// written straight into the snapshot tables (making a million cases first
// would only slow the set-up).
func BenchmarkExport(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("DATAHUB_BENCH_EXPORT_ROWS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: env.DatabaseURL, StatementTimeout: 30 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	id := buildSyntheticSnapshot(b, pool, n)
	svc, err := evaluation.NewService(evaluation.Config{Store: postgres.NewEvaluationStore(pool), Authorizer: fixedAuth{&access.Decision{
		Rows: access.RowScope{All: true}, Fields: map[string]access.FieldAccess{"snapshots": access.FieldVisible}}},
		Calendar: calendar.Default()})
	if err != nil {
		b.Fatal(err)
	}
	m, err := svc.Snapshot(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	b.SetBytes(m.NDJSON.Bytes)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		w, err := svc.Export(ctx, id, evaluation.FormatNDJSON, io.Discard, 0)
		if err != nil || w != m.NDJSON.Bytes {
			b.Fatalf("export: %d bytes, %v", w, err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(int64(b.N)*m.Rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-heap-MB")
}

// buildSyntheticSnapshot renders n synthetic cases with the anonymizer
// and stores them as a snapshot, with checkpoints and manifest, the way
// the store does.
func buildSyntheticSnapshot(b *testing.B, pool *pgxpool.Pool, n int) uuid.UUID {
	b.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	an := evaluation.NewAnonymizer(key, evaluation.Profile{}, calendar.Default())
	ndh, csvh := sha256.New(), sha256.New()
	header := evaluationHeader(an)
	csvh.Write([]byte(header))
	var ndPos, csvPos = int64(0), int64(len(header))
	var cps [][]any
	var nd, cv []byte
	base := time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)
	i := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_rows"}, []string{"snapshot_id", "seq", "ndjson", "csv"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == n {
					return nil, nil
				}
				i++
				t := base.Add(time.Duration(i) * 97 * time.Second)
				d, h, c := t.Add(10*time.Minute), t.Add(3*time.Hour), t.Add(5*time.Hour)
				dl := t.Add(24 * time.Hour)
				r := 1 + i%5
				sc := evaluation.SourceCase{ID: uuid.New(), Kind: "EVENT", MajorCode: "05", MinorCode: "0501",
					Source: []string{"CITIZEN_REPORT", "INSPECTOR_PATROL", "HOTLINE_12345"}[i%3], Status: "CLOSED",
					Street: "hailing.chengdong", Community: "hailing.chengdong.fenghuang", HandlingDept: "street-chengdong",
					ReportedAt: t, RegisteredAt: &d, DispatchedAt: &d, Deadline: &dl, HandledAt: &h, ClosedAt: &c, Rating: &r}
				if (i-1)%1000 == 0 {
					cps = append(cps, []any{id, int64(i), ndPos, csvPos})
				}
				nd, cv = an.Render(&sc, nd[:0], cv[:0])
				ndh.Write(nd)
				ndh.Write([]byte{'\n'})
				csvh.Write(cv)
				csvh.Write([]byte{'\n'})
				ndPos += int64(len(nd)) + 1
				csvPos += int64(len(cv)) + 1
				return []any{id, int64(i), string(nd), string(cv)}, nil
			}))
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_checkpoints"}, []string{"snapshot_id", "seq", "ndjson_offset", "csv_offset"},
			pgx.CopyFromRows(cps)); err != nil {
			return err
		}
		cols, _ := json.Marshal(an.Columns())
		_, err = tx.Exec(ctx, `INSERT INTO eval_snapshots (id, dataset, filter, profile, columns, row_count, ndjson_sha256,
			ndjson_bytes, csv_sha256, csv_bytes, policy_version, rules_version, pseudonym_key, created_by, created_at)
			VALUES ($1, 'cases', '{}', '{}', $2, $3, $4, $5, $6, $7, 'bench', 1, $8, 'bench', now())`,
			id, cols, int64(n), hex.EncodeToString(ndh.Sum(nil)), ndPos, hex.EncodeToString(csvh.Sum(nil)), csvPos, key)
		return err
	})
	if err != nil {
		b.Fatalf("synthetic snapshot: %v", err)
	}
	return id
}

func evaluationHeader(an *evaluation.Anonymizer) string {
	m := evaluation.Manifest{Columns: an.Columns()}
	return m.CSVHeader() + "\n"
}

// TestEvaluationFoldCellsMatchesStore: public callers' quarters and years
// are folded from month cells in Go (evaluation.FoldCells) so small cells
// can be judged across periods; the fold must give exactly what the store
// aggregates for staff, stock counters included.
func TestEvaluationFoldCellsMatchesStore(t *testing.T) {
	pool := setup(t)
	insertComplementCases(t, pool)
	newEvalService(t, pool, fixture.NewClock(evalNow))
	store := postgres.NewEvaluationStore(pool)
	ctx := context.Background()
	from := evaluation.MonthOf(lt("2024-01-01 00:00"), evalNow.Location())
	to := evaluation.MonthOf(lt("2026-01-01 00:00"), evalNow.Location())
	by := []evaluation.Dim{evaluation.DimCommunity, evaluation.DimCaseClass}
	months, _, _, err := store.Cells(ctx, evaluation.CellQuery{Period: evaluation.PeriodMonth, From: from, To: to, GroupBy: by})
	if err != nil {
		t.Fatal(err)
	}
	key := func(c evaluation.Cell) string { return fmt.Sprintf("%s|%+v", c.Period, c.Group) }
	for _, p := range []evaluation.Period{evaluation.PeriodQuarter, evaluation.PeriodYear} {
		want, _, _, err := store.Cells(ctx, evaluation.CellQuery{Period: p, From: from, To: to, GroupBy: by})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]evaluation.Counters{}
		for _, c := range evaluation.FoldCells(months, p) {
			got[key(c)] = c.Sum
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("%s: folded %d cells, store %d", p, len(got), len(want))
		}
		for _, c := range want {
			if got[key(c)] != c.Sum {
				t.Errorf("%s %s: folded %v, store %v", p, key(c), got[key(c)], c.Sum)
			}
		}
	}
}
