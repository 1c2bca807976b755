package cases_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
)

// Tuesday 2025-06-10 09:00 Asia/Shanghai, a working day.
var tuesday = time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC)

func commandCentre() *access.Decision {
	return &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{All: true},
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "reporter": access.FieldVisible, "workflow": access.FieldVisible},
		Actions: []string{"report", "command", "handle"}}
}

// handlingDept is a department's decision: the cases dispatched to it.
func handlingDept(dept string) *access.Decision {
	return &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{Depts: []string{dept}},
		Fields:  map[string]access.FieldAccess{"core": access.FieldVisible, "workflow": access.FieldVisible},
		Actions: []string{"handle"}}
}

func newService(store *memStore, d *access.Decision, clk *fixture.Clock) *cases.Service {
	return cases.NewService(cases.Config{Store: store, Directory: fixture.NewDirectory(), Authorizer: fixture.Auth{D: d},
		Calendar: calendar.Default(), Now: clk.Now})
}

func commandCtx() context.Context {
	return fixture.As(context.Background(), cases.OwnerDept, "officer", "dispatcher")
}

func validReport() cases.ReportInput {
	return cases.ReportInput{
		Kind: cases.KindEvent, MinorCode: "0501", Source: cases.SourceHotline12345, // 店外经营: one working day
		Description: "青年路口店外经营占道", Address: "青年路 18 号", Lat: 32.49, Lng: 119.92,
		ReporterName: "王小明", ReporterPhone: "13812345678",
	}
}

func wantField(t *testing.T, what string, err error, code apperr.Code, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("%s: %v, want %s on %q", what, err, code, field)
	}
}

