// Package casbinpg stores Casbin policy in PostgreSQL through a pgx pool.
//
// The hub carries its own adapter because no pgx-based one can be installed
// here. It implements persist.Adapter, BatchAdapter, UpdatableAdapter and
// FilteredAdapter, and the context-aware variants of each (ContextAdapter,
// ContextBatchAdapter, ContextUpdatableAdapter, ContextFilteredAdapter).
//
// Rules live in one table (migration 00020, "casbin_rules"): ptype and six
// text fields v0..v5, ” where a rule is shorter, with a unique index over all
// seven columns, so a rule is stored at most once and adding it twice is a
// no-op. Rules are loaded in insertion (id) order, which is the order Casbin
// saw them in; models with priority or first-match effects depend on it.
//
// Every method runs under the configured timeout, in addition to the
// deadline of the context passed to a ...Ctx method; Casbin's own interfaces
// have no context, so without it a stuck database would hang an enforcer.
package casbinpg

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults for Config.
const (
	TableDefault   = "casbin_rules"
	TimeoutDefault = 5 * time.Second
)

// MaxFields is the number of rule fields a row holds (v0..v5). Longer rules
// are refused rather than silently truncated.
const MaxFields = 6

var (
	_ persist.Adapter                 = (*Adapter)(nil)
	_ persist.BatchAdapter            = (*Adapter)(nil)
	_ persist.UpdatableAdapter        = (*Adapter)(nil)
	_ persist.FilteredAdapter         = (*Adapter)(nil)
	_ persist.ContextAdapter          = (*Adapter)(nil)
	_ persist.ContextBatchAdapter     = (*Adapter)(nil)
	_ persist.ContextUpdatableAdapter = (*Adapter)(nil)
	_ persist.ContextFilteredAdapter  = (*Adapter)(nil)
)

// ErrRuleTooLong is returned for a rule with more than MaxFields fields.
var ErrRuleTooLong = errors.New("casbin rule has more than 6 fields")

// Config configures an Adapter. Zero values take the defaults above.
type Config struct {
	// Table holds the rules, optionally schema-qualified ("policy.rules").
	// It must have the layout of migration 00020. Default TableDefault,
	// resolved through the connection's search_path.
	Table string
	// Timeout bounds every operation. Default TimeoutDefault.
	Timeout time.Duration
}

// Adapter is a Casbin adapter on a pgx pool. It is safe for concurrent use,
// and several enforcers (in one process or many) may share its table.
type Adapter struct {
	pool    *pgxpool.Pool
	ident   pgx.Identifier
	table   string // ident, sanitized for SQL text
	timeout time.Duration
	// filtered records whether the last load was LoadFilteredPolicy, in
	// which case Casbin refuses SavePolicy (it would delete what was not
	// loaded).
	filtered atomic.Bool
}

// New returns an adapter on pool. It does not touch the database.
func New(pool *pgxpool.Pool, cfg Config) (*Adapter, error) {
	if pool == nil {
		return nil, errors.New("casbinpg: nil pool")
	}
	if cfg.Table == "" {
		cfg.Table = TableDefault
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = TimeoutDefault
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("casbinpg: negative timeout %s", cfg.Timeout)
	}
	ident := pgx.Identifier(strings.Split(cfg.Table, "."))
	if len(ident) > 2 || slices.Contains(ident, "") {
		return nil, fmt.Errorf("casbinpg: invalid table name %q", cfg.Table)
	}
	return &Adapter{pool: pool, ident: ident, table: ident.Sanitize(), timeout: cfg.Timeout}, nil
}

func (a *Adapter) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.timeout)
}

// row is one stored rule: ptype then v0..v5.
type row [1 + MaxFields]string

func toRow(ptype string, rule []string) (row, error) {
	var r row
	if len(rule) > MaxFields {
		return r, fmt.Errorf("%w: %s %q", ErrRuleTooLong, ptype, rule)
	}
	r[0] = ptype
	copy(r[1:], rule)
	return r, nil
}

