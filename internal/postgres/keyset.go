package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// keysetQuery is one page of a list ordered by (key, id): the rows after the
// cursor, one more than the page to know whether more follow. Every list of
// the hub pages this way; none uses OFFSET. A backward page (last/before)
// reads the list the other way from its cursor and turns the rows back into
// the list's order.
type keysetQuery struct {
	from    string // table with its alias
	columns string // select list the scanner expects
	key     string // sort key column
	id      string // id column ("id", or "p.id" with an alias)
	desc    bool
	first   int
	// after is the cursor's key and id; nil for the first page.
	afterKey any
	afterID  *uuid.UUID
	// backward pages take the last rows before the before cursor (the
	// list's end when beforeID is nil); first is then the page size.
	backward  bool
	beforeKey any
	beforeID  *uuid.UUID
}

// keysetPage runs q with the conditions in w and scans the rows. more says
// whether rows lie beyond the page in its direction: after it for a forward
// page, before it for a backward one.
func keysetPage[T any](ctx context.Context, pool DB, what string, w *where, q keysetQuery,
	scan func(pgx.Row) (T, error)) ([]T, bool, error) {
	desc, curKey, curID := q.desc, q.afterKey, q.afterID
	if q.backward {
		desc, curKey, curID = !desc, q.beforeKey, q.beforeID
	}
	dir, op := "ASC", ">"
	if desc {
		dir, op = "DESC", "<"
	}
	if curID != nil {
		w.add(fmt.Sprintf("(%s, %s) %s (@cursor_key, @cursor_id)", q.key, q.id, op), "cursor_key", curKey, "cursor_id", *curID)
	}
	sql := fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s %s, %s %s LIMIT %d",
		q.columns, q.from, w.sql(), q.key, dir, q.id, dir, q.first+1)
	list, err := queryAll(ctx, pool, what, sql, w.args, scan)
	if err != nil {
		return nil, false, err
	}
	more := len(list) > q.first
	if more {
		list = list[:q.first]
	}
	if q.backward {
		slices.Reverse(list)
	}
	return list, more, nil
}

// timeKey is a cursor's time key as a parameter: the "no deadline" sentinel
// stands for PostgreSQL's infinity, which the generated deadline_key holds.
func timeKey(t time.Time) any {
	if t.Equal(page.Infinity) {
		return pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	return t
}

// countRows counts the rows of from that match w.
func countRows(ctx context.Context, pool DB, what, from string, w *where) (int, error) {
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+from+" WHERE "+w.sql(), w.args).Scan(&n); err != nil {
		return 0, translate(fmt.Errorf("count %s: %w", what, err))
	}
	return n, nil
}

// bySource reads the record of table (alias-free) that sourceDept filed
// under externalID within scope: every dataset's upsert looks its record
// up this way. NOT_FOUND (naming what) when there is none the caller may
// see.
func bySource[T any](ctx context.Context, pool DB, table, what, columns string, cols scopeColumns, scope access.RowScope,
	sourceDept, externalID string, scan func(pgx.Row) (T, error)) (T, error) {
	var zero T
	w := newWhere()
	w.add("source_dept = @source AND external_id = @external", "source", sourceDept, "external", externalID)
	w.addScope(scope, cols)
	v, err := scan(pool.QueryRow(ctx, "SELECT "+columns+" FROM "+table+" WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return zero, apperr.New(apperr.NotFound, "%s %s/%s not found", what, sourceDept, externalID)
	}
	if err != nil {
		return zero, translate(fmt.Errorf("get %s %s/%s: %w", what, sourceDept, externalID, err))
	}
	return v, nil
}

// pageBy sets q's size, direction and cursor from r; key turns a cursor
// into its sort key parameter.
func (q *keysetQuery) pageBy(r page.Request, key func(c *page.Cursor) any) {
	q.first, q.backward = r.Size(), r.Backward
	if r.After != nil && !r.Backward {
		q.afterKey, q.afterID = key(r.After), &r.After.ID
	}
	if r.Before != nil && r.Backward {
		q.beforeKey, q.beforeID = key(r.Before), &r.Before.ID
	}
}
