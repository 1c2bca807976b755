package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/jackc/pgx/v5"
)

// nestedTable describes how to list a dataset's rows under parents: one
// statement per request level, unnest(parents) CROSS JOIN LATERAL (… LIMIT n)
// (docs/design.md, Performance facts), so the number of statements does not
// grow with the page size.
type nestedTable struct {
	from    string // table with its alias, e.g. "properties p"
	columns string // select list the scanner expects
	scope   scopeColumns
	key     string // sort key column of the nested list
	id      string // id column (the tie-break)
	desc    bool   // the list runs from the highest key down
	// cursorKey is a cursor's sort key as a parameter.
	cursorKey func(c *page.Cursor) any
	street    string // denormalised street column
	community string // denormalised community column, "" when none
	path      string // ltree column
	// leaf is the column holding the row's own jurisdiction code, with an
	// index in the nested order, "" when none: a grid — the tree's leaf
	// level — then matches by equality instead of an ltree test the
	// planner can only check row by row along the order's index.
	leaf     string
	property string // column naming the compound, "" when none
	// counts is the table of maintained per-compound counts (migration
	// 00230), "" when none. The groups carry the rows' own scope columns,
	// under the same names, so a row scope compiles to the same predicate
	// over them and the sum of the groups it matches is the number of rows
	// it matches. A citizen scope is judged on a column the groups do not
	// keep: such callers count live.
	counts string
}

// countFrom returns the scalar subquery counting one parent's rows within
// scope, with its arguments: a sum over the maintained count groups when
// the parent is a compound and the scope can be judged on them, a live
// count(*) otherwise.
func (t nestedTable) countFrom(g parentGroup, scope access.RowScope) (string, pgx.NamedArgs) {
	w := newWhere()
	if g.byProperty && t.counts != "" && scope.CitizenID == "" {
		w.add("property_id = par.key")
		w.addScope(scope, t.scope) // no citizen in scope: its column is not used
		return `SELECT coalesce(sum(n), 0)::bigint FROM ` + t.counts + ` WHERE ` + w.sql(), w.args
	}
	w.add(g.cond)
	w.addScope(scope, t.scope)
	return `SELECT count(*) FROM ` + t.from + ` WHERE ` + w.sql(), w.args
}

// prefixRow scans a leading parent key (and a trailing total when asked),
// then hands the rest to a scanner written for the table's own columns.
type prefixRow struct {
	rows  pgx.Rows
	key   *string
	total *int
	buf   *[]any // the targets of every row of the query, reused
}

func (r prefixRow) Scan(dest ...any) error {
	all := append(append((*r.buf)[:0], r.key), dest...)
	if r.total != nil {
		all = append(all, r.total)
	}
	err := r.rows.Scan(all...)
	clear(all)
	*r.buf = all[:0]
	return err
}

// parentGroup is one statement's worth of parents: a join condition and the
// keys it applies to.
type parentGroup struct {
	cond string // condition on the table, with par.key the parent key
	cast string // SQL array type of the keys
	keys []string
	// byProperty: the parents are compounds (maintained counts apply).
	byProperty bool
}

// groups splits parents into statements: jurisdictions by level (each level
// has its own index), properties in one.
func (t nestedTable) groups(parent links.Parent, keys []string) ([]parentGroup, error) {
	switch parent {
	case links.ParentProperty:
		if t.property == "" {
			return nil, fmt.Errorf("nested list: no property column on %s", t.from)
		}
		return []parentGroup{{cond: t.property + " = par.key", cast: "uuid[]", keys: keys, byProperty: true}}, nil
	case links.ParentJurisdiction:
		byLevel := map[int][]string{}
		for _, k := range keys {
			byLevel[links.Level(k)] = append(byLevel[links.Level(k)], k)
		}
		var out []parentGroup
		for level, ks := range byLevel {
			var cond string
			switch {
			case level == 1:
				cond = t.path + " <@ par.key::ltree"
			case level == 2:
				cond = t.street + " = par.key"
			case level == 3 && t.community != "":
				cond = t.community + " = par.key"
			case level == links.GridLevel && t.leaf != "":
				cond = t.leaf + " = par.key"
			default:
				cond = t.path + " <@ par.key::ltree"
			}
			out = append(out, parentGroup{cond: cond, cast: "text[]", keys: ks})
		}
		return out, nil
	}
	return nil, apperr.Invalid("parent", "unknown parent %q", parent)
}

