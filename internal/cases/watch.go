package cases

import (
	"context"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/feed"
	"github.com/google/uuid"
)

// Watch streams the cases visible to the caller that change and match f.
// Each change is read again with the caller's scope (a record outside it is
// never sent) and audited like any other read. The channel closes when ctx
// ends or the feed drops the subscriber.
func (s *Service) Watch(ctx context.Context, changes feed.Changes, f Filter) (<-chan *Case, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if d.Rows.Empty() {
		return nil, apperr.New(apperr.Forbidden, "you may not read cases")
	}
	if err := s.validateFilter(&f); err != nil {
		return nil, err
	}
	in, stop := changes.Changes(ctx, Dataset, d.Rows)
	out := make(chan *Case, 16)
	go func() {
		defer close(out)
		defer stop()
		for ch := range in {
			id, err := uuid.Parse(ch.RecordID)
			if err != nil {
				continue
			}
			c, err := s.store.Get(ctx, d.Rows, id)
			if err != nil || !f.Matches(c, s.Now()) || s.audited(ctx, d, 1) != nil {
				continue
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
