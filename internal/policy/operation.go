package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
)

// CheckOperation says whether the principal in ctx may call the GraphQL
// mutation named operation at all, before any service sees it. A principal
// holding a role the catalog limits to operations (the citizen app: its
// citizen's own reports and ratings) may call only those; FORBIDDEN names
// what it may call. Everyone else passes, and each service then applies
// the policy's dataset actions and row scopes as usual.
//
// The check is default-deny for limited roles: a mutation added to the
// schema later is refused to them until the catalog lists it.
func (e *Engine) CheckOperation(ctx context.Context, operation string) error {
	p := access.PrincipalFrom(ctx)
	for _, name := range p.Roles {
		r, ok := e.cat.Role(name)
		if !ok || len(r.Operations) == 0 {
			continue
		}
		if !slices.Contains(r.Operations, operation) {
			return apperr.New(apperr.Forbidden, "the %s may call only %s, not %s", r.Name, strings.Join(r.Operations, " and "), operation)
		}
	}
	return nil
}
