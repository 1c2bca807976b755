package app_test

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

// TestForgedDepartmentsReadNothing: a correctly signed token whose dept is
// a placeholder of the policy, a pattern or no department at all, or whose
// jur reaches beyond its department's area, is refused before it reads
// anything: once, "provider" read every case's reporter, the audit trail and
// the snapshots.
func TestForgedDepartmentsReadNothing(t *testing.T) {
	h := newHub(t)
	const q = `{ cases(first: 3) { edges { node { reporter { name phone } } } }
		auditTrail(first: 3) { records { subject } } }`
	for _, c := range []auth.DevClaims{
		{Dept: "provider", Roles: []string{"viewer"}},
		{Dept: "other", Roles: []string{"viewer", "auditor"}},
		{Dept: "district", Roles: []string{"admin"}},
		{Dept: "hailing", Roles: []string{"viewer"}},
		{Dept: "street-chengdong", Roles: []string{"viewer"}, Jurisdiction: "hailing"},
		{Dept: "street-chengdong", Roles: []string{"officer"}, Jurisdiction: "hailing.chengxi"},
		{Dept: "housing", Roles: []string{"command-centre"}},
	} {
		c.Subject = "mallory"
		tok, err := auth.MintDev(h.cfg.DevSecret(), c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r := h.do(tok, q, nil)
		if r.code(0) != "UNAUTHENTICATED" || len(r.Data) > 0 && string(r.Data["cases"]) != "null" {
			t.Errorf("%+v: status %d, errors %+v, data %s", c, r.Status, r.Errors, r.Data)
		}
	}
}
