package evaluation

import (
	"math"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
)

// RulesVersion identifies the contribution rules below. The rollups record
// the version that filled them; when it differs from this one, Refresh
// rebuilds them from the cases instead of subtracting contributions computed
// by other rules. Bump it whenever Contribute changes what it counts.
//
// Version 2: rework does not reset punctuality, closure is judged against
// the closure deadline, reports (declined ones too) contribute, and the
// reporting, dispatch, deferral, backlog and rework counters.
const RulesVersion = 2

// Counter indexes a rollup counter. Every counter is a sum over cases and is
// additive over months; the month a case counts in is stated per counter.
type Counter int

// Rollup counters. "Grain" counters exist once per period length (M, Q, Y)
// because they depend on whether something happened by the end of the
// period containing the month.
const (
	CRegistered           Counter = iota // registered (立案) in the month (registered_at)
	CCitizen                             // of those, raised by citizens (citizen app or 12345 hotline)
	CDispatched                          // dispatched in the month (dispatched_at)
	CHandled                             // handled in the month (handled_at; dispatched cases)
	CHandledOnTime                       // of those, handled on time: handled_at ≤ deadline and the first handling by its deadline
	CWorkSeconds                         // Σ working seconds dispatch → handling of those
	CHandleOpenM                         // deadline in the month, not handled by the end of the month (not in backlog)
	CHandleOpenQ                         // … not handled by the end of the quarter
	CHandleOpenY                         // … not handled by the end of the year
	CClosed                              // closed (结案) in the month (closed_at)
	CClosedOnTime                        // of those, closed_at ≤ closure deadline and the first handling by its deadline
	CReworkClosed                        // of those, reworked at least once
	CCloseOpenM                          // closure deadline in the month, not closed by the end of the month (not in backlog)
	CCloseOpenQ                          // … by the end of the quarter
	CCloseOpenY                          // … by the end of the year
	CReworkOpenM                         // CCloseOpenM cases reworked at least once
	CReworkOpenQ                         // CCloseOpenQ cases reworked at least once
	CReworkOpenY                         // CCloseOpenY cases reworked at least once
	CRated                               // closed in the month and rated
	CRatingSum                           // Σ stars of those
	COpenEOM                             // stock: dispatched, not closed, not in backlog at the end of the month (completed months only)
	COverdueEOM                          // stock: of those, past the deadline and not handled by it
	CReported                            // reports received in the month (reported_at), whatever became of them
	CReportDecided                       // of those, registered or declined
	CReportDeclined                      // of those, declined (不予立案, NOT_REGISTERED)
	CReportVerifiedOnTime                // of the decided, decided within the class's verification limit (按时核实)
	CDispatchReturned                    // dispatched in the month (last dispatch) and returned at least once (退回)
	CDispatchDeferred                    // dispatched in the month and deferred at least once (延期)
	CDispatchBacklog                     // dispatched in the month and now in backlog (挂账)
	CReworksClosed                       // Σ failed verifications (rework_count) of cases closed in the month
	CCheckedOnTime                       // closed in the month within the verification limit after the last handling (按时核查)
	CHist0                               // first handling-time histogram bucket (handled in the month); see HistEdgesHours
)

// HistEdgesHours are the upper bounds (inclusive, working hours) of the
// handling-time histogram buckets; a last bucket holds everything longer.
// One working day is 7.5 working hours.
var HistEdgesHours = []float64{0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 22.5, 30, 37.5, 52.5, 75, 112.5, 150, 225, 375}

// HistBuckets is the number of histogram buckets.
const HistBuckets = 19

// NumCounters is the number of rollup counters.
const NumCounters = int(CHist0) + HistBuckets

// Counters is one rollup cell.
type Counters [NumCounters]int64

// Add adds o into c.
func (c *Counters) Add(o *Counters) {
	for i := range c {
		c[i] += o[i]
	}
}

// Zero reports whether every counter is zero.
func (c *Counters) Zero() bool {
	for _, v := range c {
		if v != 0 {
			return false
		}
	}
	return true
}

// CounterColumns are the rollup tables' counter columns, in Counter order.
var CounterColumns = func() []string {
	cols := []string{"registered", "citizen", "dispatched", "handled", "handled_on_time", "work_seconds",
		"handle_open_m", "handle_open_q", "handle_open_y", "closed", "closed_on_time", "rework_closed",
		"close_open_m", "close_open_q", "close_open_y", "rework_open_m", "rework_open_q", "rework_open_y",
		"rated", "rating_sum", "open_eom", "overdue_eom",
		"reported", "report_decided", "report_declined", "report_verified_on_time",
		"dispatch_returned", "dispatch_deferred", "dispatch_backlog", "reworks_closed", "checked_on_time"}
	for i := range HistBuckets {
		cols = append(cols, "h"+string(rune('0'+i/10))+string(rune('0'+i%10)))
	}
	return cols
}()

