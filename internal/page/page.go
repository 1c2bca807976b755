// Package page implements opaque keyset cursors for Relay-style connections.
// A cursor records the sort order it belongs to, the sort key of the last row
// and its id, so the next page is "rows after (key, id)": no OFFSET, stable
// while rows are inserted during a walk; a backward page (Relay's last and
// before) is "the rows before (key, id)", read the other way and turned
// back. Every dataset's lists use this one cursor; only the kind of key (a
// time, a number, a text) differs.
package page

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// Page sizes.
const (
	FirstDefault = 20
	FirstMax     = 200
)

// Infinity stands for "no deadline" in deadline orders: such rows sort last.
// The stores map it to PostgreSQL's 'infinity'::timestamptz.
var Infinity = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// KeyKind is what a list's sort key is: a cursor is checked against it when
// decoded, so a store never sees a key it cannot compare.
type KeyKind int

// Sort key kinds.
const (
	// TextKey sorts by a text (a name).
	TextKey KeyKind = iota
	// TimeKey sorts by an instant, kept to the microsecond (PostgreSQL's
	// precision).
	TimeKey
	// IntKey sorts by a whole number (a year).
	IntKey
)

// Cursor is a position in an ordered list: the order it belongs to, the
// sort key of the last row in text form, and the row's id (the tie-break).
type Cursor struct {
	Order string
	Key   string
	ID    uuid.UUID
}

// At returns the cursor of a row sorted by an instant.
func At(order string, key time.Time, id uuid.UUID) Cursor {
	return Cursor{Order: order, Key: strconv.FormatInt(key.UnixMicro(), 10), ID: id}
}

// Of returns the cursor of a row sorted by a text or a number (IntKey keys
// are given as strconv.Itoa of the number).
func Of(order, key string, id uuid.UUID) Cursor { return Cursor{Order: order, Key: key, ID: id} }

// Time returns the key of a TimeKey cursor (zero for any other).
func (c Cursor) Time() time.Time {
	micros, err := strconv.ParseInt(c.Key, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(micros).UTC()
}

// Int returns the key of an IntKey cursor (0 for any other).
func (c Cursor) Int() int {
	n, _ := strconv.Atoi(c.Key)
	return n
}

// Encode returns the opaque form of c. The order and the id never contain
// '|'; a text key may, so it sits in the middle and is recovered from the
// outer separators.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.Order + "|" + c.Key + "|" + c.ID.String()))
}

// errCursor is the error of any cursor that does not fit its list.
func errCursor(field string) error {
	return apperr.Invalid(field, "the cursor is not valid for this list; start again without '%s'", field)
}

// Decode parses an opaque cursor and checks that it belongs to order and
// that its key is of kind. BAD_USER_INPUT on field "after" otherwise.
func Decode(s, order string, kind KeyKind) (Cursor, error) {
	return decode("after", s, order, kind)
}

// decode is Decode reporting a bad cursor on field.
func decode(field, s, order string, kind KeyKind) (Cursor, error) {
	bad := errCursor(field)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	str := string(raw)
	first, last := strings.IndexByte(str, '|'), strings.LastIndexByte(str, '|')
	if first < 0 || first == last || str[:first] != order {
		return Cursor{}, bad
	}
	id, err := uuid.Parse(str[last+1:])
	if err != nil {
		return Cursor{}, bad
	}
	key := str[first+1 : last]
	switch kind {
	case TimeKey:
		_, err = strconv.ParseInt(key, 10, 64)
	case IntKey:
		_, err = strconv.Atoi(key)
	}
	if err != nil {
		return Cursor{}, bad
	}
	return Cursor{Order: order, Key: key, ID: id}, nil
}

// After decodes a list's optional after argument: nil when it is absent or
// empty, else the cursor, which must belong to order and have a key of
// kind.
func After(after *string, order string, kind KeyKind) (*Cursor, error) {
	return optCursor("after", after, order, kind)
}

