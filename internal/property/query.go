package property

import (
	"encoding/base64"
	"github.com/fengcheng/datahub/internal/access"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
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
	After  *Cursor
}

// Cursor is a position in a property list: the last row's sort key and id.
//
// internal/page's cursor carries a timestamp key; property lists sort by a
// name or a year, so they carry their own key in the same opaque style.
type Cursor struct {
	Order Order
	Name  string // key of name orders
	Year  int    // key of build-year orders
	ID    uuid.UUID
}

// CursorOf returns the cursor of p in order o.
func CursorOf(o Order, p *Property) Cursor {
	return Cursor{Order: o, Name: p.Name, Year: p.BuildYear, ID: p.ID}
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	key := c.Name
	if !c.Order.ByName() {
		key = strconv.Itoa(c.Year)
	}
	// The id and the order never contain '|'; the name may, so it sits in
	// the middle and is recovered from the outer separators.
	return base64.RawURLEncoding.EncodeToString([]byte(string(c.Order) + "|" + key + "|" + c.ID.String()))
}

// DecodeCursor parses an opaque cursor and checks it belongs to order.
func DecodeCursor(s string, order Order) (Cursor, error) {
	bad := apperr.Invalid("after", "the cursor is not valid for this list; start again without 'after'")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	str := string(raw)
	first, last := strings.IndexByte(str, '|'), strings.LastIndexByte(str, '|')
	if first < 0 || first == last || Order(str[:first]) != order {
		return Cursor{}, bad
	}
	id, err := uuid.Parse(str[last+1:])
	if err != nil {
		return Cursor{}, bad
	}
	c := Cursor{Order: order, ID: id}
	key := str[first+1 : last]
	if order.ByName() {
		c.Name = key
	} else if c.Year, err = strconv.Atoi(key); err != nil {
		return Cursor{}, bad
	}
	return c, nil
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
