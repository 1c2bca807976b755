package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// EvaluationStore keeps the evaluation rollups, the ledger they are
// maintained from, and the snapshots. It implements evaluation.Store.
//
// Rollup maintenance, and why this way (see also migration 00070):
//   - A statement-level trigger on cases queues the ids of changed cases
//     (case_eval_dirty). Measured on the 1M-case data: it adds one INSERT …
//     SELECT of the ids to the seeder's COPY (about 4 s under load, ~10 % of
//     the seed; a loader may skip it with SET LOCAL datahub.evaluation_defer
//     = 'on' and have the rollups rebuilt), where a row-level trigger doing
//     the arithmetic would run a million times and could not use the Go
//     working-time calendar anyway.
//   - Refresh applies the queue in batches: for each case it subtracts the
//     contribution recorded in the ledger (case_eval_facts) and adds the new
//     one, in one transaction per batch, under an advisory lock. Applying a
//     case twice changes nothing, so a crash or a concurrent writer never
//     leaves the rollups wrong; writers of cases never wait for it (the
//     queue has no unique key).
//   - Rebuild recomputes everything from cases in one transaction (18–26 s
//     at 1M cases on the 2-core machine; it holds one counter set per fine
//     cell in memory, about 300,000 cells at 1M cases): after seeding, or
//     when the rules version changed.
//   - Stock counters (open at the end of a month) depend on the current
//     month: when a new month begins, Refresh re-queues the ledger's
//     "sensitive" cases (dispatched, not in backlog, not closed before the
//     end of the month) — the open cases, a few thousand, not the table.
//
// The trade-off: indicators lag case writes until the next refresh (the
// service applies up to 10,000 queued changes itself before each read, so
// in practice they do not lag), and the ledger duplicates a narrow
// projection of the cases.
type EvaluationStore struct {
	pool DB
}

// NewEvaluationStore returns an evaluation store on pool.
func NewEvaluationStore(pool DB) *EvaluationStore { return &EvaluationStore{pool: pool} }

var _ evaluation.Store = (*EvaluationStore)(nil)

// evalLockKey is the advisory lock serialising refreshes and rebuilds
// across instances ("evalroll" in ASCII).
const evalLockKey int64 = 0x6576616c726f6c6c

// evalRefreshBatch is how many queued cases one refresh transaction takes.
const evalRefreshBatch = 5000

const (
	rollupFine      = "case_rollup_monthly"
	rollupCommunity = "case_rollup_community"
	rollupClass     = "case_rollup_class"
)

var fineKeyColumns = []string{"month", "street_code", "community_code", "handling_dept", "kind", "major_code", "source"}

var factColumns = []string{"case_id", "street_code", "community_code", "handling_dept", "kind", "major_code", "source", "status",
	"registered_at", "dispatched_at", "deadline", "handled_at", "closed_at", "rework_count", "rating", "work_seconds",
	"horizon", "sensitive", "reported_at", "declined_at", "first_handled_at", "first_deadline", "return_count", "defer_count",
	"close_deadline", "report_on_time", "check_on_time"}

// ledgerColumns reads a ledger row back into evaluation.Facts (scanFacts).
// The minor class is not kept: the facts derived from it are.
const ledgerColumns = `case_id, street_code, community_code, handling_dept, kind, major_code, source, status,
	registered_at, dispatched_at, deadline, handled_at, closed_at, rework_count, rating, work_seconds, horizon,
	reported_at, declined_at, first_handled_at, first_deadline, return_count, defer_count, close_deadline,
	report_on_time, check_on_time`

// caseStateColumns reads what the rollups need of a case row. A declined
// report's decision time is its last update (NOT_REGISTERED is terminal).
const caseStateColumns = `id, street_code, coalesce(community_code, ''), coalesce(handling_dept, ''), kind, major_code, source, status,
	registered_at, dispatched_at, deadline, handled_at, closed_at, rework_count, rating,
	minor_code, reported_at, CASE WHEN status = 'NOT_REGISTERED' THEN updated_at END, first_handled_at, first_deadline,
	defer_count, return_count`

