package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/fengcheng/datahub/internal/violation/violationtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// violOfficer is an urban-management enforcement officer's decision: every
// row, every field group, report and handle.
func violOfficer() *access.Decision {
	return &access.Decision{Dataset: violation.Dataset, Rows: access.RowScope{All: true},
		Fields: map[string]access.FieldAccess{"core": access.FieldVisible, "party": access.FieldVisible,
			"plate": access.FieldVisible, "permit": access.FieldVisible},
		Actions: []string{"report", "handle"}}
}

func violService(pool *pgxpool.Pool, d *access.Decision, clk *fixture.Clock, permits violation.PermitChecker) *violation.Service {
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	return violation.NewService(violation.Config{Store: postgres.NewViolationStore(pool), Directory: postgres.NewDirectoryStore(pool), Authorizer: fixedAuth{d},
		Calendar: calendar.Default(), Permits: permits, Now: now})
}

// violInput is a valid rooftop addition tagged with marker as its property,
// which is how each test finds its own rows.
func violInput(marker uuid.UUID) violation.ReportInput {
	area := 64.5
	return violation.ReportInput{
		Kind: violation.KindIllegalConstruction, Subtype: violation.SubtypeRooftopAddition, Channel: violation.ChannelDrone,
		Description: "楼顶违法搭建彩钢板房", AreaM2: &area, Address: "凤凰社区 12 幢顶层", Lat: 32.49, Lng: 119.92,
		Party:      violation.Party{Name: "王建国", IDNumber: "321202197503021235", Phone: "13812345678"},
		PropertyID: &marker,
	}
}

func violParking(marker uuid.UUID) violation.ReportInput {
	return violation.ReportInput{
		Kind: violation.KindIllegalParking, Channel: violation.ChannelEnforcementTerminal,
		Description: "机动车违停占用人行道", Lat: 32.49, Lng: 119.93, Plate: "苏MD12345", PropertyID: &marker,
	}
}

