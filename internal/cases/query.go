package cases

import (
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/page"
)

// Order is the sort order of a case list. Every order is a keyset over
// (key, id) with an index to match.
type Order string

// Case list orders.
const (
	OrderReportedDesc Order = "REPORTED_AT_DESC"
	OrderReportedAsc  Order = "REPORTED_AT_ASC"
	OrderDeadlineAsc  Order = "DEADLINE_ASC"
	OrderDeadlineDesc Order = "DEADLINE_DESC"
)

// Valid reports whether o is a known order.
func (o Order) Valid() bool {
	switch o {
	case OrderReportedDesc, OrderReportedAsc, OrderDeadlineAsc, OrderDeadlineDesc:
		return true
	}
	return false
}

// Filter narrows a case list. Zero fields do not filter.
type Filter struct {
	Statuses     []Status
	Open         *bool
	Kind         Kind
	MajorCode    string
	MinorCode    string
	Sources      []Source
	Jurisdiction string // subtree root
	HandlingDept string
	Overdue      *bool
	ReportedFrom *time.Time
	ReportedTo   *time.Time
	ClosedFrom   *time.Time
	ClosedTo     *time.Time
	Text         string
	CitizenID    string
}

// ListQuery is one page request.
type ListQuery struct {
	Filter Filter
	Order  Order
	First  int
	After  *page.Cursor
	// Backward pages (last/before) are the Last rows before Before (the
	// list's end when nil), in the list's order.
	Backward bool
	Last     int
	Before   *page.Cursor
	// Now is the instant "overdue" is judged at.
	Now time.Time
	// Skip names parts of a case the caller will not read; the store may
	// leave them zero. Zero reads whole cases.
	Skip Parts
}

// Parts are groups of a case's fields that a list may leave unread. A case
// always carries what identifies, orders, classifies, scopes and judges it
// (id, number, departments, kind, codes, source, status, address,
// jurisdiction, citizen, reported, deadline, handled, version); a page
// written for one screen rarely needs the rest, and reading the rest costs
// the database and the decoder more than the page itself.
type Parts uint8

// The parts of a case.
const (
	PartReporter Parts = 1 << iota // reporter name and phone
	PartText                       // description and photo URLs
	PartLocation                   // latitude and longitude
	PartTimeline                   // registered, dispatched, closed, first handling and deadline; rework, defer and return counts
	PartRating                     // the citizen's rating
	PartRecord                     // source department, external id, compound, created and updated

	AllParts = PartReporter | PartText | PartLocation | PartTimeline | PartRating | PartRecord
)

// SortKey returns the key of c under order o (for cursors).
func (o Order) SortKey(c *Case) time.Time {
	switch o {
	case OrderDeadlineAsc, OrderDeadlineDesc:
		if c.Deadline == nil {
			return Infinity
		}
		return *c.Deadline
	default:
		return c.ReportedAt
	}
}

// Infinity stands for "no deadline" in deadline order: such cases sort last.
// It matches PostgreSQL's 'infinity'::timestamptz as pgx reads it back.
var Infinity = page.Infinity

// Terms names the field group each part of a list request compares (the
// filter's set fields, the order o when given), for
// access.Decision.CheckFilter. A new filter field or order must be added
// here with its group. CitizenID is the citizen app's own scope, not a
// caller's filter.
func (f Filter) Terms(o Order) []access.FilterTerm {
	var t access.Terms
	t.Add(len(f.Statuses) > 0, "filter.status", "core")
	t.Add(f.Open != nil, "filter.open", "core")
	t.Add(f.Kind != "", "filter.kind", "core")
	t.Add(f.MajorCode != "", "filter.majorCode", "core")
	t.Add(f.MinorCode != "", "filter.minorCode", "core")
	t.Add(len(f.Sources) > 0, "filter.source", "core")
	t.Add(f.Jurisdiction != "", "filter.jurisdiction", "core")
	t.Add(f.HandlingDept != "", "filter.handlingDept", "core")
	t.Add(f.Overdue != nil, "filter.overdue", "core")
	t.Add(f.ReportedFrom != nil || f.ReportedTo != nil, "filter.reportedFrom", "core")
	t.Add(f.ClosedFrom != nil || f.ClosedTo != nil, "filter.closedFrom", "core")
	t.Add(f.Text != "", "filter.text", "core") // the description
	t.Add(o != "", "orderBy", "core")          // reported time, deadline
	return t
}

// Request returns q's paging as a page request.
func (q ListQuery) Request() page.Request {
	return page.Request{First: q.First, After: q.After, Backward: q.Backward, Last: q.Last, Before: q.Before}
}