func scanCaseState(row pgx.Row, s *evaluation.CaseState) error {
	var rating *int16
	if err := row.Scan(&s.ID, &s.Street, &s.Community, &s.Dept, &s.Kind, &s.Major, &s.Source, &s.Status,
		&s.RegisteredAt, &s.DispatchedAt, &s.Deadline, &s.HandledAt, &s.ClosedAt, &s.ReworkCount, &rating,
		&s.Minor, &s.ReportedAt, &s.DeclinedAt, &s.FirstHandledAt, &s.FirstDeadline, &s.DeferCount, &s.ReturnCount); err != nil {
		return err
	}
	s.Rating = nil
	if rating != nil {
		r := int(*rating)
		s.Rating = &r
	}
	return nil
}

func factRow(rules *evaluation.Rules, f *evaluation.Facts) []any {
	var rating *int16
	if f.Rating != nil {
		r := int16(*f.Rating)
		rating = &r
	}
	return []any{f.ID, f.Street, f.Community, f.Dept, f.Kind, f.Major, f.Source, f.Status,
		f.RegisteredAt, f.DispatchedAt, f.Deadline, f.HandledAt, f.ClosedAt, f.ReworkCount, rating, f.WorkSeconds,
		f.Horizon.Date(), rules.Sensitive(f), f.ReportedAt, f.DeclinedAt, f.FirstHandledAt, f.FirstDeadline, f.ReturnCount,
		f.DeferCount, f.CloseDeadline, f.ReportOnTime, f.CheckOnTime}
}

type evalState struct {
	horizon *time.Time
	version int
}

func readEvalState(ctx context.Context, tx pgx.Tx) (evalState, error) {
	var s evalState
	err := tx.QueryRow(ctx, `SELECT horizon, rules_version FROM case_eval_state`).Scan(&s.horizon, &s.version)
	if err != nil {
		return s, fmt.Errorf("read evaluation state: %w", err)
	}
	return s, nil
}

// Refresh implements evaluation.Store.
func (s *EvaluationStore) Refresh(ctx context.Context, rules *evaluation.Rules, now time.Time, opts evaluation.RefreshOptions) (evaluation.RefreshStats, error) {
	start := time.Now()
	var st evaluation.RefreshStats
	for {
		n, more, err := s.refreshBatch(ctx, rules, now, opts, &st)
		st.Cases += n
		if err != nil {
			return st, err
		}
		if st.Busy || st.NeedsRebuild {
			break
		}
		if st.Rebuilt {
			// Rebuild took every change up to its snapshot; anything
			// queued since is applied by the loop.
			if !more {
				break
			}
			continue
		}
		if !more {
			break
		}
		if opts.Limit > 0 && st.Cases >= opts.Limit {
			st.Pending = true
			break
		}
	}
	st.Duration = time.Since(start)
	return st, nil
}

