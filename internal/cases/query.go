package cases

import (
	"time"

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
	// Now is the instant "overdue" is judged at.
	Now time.Time
}

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