// violState returns the stored version and number of events of a violation.
func violState(t *testing.T, pool *pgxpool.Pool, id uuid.UUID) (status string, version, events int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT status, version, (SELECT count(*) FROM violation_events WHERE violation_id = v.id)
		FROM violations v WHERE id = $1`, id).Scan(&status, &version, &events)
	if err != nil {
		t.Fatal(err)
	}
	return status, version, events
}

func violMarked(t *testing.T, pool *pgxpool.Pool, marker uuid.UUID) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM violations WHERE property_id = $1", marker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func violStep(t *testing.T, svc *violation.Service, ctx context.Context, id uuid.UUID, a violation.Action, in violation.TransitionInput) *violation.Violation {
	t.Helper()
	v, err := svc.Transition(ctx, id, a, in)
	if err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	return v
}

// violActionInput is input every action accepts: a note, and a notice
// that is due at once so MARK_DUE is legal right after it.
func violActionInput() violation.TransitionInput {
	zero := 0
	return violation.TransitionInput{Note: "依据《城乡规划法》第六十四条", Days: &zero}
}

// TestViolationTransitions takes every (status, action) pair through the
// service and the store against a hand-written table: legal transitions
// write the change and one event; illegal ones are refused with
// BAD_USER_INPUT naming the current status and write nothing.
func TestViolationTransitions(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	type A = violation.Action
	type S = violation.Status
	paths := map[S][]A{
		violation.StatusDiscovered:       nil,
		violation.StatusNoticeIssued:     {violation.ActionIssueNotice},
		violation.StatusRectificationDue: {violation.ActionIssueNotice, violation.ActionMarkDue},
		violation.StatusDemolished:       {violation.ActionIssueNotice, violation.ActionDemolish},
		violation.StatusLegalized:        {violation.ActionIssueNotice, violation.ActionMarkDue, violation.ActionLegalize},
		violation.StatusPenalized:        {violation.ActionIssueNotice, violation.ActionPenalize},
		violation.StatusClosed:           {violation.ActionDismiss},
	}
	resolve := map[A]S{violation.ActionDemolish: violation.StatusDemolished, violation.ActionLegalize: violation.StatusLegalized,
		violation.ActionPenalize: violation.StatusPenalized}
	legal := map[S]map[A]S{
		violation.StatusDiscovered:       {violation.ActionIssueNotice: violation.StatusNoticeIssued, violation.ActionDismiss: violation.StatusClosed},
		violation.StatusNoticeIssued:     {violation.ActionMarkDue: violation.StatusRectificationDue},
		violation.StatusRectificationDue: {},
		violation.StatusDemolished:       {violation.ActionClose: violation.StatusClosed},
		violation.StatusLegalized:        {violation.ActionClose: violation.StatusClosed},
		violation.StatusPenalized:        {violation.ActionClose: violation.StatusClosed},
		violation.StatusClosed:           {},
	}
	for a, to := range resolve {
		legal[violation.StatusNoticeIssued][a] = to
		legal[violation.StatusRectificationDue][a] = to
	}
	marker := uuid.New()
	for _, from := range violation.Statuses() {
		for _, a := range violation.Actions() {
			t.Run(fmt.Sprintf("%s/%s", from, a), func(t *testing.T) {
				v, err := svc.Report(ctx, violInput(marker))
				if err != nil {
					t.Fatal(err)
				}
				for _, step := range paths[from] {
					clk.Advance(time.Minute)
					violStep(t, svc, ctx, v.ID, step, violActionInput())
				}
				_, version, events := violState(t, pool, v.ID)
				clk.Advance(time.Minute)
				got, err := svc.Transition(ctx, v.ID, a, violActionInput())
				want, ok := legal[from][a]
				if !ok {
					if !apperr.Is(err, apperr.BadUserInput) || !strings.Contains(err.Error(), string(from)) {
						t.Fatalf("err = %v, want BAD_USER_INPUT naming %s", err, from)
					}
					st, ver, ev := violState(t, pool, v.ID)
					if st != string(from) || ver != version || ev != events {
						t.Fatalf("refused transition wrote: status %s version %d events %d", st, ver, ev)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal transition refused: %v", err)
				}
				st, ver, ev := violState(t, pool, v.ID)
				if got.Status != want || st != string(want) || ver != version+1 || ev != events+1 || got.Version != ver {
					t.Fatalf("status %s/%s version %d→%d events %d→%d", got.Status, st, version, ver, events, ev)
				}
				tl, err := svc.Timelines(ctx, []uuid.UUID{v.ID})
				if err != nil {
					t.Fatal(err)
				}
				last := tl[v.ID][len(tl[v.ID])-1]
				if last.Action != a || last.FromStatus != from || last.ToStatus != want ||
					last.Actor != "u-urban-management@urban-management" || last.ActorDept != "urban-management" || !last.At.Equal(clk.Now()) {
					t.Fatalf("event %+v", last)
				}
				stored, err := svc.Get(ctx, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				checkStages(t, a, stored, clk.Now())
			})
		}
	}
}

// checkStages checks the stage fields a transition sets.
func checkStages(t *testing.T, a violation.Action, v *violation.Violation, now time.Time) {
	t.Helper()
	at := func(p *time.Time) bool { return p != nil && p.Equal(now) }
	ok := true
	switch a {
	case violation.ActionIssueNotice:
		ok = at(v.NoticeIssuedAt) && at(v.Deadline) && v.Outcome == ""
	case violation.ActionMarkDue:
		ok = at(v.DueAt)
	case violation.ActionDemolish:
		ok = at(v.ResolvedAt) && v.Outcome == violation.OutcomeDemolished && v.DemolishedAreaM2 != nil && *v.DemolishedAreaM2 == *v.AreaM2
	case violation.ActionLegalize:
		ok = at(v.ResolvedAt) && v.Outcome == violation.OutcomeLegalized
	case violation.ActionPenalize:
		ok = at(v.ResolvedAt) && v.Outcome == violation.OutcomePenalized
	case violation.ActionClose:
		ok = at(v.ClosedAt) && v.Outcome != ""
	case violation.ActionDismiss:
		ok = at(v.ClosedAt) && v.Outcome == violation.OutcomeUnfounded && v.NoticeIssuedAt == nil
	}
	if !ok {
		t.Fatalf("after %s: %+v", a, v)
	}
}

func TestViolationTransitionRefusals(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := uuid.New()
	v, err := svc.Report(ctx, violInput(marker))
	if err != nil {
		t.Fatal(err)
	}
	noticed, err := svc.Report(ctx, violInput(marker))
	if err != nil {
		t.Fatal(err)
	}
	violStep(t, svc, ctx, noticed.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	park, err := violService(pool, violOfficer(), clk, nil).Report(as(context.Background(), "traffic-police", "system"), violParking(marker))
	if err != nil {
		t.Fatal(err)
	}
	stale, days91, bad := 0, 91, -1.0
	other := violService(pool, &access.Decision{Rows: access.RowScope{All: true}, Actions: []string{"report"}}, clk, nil)
	elsewhere := violService(pool, &access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.suchen"}}, Actions: []string{"handle"}}, clk, nil)
	tests := []struct {
		name  string
		svc   *violation.Service
		ctx   context.Context
		id    uuid.UUID
		a     violation.Action
		in    violation.TransitionInput
		code  apperr.Code
		field string
	}{
		{"stale version", svc, ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Version: &stale}, apperr.Conflict, ""},
		{"dismiss without reason", svc, ctx, v.ID, violation.ActionDismiss, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"notice of 91 days", svc, ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Days: &days91}, apperr.BadUserInput, "days"},
		{"mark due before the deadline", svc, ctx, noticed.ID, violation.ActionMarkDue, violation.TransitionInput{}, apperr.BadUserInput, ""},
		{"legalize without reference", svc, ctx, noticed.ID, violation.ActionLegalize, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"penalize without decision", svc, ctx, noticed.ID, violation.ActionPenalize, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"negative demolished area", svc, ctx, noticed.ID, violation.ActionDemolish, violation.TransitionInput{DemolishedAreaM2: &bad}, apperr.BadUserInput, "demolishedAreaM2"},
		{"urban management handling parking", svc, ctx, park.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.Forbidden, ""},
		{"no handle action", other, ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.Forbidden, ""},
		{"outside the scope", elsewhere, ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.NotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, ver, ev := violState(t, pool, tc.id)
			_, err := tc.svc.Transition(tc.ctx, tc.id, tc.a, tc.in)
			e, ok := apperr.As(err)
			if !ok || e.Code != tc.code || (tc.field != "" && e.Field != tc.field) {
				t.Fatalf("err = %v, want %s %s", err, tc.code, tc.field)
			}
			if st2, ver2, ev2 := violState(t, pool, tc.id); st2 != st || ver2 != ver || ev2 != ev {
				t.Fatalf("refusal wrote: %s/%d/%d → %s/%d/%d", st, ver, ev, st2, ver2, ev2)
			}
		})
	}
	// The traffic police handle illegal parking: notice at once, penalty;
	// it cannot be demolished or legalized.
	tp := violService(pool, violOfficer(), clk, nil)
	tpCtx := as(context.Background(), "traffic-police", "officer")
	n := violStep(t, tp, tpCtx, park.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	if n.Deadline == nil || !n.Deadline.Equal(clk.Now()) {
		t.Fatalf("parking deadline %v, want now", n.Deadline)
	}
	for _, a := range []violation.Action{violation.ActionDemolish, violation.ActionLegalize} {
		if _, err := tp.Transition(tpCtx, park.ID, a, violation.TransitionInput{Note: "x"}); !apperr.Is(err, apperr.BadUserInput) {
			t.Fatalf("%s parking: %v", a, err)
		}
	}
	violStep(t, tp, tpCtx, park.ID, violation.ActionPenalize, violation.TransitionInput{Note: "罚款 200 元"})
}

func TestViolationConcurrentTransitionsOneWins(t *testing.T) {
	pool := setup(t)
	svc := violService(pool, violOfficer(), nil, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	v, err := svc.Report(ctx, violInput(uuid.New()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Transition(ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.Is(err, apperr.Conflict), apperr.Is(err, apperr.BadUserInput):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if _, ver, ev := violState(t, pool, v.ID); ok != 1 || ver != 2 || ev != 2 {
		t.Fatalf("%d notices succeeded (version %d, events %d), want exactly 1", ok, ver, ev)
	}
}

// TestViolationDeadlines checks the rectification deadlines against the
// working calendar across the 2025 National Day holiday (1–8 October, with
// the make-up working days Sunday 28 September and Saturday 11 October).
func TestViolationDeadlines(t *testing.T) {
	pool := setup(t)
	// Friday 2025-09-26 10:00 Asia/Shanghai.
	clk := fixture.NewClock(time.Date(2025, 9, 26, 2, 0, 0, 0, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	um := as(context.Background(), "urban-management", "officer")
	tp := as(context.Background(), "traffic-police", "officer")
	marker := uuid.New()
	local := func(m time.Month, d, h int) time.Time {
		return time.Date(2025, m, d, h, 0, 0, 0, time.FixedZone("CST", 8*3600)).UTC()
	}
	three := 3
	advertising := violInput(marker)
	advertising.Kind, advertising.Subtype, advertising.AreaM2 = violation.KindIllegalAdvertising, "", nil
	occupation := violInput(marker)
	occupation.Kind, occupation.Subtype, occupation.AreaM2 = violation.KindStreetOccupation, violation.SubtypeShopfrontOverflow, nil
	dumping := violInput(marker)
	dumping.Kind, dumping.Subtype, dumping.AreaM2 = violation.KindDumping, violation.SubtypeConstructionWaste, nil
	tests := []struct {
		name string
		ctx  context.Context
		in   violation.ReportInput
		days *int
		want time.Time
	}{
		// 15 working days: 28, 29, 30 Sep, 9, 10, 11, 13–17, 20–23 Oct.
		{"construction, 15 days", um, violInput(marker), nil, local(10, 23, 10)},
		{"construction, 3 days given", um, violInput(marker), &three, local(9, 30, 10)},
		{"street occupation, 1 day (the make-up Sunday)", um, occupation, nil, local(9, 28, 10)},
		{"advertising, 1 day", um, advertising, nil, local(9, 28, 10)},
		{"dumping, 2 days", um, dumping, nil, local(9, 29, 10)},
		{"parking, immediately", tp, violParking(marker), nil, local(9, 26, 10)},
	}
	ids := map[string]uuid.UUID{}
	for _, tc := range tests {
		v, err := svc.Report(tc.ctx, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		n := violStep(t, svc, tc.ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Days: tc.days})
		if n.Deadline == nil || !n.Deadline.Equal(tc.want) {
			t.Errorf("%s: deadline %v, want %v", tc.name, n.Deadline, tc.want)
		}
		ids[tc.name] = v.ID
	}
	// Sunday 28 September 12:00: one-day notices are overdue, the rest not.
	clk.Advance(local(9, 28, 12).Sub(clk.Now()))
	yes, no := true, false
	overdue := map[string]bool{"street occupation, 1 day (the make-up Sunday)": true, "advertising, 1 day": true, "parking, immediately": true}
	for name, id := range ids {
		v, err := svc.Get(um, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Overdue(clk.Now()) != overdue[name] {
			t.Errorf("%s: Overdue = %v", name, v.Overdue(clk.Now()))
		}
	}
	for _, tc := range []struct {
		overdue *bool
		want    int
	}{{&yes, 3}, {&no, 3}} {
		n, err := svc.Count(um, violation.Filter{PropertyID: &marker, Overdue: tc.overdue})
		if err != nil || n != tc.want {
			t.Fatalf("count overdue=%v: %d %v, want %d", *tc.overdue, n, err, tc.want)
		}
	}
	// The sweep records the missed deadlines, only those.
	moved, err := svc.SweepDue(context.Background())
	if err != nil || moved < 3 {
		t.Fatalf("sweep moved %d: %v", moved, err)
	}
	due, err := svc.Count(um, violation.Filter{PropertyID: &marker, Statuses: []violation.Status{violation.StatusRectificationDue}})
	if err != nil || due != 3 {
		t.Fatalf("%d due after the sweep (%v), want 3", due, err)
	}
	tl, err := svc.Timelines(um, []uuid.UUID{ids["parking, immediately"]})
	if err != nil {
		t.Fatal(err)
	}
	last := tl[ids["parking, immediately"]][2]
	if last.Action != violation.ActionMarkDue || last.Actor != violation.SweepActor || last.ActorDept != "traffic-police" {
		t.Fatalf("sweep event %+v", last)
	}
	if again, err := svc.SweepDue(context.Background()); err != nil || again != 0 {
		t.Fatalf("second sweep moved %d (%v)", again, err)
	}
}

// TestViolationReportValidation checks the input rules through the store:
// every refusal names its field and writes nothing.
func TestViolationReportValidation(t *testing.T) {
	pool := setup(t)
	svc := violService(pool, violOfficer(), nil, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := uuid.New()
	huge, nan := 100_001.0, math.NaN()
	missingCase := uuid.New()
	tests := []struct {
		name  string
		edit  func(*violation.ReportInput)
		field string
	}{
		{"ID number check digit", func(in *violation.ReportInput) { in.Party.IDNumber = "321202197503021234" }, "party.idNumber"},
		{"ID number birth date", func(in *violation.ReportInput) { in.Party.IDNumber = "321202197513021230" }, "party.idNumber"},
		{"plate on construction", func(in *violation.ReportInput) { in.Plate = "苏M12345" }, "plate"},
		{"parking with a bad plate", func(in *violation.ReportInput) {
			*in = violParking(marker)
			in.Plate = "苏MO12345"
		}, "plate"},
		{"construction without area", func(in *violation.ReportInput) { in.AreaM2 = nil }, "areaM2"},
		{"area over 100,000 m²", func(in *violation.ReportInput) { in.AreaM2 = &huge }, "areaM2"},
		{"outside the district", func(in *violation.ReportInput) { in.Lat, in.Lng = 31.23, 121.47 }, "location"},
		{"NaN longitude", func(in *violation.ReportInput) { in.Lng = nan }, "location"},
		{"subtype of another kind", func(in *violation.ReportInput) { in.Subtype = violation.SubtypeDomesticWaste }, "subtype"},
		{"unknown jurisdiction", func(in *violation.ReportInput) { in.Jurisdiction = "hailing.nowhere" }, "jurisdiction"},
		{"the whole district", func(in *violation.ReportInput) { in.Jurisdiction = "hailing" }, "jurisdiction"},
		{"unknown case", func(in *violation.ReportInput) { in.CaseID = &missingCase }, "caseId"},
		{"unknown channel", func(in *violation.ReportInput) { in.Channel = "PIGEON" }, "channel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := violInput(marker)
			tc.edit(&in)
			_, err := svc.Report(ctx, in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
			if n := violMarked(t, pool, marker); n != 0 {
				t.Fatalf("%d violations written", n)
			}
		})
	}
	// Reporting needs the report action.
	viewer := violService(pool, &access.Decision{Rows: access.RowScope{All: true}}, nil, nil)
	if _, err := viewer.Report(ctx, violInput(marker)); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("report without the action: %v", err)
	}
	// A valid report is located, numbered and owned by kind.
	v, err := svc.Report(ctx, violInput(marker))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.RecordNo, "WF2") || v.JurisdictionCode == "" || v.OwnerDept != "urban-management" || v.Status != violation.StatusDiscovered {
		t.Fatalf("reported: %+v", v)
	}
	p, err := svc.Report(as(context.Background(), "traffic-police", "system"), violParking(marker))
	if err != nil || p.OwnerDept != "traffic-police" || p.SourceDept != "traffic-police" {
		t.Fatalf("parking: %+v %v", p, err)
	}
}

func TestViolationUpsert(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	drone := as(context.Background(), "urban-management", "system")
	marker := uuid.New()
	in := violInput(marker)
	if _, _, err := upsertViolation(drone, svc, in, nil); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("upsert without external id: %v", err)
	}
	in.ExternalID = "uav-" + marker.String()
	v, out, err := upsertViolation(drone, svc, in, nil)
	if err != nil || out != upsert.Created || v.Version != 1 {
		t.Fatalf("create: %v %v %+v", out, err, v)
	}
	// The same data again, written a little differently: nothing changes.
	again := in
	again.Description = "  " + in.Description + " "
	again.Party.IDNumber = strings.ToLower(in.Party.IDNumber)
	clk.Advance(time.Hour)
	u, out, err := upsertViolation(drone, svc, again, nil)
	if err != nil || out != upsert.Unchanged || u.Version != 1 || u.ID != v.ID {
		t.Fatalf("resend: %v %v %+v", out, err, u)
	}
	if _, ver, ev := violState(t, pool, v.ID); ver != 1 || ev != 1 {
		t.Fatalf("resend wrote: version %d events %d", ver, ev)
	}
	// New data: version bump and an UPDATE event naming the fields.
	bigger := 80.0
	in.AreaM2 = &bigger
	u, out, err = upsertViolation(drone, svc, in, nil)
	if err != nil || out != upsert.Updated || u.Version != 2 || *u.AreaM2 != 80 {
		t.Fatalf("update: %v %v %+v", out, err, u)
	}
	tl, _ := svc.Timelines(drone, []uuid.UUID{v.ID})
	if ev := tl[v.ID]; len(ev) != 2 || ev[1].Action != violation.ActionUpdate || ev[1].Note != "changed: areaM2" {
		t.Fatalf("timeline %+v", ev)
	}
	// A stale version is refused and writes nothing; the current one passes.
	stale, cur := 1, 2
	in.Description = "楼顶违法搭建砖混房屋"
	if _, _, err := upsertViolation(drone, svc, in, &stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v", err)
	}
	if _, ver, ev := violState(t, pool, v.ID); ver != 2 || ev != 2 {
		t.Fatalf("stale upsert wrote: version %d events %d", ver, ev)
	}
	if u, out, err = upsertViolation(drone, svc, in, &cur); err != nil || out != upsert.Updated || u.Version != 3 {
		t.Fatalf("current version: %v %v %+v", out, err, u)
	}
	// The lifecycle is untouched by upserts.
	officer := as(context.Background(), "urban-management", "officer")
	violStep(t, svc, officer, v.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	if u, out, err = upsertViolation(drone, svc, in, nil); err != nil || out != upsert.Unchanged || u.Status != violation.StatusNoticeIssued {
		t.Fatalf("after notice: %v %v %+v", out, err, u)
	}
	// The kind cannot change; Report refuses a known external id.
	changed := in
	changed.Kind, changed.Subtype = violation.KindDumping, violation.SubtypeConstructionWaste
	if _, _, err := upsertViolation(drone, svc, changed, nil); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("kind change: %v", err)
	}
	if _, err := svc.Report(drone, in); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("report of a known external id: %v", err)
	}
	// Another department's system has its own key space.
	if _, out, err := upsertViolation(as(context.Background(), "street-chengdong", "system"), svc, in, nil); err != nil || out != upsert.Created {
		t.Fatalf("other source: %v %v", out, err)
	}
	// A closed file no longer changes.
	violStep(t, svc, officer, v.ID, violation.ActionDemolish, violation.TransitionInput{})
	violStep(t, svc, officer, v.ID, violation.ActionClose, violation.TransitionInput{})
	in.Address = "另一地址"
	if _, _, err := upsertViolation(drone, svc, in, nil); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("change of a closed file: %v", err)
	}
}

// TestViolationUpsertConcurrentCreate sends the same new record from many
// goroutines at once: one creates it, the others find it unchanged.
func TestViolationUpsertConcurrentCreate(t *testing.T) {
	pool := setup(t)
	svc := violService(pool, violOfficer(), nil, nil)
	ctx := as(context.Background(), "urban-management", "system")
	marker := uuid.New()
	in := violInput(marker)
	in.ExternalID = "race-" + marker.String()
	outs := make([]upsert.Outcome, 8)
	errs := make([]error, len(outs))
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, outs[i], errs[i] = upsertViolation(ctx, svc, in, nil)
		}()
	}
	wg.Wait()
	created := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("upsert %d: %v", i, err)
		}
		if outs[i] == upsert.Created {
			created++
		}
	}
	if n := violMarked(t, pool, marker); created != 1 || n != 1 {
		t.Fatalf("%d created, %d rows; want 1 and 1", created, n)
	}
}

// TestViolationPaginationWalk walks every order page by page while other
// violations are being recorded and checks that every violation present at
// the start is seen exactly once, in order.
func TestViolationPaginationWalk(t *testing.T) {
	pool := setup(t)
	base := time.Date(2025, 3, 3, 1, 0, 0, 0, time.UTC)
	clk := fixture.NewClock(base)
	svc := violService(pool, violOfficer(), clk, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := uuid.New()
	rng := rand.New(rand.NewPCG(3, 4))
	var initial []uuid.UUID
	for i := range 90 {
		in := violInput(marker)
		at := base.Add(-time.Duration(rng.IntN(300)) * time.Hour).Truncate(time.Hour) // many equal timestamps
		in.DiscoveredAt = &at
		v, err := svc.Report(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 { // a third keep no deadline
			days := rng.IntN(3)
			violStep(t, svc, ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Days: &days})
		}
		initial = append(initial, v.ID)
	}
	for _, order := range violation.Orders() {
		t.Run(string(order), func(t *testing.T) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // concurrent writer
				defer wg.Done()
				w := rand.New(rand.NewPCG(5, 6))
				for {
					select {
					case <-stop:
						return
					default:
					}
					in := violInput(marker)
					at := base.Add(-time.Duration(w.IntN(300)) * time.Hour)
					in.DiscoveredAt = &at
					if _, err := svc.Report(ctx, in); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			seen := map[uuid.UUID]int{}
			first := 13
			var prev *violation.Violation
			fixture.Walk(t, 301, func(after *string) (fixture.Page[*violation.Violation], error) {
				p, err := svc.List(ctx, violation.Filter{PropertyID: &marker}, order, &first, after)
				if err != nil {
					return fixture.Page[*violation.Violation]{}, err
				}
				return fixture.Page[*violation.Violation]{Rows: p.Violations, HasNext: p.HasNext, Cursor: p.Cursor}, nil
			}, func(page, i int, v *violation.Violation) {
				seen[v.ID]++
				if prev != nil && !violOrdered(order, prev, v) {
					t.Fatalf("page %d row %d out of order", page, i)
				}
				prev = v
			})
			close(stop)
			wg.Wait()
			// With the writer stopped: backward pages read the same list.
			fixture.CheckRelay(t, first, func(a page.Args) (fixture.RelayPage[uuid.UUID], error) {
				p, err := svc.ListPage(ctx, violation.Filter{PropertyID: &marker}, order, a)
				if err != nil {
					return fixture.RelayPage[uuid.UUID]{}, err
				}
				return relayPage(p.Violations, func(v *violation.Violation) uuid.UUID { return v.ID }, p.HasNext, p.HasPrev, p.Cursor), nil
			})
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", id, n)
				}
			}
			for _, id := range initial {
				if seen[id] != 1 {
					t.Errorf("initial violation %s seen %d times", id, seen[id])
				}
			}
		})
	}
	first := 1
	p, err := svc.List(ctx, violation.Filter{PropertyID: &marker}, violation.OrderDiscoveredDesc, &first, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur := p.Cursor(0)
	if _, err := svc.List(ctx, violation.Filter{PropertyID: &marker}, violation.OrderDeadlineAsc, &first, &cur); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("cursor of another order: %v", err)
	}
}

func violOrdered(o violation.Order, a, b *violation.Violation) bool {
	cmp := o.SortKey(a).Compare(o.SortKey(b))
	if cmp == 0 {
		cmp = strings.Compare(a.ID.String(), b.ID.String())
	}
	if o == violation.OrderDiscoveredDesc {
		return cmp > 0
	}
	return cmp < 0
}

// violTracer counts the statements a pool runs.
type violTracer struct{ n atomic.Int64 }

func (c *violTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *violTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestViolationByParent loads the violations of many properties and many
// cases, each in one statement, and checks every parent's list.
func TestViolationByParent(t *testing.T) {
	pool := setup(t)
	tracer := &violTracer{}
	traced, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: env.DatabaseURL, Tracer: tracer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	base := time.Date(2025, 5, 5, 1, 0, 0, 0, time.UTC)
	svc := violService(traced, violOfficer(), fixture.NewClock(base), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	caseSvc := newService(pool, commandCentre(), nil)
	caseCtx := as(context.Background(), "urban-management", "officer", "dispatcher")

	const first = 5
	props := make([]uuid.UUID, 30)
	wantProp := map[uuid.UUID][]uuid.UUID{}
	caseIDs := make([]uuid.UUID, 12)
	wantCase := map[uuid.UUID][]uuid.UUID{}
	for i := range caseIDs {
		c, err := caseSvc.Report(caseCtx, validReport("viol-parent-"+uuid.NewString()))
		if err != nil {
			t.Fatal(err)
		}
		caseIDs[i] = c.ID
	}
	type made struct {
		id uuid.UUID
		at time.Time
	}
	var all []made
	for i := range props {
		props[i] = uuid.New()
		for j := range i % 8 { // 0 to 7 violations
			in := violInput(props[i])
			at := base.Add(-time.Duration((i*7+j*13)%50) * time.Hour)
			in.DiscoveredAt = &at
			if (i+j)%3 == 0 {
				cid := caseIDs[(i+j)%len(caseIDs)]
				in.CaseID = &cid
			}
			v, err := svc.Report(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, made{v.ID, at})
			wantProp[props[i]] = append(wantProp[props[i]], v.ID)
			if in.CaseID != nil {
				wantCase[*in.CaseID] = append(wantCase[*in.CaseID], v.ID)
			}
		}
	}
	at := map[uuid.UUID]time.Time{}
	for _, m := range all {
		at[m.id] = m.at
	}
	newestFirst := func(ids []uuid.UUID, n int) []uuid.UUID {
		out := slices.Clone(ids)
		slices.SortFunc(out, func(a, b uuid.UUID) int {
			if c := at[b].Compare(at[a]); c != 0 {
				return c
			}
			return strings.Compare(b.String(), a.String())
		})
		return out[:min(n, len(out))]
	}
	check := func(name string, got map[uuid.UUID][]*violation.Violation, want map[uuid.UUID][]uuid.UUID, parents []uuid.UUID, n int) {
		t.Helper()
		for _, p := range parents {
			w := newestFirst(want[p], n)
			var g []uuid.UUID
			for _, v := range got[p] {
				g = append(g, v.ID)
			}
			if !slices.Equal(g, w) {
				t.Errorf("%s %s: got %v, want %v", name, p, g, w)
			}
		}
	}

	tracer.n.Store(0)
	byProp, err := svc.ByProperty(ctx, append(props, props[3]), first) // a duplicate parent is harmless
	if err != nil {
		t.Fatal(err)
	}
	if n := tracer.n.Load(); n != 1 {
		t.Errorf("ByProperty ran %d statements, want 1", n)
	}
	check("property", byProp, wantProp, props, first)

	tracer.n.Store(0)
	byCase, err := svc.ByCase(ctx, caseIDs)
	if err != nil {
		t.Fatal(err)
	}
	if n := tracer.n.Load(); n != 1 {
		t.Errorf("ByCase ran %d statements, want 1", n)
	}
	check("case", byCase, wantCase, caseIDs, violation.ByCaseLimit)

	// Nested pages from a cursor: each parent's list after it (and before
	// it, backward), in one statement for all parents, the cursor applied
	// inside each parent's lateral subquery.
	keys := make([]string, len(props))
	for i, p := range props {
		keys[i] = p.String()
	}
	full := map[uuid.UUID][]uuid.UUID{}
	for _, p := range props {
		full[p] = newestFirst(wantProp[p], len(wantProp[p]))
	}
	p7 := props[7] // 7 violations
	mid := page.At(string(violation.OrderDiscoveredDesc), at[full[p7][2]], full[p7][2])
	tracer.n.Store(0)
	after, _, err := svc.ByParent(ctx, links.ParentProperty, keys, page.Request{First: 3, After: &mid}, false)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := svc.ByParent(ctx, links.ParentProperty, keys, page.Request{Backward: true, Last: 2, Before: &mid}, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := tracer.n.Load(); n != 2 {
		t.Errorf("two nested pages ran %d statements, want 2", n)
	}
	ids := func(vs []*violation.Violation) []uuid.UUID {
		out := []uuid.UUID{}
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	if g, w := ids(after[p7.String()]), full[p7][3:6]; !slices.Equal(g, w) {
		t.Errorf("3 after the third: got %v, want %v", g, w)
	}
	if g, w := ids(before[p7.String()]), full[p7][:2]; !slices.Equal(g, w) {
		t.Errorf("2 before the third: got %v, want %v", g, w)
	}
	// Every other parent's list is cut at the same position in the order.
	for _, p := range props {
		var wa, wb []uuid.UUID
		for _, id := range full[p] {
			switch c := at[id].Compare(mid.Time()); {
			case c < 0 || c == 0 && strings.Compare(id.String(), mid.ID.String()) < 0:
				wa = append(wa, id)
			case c > 0 || c == 0 && strings.Compare(id.String(), mid.ID.String()) > 0:
				wb = append(wb, id)
			}
		}
		wa, wb = wa[:min(3, len(wa))], wb[max(0, len(wb)-2):]
		if g := ids(after[p.String()]); !slices.Equal(g, wa) && len(g)+len(wa) > 0 {
			t.Errorf("property %d after the cursor: got %v, want %v", slices.Index(props, p), g, wa)
		}
		if g := ids(before[p.String()]); !slices.Equal(g, wb) && len(g)+len(wb) > 0 {
			t.Errorf("property %d before the cursor: got %v, want %v", slices.Index(props, p), g, wb)
		}
	}

	// The scope applies inside the lateral join.
	none := violService(traced, &access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.suchen"}}}, nil, nil)
	if got, err := none.ByProperty(ctx, props, first); err != nil || len(got) != 0 {
		t.Fatalf("out of scope: %d parents, %v", len(got), err)
	}
	if _, err := svc.ByProperty(ctx, props, 201); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("first 201: %v", err)
	}
}

func TestViolationRowScope(t *testing.T) {
	pool := setup(t)
	svc := violService(pool, violOfficer(), nil, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := uuid.New()
	in := violInput(marker)
	in.Jurisdiction = streetGrid(t, pool, "hailing.chengxi")
	west, err := svc.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Jurisdiction = streetGrid(t, pool, "hailing.chengdong")
	east, err := svc.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	p := violParking(marker)
	p.Jurisdiction = in.Jurisdiction
	park, err := svc.Report(as(context.Background(), "traffic-police", "system"), p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		scope access.RowScope
		want  []uuid.UUID
	}{
		{"everything", access.RowScope{All: true}, []uuid.UUID{west.ID, east.ID, park.ID}},
		{"street subtree", access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, []uuid.UUID{east.ID, park.ID}},
		{"grid subtree", access.RowScope{Jurisdictions: []string{west.JurisdictionCode}}, []uuid.UUID{west.ID}},
		{"traffic police", access.RowScope{Depts: []string{"traffic-police"}}, []uuid.UUID{park.ID}},
		{"urban management", access.RowScope{Depts: []string{"urban-management"}}, []uuid.UUID{west.ID, east.ID}},
		{"street or own department", access.RowScope{Jurisdictions: []string{"hailing.chengxi"}, Depts: []string{"traffic-police"}}, []uuid.UUID{west.ID, park.ID}},
		{"a citizen", access.RowScope{CitizenID: "cit-42"}, nil},
		{"empty scope", access.RowScope{}, nil},
	}
	all := []*violation.Violation{west, east, park}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := violService(pool, &access.Decision{Rows: tc.scope}, nil, nil)
			f := violation.Filter{PropertyID: &marker}
			page, err := s.List(ctx, f, "", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[uuid.UUID]bool{}
			for _, v := range page.Violations {
				got[v.ID] = true
			}
			n, err := s.Count(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || n != len(tc.want) {
				t.Fatalf("list %d, count %d, want %d", len(got), n, len(tc.want))
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Errorf("missing %s", id)
				}
			}
			for _, v := range all {
				_, err := s.Get(ctx, v.ID)
				if got[v.ID] != (err == nil) {
					t.Errorf("Get %s: %v, visible in list %v", v.ID, err, got[v.ID])
				}
				if !got[v.ID] && !apperr.Is(err, apperr.NotFound) {
					t.Errorf("out of scope must read as NOT_FOUND: %v", err)
				}
			}
			many, err := s.GetMany(ctx, []uuid.UUID{west.ID, east.ID, park.ID})
			if err != nil || len(many) != len(tc.want) {
				t.Fatalf("GetMany: %d %v", len(many), err)
			}
			byProp, err := s.ByProperty(ctx, []uuid.UUID{marker}, 10)
			if err != nil || len(byProp[marker]) != len(tc.want) {
				t.Fatalf("ByProperty: %d %v", len(byProp[marker]), err)
			}
		})
	}
}

// violPermits is a permit register that records its calls.
type violPermits struct {
	mu     sync.Mutex
	calls  []string
	answer violation.PermitCheck
}

func (p *violPermits) CheckPermit(_ context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (violation.PermitCheck, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("%s %s %.1f", propertyID, subtype, areaM2))
	return p.answer, nil
}

func (p *violPermits) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

func TestViolationPermitCheck(t *testing.T) {
	pool := setup(t)
	reg := &violPermits{answer: violation.PermitCheck{HasPermit: true, Covers: false, PermitNo: "泰海规许字〔2019〕第 017 号", Note: "许可面积不含顶层"}}
	officer := violService(pool, violOfficer(), nil, reg)
	ctx := as(context.Background(), "urban-management", "officer")
	prop := uuid.New()
	in := violInput(prop)
	in.Jurisdiction = streetGrid(t, pool, "hailing.chengdong")
	v, err := officer.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}

	pc, err := officer.PermitCheck(ctx, v)
	if err != nil || pc == nil || *pc != reg.answer {
		t.Fatalf("permit check: %+v %v", pc, err)
	}
	if want := fmt.Sprintf("%s ROOFTOP_ADDITION 64.5", prop); reg.count() != 1 || reg.calls[0] != want {
		t.Fatalf("calls %v, want [%s]", reg.calls, want)
	}

	denied := violOfficer()
	delete(denied.Fields, "permit")
	partial := violOfficer()
	partial.Fields["permit"] = access.FieldDenied
	partial.Partial = map[string]access.PartialAccess{"permit": {Access: access.FieldVisible, Jurisdictions: []string{"hailing.chengdong"}}}
	partialElsewhere := violOfficer()
	partialElsewhere.Fields["permit"] = access.FieldDenied
	partialElsewhere.Partial = map[string]access.PartialAccess{"permit": {Access: access.FieldVisible, Jurisdictions: []string{"hailing.chengxi"}}}
	for _, tc := range []struct {
		name  string
		d     *access.Decision
		allow bool
	}{
		{"group denied", denied, false},
		{"grant on another street", partialElsewhere, false},
		{"grant on this street", partial, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reg.count()
			pc, err := violService(pool, tc.d, nil, reg).PermitCheck(ctx, v)
			if tc.allow {
				if err != nil || pc == nil || reg.count() != before+1 {
					t.Fatalf("%+v %v, calls %d→%d", pc, err, before, reg.count())
				}
				return
			}
			if !apperr.Is(err, apperr.Forbidden) || pc != nil {
				t.Fatalf("%+v %v, want FORBIDDEN", pc, err)
			}
			if reg.count() != before {
				t.Fatal("the register was asked although the group is denied")
			}
		})
	}

	// No question without a property, or for kinds that are not structures.
	noProp := violInput(prop)
	noProp.PropertyID = nil
	occupation := violInput(prop)
	occupation.Kind, occupation.Subtype = violation.KindStreetOccupation, violation.SubtypeShopfrontOverflow
	var others []*violation.Violation
	for _, in := range []violation.ReportInput{noProp, occupation} {
		o, err := officer.Report(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, o)
		before := reg.count()
		if pc, err := officer.PermitCheck(ctx, o); err != nil || pc != nil || reg.count() != before {
			t.Fatalf("%s: %+v %v", o.Kind, pc, err)
		}
	}
	batch, err := officer.PermitChecks(ctx, append(others, v))
	if err != nil || len(batch) != 1 || batch[v.ID] == nil {
		t.Fatalf("PermitChecks: %v %v", batch, err)
	}
	if _, err := violService(pool, violOfficer(), nil, nil).PermitCheck(ctx, v); !apperr.Is(err, apperr.ServiceUnavailable) {
		t.Fatalf("no register: %v", err)
	}
}

// violSchema returns a pool on a fresh schema holding only the violation
// tables (jurisdictions, departments and cases stay in public, next on the
// search_path).
func violSchema(t *testing.T) *pgxpool.Pool {
	t.Helper()
	setup(t)
	b, err := os.ReadFile("migrations/00120_violations.sql")
	if err != nil {
		t.Fatal(err)
	}
	up, _, ok := strings.Cut(string(b), "-- +goose Down")
	if !ok {
		t.Fatal("00120_violations.sql has no Down section")
	}
	pool, _ := env.Schema(t)
	if _, err := pool.Exec(context.Background(), up); err != nil {
		t.Fatalf("create violation tables: %v", err)
	}
	return pool
}

func violChecksum(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var sum string
	err := pool.QueryRow(context.Background(), `SELECT
		(SELECT md5(string_agg(row_to_json(v)::text, '' ORDER BY id)) FROM violations v) ||
		(SELECT md5(string_agg(row_to_json(e)::text, '' ORDER BY id)) FROM violation_events e)`).Scan(&sum)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestSeedViolations(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	now := time.Date(2025, 11, 20, 2, 0, 0, 0, time.UTC)
	// Cases the demo can link to: 违法建设, 店外经营 and 乱停乱放 in two streets.
	caseSvc := newService(pool, commandCentre(), nil)
	caseCtx := as(ctx, "urban-management", "officer")
	for i := range 40 {
		in := validReport("viol-demo")
		in.MinorCode = []string{"0302", "0501", "0503"}[i%3]
		in.Jurisdiction = streetGrid(t, pool, []string{"hailing.jiulong", "hailing.chengzhong"}[i%2])
		at := now.AddDate(0, 0, -20*(i+1))
		in.ReportedAt = &at
		if _, err := caseSvc.Report(caseCtx, in); err != nil {
			t.Fatal(err)
		}
	}
	cal := calendar.Default()
	a := violSchema(t)
	outboxBefore := outboxTotal(t, a)
	st, err := seed.SeedViolations(ctx, a, 42, now, cal)
	if err != nil {
		t.Fatal(err)
	}
	if got := outboxTotal(t, a); got != outboxBefore {
		t.Fatalf("seeding wrote %d outbox rows; a bulk demo load is not a stream of changes", got-outboxBefore)
	}
	t.Logf("%+v", st)
	// Illegal parking follows the 乱停乱放 cases: 13 of the 40 above.
	if st.Violations != seed.ViolationRecords+13 || st.IllegalParking != 13 || st.ParkingCases != 13 ||
		st.Demolished != seed.ViolationsDemolished {
		t.Fatalf("stats %+v", st)
	}
	if st.DemolishedAreaM2 < 37_000 || math.Abs(st.DemolishedAreaM2-seed.ViolationsDemolishedAreaM2) > 30 {
		t.Fatalf("demolished %.1f m², want about %d", st.DemolishedAreaM2, seed.ViolationsDemolishedAreaM2)
	}
	if st.LinkedCases == 0 {
		t.Fatal("no violation linked to a case")
	}
	if _, err := seed.SeedViolations(ctx, a, 42, now, cal); !errors.Is(err, seed.ErrViolationsSeeded) {
		t.Fatalf("second run: %v", err)
	}

	rows, err := a.Query(ctx, `SELECT kind || ' ' || status || ' ' || coalesce(outcome, '-') || ': ' || count(*)
		FROM violations GROUP BY kind, status, outcome ORDER BY kind, status, outcome`)
	if err != nil {
		t.Fatal(err)
	}
	dist, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stages:\n%s", strings.Join(dist, "\n"))
	// Figures as stored.
	var n, events, demolished, statuses int
	var area float64
	err = a.QueryRow(ctx, `SELECT (SELECT count(*) FROM violations), (SELECT count(*) FROM violation_events),
		(SELECT count(*) FROM violations WHERE kind = 'ILLEGAL_CONSTRUCTION' AND outcome = 'DEMOLISHED'),
		(SELECT coalesce(sum(demolished_area_m2), 0) FROM violations WHERE kind = 'ILLEGAL_CONSTRUCTION' AND outcome = 'DEMOLISHED'),
		(SELECT count(DISTINCT status) FROM violations)`).Scan(&n, &events, &demolished, &area, &statuses)
	if err != nil {
		t.Fatal(err)
	}
	if n != st.Violations || events != st.Events || demolished != st.Demolished || math.Abs(area-st.DemolishedAreaM2) > 0.5 || statuses != 7 {
		t.Fatalf("stored: %d violations, %d events, %d demolished, %.1f m², %d statuses", n, events, demolished, area, statuses)
	}
	var share float64
	if err := a.QueryRow(ctx, `SELECT avg((case_id IS NOT NULL)::int) FROM violations`).Scan(&share); err != nil {
		t.Fatal(err)
	}
	t.Logf("linked to a case: %.1f %%", share*100)

	// Every row is valid by the service's rules, and its timeline is a
	// chain of legal transitions ending in its status.
	store := postgres.NewViolationStore(a)
	list, _, err := store.List(ctx, access.RowScope{All: true}, violation.ListQuery{First: 10_000, Now: now})
	if err != nil || len(list) != n {
		t.Fatalf("list %d: %v", len(list), err)
	}
	ids := make([]uuid.UUID, len(list))
	for i, v := range list {
		ids[i] = v.ID
	}
	timelines, err := store.Timelines(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		if err := violDemoValid(v, timelines[v.ID], now); err != nil {
			t.Fatalf("%s (%s %s): %v", v.RecordNo, v.Kind, v.Status, err)
		}
	}
	// Linked cases lie in the same street and came first.
	var bad int
	if err := a.QueryRow(ctx, `SELECT count(*) FROM violations v JOIN cases c ON c.id = v.case_id
		WHERE c.street_code <> v.street_code OR c.reported_at >= v.discovered_at OR v.channel <> 'CASE'`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d badly linked cases (%v)", bad, err)
	}

	// The same seed and now give the same rows.
	b := violSchema(t)
	if _, err := seed.SeedViolations(ctx, b, 42, now, cal); err != nil {
		t.Fatal(err)
	}
	if violChecksum(t, a) != violChecksum(t, b) {
		t.Fatal("the demo is not deterministic")
	}
}

// violDemoValid checks one generated violation against the domain rules.
func violDemoValid(v *violation.Violation, events []violation.Event, now time.Time) error {
	if v.Party.IDNumber != "" {
		if id, ok := violation.NormalizeIDNumber(v.Party.IDNumber); !ok || id != v.Party.IDNumber || !strings.HasPrefix(id, "321202") {
			return fmt.Errorf("ID number %q", v.Party.IDNumber)
		}
	}
	if v.Party.Phone != "" && (len(v.Party.Phone) != 11 || v.Party.Phone[0] != '1') {
		return fmt.Errorf("phone %q", v.Party.Phone)
	}
	if v.Kind == violation.KindIllegalParking {
		if p, ok := violation.NormalizePlate(v.Plate); !ok || p != v.Plate || !strings.HasPrefix(p, "苏M") {
			return fmt.Errorf("plate %q", v.Plate)
		}
	}
	if v.Kind.Construction() && (v.AreaM2 == nil || *v.AreaM2 <= 0) {
		return errors.New("construction without area")
	}
	if !rules.InDistrict(v.Lat, v.Lng) || !v.DiscoveredAt.Before(now) {
		return fmt.Errorf("place or time: %.5f %.5f %v", v.Lat, v.Lng, v.DiscoveredAt)
	}
	if v.Status == violation.StatusNoticeIssued && v.Deadline.Before(now.Add(-time.Hour)) {
		return errors.New("deadline long past but not marked due")
	}
	if len(events) != v.Version || len(events) == 0 || events[0].Action != violation.ActionReport || events[0].FromStatus != "" {
		return fmt.Errorf("%d events for version %d", len(events), v.Version)
	}
	st := violation.StatusDiscovered
	for _, e := range events[1:] {
		next, err := violation.Next(st, e.Action)
		if err != nil || e.FromStatus != st || e.ToStatus != next || e.At.After(now) {
			return fmt.Errorf("event %s %s→%s after %s: %v", e.Action, e.FromStatus, e.ToStatus, st, err)
		}
		st = next
	}
	if st != v.Status || !events[len(events)-1].At.Equal(v.UpdatedAt) {
		return fmt.Errorf("timeline ends in %s", st)
	}
	return nil
}

// outboxRow is one row of the outbox, as the store tests check it.
type outboxRow struct {
	Dataset, RecordID, Op, Jurisdiction, OwnerDept, HandlingDept, CitizenID string
	Version                                                                 int
	Payload                                                                 map[string]any
}

// outboxOf returns the outbox rows of a record, oldest first.
func outboxOf(t *testing.T, pool *pgxpool.Pool, recordID uuid.UUID) []outboxRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT dataset, record_id, op, jurisdiction, owner_dept, handling_dept,
		citizen_id, version, payload FROM outbox WHERE record_id = $1 ORDER BY id`, recordID.String())
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
		var o outboxRow
		err := r.Scan(&o.Dataset, &o.RecordID, &o.Op, &o.Jurisdiction, &o.OwnerDept, &o.HandlingDept, &o.CitizenID,
			&o.Version, &o.Payload)
		return o, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outboxTotal counts every outbox row: a refused write must leave it as it
