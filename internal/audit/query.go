package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Filter narrows Query. Empty fields do not filter; the time range is
// [From, To).
type Filter struct {
	Dept      string
	Subject   string
	Dataset   string
	Operation string
	From, To  time.Time
}

// Page sizes for Query.
const (
	FirstDefault = 50
	FirstMax     = 1000
)

const cursorPrefix = "audit:"

// Query returns up to first records matching f, newest (highest seq)
// first, after the cursor after ("" for the first page), and the cursor of
// the next page ("" when there is none). Pagination is keyset on seq, so
// pages stay stable while records are appended. first 0 means FirstDefault.
//
// Query does no authorization: the caller must allow only auditors
// (docs/design.md, Access control). Returns BAD_USER_INPUT for a bad first,
// cursor or time range.
func Query(ctx context.Context, pool *pgxpool.Pool, f Filter, first int, after string) ([]Record, string, error) {
	if first == 0 {
		first = FirstDefault
	}
	if first < 0 || first > FirstMax {
		return nil, "", apperr.Invalid("first", "must be between 1 and %d", FirstMax)
	}
	p, err := QueryPage(ctx, pool, f, page.Args{First: &first, After: &after})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if p.HasNext {
		next = p.EndCursor()
	}
	return p.Records, next, nil
}

// Page is one page of the trail and where it sits in it.
type Page struct {
	Records []Record
	// HasNext: older records follow; HasPrev: newer records precede.
	HasNext, HasPrev bool
}

// Cursor returns the cursor of the page's i-th record.
func (p *Page) Cursor(i int) string { return encodeCursor(p.Records[i].Seq) }

// EndCursor returns the cursor of the page's last record ("" when empty).
func (p *Page) EndCursor() string {
	if len(p.Records) == 0 {
		return ""
	}
	return p.Cursor(len(p.Records) - 1)
}

// QueryPage returns a page of the records matching f, newest first, by the
// Relay arguments a: first (default FirstDefault, 0 to FirstMax) records
// after the cursor after, or last records before the cursor before (still
// newest first). A size of 0 answers an empty page that says whether
// records follow. Against the direction of travel the page answers whether
// a cursor was given, as page.Request.InfoOf does. Like Query it does no
// authorization; BAD_USER_INPUT for a bad size, cursor, time range or a mix
// of the two directions.
func QueryPage(ctx context.Context, pool *pgxpool.Pool, f Filter, a page.Args) (*Page, error) {
	backward, err := a.Direction()
	if err != nil {
		return nil, err
	}
	sizeField, size, curField, cur := "first", a.First, "after", a.After
	if backward {
		sizeField, size, curField, cur = "last", a.Last, "before", a.Before
	}
	n := FirstDefault
	if size != nil {
		n = *size
	}
	if n < 0 || n > FirstMax {
		return nil, apperr.Invalid(sizeField, "must be between 0 and %d", FirstMax)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, apperr.Invalid("to", "must be after from")
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	given := cur != nil && *cur != ""
	if given {
		seq, err := decodeCursor(curField, *cur)
		if err != nil {
			return nil, err
		}
		op := "<"
		if backward {
			op = ">"
		}
		where = append(where, "seq "+op+" "+arg(seq))
	}
	for _, c := range []struct{ col, val string }{
		{"dept", f.Dept}, {"subject", f.Subject}, {"dataset", f.Dataset}, {"operation", f.Operation},
	} {
		// A value the log cannot hold matches nothing, but PostgreSQL
		// refuses NUL and non-UTF-8 text outright: say so to the caller.
		if !utf8.ValidString(c.val) || strings.IndexByte(c.val, 0) >= 0 {
			return nil, apperr.Invalid("filter."+c.col, "must be UTF-8 text without NUL characters")
		}
		if c.val != "" {
			where = append(where, c.col+" = "+arg(c.val))
		}
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+arg(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+arg(f.To))
	}
	sql := "SELECT " + selectColumns + " FROM audit_log"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	// One extra row tells whether more lie beyond the page; a backward page
	// reads oldest first from its cursor and is turned back.
	dir := "DESC"
	if backward {
		dir = "ASC"
	}
	sql += " ORDER BY seq " + dir + " LIMIT " + arg(n+1)

	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	defer rows.Close()
	out := make([]Record, 0, min(n+1, 64))
	for rows.Next() {
		var r Record
		if err := scanRecord(rows, &r); err != nil {
			return nil, fmt.Errorf("audit query: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit query: %w", err)
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	if backward {
		slices.Reverse(out)
		return &Page{Records: out, HasPrev: more, HasNext: given}, nil
	}
	return &Page{Records: out, HasNext: more, HasPrev: given}, nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeCursor(field, c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), cursorPrefix); ok {
			if seq, err := strconv.ParseInt(s, 10, 64); err == nil && seq > 0 {
				return seq, nil
			}
		}
	}
	return 0, apperr.Invalid(field, "not a cursor from this list")
}
