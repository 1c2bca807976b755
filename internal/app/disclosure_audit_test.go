package app_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/graph/generated"
	"github.com/vektah/gqlparser/v2/ast"
)

// auditedTypes returns, per object type carrying @access fields, the
// datasets those fields belong to: the types whose values are a dataset's
// records (or parts of them).
func auditedTypes(s *ast.Schema) map[string][]string {
	out := map[string][]string{}
	for name, def := range s.Types {
		seen := map[string]bool{}
		for _, f := range def.Fields {
			if d := f.Directives.ForName("access"); d != nil {
				ds := d.Arguments.ForName("dataset").Value.Raw
				if !seen[ds] {
					seen[ds] = true
					out[name] = append(out[name], ds)
				}
			}
		}
	}
	return out
}

// disclosingRootFields returns every root field (Query, Mutation,
// Subscription, including _entities) whose result can reach, through object
// fields, an audited type, with the datasets it can reach.
func disclosingRootFields(s *ast.Schema) map[string][]string {
	audited := auditedTypes(s)
	reach := func(start string) []string {
		seen := map[string]bool{}
		dss := map[string]bool{}
		stack := []string{start}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[n] {
				continue
			}
			seen[n] = true
			for _, ds := range audited[n] {
				dss[ds] = true
			}
			def := s.Types[n]
			if def == nil {
				continue
			}
			for _, f := range def.Fields {
				if f.Type != nil {
					stack = append(stack, f.Type.Name())
				}
			}
			stack = append(stack, def.Types...) // union members
			for _, impl := range s.PossibleTypes[n] {
				stack = append(stack, impl.Name)
			}
		}
		var out []string
		for ds := range dss {
			out = append(out, ds)
		}
		sort.Strings(out)
		return out
	}
	out := map[string][]string{}
	for _, root := range []*ast.Definition{s.Query, s.Mutation, s.Subscription} {
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if len(f.Name) > 1 && f.Name[:2] == "__" {
				continue
			}
			if dss := reach(f.Type.Name()); len(dss) > 0 {
				out[root.Name+"."+f.Name] = dss
			}
		}
	}
	return out
}

// disclosure is how the registry covers a root field that can return a
// dataset's records: run performs it as a principal whose read must be
// audited (another department, or unmasked personal data) under the
// operation name it returns, and the audit trail must then hold a record
// of dataset for that operation. Or exempt says why no record is owed.
type disclosure struct {
	run     func(t *testing.T, h *hub, f *fixtures) (op string)
	dataset string
	exempt  string
}

// fixtures are ids the operations need, read once.
type fixtures struct {
	caseID, violationID, propertyID, lotID, round string
}

