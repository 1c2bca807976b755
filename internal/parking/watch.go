package parking

import (
	"context"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/feed"
	"github.com/google/uuid"
)

// NearWatch selects the lots around a point.
type NearWatch struct {
	Lat, Lng     float64
	RadiusMeters *float64
}

// MaxWatchedLots bounds one availability subscription.
const MaxWatchedLots = 100

// WatchAvailability streams the free-space readings of the listed lots, or
// of the lots near a point, that the caller may see.
func (s *Service) WatchAvailability(ctx context.Context, readings feed.Readings, lotIDs []uuid.UUID, near *NearWatch) (<-chan feed.Reading, error) {
	if near != nil {
		first := MaxWatchedLots
		found, err := s.Near(ctx, near.Lat, near.Lng, near.RadiusMeters, nil, &first)
		if err != nil {
			return nil, err
		}
		for _, n := range found {
			lotIDs = append(lotIDs, n.Lot.ID)
		}
	}
	if len(lotIDs) == 0 {
		return nil, apperr.Invalid("watch", "name the lots to watch (lotIds) or a point (near)")
	}
	if len(lotIDs) > MaxWatchedLots {
		return nil, apperr.Invalid("watch.lotIds", "watch at most %d lots at once", MaxWatchedLots)
	}
	lots, err := s.GetMany(ctx, lotIDs)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(lots))
	for i, l := range lots {
		ids[i] = l.ID.String()
	}
	if len(ids) == 0 {
		return nil, apperr.New(apperr.NotFound, "none of these lots exists")
	}
	in, stop, err := readings.Readings(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(chan feed.Reading, 16)
	go func() {
		defer close(out)
		defer stop()
		for r := range in {
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
