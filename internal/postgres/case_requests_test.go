package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// handlingDept is the decision of a street office's officers on cases: the
// rows it handles, the handle action.
func handlingDept(dept string) *access.Decision {
	return &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{Depts: []string{dept}},
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "workflow": access.FieldVisible},
		Actions: []string{"handle"}}
}

// requestFixture is a case dispatched to street-chengdong on Tuesday
// 2025-06-10 10:00 local time (one working day: due Wednesday 10:00), with
// the command centre's and the street office's services on one clock.
type requestFixture struct {
	pool     *pgxpool.Pool
	clk      *fixture.Clock
	command  *cases.Service
	street   *cases.Service
	cmdCtx   context.Context
	streetCx context.Context
	c        *cases.Case
}

func newRequestFixture(t *testing.T) *requestFixture {
	t.Helper()
	pool := setup(t)
	f := &requestFixture{pool: pool, clk: fixture.NewClock(time.Date(2025, 6, 10, 1, 30, 0, 0, time.UTC))}
	f.command = newService(pool, commandCentre(), f.clk)
	f.street = newService(pool, handlingDept("street-chengdong"), f.clk)
	f.cmdCtx = as(context.Background(), "urban-management", "officer", "dispatcher")
	f.streetCx = as(context.Background(), "street-chengdong", "officer")
	c, err := f.command.Report(f.cmdCtx, validReport("requests-"+uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.command.Transition(f.cmdCtx, c.ID, cases.ActionRegister, cases.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(30 * time.Minute)
	if f.c, err = f.command.Transition(f.cmdCtx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"}); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 11, 2, 0, 0, 0, time.UTC); !f.c.Deadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", f.c.Deadline, want)
	}
	return f
}

func (f *requestFixture) get(t *testing.T) *cases.Case {
	t.Helper()
	c, err := f.command.Get(f.cmdCtx, f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *requestFixture) requests(t *testing.T) []*cases.Request {
	t.Helper()
	m, err := f.command.Requests(f.cmdCtx, []uuid.UUID{f.c.ID})
	if err != nil {
		t.Fatal(err)
	}
	return m[f.c.ID]
}

func wantCode(t *testing.T, what string, err error, code apperr.Code) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func TestDeferralRequestApproved(t *testing.T) {
	f := newRequestFixture(t)
	f.clk.Advance(time.Hour) // Tue 11:00
	defer2 := cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 2, Reason: "需协调供电部门迁移线杆"}
	r, err := f.street.RequestChange(f.streetCx, f.c.ID, defer2)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if r.Status != cases.RequestPending || r.RequestedDept != "street-chengdong" || !r.CaseDeadline.Equal(*f.c.Deadline) {
		t.Fatalf("request: %+v", r)
	}
	_, err = f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "again"})
	wantCode(t, "second pending request", err, apperr.Conflict)
	_, err = f.street.DecideRequest(f.streetCx, r.ID, true, "")
	wantCode(t, "the street office approving its own request", err, apperr.Forbidden)
	if got := f.get(t); got.Status != cases.StatusDispatched || got.DeferCount != 0 {
		t.Fatalf("case changed before approval: %+v", got)
	}

	f.clk.Advance(4 * time.Hour) // Tue 15:00: still before the deadline
	ok, err := f.command.DecideRequest(f.cmdCtx, r.ID, true, "同意")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if ok.Status != cases.RequestApproved || ok.DecidedBy != "u-urban-management@urban-management" || ok.DecidedAt == nil {
		t.Fatalf("approved: %+v", ok)
	}
	got := f.get(t)
	// Two working days from Wednesday 10:00 (the deadline), not from now:
	// Friday 10:00.
	if want := time.Date(2025, 6, 13, 2, 0, 0, 0, time.UTC); got.Status != cases.StatusDeferred || !got.Deadline.Equal(want) || got.DeferCount != 1 {
		t.Fatalf("deferred case: status %s deadline %v count %d, want DEFERRED %v 1", got.Status, got.Deadline, got.DeferCount, want)
	}
	tl, err := f.command.Timelines(f.cmdCtx, []uuid.UUID{f.c.ID})
	if err != nil {
		t.Fatal(err)
	}
	last := tl[f.c.ID][len(tl[f.c.ID])-1]
	if last.Action != cases.ActionDefer || !strings.Contains(last.Note, "需协调供电部门迁移线杆") || !strings.Contains(last.Note, "street-chengdong") {
		t.Fatalf("timeline event: %+v", last)
	}
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, false, "changed my mind")
	wantCode(t, "deciding twice", err, apperr.BadUserInput)
	if list := f.requests(t); len(list) != 1 || list[0].Status != cases.RequestApproved {
		t.Fatalf("requests: %+v", list)
	}
	pending, err := f.command.PendingRequests(f.cmdCtx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		if p.ID == r.ID {
			t.Fatalf("approved request still pending")
		}
	}
}

