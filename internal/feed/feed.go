// Package feed is what the domain services see of change events: a stream
// of (record, version) changes of one dataset within a row scope, and of
// parking availability readings. internal/events implements it on Redis.
package feed

import (
	"context"
	"time"

	"github.com/fengcheng/datahub/internal/access"
)

// Change says a record changed; subscribers read the record itself, with
// their own scope, before telling anyone.
type Change struct {
	RecordID string
	Version  int
}

// Reading is a lot's free-space count at an instant.
type Reading struct {
	LotID string
	Free  int
	At    time.Time
}

// Changes streams the changes of one dataset within a row scope until ctx
// ends or stop is called. A closed channel means the stream ended (the
// subscriber fell behind, the hub lost its event source, or the hub is
// stopping): subscribe again, with since. The error is SERVICE_UNAVAILABLE
// when changes cannot be delivered now (the event source is unreachable),
// BAD_USER_INPUT when the changes since since are no longer all kept.
type Changes interface {
	// Changes starts with the changes published from since on when since
	// is not zero (a subscriber resuming after a lost connection).
	Changes(ctx context.Context, dataset string, scope access.RowScope, since time.Time) (ch <-chan Change, stop func(), err error)
}

// Readings streams availability readings of the listed lots (all lots when
// empty), and ends and fails as Changes does.
type Readings interface {
	Readings(ctx context.Context, lotIDs []string) (ch <-chan Reading, stop func(), err error)
}