func toRows(ptype string, rules [][]string) ([]row, error) {
	rows := make([]row, len(rules))
	for i, rule := range rules {
		r, err := toRow(ptype, rule)
		if err != nil {
			return nil, err
		}
		rows[i] = r
	}
	return rows, nil
}

// trimmed returns the rule's fields without trailing empty ones, the form
// Casbin's own adapters hand back when they do not know the model.
func (r row) trimmed() []string {
	v := r[1:]
	n := len(v)
	for n > 0 && v[n-1] == "" {
		n--
	}
	return slices.Clone(v[:n])
}

// columns turns rows into the seven column arrays unnest takes, so a batch
// is one statement and one round trip whatever its size.
func columns(rows []row) [1 + MaxFields][]string {
	var cols [1 + MaxFields][]string
	for c := range cols {
		cols[c] = make([]string, len(rows))
		for i := range rows {
			cols[c][i] = rows[i][c]
		}
	}
	return cols
}

func columnArgs(rows []row) []any {
	cols := columns(rows)
	args := make([]any, len(cols))
	for i := range cols {
		args[i] = cols[i]
	}
	return args
}

func rowArgs(r row) []any {
	args := make([]any, len(r))
	for i := range r {
		args[i] = r[i]
	}
	return args
}

const (
	columnList = "ptype, v0, v1, v2, v3, v4, v5"
	// matchRow compares every column with $1..$7.
	matchRow = "ptype = $1 AND v0 = $2 AND v1 = $3 AND v2 = $4 AND v3 = $5 AND v4 = $6 AND v5 = $7"
	// unnestRows expands $1..$7 (text arrays) into rows, keeping their order.
	unnestRows = "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS r(ptype, v0, v1, v2, v3, v4, v5, ord)"
)

// LoadPolicy loads every rule into m. See LoadPolicyCtx.
func (a *Adapter) LoadPolicy(m model.Model) error {
	return a.LoadPolicyCtx(context.Background(), m)
}

// LoadPolicyCtx loads every rule into m with one query, in insertion order.
// A rule whose ptype the model does not define is an error, as it is for
// Casbin's file adapter: the table and the model disagree.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	if err := a.load(ctx, m, "", nil); err != nil {
		return fmt.Errorf("casbinpg: load policy: %w", err)
	}
	a.filtered.Store(false)
	return nil
}

// Filter selects the rules LoadFilteredPolicy loads. Within a field the
// listed values are alternatives; fields combine with AND; an empty field
// matches anything. The zero Filter loads everything.
type Filter struct {
	Ptype                  []string
	V0, V1, V2, V3, V4, V5 []string
}

// LoadFilteredPolicy loads the rules matching filter. See
// LoadFilteredPolicyCtx.
func (a *Adapter) LoadFilteredPolicy(m model.Model, filter any) error {
	return a.LoadFilteredPolicyCtx(context.Background(), m, filter)
}

// LoadFilteredPolicyCtx loads the rules matching filter, a Filter or
// *Filter; nil loads everything, as LoadPolicy does. While the loaded policy
// is filtered Casbin refuses SavePolicy.
func (a *Adapter) LoadFilteredPolicyCtx(ctx context.Context, m model.Model, filter any) error {
	var f Filter
	switch v := filter.(type) {
	case nil:
		return a.LoadPolicyCtx(ctx, m)
	case Filter:
		f = v
	case *Filter:
		if v == nil {
			return a.LoadPolicyCtx(ctx, m)
		}
		f = *v
	default:
		return fmt.Errorf("casbinpg: load filtered policy: filter is %T, want casbinpg.Filter", filter)
	}
	var where []string
	var args []any
	for i, values := range [...][]string{f.Ptype, f.V0, f.V1, f.V2, f.V3, f.V4, f.V5} {
		if len(values) == 0 {
			continue
		}
		args = append(args, values)
		where = append(where, columnName(i)+" = ANY($"+strconv.Itoa(len(args))+")")
	}
	if err := a.load(ctx, m, strings.Join(where, " AND "), args); err != nil {
		return fmt.Errorf("casbinpg: load filtered policy: %w", err)
	}
	a.filtered.Store(true)
	return nil
}

