package postgres_test

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/cases/casestest"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

func validReport(marker string) cases.ReportInput {
	return cases.ReportInput{
		Kind: cases.KindEvent, MinorCode: "0501", Source: cases.SourceHotline12345,
		Description: "青年路口店外经营占道 " + marker, Address: "青年路 18 号",
		Lat: 32.49, Lng: 119.92, Jurisdiction: "",
		ReporterName: "王小明", ReporterPhone: "13812345678",
	}
}

func countCases(t *testing.T, pool *pgxpool.Pool, marker string) (n, events int) {
	t.Helper()
	ctx := context.Background()
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM cases WHERE description LIKE '%' || $1", marker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id
		WHERE c.description LIKE '%' || $1`, marker).Scan(&events); err != nil {
		t.Fatal(err)
	}
	// Every timeline event is a change, and every change has its outbox row.
	var changes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox o JOIN cases c ON c.id::text = o.record_id
		WHERE o.dataset = 'cases' AND c.description LIKE '%' || $1`, marker).Scan(&changes); err != nil {
		t.Fatal(err)
	}
	if changes != events {
		t.Fatalf("%d timeline events but %d outbox rows", events, changes)
	}
	return n, events
}

func TestCaseLifecycle(t *testing.T) {
	pool := setup(t)
	// Tuesday 2025-06-10 09:00 Asia/Shanghai.
	clk := fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC))
	svc := newService(pool, commandCentre(), clk)
	ctx := as(context.Background(), "urban-management", "officer", "dispatcher")
	marker := "lifecycle-" + uuid.NewString()

	c, err := svc.Report(ctx, validReport(marker))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if c.Status != cases.StatusReported || !strings.HasPrefix(c.CaseNo, "HL2025-") || c.JurisdictionCode == "" {
		t.Fatalf("reported case: %+v", c)
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
	step(cases.ActionRegister, cases.TransitionInput{})
	d := step(cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"})
	// Dispatched Tue 10:00 local; 店外经营 has one working day: Wed 10:00.
	wantDeadline := time.Date(2025, 6, 11, 2, 0, 0, 0, time.UTC)
	if d.Deadline == nil || !d.Deadline.Equal(wantDeadline) {
		t.Fatalf("deadline = %v, want %v", d.Deadline, wantDeadline)
	}
	step(cases.ActionHandle, cases.TransitionInput{Note: "已劝离"})
	r := step(cases.ActionRework, cases.TransitionInput{Note: "复核仍有占道"})
	if r.Status != cases.StatusRework || r.ReworkCount != 1 || r.HandledAt != nil {
		t.Fatalf("after rework: %+v", r)
	}
	step(cases.ActionHandle, cases.TransitionInput{Note: "已清理"})
	closed := step(cases.ActionVerify, cases.TransitionInput{})
	if closed.Status != cases.StatusClosed || closed.ClosedAt == nil || closed.Overdue(clk.Now()) {
		t.Fatalf("closed: %+v", closed)
	}
	rated, err := svc.Rate(ctx, c.ID, 5, "处理及时")
	if err != nil || rated.Rating == nil || rated.Rating.Stars != 5 {
		t.Fatalf("rate: %+v %v", rated, err)
	}
	if _, err := svc.Rate(ctx, c.ID, 4, ""); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("second rating: %v, want CONFLICT", err)
	}

	tl, err := svc.Timelines(ctx, []uuid.UUID{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range tl[c.ID] {
		actions = append(actions, string(e.Action))
		if e.Actor != "u-urban-management@urban-management" || e.ActorDept != "urban-management" {
			t.Errorf("event actor %q/%q", e.Actor, e.ActorDept)
		}
	}
	want := "REPORT REGISTER DISPATCH SUBMIT_HANDLING VERIFY_FAIL SUBMIT_HANDLING VERIFY_PASS RATE"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("timeline %q, want %q", got, want)
	}
	got, err := svc.Get(ctx, c.ID)
	if err != nil || got.Version != 8 || got.Status != cases.StatusClosed {
		t.Fatalf("stored case: %+v %v", got, err)
	}
}

func TestTransitionRefusalsWriteNothing(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := "refuse-" + uuid.NewString()
	c, err := svc.Report(ctx, validReport(marker))
	if err != nil {
		t.Fatal(err)
	}
	stale := 0
	tests := []struct {
		name string
		a    cases.Action
		in   cases.TransitionInput
		code apperr.Code
	}{
		{"close before handling", cases.ActionVerify, cases.TransitionInput{}, apperr.BadUserInput},
		{"dispatch before registering", cases.ActionDispatch, cases.TransitionInput{Dept: "housing"}, apperr.BadUserInput},
		{"stale version", cases.ActionRegister, cases.TransitionInput{Version: &stale}, apperr.Conflict},
		{"decline without reason", cases.ActionDecline, cases.TransitionInput{}, apperr.BadUserInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Transition(ctx, c.ID, tc.a, tc.in)
			if !apperr.Is(err, tc.code) {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if tc.code == apperr.BadUserInput && tc.name != "decline without reason" && !strings.Contains(err.Error(), "REPORTED") {
				t.Errorf("message %q does not name the current status", err)
			}
			n, events := countCases(t, pool, marker)
			got, _ := svc.Get(ctx, c.ID)
			if n != 1 || events != 1 || got.Version != 1 || got.Status != cases.StatusReported {
				t.Fatalf("something was written: cases=%d events=%d case=%+v", n, events, got)
			}
		})
	}
	// Dispatch to an unknown department after registering: refused, nothing written.
	if _, err := svc.Transition(ctx, c.ID, cases.ActionRegister, cases.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "no-such-dept"}); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("unknown dept: %v", err)
	}
	if _, events := countCases(t, pool, marker); events != 2 {
		t.Fatalf("events = %d, want 2", events)
	}
	// Only the handling department (or the command centre) may handle.
	other := newService(pool, &access.Decision{Rows: access.RowScope{All: true}, Actions: []string{"handle"}}, nil)
	if _, err := other.Transition(as(context.Background(), "housing", "officer"), c.ID, cases.ActionRegister, cases.TransitionInput{}); !apperr.Is(err, apperr.Forbidden) {
		t.Fatalf("housing registering: %v, want FORBIDDEN", err)
	}
}

