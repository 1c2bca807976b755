package policy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/policy"
)

// TestPlaceholdersNeverMatchAPrincipal: words the policy gives a meaning of
// its own and department patterns can never be a principal's department.
// Before, a principal whose dept was "provider" met every "provider" line
// (a viewer read every row and field of every dataset, the audit trail
// included), and "district" — the audit trail's provider — did the same for
// the audit trail and evaluation.
func TestPlaceholdersNeverMatchAPrincipal(t *testing.T) {
	b := setup(t)
	for _, dept := range []string{"provider", "other", "district", "hailing", "*", "street-*", "town-*", "dept:water", "class:personal", "class", "dept", "Urban-Management"} {
		for _, ds := range b.eng.Catalog().Datasets {
			for _, roles := range [][]string{{"viewer"}, {"admin", "auditor"}, {"citizen-app"}} {
				ctx := access.WithPrincipal(context.Background(), user(dept, "hailing", roles...))
				d, err := b.eng.Decide(ctx, ds.Name)
				if err == nil {
					t.Fatalf("dept %q %v on %s: decided %+v", dept, roles, ds.Name, d)
				}
				if e, ok := apperr.As(err); !ok || e.Code != apperr.Forbidden || !strings.Contains(e.Message, dept) {
					t.Fatalf("dept %q: %v, want FORBIDDEN naming it", dept, err)
				}
			}
		}
	}
	// The public (no department) and real departments are decided as before.
	decide(t, b.eng, access.Anonymous(), "cases")
	decide(t, b.eng, user("street-chengdong", "hailing.chengdong", "viewer"), "cases")
}

// TestAbstractRolesHeldByAPrincipalGrantNothing: an abstract role exists
// only to be inherited in the policy. A credential naming one directly
// ("command-centre", "staff", "anyone", "bureau-staff") gets what the same
// principal gets without it.
func TestAbstractRolesHeldByAPrincipalGrantNothing(t *testing.T) {
	b := setup(t)
	for _, role := range []string{"command-centre", "staff", "anyone", "bureau-staff", "street-staff"} {
		for _, ds := range b.eng.Catalog().Datasets {
			got := decide(t, b.eng, user("water", "hailing", "viewer", role), ds.Name)
			want := decide(t, b.eng, user("water", "hailing", "viewer"), ds.Name)
			if ok, diff := same(want, got); !ok {
				t.Errorf("viewer+%s on %s:\n%s", role, ds.Name, diff)
			}
		}
	}
	if d := decide(t, b.eng, user("housing", "hailing", "command-centre"), "cases"); d.Can("command") || !d.Rows.Empty() {
		t.Fatalf("a credential naming command-centre commands cases: %+v", d)
	}
}

// TestCatalogRefusesTheDistrictAsADepartment: the district's code is the
// root of every jurisdiction; a department of that name would be ambiguous
// in claims and grants.
func TestCatalogRefusesTheDistrictAsADepartment(t *testing.T) {
	_, err := policy.ParseCatalog([]byte(`district: hailing
departments:
  - {code: hailing, kind: bureau, name: x}
  - {code: provider, kind: bureau, name: y}
roles: []
datasets: []
`))
	if err == nil || !strings.Contains(err.Error(), `"hailing" is the district's jurisdiction code`) || !strings.Contains(err.Error(), `"provider" is a reserved word`) {
		t.Fatalf("ParseCatalog: %v", err)
	}
}

// TestCitizenAppCallsOnlyItsOperations: the catalog limits the citizen app
// to its citizen's operations; everyone else is not limited here.
func TestCitizenAppCallsOnlyItsOperations(t *testing.T) {
	b := setup(t)
	app := &access.Principal{Kind: access.KindService, Subject: "k", Dept: "urban-management", Roles: []string{"citizen-app"}, Jurisdiction: "hailing", CitizenID: "c-1"}
	ctx := access.WithPrincipal(context.Background(), app)
	for _, op := range []string{"reportIssue", "rateCase"} {
		if err := b.eng.CheckOperation(ctx, op); err != nil {
			t.Errorf("%s: %v", op, err)
		}
	}
	for _, op := range []string{"reportCase", "upsertCase", "requestAccess", "ping", "someFutureMutation"} {
		err := b.eng.CheckOperation(ctx, op)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Forbidden {
			t.Errorf("%s: %v, want FORBIDDEN", op, err)
		}
	}
	staff := access.WithPrincipal(context.Background(), user("urban-management", "hailing", "dispatcher"))
	if err := b.eng.CheckOperation(staff, "reportCase"); err != nil {
		t.Fatal(err)
	}
}
