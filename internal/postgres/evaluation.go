package postgres

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
		rows, err := s.pool.Query(ctx, `SELECT street_code, coalesce(community_code, ''), discovered_at,
			CASE WHEN outcome = 'DEMOLISHED' THEN resolved_at END, coalesce(demolished_area_m2, area_m2, 0),
			kind = 'ILLEGAL_CONSTRUCTION'
			FROM violations
			WHERE ((discovered_at >= @from AND discovered_at < @to)
			    OR (outcome = 'DEMOLISHED' AND resolved_at >= @from AND resolved_at < @to)) AND `+jur, args)
		if err == nil {
			o.Violations, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.ViolationFact, error) {
				var v evaluation.ViolationFact
				err := r.Scan(&v.Street, &v.Community, &v.DiscoveredAt, &v.DemolishedAt, &v.AreaM2, &v.Construction)
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

// snapshotCheckpointEvery is how many rows lie between checkpoints.
const snapshotCheckpointEvery = 1000

// CreateSnapshot implements evaluation.Store. The source cases are read on
// one connection in a read-only REPEATABLE READ transaction (a consistent
// picture) and streamed through the anonymizer into a COPY on another, in
// one transaction with the checkpoints and the manifest: a snapshot exists
// completely or not at all. Memory stays constant.
func (s *EvaluationStore) CreateSnapshot(ctx context.Context, spec *evaluation.SnapshotSpec) (*evaluation.Manifest, error) {
	rc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: acquire reader: %w", err)
	}
	defer rc.Release()
	rtx, err := rc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("snapshot: begin reader: %w", err)
	}
	defer rtx.Rollback(ctx) //nolint:errcheck // read-only

	q, ok := snapshotQueries[spec.Dataset]
	if !ok {
		return nil, fmt.Errorf("snapshot: no source query for dataset %q", spec.Dataset)
	}
	w := q.filter(spec.Filter)
	loc := spec.Location
	if loc == nil {
		loc = time.UTC
	}
	counts, err := countQuasi(ctx, rtx, q, w, loc.String(), spec.Profile.Coordinates)
	if err != nil {
		return nil, err
	}
	kanon, err := spec.Anonymizer.Plan(counts, spec.K)
	if err != nil {
		return nil, err
	}
	rows, err := rtx.Query(ctx, `SELECT `+q.columns+` FROM `+q.from+` WHERE `+w.sql()+` ORDER BY `+q.order, w.args)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", spec.Dataset, err)
	}
	defer rows.Close()

	src := &snapshotSource{rows: rows, scan: q.scan, spec: spec, ndHash: sha256.New(), csvHash: sha256.New(), bomHash: sha256.New()}
	header := []byte(evaluationCSVHeader(spec.Anonymizer.Columns()) + "\n")
	src.csvHash.Write(header)
	src.bomHash.Write([]byte(evaluation.BOM))
	src.bomHash.Write(header)
	src.csvPos = int64(len(header))
	if src.book, err = evaluation.NewDatasetWorkbook(spec.Dataset, spec.Anonymizer.Columns(), loc); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer src.book.Close() //nolint:errcheck // temporary files only
	pqFile, err := os.CreateTemp("", "snapshot-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("snapshot: parquet: %w", err)
	}
	defer os.Remove(pqFile.Name()) //nolint:errcheck // best effort
	defer pqFile.Close()           //nolint:errcheck // read back below
	pqBuf := bufio.NewWriterSize(pqFile, 64<<10)
	src.pq = evaluation.NewParquetWriter(pqBuf, spec.Dataset, spec.Anonymizer.Columns())

	var m *evaluation.Manifest
	err = InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_rows"}, []string{"snapshot_id", "seq", "ndjson", "csv"}, src); err != nil {
			return fmt.Errorf("snapshot: write rows: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot: read %s: %w", spec.Dataset, err)
		}
		if len(src.checkpoints) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_checkpoints"},
				[]string{"snapshot_id", "seq", "ndjson_offset", "csv_offset"}, pgx.CopyFromRows(src.checkpoints)); err != nil {
				return fmt.Errorf("snapshot: write checkpoints: %w", err)
			}
		}
		m = &evaluation.Manifest{
			ID: spec.ID, Dataset: spec.Dataset, Filter: spec.Filter, Profile: spec.Profile,
			Columns: spec.Anonymizer.Columns(), Rows: src.seq,
			NDJSON:        evaluation.Rendering{SHA256: hex.EncodeToString(src.ndHash.Sum(nil)), Bytes: src.ndPos},
			CSV:           evaluation.Rendering{SHA256: hex.EncodeToString(src.csvHash.Sum(nil)), Bytes: src.csvPos},
			CSVBOM:        evaluation.Rendering{SHA256: hex.EncodeToString(src.bomHash.Sum(nil)), Bytes: src.csvPos + int64(len(evaluation.BOM))},
			PolicyVersion: spec.PolicyVersion, RulesVersion: evaluation.RulesVersion,
			CreatedBy: spec.CreatedBy, CreatedAt: spec.CreatedAt,
			Organisation: spec.Org, KAnonymity: kanon,
		}
		// The dimension tables are read in the reader's transaction: the
		// same picture of the catalogues as the rows.
		tables, err := readDimensions(ctx, rtx, m.Dataset, m.Columns, spec.Classes)
		if err != nil {
			return err
		}
		for _, t := range tables {
			files, tm, err := t.Files()
			if err != nil {
				return fmt.Errorf("snapshot: %s: %w", t.Name, err)
			}
			for name, b := range files {
				if _, err := writeFile(ctx, tx, spec.ID, name, bytes.NewReader(b)); err != nil {
					return err
				}
			}
			m.Tables = append(m.Tables, tm)
		}
		if !src.book.TooBig() {
			about := [][2]string{{"snapshot", m.ID.String()}, {"dataset", m.Dataset}, {"rows", strconv.FormatInt(m.Rows, 10)},
				{"policy version", m.PolicyVersion}, {"rules version", strconv.Itoa(m.RulesVersion)},
				{"created by", m.CreatedBy}, {"created at (UTC)", m.CreatedAt.Format(time.RFC3339)},
				{"organisation", orgLine(m.Organisation)}, {"k-anonymity", kanonLine(kanon)},
				{"times", "timestamps are local time in " + loc.String() + ", truncated to the hour"},
				{"dictionary", "the sheet dictionary describes every column of every sheet"}}
			rend, err := writeWorkbook(ctx, tx, spec.ID, src.book, tables, about)
			if err != nil {
				return err
			}
			m.XLSX = &rend
		}
		if err := src.pq.Close(); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := pqBuf.Flush(); err != nil {
			return fmt.Errorf("snapshot: parquet: %w", err)
		}
		if _, err := pqFile.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("snapshot: parquet: %w", err)
		}
		rend, err := writeFile(ctx, tx, spec.ID, evaluation.ParquetFileOf(spec.Dataset), bufio.NewReaderSize(pqFile, 64<<10))
		if err != nil {
			return err
		}
		m.Parquet = &rend
		filter, _ := json.Marshal(m.Filter)
		profile, _ := json.Marshal(m.Profile)
		columns, _ := json.Marshal(m.Columns)
		files, _ := json.Marshal(manifestFiles{CSVBOM: m.CSVBOM, XLSX: m.XLSX, Parquet: m.Parquet, Tables: m.Tables, KAnonymity: m.KAnonymity})
		_, err = tx.Exec(ctx, `INSERT INTO eval_snapshots (id, dataset, filter, profile, columns, row_count, ndjson_sha256,
			ndjson_bytes, csv_sha256, csv_bytes, policy_version, rules_version, pseudonym_key, created_by, created_at, files, organisation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			m.ID, m.Dataset, filter, profile, columns, m.Rows, m.NDJSON.SHA256, m.NDJSON.Bytes, m.CSV.SHA256, m.CSV.Bytes,
			m.PolicyVersion, m.RulesVersion, spec.Key, m.CreatedBy, m.CreatedAt, files, m.Organisation)
		if err != nil {
			return fmt.Errorf("snapshot: write manifest: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// manifestFiles is the manifest's "files" column: what later versions
// added to a snapshot, so older snapshots keep reading as they were.
type manifestFiles struct {
	CSVBOM  evaluation.Rendering       `json:"csvBom"`
	XLSX    *evaluation.Rendering      `json:"xlsx,omitempty"`
	Parquet *evaluation.Rendering      `json:"parquet,omitempty"`
	Tables  []evaluation.TableManifest `json:"tables,omitempty"`
	// KAnonymity: what was generalized (migration-free: files is jsonb).
	KAnonymity *evaluation.KAnonymity `json:"kAnonymity,omitempty"`
}

func orgLine(o *evaluation.OrgRef) string {
	if o == nil {
		return "made by the district's own staff"
	}
	return fmt.Sprintf("%s (%s), contract %s, %s – %s", o.Name, o.Code, o.ContractNo,
		o.ContractFrom.Format(time.RFC3339), o.ContractTo.Format(time.RFC3339))
}

func kanonLine(k *evaluation.KAnonymity) string {
	if k.NotApplicable != "" {
		return fmt.Sprintf("at least %d rows; no quasi-identifiers: %s", k.K, k.NotApplicable)
	}
	g := "nothing generalized"
	if len(k.Generalized) > 0 {
		g = "generalized " + strings.Join(k.Generalized, ", ")
	}
	return fmt.Sprintf("every combination of %s holds at least %d rows (smallest %d); %s",
		strings.Join(k.QuasiIdentifiers, ", "), k.K, k.SmallestGroup, g)
}

// readDimensions reads the jurisdictions and departments and builds the
// tables frozen with a snapshot.
func readDimensions(ctx context.Context, db evalQuerier, dataset string, cols []evaluation.Column, classes []cases.Class) ([]*evaluation.Table, error) {
	rows, err := db.Query(ctx, `SELECT code, level, coalesce(parent_code, ''), name_zh, name_en, coalesce(admin_code, ''), lat, lng,
		area_km2 FROM jurisdictions ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read jurisdictions: %w", err)
	}
	js, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.JurisdictionInfo, error) {
		var j evaluation.JurisdictionInfo
		err := r.Scan(&j.Code, &j.Level, &j.Parent, &j.NameZH, &j.NameEN, &j.AdminCode, &j.Lat, &j.Lng, &j.AreaKm2)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read jurisdictions: %w", err)
	}
	rows, err = db.Query(ctx, `SELECT code, name_zh, name_en, kind, jurisdiction_code FROM departments ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read departments: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.DepartmentInfo, error) {
		var d evaluation.DepartmentInfo
		err := r.Scan(&d.Code, &d.NameZH, &d.NameEN, &d.Kind, &d.Jurisdiction)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read departments: %w", err)
	}
	return evaluation.DimensionTables(dataset, cols, js, ds, classes), nil
}

// writeFile stores a file of a snapshot in FileChunk-sized chunks with one
// COPY, and returns its checksum and length.
func writeFile(ctx context.Context, tx pgx.Tx, id uuid.UUID, name string, r io.Reader) (evaluation.Rendering, error) {
	h := sha256.New()
	var (
		n     int64
		chunk int64
		buf   = make([]byte, evaluation.FileChunk)
		done  bool
		rerr  error
	)
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_files"}, []string{"snapshot_id", "name", "chunk", "data"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if done {
				return nil, nil
			}
			k, err := io.ReadFull(r, buf)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				done = true
			} else if err != nil {
				rerr = err
				return nil, err
			}
			if k == 0 && chunk > 0 {
				return nil, nil
			}
			h.Write(buf[:k])
			n += int64(k)
			row := []any{id, name, chunk, buf[:k]}
			chunk++
			return row, nil
		}))
	if err != nil || rerr != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: write %s: %w", name, errors.Join(err, rerr))
	}
	return evaluation.Rendering{SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

// writeWorkbook finishes the workbook into a temporary file (its rows are
// already spilled to disk by the stream writer) and stores it.
func writeWorkbook(ctx context.Context, tx pgx.Tx, id uuid.UUID, book *evaluation.Workbook, tables []*evaluation.Table, about [][2]string) (evaluation.Rendering, error) {
	f, err := os.CreateTemp("", "snapshot-*.xlsx")
	if err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	defer os.Remove(f.Name()) //nolint:errcheck // best effort
	defer f.Close()           //nolint:errcheck // read only after the write
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := book.Finish(tables, about, bw); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	return writeFile(ctx, tx, id, evaluation.XLSXFile, bufio.NewReaderSize(f, 64<<10))
}

// File implements evaluation.Store: one chunk per query, so a slow client
// holds no connection and memory stays at one chunk.
func (s *EvaluationStore) File(ctx context.Context, id uuid.UUID, name string, fromChunk int64, fn func([]byte) error) error {
	var buf []byte
	for c := fromChunk; ; c++ {
		err := s.pool.QueryRow(ctx, `SELECT data FROM eval_snapshot_files WHERE snapshot_id = $1 AND name = $2 AND chunk = $3`,
			id, name, c).Scan(&buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read snapshot file %s: %w", name, err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}

func evaluationCSVHeader(cols []evaluation.Column) string {
	m := evaluation.Manifest{Columns: cols}
	return m.CSVHeader()
}

// snapshotSource renders source cases into snapshot rows for COPY, hashing
// both renderings and noting checkpoints as it goes.
type snapshotSource struct {
	rows            pgx.Rows
	scan            func(pgx.Rows) (evaluation.Record, error)
	spec            *evaluation.SnapshotSpec
	seq             int64
	ndPos, csvPos   int64
	ndHash, csvHash hash.Hash
	bomHash         hash.Hash
	book            *evaluation.Workbook
	pq              *evaluation.ParquetWriter
	nd, csv         []byte
	row             [4]any
	checkpoints     [][]any
	err             error
}

func (s *snapshotSource) Next() bool {
	if !s.rows.Next() {
		return false
	}
	var rec evaluation.Record
	for {
		var err error
		if rec, err = s.scan(s.rows); err != nil {
			s.err = err
			return false
		}
		if !s.spec.Anonymizer.Suppressed(rec) {
			break
		}
		// Withheld for k-anonymity (counted in the manifest).
		if !s.rows.Next() {
			return false
		}
	}
	s.seq++
	if (s.seq-1)%snapshotCheckpointEvery == 0 {
		s.checkpoints = append(s.checkpoints, []any{s.spec.ID, s.seq, s.ndPos, s.csvPos})
	}
	s.nd, s.csv = s.spec.Anonymizer.Render(rec, s.nd[:0], s.csv[:0])
	s.ndHash.Write(s.nd)
	s.ndHash.Write([]byte{'\n'})
	s.csvHash.Write(s.csv)
	s.csvHash.Write([]byte{'\n'})
	s.bomHash.Write(s.csv)
	s.bomHash.Write([]byte{'\n'})
	if err := s.book.Add(s.spec.Anonymizer); err != nil {
		s.err = err
		return false
	}
	if err := s.pq.Add(s.spec.Anonymizer); err != nil {
		s.err = err
		return false
	}
	s.ndPos += int64(len(s.nd)) + 1
	s.csvPos += int64(len(s.csv)) + 1
	s.row = [4]any{s.spec.ID, s.seq, string(s.nd), string(s.csv)}
	return true
}

func (s *snapshotSource) Values() ([]any, error) { return s.row[:], nil }

func (s *snapshotSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

const manifestColumns = `id, dataset, filter, profile, columns, row_count, ndjson_sha256, ndjson_bytes, csv_sha256, csv_bytes,
	policy_version, rules_version, created_by, created_at, files, organisation`

func scanManifest(row pgx.Row) (*evaluation.Manifest, error) {
	var (
		m     evaluation.Manifest
		files manifestFiles
	)
	err := row.Scan(&m.ID, &m.Dataset, &m.Filter, &m.Profile, &m.Columns, &m.Rows, &m.NDJSON.SHA256, &m.NDJSON.Bytes,
		&m.CSV.SHA256, &m.CSV.Bytes, &m.PolicyVersion, &m.RulesVersion, &m.CreatedBy, &m.CreatedAt, &files, &m.Organisation)
	if err != nil {
		return nil, err
	}
	m.CSVBOM, m.XLSX, m.Parquet, m.Tables, m.KAnonymity = files.CSVBOM, files.XLSX, files.Parquet, files.Tables, files.KAnonymity
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// Snapshot implements evaluation.Store.
func (s *EvaluationStore) Snapshot(ctx context.Context, id uuid.UUID) (*evaluation.Manifest, error) {
	m, err := scanManifest(s.pool.QueryRow(ctx, `SELECT `+manifestColumns+` FROM eval_snapshots WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no assessment dataset %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return m, nil
}

