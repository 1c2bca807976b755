package violation

import (
	"time"

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
}

// ListQuery is one page request.
type ListQuery struct {
	Filter Filter
	Order  Order
	First  int
	After  *page.Cursor
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