func loadFixtures(t *testing.T, h *hub) *fixtures {
	t.Helper()
	um := h.token("urban-management", "officer")
	r := h.do(um, `{ cases(first: 1) { edges { node { id } } }
		violations(first: 1) { edges { node { id } } }
		properties(first: 1) { edges { node { id } } }
		parkingLots(first: 1) { edges { node { id } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("fixtures: %+v", r.Errors)
	}
	first := func(k string) string {
		c := decode[struct {
			Edges []struct{ Node struct{ ID string } }
		}](t, r.Data[k])
		if len(c.Edges) == 0 {
			t.Fatalf("no %s in the demo data", k)
		}
		return c.Edges[0].Node.ID
	}
	f := &fixtures{caseID: first("cases"), violationID: first("violations"), propertyID: first("properties"), lotID: first("parkingLots")}
	r = h.do(h.token("housing", "officer"), `{ inspectionRounds { round } }`, nil)
	rounds := decode[[]struct{ Round string }](t, r.Data["inspectionRounds"])
	if len(rounds) == 0 {
		t.Fatalf("no inspection round in the demo data: %+v", r.Errors)
	}
	f.round = rounds[0].Round
	return f
}

// read returns a registry run that sends query (an operation named op) as
// token with vars from the fixtures.
func read(token func(h *hub) string, op, query string, vars func(f *fixtures) map[string]any) func(*testing.T, *hub, *fixtures) string {
	return func(t *testing.T, h *hub, f *fixtures) string {
		var v map[string]any
		if vars != nil {
			v = vars(f)
		}
		if r := h.do(token(h), query, v); len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", op, r.Errors)
		}
		return op
	}
}

func as(dept string, roles ...string) func(h *hub) string {
	return func(h *hub) string { return h.token(dept, roles...) }
}

// viaJurisdiction is the exemption of root fields that reach datasets only
// through a Department's or Jurisdiction's nested lists.
const viaJurisdiction = "returns directory or governance data (departments, jurisdictions, viewer, grant requests); " +
	"it reaches records only through Jurisdiction's nested lists, audited reads proven by Query.jurisdiction"

// sameTransition exempts the case transitions sharing cases.Service.Transition
// with registerCase/dispatchCase/submitCaseHandling, which are exercised.
const sameTransition = "one more action of cases.Service.Transition, whose answer is audited (access.AuditReturned) as exercised by Mutation.submitCaseHandling"

const caseRequest = "a deferral or backlog request holds no personal data; its case resolves through the audited cases loader " +
	"(cases.Service.GetMany, as Query.case), and an approval's transition is audited like Mutation.deferCase"

// disclosures is the registry: every root field whose result can reach an
// audited dataset's types must be here.
var disclosures = map[string]disclosure{
	"Query.case": {dataset: "cases", run: read(as("water", "officer"), "DiscloseCase",
		`query DiscloseCase($id: ID!) { case(id: $id) { id } }`, func(f *fixtures) map[string]any { return map[string]any{"id": f.caseID} })},
	"Query.cases": {dataset: "cases", run: read(as("water", "officer"), "DiscloseCases",
		`query DiscloseCases { cases(first: 2) { edges { node { id } } } }`, nil)},
	"Query._entities": {dataset: "cases", run: read(as("water", "officer"), "DiscloseEntities",
		`query DiscloseEntities($id: ID!) { _entities(representations: [{__typename: "Case", id: $id}]) { ... on Case { id } } }`,
		func(f *fixtures) map[string]any { return map[string]any{"id": f.caseID} })},
	"Query.node": {dataset: "cases", run: read(as("water", "officer"), "DiscloseNode",
		`query DiscloseNode($id: ID!) { node(id: $id) { id } }`, func(f *fixtures) map[string]any { return map[string]any{"id": f.caseID} })},
	"Query.nodes": {dataset: "cases", run: read(as("water", "officer"), "DiscloseNodes",
		`query DiscloseNodes($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
		func(f *fixtures) map[string]any {
			return map[string]any{"ids": []string{f.propertyID, f.caseID, "hailing"}}
		})},
	"Query.jurisdiction": {dataset: "cases", run: read(as("water", "officer"), "DiscloseJurisdiction",
		`query DiscloseJurisdiction { jurisdiction(code: "hailing") { cases(first: 2) { edges { node { id } } } } }`, nil)},
	"Query.jurisdictions": {dataset: "cases", run: read(as("water", "officer"), "DiscloseJurisdictions",
		`query DiscloseJurisdictions { jurisdictions(level: DISTRICT) { cases(first: 2) { edges { node { id } } } } }`, nil)},
	"Query.department":  {exempt: viaJurisdiction},
	"Query.departments": {exempt: viaJurisdiction},
	"Query.viewer":      {exempt: viaJurisdiction},
	"Query.accessRequests": {exempt: "grants are governance data (who asked whom for which groups, why, until when), not a dataset's records; " +
		"requester and provider see their own requests. " + viaJurisdiction},
	"Query.activeGrants":            {exempt: "as Query.accessRequests: " + viaJurisdiction},
	"Mutation.requestAccess":        {exempt: "as Query.accessRequests: " + viaJurisdiction},
	"Mutation.approveAccessRequest": {exempt: "as Query.accessRequests: " + viaJurisdiction},
	"Mutation.rejectAccessRequest":  {exempt: "as Query.accessRequests: " + viaJurisdiction},
	"Mutation.revokeGrant":          {exempt: "as Query.accessRequests: " + viaJurisdiction},
	"Query.myCases": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		app := h.citizenApp()
		if r := h.asCitizen(app, "cit-disclose-1", reportIssue, map[string]any{"in": issue(), "key": "disclose-key-1"}); len(r.Errors) > 0 {
			t.Fatalf("report: %+v", r.Errors)
		}
		if r := h.asCitizen(app, "cit-disclose-1", `query DiscloseMyCases { myCases { edges { node { id reporter { phone } } } } }`, nil); len(r.Errors) > 0 {
			t.Fatalf("myCases: %+v", r.Errors)
		}
		return "DiscloseMyCases"
	}},
	"Query.myCase": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		app := h.citizenApp()
		r := h.asCitizen(app, "cit-disclose-2", reportIssue, map[string]any{"in": issue(), "key": "disclose-key-2"})
		id := decode[struct{ ID string }](t, r.Data["reportIssue"]).ID
		if r := h.asCitizen(app, "cit-disclose-2", `query DiscloseMyCase($id: ID!) { myCase(id: $id) { id reporter { phone } } }`,
			map[string]any{"id": id}); len(r.Errors) > 0 {
			t.Fatalf("myCase: %+v", r.Errors)
		}
		return "DiscloseMyCase"
	}},
	"Mutation.reportIssue": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		// Consistent with myCases: the citizen's own report comes back with
		// its reporter unmasked, personal data, and is audited.
		app := h.citizenApp()
		q := strings.Replace(reportIssue, "mutation(", "mutation DiscloseReportIssue(", 1)
		if r := h.asCitizen(app, "cit-disclose-3", q, map[string]any{"in": issue(), "key": "disclose-key-3"}); len(r.Errors) > 0 {
			t.Fatalf("reportIssue: %+v", r.Errors)
		}
		return "DiscloseReportIssue"
	}},
	"Mutation.reportCase": {dataset: "cases", run: read(as("urban-management", "officer"), "DiscloseReportCase",
		`mutation DiscloseReportCase($in: ReportCaseInput!) { reportCase(input: $in) { id reporter { phone } } }`,
		func(*fixtures) map[string]any {
			return map[string]any{"in": map[string]any{"kind": "EVENT", "minorCode": "0501", "source": "HOTLINE_12345",
				"description": "坡子街店外经营", "lat": 32.49, "lng": 119.92, "reporterName": "王五", "reporterPhone": "13900002222"}}
		})},
	"Mutation.registerCase": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		caseFlow(t, h)
		return "DiscloseRegister"
	}},
	"Mutation.dispatchCase": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		caseFlow(t, h)
		return "DiscloseDispatch"
	}},
	"Mutation.submitCaseHandling": {dataset: "cases", run: func(t *testing.T, h *hub, f *fixtures) string {
		caseFlow(t, h)
		return "DiscloseHandle"
	}},
	"Mutation.declineCase":                    {exempt: sameTransition},
	"Mutation.returnCase":                     {exempt: sameTransition},
	"Mutation.verifyCase":                     {exempt: sameTransition},
	"Mutation.deferCase":                      {exempt: sameTransition},
	"Mutation.backlogCase":                    {exempt: sameTransition},
	"Mutation.requestCaseDeferral":            {exempt: caseRequest},
	"Mutation.requestCaseBacklog":             {exempt: caseRequest},
	"Mutation.approveCaseRequest":             {exempt: caseRequest},
	"Mutation.rejectCaseRequest":              {exempt: caseRequest},
	"Query.pendingCaseRequests":               {exempt: caseRequest},
	"Mutation.rateCase":                       {exempt: "cases.Service.Rate audits its answer as Transition does (access.AuditReturned); a rating needs a closed case of the citizen"},
	"Subscription.caseUpdated":                {exempt: "each event is a read audited in cases.Service.Watch (see subscription tests)"},
	"Subscription.violationUpdated":           {exempt: "each event is a read audited in violation.Service.Watch (see subscription tests)"},
	"Subscription.parkingAvailabilityChanged": {exempt: "the lot of an update resolves through parking.Service.GetMany, the audited read Query.parkingLot proves"},
	"Query.property": {dataset: "properties", run: read(as("urban-management", "officer"), "DiscloseProperty",
		`query DiscloseProperty($id: ID!) { property(id: $id) { id households } }`, func(f *fixtures) map[string]any { return map[string]any{"id": f.propertyID} })},
	"Query.properties": {dataset: "properties", run: read(as("urban-management", "officer"), "DiscloseProperties",
		`query DiscloseProperties { properties(first: 2) { edges { node { id households } } } }`, nil)},
	"Query.inspectionRound": {dataset: "properties", run: read(as("urban-management", "officer"), "DiscloseRound",
		`query DiscloseRound($r: String!) { inspectionRound(round: $r) { round inspections { id inspectorIds findings } } }`,
		func(f *fixtures) map[string]any { return map[string]any{"r": f.round} })},
	"Query.inspectionRounds": {dataset: "properties", run: read(as("urban-management", "officer"), "DiscloseRounds",
		`query DiscloseRounds { inspectionRounds { round inspections { id inspectorIds findings } } }`, nil)},
	"Query.replayInspectionDraw": {dataset: "properties", run: read(as("urban-management", "officer"), "DiscloseReplay",
		`query DiscloseReplay($r: String!) { replayInspectionDraw(round: $r) { matches round { inspections { id inspectorIds } } } }`,
		func(f *fixtures) map[string]any { return map[string]any{"r": f.round} })},
	"Mutation.drawInspections": {exempt: "only housing, the provider, may draw: its own department's non-personal data " +
		"(an inspection's compound resolves through the audited property read)"},
	"Mutation.recordInspectionResult": {exempt: "as Mutation.drawInspections: housing only"},
	"Mutation.publishInspectionRound": {exempt: "as Mutation.drawInspections: housing only"},
	"Mutation.upsertProperty": {exempt: "only housing, the provider, may write compounds; the management contact it returns " +
		"is personal, but the writer supplied it (nothing is disclosed that the caller did not send or own)"},
	"Query.parkingLot": {dataset: "parking", run: read(as("urban-management", "officer"), "DiscloseLot",
		`query DiscloseLot($id: ID!) { parkingLot(id: $id) { id contact { phone } } }`, func(f *fixtures) map[string]any { return map[string]any{"id": f.lotID} })},
	"Query.parkingLots": {dataset: "parking", run: read(as("urban-management", "officer"), "DiscloseLots",
		`query DiscloseLots { parkingLots(first: 2) { edges { node { id } } } }`, nil)},
	"Query.parkingLotsNear": {dataset: "parking", run: read(as("urban-management", "officer"), "DiscloseNear",
		`query DiscloseNear { parkingLotsNear(lat: 32.49, lng: 119.92, radiusMeters: 5000, first: 3) { lot { id } } }`, nil)},
	"Mutation.upsertParkingLot": {exempt: "a department writes only lots it owns (or the provider, traffic police, any): " +
		"the lot returned is the one the caller filed, not another department's record"},
	"Query.violation": {dataset: "violations", run: read(as("planning", "officer"), "DiscloseViolation",
		`query DiscloseViolation($id: ID!) { violation(id: $id) { id } }`, func(f *fixtures) map[string]any { return map[string]any{"id": f.violationID} })},
	"Query.violations": {dataset: "violations", run: read(as("planning", "officer"), "DiscloseViolations",
		`query DiscloseViolations { violations(first: 2) { edges { node { id } } } }`, nil)},
	"Mutation.reportViolation": {dataset: "violations", run: read(as("urban-management", "officer"), "DiscloseReportViolation",
		`mutation DiscloseReportViolation($in: ViolationInput!) { reportViolation(input: $in) { id party { phone } } }`,
		func(*fixtures) map[string]any { return map[string]any{"in": violationInput("disclose-report")} })},
	"Mutation.upsertViolation": {dataset: "violations", run: read(as("urban-management", "officer"), "DiscloseUpsertViolation",
		`mutation DiscloseUpsertViolation($in: ViolationInput!) { upsertViolation(input: $in) { violation { id party { phone } } } }`,
		func(*fixtures) map[string]any { return map[string]any{"in": violationInput("disclose-upsert")} })},
	"Mutation.transitionViolation": {exempt: "violation.Service.Transition audits its answer (access.AuditReturned), the path Mutation.reportViolation shares"},
	"Mutation.upsertCase": {dataset: "cases", run: read(as("urban-management", "officer"), "DiscloseUpsertCase",
		`mutation DiscloseUpsertCase($in: CaseUpsertInput!) { upsertCase(input: $in) { case { id reporter { phone } } } }`,
		func(*fixtures) map[string]any {
			return map[string]any{"in": map[string]any{"externalId": "disclose-upsert-case", "kind": "EVENT", "minorCode": "0501",
				"source": "HOTLINE_12345", "description": "坡子街店外经营", "lat": 32.49, "lng": 119.92,
				"reporterName": "王五", "reporterPhone": "13900002222"}}
		})},
}