// Snapshots implements evaluation.Store.
func (s *EvaluationStore) Snapshots(ctx context.Context, limit int, org string) ([]*evaluation.Manifest, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+manifestColumns+` FROM eval_snapshots
		WHERE $2 = '' OR organisation->>'code' = $2 ORDER BY created_at DESC, id LIMIT $1`, limit, org)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*evaluation.Manifest, error) { return scanManifest(r) })
}

func renderingColumn(f evaluation.Format) string {
	if f == evaluation.FormatCSV {
		return "csv"
	}
	return "ndjson"
}

// Checkpoint implements evaluation.Store. Offsets grow with seq, so the
// last checkpoint at or before offset is found walking the primary key
// backwards (a thousand checkpoints per million rows).
func (s *EvaluationStore) Checkpoint(ctx context.Context, id uuid.UUID, f evaluation.Format, offset int64) (int64, int64, error) {
	col := renderingColumn(f) + "_offset"
	var seq, at int64
	err := s.pool.QueryRow(ctx, `SELECT seq, `+col+` FROM eval_snapshot_checkpoints
		WHERE snapshot_id = $1 AND `+col+` <= $2 ORDER BY seq DESC LIMIT 1`, id, offset).Scan(&seq, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 1, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot checkpoint: %w", err)
	}
	return seq, at, nil
}

