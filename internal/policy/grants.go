package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
)

// ValidateGrant checks a grant against the catalog: a declared grantee
// department that is not the groups' provider, a dataset and conditional or
// personal field groups, a jurisdiction within the district, a purpose and
// an id. The error (BAD_USER_INPUT material) names the first problem.
func (e *Engine) ValidateGrant(g access.Grant) error {
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
func (e *Engine) Grants() []access.Grant {
	s := e.snap.Load()
	byID := map[string]*access.Grant{}
	for _, lines := range s.grants {
		for _, l := range lines {
			g, ok := byID[l.id]
			if !ok {
				g = &access.Grant{ID: l.id, Grantee: l.dept, Dataset: l.dataset, Jurisdiction: l.jurisdiction, Purpose: l.purpose, Until: l.until}
				byID[l.id] = g
			}
			if !slices.Contains(g.Groups, l.group) {
				g.Groups = append(g.Groups, l.group)
			}
		}
	}
	out := make([]access.Grant, 0, len(byID))
	for _, g := range byID {
		sort.Strings(g.Groups)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return strings.Compare(out[i].ID, out[j].ID) < 0 })
	return out
}