// StockCounters are the counters that are a state at the end of a month
// rather than a flow during it: a period's value is its last month's.
func StockCounters() []Counter { return []Counter{COpenEOM, COverdueEOM} }

// histBucket returns the bucket of a handling time.
func histBucket(workSeconds int64) int {
	h := float64(workSeconds) / 3600
	for i, e := range HistEdgesHours {
		if h <= e {
			return i
		}
	}
	return HistBuckets - 1
}

// citizenSource reports whether a case of source s was raised by a citizen:
// through the citizen app or the 12345 hotline.
func citizenSource(s string) bool {
	return s == string(cases.SourceCitizenReport) || s == string(cases.SourceHotline12345)
}

// Key is one cell of the fine rollup: a month and every dimension.
type Key struct {
	Month     Month
	Street    string
	Community string // "" when the case lies outside any community
	Dept      string // handling department; "" until dispatched
	Kind      string
	Major     string
	Source    string
}

// CaseState is what the rollups read of a case (its row as it stands).
type CaseState struct {
	ID           uuid.UUID
	Street       string
	Community    string
	Dept         string
	Kind         string
	Major        string
	Minor        string // read for the class's limits; not a rollup dimension
	Source       string
	Status       string
	ReportedAt   *time.Time
	RegisteredAt *time.Time
	// DeclinedAt is when a report was declined (NOT_REGISTERED: the row's
	// last update, the status being terminal).
	DeclinedAt     *time.Time
	DispatchedAt   *time.Time
	Deadline       *time.Time
	HandledAt      *time.Time
	ClosedAt       *time.Time
	FirstHandledAt *time.Time
	FirstDeadline  *time.Time
	ReworkCount    int
	DeferCount     int
	ReturnCount    int
	Rating         *int
}

// Facts are a case's state plus what was derived from it when it was last
// applied to the rollups: the working time from dispatch to handling and
// the horizon. Stored in the ledger, they let the next refresh take the
// contribution back exactly, even if the calendar file changed meanwhile.
type Facts struct {
	CaseState
	// WorkSeconds is the working time dispatch → handling (nil unless both
	// are set).
	WorkSeconds *int64
	// Horizon is the month the stock counters were computed up to
	// (exclusive): the month of the refresh.
	Horizon Month
	// CloseDeadline is the closure deadline: the handling deadline plus the
	// class's verification limit (nil without a deadline).
	CloseDeadline *time.Time
	// ReportOnTime: the report was registered or declined within the
	// verification limit after it was received (nil until decided).
	ReportOnTime *bool
	// CheckOnTime: the case was closed within the verification limit after
	// its last handling (nil unless closed after a handling).
	CheckOnTime *bool
}

// Rules turn case states into rollup contributions. They hold the calendar
// (working time), the class catalogue (verification limits) and the time
// zone months are judged in.
type Rules struct {
	cal     WorkingTime
	loc     *time.Location
	classes *cases.Catalogue
}

// WorkingTime counts and adds working time (the hub's calendar.Calendar).
type WorkingTime interface {
	cases.Calendar
	WorkingDuration(from, to time.Time) time.Duration
	Location() *time.Location
}

// NewRules returns the rules for a calendar and the built-in class
// catalogue.
func NewRules(cal WorkingTime) *Rules {
	return &Rules{cal: cal, loc: cal.Location(), classes: cases.DefaultCatalogue()}
}

// class returns the class of a case; an unknown class gets the ordinary
// (non-emergency) verification limit.
func (r *Rules) class(s *CaseState) cases.Class {
	if c, ok := r.classes.Lookup(cases.Kind(s.Kind), s.Minor); ok {
		return c
	}
	return cases.Class{Kind: cases.Kind(s.Kind), MajorCode: s.Major, MinorCode: s.Minor}
}

// Location is the time zone months are judged in.
func (r *Rules) Location() *time.Location { return r.loc }

// HorizonAt returns the horizon of a refresh at now: the current month.
func (r *Rules) HorizonAt(now time.Time) Month { return MonthOf(now, r.loc) }

