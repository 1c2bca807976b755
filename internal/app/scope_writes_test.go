package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/policies"
)

// TestWritesAnswerOutOfScopeLikeMissing: for every write that finds its
// record by id or by external id — upsertCase, the /ingest bulk merge,
// upsertProperty, upsertParkingLot, recordInspectionResult, case and
// violation transitions, rateCase, reportParkingAvailability and sharing
// decisions — a caller whose row scope excludes the record changes nothing
// and gets the answer it gets for a record that does not exist. Where
// "missing" means "create" (an upsert without a version), the one thing a
// refusal cannot hide is that the key is taken: the single key-taken
// CONFLICT, naming the key only.
//
// The registries are public to read, so the test loads a policy where
// properties and parking are read by jurisdiction, the scope a street's
// housing or traffic desk would have; the rule must hold whatever the
// policy says.
func TestWritesAnswerOutOfScopeLikeMissing(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"model.conf", "policy.csv", "catalog.yaml", "weights.yaml"} {
		data, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "policy.csv" {
			for _, ds := range []string{"properties", "parking"} {
				line := "p, anyone, *, " + ds + ", rows:all, allow"
				if !strings.Contains(string(data), line) {
					t.Fatalf("policy.csv lacks %q", line)
				}
				// The provider's desks see every row by their own lines; a
				// deny on rows:all leaves them the jurisdiction scope.
				data = []byte(strings.Replace(string(data), line, "p, anyone, *, "+ds+", rows:jurisdiction, allow\n"+
					"p, staff, provider, "+ds+", rows:all, deny", 1))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := newHubEnv(t, map[string]string{"POLICY_DIR": dir})
	ctx := context.Background()
	var home, other string
	if err := h.app.Pool.QueryRow(ctx, `SELECT min(code), max(code) FROM jurisdictions WHERE nlevel(path) = 2`).Scan(&home, &other); err != nil {
		t.Fatal(err)
	}
	mint := func(dept string, roles ...string) string {
		tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "desk-" + dept, Dept: dept, Roles: roles, Jurisdiction: home}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	keys := auth.NewAPIKeys(h.app.Pool)
	umSystem, _, err := keys.Create(ctx, auth.APIKeySpec{Name: "um system", Dept: "urban-management", Roles: []string{"system"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	suffix := time.Now().Format("150405.000000")

	// The targets: a case urban-management sent under a key, owned by
	// another department (outside a system's own-department scope); a
	// compound, a lot and an inspection in the other street.
	theirCase := "scope-case-" + suffix
	officer := h.token("urban-management", "officer")
	caseInput := func(key, description string, version *int) map[string]any {
		in := map[string]any{"externalId": key, "kind": "EVENT", "minorCode": "0501", "source": "DRONE_PATROL",
			"description": description, "lat": 32.487, "lng": 119.915, "jurisdiction": home}
		if version != nil {
			in["version"] = *version
		}
		return in
	}
	const upsertCase = `mutation($in: CaseUpsertInput!) { upsertCase(input: $in) { outcome case { id version } } }`
	if r := h.do(officer, upsertCase, map[string]any{"in": caseInput(theirCase, "对方的案件", nil)}); len(r.Errors) > 0 {
		t.Fatalf("officer upsert: %+v", r.Errors)
	}
	if _, err := h.app.Pool.Exec(ctx, `UPDATE cases SET owner_dept = 'water', handling_dept = NULL
		WHERE source_dept = 'urban-management' AND external_id = $1`, theirCase); err != nil {
		t.Fatal(err)
	}
	var propKey, lotKey, inspection, otherCase, otherViolation string
	if err := h.app.Pool.QueryRow(ctx, `SELECT external_id FROM properties WHERE source_dept = 'housing' AND street_code = $1
		AND external_id IS NOT NULL ORDER BY id LIMIT 1`, other).Scan(&propKey); err != nil {
		t.Fatalf("a compound in %s: %v", other, err)
	}
	if err := h.app.Pool.QueryRow(ctx, `SELECT external_id FROM parking_lots WHERE source_dept = 'traffic-police' AND street_code = $1
		AND external_id IS NOT NULL ORDER BY id LIMIT 1`, other).Scan(&lotKey); err != nil {
		t.Fatalf("a lot in %s: %v", other, err)
	}
	_ = h.app.Pool.QueryRow(ctx, `SELECT i.id::text FROM inspections i JOIN properties p ON p.id = i.property_id
		WHERE p.street_code = $1 ORDER BY i.id LIMIT 1`, other).Scan(&inspection)
	if err := h.app.Pool.QueryRow(ctx, `SELECT id::text FROM cases WHERE street_code = $1 ORDER BY id LIMIT 1`, other).Scan(&otherCase); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Pool.QueryRow(ctx, `SELECT id::text FROM violations WHERE street_code = $1 ORDER BY id LIMIT 1`, other).Scan(&otherViolation); err != nil {
		t.Fatal(err)
	}
	var lotID string
	if err := h.app.Pool.QueryRow(ctx, `SELECT id::text FROM parking_lots WHERE source_dept = 'traffic-police' AND external_id = $1`, lotKey).Scan(&lotID); err != nil {
		t.Fatal(err)
	}
	const missingID = "0190b7c4-0000-7000-8000-000000000001"

	// fingerprint is everything a write could change, per table.
	fingerprint := func() string {
		var s string
		if err := h.app.Pool.QueryRow(ctx, `SELECT concat_ws('|',
			(SELECT count(*) || ':' || coalesce(sum(version), 0) || ':' || coalesce(md5(string_agg(description || status, ',' ORDER BY id)), '') FROM cases),
			(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM violations),
			(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM properties),
			(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM parking_lots),
			(SELECT count(*) || ':' || coalesce(sum(version), 0) FROM inspections),
			(SELECT count(*) FROM case_events),
			(SELECT count(*) || ':' || coalesce(string_agg(status, ',' ORDER BY id), '') FROM access_requests))`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	answer := func(r gqlResponse, key string) string {
		if len(r.Errors) == 0 {
			return "ok " + strings.ReplaceAll(string(mustJSON(r.Data)), key, "KEY")
		}
		return r.code(0) + ": " + strings.ReplaceAll(r.Errors[0].Message, key, "KEY")
	}
	doKey := func(key, query string, vars map[string]any) gqlResponse {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, _ := http.NewRequest("POST", h.srv.URL+"/query", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out gqlResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	v1 := 1
	housing := mint("housing", "officer")
	traffic := mint("traffic-police", "officer")
	propInput := func(key string, version *int) map[string]any {
		in := map[string]any{"externalId": key, "name": "篡改小区", "address": "某路 1 号", "lat": 32.481, "lng": 119.926,
			"jurisdiction": home, "buildYear": 1996, "buildings": 1, "households": 10}
		if version != nil {
			in["version"] = *version
		}
		return in
	}
	lotInput := func(key string, version *int) map[string]any {
		in := map[string]any{"externalId": key, "name": "篡改停车场", "kind": "PUBLIC", "address": "某路 2 号",
			"lat": 32.487, "lng": 119.915, "jurisdiction": home, "totalSpaces": 7, "windows": map[string]any{"hours": []string{"07:00-22:00"}}}
		if version != nil {
			in["version"] = *version
		}
		return in
	}
	const upsertProperty = `mutation($in: PropertyInput!) { upsertProperty(input: $in) { outcome property { id version } } }`
	const upsertLot = `mutation($in: ParkingLotInput!) { upsertParkingLot(input: $in) { outcome lot { id version } } }`
	keyTaken := func(key string) string {
		return "CONFLICT: " + strings.ReplaceAll(apperr.KeyTaken(key).Message, key, "KEY")
	}

	type write struct {
		name string
		// do writes to the out-of-scope record (or key) when target is
		// true, else to one that does not exist; it returns the answer.
		do func(target bool) string
		// taken, when set, is the documented answer for the target: an
		// upsert that would create where the key is taken.
		taken string
	}
	pick := func(target bool, theirs, missing string) string {
		if target {
			return theirs
		}
		return missing
	}
	missingKey := "scope-missing-" + suffix
	writes := []write{
		{name: "upsertCase with a version", do: func(target bool) string {
			k := pick(target, theirCase, missingKey)
			return answer(doKey(umSystem, upsertCase, map[string]any{"in": caseInput(k, "篡改", &v1)}), k)
		}},
		{name: "upsertCase creating", taken: keyTaken(theirCase), do: func(bool) string {
			return answer(doKey(umSystem, upsertCase, map[string]any{"in": caseInput(theirCase, "篡改", nil)}), theirCase)
		}},
		{name: "ingest cases", taken: "rejected 1: " + apperr.KeyTakenReason("KEY"), do: func(bool) string {
			line, _ := json.Marshal(caseInput(theirCase, "篡改", nil))
			req, _ := http.NewRequest("POST", h.srv.URL+"/ingest/cases?mode=skip-invalid", strings.NewReader(string(line)+"\n"))
			req.Header.Set("Content-Type", "application/x-ndjson")
			req.Header.Set("X-API-Key", umSystem)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var rep struct {
				Inserted, Updated, Rejected int
				Errors                      []struct{ Reason string }
			}
			_ = json.Unmarshal(raw, &rep)
			if rep.Inserted+rep.Updated != 0 || len(rep.Errors) != 1 {
				return string(raw)
			}
			return "rejected 1: " + strings.ReplaceAll(rep.Errors[0].Reason, theirCase, "KEY")
		}},
		{name: "upsertProperty with a version", do: func(target bool) string {
			k := pick(target, propKey, missingKey)
			return answer(h.do(housing, upsertProperty, map[string]any{"in": propInput(k, &v1)}), k)
		}},
		{name: "upsertProperty creating", taken: keyTaken(propKey), do: func(bool) string {
			return answer(h.do(housing, upsertProperty, map[string]any{"in": propInput(propKey, nil)}), propKey)
		}},
		{name: "upsertParkingLot with a version", do: func(target bool) string {
			k := pick(target, lotKey, missingKey)
			return answer(h.do(traffic, upsertLot, map[string]any{"in": lotInput(k, &v1)}), k)
		}},
		{name: "upsertParkingLot creating", taken: keyTaken(lotKey), do: func(bool) string {
			return answer(h.do(traffic, upsertLot, map[string]any{"in": lotInput(lotKey, nil)}), lotKey)
		}},
		{name: "reportParkingAvailability", do: func(target bool) string {
			id := pick(target, lotID, missingID)
			return answer(h.do(traffic, `mutation($id: ID!) { reportParkingAvailability(lotId: $id, free: 1) { free } }`,
				map[string]any{"id": id}), id)
		}},
		{name: "registerCase", do: func(target bool) string {
			id := pick(target, otherCase, missingID)
			return answer(h.do(mint("urban-management", "grid-worker"), `mutation($id: ID!) { registerCase(id: $id) { id } }`,
				map[string]any{"id": id}), id)
		}},
		{name: "rateCase", do: func(target bool) string {
			id := pick(target, otherCase, missingID)
			return answer(h.do(mint("urban-management", "grid-worker"), `mutation($id: ID!) { rateCase(id: $id, stars: 1) { id } }`,
				map[string]any{"id": id}), id)
		}},
		{name: "issueViolationNotice", do: func(target bool) string {
			id := pick(target, otherViolation, missingID)
			return answer(h.do(mint("urban-management", "street-officer"), `mutation($id: ID!) { transitionViolation(id: $id, action: ISSUE_NOTICE) { id } }`,
				map[string]any{"id": id}), id)
		}},
	}
	if inspection != "" {
		writes = append(writes, write{name: "recordInspectionResult", do: func(target bool) string {
			id := pick(target, inspection, missingID)
			return answer(h.do(housing, `mutation($id: ID!) { recordInspectionResult(id: $id, result: PASS) { id } }`,
				map[string]any{"id": id}), id)
		}})
	} else {
		t.Log("the demo data has no inspection in the other street: recordInspectionResult not exercised")
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			before := fingerprint()
			got := w.do(true)
			if after := fingerprint(); after != before {
				t.Fatalf("the out-of-scope write changed the database (answer %s)", got)
			}
			want := w.taken
			if want == "" {
				want = w.do(false)
			}
			if got != want {
				t.Fatalf("out of scope: %s\nwant, as for a missing record: %s", got, want)
			}
		})
	}
}
