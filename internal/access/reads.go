package access

import (
	"context"
	"fmt"
)

// Auditor records reads that must leave a trace (another department's data,
// unmasked personal data). An error means the trace could not be kept, and
// the read is refused rather than left unrecorded.
type Auditor interface {
	Read(ctx context.Context, d *Decision, rows int) error
}

// Row is a record a read returns. Its jurisdiction (a dotted code) decides
// what a grant limited to part of the district unlocks on it
// (Decision.FieldAt), and so what the audit of the read records.
type Row interface {
	RowJurisdiction() string
}

// Jurisdictions returns the jurisdiction of each row, in order: what
// AuditRead takes.
func Jurisdictions[R Row](rows []R) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.RowJurisdiction()
	}
	return out
}

// AuditRead records a read through a of the rows in jurisdictions, one
// entry per row returned (the row's jurisdiction). The auditor gets d
// narrowed to those rows (Decision.Returned): a grant none of them lies
// under is not named, and a group it would have unlocked is recorded at the
// access the rows were actually given. A nil auditor or no rows records
// nothing.
func AuditRead(ctx context.Context, a Auditor, d *Decision, jurisdictions []string) error {
	if a == nil || len(jurisdictions) == 0 {
		return nil
	}
	if err := a.Read(ctx, d.Returned(jurisdictions), len(jurisdictions)); err != nil {
		return fmt.Errorf("audit read: %w", err)
	}
	return nil
}

// AuditReturned records the disclosure of row by a write: a mutation that
// answers with the record it created or changed shows its fields exactly as
// a read would, so it is audited exactly as a read of that row (d is the
// decision the write was made under).
func AuditReturned[R Row](ctx context.Context, a Auditor, d *Decision, row R) error {
	return AuditRead(ctx, a, d, []string{row.RowJurisdiction()})
}

// ReadOne is the read every dataset service makes the same way: decide the
// caller's rows, read one record within them (NOT_FOUND outside them, as
// for a record that does not exist), and audit it.
func ReadOne[T Row](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(RowScope) (T, error)) (T, error) {
	var zero T
	d, err := decide(ctx)
	if err != nil {
		return zero, err
	}
	v, err := read(d.Rows)
	if err != nil {
		return zero, err
	}
	if err := AuditRead(ctx, a, d, []string{v.RowJurisdiction()}); err != nil {
		return zero, err
	}
	return v, nil
}

// ReadMany is ReadOne for a list: only the records within the caller's rows
// come back, and they are audited.
func ReadMany[T Row](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(RowScope) ([]T, error)) ([]T, error) {
	d, err := decide(ctx)
	if err != nil {
		return nil, err
	}
	list, err := read(d.Rows)
	if err != nil {
		return nil, err
	}
	if err := AuditRead(ctx, a, d, Jurisdictions(list)); err != nil {
		return nil, err
	}
	return list, nil
}

// ReadGrouped is ReadMany for lists grouped by parent (nested lists): the
// records of every group are read within the caller's rows in one call,
// and all of them are audited together. counts, when asked for, pass
// through.
func ReadGrouped[T Row](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(RowScope) (map[string][]T, map[string]int, error)) (map[string][]T, map[string]int, error) {
	d, err := decide(ctx)
	if err != nil {
		return nil, nil, err
	}
	groups, counts, err := read(d.Rows)
	if err != nil {
		return nil, nil, err
	}
	var js []string
	for _, g := range groups {
		js = append(js, Jurisdictions(g)...)
	}
	if err := AuditRead(ctx, a, d, js); err != nil {
		return nil, nil, err
	}
	return groups, counts, nil
}

// ReadPage is ReadMany for one page of a list: read gets the whole
// decision (a list checks its filter against the field groups it unlocks)
// and returns the page's rows and whether more follow. Only the rows
// returned are audited.
func ReadPage[T Row](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(*Decision) ([]T, bool, error)) ([]T, bool, error) {
	d, err := decide(ctx)
	if err != nil {
		return nil, false, err
	}
	list, more, err := read(d)
	if err != nil {
		return nil, false, err
	}
	if err := AuditRead(ctx, a, d, Jurisdictions(list)); err != nil {
		return nil, false, err
	}
	return list, more, nil
}