// was (the package's tests run one at a time).
func outboxTotal(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkChange checks the one outbox row a change added to a record's rows
// (before is how many it had) and returns it.
func checkChange(t *testing.T, pool *pgxpool.Pool, id uuid.UUID, before int, want outboxRow) outboxRow {
	t.Helper()
	rows := outboxOf(t, pool, id)
	if len(rows) != before+1 {
		t.Fatalf("%s %s: %d outbox rows, want %d", want.Op, id, len(rows), before+1)
	}
	got := rows[before]
	want.RecordID = id.String()
	payload := got.Payload
	got.Payload, want.Payload = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("outbox row\n got %+v\nwant %+v", got, want)
	}
	got.Payload = payload
	return got
}

// failAtCommit makes every transaction that inserts or updates a row of
// table matching cond fail when it commits, after the store has written
// everything (a deferred constraint trigger), until the test ends.
func failAtCommit(t *testing.T, pool *pgxpool.Pool, table, cond string) {
	t.Helper()
	ctx := context.Background()
	name := "fail_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	for _, sql := range []string{
		`CREATE FUNCTION ` + name + `() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'test: the transaction fails at commit'; END $$`,
		`CREATE CONSTRAINT TRIGGER ` + name + ` AFTER INSERT OR UPDATE ON ` + table + `
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (` + cond + `) EXECUTE FUNCTION ` + name + `()`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("install failing trigger: %v", err)
		}
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(ctx, `DROP TRIGGER `+name+` ON `+table+`; DROP FUNCTION `+name+`()`); err != nil {
			t.Errorf("drop failing trigger: %v", err)
		}
	})
}