func TestConcurrentTransitionsOneWins(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	c, err := svc.Report(ctx, validReport("race-"+uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.Transition(ctx, c.ID, cases.ActionRegister, cases.TransitionInput{})
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
	if ok != 1 {
		t.Fatalf("%d registrations succeeded, want exactly 1", ok)
	}
}

func TestReportValidation(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := "invalid-" + uuid.NewString()
	tests := []struct {
		name  string
		edit  func(*cases.ReportInput)
		field string
	}{
		{"latitude out of range", func(in *cases.ReportInput) { in.Lat = 95 }, "location"},
		{"latitude not a number", func(in *cases.ReportInput) { in.Lat = math.NaN() }, "location"},
		{"outside the district", func(in *cases.ReportInput) { in.Lat, in.Lng = 31.23, 121.47 }, "location"},
		{"unknown class", func(in *cases.ReportInput) { in.MinorCode = "9999" }, "class"},
		{"empty description", func(in *cases.ReportInput) { in.Description = "   " }, "description"},
		{"bad phone", func(in *cases.ReportInput) { in.ReporterPhone = "12345" }, "reporterPhone"},
		{"unknown jurisdiction", func(in *cases.ReportInput) { in.Jurisdiction = "hailing.nowhere" }, "jurisdiction"},
		{"bad photo url", func(in *cases.ReportInput) { in.PhotoURLs = []string{"javascript:alert(1)"} }, "photoUrls[0]"},
		{"unknown source", func(in *cases.ReportInput) { in.Source = "PIGEON" }, "source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := validReport(marker)
			tc.edit(&in)
			_, err := svc.Report(ctx, in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.BadUserInput || e.Field != tc.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tc.field)
			}
			if n, _ := countCases(t, pool, marker); n != 0 {
				t.Fatalf("%d cases written", n)
			}
		})
	}
}

