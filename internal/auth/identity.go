package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
)

// Directory is the reference data a principal's identity is checked
// against; internal/directory's Service implements it from memory.
type Directory interface {
	// DepartmentArea returns the root of the jurisdiction subtree the
	// department serves and true, or false when there is no such
	// department.
	DepartmentArea(ctx context.Context, code string) (area string, ok bool, err error)
	// JurisdictionExists reports whether code names a jurisdiction of the tree.
	JurisdictionExists(ctx context.Context, code string) (bool, error)
}

// Identities checks that what a credential says about its holder is true of
// the directory and the policy in force: the department exists, every role
// is one a principal may hold, and the jurisdiction is a jurisdiction inside
// the department's own area. A signature or a stored key proves who issued
// a claim, not that the claim names anything real: a dept such as
// "provider" or "*" would otherwise meet the policy's placeholders, and a
// street office claiming the district would read every street.
type Identities struct {
	dir   Directory
	roles []string
}

// NewIdentities returns a checker on dir that lets principals hold exactly
// roles (HoldableRoles of the policy catalog in force).
func NewIdentities(dir Directory, roles []string) *Identities {
	return &Identities{dir: dir, roles: slices.Clone(roles)}
}

// Check returns UNAUTHENTICATED, naming the credential (what, e.g. "the
// bearer token" or "the API key 3f2a…"), when p's department is not in the
// directory, one of its roles is not a role a principal may hold, or its
// jurisdiction is unknown or outside its department's area; when an
// evaluator credential names no organisation, or one naming an
// organisation also names a department or another role. A principal
// without a department (the anonymous public, the citizen app acting for
// itself) may hold the public role only. Directory failures are internal
// errors.
func (c *Identities) Check(ctx context.Context, what string, p *access.Principal) error {
	if msg := checkOrg(p.Org, p.Dept, p.Roles); msg != "" {
		return unauthenticated("%s: %s", what, msg)
	}
	if p.Org != "" {
		// An evaluation organisation's principal: no department to check;
		// its jurisdiction lies in the district. The contract is checked
		// by the evaluation service.
		if msg := CheckKnownRoles(p.Roles, c.roles); msg != "" {
			return unauthenticated("%s: %s", what, msg)
		}
		if msg := checkJurisdiction(p.Jurisdiction); msg != "" {
			return unauthenticated("%s: %s", what, msg)
		}
		return nil
	}
	if p.Dept == "" {
		for _, r := range p.Roles {
			if r != access.RolePublic {
				return unauthenticated("%s names no department but holds the role %q", what, r)
			}
		}
		return nil
	}
	if msg := checkDept(p.Dept); msg != "" {
		return unauthenticated("%s: %s", what, msg)
	}
	area, ok, err := c.dir.DepartmentArea(ctx, p.Dept)
	if err != nil {
		return fmt.Errorf("check identity: dept[%s]: %w", p.Dept, err)
	}
	if !ok {
		return unauthenticated("%s names the department %q, which is not in the directory", what, p.Dept)
	}
	if msg := CheckKnownRoles(p.Roles, c.roles); msg != "" {
		return unauthenticated("%s: %s", what, msg)
	}
	if msg := checkJurisdiction(p.Jurisdiction); msg != "" {
		return unauthenticated("%s: %s", what, msg)
	}
	known, err := c.dir.JurisdictionExists(ctx, p.Jurisdiction)
	if err != nil {
		return fmt.Errorf("check identity: jurisdiction[%s]: %w", p.Jurisdiction, err)
	}
	if !known {
		return unauthenticated("%s: %s", what, UnknownJurisdiction(p.Jurisdiction))
	}
	if msg := OutsideArea(p.Dept, area, p.Jurisdiction); msg != "" {
		return unauthenticated("%s: %s", what, msg)
	}
	return nil
}

// OutsideArea describes a jurisdiction outside the area a department
// serves, or returns "" when jurisdiction is area or lies under it. A
// district bureau serves the district and may work anywhere in it; a
// street office or town government only in its own street or town.
func OutsideArea(dept, area, jurisdiction string) string {
	if jurisdiction == area || strings.HasPrefix(jurisdiction, area+".") {
		return ""
	}
	return fmt.Sprintf("the jurisdiction %q lies outside %s's area %q: give %s or a jurisdiction under it", jurisdiction, dept, area, area)
}
