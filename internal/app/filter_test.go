package app_test

import (
	"strings"
	"testing"
	"time"
)

// TestUnknownJurisdictionRefused: through GraphQL, every list filtered on a
// jurisdiction that does not exist answers BAD_USER_INPUT naming the filter
// field, as reportCase does for the same code, and requestAccess files
// nothing for one. An existing jurisdiction outside the caller's scope still
// answers an empty list without an error.
func TestUnknownJurisdictionRefused(t *testing.T) {
	h := newHub(t)
	dispatcher := h.token("urban-management", "officer", "dispatcher")
	for _, list := range []string{"cases", "violations", "properties", "parkingLots"} {
		t.Run(list, func(t *testing.T) {
			r := h.do(dispatcher, `query($j: String) { `+list+`(filter: {jurisdiction: $j}) { totalCount edges { node { id } } } }`,
				map[string]any{"j": "hailing.nowhere"})
			if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "filter.jurisdiction" ||
				!strings.Contains(r.Errors[0].Message, `"hailing.nowhere"`) {
				t.Fatalf("unknown jurisdiction: %+v", r.Errors)
			}
		})
	}

	street := h.token("street-chengdong", "viewer")
	r := h.do(street, `{ cases(filter: {jurisdiction: "hailing.chengxi"}) { totalCount } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["cases"]), `"totalCount":0`) {
		t.Fatalf("an existing jurisdiction outside the scope: %s %+v", r.Data["cases"], r.Errors)
	}

	const m = `mutation($in: AccessRequestInput!) { requestAccess(input: $in) { id status } }`
	in := map[string]any{"dataset": "cases", "fieldGroups": []string{"reporter"}, "jurisdiction": "hailing.nowhere",
		"purpose": "扬尘投诉回访", "until": seedNow.Add(24 * time.Hour).Format(time.RFC3339)}
	r = h.do(h.token("environment", "admin"), m, map[string]any{"in": in})
	if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "jurisdiction" {
		t.Fatalf("requestAccess in an unknown jurisdiction: %s %+v", r.Data["requestAccess"], r.Errors)
	}
	var n int
	if err := h.app.Pool.QueryRow(t.Context(), `SELECT count(*) FROM access_requests WHERE jurisdiction = 'hailing.nowhere'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d requests filed for a jurisdiction that does not exist", n)
	}
}
