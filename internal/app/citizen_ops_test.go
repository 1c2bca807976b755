package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// typeRef is an introspected type reference.
type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

func (t typeRef) String() string {
	switch t.Kind {
	case "NON_NULL":
		return t.OfType.String() + "!"
	case "LIST":
		return "[" + t.OfType.String() + "]"
	}
	return *t.Name
}

func (t typeRef) named() string {
	if t.OfType != nil {
		return t.OfType.named()
	}
	return *t.Name
}

type introspected struct {
	Schema struct {
		Types []struct {
			Name        string
			Kind        string
			InputFields []struct {
				Name string
				Type typeRef
			}
			EnumValues []struct{ Name string }
			Fields     []struct {
				Name string
				Args []struct {
					Name string
					Type typeRef
				}
				Type typeRef
			}
		}
	} `json:"__schema"`
}

const typeRefQuery = `kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`

// mutationCalls introspects the schema the hub serves and returns, for
// every Mutation field, a document calling it with values of the right
// types for every required argument, and those values. The test thus
// covers mutations added later without being told about them.
func mutationCalls(t *testing.T, h *hub) map[string]struct {
	doc  string
	vars map[string]any
} {
	t.Helper()
	r := h.do(h.token("urban-management", "admin"), `{ __schema { types { name kind
		inputFields { name type { `+typeRefQuery+` } } enumValues { name }
		fields { name args { name type { `+typeRefQuery+` } } type { `+typeRefQuery+` } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("introspection: %+v", r.Errors)
	}
	var s introspected
	raw, _ := json.Marshal(r.Data)
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for i, ty := range s.Schema.Types {
		types[ty.Name] = i
	}
	var value func(ref typeRef, depth int) any
	value = func(ref typeRef, depth int) any {
		switch ref.Kind {
		case "NON_NULL":
			return value(*ref.OfType, depth)
		case "LIST":
			return []any{value(*ref.OfType, depth)}
		}
		ty := s.Schema.Types[types[*ref.Name]]
		switch ty.Kind {
		case "ENUM":
			return ty.EnumValues[0].Name
		case "INPUT_OBJECT":
			obj := map[string]any{}
			for _, f := range ty.InputFields {
				if f.Type.Kind == "NON_NULL" && depth < 5 {
					obj[f.Name] = value(f.Type, depth+1)
				}
			}
			return obj
		}
		switch ty.Name {
		case "Int":
			return 1
		case "Float":
			return 32.49
		case "Boolean":
			return true
		case "ID":
			return "0190d1a4-0000-7000-8000-000000000001"
		case "DateTime":
			return "2025-11-20T08:00:00Z"
		}
		return "x-1234567"
	}
	out := map[string]struct {
		doc  string
		vars map[string]any
	}{}
	for _, f := range s.Schema.Types[types["Mutation"]].Fields {
		var decls, args []string
		vars := map[string]any{}
		for i, a := range f.Args {
			if a.Type.Kind != "NON_NULL" {
				continue
			}
			v := fmt.Sprintf("a%d", i)
			decls = append(decls, "$"+v+": "+a.Type.String())
			args = append(args, a.Name+": $"+v)
			vars[v] = value(a.Type, 0)
		}
		sel := ""
		if k := s.Schema.Types[types[f.Type.named()]].Kind; k == "OBJECT" || k == "INTERFACE" || k == "UNION" {
			sel = " { __typename }"
		}
		doc := "mutation"
		if len(decls) > 0 {
			doc += "(" + strings.Join(decls, ", ") + ")"
		}
		call := f.Name
		if len(args) > 0 {
			call += "(" + strings.Join(args, ", ") + ")"
		}
		out[f.Name] = struct {
			doc  string
			vars map[string]any
		}{doc + " { " + call + sel + " }", vars}
	}
	return out
}

// citizenOperations are the mutations the citizen app may call.
var citizenOperations = []string{"reportIssue", "rateCase"}

// TestCitizenAppIsRefusedEveryStaffMutation: the citizen app, acting for a
// citizen or for itself, gets FORBIDDEN on every mutation of the schema but
// its citizen's own operations, and nothing of the refused operation runs.
// Once, it filed staff reports (reportCase) with a source, reporter, report
// time and external id of its choosing.
func TestCitizenAppIsRefusedEveryStaffMutation(t *testing.T) {
	// One call of every mutation is more than a citizen's per-minute
	// allowance: the limits are not what this test is about.
	h := newHubEnv(t, map[string]string{"RATE_LIMIT_CITIZEN": "1000/1m", "RATE_LIMIT_APIKEY": "1000/1m"})
	key := h.citizenApp()
	calls := mutationCalls(t, h)
	for _, op := range append(slices.Clone(citizenOperations), "reportCase", "upsertCase", "requestAccess", "createSnapshot") {
		if _, ok := calls[op]; !ok {
			t.Fatalf("the schema has no mutation %s; the test needs updating", op)
		}
	}
	if len(calls) < 20 {
		t.Fatalf("only %d mutations introspected", len(calls))
	}
	var before int
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	for name, c := range calls {
		allowed := slices.Contains(citizenOperations, name)
		r := h.asCitizen(key, "cit-ops-1", c.doc, c.vars)
		if r.Status >= 500 {
			t.Fatalf("%s: HTTP %d %+v", name, r.Status, r.Errors)
		}
		got := r.code(0)
		if allowed {
			if got == "FORBIDDEN" || got == "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("%s (a citizen operation): %s %+v", name, got, r.Errors)
			}
			continue
		}
		if got != "FORBIDDEN" {
			t.Errorf("%s: code %q, want FORBIDDEN (%s %v): %+v", name, got, c.doc, c.vars, r.Errors)
		}
		if d, ok := r.Data[name]; ok && string(d) != "null" {
			t.Errorf("%s returned data %s", name, d)
		}
	}
	// The staff report with fields of the app's choosing, as the attack sent it.
	r := h.asCitizen(key, "cit-ops-1", `mutation { reportCase(input: {kind: EVENT, minorCode: "0201", source: HOTLINE_12345,
		description: "forged", lat: 32.49, lng: 119.92, reporterName: "王五", reporterPhone: "13800000000",
		reportedAt: "2025-01-01T00:00:00Z", externalId: "forged-1"}) { id } }`, nil)
	if r.code(0) != "FORBIDDEN" {
		t.Fatalf("reportCase with staff fields: %+v", r.Errors)
	}
	var after int
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cases`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after > before+1 { // reportIssue may file one case
		t.Fatalf("cases went from %d to %d: a refused mutation wrote", before, after)
	}
}

// TestCitizenKeysHaveTheirOwnNamespace: a citizen's idempotency key is not
// an external id of the department the app's key belongs to. Once, a
// department system that sent a record under "citizen:<id>:<key>" blocked
// that citizen's report with that key, and the citizen's case sat in the
// space the department's upserts address.
func TestCitizenKeysHaveTheirOwnNamespace(t *testing.T) {
	h := newHub(t)
	key := h.citizenApp()
	const citizen, idem = "cit-ns-1", "ns-key-0001"
	staff := h.do(h.token("urban-management", "officer"), `mutation($ext: String!) { reportCase(input: {kind: EVENT, minorCode: "0201",
		source: INSPECTOR_PATROL, description: "系统上报", lat: 32.4931, lng: 119.9187, externalId: $ext}) { id } }`,
		map[string]any{"ext": "citizen:" + citizen + ":" + idem})
	if len(staff.Errors) > 0 {
		t.Fatalf("staff report: %+v", staff.Errors)
	}
	staffCase := decode[struct{ ID string }](t, staff.Data["reportCase"]).ID
	r := h.asCitizen(key, citizen, reportIssue, map[string]any{"in": issue(), "key": idem})
	if len(r.Errors) > 0 {
		t.Fatalf("the citizen's report is blocked by a department's external id: %+v", r.Errors)
	}
	first := decode[struct{ ID, Source string }](t, r.Data["reportIssue"])
	if first.ID == staffCase || first.Source != "CITIZEN_REPORT" {
		t.Fatalf("the citizen got %+v (the department's case is %s)", first, staffCase)
	}
	// The retry still finds the citizen's own case.
	r = h.asCitizen(key, citizen, reportIssue, map[string]any{"in": issue(), "key": idem})
	if again := decode[struct{ ID string }](t, r.Data["reportIssue"]); len(r.Errors) > 0 || again.ID != first.ID {
		t.Fatalf("retry: %+v %+v", again, r.Errors)
	}
	// Another citizen's same key is another report.
	r = h.asCitizen(key, "cit-ns-2", reportIssue, map[string]any{"in": issue(), "key": idem})
	if other := decode[struct{ ID string }](t, r.Data["reportIssue"]); len(r.Errors) > 0 || other.ID == first.ID {
		t.Fatalf("another citizen: %+v %+v", other, r.Errors)
	}
	var external *string
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT external_id FROM cases WHERE id = $1`, first.ID).Scan(&external); err != nil {
		t.Fatal(err)
	}
	if external != nil {
		t.Fatalf("the citizen's case holds the external id %q in the department's space", *external)
	}
}
