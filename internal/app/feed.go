package app

import (
	"context"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/feed"
)

// brokerFeed serves the domain services' change feeds from this instance's
// event broker.
type brokerFeed struct{ b *events.Broker }

// Changes implements feed.Changes: the broker drops events outside the
// scope before they reach the subscriber.
func (f brokerFeed) Changes(ctx context.Context, dataset string, scope access.RowScope) (<-chan feed.Change, func()) {
	in, stop := f.b.Subscribe(ctx, events.Filter{Scopes: map[string]access.RowScope{dataset: scope}})
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
	return out, stop
}

// Readings implements feed.Readings.
func (f brokerFeed) Readings(ctx context.Context, lotIDs []string) (<-chan feed.Reading, func()) {
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
	return out, stop
}