// Facts derives the facts of a case state at a horizon.
func (r *Rules) Facts(s CaseState, horizon Month) Facts {
	f := Facts{CaseState: s, Horizon: horizon}
	if s.DispatchedAt != nil && s.HandledAt != nil {
		ws := int64(r.cal.WorkingDuration(*s.DispatchedAt, *s.HandledAt) / time.Second)
		if ws < 0 {
			ws = 0
		}
		f.WorkSeconds = &ws
	}
	cl := r.class(&s)
	if s.Deadline != nil {
		f.CloseDeadline = ptr(cl.ClosureDeadline(r.cal, *s.Deadline))
	}
	decided := s.RegisteredAt
	if decided == nil {
		decided = s.DeclinedAt
	}
	if s.ReportedAt != nil && decided != nil {
		f.ReportOnTime = ptr(!decided.After(cl.VerifyBy(r.cal, *s.ReportedAt)))
	}
	if s.HandledAt != nil && s.ClosedAt != nil {
		f.CheckOnTime = ptr(!s.ClosedAt.After(cl.VerifyBy(r.cal, *s.HandledAt)))
	}
	return f
}

// firstLate reports whether the first handling came after the deadline it
// was judged against. Unknown (no first handling recorded, or a reworked
// case from before the first deadline was kept) is not late.
func (f *Facts) firstLate() bool {
	return f.FirstHandledAt != nil && f.FirstDeadline != nil && f.FirstHandledAt.After(*f.FirstDeadline)
}

// Contributes reports whether the case counts in any figure: every report
// does (declined reports count in the reporting figures only).
func (f *Facts) Contributes() bool {
	return f.ReportedAt != nil || f.RegisteredAt != nil || f.DispatchedAt != nil
}

func (f *Facts) backlog() bool { return f.Status == string(cases.StatusBacklog) }

// Sensitive reports whether the contribution depends on the horizon: the
// case is dispatched, not in backlog, and not closed before the end of the
// horizon month, so it may be open at the end of a month that has not ended
// yet. Such cases are recomputed when a new month begins, and the live part
// of the current period's figures reads them (a few thousand at 1M cases:
// the open ones). Timestamps are assumed not to lie in the future.
func (r *Rules) Sensitive(f *Facts) bool {
	if f.DispatchedAt == nil || f.backlog() {
		return false
	}
	return f.ClosedAt == nil || !f.ClosedAt.Before((f.Horizon + 1).Start(r.loc))
}

