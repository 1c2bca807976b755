package violation

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/feed"
	"github.com/google/uuid"
)

// Matches reports whether v passes f at now, as the store's SQL does.
func (f Filter) Matches(v *Violation, now time.Time) bool {
	switch {
	case f.Kind != "" && f.Kind != v.Kind,
		f.Subtype != "" && f.Subtype != v.Subtype,
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, v.Status),
		f.Jurisdiction != "" && v.JurisdictionCode != f.Jurisdiction && !strings.HasPrefix(v.JurisdictionCode, f.Jurisdiction+"."),
		f.PropertyID != nil && (v.PropertyID == nil || *v.PropertyID != *f.PropertyID),
		f.CaseID != nil && (v.CaseID == nil || *v.CaseID != *f.CaseID),
		f.DiscoveredFrom != nil && v.DiscoveredAt.Before(*f.DiscoveredFrom),
		f.DiscoveredTo != nil && !v.DiscoveredAt.Before(*f.DiscoveredTo),
		f.Open != nil && *f.Open != v.Status.Open(),
		f.Overdue != nil && *f.Overdue != v.Overdue(now):
		return false
	}
	return true
}

// Watch streams the violations visible to the caller that change and
// match f, each read again with the caller's scope and audited.
func (s *Service) Watch(ctx context.Context, changes feed.Changes, f Filter, since time.Time) (<-chan *Violation, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if d.Rows.Empty() {
		return nil, apperr.New(apperr.Forbidden, "you may not read violations")
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
	out := feed.Follow(ctx, in, func(id uuid.UUID) (*Violation, error) {
		now, err := s.Decide(ctx)
		if err != nil {
			return nil, err
		}
		v, err := s.store.Get(ctx, now.Rows, id)
		if err != nil || !f.Matches(v, s.Now()) {
			return nil, apperr.New(apperr.NotFound, "not for this subscriber")
		}
		return v, s.audited(ctx, now, []string{v.RowJurisdiction()})
	})
	go func() { <-ctx.Done(); stop() }()
	return out, nil
}