// failedAtCommit reports whether err is the failure failAtCommit causes.
func failedAtCommit(err error) bool {
	return err != nil && strings.Contains(err.Error(), "the transaction fails at commit")
}

// TestViolationOutbox checks that every change of a violation writes one
// outbox row in its transaction, with the record's scope columns, and that
// refused or failed writes write none.
func TestViolationOutbox(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 7, 3, 3, 17, 29, 123456000, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	um := as(context.Background(), "urban-management", "officer")
	tp := as(context.Background(), "traffic-police", "officer")
	marker := uuid.New()

	// Report: CREATED.
	v, err := svc.Report(um, violInput(marker))
	if err != nil {
		t.Fatal(err)
	}
	o := checkChange(t, pool, v.ID, 0, outboxRow{Dataset: "violations", Op: "CREATED", Jurisdiction: v.JurisdictionCode,
		OwnerDept: "urban-management", Version: 1})
	if o.Payload["status"] != "DISCOVERED" || o.Payload["action"] != "REPORT" {
		t.Fatalf("create payload %v", o.Payload)
	}
	if !strings.HasPrefix(v.JurisdictionCode, "hailing.") || strings.Count(v.JurisdictionCode, ".") < 2 {
		t.Fatalf("jurisdiction %q", v.JurisdictionCode)
	}

	// A step of the lifecycle: TRANSITION.
	n := violStep(t, svc, um, v.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	o = checkChange(t, pool, v.ID, 1, outboxRow{Dataset: "violations", Op: "TRANSITION", Jurisdiction: v.JurisdictionCode,
		OwnerDept: "urban-management", Version: 2})
	if o.Payload["status"] != "NOTICE_ISSUED" || o.Payload["action"] != "ISSUE_NOTICE" || n.Version != 2 {
		t.Fatalf("transition payload %v (version %d)", o.Payload, n.Version)
	}

	// Refusals write nothing: an illegal action, another department.
	total := outboxTotal(t, pool)
	if _, err := svc.Transition(um, v.ID, violation.ActionClose, violation.TransitionInput{}); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("close from NOTICE_ISSUED: %v", err)
	}
	if _, err := svc.Transition(tp, v.ID, violation.ActionDemolish, violation.TransitionInput{}); err == nil {
		t.Fatal("traffic police demolished an illegal structure")
	}
	// A stale version at the store: CONFLICT, nothing written.
	stale := *n
	stale.Version = 3
	err = postgres.NewViolationStore(pool).Update(context.Background(), &stale, 1, violation.Event{ViolationID: v.ID,
		Action: violation.ActionDismiss, FromStatus: violation.StatusDiscovered, ToStatus: violation.StatusClosed,
		Actor: "x@urban-management", ActorDept: "urban-management", At: clk.Now()})
	if !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale store update: %v", err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("refusals wrote %d outbox rows", got-total)
	}

	// Upserts: CREATED, nothing when unchanged, UPDATED with new data.
	sys := as(context.Background(), "urban-management", "system")
	in := violInput(marker)
	in.ExternalID = "outbox-" + marker.String()
	u, out, err := upsertViolation(sys, svc, in, nil)
	if err != nil || out != upsert.Created {
		t.Fatalf("upsert create: %v %v", out, err)
	}
	checkChange(t, pool, u.ID, 0, outboxRow{Dataset: "violations", Op: "CREATED", Jurisdiction: u.JurisdictionCode,
		OwnerDept: "urban-management", Version: 1})
	total = outboxTotal(t, pool)
	if _, out, err := upsertViolation(sys, svc, in, nil); err != nil || out != upsert.Unchanged {
		t.Fatalf("upsert resend: %v %v", out, err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("an unchanged upsert wrote %d outbox rows", got-total)
	}
	bigger := 90.0
	in.AreaM2 = &bigger
	if _, out, err := upsertViolation(sys, svc, in, nil); err != nil || out != upsert.Updated {
		t.Fatalf("upsert update: %v %v", out, err)
	}
	o = checkChange(t, pool, u.ID, 1, outboxRow{Dataset: "violations", Op: "UPDATED", Jurisdiction: u.JurisdictionCode,
		OwnerDept: "urban-management", Version: 2})
	if o.Payload["status"] != "DISCOVERED" || o.Payload["action"] != "UPDATE" {
		t.Fatalf("update payload %v", o.Payload)
	}

	// Illegal parking is the traffic police's: they own (and handle) it.
	p, err := svc.Report(tp, violParking(marker))
	if err != nil {
		t.Fatal(err)
	}
	checkChange(t, pool, p.ID, 0, outboxRow{Dataset: "violations", Op: "CREATED", Jurisdiction: p.JurisdictionCode,
		OwnerDept: "traffic-police", Version: 1})
	violStep(t, svc, tp, p.ID, violation.ActionIssueNotice, violation.TransitionInput{})

	// The sweep: one TRANSITION row per violation it moves, in the same
	// statement.
	var last int64
	if err := pool.QueryRow(context.Background(), "SELECT coalesce(max(id), 0) FROM outbox").Scan(&last); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	moved, err := svc.SweepDue(context.Background())
	if err != nil || moved < 1 {
		t.Fatalf("sweep moved %d: %v", moved, err)
	}
	var rows, matching, dueNow int
	err = pool.QueryRow(context.Background(), `SELECT count(*),
			count(*) FILTER (WHERE o.dataset = 'violations' AND o.op = 'TRANSITION' AND o.jurisdiction = v.jurisdiction_code
				AND o.owner_dept = v.owner_dept AND o.handling_dept = '' AND o.citizen_id = '' AND o.version = v.version
				AND o.payload = '{"status": "RECTIFICATION_DUE", "action": "MARK_DUE"}'::jsonb AND v.due_at = $2),
			(SELECT count(*) FROM violations WHERE due_at = $2)
		FROM outbox o LEFT JOIN violations v ON v.id::text = o.record_id WHERE o.id > $1`, last, clk.Now()).Scan(&rows, &matching, &dueNow)
	if err != nil {
		t.Fatal(err)
	}
	if rows != moved || matching != moved || dueNow != moved {
		t.Fatalf("sweep moved %d: %d outbox rows, %d of them right, %d violations due now", moved, rows, matching, dueNow)
	}
	checkChange(t, pool, p.ID, 2, outboxRow{Dataset: "violations", Op: "TRANSITION", Jurisdiction: p.JurisdictionCode,
		OwnerDept: "traffic-police", Version: 3})
	if again, err := svc.SweepDue(context.Background()); err != nil || again != 0 {
		t.Fatalf("second sweep moved %d (%v)", again, err)
	}
	if got := len(outboxOf(t, pool, p.ID)); got != 3 {
		t.Fatalf("second sweep: %d outbox rows for the parking violation, want 3", got)
	}

	// A transaction that fails after the outbox row was written leaves
	// neither the change nor the row.
	failing := "违法搭建 " + marker.String()
	failAtCommit(t, pool, "violations", "NEW.description = '"+failing+"'")
	total = outboxTotal(t, pool)
	bad := violInput(marker)
	bad.Description = failing
	if _, err := svc.Report(um, bad); !failedAtCommit(err) {
		t.Fatalf("report: %v, want the failure at commit", err)
	}
	in.Description = failing
	if _, _, err := upsertViolation(sys, svc, in, nil); !failedAtCommit(err) {
		t.Fatalf("upsert: %v, want the failure at commit", err)
	}
	if got := outboxTotal(t, pool); got != total {
		t.Fatalf("failed transactions left %d outbox rows", got-total)
	}
	if _, ver, _ := violState(t, pool, u.ID); ver != 2 {
		t.Fatalf("failed update changed the violation (version %d)", ver)
	}
	var failed int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM violations WHERE description = $1", failing).Scan(&failed); err != nil || failed != 0 {
		t.Fatalf("failed report left %d violations (%v)", failed, err)
	}
}