// order returns the ORDER BY of t's list, read backward when back is set.
func (t nestedTable) order(back bool) string {
	dir := "ASC"
	if t.desc != back {
		dir = "DESC"
	}
	return t.key + " " + dir + ", " + t.id + " " + dir
}

// listNested returns, per parent key, the first req.Size() rows within
// scope after req's cursor (a backward request: the last rows before it,
// in list order) and, when withCount is set, how many rows each parent has
// in all (a count in the same statement, so a nested totalCount costs no
// statement of its own). The cursor applies inside each parent's lateral
// subquery, with the same row scope.
func listNested[T any](ctx context.Context, pool DB, t nestedTable, parent links.Parent, keys []string,
	scope access.RowScope, req page.Request, withCount bool, scan func(pgx.Row) (T, error)) (map[string][]T, map[string]int, error) {
	out := make(map[string][]T, len(keys))
	counts := make(map[string]int, len(keys))
	first := req.Size()
	if len(keys) == 0 || first <= 0 {
		return out, counts, nil
	}
	cur, op := req.After, ">"
	if req.Backward {
		cur = req.Before
	}
	if t.desc != req.Backward {
		op = "<"
	}
	groups, err := t.groups(parent, keys)
	if err != nil {
		return nil, nil, err
	}

	for _, g := range groups {
		w := newWhere()
		w.add(g.cond)
		w.addScope(scope, t.scope)
		w.args["parents"], w.args["first"] = g.keys, first
		if cur != nil {
			w.add(fmt.Sprintf("(%s, %s) %s (@cursor_key, @cursor_id)", t.key, t.id, op), "cursor_key", t.cursorKey(cur), "cursor_id", cur.ID)
		}
		sql := `SELECT par.key::text, x.* FROM unnest(@parents::` + g.cast + `) AS par(key)
			CROSS JOIN LATERAL (SELECT ` + t.columns + ` FROM ` + t.from + ` WHERE ` + w.sql() + `
			ORDER BY ` + t.order(req.Backward) + ` LIMIT @first) x`
		if withCount {
			// The count is its own scalar subquery per parent: it can use an
			// index-only scan (or the maintained groups), where a window
			// over the page query would read every row's columns. Its
			// arguments are the page's own (same names, same values).
			count, args := t.countFrom(g, scope)
			for k, v := range args {
				w.args[k] = v
			}
			sql = `SELECT par.key::text, x.*, cnt.total FROM unnest(@parents::` + g.cast + `) AS par(key)
			CROSS JOIN LATERAL (` + count + `) cnt(total)
			CROSS JOIN LATERAL (SELECT ` + t.columns + ` FROM ` + t.from + ` WHERE ` + w.sql() + `
			ORDER BY ` + t.order(req.Backward) + ` LIMIT @first) x`
		}
		rows, err := pool.Query(ctx, sql, w.args)
		if err != nil {
			return nil, nil, translate(fmt.Errorf("nested list of %s: %w", t.from, err))
		}
		var buf []any
		for rows.Next() {
			var key string
			var n int
			row := prefixRow{rows: rows, key: &key, buf: &buf}
			if withCount {
				row.total = &n
			}
			v, err := scan(row)
			if err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("scan nested %s: %w", t.from, err)
			}
			out[key] = append(out[key], v)
			counts[key] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, translate(fmt.Errorf("read nested %s: %w", t.from, err))
		}
	}
	if req.Backward {
		for _, list := range out {
			slices.Reverse(list)
		}
	}
	return out, counts, nil
}

