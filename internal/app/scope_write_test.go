package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

// TestKeyedWritesTakeRowScope: a grid worker of urban management works in
// one street. A violation its department sent from another street under an
// external id can be neither read, overwritten nor duplicated through the
// key: upsertViolation and reportViolation refuse with one CONFLICT that
// names the key and nothing of the record, and write nothing. (That the
// key is not free is the one thing a refused creation cannot hide.)
func TestKeyedWritesTakeRowScope(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var home, other string
	if err := h.app.Pool.QueryRow(ctx, `SELECT min(code), max(code) FROM jurisdictions WHERE nlevel(path) = 2`).Scan(&home, &other); err != nil {
		t.Fatal(err)
	}
	if home == other {
		t.Fatal("need two streets")
	}
	officer := h.token("urban-management", "officer")
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "grid-7", Dept: "urban-management",
		Roles: []string{"grid-worker"}, Jurisdiction: home}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	worker := tok
	input := func(key, jurisdiction, description string) map[string]any {
		return map[string]any{"kind": "STREET_OCCUPATION", "subtype": "STREET_VENDING", "channel": "PATROL",
			"description": description, "lat": 32.487, "lng": 119.915, "jurisdiction": jurisdiction, "externalId": key}
	}
	const upsert = `mutation($in: ViolationInput!) { upsertViolation(input: $in) { outcome violation { id version description } } }`
	const report = `mutation($in: ViolationInput!) { reportViolation(input: $in) { id } }`
	suffix := time.Now().Format("150405.000000")
	theirs, mine := "scope-theirs-"+suffix, "scope-mine-"+suffix

	// The department's record in the other street, and the worker's own.
	if r := h.do(officer, upsert, map[string]any{"in": input(theirs, other, "对方街道占道经营")}); len(r.Errors) > 0 {
		t.Fatalf("officer upsert: %+v", r.Errors)
	}
	if r := h.do(worker, upsert, map[string]any{"in": input(mine, home, "本街道占道经营")}); len(r.Errors) > 0 {
		t.Fatalf("worker's own upsert: %+v", r.Errors)
	} else if !strings.Contains(string(r.Data["upsertViolation"]), "CREATED") {
		t.Fatalf("worker's own upsert: %s", r.Data["upsertViolation"])
	}

	stored := func(key string) (n int, description string, version int) {
		t.Helper()
		if err := h.app.Pool.QueryRow(ctx, `SELECT count(*), coalesce(max(description), ''), coalesce(max(version), 0)
			FROM violations WHERE source_dept = 'urban-management' AND external_id = $1`, key).Scan(&n, &description, &version); err != nil {
			t.Fatal(err)
		}
		return n, description, version
	}
	answer := func(r gqlResponse) string {
		if len(r.Errors) == 0 {
			return "ok"
		}
		return r.code(0) + ": " + strings.ReplaceAll(r.Errors[0].Message, mine, "KEY")
	}

	// Overwriting through the key: the worker's attempt on the other
	// street's record must change nothing and must not create a twin.
	r := h.do(worker, upsert, map[string]any{"in": input(theirs, home, "篡改")})
	if n, desc, v := stored(theirs); n != 1 || desc != "对方街道占道经营" || v != 1 {
		t.Fatalf("after the worker's upsert: %d records, description %q, version %d (answer %s)", n, desc, v, answer(r))
	}
	if len(r.Errors) == 0 {
		t.Fatalf("upsert of a key outside the worker's scope succeeded: %s", r.Data["upsertViolation"])
	}
	// Reporting under the key is the same keyed write, refused in the
	// same words; the refusal names the key only.
	rTheirs := h.do(worker, report, map[string]any{"in": input(theirs, home, "重复上报")})
	if r.code(0) != "CONFLICT" || answer(rTheirs) != answer(r) {
		t.Fatalf("upsert answered %q, report %q; want one CONFLICT naming the key only", answer(r), answer(rTheirs))
	}
	if n, desc, _ := stored(theirs); n != 1 || desc != "对方街道占道经营" {
		t.Fatalf("after the worker's report: %d records, description %q", n, desc)
	}
	// And the upsert's refusal says nothing about the record.
	for _, leak := range []string{other, "对方", "version", "status", "DISCOVERED"} {
		if strings.Contains(answer(r), leak) {
			t.Fatalf("the refusal %q reveals %q", answer(r), leak)
		}
	}
}