// IsFiltered reports whether the last load was filtered.
func (a *Adapter) IsFiltered() bool { return a.filtered.Load() }

// IsFilteredCtx reports whether the last load was filtered.
func (a *Adapter) IsFilteredCtx(context.Context) bool { return a.filtered.Load() }

// columnName names column i of a row: 0 is ptype, 1..6 are v0..v5.
func columnName(i int) string {
	if i == 0 {
		return "ptype"
	}
	return "v" + strconv.Itoa(i-1)
}

func (a *Adapter) load(ctx context.Context, m model.Model, where string, args []any) error {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	q := "SELECT " + columnList + " FROM " + a.table
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY id"
	rows, err := a.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	arity := map[string]arityRule{}
	var r row
	dest := make([]any, len(r))
	for i := range r {
		dest[i] = &r[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		ar, ok := arity[r[0]]
		if !ok {
			if ar, err = ruleArity(m, r[0]); err != nil {
				return err
			}
			arity[r[0]] = ar
		}
		fields, err := ar.fields(r)
		if err != nil {
			return err
		}
		// The model keeps the slice, and fields aliases the scan buffer.
		line := make([]string, 1+len(fields))
		line[0] = r[0]
		copy(line[1:], fields)
		if err := persist.LoadPolicyArray(line, m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// arityRule says how many fields a stored rule of one ptype has. The table
// cannot tell a missing field from an empty one, so the model decides: a "p"
// rule has exactly as many fields as its definition has tokens (Casbin
// refuses any other length, and a policy may legitimately end in an empty
// field); a "g" rule has at least that many, plus any non-empty extras.
type arityRule struct {
	sec    string
	tokens int
}

func ruleArity(m model.Model, ptype string) (arityRule, error) {
	if ptype == "" {
		return arityRule{}, errors.New("rule with an empty ptype")
	}
	sec := ptype[:1]
	ast, err := m.GetAssertion(sec, ptype)
	if err != nil {
		return arityRule{}, err
	}
	return arityRule{sec: sec, tokens: len(ast.Tokens)}, nil
}

func (ar arityRule) fields(r row) ([]string, error) {
	v := r[1:]
	n := len(v)
	for n > 0 && v[n-1] == "" {
		n--
	}
	if ar.tokens > len(v) {
		return nil, fmt.Errorf("%s defines %d fields, the table holds %d", r[0], ar.tokens, len(v))
	}
	switch {
	case ar.sec == "p" && n > ar.tokens:
		return nil, fmt.Errorf("rule %s %q is longer than its definition (%d fields)", r[0], v[:n], ar.tokens)
	case n < ar.tokens:
		n = ar.tokens
	}
	return v[:n], nil
}

// SavePolicy replaces the stored policy with m's. See SavePolicyCtx.
func (a *Adapter) SavePolicy(m model.Model) error {
	return a.SavePolicyCtx(context.Background(), m)
}

// SavePolicyCtx replaces every stored rule with the rules in m, in one
// transaction: readers see the old policy or the new one, never a mix, and a
// failure leaves the old policy in place.
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	var rows []row
	seen := map[row]bool{}
	for _, sec := range []string{"p", "g"} {
		ptypes := make([]string, 0, len(m[sec]))
		for ptype := range m[sec] {
			ptypes = append(ptypes, ptype)
		}
		slices.Sort(ptypes)
		for _, ptype := range ptypes {
			for _, rule := range m[sec][ptype].Policy {
				r, err := toRow(ptype, rule)
				if err != nil {
					return fmt.Errorf("casbinpg: save policy: %w", err)
				}
				// Rules that differ only in trailing empty fields are
				// one row; COPY has no ON CONFLICT to absorb them.
				if !seen[r] {
					seen[r] = true
					rows = append(rows, r)
				}
			}
		}
	}
	err := a.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		// SHARE ROW EXCLUSIVE queues concurrent writers (and other saves)
		// behind this one while leaving readers alone. Without it a
		// concurrent save's rows, committed after our DELETE's snapshot,
		// would survive it and collide with our COPY.
		if _, err := tx.Exec(ctx, "LOCK TABLE "+a.table+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		// DELETE rather than TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE
		// lock, which would stall every instance's LoadPolicy meanwhile.
		if _, err := tx.Exec(ctx, "DELETE FROM "+a.table); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, a.ident, []string{"ptype", "v0", "v1", "v2", "v3", "v4", "v5"},
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rowArgs(rows[i]), nil }))
		return err
	})
	if err != nil {
		return fmt.Errorf("casbinpg: save policy: %w", err)
	}
	return nil
}

