package app_test

import (
	"strings"
	"testing"
)

// TestUpsertMutations: the same record twice changes nothing, a change
// bumps the version, a stale version is a CONFLICT and another department
// may not write the dataset.
func TestUpsertMutations(t *testing.T) {
	h := newHub(t)
	type outcome struct {
		Outcome string
		Version int
	}
	tests := []struct {
		name     string
		mutation string
		field    string
		node     string
		owner    string
		other    string
		input    func(changed bool, version *int) map[string]any
	}{
		{
			name:     "parking lot",
			mutation: `mutation($in: ParkingLotInput!) { upsertParkingLot(input: $in) { outcome lot { version } } }`,
			field:    "upsertParkingLot", node: "lot", owner: "traffic-police", other: "housing",
			input: func(changed bool, version *int) map[string]any {
				in := map[string]any{"externalId": "tp-lot-test-1", "name": "鼓楼路临时停车场", "kind": "PUBLIC",
					"address": "鼓楼路 88 号", "lat": 32.487, "lng": 119.915, "totalSpaces": 40,
					"windows": map[string]any{"hours": []string{"07:00-22:00"}}}
				if changed {
					in["totalSpaces"] = 45
				}
				if version != nil {
					in["version"] = *version
				}
				return in
			},
		},
		{
			name:     "compound",
			mutation: `mutation($in: PropertyInput!) { upsertProperty(input: $in) { outcome property { version } } }`,
			field:    "upsertProperty", node: "property", owner: "housing", other: "water",
			input: func(changed bool, version *int) map[string]any {
				in := map[string]any{"externalId": "hs-compound-test-1", "name": "春晖新村", "address": "春晖路 12 号",
					"lat": 32.481, "lng": 119.926, "buildYear": 1996, "buildings": 12, "households": 480,
					"renovation": map[string]any{"status": "PLANNED", "year": 2026, "budget": 3600000}}
				if changed {
					in["households"] = 486
				}
				if version != nil {
					in["version"] = *version
				}
				return in
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := h.token(tc.owner, "officer")
			do := func(changed bool, version *int) (outcome, gqlResponse) {
				r := h.do(tok, tc.mutation, map[string]any{"in": tc.input(changed, version)})
				var o outcome
				if raw, ok := r.Data[tc.field]; ok && string(raw) != "null" {
					m := decode[map[string]any](t, raw)
					o.Outcome, _ = m["outcome"].(string)
					if n, ok := m[tc.node].(map[string]any); ok {
						v, _ := n["version"].(float64)
						o.Version = int(v)
					}
				}
				return o, r
			}
			if o, r := do(false, nil); o.Outcome != "CREATED" || o.Version != 1 {
				t.Fatalf("first: %+v %+v", o, r.Errors)
			}
			if o, r := do(false, nil); o.Outcome != "UNCHANGED" || o.Version != 1 {
				t.Fatalf("repeat: %+v %+v", o, r.Errors)
			}
			one := 1
			if o, r := do(true, &one); o.Outcome != "UPDATED" || o.Version != 2 {
				t.Fatalf("change: %+v %+v", o, r.Errors)
			}
			if _, r := do(false, &one); r.code(0) != "CONFLICT" {
				t.Fatalf("stale version: %+v", r.Errors)
			}
			r := h.do(h.token(tc.other, "officer"), tc.mutation, map[string]any{"in": tc.input(false, nil)})
			if r.code(0) != "FORBIDDEN" || !strings.Contains(string(r.Data[tc.field]), "null") && r.Data[tc.field] != nil {
				t.Fatalf("another department writing: %s %+v", r.Data[tc.field], r.Errors)
			}
		})
	}
}
