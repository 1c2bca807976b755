// Package page implements opaque keyset cursors for Relay-style connections.
// A cursor records the sort order it belongs to, the sort key of the last row
// and its id, so the next page is "rows after (key, id)": no OFFSET, stable
// while rows are inserted during a walk. Every dataset's lists use this one
// cursor; only the kind of key (a time, a number, a text) differs.
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
	bad := errCursor("after")
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
	if after == nil || *after == "" {
		return nil, nil
	}
	c, err := Decode(*after, order, kind)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Size validates a requested page size and applies the default.
func Size(first *int) (int, error) {
	if first == nil {
		return FirstDefault, nil
	}
	if *first < 0 || *first > FirstMax {
		return 0, apperr.Invalid("first", "must be between 0 and %d", FirstMax)
	}
	return *first, nil
}

// Request is a validated page request: how many rows and after which.
type Request struct {
	First int
	After *Cursor
}

// Parse validates a list's first and after arguments for a list in order
// whose sort key is of kind.
func Parse(first *int, after *string, order string, kind KeyKind) (Request, error) {
	n, err := Size(first)
	if err != nil {
		return Request{}, err
	}
	cur, err := After(after, order, kind)
	if err != nil {
		return Request{}, err
	}
	return Request{First: n, After: cur}, nil
}

// String implements fmt.Stringer for debugging.
func (c Cursor) String() string {
	return fmt.Sprintf("%s@%s/%s", c.Order, c.Key, c.ID)
}