// AddPolicy stores one rule. See AddPolicyCtx.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicyCtx(context.Background(), sec, ptype, rule)
}

// AddPolicyCtx stores one rule; a rule already stored is left as it is (the
// enforcer's model may be behind another instance's change).
func (a *Adapter) AddPolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	r, err := toRow(ptype, rule)
	if err == nil {
		err = a.exec(ctx, "INSERT INTO "+a.table+" ("+columnList+") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING", rowArgs(r)...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: add policy: %w", err)
	}
	return nil
}

// AddPolicies stores several rules at once. See AddPoliciesCtx.
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	return a.AddPoliciesCtx(context.Background(), sec, ptype, rules)
}

// AddPoliciesCtx stores rules in one statement (so all or none), keeping
// their order; rules already stored are skipped.
func (a *Adapter) AddPoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	rows, err := toRows(ptype, rules)
	if err == nil && len(rows) > 0 {
		err = a.exec(ctx, a.insertRowsSQL(), columnArgs(rows)...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: add policies: %w", err)
	}
	return nil
}

func (a *Adapter) insertRowsSQL() string {
	return "INSERT INTO " + a.table + " (" + columnList + ") SELECT " + columnList + " FROM " + unnestRows + " ORDER BY ord ON CONFLICT DO NOTHING"
}

// RemovePolicy deletes one rule. See RemovePolicyCtx.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicyCtx(context.Background(), sec, ptype, rule)
}

// RemovePolicyCtx deletes one rule; a rule not stored is not an error.
func (a *Adapter) RemovePolicyCtx(ctx context.Context, sec, ptype string, rule []string) error {
	r, err := toRow(ptype, rule)
	if err == nil {
		err = a.exec(ctx, "DELETE FROM "+a.table+" WHERE "+matchRow, rowArgs(r)...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: remove policy: %w", err)
	}
	return nil
}

// RemovePolicies deletes several rules at once. See RemovePoliciesCtx.
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.RemovePoliciesCtx(context.Background(), sec, ptype, rules)
}

// RemovePoliciesCtx deletes rules in one statement (so all or none).
func (a *Adapter) RemovePoliciesCtx(ctx context.Context, sec, ptype string, rules [][]string) error {
	rows, err := toRows(ptype, rules)
	if err == nil && len(rows) > 0 {
		err = a.exec(ctx, a.deleteRowsSQL(), columnArgs(rows)...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: remove policies: %w", err)
	}
	return nil
}

func (a *Adapter) deleteRowsSQL() string {
	return "DELETE FROM " + a.table + " t USING " + unnestRows +
		" WHERE t.ptype = r.ptype AND t.v0 = r.v0 AND t.v1 = r.v1 AND t.v2 = r.v2 AND t.v3 = r.v3 AND t.v4 = r.v4 AND t.v5 = r.v5"
}

// RemoveFilteredPolicy deletes the rules matching a filter. See
// RemoveFilteredPolicyCtx.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	return a.RemoveFilteredPolicyCtx(context.Background(), sec, ptype, fieldIndex, fieldValues...)
}

