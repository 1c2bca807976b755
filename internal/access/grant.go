package access

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/casbin/casbin/v2/persist"
)

// Grant is an approved request of one department for another's conditional
// or personal data: which field groups of a dataset, in which jurisdiction
// subtree, for what purpose, until when. It is stored as Casbin policy, one
// p2 line per field group (see Rules), and applies to the grantee's staff
// where policy.csv allows "use-grant".
type Grant struct {
	ID      string
	Grantee string // department code
	Dataset string
	Groups  []string
	// Jurisdiction is the subtree root the grant covers ("hailing" for the
	// whole district).
	Jurisdiction string
	Purpose      string
	// Until is when the grant stops applying. The engine compares it with
	// its clock on every decision, so an expired grant stops working at once,
	// before its lines are removed and without a reload.
	Until time.Time
}

// Rules returns the grant as Casbin p2 rules (without the ptype), one per
// field group:
//
//	dept:<grantee>, <dataset>/<group>, <jurisdiction>, <until RFC 3339 UTC>, <grant id>, <purpose>
func (g Grant) Rules() [][]string {
	until := g.Until.UTC().Format(time.RFC3339)
	out := make([][]string, 0, len(g.Groups))
	for _, group := range g.Groups {
		out = append(out, []string{grantSubjectPrefix + g.Grantee, g.Dataset + "/" + group, g.Jurisdiction, until, g.ID, g.Purpose})
	}
	return out
}

// Active reports whether the grant applies at now.
func (g Grant) Active(now time.Time) bool { return now.Before(g.Until) }

// GrantIDField is the index of the grant id among a p2 rule's fields: a
// workflow that stores grant lines itself removes them by it.
const GrantIDField = 4

const grantIDField = GrantIDField

// ValidateGrant checks a grant against the catalog: a declared grantee
// department that is not the groups' provider, a dataset and conditional or
// personal field groups, a jurisdiction within the district, a purpose and
// an id. The error (BAD_USER_INPUT material) names the first problem.
func (e *Engine) ValidateGrant(g Grant) error {
	if len(g.Groups) == 0 {
		return fmt.Errorf("a grant names at least one field group")
	}
	v := validator{cat: e.cat}
	for _, r := range g.Rules() {
		if _, err := v.parseGrantRule(r); err != nil {
			return err
		}
	}
	return nil
}

// AddGrant stores an approved grant in the run-time policy store, reloads,
// and tells the other instances (Watcher). A grant whose Until has passed is
// refused. The grants workflow calls it on approval.
func (e *Engine) AddGrant(ctx context.Context, g Grant) error {
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
		return a.RemoveFilteredPolicyCtx(ctx, "p", ptypeGrant, grantIDField, id)
	}
	return e.adapter.RemoveFilteredPolicy("p", ptypeGrant, grantIDField, id)
}

// PolicyChanged reloads after the run-time policy store was changed outside
// the engine (a workflow that writes grant lines in its own transaction, so
// that a decision and its policy commit together) and tells the other
// instances. Call it after the commit.
func (e *Engine) PolicyChanged(ctx context.Context, what string) error {
	return e.changed(ctx, what)
}

// changed reloads after a change made here and notifies the watcher.
func (e *Engine) changed(ctx context.Context, what string) error {
	if err := e.Reload(ctx); err != nil {
		return fmt.Errorf("access: %s: reload: %w", what, err)
	}
	if e.watcher != nil {
		if err := e.watcher.Update(); err != nil {
			// The change is in the database and this instance enforces it.
			// Failing here would roll back a revocation because Redis is
			// down; instead the others catch up when Redis answers again:
			// the watcher announces the change once it can, and every
			// watcher whose subscription broke reloads the whole policy on
			// re-subscribing.
			e.log.Warn("policy changed; telling the other instances failed, they reload when Redis is back",
				"change", what, "err", err)
		}
	}
	return nil
}

// Grants returns the valid grants in the current policy, expired ones
// included, ordered by id.
func (e *Engine) Grants() []Grant {
	s := e.snap.Load()
	byID := map[string]*Grant{}
	for _, lines := range s.grants {
		for _, l := range lines {
			g, ok := byID[l.id]
			if !ok {
				g = &Grant{ID: l.id, Grantee: l.dept, Dataset: l.dataset, Jurisdiction: l.jurisdiction, Purpose: l.purpose, Until: l.until}
				byID[l.id] = g
			}
			if !slices.Contains(g.Groups, l.group) {
				g.Groups = append(g.Groups, l.group)
			}
		}
	}
	out := make([]Grant, 0, len(byID))
	for _, g := range byID {
		sort.Strings(g.Groups)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].ID, out[j].ID) < 0 })
	return out
}