func wantCode(t *testing.T, what string, err error, code apperr.Code) {
	t.Helper()
	if !apperr.Is(err, code) {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

func TestReportFilesACase(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(tuesday)
	svc := newService(store, commandCentre(), clk)
	in := validReport()
	in.Description = "  " + in.Description + "  "
	c, err := svc.Report(commandCtx(), in)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != cases.StatusReported || c.Version != 1 || c.JurisdictionCode != fixture.GridChengdong ||
		c.OwnerDept != cases.OwnerDept || c.SourceDept != cases.OwnerDept || c.MajorCode != "05" ||
		!c.ReportedAt.Equal(tuesday) || c.Description != "青年路口店外经营占道" || c.PhotoURLs == nil {
		t.Fatalf("reported case: %+v", c)
	}
	tl, err := svc.Timelines(commandCtx(), []uuid.UUID{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if evs := tl[c.ID]; len(evs) != 1 || evs[0].Action != cases.ActionReport || evs[0].ToStatus != cases.StatusReported ||
		evs[0].Actor != "u-urban-management@urban-management" {
		t.Fatalf("timeline: %+v", evs)
	}
	// A named jurisdiction is kept when it exists.
	in = validReport()
	in.Jurisdiction = "hailing.chengxi"
	if c, err := svc.Report(commandCtx(), in); err != nil || c.JurisdictionCode != "hailing.chengxi" {
		t.Fatalf("named jurisdiction: %+v %v", c, err)
	}
	// A report dated in the past keeps its date.
	in = validReport()
	in.ReportedAt = fixture.Ptr(tuesday.Add(-time.Hour))
	if c, err := svc.Report(commandCtx(), in); err != nil || !c.ReportedAt.Equal(tuesday.Add(-time.Hour)) {
		t.Fatalf("dated report: %+v %v", c, err)
	}
}

func TestReportValidation(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*cases.ReportInput)
		field string
	}{
		{"latitude out of range", func(in *cases.ReportInput) { in.Lat = 95 }, "location"},
		{"latitude not a number", func(in *cases.ReportInput) { in.Lat = math.NaN() }, "location"},
		{"outside the district", func(in *cases.ReportInput) { in.Lat, in.Lng = 31.23, 121.47 }, "location"},
		{"unknown class", func(in *cases.ReportInput) { in.MinorCode = "9999" }, "class"},
		{"unknown kind", func(in *cases.ReportInput) { in.Kind = "RUMOUR" }, "class"},
		{"empty description", func(in *cases.ReportInput) { in.Description = "   " }, "description"},
		{"description too long", func(in *cases.ReportInput) { in.Description = strings.Repeat("字", 2001) }, "description"},
		{"address too long", func(in *cases.ReportInput) { in.Address = strings.Repeat("路", 201) }, "address"},
		{"bad phone", func(in *cases.ReportInput) { in.ReporterPhone = "12345" }, "reporterPhone"},
		{"name too long", func(in *cases.ReportInput) { in.ReporterName = strings.Repeat("王", 51) }, "reporterName"},
		{"malformed jurisdiction", func(in *cases.ReportInput) { in.Jurisdiction = "Hailing/East" }, "jurisdiction"},
		{"unknown jurisdiction", func(in *cases.ReportInput) { in.Jurisdiction = "hailing.nowhere" }, "jurisdiction"},
		{"bad photo url", func(in *cases.ReportInput) { in.PhotoURLs = []string{"javascript:alert(1)"} }, "photoUrls[0]"},
		{"ten photos", func(in *cases.ReportInput) { in.PhotoURLs = slices.Repeat([]string{"https://img.example/a.jpg"}, 10) }, "photoUrls"},
		{"unknown source", func(in *cases.ReportInput) { in.Source = "PIGEON" }, "source"},
		{"reported in the future", func(in *cases.ReportInput) { in.ReportedAt = fixture.Ptr(tuesday.Add(time.Hour)) }, "reportedAt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			svc := newService(store, commandCentre(), fixture.NewClock(tuesday))
			in := validReport()
			tc.edit(&in)
			_, err := svc.Report(commandCtx(), in)
			wantField(t, "report", err, apperr.BadUserInput, tc.field)
			if n := store.writeCount(); n != 0 {
				t.Fatalf("%d writes", n)
			}
		})
	}
	t.Run("without the report action", func(t *testing.T) {
		store := newMemStore()
		d := commandCentre()
		d.Actions = []string{"command"}
		_, err := newService(store, d, fixture.NewClock(tuesday)).Report(commandCtx(), validReport())
		wantCode(t, "report", err, apperr.Forbidden)
		if n := store.writeCount(); n != 0 {
			t.Fatalf("%d writes", n)
		}
	})
}

func TestCaseLifecycle(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(tuesday)
	svc := newService(store, commandCentre(), clk)
	ctx := commandCtx()
	c, err := svc.Report(ctx, validReport())
	if err != nil {
		t.Fatal(err)
	}
	step := func(a cases.Action, in cases.TransitionInput) *cases.Case {
		t.Helper()
		clk.Advance(30 * time.Minute)
		got, err := svc.Transition(ctx, c.ID, a, in)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		return got
	}
	if r := step(cases.ActionRegister, cases.TransitionInput{}); r.RegisteredAt == nil || r.Status != cases.StatusRegistered {
		t.Fatalf("registered: %+v", r)
	}
	d := step(cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong", Note: "请处理"})
	// Dispatched Tue 10:00 local; 店外经营 has one working day: Wed 10:00.
	if want := time.Date(2025, 6, 11, 2, 0, 0, 0, time.UTC); d.Deadline == nil || !d.Deadline.Equal(want) {
		t.Fatalf("deadline = %v, want %v", d.Deadline, want)
	}
	if d.HandlingDept != "street-chengdong" || d.DispatchedAt == nil || d.Status != cases.StatusDispatched {
		t.Fatalf("dispatched: %+v", d)
	}
	h := step(cases.ActionHandle, cases.TransitionInput{Note: "已劝离"})
	if h.HandledAt == nil || h.FirstHandledAt == nil || h.FirstDeadline == nil || !h.FirstDeadline.Equal(*d.Deadline) {
		t.Fatalf("handled: %+v", h)
	}
	r := step(cases.ActionRework, cases.TransitionInput{Note: "复核仍有占道"})
	// Rework at Tue 11:00 local: a fresh working day, Wed 11:00.
	if want := time.Date(2025, 6, 11, 3, 0, 0, 0, time.UTC); r.Status != cases.StatusRework || r.ReworkCount != 1 ||
		r.HandledAt != nil || r.Deadline == nil || !r.Deadline.Equal(want) {
		t.Fatalf("after rework: %+v, want deadline %v", r, want)
	}
	h2 := step(cases.ActionHandle, cases.TransitionInput{Note: "已清理"})
	if !h2.FirstHandledAt.Equal(*h.FirstHandledAt) {
		t.Fatalf("the first handling moved: %v, was %v", h2.FirstHandledAt, h.FirstHandledAt)
	}
	closed := step(cases.ActionVerify, cases.TransitionInput{})
	if closed.Status != cases.StatusClosed || closed.ClosedAt == nil || closed.Overdue(clk.Now()) {
		t.Fatalf("closed: %+v", closed)
	}
	_, err = svc.Rate(ctx, c.ID, 6, "")
	wantField(t, "six stars", err, apperr.BadUserInput, "stars")
	rated, err := svc.Rate(ctx, c.ID, 5, "处理及时")
	if err != nil || rated.Rating == nil || rated.Rating.Stars != 5 {
		t.Fatalf("rate: %+v %v", rated, err)
	}
	_, err = svc.Rate(ctx, c.ID, 4, "")
	wantCode(t, "second rating", err, apperr.Conflict)

	tl, err := svc.Timelines(ctx, []uuid.UUID{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range tl[c.ID] {
		actions = append(actions, string(e.Action))
	}
	if got, want := strings.Join(actions, " "), "REPORT REGISTER DISPATCH SUBMIT_HANDLING VERIFY_FAIL SUBMIT_HANDLING VERIFY_PASS RATE"; got != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
	if note := tl[c.ID][2].Note; note != "→ street-chengdong 请处理" {
		t.Errorf("dispatch note %q", note)
	}
	got, err := svc.Get(ctx, c.ID)
	if err != nil || got.Version != 8 || got.Status != cases.StatusClosed {
		t.Fatalf("stored case: %+v %v", got, err)
	}
}

func TestEmergencyDeadlineIsClockTime(t *testing.T) {
	store := newMemStore()
	// Saturday 2025-06-14 23:00 local: no working time for two days.
	clk := fixture.NewClock(time.Date(2025, 6, 14, 15, 0, 0, 0, time.UTC))
	svc := newService(store, commandCentre(), clk)
	ctx := commandCtx()
	in := validReport()
	in.MinorCode = "0401" // 路面塌陷: two clock hours
	c, err := svc.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, c.ID, cases.ActionRegister, cases.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	d, err := svc.Transition(ctx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "water"})
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(2 * time.Hour); d.Deadline == nil || !d.Deadline.Equal(want) {
		t.Fatalf("emergency deadline %v, want %v", d.Deadline, want)
	}
}

func TestTransitionRefusalsWriteNothing(t *testing.T) {
	store := newMemStore()
	svc := newService(store, commandCentre(), fixture.NewClock(tuesday))
	ctx := commandCtx()
	c, err := svc.Report(ctx, validReport())
	if err != nil {
		t.Fatal(err)
	}
	stale := 0
	tests := []struct {
		name  string
		a     cases.Action
		in    cases.TransitionInput
		code  apperr.Code
		field string
	}{
		{"close before handling", cases.ActionVerify, cases.TransitionInput{}, apperr.BadUserInput, ""},
		{"dispatch before registering", cases.ActionDispatch, cases.TransitionInput{Dept: "housing"}, apperr.BadUserInput, ""},
		{"handle before dispatch", cases.ActionHandle, cases.TransitionInput{}, apperr.BadUserInput, ""},
		{"stale version", cases.ActionRegister, cases.TransitionInput{Version: &stale}, apperr.Conflict, ""},
		{"decline without reason", cases.ActionDecline, cases.TransitionInput{Note: "  "}, apperr.BadUserInput, "note"},
		{"note too long", cases.ActionRegister, cases.TransitionInput{Note: strings.Repeat("注", 1001)}, apperr.BadUserInput, "note"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := store.writeCount()
			_, err := svc.Transition(ctx, c.ID, tc.a, tc.in)
			if !apperr.Is(err, tc.code) {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if e, _ := apperr.As(err); e.Field != tc.field {
				t.Errorf("field %q, want %q", e.Field, tc.field)
			}
			if tc.code == apperr.BadUserInput && tc.field == "" && !strings.Contains(err.Error(), "REPORTED") {
				t.Errorf("message %q does not name the current status", err)
			}
			got, _ := svc.Get(ctx, c.ID)
			if store.writeCount() != before || got.Version != 1 || got.Status != cases.StatusReported {
				t.Fatalf("something was written: case=%+v", got)
			}
		})
	}
	if _, err := svc.Transition(ctx, c.ID, cases.ActionRegister, cases.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	before := store.writeCount()
	_, err = svc.Transition(ctx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "no-such-dept"})
	wantField(t, "unknown dept", err, apperr.BadUserInput, "dept")
	_, err = svc.Transition(ctx, c.ID, cases.ActionDispatch, cases.TransitionInput{})
	wantField(t, "no dept", err, apperr.BadUserInput, "dept")
	_, err = svc.Transition(ctx, uuid.New(), cases.ActionDispatch, cases.TransitionInput{Dept: "housing"})
	wantCode(t, "unknown case", err, apperr.NotFound)
	if store.writeCount() != before {
		t.Fatal("a refused dispatch wrote")
	}
}

// The command centre takes the command actions; the department a case was
// dispatched to (holding "handle") takes the others on it, and no other
// department does.
func TestTransitionsByDepartment(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(tuesday)
	command := newService(store, commandCentre(), clk)
	c, err := command.Report(commandCtx(), validReport())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := command.Transition(commandCtx(), c.ID, cases.ActionRegister, cases.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	allRows := &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{All: true}, Actions: []string{"handle"}}
	housing := newService(store, allRows, clk)
	housingCtx := fixture.As(context.Background(), "housing", "officer")
	_, err = housing.Transition(housingCtx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "housing"})
	wantCode(t, "housing dispatching", err, apperr.Forbidden)
	if _, err := command.Transition(commandCtx(), c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"}); err != nil {
		t.Fatal(err)
	}
	_, err = housing.Transition(housingCtx, c.ID, cases.ActionHandle, cases.TransitionInput{})
	wantCode(t, "another department handling", err, apperr.Forbidden)

	street := newService(store, handlingDept("street-chengdong"), clk)
	streetCtx := fixture.As(context.Background(), "street-chengdong", "officer")
	_, err = street.Transition(streetCtx, c.ID, cases.ActionVerify, cases.TransitionInput{})
	wantCode(t, "the handling department verifying", err, apperr.Forbidden)
	_, err = street.Transition(streetCtx, c.ID, cases.ActionReturn, cases.TransitionInput{})
	wantField(t, "return without reason", err, apperr.BadUserInput, "note")
	ret, err := street.Transition(streetCtx, c.ID, cases.ActionReturn, cases.TransitionInput{Note: "不属本街道"})
	if err != nil || ret.Status != cases.StatusReturned || ret.ReturnCount != 1 {
		t.Fatalf("return: %+v %v", ret, err)
	}
	// Dispatched elsewhere, the case leaves the street office's rows.
	if _, err := command.Transition(commandCtx(), c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "water"}); err != nil {
		t.Fatal(err)
	}
	_, err = street.Transition(streetCtx, c.ID, cases.ActionHandle, cases.TransitionInput{})
	wantCode(t, "a case outside the department's rows", err, apperr.NotFound)
	water := newService(store, handlingDept("water"), clk)
	h, err := water.Transition(fixture.As(context.Background(), "water", "officer"), c.ID, cases.ActionHandle, cases.TransitionInput{Note: "已修复"})
	if err != nil || h.Status != cases.StatusHandled {
		t.Fatalf("water handling: %+v %v", h, err)
	}
}

func TestRowScope(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(tuesday)
	command := newService(store, commandCentre(), clk)
	ctx := commandCtx()
	east, err := command.Report(ctx, validReport())
	if err != nil {
		t.Fatal(err)
	}
	in := validReport()
	in.Jurisdiction = fixture.GridChengxi
	in.CitizenID = "citizen-7"
	west, err := command.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rows access.RowScope
		want []uuid.UUID
	}{
		{"all", access.RowScope{All: true}, []uuid.UUID{east.ID, west.ID}},
		{"street subtree", access.RowScope{Jurisdictions: []string{"hailing.chengxi"}}, []uuid.UUID{west.ID}},
		{"grid itself", access.RowScope{Jurisdictions: []string{fixture.GridChengdong}}, []uuid.UUID{east.ID}},
		{"a prefix is not a subtree", access.RowScope{Jurisdictions: []string{"hailing.cheng"}}, nil},
		{"owner department", access.RowScope{Depts: []string{cases.OwnerDept}}, []uuid.UUID{east.ID, west.ID}},
		{"another department", access.RowScope{Depts: []string{"housing"}}, nil},
		{"citizen", access.RowScope{CitizenID: "citizen-7"}, []uuid.UUID{west.ID}},
		{"nothing", access.RowScope{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := commandCentre()
			d.Rows = tc.rows
			svc := newService(store, d, clk)
			for _, id := range []uuid.UUID{east.ID, west.ID} {
				_, err := svc.Get(ctx, id)
				if visible := slices.Contains(tc.want, id); visible != (err == nil) || (!visible && !apperr.Is(err, apperr.NotFound)) {
					t.Errorf("get %s: %v, visible %v", id, err, visible)
				}
			}
			p, err := svc.List(ctx, cases.Filter{}, cases.OrderReportedAsc, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []uuid.UUID
			for _, c := range p.Cases {
				got = append(got, c.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("list %v, want %v", got, tc.want)
			}
			n, err := svc.Count(ctx, cases.Filter{})
			if err != nil || n != len(tc.want) {
				t.Errorf("count %d %v, want %d", n, err, len(tc.want))
			}
			many, err := svc.GetMany(ctx, []uuid.UUID{east.ID, west.ID, uuid.New()})
			if err != nil || len(many) != len(tc.want) {
				t.Errorf("get many: %d %v, want %d", len(many), err, len(tc.want))
			}
		})
	}
}

func TestListValidation(t *testing.T) {
	store := newMemStore()
	svc := newService(store, commandCentre(), fixture.NewClock(tuesday))
	ctx := commandCtx()
	other := cases.Page{Cases: []*cases.Case{{ID: uuid.New(), ReportedAt: tuesday}}, Order: cases.OrderReportedAsc}
	tests := []struct {
		name  string
		f     cases.Filter
		order cases.Order
		first *int
		after *string
		field string
	}{
		{"unknown order", cases.Filter{}, "SIDEWAYS", nil, nil, "orderBy"},
		{"negative first", cases.Filter{}, "", fixture.Ptr(-1), nil, "first"},
		{"first above the maximum", cases.Filter{}, "", fixture.Ptr(201), nil, "first"},
		{"garbage cursor", cases.Filter{}, "", nil, fixture.Ptr("not-a-cursor"), "after"},
		{"cursor of another order", cases.Filter{}, cases.OrderReportedDesc, nil, fixture.Ptr(other.Cursor(0)), "after"},
		{"minor class outside the major", cases.Filter{MajorCode: "01", MinorCode: "0501"}, "", nil, nil, "filter.minorCode"},
		{"text too long", cases.Filter{Text: strings.Repeat("字", 101)}, "", nil, nil, "filter.text"},
		{"malformed jurisdiction", cases.Filter{Jurisdiction: "Hailing!"}, "", nil, nil, "filter.jurisdiction"},
		{"unknown jurisdiction", cases.Filter{Jurisdiction: "hailing.nowhere"}, "", nil, nil, "filter.jurisdiction"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.List(ctx, tc.f, tc.order, tc.first, tc.after)
			wantField(t, "list", err, apperr.BadUserInput, tc.field)
		})
	}
	if p, err := svc.List(ctx, cases.Filter{}, "", fixture.Ptr(0), nil); err != nil || p.Order != cases.OrderReportedDesc {
		t.Fatalf("default order: %+v %v", p, err)
	}
	// Filtering on a group the caller may not read unmasked is FORBIDDEN.
	d := commandCentre()
	d.Fields = map[string]access.FieldAccess{"core": access.FieldMasked}
	_, err := newService(store, d, fixture.NewClock(tuesday)).List(ctx, cases.Filter{Text: "x"}, cases.OrderReportedAsc, nil, nil)
	wantField(t, "masked filter", err, apperr.Forbidden, "filter.text")
}

func TestListWalk(t *testing.T) {
	store := newMemStore()
	clk := fixture.NewClock(tuesday)
	svc := newService(store, commandCentre(), clk)
	ctx := commandCtx()
	var all []uuid.UUID
	for i := range 23 {
		in := validReport()
		// Pairs share a reporting time: the id breaks the tie.
		in.ReportedAt = fixture.Ptr(tuesday.Add(-time.Duration(i/2) * time.Minute))
		c, err := svc.Report(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c.ID)
	}
	for _, order := range []cases.Order{cases.OrderReportedDesc, cases.OrderReportedAsc} {
		t.Run(string(order), func(t *testing.T) {
			seen := map[uuid.UUID]int{}
			var prev *cases.Case
			first := 5
			fixture.Walk(t, 10, func(after *string) (fixture.Page[*cases.Case], error) {
				p, err := svc.List(ctx, cases.Filter{}, order, &first, after)
				if err != nil {
					return fixture.Page[*cases.Case]{}, err
				}
				return fixture.Page[*cases.Case]{Rows: p.Cases, HasNext: p.HasNext, Cursor: p.Cursor}, nil
			}, func(page, i int, c *cases.Case) {
				seen[c.ID]++
				if prev != nil {
					d := c.ReportedAt.Compare(prev.ReportedAt)
					if order == cases.OrderReportedDesc {
						d = -d
					}
					if d < 0 {
						t.Fatalf("page %d row %d out of order", page, i)
					}
				}
				prev = c
			})
			for _, id := range all {
				if seen[id] != 1 {
					t.Errorf("%s seen %d times", id, seen[id])
				}
			}
		})
	}
}

// requestFixture is a case dispatched to street-chengdong on Tuesday
// 2025-06-10 10:00 local time (one working day: due Wednesday 10:00).
type requestFixture struct {
	store             *memStore
	clk               *fixture.Clock
	command, street   *cases.Service
	cmdCtx, streetCtx context.Context
	c                 *cases.Case
}

func newRequestFixture(t *testing.T) *requestFixture {
	t.Helper()
	f := &requestFixture{store: newMemStore(), clk: fixture.NewClock(time.Date(2025, 6, 10, 1, 30, 0, 0, time.UTC))}
	f.command = newService(f.store, commandCentre(), f.clk)
	f.street = newService(f.store, handlingDept("street-chengdong"), f.clk)
	f.cmdCtx = commandCtx()
	f.streetCtx = fixture.As(context.Background(), "street-chengdong", "officer")
	c, err := f.command.Report(f.cmdCtx, validReport())
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

func TestDeferralRequestApproved(t *testing.T) {
	f := newRequestFixture(t)
	f.clk.Advance(time.Hour) // Tue 11:00
	_, err := f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 31, Reason: "x"})
	wantField(t, "31 days", err, apperr.BadUserInput, "extraDays")
	_, err = f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 2})
	wantField(t, "no reason", err, apperr.BadUserInput, "reason")
	_, err = f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: "LATER", Reason: "x"})
	wantField(t, "unknown kind", err, apperr.BadUserInput, "kind")

	r, err := f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 2, Reason: "需协调供电部门迁移线杆"})
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if r.Status != cases.RequestPending || r.RequestedDept != "street-chengdong" || !r.CaseDeadline.Equal(*f.c.Deadline) {
		t.Fatalf("request: %+v", r)
	}
	_, err = f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "again"})
	wantCode(t, "second pending request", err, apperr.Conflict)
	_, err = f.street.DecideRequest(f.streetCtx, r.ID, true, "")
	wantCode(t, "the street office approving its own request", err, apperr.Forbidden)
	if got := f.get(t); got.Status != cases.StatusDispatched || got.DeferCount != 0 {
		t.Fatalf("case changed before approval: %+v", got)
	}
	pending, err := f.command.PendingRequests(f.cmdCtx, 10)
	if err != nil || len(pending) != 1 || pending[0].ID != r.ID {
		t.Fatalf("pending: %+v %v", pending, err)
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
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, false, "changed my mind")
	wantCode(t, "deciding twice", err, apperr.BadUserInput)
	if pending, err := f.command.PendingRequests(f.cmdCtx, 10); err != nil || len(pending) != 0 {
		t.Fatalf("pending after approval: %+v %v", pending, err)
	}
}