// flowDone marks the hubs caseFlow ran on (the subtests run in sequence).
var flowDone = map[*hub]bool{}

// caseFlow registers, dispatches to water and has water handle a REPORTED
// case, each under its own operation name (once per test).
func caseFlow(t *testing.T, h *hub) {
	t.Helper()
	if flowDone[h] {
		return
	}
	flowDone[h] = true
	um := h.token("urban-management", "officer", "dispatcher")
	r := h.do(um, `{ cases(filter: {status: [REPORTED]}, first: 1) { edges { node { id } } } }`, nil)
	reg := decode[caseConn](t, r.Data["cases"])
	if len(reg.Edges) != 1 {
		t.Fatalf("no REPORTED case in the demo data: %+v", r.Errors)
	}
	id := map[string]any{"id": reg.Edges[0].Node.ID}
	for _, step := range []struct{ tok, q string }{
		{um, `mutation DiscloseRegister($id: ID!) { registerCase(id: $id) { status reporter { phone } } }`},
		{um, `mutation DiscloseDispatch($id: ID!) { dispatchCase(id: $id, dept: "water") { status reporter { phone } } }`},
		{h.token("water", "officer"), `mutation DiscloseHandle($id: ID!) { submitCaseHandling(id: $id, note: "已疏通") { status } }`},
	} {
		if r := h.do(step.tok, step.q, id); len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", step.q, r.Errors)
		}
	}
}

