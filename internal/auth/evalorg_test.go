package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/auth"
)

// TestEvaluatorKeysBelongToAnOrganisation: an evaluator key names a
// registered evaluation organisation and no department, holds the
// evaluator role alone, and authenticates as a principal of the
// organisation; the identity check and the database refuse anything else.
func TestEvaluatorKeysBelongToAnOrganisation(t *testing.T) {
	b := setupKeys(t)
	ctx := context.Background()
	code := "org-" + strings.ToLower(strings.ReplaceAll(t.Name(), "Test", ""))[:20]
	if _, err := b.pool.Exec(ctx, `INSERT INTO eval_organisations (code, name, contract_no, contract_from, contract_to, datasets,
		jurisdictions, registered_by) VALUES ($1, '评估所', 'C-1', now() - interval '1 day', now() + interval '1 year', '{cases}',
		'{hailing}', 'test') ON CONFLICT DO NOTHING`, code); err != nil {
		t.Fatal(err)
	}
	// A department code cannot be registered as an organisation.
	if _, err := b.pool.Exec(ctx, `INSERT INTO eval_organisations (code, name, contract_no, contract_from, contract_to, datasets,
		jurisdictions, registered_by) VALUES ('urban-management', 'x', 'C', now(), now() + interval '1 day', '{cases}', '{hailing}', 't')`); err == nil {
		t.Error("a department was registered as an evaluation organisation")
	}
	exp := time.Now().Add(time.Hour)
	evaluator := []string{access.RoleEvaluator}
	for _, c := range []struct {
		name  string
		spec  auth.APIKeySpec
		field string
	}{
		{"department, no organisation", auth.APIKeySpec{Dept: "urban-management", Roles: evaluator}, "org"},
		{"unregistered organisation", auth.APIKeySpec{Org: "nobody", Roles: evaluator}, "org"},
		{"organisation and department", auth.APIKeySpec{Org: code, Dept: "urban-management", Roles: evaluator}, "dept"},
		{"organisation with another role", auth.APIKeySpec{Org: code, Roles: []string{access.RoleEvaluator, access.RoleViewer}}, "org"},
		{"organisation without the evaluator role", auth.APIKeySpec{Org: code, Roles: []string{access.RoleViewer}}, "org"},
	} {
		c.spec.Name, c.spec.ExpiresAt = "eval "+c.name, exp
		_, _, err := b.keys.Create(ctx, c.spec)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.BadUserInput || e.Field != c.field {
			t.Errorf("%s: %v, want BAD_USER_INPUT on %s", c.name, err, c.field)
		}
	}
	plain, key, err := b.keys.Create(ctx, auth.APIKeySpec{Name: "evaluation team", Org: code, Roles: evaluator, ExpiresAt: exp})
	if err != nil {
		t.Fatalf("an organisation's key: %v", err)
	}
	p, err := b.keys.Authenticate(ctx, plain)
	if err != nil || p.Org != code || p.Dept != "" || p.Jurisdiction != auth.JurisdictionDefault || p.Actor() != key.ID+"@org:"+code {
		t.Fatalf("principal %+v, %v", p, err)
	}
	ids := identities(t, b)
	if err := ids.Check(ctx, "the key", p); err != nil {
		t.Errorf("identity of the organisation's key: %v", err)
	}
	for name, q := range map[string]*access.Principal{
		"evaluator of a department": {Kind: access.KindService, Subject: "s", Dept: "urban-management", Roles: evaluator, Jurisdiction: "hailing"},
		"organisation and dept":     {Kind: access.KindService, Subject: "s", Dept: "urban-management", Org: code, Roles: evaluator, Jurisdiction: "hailing"},
		"organisation as officer":   {Kind: access.KindService, Subject: "s", Org: code, Roles: []string{access.RoleOfficer}, Jurisdiction: "hailing"},
	} {
		if err := ids.Check(ctx, "the key", q); apperr.CodeOf(err) != apperr.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, err)
		}
	}
	// The database refuses an evaluator key row without an organisation.
	if _, err := b.pool.Exec(ctx, `INSERT INTO api_keys (id, name, dept, roles, hash, expires_at)
		VALUES ('deadbeef0001', 'x', 'urban-management', '{evaluator}', decode(repeat('00', 32), 'hex'), now() + interval '1 day')`); err == nil {
		t.Error("the database stored an evaluator key without an organisation")
	}
}

// TestEvaluatorTokensNameTheOrganisation: a development token for an
// evaluator carries its organisation (org claim) and no department; one
// naming a department is refused when minted and when verified.
func TestEvaluatorTokensNameTheOrganisation(t *testing.T) {
	b := setupVerifiers(t)
	tok, err := auth.MintDev(devSecret, auth.DevClaims{Subject: "eva", Org: "demo-assessors", Roles: []string{access.RoleEvaluator}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.dev.Verify(context.Background(), tok)
	if err != nil || p.Org != "demo-assessors" || p.Dept != "" || p.Jurisdiction != auth.JurisdictionDefault {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if _, err := auth.MintDev(devSecret, auth.DevClaims{Subject: "eva", Dept: "urban-management", Roles: []string{access.RoleEvaluator}}, time.Hour); err == nil {
		t.Error("minted an evaluator token of a department")
	}
}