// Violations can be listed and counted by how they ended.
func TestViolationFilterByOutcome(t *testing.T) {
	pool := setup(t)
	clk := fixture.NewClock(time.Date(2025, 3, 3, 1, 0, 0, 0, time.UTC))
	svc := violService(pool, violOfficer(), clk, nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := uuid.New()
	var dismissed uuid.UUID
	for i := range 3 {
		v, err := svc.Report(ctx, violInput(marker))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			dismissed = violStep(t, svc, ctx, v.ID, violation.ActionDismiss, violation.TransitionInput{Note: "现场核实无违建"}).ID
		}
	}
	first := 10
	list := func(o ...violation.Outcome) []*violation.Violation {
		t.Helper()
		p, err := svc.List(ctx, violation.Filter{PropertyID: &marker, Outcomes: o}, "", &first, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.Violations
	}
	if got := list(violation.OutcomeUnfounded); len(got) != 1 || got[0].ID != dismissed || got[0].Outcome != violation.OutcomeUnfounded {
		t.Fatalf("UNFOUNDED: %d violations", len(got))
	}
	if got := list(violation.OutcomeDemolished, violation.OutcomeLegalized); len(got) != 0 {
		t.Fatalf("DEMOLISHED or LEGALIZED: %d violations, want none", len(got))
	}
	if n, err := svc.Count(ctx, violation.Filter{PropertyID: &marker, Outcomes: []violation.Outcome{violation.OutcomeUnfounded}}); err != nil || n != 1 {
		t.Fatalf("count UNFOUNDED: %d %v", n, err)
	}
	_, err := svc.List(ctx, violation.Filter{Outcomes: []violation.Outcome{"BURNT"}}, "", &first, nil)
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "filter.outcome" {
		t.Fatalf("unknown outcome: %v", err)
	}
}

// upsertViolation is svc.Upsert with its result spread out.
func upsertViolation(ctx context.Context, svc *violation.Service, in violation.ReportInput, version *int) (*violation.Violation, upsert.Outcome, error) {
	res, err := svc.Upsert(ctx, in, version)
	return res.Record, res.Outcome, err
}

// TestViolationStoreContract holds the PostgreSQL store to the contract
// the violation service's in-memory fake is held to (internal/violation).
func TestViolationStoreContract(t *testing.T) {
	pool := setup(t)
	inside, _, _ := gridIn(t, pool, "hailing.chengdong")
	outside, _, _ := gridIn(t, pool, "hailing.chengxi")
	violationtest.Contract(t, violationtest.Fixture{Store: postgres.NewViolationStore(pool), Inside: inside, Outside: outside})
}
