package violation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

func officer() *access.Decision {
	return &access.Decision{Dataset: violation.Dataset, Rows: access.RowScope{All: true},
		Fields: map[string]access.FieldAccess{"core": access.FieldVisible, "party": access.FieldVisible,
			"plate": access.FieldVisible, "permit": access.FieldVisible},
		Actions: []string{"report", "handle"}}
}

func newService(store *memStore, d *access.Decision, clk *fixture.Clock) *violation.Service {
	return violation.NewService(violation.Config{Store: store, Directory: fixture.NewDirectory(), Authorizer: fixture.Auth{D: d},
		Calendar: calendar.Default(), Now: clk.Now})
}

var (
	umOfficer = fixture.As(context.Background(), violation.DeptUrbanManagement, "officer")
	tpOfficer = fixture.As(context.Background(), violation.DeptTrafficPolice, "officer")
)

// rooftop is a valid rooftop addition.
func rooftop() violation.ReportInput {
	return violation.ReportInput{
		Kind: violation.KindIllegalConstruction, Subtype: violation.SubtypeRooftopAddition, Channel: violation.ChannelDrone,
		Description: "楼顶违法搭建彩钢板房", AreaM2: fixture.Ptr(64.5), Address: "凤凰社区 12 幢顶层", Lat: 32.49, Lng: 119.92,
		Party: violation.Party{Name: "王建国", IDNumber: "321202197503021235", Phone: "13812345678"},
	}
}

func parked() violation.ReportInput {
	return violation.ReportInput{
		Kind: violation.KindIllegalParking, Channel: violation.ChannelEnforcementTerminal,
		Description: "机动车违停占用人行道", Lat: 32.49, Lng: 119.93, Plate: "苏MD12345",
	}
}

// actionInput is input every action accepts: a note, and a notice that is
// due at once so MARK_DUE is legal right after it.
func actionInput() violation.TransitionInput {
	return violation.TransitionInput{Note: "依据《城乡规划法》第六十四条", Days: fixture.Ptr(0)}
}

func step(t *testing.T, svc *violation.Service, ctx context.Context, id uuid.UUID, a violation.Action, in violation.TransitionInput) *violation.Violation {
	t.Helper()
	v, err := svc.Transition(ctx, id, a, in)
	if err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	return v
}