func TestRowScope(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	marker := "scope-" + uuid.NewString()
	in := validReport(marker)
	in.Jurisdiction = streetGrid(t, pool, "hailing.chengxi")
	inWest, err := svc.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Jurisdiction = streetGrid(t, pool, "hailing.chengdong")
	in.CitizenID = "cit-42"
	inEast, err := svc.Report(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	filter := cases.Filter{Text: marker}
	tests := []struct {
		name  string
		scope access.RowScope
		want  []uuid.UUID
	}{
		{"everything", access.RowScope{All: true}, []uuid.UUID{inWest.ID, inEast.ID}},
		{"street subtree", access.RowScope{Jurisdictions: []string{"hailing.chengdong"}}, []uuid.UUID{inEast.ID}},
		{"grid subtree", access.RowScope{Jurisdictions: []string{inWest.JurisdictionCode}}, []uuid.UUID{inWest.ID}},
		{"own reports", access.RowScope{CitizenID: "cit-42"}, []uuid.UUID{inEast.ID}},
		{"another citizen", access.RowScope{CitizenID: "cit-43"}, nil},
		{"handling department", access.RowScope{Depts: []string{"housing"}}, nil},
		{"empty scope", access.RowScope{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newService(pool, &access.Decision{Rows: tc.scope}, nil)
			p, err := s.List(ctx, filter, "", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := map[uuid.UUID]bool{}
			for _, c := range p.Cases {
				got[c.ID] = true
			}
			n, err := s.Count(ctx, filter)
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
			for _, c := range []*cases.Case{inWest, inEast} {
				_, err := s.Get(ctx, c.ID)
				visible := got[c.ID]
				if visible != (err == nil) {
					t.Errorf("Get %s: err %v, visible in list %v", c.ID, err, visible)
				}
				if !visible {
					// Outside the scope reads exactly like "does not exist".
					_, missing := s.Get(ctx, uuid.New())
					if err.Error() == "" || apperr.CodeOf(err) != apperr.CodeOf(missing) {
						t.Errorf("out of scope %v vs missing %v", err, missing)
					}
				}
			}
			many, err := s.GetMany(ctx, []uuid.UUID{inWest.ID, inEast.ID})
			if err != nil || len(many) != len(tc.want) {
				t.Fatalf("GetMany: %d %v", len(many), err)
			}
		})
	}
}

func streetGrid(t *testing.T, pool *pgxpool.Pool, street string) string {
	t.Helper()
	var code string
	if err := pool.QueryRow(context.Background(), `SELECT code FROM jurisdictions WHERE level = 'GRID' AND path <@ $1::ltree ORDER BY code LIMIT 1`, street).Scan(&code); err != nil {
		t.Fatal(err)
	}
	return code
}

// TestPaginationWalk walks every order page by page while other cases are
// being inserted and checks that every case present at the start is seen
// exactly once.
func TestPaginationWalk(t *testing.T) {
	pool := setup(t)
	base := time.Date(2025, 3, 3, 1, 0, 0, 0, time.UTC)
	clk := fixture.NewClock(base)
	svc := newService(pool, commandCentre(), clk)
	ctx := as(context.Background(), "urban-management", "officer", "dispatcher")
	marker := "walk-" + uuid.NewString()
	rng := rand.New(rand.NewPCG(1, 2))
	var initial []uuid.UUID
	for i := range 120 {
		in := validReport(marker)
		rt := base.Add(-time.Duration(rng.IntN(500)) * time.Hour).Truncate(time.Hour) // many equal timestamps
		in.ReportedAt = &rt
		c, err := svc.Report(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 { // a third keep no deadline
			mustStep(t, svc, ctx, c.ID, cases.ActionRegister, cases.TransitionInput{})
			clk.Advance(time.Duration(rng.IntN(3)) * time.Hour)
			mustStep(t, svc, ctx, c.ID, cases.ActionDispatch, cases.TransitionInput{Dept: "street-chengdong"})
		}
		initial = append(initial, c.ID)
	}
	for _, order := range []cases.Order{cases.OrderReportedDesc, cases.OrderReportedAsc, cases.OrderDeadlineAsc, cases.OrderDeadlineDesc} {
		t.Run(string(order), func(t *testing.T) {
			seen := map[uuid.UUID]int{}
			first := 17
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // concurrent writer
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					in := validReport(marker)
					rt := base.Add(-time.Duration(rng.IntN(500)) * time.Hour)
					in.ReportedAt = &rt
					if _, err := svc.Report(ctx, in); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var prev *cases.Case
			fixture.Walk(t, 201, func(after *string) (fixture.Page[*cases.Case], error) {
				p, err := svc.List(ctx, cases.Filter{Text: marker}, order, &first, after)
				if err != nil {
					return fixture.Page[*cases.Case]{}, err
				}
				return fixture.Page[*cases.Case]{Rows: p.Cases, HasNext: p.HasNext, Cursor: p.Cursor}, nil
			}, func(page, i int, c *cases.Case) {
				seen[c.ID]++
				if prev != nil && !ordered(order, prev, c) {
					t.Fatalf("page %d row %d out of order", page, i)
				}
				prev = c
			})
			close(stop)
			wg.Wait()
			for id, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", id, n)
				}
			}
			for _, id := range initial {
				if seen[id] != 1 {
					t.Errorf("initial case %s seen %d times", id, seen[id])
				}
			}
			// With the writer stopped: backward pages read the same list.
			fixture.CheckRelay(t, first, func(a page.Args) (fixture.RelayPage[uuid.UUID], error) {
				p, err := svc.ListPage(ctx, cases.Filter{Text: marker}, order, a)
				if err != nil {
					return fixture.RelayPage[uuid.UUID]{}, err
				}
				return relayPage(p.Cases, func(c *cases.Case) uuid.UUID { return c.ID }, p.HasNext, p.HasPrev, p.Cursor), nil
			})
		})
	}
}

func ordered(o cases.Order, a, b *cases.Case) bool {
	ka, kb := o.SortKey(a), o.SortKey(b)
	cmp := ka.Compare(kb)
	if cmp == 0 {
		cmp = strings.Compare(a.ID.String(), b.ID.String())
	}
	if o == cases.OrderReportedDesc || o == cases.OrderDeadlineDesc {
		return cmp > 0
	}
	return cmp < 0
}

func mustStep(t *testing.T, svc *cases.Service, ctx context.Context, id uuid.UUID, a cases.Action, in cases.TransitionInput) {
	t.Helper()
	if _, err := svc.Transition(ctx, id, a, in); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
}

func TestInvalidCursor(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	bad := "not-a-cursor"
	if _, err := svc.List(ctx, cases.Filter{}, "", nil, &bad); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("bad cursor: %v", err)
	}
	// A cursor from another order is refused too.
	if _, err := svc.Report(ctx, validReport("cursor-"+uuid.NewString())); err != nil {
		t.Fatal(err)
	}
	first := 1
	p, err := svc.List(ctx, cases.Filter{}, cases.OrderReportedDesc, &first, nil)
	if err != nil || len(p.Cases) == 0 {
		t.Fatalf("list: %v %v", p, err)
	}
	cur := p.Cursor(0)
	if _, err := svc.List(ctx, cases.Filter{}, cases.OrderDeadlineAsc, &first, &cur); !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("cursor of another order: %v", err)
	}
}