// RemoveFilteredPolicyCtx deletes the rules of ptype whose field
// fieldIndex+i equals fieldValues[i] for every non-empty fieldValues[i]; an
// empty value matches anything, as in Casbin.
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, sec, ptype string, fieldIndex int, fieldValues ...string) error {
	where, args, err := filterSQL(ptype, fieldIndex, fieldValues)
	if err == nil {
		err = a.exec(ctx, "DELETE FROM "+a.table+" WHERE "+where, args...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: remove filtered policy: %w", err)
	}
	return nil
}

// filterSQL builds the predicate of a Casbin field filter.
func filterSQL(ptype string, fieldIndex int, fieldValues []string) (string, []any, error) {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > MaxFields {
		return "", nil, fmt.Errorf("field filter out of range: index %d with %d values", fieldIndex, len(fieldValues))
	}
	where := "ptype = $1"
	args := []any{ptype}
	for i, v := range fieldValues {
		if v == "" {
			continue
		}
		args = append(args, v)
		where += " AND v" + strconv.Itoa(fieldIndex+i) + " = $" + strconv.Itoa(len(args))
	}
	return where, args, nil
}

// UpdatePolicy replaces one rule with another. See UpdatePolicyCtx.
func (a *Adapter) UpdatePolicy(sec, ptype string, oldRule, newRule []string) error {
	return a.UpdatePolicyCtx(context.Background(), sec, ptype, oldRule, newRule)
}

// UpdatePolicyCtx replaces oldRule with newRule in place, keeping its
// position in the load order as Casbin's model does.
func (a *Adapter) UpdatePolicyCtx(ctx context.Context, sec, ptype string, oldRule, newRule []string) error {
	err := a.updatePolicies(ctx, ptype, [][]string{oldRule}, [][]string{newRule})
	if err != nil {
		return fmt.Errorf("casbinpg: update policy: %w", err)
	}
	return nil
}

// UpdatePolicies replaces rules pairwise. See UpdatePoliciesCtx.
func (a *Adapter) UpdatePolicies(sec, ptype string, oldRules, newRules [][]string) error {
	return a.UpdatePoliciesCtx(context.Background(), sec, ptype, oldRules, newRules)
}

// UpdatePoliciesCtx replaces oldRules[i] with newRules[i], in place and in
// one transaction. If newRules[i] is already stored elsewhere, that copy is
// dropped so the rule stays unique.
func (a *Adapter) UpdatePoliciesCtx(ctx context.Context, sec, ptype string, oldRules, newRules [][]string) error {
	err := a.updatePolicies(ctx, ptype, oldRules, newRules)
	if err != nil {
		return fmt.Errorf("casbinpg: update policies: %w", err)
	}
	return nil
}

func (a *Adapter) updatePolicies(ctx context.Context, ptype string, oldRules, newRules [][]string) error {
	if len(oldRules) != len(newRules) {
		return fmt.Errorf("%d old rules but %d new ones", len(oldRules), len(newRules))
	}
	olds, err := toRows(ptype, oldRules)
	if err != nil {
		return err
	}
	news, err := toRows(ptype, newRules)
	if err != nil {
		return err
	}
	// Dropping a stored copy of the new rule first keeps the UPDATE from
	// violating the unique index (the model may be behind the table).
	dropNew := "DELETE FROM " + a.table + " WHERE " + matchRow
	// $1..$7 the new rule, $8..$14 the old one.
	update := "UPDATE " + a.table + " SET ptype = $1, v0 = $2, v1 = $3, v2 = $4, v3 = $5, v4 = $6, v5 = $7" +
		" WHERE ptype = $8 AND v0 = $9 AND v1 = $10 AND v2 = $11 AND v3 = $12 AND v4 = $13 AND v5 = $14"
	return a.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		// One round trip for the lot; statements run in order, so a later
		// pair sees the earlier ones.
		b := &pgx.Batch{}
		for i := range olds {
			if news[i] == olds[i] {
				continue // dropping the "copy" would drop the rule itself
			}
			b.Queue(dropNew, rowArgs(news[i])...)
			b.Queue(update, append(rowArgs(news[i]), rowArgs(olds[i])...)...)
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

// UpdateFilteredPolicies replaces the rules matching a filter with
// newRules. See UpdateFilteredPoliciesCtx.
func (a *Adapter) UpdateFilteredPolicies(sec, ptype string, newRules [][]string, fieldIndex int, fieldValues ...string) ([][]string, error) {
	return a.UpdateFilteredPoliciesCtx(context.Background(), sec, ptype, newRules, fieldIndex, fieldValues...)
}

// UpdateFilteredPoliciesCtx deletes the rules matching the filter (as in
// RemoveFilteredPolicy) and stores newRules, in one transaction, and returns
// the deleted rules. Their trailing empty fields are trimmed: without the
// model the table cannot tell them from absent ones.
func (a *Adapter) UpdateFilteredPoliciesCtx(ctx context.Context, sec, ptype string, newRules [][]string, fieldIndex int, fieldValues ...string) ([][]string, error) {
	where, args, err := filterSQL(ptype, fieldIndex, fieldValues)
	if err != nil {
		return nil, fmt.Errorf("casbinpg: update filtered policies: %w", err)
	}
	news, err := toRows(ptype, newRules)
	if err != nil {
		return nil, fmt.Errorf("casbinpg: update filtered policies: %w", err)
	}
	var old [][]string
	err = a.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "DELETE FROM "+a.table+" WHERE "+where+" RETURNING id, "+columnList, args...)
		if err != nil {
			return err
		}
		type deleted struct {
			id int64
			r  row
		}
		ds, err := pgx.CollectRows(rows, func(rows pgx.CollectableRow) (deleted, error) {
			var d deleted
			err := rows.Scan(&d.id, &d.r[0], &d.r[1], &d.r[2], &d.r[3], &d.r[4], &d.r[5], &d.r[6])
			return d, err
		})
		if err != nil {
			return err
		}
		// RETURNING has no order; give the rules back in load order.
		slices.SortFunc(ds, func(x, y deleted) int { return cmp.Compare(x.id, y.id) })
		for _, d := range ds {
			old = append(old, d.r.trimmed())
		}
		if len(news) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, a.insertRowsSQL(), columnArgs(news)...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("casbinpg: update filtered policies: %w", err)
	}
	return old, nil
}

func (a *Adapter) exec(ctx context.Context, sql string, args ...any) error {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	_, err := a.pool.Exec(ctx, sql, args...)
	return err
}

// inTx runs fn in a transaction under the adapter's timeout, committing only
// if fn returns nil.
func (a *Adapter) inTx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := a.withTimeout(ctx)
	defer cancel()
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := fn(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Tx is what the ...Tx methods need of a transaction (pgx.Tx satisfies it).
type Tx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Table returns the rules table's name, quoted for SQL text.
func (a *Adapter) Table() string { return a.table }

// AddPoliciesTx stores rules as AddPoliciesCtx does, inside the caller's
// transaction: a workflow that records a decision and the policy it causes
// commits both or neither. The caller reloads and notifies after commit.
func (a *Adapter) AddPoliciesTx(ctx context.Context, tx Tx, ptype string, rules [][]string) error {
	rows, err := toRows(ptype, rules)
	if err == nil && len(rows) > 0 {
		_, err = tx.Exec(ctx, a.insertRowsSQL(), columnArgs(rows)...)
	}
	if err != nil {
		return fmt.Errorf("casbinpg: add policies: %w", err)
	}
	return nil
}

// RemoveFilteredPolicyTx deletes rules as RemoveFilteredPolicyCtx does,
// inside the caller's transaction, and returns how many it deleted.
func (a *Adapter) RemoveFilteredPolicyTx(ctx context.Context, tx Tx, ptype string, fieldIndex int, fieldValues ...string) (int64, error) {
	where, args, err := filterSQL(ptype, fieldIndex, fieldValues)
	if err != nil {
		return 0, fmt.Errorf("casbinpg: remove filtered policy: %w", err)
	}
	tag, err := tx.Exec(ctx, "DELETE FROM "+a.table+" WHERE "+where, args...)
	if err != nil {
		return 0, fmt.Errorf("casbinpg: remove filtered policy: %w", err)
	}
	return tag.RowsAffected(), nil
}
