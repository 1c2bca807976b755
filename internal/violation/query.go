package violation

import (
	"time"

	"github.com/fengcheng/datahub/internal/access"

	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
)

// Order is the sort order of a violation list. Every order is a keyset over
// (key, id) with an index to match.
type Order string

// Violation list orders.
const (
	OrderDiscoveredDesc Order = "DISCOVERED_AT_DESC"
	OrderDiscoveredAsc  Order = "DISCOVERED_AT_ASC"
	OrderDeadlineAsc    Order = "DEADLINE_ASC" // violations without a deadline last
)

// Orders lists every order.
func Orders() []Order { return []Order{OrderDiscoveredDesc, OrderDiscoveredAsc, OrderDeadlineAsc} }

// Filter narrows a violation list. Zero fields do not filter.
type Filter struct {
	Kind     Kind
	Subtype  Subtype
	Statuses []Status
	// Jurisdiction is a subtree root (dotted code).
	Jurisdiction   string
	PropertyID     *uuid.UUID
	CaseID         *uuid.UUID
	DiscoveredFrom *time.Time // inclusive
	DiscoveredTo   *time.Time // exclusive
	Open           *bool
	// Overdue selects open violations past their deadline (see
	// Violation.Overdue), or with false everything else.
	Overdue *bool
	// Outcomes selects violations that ended so (demolished structures
	// apart from penalties, say).
	Outcomes []Outcome
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
}

// SortKey returns the key of v under order o (for cursors).
func (o Order) SortKey(v *Violation) time.Time {
	if o == OrderDeadlineAsc {
		if v.Deadline == nil {
			return Infinity
		}
		return *v.Deadline
	}
	return v.DiscoveredAt
}

// Infinity stands for "no deadline" in deadline order: such violations sort
// last. It matches PostgreSQL's 'infinity'::timestamptz in the store.
var Infinity = page.Infinity

// Terms names the field group each part of a list request compares (the
// filter's set fields, the order o when given), for
// access.Decision.CheckFilter. A new filter field or order must be added
// here with its group: a filter on the party or the plate would compare
// personal data.
func (f Filter) Terms(o Order) []access.FilterTerm {
	var t access.Terms
	t.Add(f.Kind != "", "filter.kind", "core")
	t.Add(f.Subtype != "", "filter.subtype", "core")
	t.Add(len(f.Statuses) > 0, "filter.status", "core")
	t.Add(f.Jurisdiction != "", "filter.jurisdiction", "core")
	t.Add(f.PropertyID != nil, "filter.propertyId", "core")
	t.Add(f.CaseID != nil, "filter.caseId", "core")
	t.Add(f.DiscoveredFrom != nil || f.DiscoveredTo != nil, "filter.discoveredFrom", "core")
	t.Add(f.Open != nil, "filter.open", "core")
	t.Add(f.Overdue != nil, "filter.overdue", "core")
	t.Add(len(f.Outcomes) > 0, "filter.outcome", "core")
	t.Add(o != "", "orderBy", "core") // discovery time, deadline
	return t
}

// Request returns q's paging as a page request.
func (q ListQuery) Request() page.Request {
	return page.Request{First: q.First, After: q.After, Backward: q.Backward, Last: q.Last, Before: q.Before}
}
