package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
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
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, "", apperr.Invalid("to", "must be after from")
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if after != "" {
		seq, err := decodeCursor(after)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "seq < "+arg(seq))
	}
	for _, c := range []struct{ col, val string }{
		{"dept", f.Dept}, {"subject", f.Subject}, {"dataset", f.Dataset}, {"operation", f.Operation},
	} {
		// A value the log cannot hold matches nothing, but PostgreSQL
		// refuses NUL and non-UTF-8 text outright: say so to the caller.
		if !utf8.ValidString(c.val) || strings.IndexByte(c.val, 0) >= 0 {
			return nil, "", apperr.Invalid("filter."+c.col, "must be UTF-8 text without NUL characters")
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
	// One extra row tells whether there is a next page.
	sql += " ORDER BY seq DESC LIMIT " + arg(first+1)

	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", fmt.Errorf("audit query: %w", err)
	}
	defer rows.Close()
	out := make([]Record, 0, min(first+1, 64))
	for rows.Next() {
		var r Record
		if err := scanRecord(rows, &r); err != nil {
			return nil, "", fmt.Errorf("audit query: scan: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("audit query: %w", err)
	}
	next := ""
	if len(out) > first {
		out = out[:first]
		next = encodeCursor(out[first-1].Seq)
	}
	return out, next, nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if s, ok := strings.CutPrefix(string(b), cursorPrefix); ok {
			if seq, err := strconv.ParseInt(s, 10, 64); err == nil && seq > 0 {
				return seq, nil
			}
		}
	}
	return 0, apperr.Invalid("after", "not a cursor from this list")
}