func TestBacklogRequestAndRejection(t *testing.T) {
	f := newRequestFixture(t)
	_, err := f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "  "})
	wantCode(t, "backlog without a reason", err, apperr.BadUserInput)
	_, err = f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 31, Reason: "x"})
	wantCode(t, "31 days", err, apperr.BadUserInput)
	other := newService(f.pool, handlingDept("water"), f.clk)
	_, err = other.RequestChange(as(context.Background(), "water", "officer"), f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "not ours"})
	if !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("another department asking: %v, want NOT_FOUND or FORBIDDEN", err)
	}

	r, err := f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "产权不明，需区里协调"})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := f.command.PendingRequests(f.cmdCtx, 100)
	if err != nil || !containsRequest(pending, r.ID) {
		t.Fatalf("inbox %v %v lacks the request", pending, err)
	}
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, false, "")
	wantCode(t, "reject without a note", err, apperr.BadUserInput)
	rej, err := f.command.DecideRequest(f.cmdCtx, r.ID, false, "先行处置")
	if err != nil || rej.Status != cases.RequestRejected || rej.DecisionNote != "先行处置" {
		t.Fatalf("reject: %+v %v", rej, err)
	}
	if got := f.get(t); got.Status != cases.StatusDispatched {
		t.Fatalf("rejected backlog moved the case: %s", got.Status)
	}

	r2, err := f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "再次申请挂账"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.command.DecideRequest(f.cmdCtx, r2.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if got := f.get(t); got.Status != cases.StatusBacklog {
		t.Fatalf("approved backlog: %s", got.Status)
	}
}

func containsRequest(list []*cases.Request, id uuid.UUID) bool {
	for _, r := range list {
		if r.ID == id {
			return true
		}
	}
	return false
}

// A late case stays late: nothing moves a deadline that has passed, and a
// request that waited past it expires.
func TestLateDeferralRefused(t *testing.T) {
	f := newRequestFixture(t)
	r, err := f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 3, Reason: "材料未到"})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(24 * time.Hour) // Wednesday 10:00: the deadline
	if got := r.StatusAt(f.clk.Now()); got != cases.RequestExpired {
		t.Fatalf("status at the deadline: %s, want EXPIRED", got)
	}
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, true, "")
	wantCode(t, "approving after the deadline", err, apperr.BadUserInput)
	_, err = f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "来不及了"})
	wantCode(t, "asking after the deadline", err, apperr.BadUserInput)
	_, err = f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 2, Note: "指挥中心直接缓办"})
	wantCode(t, "deferCase after the deadline", err, apperr.BadUserInput)
	_, err = f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionBacklog, cases.TransitionInput{Note: "挂账"})
	wantCode(t, "backlogCase after the deadline", err, apperr.BadUserInput)
	if got := f.get(t); got.Status != cases.StatusDispatched || !got.Deadline.Equal(*f.c.Deadline) || got.Version != f.c.Version {
		t.Fatalf("refusals changed the case: %+v", got)
	}
	pending, err := f.command.PendingRequests(f.cmdCtx, 100)
	if err != nil || !containsRequest(pending, r.ID) {
		t.Fatalf("the expired request should wait in the inbox to be rejected: %v %v", pending, err)
	}

	// Handled late, sent back: the rework sets a new deadline, against which
	// the department may ask again; the expired request lapses.
	cur := f.get(t)
	if _, err := f.street.Transition(f.streetCx, f.c.ID, cases.ActionHandle, cases.TransitionInput{Version: &cur.Version, Note: "已处理"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionRework, cases.TransitionInput{Note: "复核未通过"}); err != nil {
		t.Fatal(err)
	}
	r2, err := f.street.RequestChange(f.streetCx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 1, Reason: "返工需备料"})
	if err != nil {
		t.Fatalf("asking against the rework's deadline: %v", err)
	}
	list := f.requests(t)
	if len(list) != 2 || list[0].ID != r.ID || list[0].Status != cases.RequestRejected || list[0].DecidedBy != "hub" || list[1].ID != r2.ID {
		t.Fatalf("requests after the lapse: %+v %+v", list[0], list[len(list)-1])
	}
}

// The command centre's own deferCase and backlogCase follow the same rules
// and leave the same record.
func TestDirectDeferral(t *testing.T) {
	f := newRequestFixture(t)
	_, err := f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1})
	wantCode(t, "deferCase without a reason", err, apperr.BadUserInput)
	_, err = f.street.Transition(f.streetCx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1, Note: "x"})
	wantCode(t, "deferCase by the street office", err, apperr.Forbidden)
	f.clk.Advance(5 * time.Hour) // Tue 15:00
	c, err := f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1, Note: "恶劣天气"})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 6, 12, 2, 0, 0, 0, time.UTC); !c.Deadline.Equal(want) || c.Status != cases.StatusDeferred {
		t.Fatalf("deferCase: %s %v, want DEFERRED %v", c.Status, c.Deadline, want)
	}
	list := f.requests(t)
	if len(list) != 1 || list[0].Status != cases.RequestApproved || list[0].Reason != "恶劣天气" || list[0].DecidedBy != list[0].RequestedBy {
		t.Fatalf("record of the direct deferral: %+v", list)
	}
}
