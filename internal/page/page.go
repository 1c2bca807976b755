// Package page implements opaque keyset cursors for Relay-style connections.
// A cursor records the sort order it belongs to, the sort key of the last row
// and its id, so the next page is "rows after (key, id)": no OFFSET, stable
// while rows are inserted during a walk.
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

// Cursor is a position in an ordered list.
type Cursor struct {
	Order string
	Key   time.Time
	ID    uuid.UUID
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	raw := c.Order + "|" + strconv.FormatInt(c.Key.UnixMicro(), 10) + "|" + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// After decodes a list's optional after argument: nil when it is absent or
// empty, else the cursor, which must belong to order.
func After(after *string, order string) (*Cursor, error) {
	if after == nil || *after == "" {
		return nil, nil
	}
	c, err := Decode(*after, order)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Decode parses an opaque cursor and checks it belongs to order.
func Decode(s, order string) (Cursor, error) {
	bad := apperr.Invalid("after", "the cursor is not valid for this list; start again without 'after'")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != order {
		return Cursor{}, bad
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Cursor{}, bad
	}
	id, err := uuid.Parse(parts[2])
	if err != nil {
		return Cursor{}, bad
	}
	return Cursor{Order: order, Key: time.UnixMicro(micros).UTC(), ID: id}, nil
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

// String implements fmt.Stringer for debugging.
func (c Cursor) String() string {
	return fmt.Sprintf("%s@%s/%s", c.Order, c.Key.Format(time.RFC3339Nano), c.ID)
}
