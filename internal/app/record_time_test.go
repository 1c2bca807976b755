package app_test

import (
	"context"
	"testing"
)

// TestRecordTimesBeforeTheDistrict: event times before the district was
// formed (year 1, the Unix epoch, 1996) are refused with BAD_USER_INPUT
// naming the field, on every write path; 1997 onwards is accepted.
func TestRecordTimesBeforeTheDistrict(t *testing.T) {
	h := newHub(t)
	var lotID string
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT id::text FROM parking_lots WHERE owner_dept = 'traffic-police' ORDER BY id LIMIT 1`).Scan(&lotID); err != nil {
		t.Fatal(err)
	}
	officer := h.token("urban-management", "officer")
	police := h.token("traffic-police", "officer")
	writes := []struct {
		name, field, token, query string
		vars                      func(at string) map[string]any
	}{
		{"reportCase", "reportedAt", officer, `mutation($in: ReportCaseInput!) { reportCase(input: $in) { id } }`,
			func(at string) map[string]any {
				return map[string]any{"in": map[string]any{"kind": "EVENT", "minorCode": "0502", "source": "INSPECTOR_PATROL",
					"description": "流动摊贩占道", "lat": 32.49, "lng": 119.93, "reportedAt": at}}
			}},
		{"upsertCase", "reportedAt", officer, `mutation($in: CaseUpsertInput!) { upsertCase(input: $in) { outcome } }`,
			func(at string) map[string]any {
				return map[string]any{"in": map[string]any{"externalId": "time-" + at, "kind": "EVENT", "minorCode": "0502",
					"source": "INSPECTOR_PATROL", "description": "流动摊贩占道", "lat": 32.49, "lng": 119.93, "reportedAt": at}}
			}},
		{"reportViolation", "discoveredAt", officer, `mutation($in: ViolationInput!) { reportViolation(input: $in) { id } }`,
			func(at string) map[string]any {
				return map[string]any{"in": map[string]any{"kind": "STREET_OCCUPATION", "subtype": "STREET_VENDING", "channel": "PATROL",
					"description": "占道经营", "lat": 32.487, "lng": 119.915, "discoveredAt": at}}
			}},
		{"upsertViolation", "discoveredAt", officer, `mutation($in: ViolationInput!) { upsertViolation(input: $in) { outcome } }`,
			func(at string) map[string]any {
				return map[string]any{"in": map[string]any{"kind": "STREET_OCCUPATION", "subtype": "STREET_VENDING", "channel": "PATROL",
					"description": "占道经营", "lat": 32.487, "lng": 119.915, "discoveredAt": at, "externalId": "time-" + at}}
			}},
		{"reportParkingAvailability", "at", police, `mutation($id: ID!, $at: DateTime) { reportParkingAvailability(lotId: $id, free: 3, at: $at) { free } }`,
			func(at string) map[string]any { return map[string]any{"id": lotID, "at": at} }},
	}
	for _, w := range writes {
		for _, at := range []string{"0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1996-12-31T15:59:59Z"} {
			r := h.do(w.token, w.query, w.vars(at))
			if r.code(0) != "BAD_USER_INPUT" || len(r.Errors) == 0 || r.Errors[0].Extensions["field"] != w.field {
				t.Errorf("%s at %s: %+v; want BAD_USER_INPUT on %s", w.name, at, r.Errors, w.field)
			}
		}
	}
	// The first moment of the district is fine (parking's out-of-order rule
	// aside, which is why it is not retried here).
	for _, w := range writes[:4] {
		if r := h.do(w.token, w.query, w.vars("1996-12-31T16:00:00Z")); len(r.Errors) > 0 {
			t.Errorf("%s at the district's start: %+v", w.name, r.Errors)
		}
	}
}