// countNested returns, per parent key, how many rows within scope it has.
func countNested(ctx context.Context, pool DB, t nestedTable, parent links.Parent, keys []string,
	scope access.RowScope) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	groups, err := t.groups(parent, keys)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		count, args := t.countFrom(g, scope)
		args["parents"] = g.keys
		sql := `SELECT par.key::text, (` + count + `) FROM unnest(@parents::` + g.cast + `) AS par(key)`
		rows, err := pool.Query(ctx, sql, args)
		if err != nil {
			return nil, translate(fmt.Errorf("nested count of %s: %w", t.from, err))
		}
		for rows.Next() {
			var key string
			var n int
			if err := rows.Scan(&key, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan nested count: %w", err)
			}
			out[key] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, translate(fmt.Errorf("read nested count: %w", err))
		}
	}
	return out, nil
}

func timeCursorKey(c *page.Cursor) any { return timeKey(c.Time()) }

func textCursorKey(c *page.Cursor) any { return c.Key }

var (
	casesNested = nestedTable{from: "cases", columns: caseColumns, scope: caseScope,
		key: "reported_at", id: "id", desc: true, cursorKey: timeCursorKey,
		street: "street_code", community: "community_code", path: "jpath", leaf: "jurisdiction_code", property: "property_id",
		counts: "case_property_counts"}
	violationsNested = nestedTable{from: "violations", columns: violationColumns, scope: violationScope,
		key: "discovered_at", id: "id", desc: true, cursorKey: timeCursorKey,
		street: "street_code", community: "community_code", path: "jpath", property: "property_id",
		counts: "violation_property_counts"}
	propertiesNested = nestedTable{from: "properties p", columns: propertyColumns, scope: propertyScope,
		key: "p.name", id: "p.id", cursorKey: textCursorKey,
		street: "p.street_code", community: "p.community_code", path: "p.jpath"}
	lotsNested = nestedTable{from: "parking_lots", columns: lotColumns, scope: lotScope,
		key: "name", id: "id", cursorKey: textCursorKey,
		street: "street_code", path: "jpath"}
)

// ByParent implements cases.Store.
func (s *CaseStore) ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool, skip cases.Parts) (map[string][]*cases.Case, map[string]int, error) {
	t, read := casesNested, caseReads[cases.AllParts&^skip]
	t.columns = read.columns
	return listNested(ctx, s.pool, t, parent, keys, scope, req, withCount, read.scan)
}

// CountByParent implements cases.Store.
func (s *CaseStore) CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error) {
	return countNested(ctx, s.pool, casesNested, parent, keys, scope)
}

// ByParent implements violation.Store.
func (s *ViolationStore) ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*violation.Violation, map[string]int, error) {
	return listNested(ctx, s.pool, violationsNested, parent, keys, scope, req, withCount, scanViolation)
}

// CountByParent implements violation.Store.
func (s *ViolationStore) CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error) {
	return countNested(ctx, s.pool, violationsNested, parent, keys, scope)
}

// ByParent implements property.Store.
func (s *PropertyStore) ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*property.Property, map[string]int, error) {
	return listNested(ctx, s.pool, propertiesNested, parent, keys, scope, req, withCount, scanProperty)
}

// CountByParent implements property.Store.
func (s *PropertyStore) CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error) {
	return countNested(ctx, s.pool, propertiesNested, parent, keys, scope)
}

// ByParent implements parking.Store.
func (s *ParkingStore) ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*parking.Lot, map[string]int, error) {
	return listNested(ctx, s.pool, lotsNested, parent, keys, scope, req, withCount, func(r pgx.Row) (*parking.Lot, error) { return scanLot(r) })
}

// CountByParent implements parking.Store.
func (s *ParkingStore) CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error) {
	return countNested(ctx, s.pool, lotsNested, parent, keys, scope)
}

// Count implements parking.Store.
func (s *ParkingStore) Count(ctx context.Context, scope access.RowScope, f parking.Filter) (int, error) {
	w := newWhere()
	lotFilter(w, f)
	w.addScope(scope, lotScope)
	return countRows(ctx, s.pool, "parking lots", "parking_lots", w)
}
