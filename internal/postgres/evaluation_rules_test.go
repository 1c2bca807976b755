package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ruleCase is one hand-built case of the punctuality and reporting rules;
// times are local "2006-01-02 15:04", "" for none.
type ruleCase struct {
	name              string
	community         int // 1 or 2
	source, status    string
	reported, decided string // decided: registered_at, or the decline (updated_at) for NOT_REGISTERED
	dispatched        string
	deadline          string
	firstHandled      string
	firstDeadline     string
	handled, closed   string
	rework, deferrals int
	returns           int
	emergency         bool // EVENT 04 0401 路面塌陷 instead of EVENT 05 0501 店外经营
}

// ruleCases: May 2025 (a completed month at evalNow) and two June cases.
// 店外经营 has a limit of one working day and a verification limit of 2
// working hours (08:30–12:00, 13:30–17:30); 路面塌陷 is an emergency: 2
// clock hours to handle, 1 clock hour to verify.
var ruleCases = []ruleCase{
	// R1 handled late the first time (Tue 10:00 against Tue 09:00), reworked,
	// handled again on time against the fresh deadline: neither handled nor
	// closed on time. Checked on time (10:00 → 10:30 within 2 h).
	{name: "R1", source: "INSPECTOR_PATROL", status: "CLOSED", reported: "2025-05-12 08:50", decided: "2025-05-12 09:00",
		dispatched: "2025-05-12 09:00", firstHandled: "2025-05-13 10:00", firstDeadline: "2025-05-13 09:00",
		deadline: "2025-05-14 11:00", handled: "2025-05-14 10:00", closed: "2025-05-14 10:30", rework: 1},
	// R2 handled on time the first time, reworked, on time again: handled
	// and closed on time (closure deadline Tue 16:00 + 2 h = Wed 09:00);
	// checked on time (15:00 → 16:00).
	{name: "R2", source: "INSPECTOR_PATROL", status: "CLOSED", reported: "2025-05-12 08:50", decided: "2025-05-12 09:00",
		dispatched: "2025-05-12 09:00", firstHandled: "2025-05-12 15:00", firstDeadline: "2025-05-13 09:00",
		deadline: "2025-05-13 16:00", handled: "2025-05-13 15:00", closed: "2025-05-13 16:00", rework: 1},
	// R3 closed after the handling deadline (Tue 09:00) but before the
	// closure deadline (Tue 11:00): closed on time. The check came late:
	// handled Mon 16:00, due checked Tue 09:00, closed 10:00.
	{name: "R3", source: "CITIZEN_REPORT", status: "CLOSED", reported: "2025-05-12 08:50", decided: "2025-05-12 09:00",
		dispatched: "2025-05-12 09:00", firstHandled: "2025-05-12 16:00", firstDeadline: "2025-05-13 09:00",
		deadline: "2025-05-13 09:00", handled: "2025-05-12 16:00", closed: "2025-05-13 10:00"},
	// R4 registered late (verification due Mon 10:50, registered 11:00),
	// handled on time, closed after the closure deadline (Tue 11:00 + 2 h =
	// 14:30, closed 15:00), checked late (10:00 + 2 h = 12:00).
	{name: "R4", source: "CITIZEN_REPORT", status: "CLOSED", reported: "2025-05-12 08:50", decided: "2025-05-12 11:00",
		dispatched: "2025-05-12 11:00", firstHandled: "2025-05-13 10:00", firstDeadline: "2025-05-13 11:00",
		deadline: "2025-05-13 11:00", handled: "2025-05-13 10:00", closed: "2025-05-13 15:00"},
	// R5 an emergency on a Saturday night: registered within the clock hour,
	// handled by the 2-hour deadline (Sun 00:30), closed by the closure
	// deadline (01:30) but not within an hour of the handling (01:00).
	{name: "R5", emergency: true, source: "VIDEO_ANALYTICS", status: "CLOSED", reported: "2025-05-17 22:00",
		decided: "2025-05-17 22:30", dispatched: "2025-05-17 22:30", firstHandled: "2025-05-18 00:00",
		firstDeadline: "2025-05-18 00:30", deadline: "2025-05-18 00:30", handled: "2025-05-18 00:00", closed: "2025-05-18 01:20"},
	// R6 returned once (redispatched) and deferred once, never handled:
	// due in May unhandled and unclosed.
	{name: "R6", source: "HOTLINE_12345", status: "DISPATCHED", reported: "2025-05-19 08:50", decided: "2025-05-19 09:00",
		dispatched: "2025-05-19 10:00", deadline: "2025-05-26 10:00", returns: 1, deferrals: 1},
	// R7 in backlog: never due.
	{name: "R7", source: "INSPECTOR_PATROL", status: "BACKLOG", reported: "2025-05-20 08:50", decided: "2025-05-20 09:00",
		dispatched: "2025-05-20 09:00", deadline: "2025-05-21 09:00"},
	// R8 declined within the verification limit (10:00 → 11:00).
	{name: "R8", source: "CITIZEN_REPORT", status: "NOT_REGISTERED", reported: "2025-05-20 10:00", decided: "2025-05-20 11:00"},
	// R9 declined late (09:00 → 15:00, due 11:00).
	{name: "R9", source: "INSPECTOR_PATROL", status: "NOT_REGISTERED", reported: "2025-05-21 09:00", decided: "2025-05-21 15:00"},
	// R10 still awaiting a decision.
	{name: "R10", source: "CITIZEN_REPORT", status: "REPORTED", reported: "2025-05-22 09:00"},
	// R11 in community 2, reworked twice before the first handling was
	// recorded (no first handling kept): judged on its last handling, on
	// time; checked on time.
	{name: "R11", community: 2, source: "INSPECTOR_PATROL", status: "CLOSED", reported: "2025-05-12 08:50",
		decided: "2025-05-12 09:00", dispatched: "2025-05-12 09:00", deadline: "2025-05-13 09:00",
		handled: "2025-05-12 10:00", closed: "2025-05-12 11:00", rework: 2},
	// June, judged at Friday 2025-06-20 12:00. J1: handling deadline Thu
	// 17:00, handled, not closed: closure deadline Fri 09:30 has passed, due
	// to close. J2: handling deadline Fri 10:30 has passed but the closure
	// deadline (14:00) has not: not due to close yet.
	{name: "J1", source: "INSPECTOR_PATROL", status: "HANDLED", reported: "2025-06-19 08:50", decided: "2025-06-19 09:00",
		dispatched: "2025-06-19 09:00", firstHandled: "2025-06-19 16:00", firstDeadline: "2025-06-19 17:00",
		deadline: "2025-06-19 17:00", handled: "2025-06-19 16:00"},
	{name: "J2", source: "INSPECTOR_PATROL", status: "HANDLED", reported: "2025-06-19 08:50", decided: "2025-06-19 09:00",
		dispatched: "2025-06-19 09:00", firstHandled: "2025-06-19 10:00", firstDeadline: "2025-06-20 10:30",
		deadline: "2025-06-20 10:30", handled: "2025-06-19 10:00"},
}