// Contribute calls add(key, counter, sign×value) for every counter the case
// adds to. The rules, which figures use them and why are in doc.go; in
// short, with every instant judged in Asia/Shanghai months:
//   - registered, citizen: month of registered_at;
//   - dispatched: month of dispatched_at;
//   - handled, on time, working time, histogram: month of handled_at
//     (dispatched cases);
//   - closed, on time, rework, rated, stars: month of closed_at;
//   - reported, decided, declined, verified on time: month of reported_at
//     (every report, declined ones too);
//   - returned, deferred, backlog: month of dispatched_at (the last
//     dispatch);
//   - handle "open" counters: month of the (final, extended) deadline, when
//     the case was not handled by the end of that month (quarter, year),
//     unless it is in backlog; close/rework "open" counters: the same for
//     the closure deadline and closing;
//   - stock counters: every completed month (before the horizon) at whose
//     end the case was dispatched, not closed and not in backlog.
//
// Figures are computed from the row as it stands: after a rework the row
// holds the last handling and the deadline set at the rework, and the first
// handling with its deadline: a case handled late the first time is never
// handled nor closed on time. Timelines are not replayed.
func (r *Rules) Contribute(f *Facts, sign int64, add func(k Key, c Counter, v int64)) {
	if !f.Contributes() {
		return
	}
	key := func(t time.Time) Key {
		return Key{Month: MonthOf(t, r.loc), Street: f.Street, Community: f.Community, Dept: f.Dept,
			Kind: f.Kind, Major: f.Major, Source: f.Source}
	}
	if f.ReportedAt != nil {
		f.contributeReport(key(*f.ReportedAt), sign, add)
	}
	if f.RegisteredAt != nil {
		k := key(*f.RegisteredAt)
		add(k, CRegistered, sign)
		if citizenSource(f.Source) {
			add(k, CCitizen, sign)
		}
	}
	if f.DispatchedAt == nil {
		return
	}
	backlog := f.backlog()
	{
		k := key(*f.DispatchedAt)
		add(k, CDispatched, sign)
		if f.ReturnCount > 0 {
			add(k, CDispatchReturned, sign)
		}
		if f.DeferCount > 0 {
			add(k, CDispatchDeferred, sign)
		}
		if backlog {
			add(k, CDispatchBacklog, sign)
		}
	}
	firstLate := f.firstLate()
	if f.HandledAt != nil {
		k := key(*f.HandledAt)
		add(k, CHandled, sign)
		if f.Deadline != nil && !f.HandledAt.After(*f.Deadline) && !firstLate {
			add(k, CHandledOnTime, sign)
		}
		var ws int64
		if f.WorkSeconds != nil {
			ws = *f.WorkSeconds
		}
		add(k, CWorkSeconds, sign*ws)
		add(k, CHist0+Counter(histBucket(ws)), sign)
	}
	if f.ClosedAt != nil {
		k := key(*f.ClosedAt)
		add(k, CClosed, sign)
		if f.CloseDeadline != nil && !f.ClosedAt.After(*f.CloseDeadline) && !firstLate {
			add(k, CClosedOnTime, sign)
		}
		if f.ReworkCount > 0 {
			add(k, CReworkClosed, sign)
			add(k, CReworksClosed, sign*int64(f.ReworkCount))
		}
		if f.CheckOnTime != nil && *f.CheckOnTime {
			add(k, CCheckedOnTime, sign)
		}
		if f.Rating != nil {
			add(k, CRated, sign)
			add(k, CRatingSum, sign*int64(*f.Rating))
		}
	}
	if backlog {
		return
	}
	if f.Deadline != nil {
		r.contributeDue(key(*f.Deadline), f.HandledAt, CHandleOpenM, -1, sign, add)
	}
	if f.CloseDeadline != nil {
		reworkOpen := Counter(-1)
		if f.ReworkCount > 0 {
			reworkOpen = CReworkOpenM
		}
		r.contributeDue(key(*f.CloseDeadline), f.ClosedAt, CCloseOpenM, reworkOpen, sign, add)
	}
	handledInTime := f.HandledAt != nil && f.Deadline != nil && !f.HandledAt.After(*f.Deadline)
	for m := MonthOf(*f.DispatchedAt, r.loc); m < f.Horizon; m++ {
		end := (m + 1).Start(r.loc)
		if f.ClosedAt != nil && f.ClosedAt.Before(end) {
			break
		}
		k := key(*f.DispatchedAt)
		k.Month = m
		add(k, COpenEOM, sign)
		if f.Deadline != nil && f.Deadline.Before(end) && !handledInTime {
			add(k, COverdueEOM, sign)
		}
	}
}

// contributeReport adds a report to the month it was received in (k).
func (f *Facts) contributeReport(k Key, sign int64, add func(k Key, c Counter, v int64)) {
	add(k, CReported, sign)
	if f.RegisteredAt == nil && f.DeclinedAt == nil {
		return
	}
	add(k, CReportDecided, sign)
	if f.RegisteredAt == nil {
		add(k, CReportDeclined, sign)
	}
	if f.ReportOnTime != nil && *f.ReportOnTime {
		add(k, CReportVerifiedOnTime, sign)
	}
}

// contributeDue adds the "open" counters of a deadline falling in k's
// month, for each period length (month, quarter, year) by whose end the
// case was not done (done: handled_at or closed_at): open is CHandleOpenM
// or CCloseOpenM, and reworkOpen, unless negative, CReworkOpenM.
func (r *Rules) contributeDue(k Key, done *time.Time, open, reworkOpen Counter, sign int64, add func(k Key, c Counter, v int64)) {
	for g := range 3 {
		if done != nil && done.Before(periodEnd(k.Month, g, r.loc)) {
			continue
		}
		add(k, open+Counter(g), sign)
		if reworkOpen >= 0 {
			add(k, reworkOpen+Counter(g), sign)
		}
	}
}

// p90Hours returns the nearest-rank 90th percentile of a histogram as the
// upper bound of the bucket that holds it (the last bucket reports its lower
// bound), and the rank used.
func p90Hours(hist []int64) (float64, int64, bool) {
	var n int64
	for _, v := range hist {
		n += v
	}
	if n == 0 {
		return 0, 0, false
	}
	rank := int64(math.Ceil(0.9 * float64(n)))
	var cum int64
	for i, v := range hist {
		cum += v
		if cum >= rank {
			if i < len(HistEdgesHours) {
				return HistEdgesHours[i], rank, true
			}
			return HistEdgesHours[len(HistEdgesHours)-1], rank, true
		}
	}
	return HistEdgesHours[len(HistEdgesHours)-1], rank, true
}
