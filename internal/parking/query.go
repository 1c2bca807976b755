package parking

import (
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
)

// Order is the sort order of a lot list. Each is a keyset with an index to
// match: (name, id), or id alone (ids are UUIDv7, so roughly creation order).
type Order string

// Lot list orders.
const (
	OrderName Order = "NAME"
	OrderID   Order = "ID"
)

// Valid reports whether o is a known order.
func (o Order) Valid() bool { return o == OrderName || o == OrderID }

// Filter narrows a lot list. Zero fields do not filter.
type Filter struct {
	Kind         Kind
	Jurisdiction string // subtree root
	OwnerDept    string
	Government   *bool
	Text         string // part of the name
}

// ListQuery is one page request. The cursor carries the last lot's id; the
// store reads that lot's sort key, so a cursor stays short and opaque.
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
}

// NearQuery asks the store for lots within Radius meters of a point,
// nearest first, Limit at most, continuing after After.
type NearQuery struct {
	Lat, Lng float64
	Radius   float64
	Limit    int
	After    *NearCursor
}

// NearCursor is the position after the last lot of a previous batch: its
// distance, and the ids already returned at exactly that distance (ties are
// rare but real: two lots of one building share a point). The nearest-first
// index scan orders by distance alone; a secondary sort key would defeat it.
type NearCursor struct {
	Distance float64
	Seen     []uuid.UUID
}

// Terms names the field group each part of a list request compares (the
// filter's set fields, the order o when given), for
// access.Decision.CheckFilter. A new filter field or order must be added
// here with its group: a filter on the contact would compare its group.
func (f Filter) Terms(o Order) []access.FilterTerm {
	var t access.Terms
	t.Add(f.Kind != "", "filter.kind", "core")
	t.Add(f.Jurisdiction != "", "filter.jurisdiction", "core")
	t.Add(f.OwnerDept != "", "filter.ownerDept", "core")
	t.Add(f.Government != nil, "filter.government", "core")
	t.Add(f.Text != "", "filter.text", "core") // the name
	t.Add(o != "", "orderBy", "core")          // name, id
	return t
}

// Request returns q's paging as a page request.
func (q ListQuery) Request() page.Request {
	return page.Request{First: q.First, After: q.After, Backward: q.Backward, Last: q.Last, Before: q.Before}
}
