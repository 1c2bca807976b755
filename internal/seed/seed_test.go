package seed

import (
	"context"
	"errors"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// testNow is a Wednesday morning (17:30 in Taizhou).
var testNow = time.Date(2026, 3, 18, 9, 30, 0, 0, time.UTC)

func testOptions() Options {
	return Options{Seed: 42, Cases: 5000, Now: testNow, Calendar: calendar.Default()}
}

// The tests of this package share one database and run one after the
// other; each one that seeds starts with Reset.

func TestSeed(t *testing.T) {
	ctx := context.Background()
	pool := env.Pool(t)

	if _, err := pool.Exec(ctx, `TRUNCATE case_events, cases, departments, jurisdictions RESTART IDENTITY CASCADE`); err != nil {
		t.Fatal(err)
	}
	seeded, err := IsSeeded(ctx, pool)
	if err != nil || seeded {
		t.Fatalf("IsSeeded on an empty database = %v, %v; want false", seeded, err)
	}

	var stages []string
	st, err := Run(ctx, pool, testOptions(), func(stage string, done, total int) {
		if len(stages) == 0 || stages[len(stages)-1] != stage {
			stages = append(stages, stage)
		}
		if done > total {
			t.Errorf("progress %s: done %d > total %d", stage, done, total)
		}
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("stats: %+v", st)
	if st.Cases != 5000 || st.Jurisdictions != len(Jurisdictions()) || st.Departments != len(Departments()) {
		t.Errorf("stats = %d cases, %d jurisdictions, %d departments", st.Cases, st.Jurisdictions, st.Departments)
	}
	if st.Events < 4*st.Cases || st.Events > 6*st.Cases {
		t.Errorf("%d events for %d cases; want about 5 a case", st.Events, st.Cases)
	}
	if want := []string{StageJurisdictions, StageDepartments, StageCases, StageEvents, StageRequests, StageAnalyze}; strings.Join(stages, ",") != strings.Join(want, ",") {
		t.Errorf("progress stages %v, want %v", stages, want)
	}
	assertTableCounts(t, pool, st)

	seeded, err = IsSeeded(ctx, pool)
	if err != nil || !seeded {
		t.Fatalf("IsSeeded after Run = %v, %v; want true", seeded, err)
	}

	// A second run without Reset is refused and changes nothing.
	before := checksum(t, pool)
	if _, err := Run(ctx, pool, testOptions(), nil); !errors.Is(err, ErrAlreadySeeded) {
		t.Fatalf("second Run without Reset: err = %v, want ErrAlreadySeeded", err)
	} else if !strings.Contains(err.Error(), "--reset") {
		t.Errorf("the refusal should say how to proceed: %v", err)
	}
	if after := checksum(t, pool); !maps.Equal(after, before) {
		t.Fatal("a refused run changed the data")
	}
	assertTableCounts(t, pool, st)

	t.Run("sanity", func(t *testing.T) { checkSanity(t, pool, testOptions()) })
	t.Run("timelines", func(t *testing.T) { checkTimelines(t, pool, false) })
	t.Run("requests", func(t *testing.T) { checkRequests(t, pool) })

	// Determinism: a reset and rerun with the same Seed and Now writes the
	// same bytes, ids and event ids included; another seed does not.
	opts := testOptions()
	opts.Reset = true
	if _, err := Run(ctx, pool, opts, nil); err != nil {
		t.Fatalf("Run with Reset: %v", err)
	}
	if again := checksum(t, pool); !maps.Equal(again, before) {
		t.Errorf("same Seed and Now gave different data:\n%v\n%v", before, again)
	}
	opts.Seed = 43
	if _, err := Run(ctx, pool, opts, nil); err != nil {
		t.Fatalf("Run with another seed: %v", err)
	}
	other := checksum(t, pool)
	if other["cases"] == before["cases"] || other["case_events"] == before["case_events"] {
		t.Error("another seed gave the same cases")
	}
	if other["jurisdictions"] != before["jurisdictions"] || other["departments"] != before["departments"] {
		t.Error("the jurisdiction tree and departments must not depend on the seed")
	}
}

func TestCompactTimelines(t *testing.T) {
	ctx := context.Background()
	pool := env.Pool(t)
	opts := testOptions()
	opts.Cases, opts.Reset = 3000, true
	st, err := run(ctx, pool, opts, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var compact int
	err = pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT c.version, count(e.id) AS n
		FROM cases c JOIN case_events e ON e.case_id = c.id GROUP BY c.id, c.version) x WHERE n <= 3 AND version > n`).Scan(&compact)
	if err != nil {
		t.Fatal(err)
	}
	if compact < 1500 || st.Events > 4*st.Cases {
		t.Errorf("%d compact timelines, %d events for %d cases; want the oldest 2000 compact", compact, st.Events, st.Cases)
	}
	checkTimelines(t, pool, true)
}

func TestRunValidation(t *testing.T) {
	ctx := context.Background()
	pool := env.Pool(t)
	for name, opts := range map[string]Options{
		"no calendar":    {Cases: 10, Now: testNow},
		"negative cases": {Cases: -1, Now: testNow, Calendar: calendar.Default()},
		"too many cases": {Cases: 10_000_000, Now: testNow, Calendar: calendar.Default()},
	} {
		if _, err := Run(ctx, pool, opts, nil); err == nil {
			t.Errorf("%s: Run accepted %+v", name, opts)
		}
	}
}

func TestJurisdictionTree(t *testing.T) {
	js := Jurisdictions()
	label := regexp.MustCompile(`^[a-z0-9_]+$`)
	byCode := map[string]Jurisdiction{}
	children := map[string]int{}
	admin := map[string]bool{}
	levels := map[string]int{}
	for _, j := range js {
		if _, dup := byCode[j.Code]; dup {
			t.Errorf("duplicate code %s", j.Code)
		}
		byCode[j.Code] = j
		levels[j.Level]++
		for _, l := range strings.Split(j.Code, ".") {
			if !label.MatchString(l) {
				t.Errorf("%s: %q is not an ltree label", j.Code, l)
			}
		}
		if j.ParentCode != "" {
			if _, ok := byCode[j.ParentCode]; !ok {
				t.Errorf("%s listed before its parent %s", j.Code, j.ParentCode)
			}
			if !strings.HasPrefix(j.Code, j.ParentCode+".") || strings.Count(j.Code, ".") != strings.Count(j.ParentCode, ".")+1 {
				t.Errorf("%s is not a child path of %s", j.Code, j.ParentCode)
			}
			children[j.ParentCode]++
		}
		if j.AdminCode != "" {
			if admin[j.AdminCode] {
				t.Errorf("duplicate admin code %s", j.AdminCode)
			}
			admin[j.AdminCode] = true
		}
		if j.Lat < DistrictLat-DistrictSpan || j.Lat > DistrictLat+DistrictSpan || j.Lng < DistrictLng-DistrictSpan || j.Lng > DistrictLng+DistrictSpan {
			t.Errorf("%s at (%f, %f) lies outside the district box", j.Code, j.Lat, j.Lng)
		}
		wantAdmin := map[string]int{LevelDistrict: 6, LevelStreet: 9, LevelTown: 9, LevelCommunity: 12, LevelGrid: 0}[j.Level]
		if len(j.AdminCode) != wantAdmin {
			t.Errorf("%s: admin code %q, want %d digits", j.Code, j.AdminCode, wantAdmin)
		}
		if j.NameZh == "" || j.NameEn == "" {
			t.Errorf("%s has no name", j.Code)
		}
	}
	if levels[LevelDistrict] != 1 || levels[LevelStreet] != 6 || levels[LevelTown] != 3 {
		t.Errorf("levels %v: want 1 district, 6 streets, 3 towns", levels)
	}
	for _, j := range js {
		n := children[j.Code]
		switch j.Level {
		case LevelStreet, LevelTown:
			if n < 8 || n > 15 {
				t.Errorf("%s has %d communities, want 8–15", j.Code, n)
			}
		case LevelCommunity:
			if n < 5 || n > 12 {
				t.Errorf("%s has %d grids, want 5–12", j.Code, n)
			}
		case LevelGrid:
			if want := regexp.MustCompile(`\.g\d\d$`); !want.MatchString(j.Code) || !strings.Contains(j.NameZh, "网格") {
				t.Errorf("grid %s %s", j.Code, j.NameZh)
			}
		}
	}
	for _, code := range []string{"hailing.chengdong.fenghuang.g03", "hailing.suchen.zhendong"} {
		if _, ok := byCode[code]; !ok {
			t.Errorf("%s is missing", code)
		}
	}
	if byCode["hailing.suchen.zhendong"].AdminCode != "321202102009" || byCode["hailing.suchen"].AdminCode != "321202102" {
		t.Error("苏陈镇 / 镇东社区 should carry their official codes 321202102 / 321202102009")
	}
	// Grids lie near their community, communities near their street.
	for _, j := range js {
		if j.Level != LevelGrid && j.Level != LevelCommunity {
			continue
		}
		p := byCode[j.ParentCode]
		if d := max(abs(j.Lat-p.Lat), abs(j.Lng-p.Lng)); d > 0.05 {
			t.Errorf("%s lies %.3f° from its parent", j.Code, d)
		}
	}
}

func TestDepartments(t *testing.T) {
	ds := Departments()
	if len(ds) != 16 {
		t.Fatalf("%d departments, want 7 bureaus + 9 street/town offices", len(ds))
	}
	codes := map[string]Department{}
	for _, d := range ds {
		codes[d.Code] = d
	}
	for _, code := range []string{"urban-management", "planning", "housing", "traffic-police", "water", "environment",
		"market-regulation", "street-chengdong", "street-jingtailu", "town-jiulong", "town-suchen"} {
		if _, ok := codes[code]; !ok {
			t.Errorf("department %s is missing", code)
		}
	}
	if d := codes["street-chengdong"]; d.NameZh != "城东街道办事处" || d.Kind != "STREET" || d.JurisdictionCode != "hailing.chengdong" {
		t.Errorf("street-chengdong = %+v", d)
	}
	if d := codes["town-gangyang"]; d.Kind != "TOWN" || d.JurisdictionCode != "hailing.gangyang" {
		t.Errorf("town-gangyang = %+v", d)
	}
	if d := codes["urban-management"]; d.NameZh != "城市管理局" || d.NameEn != "Urban Management Bureau" || d.JurisdictionCode != "hailing" {
		t.Errorf("urban-management = %+v", d)
	}
	if code, ok := StreetDepartment("jiulong"); !ok || code != "town-jiulong" {
		t.Errorf("StreetDepartment(jiulong) = %s, %v", code, ok)
	}
}

// TestSeedMillion seeds 1,000,000 cases into the database named by
// DATAHUB_SEED_BENCH_URL (migrated first, then reset) and fails beyond the
// 60-second budget. It is opt-in:
//
//	DATAHUB_SEED_BENCH_URL=postgres://postgres@127.0.0.1:5432/seedbench?sslmode=disable \
//	  go test -run TestSeedMillion -v ./internal/seed/
func TestSeedMillion(t *testing.T) {
	url := os.Getenv("DATAHUB_SEED_BENCH_URL")
	if url == "" || testing.Short() {
		t.Skip("set DATAHUB_SEED_BENCH_URL to a scratch database to run the 1,000,000-case load")
	}
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	opts := Options{Seed: 1, Cases: 1_000_000, Now: testNow, Calendar: calendar.Default(), Reset: true}
	st, err := Run(ctx, pool, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Stages {
		t.Logf("%-40s %9d rows %8.2fs", s.Name, s.Rows, s.Duration.Seconds())
	}
	t.Logf("%d cases, %d events in %.1fs", st.Cases, st.Events, st.Duration.Seconds())
	if st.Duration > time.Minute {
		t.Errorf("seeding 1,000,000 cases took %v, over the 60 s budget", st.Duration)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func assertTableCounts(t *testing.T, pool *pgxpool.Pool, st Stats) {
	t.Helper()
	var j, d, c, e int
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM jurisdictions), (SELECT count(*) FROM departments),
		(SELECT count(*) FROM cases), (SELECT count(*) FROM case_events)`).Scan(&j, &d, &c, &e)
	if err != nil {
		t.Fatal(err)
	}
	if j != st.Jurisdictions || d != st.Departments || c != st.Cases || e != st.Events {
		t.Errorf("tables hold %d/%d/%d/%d rows, stats say %+v", j, d, c, e, st)
	}
}

// checksum hashes every seeded row (in a stable order) and the case
// number sequence.
func checksum(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, order := range map[string]string{"jurisdictions": "code", "departments": "code", "cases": "id", "case_events": "id"} {
		var sum string
		err := pool.QueryRow(context.Background(),
			`SELECT md5(coalesce(string_agg(t::text, E'\n' ORDER BY t.`+order+`), '')) FROM `+table+` t`).Scan(&sum)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = sum
	}
	var last int64
	if err := pool.QueryRow(context.Background(), `SELECT last_value FROM case_no_seq`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	out["case_no_seq"] = strconv.FormatInt(last, 10)
	return out
}

// query runs a single-row query returning numbers.
func query(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []float64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("%s: no row", sql)
	}
	vals, err := rows.Values()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case int64:
			out[i] = float64(x)
		case int32:
			out[i] = float64(x)
		case float64:
			out[i] = x
		case nil:
		default:
			t.Fatalf("%s: column %d is %T", sql, i, v)
		}
	}
	return out
}

