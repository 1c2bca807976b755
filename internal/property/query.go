package property

import (
	"strconv"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/page"
)

// Order is the sort order of a property list. Every order is a keyset over
// (key, id) with an index to match.
type Order string

// Property list orders.
const (
	OrderNameAsc       Order = "NAME_ASC"
	OrderNameDesc      Order = "NAME_DESC"
	OrderBuildYearAsc  Order = "BUILD_YEAR_ASC"
	OrderBuildYearDesc Order = "BUILD_YEAR_DESC"
)

// Valid reports whether o is a known order.
func (o Order) Valid() bool {
	switch o {
	case OrderNameAsc, OrderNameDesc, OrderBuildYearAsc, OrderBuildYearDesc:
		return true
	}
	return false
}

// ByName reports whether o sorts by name (else by build year).
func (o Order) ByName() bool { return o == OrderNameAsc || o == OrderNameDesc }

// Desc reports whether o sorts descending.
func (o Order) Desc() bool { return o == OrderNameDesc || o == OrderBuildYearDesc }

// Filter narrows a property list. Zero fields do not filter.
type Filter struct {
	Jurisdiction  string // subtree root
	Renovation    []RenovationStatus
	BuildYearFrom *int // inclusive
	BuildYearTo   *int // inclusive
	// HasManagement selects compounds with (true) or without (false) a
	// property-management company.
	HasManagement *bool
	// Text matches the name or the address.
	Text string
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
}

// CursorOf returns the cursor of p in order o: its name or its build year,
// and its id.
func (o Order) CursorOf(p *Property) page.Cursor {
	if o.ByName() {
		return page.Of(string(o), p.Name, p.ID)
	}
	return page.Of(string(o), strconv.Itoa(p.BuildYear), p.ID)
}

// keyKind is the kind of o's sort key.
func (o Order) keyKind() page.KeyKind {
	if o.ByName() {
		return page.TextKey
	}
	return page.IntKey
}

// Terms names the field group each part of a list request compares (the
// filter's set fields, the order o when given), for
// access.Decision.CheckFilter. A new filter field or order must be added
// here with its group.
func (f Filter) Terms(o Order) []access.FilterTerm {
	var t access.Terms
	t.Add(f.Jurisdiction != "", "filter.jurisdiction", "public")
	t.Add(len(f.Renovation) > 0, "filter.renovation", "public")
	t.Add(f.BuildYearFrom != nil || f.BuildYearTo != nil, "filter.buildYearFrom", "public")
	t.Add(f.HasManagement != nil, "filter.hasManagement", "core") // the management company
	t.Add(f.Text != "", "filter.text", "public")                  // name and address
	t.Add(o != "", "orderBy", "public")                           // name, build year
	return t
}

// Request returns q's paging as a page request.
func (q ListQuery) Request() page.Request {
	return page.Request{First: q.First, After: q.After, Backward: q.Backward, Last: q.Last, Before: q.Before}
}
