package feed

import (
	"context"

	"github.com/google/uuid"
)

// Follow turns a stream of changes into a stream of records: each changed
// record is read again with load, which applies the subscriber's scope and
// filter and returns an error for a record not to send. The returned
// channel closes when in does or ctx ends.
func Follow[T any](ctx context.Context, in <-chan Change, load func(uuid.UUID) (T, error)) <-chan T {
	out := make(chan T, 16)
	go func() {
		defer close(out)
		for ch := range in {
			id, err := uuid.Parse(ch.RecordID)
			if err != nil {
				continue
			}
			v, err := load(id)
			if err != nil {
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
