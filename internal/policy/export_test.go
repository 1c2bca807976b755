package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/casbin/casbin/v2/persist"
	"github.com/fengcheng/datahub/internal/access"
)

// errNoStore is returned by grant changes on an engine without a run-time
// policy store.
var errNoStore = errors.New("access: no run-time policy store is configured (EngineConfig.Adapter)")

// AddGrant stores a grant in the run-time policy store, reloads and tells
// the other instances. Tests only: the grants workflow writes grant lines in
// the transaction that records the decision (internal/sharing), serialized
// with every other decision on the request; a production path that wrote
// them apart from that lock could leave a grant without an approved request.
func (e *Engine) AddGrant(ctx context.Context, g access.Grant) error {
	if e.adapter == nil {
		return errNoStore
	}
	if err := e.ValidateGrant(g); err != nil {
		return fmt.Errorf("access: add grant %s: %w", g.ID, err)
	}
	if !g.Active(e.now()) {
		return fmt.Errorf("access: add grant %s: it expired at %s", g.ID, g.Until.UTC().Format(time.RFC3339))
	}
	rules := g.Rules()
	var err error
	switch a := e.adapter.(type) {
	case persist.ContextBatchAdapter:
		err = a.AddPoliciesCtx(ctx, "p", ptypeGrant, rules)
	case persist.BatchAdapter:
		err = a.AddPolicies("p", ptypeGrant, rules)
	default:
		for _, r := range rules {
			if err = e.adapter.AddPolicy("p", ptypeGrant, r); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("access: add grant %s: store: %w", g.ID, err)
	}
	return e.changed(ctx, "add grant "+g.ID)
}

// RevokeGrant removes every line of grant id from the run-time policy
// store, reloads, and tells the other instances. Revoking an unknown grant
// is not an error.
func (e *Engine) RevokeGrant(ctx context.Context, id string) error {
	if e.adapter == nil {
		return errNoStore
	}
	if !validGrantID(id) {
		return fmt.Errorf("access: revoke grant: %q is not a grant id", id)
	}
	if err := e.removeGrantLines(ctx, id); err != nil {
		return fmt.Errorf("access: revoke grant %s: %w", id, err)
	}
	return e.changed(ctx, "revoke grant "+id)
}

// PruneExpiredGrants removes the lines of grants expired at the engine's
// clock and returns how many grants it removed. Expired grants already do
// not apply; pruning only keeps the store small.
func (e *Engine) PruneExpiredGrants(ctx context.Context) (int, error) {
	if e.adapter == nil {
		return 0, errNoStore
	}
	now := e.now()
	var expired []string
	for _, g := range e.Grants() {
		if !g.Active(now) {
			expired = append(expired, g.ID)
		}
	}
	for _, id := range expired {
		if err := e.removeGrantLines(ctx, id); err != nil {
			return 0, fmt.Errorf("access: prune expired grant %s: %w", id, err)
		}
	}
	if len(expired) == 0 {
		return 0, nil
	}
	return len(expired), e.changed(ctx, "prune expired grants")
}

func (e *Engine) removeGrantLines(ctx context.Context, id string) error {
	if a, ok := e.adapter.(persist.ContextAdapter); ok {
		return a.RemoveFilteredPolicyCtx(ctx, "p", ptypeGrant, access.GrantIDField, id)
	}
	return e.adapter.RemoveFilteredPolicy("p", ptypeGrant, access.GrantIDField, id)
}