// TestEveryDisclosingPathIsAudited walks the executable schema: every root
// field whose result can reach a type carrying @access (a dataset's
// records) must be in the disclosures registry, and each registered
// operation, run as a principal whose read must be audited, leaves an
// audit record of its dataset. A new root field that can return such data
// fails here until it is registered (and audited) or justified.
func TestEveryDisclosingPathIsAudited(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{}).Schema()
	fields := disclosingRootFields(s)
	var names []string
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := disclosures[name]; !ok {
			t.Errorf("%s can return %v records but has no entry in disclosures: exercise it and audit it, or justify an exemption",
				name, fields[name])
		}
	}
	for name := range disclosures {
		if _, ok := fields[name]; !ok {
			t.Errorf("disclosures names %s, which is not a root field returning audited data: remove it", name)
		}
	}
	if t.Failed() {
		return
	}
	h := newHub(t)
	f := loadFixtures(t, h)
	auditor := h.token("urban-management", "auditor")
	for _, name := range names {
		d := disclosures[name]
		if d.exempt != "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			op := d.run(t, h, f)
			if err := h.app.Audit.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := h.do(auditor, `query($op: String!, $ds: String!) { auditTrail(filter: {operation: $op, dataset: $ds}) {
				records { dataset fieldGroups rowCount } } }`, map[string]any{"op": op, "ds": d.dataset})
			recs := decode[struct {
				Records []struct {
					Dataset     string
					FieldGroups []string
					RowCount    int
				}
			}](t, r.Data["auditTrail"]).Records
			if len(recs) == 0 || recs[0].RowCount < 1 {
				t.Fatalf("%s (operation %s) left no audit record of %s: %+v %+v", name, op, d.dataset, recs, r.Errors)
			}
		})
	}
}

func violationInput(ext string) map[string]any {
	return map[string]any{"kind": "STREET_OCCUPATION", "subtype": "STREET_VENDING", "channel": "PATROL", "externalId": ext,
		"description": "占道经营", "lat": 32.487, "lng": 119.915, "party": map[string]any{"name": "赵六", "phone": "13900003333"}}
}