func optCursor(field string, s *string, order string, kind KeyKind) (*Cursor, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	c, err := decode(field, *s, order, kind)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Size validates a requested page size and applies the default.
func Size(first *int) (int, error) {
	return size("first", first)
}

func size(field string, n *int) (int, error) {
	if n == nil {
		return FirstDefault, nil
	}
	if *n < 0 || *n > FirstMax {
		return 0, apperr.Invalid(field, "must be between 0 and %d", FirstMax)
	}
	return *n, nil
}

// Args are a list's Relay arguments as the client gave them: first/after
// page forward, last/before backward.
type Args struct {
	First  *int
	After  *string
	Last   *int
	Before *string
}

// Direction reports whether a pages backward (last or before given), and
// refuses a mix of the two directions: first with last, after with last,
// before with first, after with before (BAD_USER_INPUT naming the argument
// that does not fit).
func (a Args) Direction() (backward bool, err error) {
	given := func(s *string) bool { return s != nil && *s != "" }
	switch {
	case a.First != nil && a.Last != nil:
		return false, apperr.Invalid("last", "give first (forward) or last (backward), not both")
	case a.Last != nil && given(a.After):
		return false, apperr.Invalid("after", "after pages forward with first; page backward from a cursor with before")
	case a.First != nil && given(a.Before):
		return false, apperr.Invalid("before", "before pages backward with last; page forward from a cursor with after")
	case given(a.After) && given(a.Before):
		return false, apperr.Invalid("before", "give after (forward) or before (backward), not both")
	}
	return a.Last != nil || given(a.Before), nil
}

// Request is a validated page request. A forward page is the First rows
// after After (the list's start when nil); a backward page is the Last
// rows before Before (the list's end when nil), still in the list's order.
type Request struct {
	First int
	After *Cursor
	// Backward is set by last or before.
	Backward bool
	Last     int
	Before   *Cursor
}

// Size is the number of rows the request asks for in its direction.
func (r Request) Size() int {
	if r.Backward {
		return r.Last
	}
	return r.First
}

// Parse validates a list's first and after arguments for a list in order
// whose sort key is of kind.
func Parse(first *int, after *string, order string, kind KeyKind) (Request, error) {
	return ParseArgs(Args{First: first, After: after}, order, kind)
}

// ParseArgs validates a list's Relay arguments for a list in order whose
// sort key is of kind; Args.Direction says which mixes it refuses.
func ParseArgs(a Args, order string, kind KeyKind) (Request, error) {
	backward, err := a.Direction()
	if err != nil {
		return Request{}, err
	}
	if backward {
		n, err := size("last", a.Last)
		if err != nil {
			return Request{}, err
		}
		cur, err := optCursor("before", a.Before, order, kind)
		if err != nil {
			return Request{}, err
		}
		return Request{Backward: true, Last: n, Before: cur}, nil
	}
	n, err := size("first", a.First)
	if err != nil {
		return Request{}, err
	}
	cur, err := After(a.After, order, kind)
	if err != nil {
		return Request{}, err
	}
	return Request{First: n, After: cur}, nil
}

// Info is where a page sits in its list, as Relay's PageInfo tells it.
type Info struct {
	HasNext, HasPrev bool
}

// InfoOf answers a page's Info from the request and whether more rows
// followed the page in its direction of travel (the store's extra row).
// Against the direction it answers whether a cursor was given: a cursor
// comes from a row of the list, so rows lie on its other side unless they
// were deleted since (the cheap answer the Relay spec allows).
func (r Request) InfoOf(more bool) Info {
	if r.Backward {
		return Info{HasPrev: more, HasNext: r.Before != nil}
	}
	return Info{HasNext: more, HasPrev: r.After != nil}
}

// String implements fmt.Stringer for debugging.
func (c Cursor) String() string {
	return fmt.Sprintf("%s@%s/%s", c.Order, c.Key, c.ID)
}
