package cases

import (
	"context"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/feed"
	"github.com/google/uuid"
)

// Watch streams the cases visible to the caller that change and match f.
// Each change is read again with the caller's scope (a record outside it is
// never sent) and audited like any other read. The channel closes when ctx
// ends or the feed drops the subscriber. A non-zero since first replays the
// changes published from then on (resuming after a lost connection).
func (s *Service) Watch(ctx context.Context, changes feed.Changes, f Filter, since time.Time) (<-chan *Case, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if d.Rows.Empty() {
		return nil, apperr.New(apperr.Forbidden, "you may not read cases")
	}
	if err := s.validateFilter(ctx, d, &f, ""); err != nil {
		return nil, err
	}
	in, stop, err := changes.Changes(ctx, Dataset, d.Rows, since)
	if err != nil {
		return nil, err
	}
	// Each event is judged by the policy in force when it is sent: the scope
	// is decided again, so a revoked or expired grant stops the data at once.
	out := feed.Follow(ctx, in, func(id uuid.UUID) (*Case, error) {
		now, err := s.Decide(ctx)
		if err != nil {
			return nil, err
		}
		c, err := s.store.Get(ctx, now.Rows, id)
		if err != nil || !f.Matches(c, s.Now()) {
			return nil, apperr.New(apperr.NotFound, "not for this subscriber")
		}
		return c, s.audited(ctx, now, []string{c.RowJurisdiction()})
	})
	go func() { <-ctx.Done(); stop() }()
	return out, nil
}