// Lines implements evaluation.Store: keyset batches over (snapshot_id,
// seq). Each batch is read into one buffer and its connection returned to
// the pool before fn sees a line: fn writes to a client, and a client that
// reads slowly must not hold a connection (a few slow downloads would
// exhaust the pool). The buffer is reused from batch to batch.
func (s *EvaluationStore) Lines(ctx context.Context, id uuid.UUID, f evaluation.Format, fromSeq int64, limit int, fn func([]byte) error) error {
	q := `SELECT seq, ` + renderingColumn(f) + ` FROM eval_snapshot_rows WHERE snapshot_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`
	var (
		buf  []byte
		ends []int
	)
	for {
		buf, ends = buf[:0], ends[:0]
		rows, err := s.pool.Query(ctx, q, id, fromSeq, limit)
		if err != nil {
			return fmt.Errorf("read snapshot rows: %w", err)
		}
		var last int64
		for rows.Next() {
			raw := rows.RawValues()
			if last, err = rawInt8(rows.FieldDescriptions()[0].Format, raw[0]); err != nil {
				rows.Close()
				return fmt.Errorf("read snapshot rows: %w", err)
			}
			buf = append(buf, raw[1]...)
			ends = append(ends, len(buf))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read snapshot rows: %w", err)
		}
		start := 0
		for _, end := range ends {
			if err := fn(buf[start:end:end]); err != nil {
				return err
			}
			start = end
		}
		if len(ends) < limit {
			return nil
		}
		fromSeq = last + 1
	}
}

// rawInt8 decodes a bigint column from its wire form (binary or text).
func rawInt8(format int16, b []byte) (int64, error) {
	if format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("bigint of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}