// TestJurisdictionFilterUnknownTopLevel: a filter naming no known subtree
// is refused (it used to match the whole district, then nothing at all,
// which read like an empty street); the district itself matches.
func TestJurisdictionFilterUnknownTopLevel(t *testing.T) {
	pool := setup(t)
	svc := newService(pool, commandCentre(), nil)
	ctx := as(context.Background(), "urban-management", "officer")
	if _, err := svc.Report(ctx, validReport("toplevel-"+uuid.NewString())); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"chengdong", "jiangyan"} {
		_, err := svc.Count(ctx, cases.Filter{Jurisdiction: code})
		if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != "filter.jurisdiction" {
			t.Errorf("filter %q: err = %v, want BAD_USER_INPUT on filter.jurisdiction", code, err)
		}
	}
	if n, err := svc.Count(ctx, cases.Filter{Jurisdiction: "hailing"}); err != nil || n == 0 {
		t.Errorf("filter hailing: %d cases, %v", n, err)
	}
}

// relayPage is a page of a domain list as fixture.CheckRelay reads it: the
// rows' ids.
func relayPage[T any](rows []T, id func(T) uuid.UUID, hasNext, hasPrev bool, cursor func(int) string) fixture.RelayPage[uuid.UUID] {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = id(r)
	}
	return fixture.RelayPage[uuid.UUID]{Rows: ids, HasNext: hasNext, HasPrev: hasPrev, Cursor: cursor}
}

// TestCaseStoreContract holds the PostgreSQL store to the contract the
// case service's in-memory fake is held to (internal/cases).
func TestCaseStoreContract(t *testing.T) {
	pool := setup(t)
	inside, _, _ := gridIn(t, pool, "hailing.chengdong")
	outside, _, _ := gridIn(t, pool, "hailing.chengxi")
	casestest.Contract(t, casestest.Fixture{Store: postgres.NewCaseStore(pool), Inside: inside, Outside: outside})
}