// insertRuleFixture creates a street of 2.5 km² with two communities (1.75
// and 0.75 km²; three grids and one) and ruleCases in it.
func insertRuleFixture(t *testing.T, pool *pgxpool.Pool) (street, c1, c2 string, ids map[string]uuid.UUID) {
	t.Helper()
	ids = map[string]uuid.UUID{}
	ctx := context.Background()
	street = "hailing." + randomCode("ru")
	c1, c2 = street+".c1", street+".c2"
	for _, j := range []struct {
		code, level, parent string
		area                *float64
	}{{street, "STREET", "hailing", ptrF(2.5)}, {c1, "COMMUNITY", street, ptrF(1.75)}, {c2, "COMMUNITY", street, ptrF(0.75)},
		{c1 + ".g1", "GRID", c1, nil}, {c1 + ".g2", "GRID", c1, nil}, {c1 + ".g3", "GRID", c1, nil}, {c2 + ".g1", "GRID", c2, nil}} {
		if _, err := pool.Exec(ctx, `INSERT INTO jurisdictions (code, level, parent_code, name_zh, name_en, lat, lng, area_km2)
			VALUES ($1, $2, $3, '测试', 'Test', 32.49, 119.92, $4)`, j.code, j.level, j.parent, j.area); err != nil {
			t.Fatalf("insert jurisdiction: %v", err)
		}
	}
	opt := func(s string) *time.Time {
		if s == "" {
			return nil
		}
		v := lt(s)
		return &v
	}
	for _, c := range ruleCases {
		community := c1
		if c.community == 2 {
			community = c2
		}
		major, minor := "05", "0501"
		if c.emergency {
			major, minor = "04", "0401"
		}
		registered, updated := opt(c.decided), lt(c.reported)
		if c.status == "NOT_REGISTERED" {
			registered, updated = nil, lt(c.decided)
		}
		var dept *string
		if c.dispatched != "" {
			dept = ptr(deptA)
		}
		id := uuid.New()
		ids[c.name] = id
		if _, err := pool.Exec(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source, status,
			description, lat, lng, jurisdiction_code, street_code, community_code, handling_dept, reported_at, registered_at,
			dispatched_at, deadline, handled_at, closed_at, rework_count, defer_count, return_count, first_handled_at,
			first_deadline, source_dept, updated_at)
			VALUES ($1, $2, 'urban-management', 'EVENT', $3, $4, $5, $6, '测试案件', 32.49, 119.92, $7, $8, $7, $9, $10, $11,
			$12, $13, $14, $15, $16, $17, $18, $19, $20, 'urban-management', $21)`,
			id, randomCode("RUC-"), major, minor, c.source, c.status, community, street, dept, lt(c.reported),
			registered, opt(c.dispatched), opt(c.deadline), opt(c.handled), opt(c.closed), c.rework, c.deferrals, c.returns,
			opt(c.firstHandled), opt(c.firstDeadline), updated); err != nil {
			t.Fatalf("insert case %s: %v", c.name, err)
		}
	}
	return street, c1, c2, ids
}

// TestEvaluationPunctualityAndReportingRules checks the rules of rework
// punctuality, the closure deadline, and the reporting, dispatch,
// deferral, backlog, rework and density figures against hand-computed
// values (the stories are in ruleCases).
func TestEvaluationPunctualityAndReportingRules(t *testing.T) {
	pool := setup(t)
	street, c1, c2, ids := insertRuleFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	ctx := staffCtx()
	month := func(from, to string, q evaluation.Query) map[string]evaluation.Row {
		q.Period, q.From, q.To = evaluation.PeriodMonth, lt(from), lt(to)
		q.Filter.Jurisdiction = street
		return rowsByPeriod(t, indicators(t, ctx, svc, q))
	}

	may := month("2025-05-01 00:00", "2025-06-01 00:00", evaluation.Query{})
	// Handled in May: R1–R5, R11; due unhandled: R6 (R7 is in backlog).
	// On time: R2, R3, R4, R5, R11 (R1's first handling was late). Closed:
	// R1–R5, R11; due unclosed: R6. Closed on time: R2, R3 (within its
	// closure deadline), R5, R11; not R1 (first handling late) nor R4.
	checkRow(t, "May", may["2025-05||||"], map[string]want{
		"registered":            count(8),
		"dispatched":            count(8),
		"handling_rate":         ratio(6, 7),
		"on_time_handling_rate": ratio(5, 7),
		"closure_rate":          ratio(6, 7),
		"on_time_closure_rate":  ratio(4, 7),
		"rework_rate":           ratio(3, 7), // R1, R2, R11 (per case)
		// Reports: R1–R11; decided all but R10; declined R8, R9; decided
		// within the verification limit all but R4 and R9.
		"reports":                   count(11),
		"valid_report_rate":         ratio(8, 10),
		"declined_report_rate":      ratio(2, 10),
		"on_time_verification_rate": ratio(8, 10),
		// Checked within the limit after the last handling: R1, R2, R11.
		"on_time_check_rate": ratio(3, 6),
		// Of the 8 dispatched: R6 returned and deferred, R7 in backlog.
		"return_rate":       ratio(1, 8),
		"dispatch_accuracy": ratio(7, 8),
		"deferral_rate":     ratio(1, 8),
		"backlog_rate":      ratio(1, 8),
		// Failed verifications of the closed cases: R1 1, R2 1, R11 2;
		// verifications 6 passed + 4 failed.
		"failed_verifications":    count(4),
		"rework_per_verification": ratio(4, 10),
		// 8 registered over 4 grids and 2.5 km².
		"problems_per_grid": value(8, 4, 2),
		"problems_per_km2":  value(8, 2_500_000, 3.2),
	})

	// By community: C1 holds R1–R10 (7 registered; 3 grids, 1.75 km²), C2
	// holds R11 (1 registered; 1 grid, 0.75 km²).
	bc := month("2025-05-01 00:00", "2025-06-01 00:00", evaluation.Query{GroupBy: []evaluation.Dim{evaluation.DimCommunity}})
	checkRow(t, "May C1", bc["2025-05||"+c1+"||"], map[string]want{
		"reports": count(10), "problems_per_grid": value(7, 3, 2.333333), "problems_per_km2": value(7, 1_750_000, 4),
		"failed_verifications": count(2),
	})
	checkRow(t, "May C2", bc["2025-05||"+c2+"||"], map[string]want{
		"reports": count(1), "problems_per_grid": value(1, 1, 1), "problems_per_km2": value(1, 750_000, 1.333333),
		"failed_verifications": count(2), "rework_per_verification": ratio(2, 3),
	})

	// Supervisors (the inspector patrol) as a reporter group: R1, R2, R7,
	// R9, R11 reported; R9 declined and late; R1, R2, R11 closed, all
	// checked on time.
	sup := month("2025-05-01 00:00", "2025-06-01 00:00", evaluation.Query{
		Filter: evaluation.Filter{Sources: []cases.Source{cases.SourceInspectorPatrol}}})
	checkRow(t, "May supervisors", sup["2025-05||||"], map[string]want{
		"reports": count(5), "valid_report_rate": ratio(4, 5), "on_time_verification_rate": ratio(4, 5),
		"on_time_check_rate": ratio(3, 3), "problems_per_grid": undefined(), "problems_per_km2": undefined(),
	})

	// The same by reporter group, and the residents: R3, R4 (app), R6
	// (hotline), R8 (declined, in time), R10 (pending); R4 verified late.
	rg := month("2025-05-01 00:00", "2025-06-01 00:00", evaluation.Query{GroupBy: []evaluation.Dim{evaluation.DimReporterGroup}})
	if len(rg) != 3 {
		t.Errorf("%d reporter groups in May, want SUPERVISOR, CITIZEN, AUTOMATED: %v", len(rg), rg)
	}
	checkRow(t, "May SUPERVISOR", rg["2025-05|||||SUPERVISOR"], map[string]want{
		"reports": count(5), "valid_report_rate": ratio(4, 5), "on_time_verification_rate": ratio(4, 5),
		"on_time_check_rate": ratio(3, 3), "registered": count(4),
	})
	checkRow(t, "May CITIZEN", rg["2025-05|||||CITIZEN"], map[string]want{
		"reports": count(5), "valid_report_rate": ratio(3, 4), "declined_report_rate": ratio(1, 4),
		"on_time_verification_rate": ratio(3, 4), "participation": ratio(3, 3),
	})
	checkRow(t, "May AUTOMATED", rg["2025-05|||||AUTOMATED"], map[string]want{
		"reports": count(1), "on_time_check_rate": ratio(0, 1), "on_time_closure_rate": ratio(1, 1),
	})

	// June, the current month: J1 is due to close (closure deadline passed),
	// J2 is not yet (its handling deadline passed, its closure deadline has
	// not).
	june := month("2025-06-01 00:00", "2025-07-01 00:00", evaluation.Query{})
	checkRow(t, "June", june["2025-06||||"], map[string]want{
		"handling_rate": ratio(2, 2), "on_time_handling_rate": ratio(2, 2),
		"closure_rate": ratio(0, 1), "on_time_closure_rate": ratio(0, 1),
	})

	// The rollups follow changes of the new inputs, and equal a rebuild: R1's
	// first handling is corrected to on time, R6 is returned again and its
	// deferral withdrawn, R10 is declined in time, R11 fails a third check.
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(context.Background(), q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE cases SET first_handled_at = $2 WHERE id = $1`, ids["R1"], lt("2025-05-12 15:00"))
	exec(`UPDATE cases SET return_count = 2, defer_count = 0 WHERE id = $1`, ids["R6"])
	exec(`UPDATE cases SET status = 'NOT_REGISTERED', updated_at = $2 WHERE id = $1`, ids["R10"], lt("2025-05-22 10:00"))
	exec(`UPDATE cases SET rework_count = 3 WHERE id = $1`, ids["R11"])
	after := month("2025-05-01 00:00", "2025-06-01 00:00", evaluation.Query{})
	checkRow(t, "May after", after["2025-05||||"], map[string]want{
		"on_time_handling_rate": ratio(6, 7), "on_time_closure_rate": ratio(5, 7),
		"return_rate": ratio(1, 8), "deferral_rate": ratio(0, 8),
		"valid_report_rate": ratio(8, 11), "declined_report_rate": ratio(3, 11), "on_time_verification_rate": ratio(9, 11),
		"failed_verifications": count(5), "rework_per_verification": ratio(5, 11),
	})
	queries := []evaluation.Query{
		{Period: evaluation.PeriodMonth, From: lt("2025-05-01 00:00"), To: lt("2025-07-01 00:00"), Filter: evaluation.Filter{Jurisdiction: street}},
		{Period: evaluation.PeriodQuarter, From: lt("2025-04-01 00:00"), To: lt("2025-07-01 00:00"),
			GroupBy: []evaluation.Dim{evaluation.DimCommunity, evaluation.DimReporterGroup}, Filter: evaluation.Filter{Jurisdiction: street}},
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

// TestReworkKeepsFirstHandling: the case service records the first
// handling and its deadline, and a rework does not overwrite them; a
// return is counted.
func TestReworkKeepsFirstHandling(t *testing.T) {
	pool := setup(t)
	// Tuesday 2025-06-10 09:00 Asia/Shanghai.
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := newService(pool, commandCentre(), clk)
	ctx := as(context.Background(), "urban-management", "officer", "dispatcher")
	c, err := svc.Report(ctx, validReport("first-handling-"+uuid.NewString()))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	step := func(d time.Duration, a cases.Action, in cases.TransitionInput) *cases.Case {
		t.Helper()
		clk.Advance(d)
		got, err := svc.Transition(ctx, c.ID, a, in)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		return got
	}
	step(time.Minute, cases.ActionRegister, cases.TransitionInput{})
	step(time.Minute, cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"})
	step(time.Minute, cases.ActionReturn, cases.TransitionInput{Note: "不属本单位"})
	d := step(time.Minute, cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"})
	firstDeadline := *d.Deadline
	// Handled two days later: after the one-working-day deadline.
	h := step(48*time.Hour, cases.ActionHandle, cases.TransitionInput{Note: "已劝离"})
	firstHandled := *h.HandledAt
	step(time.Hour, cases.ActionRework, cases.TransitionInput{Note: "复核仍有占道"})
	step(time.Hour, cases.ActionHandle, cases.TransitionInput{Note: "已清理"})
	got, err := svc.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FirstHandledAt == nil || !got.FirstHandledAt.Equal(firstHandled) ||
		got.FirstDeadline == nil || !got.FirstDeadline.Equal(firstDeadline) {
		t.Errorf("first handling %v by %v, want %v by %v", got.FirstHandledAt, got.FirstDeadline, firstHandled, firstDeadline)
	}
	if !got.FirstHandledAt.After(*got.FirstDeadline) || got.HandledAt.After(*got.Deadline) {
		t.Errorf("the story needs a late first handling and an on-time last one: %v/%v, %v/%v",
			got.FirstHandledAt, got.FirstDeadline, got.HandledAt, got.Deadline)
	}
	if got.ReturnCount != 1 || got.ReworkCount != 1 {
		t.Errorf("returns %d, reworks %d, want 1 and 1", got.ReturnCount, got.ReworkCount)
	}
}