// TestTransitions takes every (status, action) pair through the service
// against a hand-written table: legal transitions write the change and one
// event; illegal ones are refused naming the current status and write
// nothing.
func TestTransitions(t *testing.T) {
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
	for _, from := range violation.Statuses() {
		for _, a := range violation.Actions() {
			t.Run(fmt.Sprintf("%s/%s", from, a), func(t *testing.T) {
				store := newMemStore()
				clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
				svc := newService(store, officer(), clk)
				v, err := svc.Report(umOfficer, rooftop())
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range paths[from] {
					clk.Advance(time.Minute)
					step(t, svc, umOfficer, v.ID, s, actionInput())
				}
				_, version, events := store.state(v.ID)
				clk.Advance(time.Minute)
				got, err := svc.Transition(umOfficer, v.ID, a, actionInput())
				want, ok := legal[from][a]
				if !ok {
					if !apperr.Is(err, apperr.BadUserInput) || !strings.Contains(err.Error(), string(from)) {
						t.Fatalf("err = %v, want BAD_USER_INPUT naming %s", err, from)
					}
					if st, ver, ev := store.state(v.ID); st != from || ver != version || ev != events {
						t.Fatalf("refused transition wrote: status %s version %d events %d", st, ver, ev)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal transition refused: %v", err)
				}
				st, ver, ev := store.state(v.ID)
				if got.Status != want || st != want || ver != version+1 || ev != events+1 || got.Version != ver {
					t.Fatalf("status %s/%s version %d→%d events %d→%d", got.Status, st, version, ver, events, ev)
				}
				tl, err := svc.Timelines(umOfficer, []uuid.UUID{v.ID})
				if err != nil {
					t.Fatal(err)
				}
				last := tl[v.ID][len(tl[v.ID])-1]
				if last.Action != a || last.FromStatus != from || last.ToStatus != want ||
					last.Actor != "u-urban-management@urban-management" || !last.At.Equal(clk.Now()) {
					t.Fatalf("event %+v", last)
				}
				stored, err := svc.Get(umOfficer, v.ID)
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

func TestTransitionRefusals(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := newService(store, officer(), clk)
	v, err := svc.Report(umOfficer, rooftop())
	if err != nil {
		t.Fatal(err)
	}
	noticed, err := svc.Report(umOfficer, rooftop())
	if err != nil {
		t.Fatal(err)
	}
	step(t, svc, umOfficer, noticed.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	park, err := svc.Report(fixture.As(context.Background(), violation.DeptTrafficPolice, "system"), parked())
	if err != nil {
		t.Fatal(err)
	}
	stale, days91, bad := 0, 91, -1.0
	other := newService(store, &access.Decision{Rows: access.RowScope{All: true}, Actions: []string{"report"}}, clk)
	elsewhere := newService(store, &access.Decision{Rows: access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}, Actions: []string{"handle"}}, clk)
	tests := []struct {
		name  string
		svc   *violation.Service
		id    uuid.UUID
		a     violation.Action
		in    violation.TransitionInput
		code  apperr.Code
		field string
	}{
		{"stale version", svc, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Version: &stale}, apperr.Conflict, ""},
		{"dismiss without reason", svc, v.ID, violation.ActionDismiss, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"notice of 91 days", svc, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Days: &days91}, apperr.BadUserInput, "days"},
		{"note too long", svc, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Note: strings.Repeat("注", 1001)}, apperr.BadUserInput, "note"},
		{"mark due before the deadline", svc, noticed.ID, violation.ActionMarkDue, violation.TransitionInput{}, apperr.BadUserInput, ""},
		{"legalize without reference", svc, noticed.ID, violation.ActionLegalize, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"penalize without decision", svc, noticed.ID, violation.ActionPenalize, violation.TransitionInput{}, apperr.BadUserInput, "note"},
		{"negative demolished area", svc, noticed.ID, violation.ActionDemolish, violation.TransitionInput{DemolishedAreaM2: &bad}, apperr.BadUserInput, "demolishedAreaM2"},
		{"urban management handling parking", svc, park.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.Forbidden, ""},
		{"no handle action", other, v.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.Forbidden, ""},
		{"outside the scope", elsewhere, v.ID, violation.ActionIssueNotice, violation.TransitionInput{}, apperr.NotFound, ""},
		{"unknown violation", svc, uuid.New(), violation.ActionIssueNotice, violation.TransitionInput{}, apperr.NotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := store.writeCount()
			_, err := tc.svc.Transition(umOfficer, tc.id, tc.a, tc.in)
			e, ok := apperr.As(err)
			if !ok || e.Code != tc.code || (tc.field != "" && e.Field != tc.field) {
				t.Fatalf("err = %v, want %s %s", err, tc.code, tc.field)
			}
			if store.writeCount() != before {
				t.Fatal("the refusal wrote")
			}
		})
	}
	// The traffic police handle illegal parking: notice at once, penalty;
	// it cannot be demolished or legalized.
	n := step(t, svc, tpOfficer, park.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	if n.Deadline == nil || !n.Deadline.Equal(clk.Now()) {
		t.Fatalf("parking deadline %v, want now", n.Deadline)
	}
	for _, a := range []violation.Action{violation.ActionDemolish, violation.ActionLegalize} {
		if _, err := svc.Transition(tpOfficer, park.ID, a, violation.TransitionInput{Note: "x"}); !apperr.Is(err, apperr.BadUserInput) {
			t.Fatalf("%s parking: %v", a, err)
		}
	}
	step(t, svc, tpOfficer, park.ID, violation.ActionPenalize, violation.TransitionInput{Note: "罚款 200 元"})
}

func TestNoticeDeadlinesAndSweep(t *testing.T) {
	store := newMemStore()
	// Friday 2025-09-26 10:00 Asia/Shanghai.
	clk := fixture.NewClock(time.Date(2025, 9, 26, 2, 0, 0, 0, time.UTC))
	svc := newService(store, officer(), clk)
	local := func(m time.Month, d, h int) time.Time {
		return time.Date(2025, m, d, h, 0, 0, 0, time.FixedZone("CST", 8*3600)).UTC()
	}
	advertising := rooftop()
	advertising.Kind, advertising.Subtype, advertising.AreaM2 = violation.KindIllegalAdvertising, "", nil
	dumping := rooftop()
	dumping.Kind, dumping.Subtype, dumping.AreaM2 = violation.KindDumping, violation.SubtypeConstructionWaste, nil
	tests := []struct {
		name string
		ctx  context.Context
		in   violation.ReportInput
		days *int
		want time.Time
	}{
		// 15 working days: 28, 29, 30 Sep, 9, 10, 11, 13–17, 20–23 Oct.
		{"construction, 15 days", umOfficer, rooftop(), nil, local(10, 23, 10)},
		{"construction, 3 days given", umOfficer, rooftop(), fixture.Ptr(3), local(9, 30, 10)},
		{"advertising, 1 day (the make-up Sunday)", umOfficer, advertising, nil, local(9, 28, 10)},
		{"dumping, 2 days", umOfficer, dumping, nil, local(9, 29, 10)},
		{"parking, immediately", tpOfficer, parked(), nil, local(9, 26, 10)},
	}
	ids := map[string]uuid.UUID{}
	for _, tc := range tests {
		v, err := svc.Report(tc.ctx, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		n := step(t, svc, tc.ctx, v.ID, violation.ActionIssueNotice, violation.TransitionInput{Days: tc.days})
		if n.Deadline == nil || !n.Deadline.Equal(tc.want) {
			t.Errorf("%s: deadline %v, want %v", tc.name, n.Deadline, tc.want)
		}
		ids[tc.name] = v.ID
	}
	// Sunday 28 September 12:00: the sweep moves the two missed notices.
	clk.Set(local(9, 28, 12))
	moved, err := svc.SweepDue(context.Background())
	if err != nil || moved != 2 {
		t.Fatalf("sweep moved %d (%v), want 2", moved, err)
	}
	due, err := svc.Count(umOfficer, violation.Filter{Statuses: []violation.Status{violation.StatusRectificationDue}})
	if err != nil || due != 2 {
		t.Fatalf("%d due after the sweep (%v), want 2", due, err)
	}
	tl, err := svc.Timelines(umOfficer, []uuid.UUID{ids["parking, immediately"]})
	if err != nil {
		t.Fatal(err)
	}
	if last := tl[ids["parking, immediately"]][2]; last.Action != violation.ActionMarkDue || last.Actor != violation.SweepActor {
		t.Fatalf("sweep event %+v", last)
	}
	if again, err := svc.SweepDue(context.Background()); err != nil || again != 0 {
		t.Fatalf("second sweep moved %d (%v)", again, err)
	}
}

func TestReportRules(t *testing.T) {
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	tests := []struct {
		name  string
		edit  func(*violation.ReportInput)
		field string
	}{
		{"unknown kind", func(in *violation.ReportInput) { in.Kind = "JAYWALKING" }, "kind"},
		{"missing subtype", func(in *violation.ReportInput) { in.Subtype = "" }, "subtype"},
		{"unknown channel", func(in *violation.ReportInput) { in.Channel = "PIGEON" }, "channel"},
		{"empty description", func(in *violation.ReportInput) { in.Description = " " }, "description"},
		{"outside the district", func(in *violation.ReportInput) { in.Lat, in.Lng = 31.23, 121.47 }, "location"},
		{"construction without area", func(in *violation.ReportInput) { in.AreaM2 = nil }, "areaM2"},
		{"plate on a building", func(in *violation.ReportInput) { in.Plate = "苏M12345" }, "plate"},
		{"bad id number", func(in *violation.ReportInput) { in.Party.IDNumber = "321202197503021234" }, "party.idNumber"},
		{"unknown jurisdiction", func(in *violation.ReportInput) { in.Jurisdiction = "hailing.nowhere" }, "jurisdiction"},
		{"the whole district", func(in *violation.ReportInput) { in.Jurisdiction = "hailing" }, "jurisdiction"},
		{"discovered in the future", func(in *violation.ReportInput) { in.DiscoveredAt = fixture.Ptr(clk.Now().Add(time.Hour)) }, "discoveredAt"},
		{"a case the caller cannot see", func(in *violation.ReportInput) { in.CaseID = fixture.Ptr(uuid.New()) }, "caseId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			in := rooftop()
			tc.edit(&in)
			_, err := newService(store, officer(), clk).Report(umOfficer, in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
			if store.writeCount() != 0 {
				t.Fatal("the refusal wrote")
			}
		})
	}
	store := newMemStore()
	svc := newService(store, officer(), clk)
	in := rooftop()
	in.CaseID = fixture.Ptr(store.addCase(fixture.GridChengdong))
	v, err := svc.Report(umOfficer, in)
	if err != nil || v.JurisdictionCode != fixture.GridChengdong || v.OwnerDept != violation.DeptUrbanManagement || v.Status != violation.StatusDiscovered {
		t.Fatalf("report with a visible case: %+v %v", v, err)
	}
	// A case outside the caller's rows on cases is unknown to it.
	narrow := officer()
	narrow.Rows = access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}
	in.CaseID = fixture.Ptr(store.addCase(fixture.GridChengdong))
	_, err = newService(store, narrow, clk).Report(umOfficer, in)
	if e, ok := apperr.As(err); !ok || e.Field != "caseId" {
		t.Fatalf("a case outside the scope: %v", err)
	}
	d := officer()
	d.Actions = []string{"handle"}
	if _, err := newService(store, d, clk).Report(umOfficer, rooftop()); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("report without the report action: %v", err)
	}
}

func TestUpsert(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := newService(store, officer(), clk)
	drone := fixture.As(context.Background(), violation.DeptUrbanManagement, "system")
	in := rooftop()
	if _, _, err := upsertViolation(drone, svc, in, nil); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("upsert without external id: %v", err)
	}
	in.ExternalID = "uav-0001"
	v, out, err := upsertViolation(drone, svc, in, nil)
	if err != nil || out != upsert.Created || v.Version != 1 {
		t.Fatalf("create: %v %v %+v", out, err, v)
	}
	// The same data again, written a little differently: nothing changes.
	again := in
	again.Description = "  " + in.Description + " "
	again.Party.IDNumber = strings.ToLower(in.Party.IDNumber)
	clk.Advance(time.Hour)
	before := store.writeCount()
	u, out, err := upsertViolation(drone, svc, again, nil)
	if err != nil || out != upsert.Unchanged || u.Version != 1 || u.ID != v.ID {
		t.Fatalf("resend: %v %v %+v", out, err, u)
	}
	if store.writeCount() != before {
		t.Fatal("the resend wrote")
	}
	// New data: version bump and an UPDATE event naming the fields.
	in.AreaM2 = fixture.Ptr(80.0)
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
	before = store.writeCount()
	if _, _, err := upsertViolation(drone, svc, in, &stale); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("stale version: %v", err)
	}
	if store.writeCount() != before {
		t.Fatal("the stale upsert wrote")
	}
	if u, out, err = upsertViolation(drone, svc, in, &cur); err != nil || out != upsert.Updated || u.Version != 3 {
		t.Fatalf("current version: %v %v %+v", out, err, u)
	}
	// The lifecycle is untouched by upserts.
	step(t, svc, umOfficer, v.ID, violation.ActionIssueNotice, violation.TransitionInput{})
	if u, out, err = upsertViolation(drone, svc, in, nil); err != nil || out != upsert.Unchanged || u.Status != violation.StatusNoticeIssued {
		t.Fatalf("after notice: %v %v %+v", out, err, u)
	}
	// The kind cannot change; Report refuses a known external id.
	changed := in
	changed.Kind, changed.Subtype, changed.AreaM2 = violation.KindDumping, violation.SubtypeConstructionWaste, nil
	if _, _, err := upsertViolation(drone, svc, changed, nil); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("kind change: %v", err)
	}
	if _, err := svc.Report(drone, in); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("report of a known external id: %v", err)
	}
	// Another department's system has its own key space.
	if _, out, err := upsertViolation(fixture.As(context.Background(), "street-chengdong", "system"), svc, in, nil); err != nil || out != upsert.Created {
		t.Fatalf("other source: %v %v", out, err)
	}
	// A closed file no longer changes, though the same data is still fine.
	step(t, svc, umOfficer, v.ID, violation.ActionDemolish, violation.TransitionInput{})
	step(t, svc, umOfficer, v.ID, violation.ActionClose, violation.TransitionInput{})
	if _, out, err := upsertViolation(drone, svc, in, nil); err != nil || out != upsert.Unchanged {
		t.Fatalf("resend of a closed file: %v %v", out, err)
	}
	in.Address = "另一地址"
	_, _, err = upsertViolation(drone, svc, in, nil)
	if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "externalId" {
		t.Fatalf("change of a closed file: %v", err)
	}
	// A record outside the caller's rows cannot be read through its key:
	// creating under the key meets the key's uniqueness.
	narrow := officer()
	narrow.Rows = access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}
	_, err = newService(store, narrow, clk).Upsert(drone, in, nil)
	if !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("upsert of a key outside the scope: %v, want CONFLICT", err)
	}
}

// upsertViolation is svc.Upsert with its result spread out.
func upsertViolation(ctx context.Context, svc *violation.Service, in violation.ReportInput, version *int) (*violation.Violation, upsert.Outcome, error) {
	res, err := svc.Upsert(ctx, in, version)
	return res.Record, res.Outcome, err
}
