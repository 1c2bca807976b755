package access

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
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

// GrantIDField is the index of the grant id among a p2 rule's fields: the
// grants workflow, which stores grant lines in its own transactions,
// removes them by it.
const GrantIDField = 4

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