func TestBacklogRequestRejected(t *testing.T) {
	f := newRequestFixture(t)
	r, err := f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, ExtraDays: 5, Reason: "涉及历史遗留问题"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ExtraDays != 0 {
		t.Errorf("a backlog request keeps extra days %d", r.ExtraDays)
	}
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, false, " ")
	wantField(t, "rejection without a note", err, apperr.BadUserInput, "note")
	no, err := f.command.DecideRequest(f.cmdCtx, r.ID, false, "请继续处置")
	if err != nil || no.Status != cases.RequestRejected {
		t.Fatalf("reject: %+v %v", no, err)
	}
	if got := f.get(t); got.Status != cases.StatusDispatched || got.Version != f.c.Version {
		t.Fatalf("a rejection changed the case: %+v", got)
	}
	// Rejected, the department may ask again.
	if _, err := f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "再次申请"}); err != nil {
		t.Fatalf("asking again: %v", err)
	}
}

func TestLateRequestsRefused(t *testing.T) {
	f := newRequestFixture(t)
	r, err := f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestDefer, ExtraDays: 1, Reason: "等待材料"})
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Set(*f.c.Deadline) // the deadline itself is late
	_, err = f.command.DecideRequest(f.cmdCtx, r.ID, true, "")
	wantCode(t, "approving an expired request", err, apperr.BadUserInput)
	_, err = f.street.RequestChange(f.streetCtx, f.c.ID, cases.RequestInput{Kind: cases.RequestBacklog, Reason: "太迟了"})
	wantCode(t, "asking after the deadline", err, apperr.BadUserInput)
	_, err = f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1, Note: "直接缓办"})
	wantCode(t, "deferring after the deadline", err, apperr.BadUserInput)
	if got := f.get(t); got.Status != cases.StatusDispatched || !got.Deadline.Equal(*f.c.Deadline) {
		t.Fatalf("a late refusal changed the case: %+v", got)
	}
	// An expired request may still be rejected.
	if no, err := f.command.DecideRequest(f.cmdCtx, r.ID, false, "已逾期"); err != nil || no.Status != cases.RequestRejected {
		t.Fatalf("rejecting an expired request: %+v %v", no, err)
	}
}