func checkSanity(t *testing.T, pool *pgxpool.Pool, opts Options) {
	now := opts.Now
	zero := func(name, sql string, args ...any) {
		t.Helper()
		if n := query(t, pool, sql, args...)[0]; n != 0 {
			t.Errorf("%s: %v rows", name, n)
		}
	}
	between := func(name string, x, lo, hi float64) {
		t.Helper()
		if x < lo || x > hi {
			t.Errorf("%s = %.4f, want %.3f–%.3f", name, x, lo, hi)
		} else {
			t.Logf("%s = %.4f", name, x)
		}
	}

	// Places.
	zero("cases not in a grid", `SELECT count(*) FROM cases c JOIN jurisdictions j ON j.code = c.jurisdiction_code WHERE j.level <> 'GRID'`)
	zero("street/community columns disagree with the path",
		`SELECT count(*) FROM cases WHERE street_code <> subpath(jpath, 0, 2)::text OR community_code <> subpath(jpath, 0, 3)::text`)
	zero("cases outside the district box", `SELECT count(*) FROM cases WHERE abs(lat - $1) > $3 OR abs(lng - $2) > $3`,
		DistrictLat, DistrictLng, DistrictSpan)
	zero("jurisdictions outside the box", `SELECT count(*) FROM jurisdictions WHERE abs(lat - $1) > $3 OR abs(lng - $2) > $3`,
		DistrictLat, DistrictLng, DistrictSpan)
	zero("cases far from their grid", `SELECT count(*) FROM cases c JOIN jurisdictions j ON j.code = c.jurisdiction_code
		WHERE abs(c.lat - j.lat) > 0.015 OR abs(c.lng - j.lng) > 0.015`)

	// Statuses and timestamps.
	var valid []string
	for _, s := range cases.Statuses() {
		valid = append(valid, string(s))
	}
	zero("unknown statuses", `SELECT count(*) FROM cases WHERE NOT status = ANY($1)`, valid)
	zero("closed cases with inconsistent timestamps", `SELECT count(*) FROM cases WHERE status = 'CLOSED' AND NOT coalesce(
		closed_at >= handled_at AND handled_at >= dispatched_at AND dispatched_at >= registered_at AND registered_at >= reported_at, false)`)
	zero("dispatched open cases without deadline or department", `SELECT count(*) FROM cases
		WHERE status IN ('DISPATCHED', 'RETURNED', 'HANDLED', 'REWORK', 'DEFERRED')
		  AND (deadline IS NULL OR dispatched_at IS NULL OR handling_dept IS NULL OR dispatched_at < registered_at)`)
	zero("handled cases without handled_at", `SELECT count(*) FROM cases WHERE status IN ('HANDLED', 'CLOSED') AND handled_at IS NULL`)
	zero("unregistered cases with later timestamps", `SELECT count(*) FROM cases
		WHERE status IN ('REPORTED', 'NOT_REGISTERED') AND (registered_at IS NOT NULL OR dispatched_at IS NOT NULL OR deadline IS NOT NULL)`)
	zero("registered cases not yet dispatched with a deadline", `SELECT count(*) FROM cases WHERE status = 'REGISTERED' AND (registered_at IS NULL OR dispatched_at IS NOT NULL)`)
	zero("open cases with closed_at", `SELECT count(*) FROM cases WHERE status <> 'CLOSED' AND closed_at IS NOT NULL`)
	zero("times after now", `SELECT count(*) FROM cases WHERE greatest(reported_at, registered_at, dispatched_at, handled_at, closed_at, rated_at, updated_at) > $1`, now)
	zero("reports before the period", `SELECT count(*) FROM cases WHERE reported_at < $1`, now.AddDate(-3, 0, 0))
	zero("ratings on unclosed or non-citizen cases", `SELECT count(*) FROM cases WHERE rating IS NOT NULL
		AND (status <> 'CLOSED' OR source NOT IN ('CITIZEN_REPORT', 'HOTLINE_12345') OR rated_at < closed_at OR rating NOT BETWEEN 1 AND 5)`)

	// Rates the reference figures call for.
	between("closure rate of cases older than 35 days",
		query(t, pool, `SELECT avg((status = 'CLOSED')::int)::float8 FROM cases WHERE status <> 'NOT_REGISTERED' AND reported_at < $1`,
			now.AddDate(0, 0, -35))[0], 0.95, 0.999)
	between("on-time handling", query(t, pool, `SELECT avg((handled_at <= deadline)::int)::float8 FROM cases WHERE handled_at IS NOT NULL`)[0], 0.85, 0.99)
	between("rework rate", query(t, pool, `SELECT avg((rework_count > 0)::int)::float8 FROM cases WHERE status = 'CLOSED'`)[0], 0, 0.01)
	between("declined", query(t, pool, `SELECT avg((status = 'NOT_REGISTERED')::int)::float8 FROM cases`)[0], 0.005, 0.05)
	between("events among cases", query(t, pool, `SELECT avg((kind = 'EVENT')::int)::float8 FROM cases`)[0], 0.75, 0.95)
	between("rating coverage of closed citizen/hotline cases", query(t, pool, `SELECT avg((rating IS NOT NULL)::int)::float8 FROM cases
		WHERE status = 'CLOSED' AND source IN ('CITIZEN_REPORT', 'HOTLINE_12345') AND closed_at < $1`, now.AddDate(0, 0, -7))[0], 0.28, 0.44)
	between("mean rating", query(t, pool, `SELECT avg(rating)::float8 FROM cases`)[0], 3.8, 4.8)
	between("weekday share (Asia/Shanghai)", query(t, pool,
		`SELECT avg((extract(isodow FROM reported_at AT TIME ZONE 'Asia/Shanghai') < 6)::int)::float8 FROM cases`)[0], 0.76, 0.92)
	between("daytime share 08–18 (Asia/Shanghai)", query(t, pool,
		`SELECT avg((extract(hour FROM reported_at AT TIME ZONE 'Asia/Shanghai') BETWEEN 8 AND 17)::int)::float8 FROM cases`)[0], 0.65, 0.9)
	between("illegal parking handled by traffic police", query(t, pool,
		`SELECT avg((handling_dept = 'traffic-police')::int)::float8 FROM cases WHERE kind = 'EVENT' AND minor_code = '0503' AND handling_dept IS NOT NULL`)[0], 0.75, 0.95)

	// Side paths exist, and recent cases are open in several stages.
	for name, sql := range map[string]string{
		"returned":    `SELECT count(DISTINCT case_id) FROM case_events WHERE action = 'RETURN'`,
		"deferred":    `SELECT count(*) FROM cases WHERE defer_count > 0`,
		"backlog":     `SELECT count(*) FROM cases WHERE status = 'BACKLOG'`,
		"rework":      `SELECT count(*) FROM cases WHERE rework_count > 0`,
		"with photos": `SELECT count(*) FROM cases WHERE cardinality(photo_urls) > 0`,
		"external id": `SELECT count(*) FROM cases WHERE external_id IS NOT NULL`,
	} {
		if n := query(t, pool, sql)[0]; n == 0 {
			t.Errorf("no %s cases", name)
		}
	}
	if n := query(t, pool, `SELECT count(DISTINCT status) FROM cases WHERE is_open AND reported_at > $1`, now.AddDate(0, 0, -14))[0]; n < 2 {
		t.Errorf("recent open cases are in %v distinct statuses, want several", n)
	}
	if n := query(t, pool, `SELECT count(*) FROM cases WHERE is_open AND reported_at > $1`, now.AddDate(0, 0, -3))[0]; n == 0 {
		t.Error("no open cases among the last three days")
	}

	// Sources and streets.
	rows, err := pool.Query(context.Background(), `SELECT source FROM cases GROUP BY source ORDER BY count(*) DESC`)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		order = append(order, s)
	}
	rows.Close()
	if len(order) != len(cases.Sources()) || order[0] != string(cases.SourceInspectorPatrol) || order[1] != string(cases.SourceHotline12345) {
		t.Errorf("sources by volume %v: want all 8, inspector patrol then the hotline first", order)
	}
	if r := query(t, pool, `SELECT count(*) FILTER (WHERE street_code = 'hailing.chengzhong')::float8 /
		nullif(count(*) FILTER (WHERE street_code = 'hailing.suchen'), 0) FROM cases`)[0]; r < 2 {
		t.Errorf("城中 has only %.1f× the cases of 苏陈镇; central streets should be much busier", r)
	}

	// Personal data only where it belongs.
	zero("reporter data on cases not from citizens or the hotline", `SELECT count(*) FROM cases
		WHERE (reporter_name IS NOT NULL OR reporter_phone IS NOT NULL) AND source NOT IN ('CITIZEN_REPORT', 'HOTLINE_12345')`)
	zero("citizen ids outside citizen reports", `SELECT count(*) FROM cases WHERE (citizen_id IS NOT NULL) <> (source = 'CITIZEN_REPORT')`)
	zero("citizen/hotline cases without a phone", `SELECT count(*) FROM cases WHERE source IN ('CITIZEN_REPORT', 'HOTLINE_12345') AND reporter_phone IS NULL`)
	zero("bad phones", `SELECT count(*) FROM cases WHERE reporter_phone !~ '^1[358][0-9]{9}$'`)
	zero("bad citizen ids", `SELECT count(*) FROM cases WHERE citizen_id !~ '^cit-[0-9]{6}$'`)
	zero("citizen ids in timelines", `SELECT count(*) FROM case_events WHERE actor LIKE 'cit-%'`)
	zero("one citizen, several names", `SELECT count(*) FROM (SELECT citizen_id FROM cases WHERE citizen_id IS NOT NULL
		GROUP BY citizen_id HAVING count(DISTINCT reporter_name) > 1 OR count(DISTINCT reporter_phone) > 1) x`)
	if n := query(t, pool, `SELECT count(*) FROM (SELECT citizen_id FROM cases WHERE citizen_id IS NOT NULL GROUP BY citizen_id HAVING count(*) > 1) x`)[0]; n == 0 {
		t.Error("no citizen has reported more than one case")
	}

	// Numbers, texts and references.
	zero("bad case numbers", `SELECT count(*) FROM cases
		WHERE case_no !~ '^HL[0-9]{4}-[0-9]{7}$' OR substr(case_no, 3, 4)::int <> extract(year FROM reported_at AT TIME ZONE 'Asia/Shanghai')`)
	if last := query(t, pool, `SELECT last_value FROM case_no_seq`)[0]; int(last) != opts.Cases {
		t.Errorf("case_no_seq at %v, want %d", last, opts.Cases)
	}
	zero("descriptions without Chinese text", `SELECT count(*) FROM cases WHERE description !~ '[一-龥]' OR address !~ '^泰州市海陵区'`)
	if n := query(t, pool, `SELECT count(DISTINCT description)::float8 / count(*) FROM cases`)[0]; n < 0.5 {
		t.Errorf("only %.0f%% distinct descriptions", n*100)
	}
	zero("bad photo urls", `SELECT count(*) FROM cases, unnest(photo_urls) u
		WHERE u !~ ('^https://img\.fengcheng\.example/cases/' || id::text || '(-[23])?\.jpg$')`)
	zero("ids not version 7", `SELECT count(*) FROM cases WHERE substr(id::text, 15, 1) <> '7'`)
	zero("owner not urban management", `SELECT count(*) FROM cases WHERE owner_dept <> 'urban-management'`)
	zero("enforcement terminal cases not from their street office", `SELECT count(*) FROM cases WHERE source = 'ENFORCEMENT_TERMINAL'
		AND source_dept NOT IN ('street-' || split_part(street_code, '.', 2), 'town-' || split_part(street_code, '.', 2))`)
}

