package app_test

import (
	"context"
	"strings"
	"testing"
)

// TestPropertyFieldsByDepartment: housing provides compounds, planning the
// permits; other departments see management contacts masked and permits
// not at all; the public sees the public group only.
func TestPropertyFieldsByDepartment(t *testing.T) {
	h := newHub(t)
	var id, phone string
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT p.id::text, p.mgmt_contact_phone FROM properties p
		WHERE p.mgmt_contact_phone IS NOT NULL AND EXISTS (SELECT 1 FROM building_permits b WHERE b.property_id = p.id)
		ORDER BY p.id LIMIT 1`).Scan(&id, &phone); err != nil {
		t.Fatal(err)
	}
	const q = `query($id: ID!) { property(id: $id) { name households management { company contactPhone }
		permits { permitNo scope } inspections { round } } }`
	tests := []struct {
		name        string
		tok         string
		phone       string // "raw", "masked", "denied"
		permits     bool
		households  bool
		forbiddenAt []string
	}{
		{"housing officer", h.token("housing", "officer"), "raw", false, true, []string{"permits"}},
		{"planning viewer", h.token("planning", "viewer"), "masked", true, true, nil},
		{"water viewer", h.token("water", "viewer"), "masked", false, true, []string{"permits"}},
		{"anonymous", "", "denied", false, false, []string{"households", "management", "permits", "inspections"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.tok, q, map[string]any{"id": id})
			got := string(r.Data["property"])
			if !strings.Contains(got, `"name":`) {
				t.Fatalf("no property: %s %+v", got, r.Errors)
			}
			switch tc.phone {
			case "raw":
				if !strings.Contains(got, phone) {
					t.Errorf("want raw phone %s: %s", phone, got)
				}
			case "masked":
				if strings.Contains(got, phone) || !strings.Contains(got, phone[:3]+"****"+phone[7:]) {
					t.Errorf("want masked phone: %s", got)
				}
			case "denied":
				if strings.Contains(got, phone[7:]) {
					t.Errorf("phone leaked: %s", got)
				}
			}
			if hasPermits := strings.Contains(got, `"permitNo"`); hasPermits != tc.permits {
				t.Errorf("permits visible = %v: %s", hasPermits, got)
			}
			forbidden := map[string]bool{}
			for _, e := range r.Errors {
				if e.Extensions["code"] == "FORBIDDEN" && len(e.Path) > 1 {
					forbidden[e.Path[1].(string)] = true
				}
			}
			for _, f := range tc.forbiddenAt {
				if !forbidden[f] {
					t.Errorf("want FORBIDDEN at %s, errors %+v", f, r.Errors)
				}
			}
			if len(forbidden) != len(tc.forbiddenAt) {
				t.Errorf("FORBIDDEN at %v, want %v", forbidden, tc.forbiddenAt)
			}
		})
	}
}
