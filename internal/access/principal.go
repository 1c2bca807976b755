package access

import (
	"context"
	"slices"
)

// Kind says how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindUser      Kind = "user"      // staff member, JWT
	KindService   Kind = "service"   // department system or evaluation team, API key
	KindAnonymous Kind = "anonymous" // no credentials: public data only
)

// Well-known roles. Department roles (admin, officer, viewer) apply within
// the principal's own department.
const (
	RoleAdmin         = "admin"
	RoleOfficer       = "officer"
	RoleViewer        = "viewer"
	RoleDispatcher    = "dispatcher"
	RoleStreetOfficer = "street-officer"
	RoleGridWorker    = "grid-worker"
	RoleAuditor       = "auditor"
	RoleEvaluator     = "evaluator"
	RoleCitizenApp    = "citizen-app"
	RolePublic        = "public"
	// RoleSystem is a department system (drone platform, enforcement
	// terminal, 12345 hotline) pushing records for its department.
	RoleSystem = "system"
)

// Principal is who is calling: the subject, their department, roles, the
// jurisdiction subtree they work in, and for the citizen app the citizen it
// acts for.
type Principal struct {
	Kind         Kind
	Subject      string   // user id or API key id
	Dept         string   // department code; empty for anonymous
	Roles        []string // role names
	Jurisdiction string   // dotted jurisdiction code; "hailing" when district-wide
	CitizenID    string   // set only for a citizen-app key acting for a citizen
	// Org is the registered third-party evaluation organisation an
	// evaluator credential belongs to (internal/evaluation, Organisation);
	// such a principal has no department: it is not one of the departments
	// it evaluates.
	Org string
}

// Anonymous is the principal of a request without credentials.
func Anonymous() *Principal {
	return &Principal{Kind: KindAnonymous, Subject: "anonymous", Roles: []string{RolePublic}, Jurisdiction: "hailing"}
}

// HasRole reports whether p holds role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// WritesFor reports whether p writes the datasets provider provides: one of
// the provider department's admins, officers or systems (never a citizen).
// Upserts and bulk imports of a dataset both ask it.
func (p *Principal) WritesFor(provider string) bool {
	return p.Dept == provider && p.CitizenID == "" &&
		(p.HasRole(RoleAdmin) || p.HasRole(RoleOfficer) || p.HasRole(RoleSystem))
}

// Actor is how the principal appears in timelines and audit records.
func (p *Principal) Actor() string {
	if p.Org != "" {
		return p.Subject + "@org:" + p.Org
	}
	if p.Dept == "" {
		return p.Subject
	}
	return p.Subject + "@" + p.Dept
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or the anonymous principal.
func PrincipalFrom(ctx context.Context) *Principal {
	if p, ok := ctx.Value(principalKey{}).(*Principal); ok && p != nil {
		return p
	}
	return Anonymous()
}
