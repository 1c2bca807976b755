// Package upsert is what every dataset's upsert shares: the result it
// reports and the way it survives a race with another writer of the same
// record.
//
// The strategy is the same for all: read the record by its source key,
// decide in the domain what changes (nothing, an update, a creation), and
// write with a version check; a write that meets a record created or
// changed by a concurrent writer in the meantime (ErrRaced) goes round
// once more, where it finds that record and updates it or leaves it alone. The rules stay in
// the domain packages; the stores only read, insert and compare versions.
package upsert

import (
	"context"
	"errors"
	"fmt"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Outcome says what an upsert did to a record.
type Outcome string

// Outcomes.
const (
	Created   Outcome = "CREATED"
	Updated   Outcome = "UPDATED"
	Unchanged Outcome = "UNCHANGED"
)

// Result is a record after an upsert and what the upsert did to it.
type Result[T any] struct {
	Record  T
	Outcome Outcome
}

// ErrRaced is returned by a round whose write lost to a concurrent writer
// of the same record: it created the record (same source key) first, or
// changed it after the round read it.
var ErrRaced = errors.New("upsert: created concurrently by another writer")

// Raced marks err, the refusal of an update because the record's version
// moved since it was read (CONFLICT), as a lost race, when the writer did
// not name a version: the next round reads the new version and decides
// again. A writer that named one (expected) gets the CONFLICT: what it
// read is no longer what is stored.
func Raced(err error, expected *int) error {
	if expected == nil && apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("%w: %w", ErrRaced, err)
	}
	return err
}

// Run runs round, and once more when it lost a race to write the record.
// A second lost race is not expected (the record exists by then) and is
// returned as an error.
func Run[T any](ctx context.Context, round func(context.Context) (Result[T], error)) (Result[T], error) {
	res, err := round(ctx)
	if errors.Is(err, ErrRaced) {
		res, err = round(ctx)
	}
	return res, err
}
