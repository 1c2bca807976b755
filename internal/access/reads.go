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

// AuditRead records a read of n rows through a; a nil auditor or no rows
// records nothing.
func AuditRead(ctx context.Context, a Auditor, d *Decision, n int) error {
	if a == nil || n == 0 {
		return nil
	}
	if err := a.Read(ctx, d, n); err != nil {
		return fmt.Errorf("audit read: %w", err)
	}
	return nil
}

// ReadOne is the read every dataset service makes the same way: decide the
// caller's rows, read one record within them (NOT_FOUND outside them, as
// for a record that does not exist), and audit it.
func ReadOne[T any](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
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
	if err := AuditRead(ctx, a, d, 1); err != nil {
		return zero, err
	}
	return v, nil
}

// ReadMany is ReadOne for a list: only the records within the caller's rows
// come back, and their number is audited.
func ReadMany[T any](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(RowScope) ([]T, error)) ([]T, error) {
	d, err := decide(ctx)
	if err != nil {
		return nil, err
	}
	list, err := read(d.Rows)
	if err != nil {
		return nil, err
	}
	if err := AuditRead(ctx, a, d, len(list)); err != nil {
		return nil, err
	}
	return list, nil
}

// ReadGrouped is ReadMany for lists grouped by parent (nested lists): the
// records of every group are read within the caller's rows in one call,
// and their total is audited. counts, when asked for, pass through.
func ReadGrouped[T any](ctx context.Context, decide func(context.Context) (*Decision, error), a Auditor,
	read func(RowScope) (map[string][]T, map[string]int, error)) (map[string][]T, map[string]int, error) {
	d, err := decide(ctx)
	if err != nil {
		return nil, nil, err
	}
	groups, counts, err := read(d.Rows)
	if err != nil {
		return nil, nil, err
	}
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	if err := AuditRead(ctx, a, d, n); err != nil {
		return nil, nil, err
	}
	return groups, counts, nil
}
