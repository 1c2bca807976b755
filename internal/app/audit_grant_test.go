package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAuditNamesOnlyTheGrantsTheRowsWereReadUnder: water holds a grant on
// the cases' reporter for Chengdong only. A read of Chengxi cases shows the
// reporter masked, and its audit record must name neither the grant nor the
// reporter group; a read that returns Chengdong cases too names both.
func TestAuditNamesOnlyTheGrantsTheRowsWereReadUnder(t *testing.T) {
	h := newHub(t)
	grant := grantWaterChengdongReporters(t, h)

	type row struct {
		Jurisdiction struct{ Code string }    `json:"jurisdiction"`
		Reporter     *struct{ Phone *string } `json:"reporter"`
	}
	water := h.token("water", "viewer")
	// read lists cases as water and returns how many rows lie under
	// Chengdong, checking that the reporter is shown there and masked
	// elsewhere.
	read := func(op, jurisdiction string) (rows, chengdong int) {
		t.Helper()
		r := h.do(water, `query `+op+`($j: String!) { cases(filter: {jurisdiction: $j}, first: 50) {
			edges { node { jurisdiction { code } reporter { phone } } } } }`, map[string]any{"j": jurisdiction})
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", op, r.Errors)
		}
		page := decode[struct {
			Edges []struct{ Node row } `json:"edges"`
		}](t, r.Data["cases"])
		for _, e := range page.Edges {
			in := strings.HasPrefix(e.Node.Jurisdiction.Code+".", "hailing.chengdong.")
			if in {
				chengdong++
			}
			if e.Node.Reporter == nil || e.Node.Reporter.Phone == nil || *e.Node.Reporter.Phone == "" {
				continue
			}
			if masked := strings.Contains(*e.Node.Reporter.Phone, "*"); masked == in {
				t.Fatalf("%s: reporter phone %q in %s (masked %v)", op, *e.Node.Reporter.Phone, e.Node.Jurisdiction.Code, masked)
			}
		}
		return len(page.Edges), chengdong
	}
	type record struct {
		GrantID     string   `json:"grantId"`
		Purpose     string   `json:"purpose"`
		FieldGroups []string `json:"fieldGroups"`
		RowCount    int      `json:"rowCount"`
	}
	audited := func(op string) record {
		t.Helper()
		if err := h.app.Audit.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		r := h.do(h.token("urban-management", "auditor"), `query($op: String!) { auditTrail(filter: {dept: "water", operation: $op}, first: 5) {
			records { grantId purpose fieldGroups rowCount } } }`, map[string]any{"op": op})
		if len(r.Errors) > 0 {
			t.Fatalf("audit trail: %+v", r.Errors)
		}
		recs := decode[struct{ Records []record }](t, r.Data["auditTrail"]).Records
		if len(recs) != 1 {
			t.Fatalf("%s: %d audit records, want 1: %+v", op, len(recs), recs)
		}
		return recs[0]
	}

	// Outside the grant's subtree: masked, and the record says so.
	n, in := read("WaterReadsChengxi", "hailing.chengxi")
	if n == 0 || in != 0 {
		t.Fatalf("Chengxi read: %d rows, %d under Chengdong", n, in)
	}
	rec := audited("WaterReadsChengxi")
	if rec.GrantID != "" || rec.Purpose != "" || slices.Contains(rec.FieldGroups, "reporter") || rec.RowCount != n {
		t.Errorf("Chengxi read recorded %+v; want no grant, no purpose, no reporter, %d rows", rec, n)
	}

	// Some rows under the grant's subtree: the grant and the group.
	n, in = read("WaterReadsDistrict", "hailing")
	if in == 0 || in == n {
		t.Fatalf("district read: %d rows, %d under Chengdong; the test needs both kinds", n, in)
	}
	rec = audited("WaterReadsDistrict")
	if rec.GrantID != grant || rec.Purpose != "城东积水点报案人回访" || !slices.Contains(rec.FieldGroups, "reporter") || rec.RowCount != n {
		t.Errorf("mixed read recorded %+v; want grant %s, its purpose, reporter, %d rows", rec, grant, n)
	}

	// Inside the subtree only: the same.
	n, _ = read("WaterReadsChengdong", "hailing.chengdong")
	rec = audited("WaterReadsChengdong")
	if rec.GrantID != grant || !slices.Contains(rec.FieldGroups, "reporter") || rec.RowCount != n {
		t.Errorf("Chengdong read recorded %+v; want grant %s, reporter, %d rows", rec, grant, n)
	}
}

// TestPermitGrantOpensNoViolationRows: planning's permit status on
// violations is planning's to grant, the violations are urban-management's.
// Water asks planning for the permit group in Chengxi; once approved, water
// sees exactly the violations it saw before (its own), not Chengxi's.
func TestPermitGrantOpensNoViolationRows(t *testing.T) {
	h := newHub(t)
	water := h.token("water", "viewer")
	count := func() int {
		t.Helper()
		r := h.do(water, `{ violations { totalCount } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("violations: %+v", r.Errors)
		}
		return decode[struct{ TotalCount int }](t, r.Data["violations"]).TotalCount
	}
	before := count()
	grantWater(t, h, "violations", "permit", "hailing.chengxi", "planning", "河道沿线建筑许可核查")
	var chengxi int
	if err := h.app.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM violations WHERE jurisdiction_code LIKE 'hailing.chengxi.%'").Scan(&chengxi); err != nil || chengxi == 0 {
		t.Fatalf("no Chengxi violations in the demo data (%v)", err)
	}
	if after := count(); after != before {
		t.Fatalf("water saw %d violations before planning's permit grant and %d with it", before, after)
	}
}

// grantWaterChengdongReporters grants water the reporters of Chengdong's
// cases (see grantWater).
func grantWaterChengdongReporters(t *testing.T, h *hub) string {
	t.Helper()
	return grantWater(t, h, "cases", "reporter", "hailing.chengdong", "urban-management", "城东积水点报案人回访")
}

// grantWater has water's admin ask for a field group of a dataset in a
// jurisdiction and the provider's admin approve; the grant is revoked when
// the test ends. It returns the grant's id.
func grantWater(t *testing.T, h *hub, dataset, group, jurisdiction, provider, purpose string) string {
	t.Helper()
	r := h.do(h.token("water", "admin"), `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id status } }`,
		map[string]any{"in": map[string]any{"dataset": dataset, "fieldGroups": []string{group},
			"jurisdiction": jurisdiction, "purpose": purpose, "until": seedNow.Add(24 * time.Hour).Format(time.RFC3339)}})
	if len(r.Errors) > 0 {
		t.Fatalf("request: %+v", r.Errors)
	}
	grant := decode[accessRequest](t, r.Data["requestAccess"]).ID
	admin := h.token(provider, "admin")
	if r = h.do(admin, `mutation($id: ID!) { approveAccessRequest(id: $id) { status } }`, map[string]any{"id": grant}); len(r.Errors) > 0 {
		t.Fatalf("approve: %+v", r.Errors)
	}
	t.Cleanup(func() {
		h.do(admin, `mutation($id: ID!) { revokeGrant(id: $id) { status } }`, map[string]any{"id": grant})
	})
	return grant
}