// refreshBatch applies one batch; more reports whether the queue may hold
// more.
func (s *EvaluationStore) refreshBatch(ctx context.Context, rules *evaluation.Rules, now time.Time,
	opts evaluation.RefreshOptions, st *evaluation.RefreshStats) (n int, more bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, false, translate(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if opts.NoWait {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, evalLockKey).Scan(&ok); err != nil {
			return 0, false, fmt.Errorf("evaluation lock: %w", err)
		}
		if !ok {
			st.Busy = true
			return 0, false, nil
		}
	} else if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, evalLockKey); err != nil {
		return 0, false, fmt.Errorf("evaluation lock: %w", err)
	}
	state, err := readEvalState(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	horizon := rules.HorizonAt(now)
	backwards := state.horizon != nil && evaluation.MonthFromDate(*state.horizon) > horizon
	if state.version != evaluation.RulesVersion || backwards {
		if opts.NoRebuild {
			st.NeedsRebuild = true
			return 0, false, nil
		}
		_ = tx.Rollback(ctx)
		rs, err := s.Rebuild(ctx, rules, now)
		st.Rebuilt = true
		return rs.Cases, true, err
	}
	if state.horizon == nil || evaluation.MonthFromDate(*state.horizon) != horizon {
		// A new month: the stock counters of the month that ended must be
		// added for every case still open at its end.
		if _, err := tx.Exec(ctx, `INSERT INTO case_eval_dirty (case_id) SELECT case_id FROM case_eval_facts WHERE sensitive`); err != nil {
			return 0, false, fmt.Errorf("queue sensitive cases: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE case_eval_state SET horizon = $1`, horizon.Date()); err != nil {
			return 0, false, fmt.Errorf("set horizon: %w", err)
		}
	}
	limit := evalRefreshBatch
	if opts.Limit > 0 && opts.Limit-st.Cases < limit {
		limit = opts.Limit - st.Cases
	}
	rows, err := tx.Query(ctx, `DELETE FROM case_eval_dirty WHERE seq IN (
		SELECT seq FROM case_eval_dirty ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING case_id`, limit)
	if err != nil {
		return 0, false, fmt.Errorf("take queued cases: %w", err)
	}
	queued, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, false, fmt.Errorf("take queued cases: %w", err)
	}
	if len(queued) == 0 {
		// Nothing to apply: no write (Indicators calls this on every read).
		return 0, false, translate(tx.Commit(ctx))
	}
	ids := dedupeIDs(queued)
	if err := s.applyCases(ctx, tx, rules, horizon, ids); err != nil {
		return 0, false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE case_eval_state SET refreshed_at = now()`); err != nil {
		return 0, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, translate(fmt.Errorf("commit refresh: %w", err))
	}
	return len(ids), len(queued) == limit, nil
}

func dedupeIDs(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]struct{}, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// applyCases takes back the ledger's contribution of ids and adds their
// current one.
func (s *EvaluationStore) applyCases(ctx context.Context, tx pgx.Tx, rules *evaluation.Rules, horizon evaluation.Month, ids []uuid.UUID) error {
	deltas := map[evaluation.Key]*evaluation.Counters{}
	add := func(k evaluation.Key, c evaluation.Counter, v int64) {
		d := deltas[k]
		if d == nil {
			d = new(evaluation.Counters)
			deltas[k] = d
		}
		d[c] += v
	}
	rows, err := tx.Query(ctx, `SELECT `+ledgerColumns+` FROM case_eval_facts WHERE case_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	var old []evaluation.Facts
	for rows.Next() {
		var f evaluation.Facts
		var rating *int16
		var h time.Time
		if err := rows.Scan(&f.ID, &f.Street, &f.Community, &f.Dept, &f.Kind, &f.Major, &f.Source, &f.Status,
			&f.RegisteredAt, &f.DispatchedAt, &f.Deadline, &f.HandledAt, &f.ClosedAt, &f.ReworkCount, &rating,
			&f.WorkSeconds, &h, &f.ReportedAt, &f.DeclinedAt, &f.FirstHandledAt, &f.FirstDeadline, &f.ReturnCount,
			&f.DeferCount, &f.CloseDeadline, &f.ReportOnTime, &f.CheckOnTime); err != nil {
			rows.Close()
			return fmt.Errorf("read ledger: %w", err)
		}
		if rating != nil {
			r := int(*rating)
			f.Rating = &r
		}
		f.Horizon = evaluation.MonthFromDate(h)
		old = append(old, f)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	for i := range old {
		rules.Contribute(&old[i], -1, add)
	}
	rows, err = tx.Query(ctx, `SELECT `+caseStateColumns+` FROM cases WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read cases: %w", err)
	}
	var facts [][]any
	for rows.Next() {
		var cs evaluation.CaseState
		if err := scanCaseState(rows, &cs); err != nil {
			rows.Close()
			return fmt.Errorf("read cases: %w", err)
		}
		f := rules.Facts(cs, horizon)
		if !f.Contributes() {
			continue
		}
		rules.Contribute(&f, 1, add)
		facts = append(facts, factRow(rules, &f))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read cases: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM case_eval_facts WHERE case_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("clear ledger: %w", err)
	}
	if len(facts) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"case_eval_facts"}, factColumns, pgx.CopyFromRows(facts)); err != nil {
			return fmt.Errorf("write ledger: %w", err)
		}
	}
	return applyDeltas(ctx, tx, deltas)
}

// applyDeltas adds deltas to the fine rollup, drops cells that became all
// zero, and recomputes the coarse tiers for the (month, street) pairs
// touched.
func applyDeltas(ctx context.Context, tx pgx.Tx, deltas map[evaluation.Key]*evaluation.Counters) error {
	rows := make([][]any, 0, len(deltas))
	type pair struct {
		month  evaluation.Month
		street string
	}
	touched := map[pair]bool{}
	for k, c := range deltas {
		if c.Zero() {
			continue
		}
		rows = append(rows, fineRow(k, c))
		touched[pair{k.Month, k.Street}] = true
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS eval_delta (LIKE case_rollup_monthly) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("delta table: %w", err)
	}
	cols := append(append([]string{}, fineKeyColumns...), evaluation.CounterColumns...)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_delta"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("write deltas: %w", err)
	}
	var set, zero []string
	for _, c := range evaluation.CounterColumns {
		set = append(set, fmt.Sprintf("%s = r.%s + EXCLUDED.%s", c, c, c))
		zero = append(zero, "r."+c+" = 0")
	}
	keys := strings.Join(fineKeyColumns, ", ")
	q := `INSERT INTO case_rollup_monthly AS r (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(cols, ", ") +
		` FROM eval_delta ON CONFLICT (` + keys + `) DO UPDATE SET ` + strings.Join(set, ", ")
	if _, err := tx.Exec(ctx, q); err != nil {
		return fmt.Errorf("apply deltas: %w", err)
	}
	var join []string
	for _, k := range fineKeyColumns {
		join = append(join, "r."+k+" = d."+k)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM case_rollup_monthly r USING eval_delta d WHERE `+strings.Join(join, " AND ")+
		` AND `+strings.Join(zero, " AND ")); err != nil {
		return fmt.Errorf("drop empty cells: %w", err)
	}
	months := make([]time.Time, 0, len(touched))
	streets := make([]string, 0, len(touched))
	for p := range touched {
		months = append(months, p.month.Date())
		streets = append(streets, p.street)
	}
	return deriveTiers(ctx, tx, `(month, street_code) IN (SELECT * FROM unnest($1::date[], $2::text[]))`, months, streets)
}

// deriveTiers recomputes the coarse tiers from the fine one where cond
// holds (all of them when cond is "").
func deriveTiers(ctx context.Context, tx pgx.Tx, cond string, args ...any) error {
	var sums []string
	for _, c := range evaluation.CounterColumns {
		sums = append(sums, "sum("+c+")")
	}
	counters := strings.Join(evaluation.CounterColumns, ", ")
	where := ""
	if cond != "" {
		where = " WHERE " + cond
	}
	for _, t := range []struct{ table, keys string }{
		{rollupCommunity, "month, street_code, community_code"},
		{rollupClass, "month, street_code, handling_dept, kind, major_code"},
	} {
		if cond != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t.table+where, args...); err != nil {
				return fmt.Errorf("clear %s: %w", t.table, err)
			}
		}
		q := `INSERT INTO ` + t.table + ` (` + t.keys + `, ` + counters + `) SELECT ` + t.keys + `, ` + strings.Join(sums, ", ") +
			` FROM case_rollup_monthly` + where + ` GROUP BY ` + t.keys
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("derive %s: %w", t.table, err)
		}
	}
	return nil
}

func fineRow(k evaluation.Key, c *evaluation.Counters) []any {
	row := make([]any, 0, len(fineKeyColumns)+evaluation.NumCounters)
	row = append(row, k.Month.Date(), k.Street, k.Community, k.Dept, k.Kind, k.Major, k.Source)
	for _, v := range c {
		row = append(row, v)
	}
	return row
}

// unboundTimeouts lifts the pool's statement and idle-in-transaction
// timeouts for the rest of tx (SET LOCAL: the connection gets them back at
// its end).
func unboundTimeouts(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return fmt.Errorf("lift statement timeout: %w", err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return fmt.Errorf("lift idle timeout: %w", err)
	}
	return nil
}

// Rebuild implements evaluation.Store. It reads the cases on a second
// connection under the writing transaction's exported snapshot, so the
// queue entries it deletes are exactly those the cases it read reflect;
// changes committed meanwhile stay queued for the next Refresh.
func (s *EvaluationStore) Rebuild(ctx context.Context, rules *evaluation.Rules, now time.Time) (evaluation.RefreshStats, error) {
	start := time.Now()
	var st evaluation.RefreshStats
	st.Rebuilt = true
	wc, err := s.pool.Acquire(ctx)
	if err != nil {
		return st, fmt.Errorf("rebuild: acquire: %w", err)
	}
	defer wc.Release()
	// A session lock taken before the transaction starts, so the
	// transaction's snapshot postdates the previous holder's commit.
	if _, err := wc.Exec(ctx, `SELECT pg_advisory_lock($1)`, evalLockKey); err != nil {
		return st, fmt.Errorf("rebuild: lock: %w", err)
	}
	defer func() {
		if _, err := wc.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, evalLockKey); err != nil {
			// The lock dies with the session: drop the connection.
			_ = wc.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	tx, err := wc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return st, fmt.Errorf("rebuild: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	// The pool's timeouts are sized for requests; a rebuild reads every
	// case (a million take minutes) and must not be cancelled halfway,
	// which would leave the rollups to be rebuilt again at every start.
	if err := unboundTimeouts(ctx, tx); err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return st, fmt.Errorf("rebuild: export snapshot: %w", err)
	}
	for _, q := range []string{
		`TRUNCATE case_eval_facts, case_rollup_monthly, case_rollup_community, case_rollup_class`,
		`DELETE FROM case_eval_dirty`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return st, fmt.Errorf("rebuild: clear: %w", err)
		}
	}

	rc, err := s.pool.Acquire(ctx)
	if err != nil {
		return st, fmt.Errorf("rebuild: acquire reader: %w", err)
	}
	defer rc.Release()
	rtx, err := rc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, fmt.Errorf("rebuild: begin reader: %w", err)
	}
	defer rtx.Rollback(ctx) //nolint:errcheck // read-only
	if err := unboundTimeouts(ctx, rtx); err != nil {
		return st, fmt.Errorf("rebuild reader: %w", err)
	}
	if _, err := rtx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'`); err != nil {
		return st, fmt.Errorf("rebuild: share snapshot: %w", err)
	}
	rows, err := rtx.Query(ctx, `SELECT `+caseStateColumns+` FROM cases`)
	if err != nil {
		return st, fmt.Errorf("rebuild: read cases: %w", err)
	}
	defer rows.Close()

	horizon := rules.HorizonAt(now)
	agg := newRollupAggregator()
	src := &factSource{rows: rows, rules: rules, horizon: horizon, agg: agg}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"case_eval_facts"}, factColumns, src)
	if err != nil {
		return st, fmt.Errorf("rebuild: write ledger: %w", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("rebuild: read cases: %w", err)
	}
	st.Cases = int(n)
	cols := append(append([]string{}, fineKeyColumns...), evaluation.CounterColumns...)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{rollupFine}, cols, agg.source()); err != nil {
		return st, fmt.Errorf("rebuild: write rollup: %w", err)
	}
	if err := deriveTiers(ctx, tx, ""); err != nil {
		return st, fmt.Errorf("rebuild: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE case_eval_state SET horizon = $1, rules_version = $2, rebuilt_at = now(), refreshed_at = now()`,
		horizon.Date(), evaluation.RulesVersion); err != nil {
		return st, fmt.Errorf("rebuild: state: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE case_eval_facts, case_rollup_monthly, case_rollup_community, case_rollup_class`); err != nil {
		return st, fmt.Errorf("rebuild: analyze: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return st, translate(fmt.Errorf("rebuild: commit: %w", err))
	}
	// The queue's head is now a million dead rows that every refresh's
	// "ORDER BY seq LIMIT n" would walk (50 ms) until autovacuum came by.
	if _, err := wc.Exec(ctx, `VACUUM (ANALYZE) case_eval_dirty`); err != nil {
		return st, fmt.Errorf("rebuild: vacuum queue: %w", err)
	}
	st.Duration = time.Since(start)
	return st, nil
}

// factSource feeds the ledger's COPY from the cases query, adding each
// case's contribution to the aggregator as it passes.
type factSource struct {
	rules   *evaluation.Rules
	rows    pgx.Rows
	horizon evaluation.Month
	agg     *rollupAggregator
	row     []any
	err     error
}

func (f *factSource) Next() bool {
	for f.rows.Next() {
		var cs evaluation.CaseState
		if err := scanCaseState(f.rows, &cs); err != nil {
			f.err = err
			return false
		}
		fa := f.rules.Facts(cs, f.horizon)
		if !fa.Contributes() {
			continue
		}
		f.agg.intern(&fa)
		f.rules.Contribute(&fa, 1, f.agg.add)
		f.row = factRow(f.rules, &fa)
		return true
	}
	return false
}

func (f *factSource) Values() ([]any, error) { return f.row, nil }

func (f *factSource) Err() error {
	if f.err != nil {
		return f.err
	}
	return f.rows.Err()
}

// rollupAggregator sums contributions per fine cell in memory (a few
// hundred thousand cells at 1M cases); dimension strings are interned so
// each distinct value is held once.
type rollupAggregator struct {
	cells   map[evaluation.Key]*evaluation.Counters
	strings map[string]string
}

func newRollupAggregator() *rollupAggregator {
	return &rollupAggregator{cells: map[evaluation.Key]*evaluation.Counters{}, strings: map[string]string{}}
}

func (a *rollupAggregator) in(s string) string {
	if v, ok := a.strings[s]; ok {
		return v
	}
	a.strings[s] = s
	return s
}

func (a *rollupAggregator) intern(f *evaluation.Facts) {
	f.Street, f.Community, f.Dept = a.in(f.Street), a.in(f.Community), a.in(f.Dept)
	f.Kind, f.Major, f.Source = a.in(f.Kind), a.in(f.Major), a.in(f.Source)
}

func (a *rollupAggregator) add(k evaluation.Key, c evaluation.Counter, v int64) {
	d := a.cells[k]
	if d == nil {
		d = new(evaluation.Counters)
		a.cells[k] = d
	}
	d[c] += v
}

func (a *rollupAggregator) source() pgx.CopyFromSource {
	keys := make([]evaluation.Key, 0, len(a.cells))
	for k := range a.cells {
		keys = append(keys, k)
	}
	i := -1
	return pgx.CopyFromFunc(func() ([]any, error) {
		for i++; i < len(keys); i++ {
			c := a.cells[keys[i]]
			if !c.Zero() {
				return fineRow(keys[i], c), nil
			}
		}
		return nil, nil
	})
}

// snapshotCheckpointEvery is how many rows lie between checkpoints.
const snapshotCheckpointEvery = 1000

const manifestColumns = `id, dataset, filter, profile, columns, row_count, ndjson_sha256, ndjson_bytes, csv_sha256, csv_bytes,
	policy_version, rules_version, created_by, created_at, files, organisation`