func TestDirectDeferral(t *testing.T) {
	f := newRequestFixture(t)
	_, err := f.street.Transition(f.streetCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1, Note: "x"})
	wantCode(t, "the street office deferring directly", err, apperr.Forbidden)
	_, err = f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1})
	wantField(t, "direct deferral without a note", err, apperr.BadUserInput, "note")
	c, err := f.command.Transition(f.cmdCtx, f.c.ID, cases.ActionDefer, cases.TransitionInput{ExtraDays: 1, Note: "天气原因"})
	if err != nil {
		t.Fatal(err)
	}
	// One working day from Wednesday 10:00: Thursday 10:00.
	if want := time.Date(2025, 6, 12, 2, 0, 0, 0, time.UTC); c.Status != cases.StatusDeferred || !c.Deadline.Equal(want) || c.DeferCount != 1 {
		t.Fatalf("deferred: %+v, want deadline %v", c, want)
	}
	reqs, err := f.command.Requests(f.cmdCtx, []uuid.UUID{f.c.ID})
	if err != nil || len(reqs[f.c.ID]) != 1 || reqs[f.c.ID][0].Status != cases.RequestApproved {
		t.Fatalf("recorded request: %+v %v", reqs, err)
	}
}

func TestReportIssueIsIdempotent(t *testing.T) {
	store := newMemStore()
	d := &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{CitizenID: "c-42"}, Actions: []string{"citizen-report"},
		Fields: map[string]access.FieldAccess{"core": access.FieldVisible}}
	svc := newService(store, d, fixture.NewClock(tuesday))
	citizen := access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindService, Subject: "app", Dept: "citizen-app",
		Roles: []string{access.RoleCitizenApp}, CitizenID: "c-42"})
	in := cases.CitizenReport{Kind: cases.KindEvent, MinorCode: "0501", Description: "门口占道", Lat: 32.49, Lng: 119.92}
	_, err := svc.ReportIssue(citizen, in, "short")
	wantField(t, "short key", err, apperr.BadUserInput, "idempotencyKey")
	_, err = svc.ReportIssue(commandCtx(), in, "key-00000001")
	wantCode(t, "staff reporting an issue", err, apperr.Forbidden)
	first, err := svc.ReportIssue(citizen, in, "key-00000001")
	if err != nil || first.Source != cases.SourceCitizenReport || first.CitizenID != "c-42" {
		t.Fatalf("first report: %+v %v", first, err)
	}
	in.Description = "重试时内容不同"
	again, err := svc.ReportIssue(citizen, in, "key-00000001")
	if err != nil || again.ID != first.ID || again.Description != first.Description {
		t.Fatalf("retry: %+v %v, want case %s unchanged", again, err, first.ID)
	}
	mine, err := svc.MyCases(citizen, nil, nil)
	if err != nil || len(mine.Cases) != 1 {
		t.Fatalf("my cases: %+v %v", mine, err)
	}
	// The staff report action does not let the app file a staff report.
	_, err = svc.Report(citizen, validReport())
	wantCode(t, "the app filing a staff report", err, apperr.Forbidden)
}
