package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tier is one rollup table and the dimensions it keeps.
type tier struct {
	table string
	dims  map[string]bool // street, community, dept, class, source
}

var evalTiers = []tier{
	{rollupCommunity, map[string]bool{"street": true, "community": true}},
	{rollupClass, map[string]bool{"street": true, "dept": true, "class": true}},
	{rollupFine, map[string]bool{"street": true, "community": true, "dept": true, "class": true, "source": true}},
}

// evalFilter compiles an indicators filter over the rollup or ledger
// columns and says which dimensions it needs.
func evalFilter(f evaluation.Filter, w *where, need map[string]bool) {
	if j := f.Jurisdiction; j != "" {
		switch strings.Count(j, ".") {
		case 0:
			w.add("street_code LIKE @jur_prefix", "jur_prefix", likeEscape(j)+".%")
			need["street"] = true
		case 1:
			w.add("street_code = @jur_street", "jur_street", j)
			need["street"] = true
		default:
			w.add("community_code = @jur_community", "jur_community", j)
			need["community"] = true
		}
	}
	if f.Kind != "" {
		w.add("kind = @kind", "kind", string(f.Kind))
		need["class"] = true
	}
	if f.MajorCode != "" {
		w.add("major_code = @major", "major", f.MajorCode)
		need["class"] = true
	}
	if len(f.Sources) > 0 {
		src := make([]string, len(f.Sources))
		for i, s := range f.Sources {
			src[i] = string(s)
		}
		w.add("source = ANY(@sources)", "sources", src)
		need["source"] = true
	}
	if f.HandlingDept != "" {
		w.add("handling_dept = @dept", "dept", f.HandlingDept)
		need["dept"] = true
	}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// groupColumns returns the select expressions of the grouped dimensions in
// Group field order (street, community, department, kind, major, reporter
// group), ” for those not grouped, and records the dimensions needed.
func groupColumns(by []evaluation.Dim, need map[string]bool) []string {
	cols := []string{"''", "''", "''", "''", "''", "''"}
	for _, d := range by {
		switch d {
		case evaluation.DimStreet:
			cols[0] = "street_code"
			need["street"] = true
		case evaluation.DimCommunity:
			cols[1] = "community_code"
			need["community"] = true
		case evaluation.DimDepartment:
			cols[2] = "handling_dept"
			need["dept"] = true
		case evaluation.DimCaseClass:
			cols[3], cols[4] = "kind", "major_code"
			need["class"] = true
		case evaluation.DimReporterGroup:
			cols[5] = evaluation.ReporterGroupSQL("source")
			need["source"] = true
		}
	}
	return cols
}

// evalQuerier is the pool or a read transaction.
type evalQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// beginSnapshot begins the read-only repeatable-read transaction a query
// and its wide counterpart are read in, so that their difference (the
// complement small-cell suppression judges) is of one state of the data:
// a refresh between two separate reads could make it anything.
func (s *EvaluationStore) beginSnapshot(ctx context.Context) (pgx.Tx, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return tx, nil
}

// Cells implements evaluation.Store. It reads the smallest tier that keeps
// every dimension the query groups or filters by; the wide read (q.Wide)
// drops the narrowing filters and so often reads a smaller tier.
func (s *EvaluationStore) Cells(ctx context.Context, q evaluation.CellQuery) (cells, wide []evaluation.Cell, horizon evaluation.Month, err error) {
	if !q.Wide {
		if cells, err = readCells(ctx, s.pool, q, q.Filter); err != nil {
			return nil, nil, 0, err
		}
		horizon, err = readHorizon(ctx, s.pool)
		return cells, nil, horizon, err
	}
	tx, err := s.beginSnapshot(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("aggregate rollups: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if cells, err = readCells(ctx, tx, q, q.Filter); err != nil {
		return nil, nil, 0, err
	}
	if wide, err = readCells(ctx, tx, q, q.Filter.Wide()); err != nil {
		return nil, nil, 0, fmt.Errorf("wide: %w", err)
	}
	if horizon, err = readHorizon(ctx, tx); err != nil {
		return nil, nil, 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, 0, fmt.Errorf("aggregate rollups: commit: %w", err)
	}
	return cells, wide, horizon, nil
}

// readHorizon reads the rollups' horizon (0 before the first build).
func readHorizon(ctx context.Context, db evalQuerier) (evaluation.Month, error) {
	var h *time.Time
	if err := db.QueryRow(ctx, `SELECT horizon FROM case_eval_state`).Scan(&h); err != nil {
		return 0, fmt.Errorf("read horizon: %w", err)
	}
	if h == nil {
		return 0, nil
	}
	return evaluation.MonthFromDate(*h), nil
}

// readCells aggregates the rollups for q under filter f.
func readCells(ctx context.Context, db evalQuerier, q evaluation.CellQuery, f evaluation.Filter) ([]evaluation.Cell, error) {
	need := map[string]bool{}
	w := newWhere()
	w.add("month >= @from AND month < @to", "from", q.From.Date(), "to", q.To.Date())
	evalFilter(f, w, need)
	groups := groupColumns(q.GroupBy, need)
	table := rollupFine
	for _, t := range evalTiers {
		ok := true
		for d := range need {
			if !t.dims[d] {
				ok = false
				break
			}
		}
		if ok {
			table = t.table
			break
		}
	}
	var period, last string
	switch q.Period {
	case evaluation.PeriodQuarter:
		period = "date_trunc('quarter', month)::date"
		last = "(date_trunc('quarter', month) + interval '2 months')::date"
	case evaluation.PeriodYear:
		period = "date_trunc('year', month)::date"
		last = "(date_trunc('year', month) + interval '11 months')::date"
	default:
		period, last = "month", "month"
	}
	stock := map[string]bool{}
	for _, c := range evaluation.StockCounters() {
		stock[evaluation.CounterColumns[c]] = true
	}
	sums := make([]string, 0, evaluation.NumCounters)
	for _, c := range evaluation.CounterColumns {
		if stock[c] && last != "month" {
			sums = append(sums, fmt.Sprintf("coalesce(sum(%s) FILTER (WHERE month = %s), 0)", c, last))
		} else {
			sums = append(sums, "sum("+c+")")
		}
	}
	q1 := `SELECT ` + period + ` AS p, ` + strings.Join(groups, ", ") + `, ` + strings.Join(sums, ", ") +
		` FROM ` + table + ` WHERE ` + w.sql() + ` GROUP BY 1, 2, 3, 4, 5, 6, 7`
	rows, err := db.Query(ctx, q1, w.args)
	if err != nil {
		return nil, fmt.Errorf("aggregate rollups: %w", err)
	}
	defer rows.Close()
	var out []evaluation.Cell
	dest := make([]any, 7+evaluation.NumCounters)
	for rows.Next() {
		var c evaluation.Cell
		var p time.Time
		dest[0], dest[1], dest[2], dest[3], dest[4], dest[5] = &p, &c.Group.Street, &c.Group.Community, &c.Group.Department, &c.Group.Kind, &c.Group.MajorCode
		dest[6] = &c.Group.ReporterGroup
		for i := range c.Sum {
			dest[7+i] = &c.Sum[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("aggregate rollups: %w", err)
		}
		c.Period = evaluation.MonthFromDate(p)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("aggregate rollups: %w", err)
	}
	return out, nil
}

// Live implements evaluation.Store: the current period's time-dependent
// part, from the ledger's sensitive cases (a few thousand, partial index).
func (s *EvaluationStore) Live(ctx context.Context, q evaluation.LiveQuery) (cells, wide []evaluation.LiveCell, err error) {
	if !q.Wide {
		cells, err = readLive(ctx, s.pool, q, q.Filter)
		return cells, nil, err
	}
	tx, err := s.beginSnapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("live figures: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if cells, err = readLive(ctx, tx, q, q.Filter); err != nil {
		return nil, nil, err
	}
	if wide, err = readLive(ctx, tx, q, q.Filter.Wide()); err != nil {
		return nil, nil, fmt.Errorf("wide: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("live figures: commit: %w", err)
	}
	return cells, wide, nil
}

// readLive reads the live part for q under filter f.
func readLive(ctx context.Context, db evalQuerier, q evaluation.LiveQuery, f evaluation.Filter) ([]evaluation.LiveCell, error) {
	need := map[string]bool{}
	w := newWhere()
	w.add("sensitive")
	evalFilter(f, w, need)
	groups := groupColumns(q.GroupBy, need)
	w.args["now"], w.args["end"] = q.Now, q.PeriodEnd
	const nydHandle = `deadline >= @now AND deadline < @end AND (handled_at IS NULL OR handled_at >= @end)`
	const nydClose = `close_deadline >= @now AND close_deadline < @end AND (closed_at IS NULL OR closed_at >= @end)`
	const open = `dispatched_at <= @now AND (closed_at IS NULL OR closed_at > @now)`
	sql := `SELECT ` + strings.Join(groups, ", ") + `,
		count(*) FILTER (WHERE ` + nydHandle + `),
		count(*) FILTER (WHERE ` + nydClose + `),
		count(*) FILTER (WHERE ` + nydClose + ` AND rework_count > 0),
		count(*) FILTER (WHERE ` + open + `),
		count(*) FILTER (WHERE ` + open + ` AND deadline < @now AND NOT coalesce(handled_at <= deadline, false))
		FROM case_eval_facts WHERE ` + w.sql() + ` GROUP BY 1, 2, 3, 4, 5, 6`
	rows, err := db.Query(ctx, sql, w.args)
	if err != nil {
		return nil, fmt.Errorf("live figures: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.LiveCell, error) {
		var c evaluation.LiveCell
		err := r.Scan(&c.Group.Street, &c.Group.Community, &c.Group.Department, &c.Group.Kind, &c.Group.MajorCode, &c.Group.ReporterGroup,
			&c.NotYetDueHandle, &c.NotYetDueClose, &c.NotYetDueRework, &c.Open, &c.Overdue)
		return c, err
	})
}

// Other implements evaluation.Store. The violations, parking and
// inspection tables belong to other datasets (migrations 00100–00120); a
// table that does not exist (or lacks a column relied on) gives no facts
// rather than an error. Columns relied on:
//
//	violations:    street_code, community_code, jpath, discovered_at, outcome ('DEMOLISHED'),
//	               resolved_at, demolished_area_m2, area_m2
//	parking_lots:  street_code, jpath, is_government, kind ('GOVERNMENT_SHARED'), shared_spaces, created_at
//	inspections:   property_id, result ('PASS', 'RECTIFY', 'FAIL'), recorded_at
//	properties:    id, street_code, community_code, jpath
//	jurisdictions: code, path, level, area_km2 (always there)
func (s *EvaluationStore) Other(ctx context.Context, q evaluation.OtherQuery) (*evaluation.OtherFacts, error) {
	var o evaluation.OtherFacts
	var hasV, hasP, hasI bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass('violations') IS NOT NULL, to_regclass('parking_lots') IS NOT NULL,
		to_regclass('inspections') IS NOT NULL AND to_regclass('properties') IS NOT NULL`).Scan(&hasV, &hasP, &hasI); err != nil {
		return nil, fmt.Errorf("other datasets: %w", err)
	}
	jur, args := "TRUE", pgx.NamedArgs{"from": q.From, "to": q.To}
	if q.Jurisdiction != "" {
		jur, args["root"] = "jpath <@ @root::ltree", q.Jurisdiction
	}
	// The district, streets and communities under the jurisdiction and the
	// jurisdictions above it (a row without grouping is the jurisdiction
	// itself), with their grids: the density figures' denominators.
	areaCond := "TRUE"
	if q.Jurisdiction != "" {
		areaCond = "(j.path <@ @root::ltree OR j.path @> @root::ltree)"
	}
	rows, err := s.pool.Query(ctx, `SELECT j.code, j.level, j.area_km2,
		(SELECT count(*) FROM jurisdictions g WHERE g.level = 'GRID' AND g.path <@ j.path)
		FROM jurisdictions j WHERE j.level <> 'GRID' AND `+areaCond, args)
	if err != nil {
		return nil, fmt.Errorf("jurisdiction areas: %w", err)
	}
	if o.Areas, err = pgx.CollectRows(rows, pgx.RowToStructByPos[evaluation.AreaFact]); err != nil {
		return nil, fmt.Errorf("jurisdiction areas: %w", err)
	}
	if hasV {
		// One row per street, community, month found, month demolished
		// and kind: a year of a district's violations is a few thousand
		// rows instead of every violation. Those found in the period and
		// those demolished in it but found before are read apart, each by
		// its own covering index; their groups differ in the month found.
		// A month inside the period is looked up among the month starts
		// from the one of From (width_bucket: the last start at or before
		// the instant), not truncated in the time zone row by row, which
		// cost more than the rest of the read.
		month := func(col string) string { return col }
		bounds := ""
		if q.Zone != "" {
			month = func(col string) string {
				return "CASE WHEN " + col + " >= @from AND " + col + " < @to THEN m.bounds[width_bucket(" + col + ", m.bounds)]" +
					" ELSE date_trunc('month', " + col + ", @zone) END"
			}
			args["zone"] = q.Zone
			bounds = `WITH m AS (SELECT array_agg(x AT TIME ZONE @zone ORDER BY x) AS bounds
				FROM generate_series(date_trunc('month', @from::timestamptz, @zone) AT TIME ZONE @zone,
					@to::timestamptz AT TIME ZONE @zone, interval '1 month') x) `
		}
		from := " FROM violations"
		if bounds != "" {
			from += ", m"
		}
		facts := `SELECT street_code, coalesce(community_code, ''), ` + month("discovered_at") + `,
			CASE WHEN outcome = 'DEMOLISHED' THEN ` + month("resolved_at") + ` END,
			kind = 'ILLEGAL_CONSTRUCTION', sum(coalesce(demolished_area_m2, area_m2, 0))::float8, count(*)` + from
		rows, err := s.pool.Query(ctx, bounds+facts+`
			WHERE discovered_at >= @from AND discovered_at < @to AND `+jur+`
			GROUP BY 1, 2, 3, 4, 5
			UNION ALL `+facts+`
			WHERE outcome = 'DEMOLISHED' AND resolved_at >= @from AND resolved_at < @to
				AND NOT (discovered_at >= @from AND discovered_at < @to) AND `+jur+`
			GROUP BY 1, 2, 3, 4, 5`, args)
		if err == nil {
			o.Violations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.ViolationFact, error) {
				var v evaluation.ViolationFact
				err := r.Scan(&v.Street, &v.Community, &v.DiscoveredAt, &v.DemolishedAt, &v.Construction, &v.AreaM2, &v.N)
				return v, err
			})
		}
		if o.HasViolations, err = schemaMissing(err); err != nil {
			return nil, fmt.Errorf("violations figures: %w", err)
		}
	}
	if hasP {
		rows, err := s.pool.Query(ctx, `SELECT street_code, CASE WHEN nlevel(jpath) >= 3 THEN subpath(jpath, 0, 3)::text ELSE '' END,
			created_at, kind = 'GOVERNMENT_SHARED' AND shared_spaces > 0
			FROM parking_lots WHERE is_government AND created_at < @to AND `+jur, args)
		if err == nil {
			o.Lots, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.LotFact, error) {
				var l evaluation.LotFact
				err := r.Scan(&l.Street, &l.Community, &l.CreatedAt, &l.Shared)
				return l, err
			})
		}
		if o.HasParking, err = schemaMissing(err); err != nil {
			return nil, fmt.Errorf("parking figures: %w", err)
		}
	}
	if hasI {
		pj := strings.ReplaceAll(jur, "jpath", "p.jpath")
		rows, err := s.pool.Query(ctx, `SELECT p.street_code, coalesce(p.community_code, ''), i.recorded_at, i.result = 'PASS'
			FROM inspections i JOIN properties p ON p.id = i.property_id
			WHERE i.result IS NOT NULL AND i.recorded_at >= @from AND i.recorded_at < @to AND `+pj, args)
		if err == nil {
			o.Inspections, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.InspectionFact, error) {
				var f evaluation.InspectionFact
				err := r.Scan(&f.Street, &f.Community, &f.RecordedAt, &f.Pass)
				return f, err
			})
		}
		if o.HasInspections, err = schemaMissing(err); err != nil {
			return nil, fmt.Errorf("inspection figures: %w", err)
		}
	}
	return &o, nil
}

// schemaMissing turns "table or column does not exist" into (false, nil):
// the dataset is not there (yet); other errors pass through.
func schemaMissing(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703") {
		return false, nil
	}
	return false, err
}
