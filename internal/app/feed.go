package app

import (
	"context"
	"errors"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/feed"
)

// brokerFeed serves the domain services' change feeds from this instance's
// event broker.
type brokerFeed struct{ b *events.Broker }

// Changes implements feed.Changes: the broker drops events outside the
// scope before they reach the subscriber. While the broker cannot reach
// Redis it refuses with events.ErrUnavailable (SERVICE_UNAVAILABLE), and
// an open subscription completes when the broker loses Redis.
func (f brokerFeed) Changes(ctx context.Context, dataset string, scope access.RowScope, since time.Time) (<-chan feed.Change, func(), error) {
	if err := f.b.Available(); err != nil {
		return nil, nil, unavailable(err)
	}
	if !since.IsZero() {
		if err := f.b.Replayable(ctx, since); errors.Is(err, events.ErrReplayGone) {
			return nil, nil, apperr.Invalid("since", "the changes since %s are no longer all kept: read the records again, then subscribe without since",
				since.UTC().Format(time.RFC3339))
		} else if err != nil {
			return nil, nil, unavailable(err)
		}
	}
	in, stop := f.b.Subscribe(ctx, events.Filter{Scopes: map[string]access.RowScope{dataset: scope}, Since: since})
	out := make(chan feed.Change, 16)
	go func() {
		defer close(out)
		for e := range in {
			if e.Err != nil {
				return
			}
			select {
			case out <- feed.Change{RecordID: e.RecordID, Version: e.Version}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, stop, nil
}

// Readings implements feed.Readings.
func (f brokerFeed) Readings(ctx context.Context, lotIDs []string) (<-chan feed.Reading, func(), error) {
	if err := f.b.Available(); err != nil {
		return nil, nil, unavailable(err)
	}
	in, stop := f.b.SubscribeAvailability(ctx, lotIDs)
	out := make(chan feed.Reading, 16)
	go func() {
		defer close(out)
		for a := range in {
			select {
			case out <- feed.Reading{LotID: a.LotID, Free: a.Free, At: a.At}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, stop, nil
}

// unavailable gives a stopped broker the same coded error as one that lost
// Redis: either way the caller can only try again later.
func unavailable(err error) error {
	if errors.Is(err, events.ErrUnavailable) {
		return err
	}
	return apperr.New(apperr.ServiceUnavailable, "live updates are unavailable right now; subscribe again shortly")
}