// TestListReadsOnlyAskedParts holds a list that skips parts of a case to
// the whole case with exactly those parts zero, for every combination.
func TestListReadsOnlyAskedParts(t *testing.T) {
	pool := setup(t)
	ctx := context.Background()
	svc := newService(pool, commandCentre(), fixture.NewClock(time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC)))
	c, err := svc.Report(as(ctx, "urban-management", "officer"), validReport("parts-"+uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	// Every optional column set, so a part read or left shows.
	citizen, compound := "parts-"+uuid.NewString(), uuid.New()
	jur := strings.Split(c.JurisdictionCode, ".")
	if _, err := pool.Exec(ctx, `INSERT INTO properties (id, owner_dept, name, lat, lng, jurisdiction_code, street_code,
		community_code, build_year, buildings, households, source_dept, external_id)
		VALUES ($1, 'housing', $5, 32.49, 119.92, $2, $3, $4, 2001, 6, 300, 'housing', $5)`,
		compound, c.JurisdictionCode, strings.Join(jur[:2], "."), strings.Join(jur[:3], "."), compound.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE cases SET citizen_id = $2, photo_urls = '{https://x/1.jpg}',
		registered_at = reported_at + interval '1 min', dispatched_at = reported_at + interval '2 min',
		handled_at = reported_at + interval '3 min', closed_at = reported_at + interval '4 min',
		first_handled_at = reported_at + interval '3 min', first_deadline = reported_at + interval '1 day',
		deadline = reported_at + interval '1 day', handling_dept = 'water', rework_count = 1, defer_count = 2,
		return_count = 3, rating = 4, rating_comment = 'ok', rated_at = reported_at + interval '5 min',
		external_id = 'ext-1', property_id = $3
		WHERE id = $1`, c.ID, citizen, compound); err != nil {
		t.Fatal(err)
	}
	store := postgres.NewCaseStore(pool)
	list := func(skip cases.Parts) cases.Case {
		t.Helper()
		got, _, err := store.List(ctx, access.RowScope{All: true}, cases.ListQuery{Filter: cases.Filter{CitizenID: citizen}, First: 5, Skip: skip})
		if err != nil || len(got) != 1 {
			t.Fatalf("skip %b: %d cases, %v", skip, len(got), err)
		}
		return *got[0]
	}
	whole := list(0)
	if whole.Rating == nil || whole.Rating.Stars != 4 || len(whole.PhotoURLs) != 1 || whole.ReturnCount != 3 ||
		whole.ExternalID != "ext-1" || whole.PropertyID == nil || whole.ReporterPhone == "" || whole.Lat == 0 ||
		whole.FirstDeadline == nil || whole.UpdatedAt.IsZero() {
		t.Fatalf("a whole case lacks a column: %+v", whole)
	}
	for skip := cases.Parts(1); skip <= cases.AllParts; skip++ {
		if got, want := list(skip), withoutParts(whole, skip); !reflect.DeepEqual(got, want) {
			t.Errorf("skip %06b:\n got %+v\nwant %+v", skip, got, want)
		}
	}
}

// withoutParts is c with the fields of the parts in skip zero.
func withoutParts(c cases.Case, skip cases.Parts) cases.Case {
	if skip&cases.PartReporter != 0 {
		c.ReporterName, c.ReporterPhone = "", ""
	}
	if skip&cases.PartText != 0 {
		c.Description, c.PhotoURLs = "", nil
	}
	if skip&cases.PartLocation != 0 {
		c.Lat, c.Lng = 0, 0
	}
	if skip&cases.PartTimeline != 0 {
		c.RegisteredAt, c.DispatchedAt, c.ClosedAt, c.FirstHandledAt, c.FirstDeadline = nil, nil, nil, nil, nil
		c.ReworkCount, c.DeferCount, c.ReturnCount = 0, 0, 0
	}
	if skip&cases.PartRating != 0 {
		c.Rating = nil
	}
	if skip&cases.PartRecord != 0 {
		c.SourceDept, c.ExternalID, c.PropertyID, c.CreatedAt, c.UpdatedAt = "", "", nil, time.Time{}, time.Time{}
	}
	return c
}