type caseState struct {
	status   cases.Status
	reported time.Time
	updated  time.Time
	version  int
}

// checkTimelines replays every timeline through the case state machine.
// With compact set, timelines of exactly REPORT + last transition (+ RATE)
// are accepted as compact histories.
func checkTimelines(t *testing.T, pool *pgxpool.Pool, compact bool) {
	ctx := context.Background()
	state := map[uuid.UUID]*caseState{}
	rows, err := pool.Query(ctx, `SELECT id, status, reported_at, updated_at, version FROM cases`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		s := &caseState{}
		if err := rows.Scan(&id, &s.status, &s.reported, &s.updated, &s.version); err != nil {
			t.Fatal(err)
		}
		state[id] = s
	}
	rows.Close()

	type ev struct {
		action    cases.Action
		from, to  cases.Status
		actor     string
		actorDept string
		at        time.Time
	}
	timelines := map[uuid.UUID][]ev{}
	rows, err = pool.Query(ctx, `SELECT case_id, action, coalesce(from_status, ''), to_status, actor, actor_dept, at FROM case_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var e ev
		if err := rows.Scan(&id, &e.action, &e.from, &e.to, &e.actor, &e.actorDept, &e.at); err != nil {
			t.Fatal(err)
		}
		timelines[id] = append(timelines[id], e)
	}
	rows.Close()
	if len(timelines) != len(state) {
		t.Fatalf("%d cases have timelines, %d cases exist", len(timelines), len(state))
	}
	// Actors are staff, systems or the citizen app, never a citizen's id:
	// every department reads timelines.
	actor := regexp.MustCompile(`^[a-z0-9-]+@[a-z0-9-]+$`)
	bad := 0
	fail := func(id uuid.UUID, format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf("case %s: "+format, append([]any{id}, args...)...)
		}
	}
	for id, tl := range timelines {
		s := state[id]
		if tl[0].action != cases.ActionReport || tl[0].from != "" || tl[0].to != cases.StatusReported || !tl[0].at.Equal(s.reported) {
			fail(id, "first event %+v is not the report at %v", tl[0], s.reported)
			continue
		}
		cur := cases.StatusReported
		full := true
		for i, e := range tl[1:] {
			if !e.at.After(tl[i].at) {
				fail(id, "event %d at %v is not after %v", i+1, e.at, tl[i].at)
			}
			if !actor.MatchString(e.actor) || e.actorDept == "" {
				fail(id, "event %d actor %q dept %q", i+1, e.actor, e.actorDept)
			}
			if e.action == cases.ActionRate {
				if cur != cases.StatusClosed || e.from != cases.StatusClosed || e.to != cases.StatusClosed {
					fail(id, "rating while %s", cur)
				}
				continue
			}
			if e.from != cur {
				if compact && i == 0 {
					full = false // REPORT, then straight to the last transition
				} else {
					fail(id, "event %d %s from %s, but the case was %s", i+1, e.action, e.from, cur)
				}
			}
			next, err := cases.Next(e.from, e.action)
			if err != nil || next != e.to {
				fail(id, "event %d: %s from %s leads to %s, the timeline says %s (%v)", i+1, e.action, e.from, next, e.to, err)
			}
			cur = e.to
		}
		if cur != s.status {
			fail(id, "timeline ends in %s, the case is %s", cur, s.status)
		}
		if !tl[len(tl)-1].at.Equal(s.updated) {
			fail(id, "updated_at %v, last event at %v", s.updated, tl[len(tl)-1].at)
		}
		if full && len(tl) != s.version {
			fail(id, "version %d, %d events", s.version, len(tl))
		}
		if !full && len(tl) > 3 {
			fail(id, "compact timeline of %d events", len(tl))
		}
	}
	if bad > 0 {
		t.Errorf("%d timeline problems", bad)
	}
}

// checkRequests: every deferral and backlog in the demo is an approved
// request the handling department made before the deadline, a deferral
// extends the deadline it was asked against, and the first handling and
// returns the evaluation reads are on every case.
func checkRequests(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for name, sql := range map[string]string{
		"DEFER and BACKLOG events without their request": `SELECT count(*) FROM case_events e WHERE e.action IN ('DEFER', 'BACKLOG')
			AND NOT EXISTS (SELECT 1 FROM case_requests r WHERE r.case_id = e.case_id AND r.kind = e.action AND r.decided_at = e.at)`,
		"requests asked or approved after the deadline": `SELECT count(*) FROM case_requests
			WHERE requested_at >= case_deadline OR decided_at >= case_deadline OR requested_at > decided_at`,
		"requests not approved by the command centre": `SELECT count(*) FROM case_requests WHERE status <> 'APPROVED' OR decided_by IS NULL`,
		"deferred cases whose deadline is not past the one asked against": `SELECT count(*) FROM case_requests r JOIN cases c ON c.id = r.case_id
			WHERE r.kind = 'DEFER' AND c.rework_count = 0 AND c.defer_count = 1 AND c.deadline <= r.case_deadline`,
		"handled cases without a first handling": `SELECT count(*) FROM cases WHERE handled_at IS NOT NULL AND first_handled_at IS NULL`,
		"first handling after the last":          `SELECT count(*) FROM cases WHERE first_handled_at > handled_at`,
		"return counts unlike the RETURN events": `SELECT count(*) FROM cases c WHERE c.return_count <>
			(SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'RETURN')`,
	} {
		if n := query(t, pool, sql)[0]; n != 0 {
			t.Errorf("%s: %v", name, n)
		}
	}
	if n := query(t, pool, `SELECT count(*) FROM case_requests WHERE kind = 'DEFER'`)[0]; n < 10 {
		t.Errorf("only %v deferral requests in the demo", n)
	}
	if n := query(t, pool, `SELECT count(*) FROM cases WHERE return_count > 0`)[0]; n < 10 {
		t.Errorf("only %v returned cases in the demo", n)
	}
}
