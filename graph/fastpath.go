package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path answers the hub's busiest operation, a page of cases, without
// the GraphQL executor. The executor spends most of such a request's CPU on
// per-field machinery (a field context, a closure and often a goroutine for
// each of some twenty fields of fifty cases); the page itself needs one
// statement and a loop. The fast path takes the same service call as the
// resolver (access decision, row scope in SQL, validation, audit), then
// writes the JSON the executor would write, with the same marshalers and
// the same masking. It takes only what it fully understands — a query whose
// one root field is `cases`, selecting the plain fields below, without
// fragments, directives or repeated keys — and hands everything else, and
// every error, to the executor before anything is read. A differential test
// holds the two paths to the same bytes over generated queries and
// principals.

// FastPath returns the operation middleware that serves such queries.
func (r *Resolver) FastPath(log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		root, ok := fastCasesRoot(oc)
		if !ok {
			return next(ctx)
		}
		data, ok := r.renderCasesFast(ctx, log, oc, root)
		if !ok {
			return next(ctx)
		}
		r.fastServed.Add(1)
		sent := false
		return func(context.Context) *graphql.Response {
			if sent {
				return nil
			}
			sent = true
			return &graphql.Response{Data: data}
		}
	}
}

// fastCasesRoot returns the `cases` field of an operation the fast path can
// serve.
func fastCasesRoot(oc *graphql.OperationContext) (*ast.Field, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query || len(oc.Operation.Directives) > 0 {
		return nil, false
	}
	var root *ast.Field
	keys := map[string]bool{}
	for _, s := range oc.Operation.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || keys[f.Alias] {
			return nil, false
		}
		keys[f.Alias] = true
		switch f.Name {
		case "__typename":
		case "cases":
			if root != nil {
				return nil, false
			}
			root = f
		default:
			return nil, false
		}
	}
	if root == nil || !plainSelection(root.SelectionSet, connectionFields) {
		return nil, false
	}
	return root, true
}

// fastField says which fields of a type the fast path writes: nil for a
// leaf, else the fields of the object it holds.
type fastFields map[string]fastFields

var (
	departmentFields   = fastFields{"__typename": nil, "id": nil, "code": nil, "name": nil, "nameEn": nil, "kind": nil}
	jurisdictionFields = fastFields{"__typename": nil, "id": nil, "code": nil, "level": nil, "name": nil, "nameEn": nil, "adminCode": nil}
	caseFields         = fastFields{
		"__typename": nil, "id": nil, "caseNo": nil, "kind": nil, "majorCode": nil, "minorCode": nil, "className": nil,
		"source": nil, "status": nil, "description": nil, "address": nil, "photoUrls": nil,
		"reportedAt": nil, "registeredAt": nil, "dispatchedAt": nil, "deadline": nil, "handledAt": nil, "closedAt": nil,
		"overdue": nil, "reworkCount": nil, "createdAt": nil, "updatedAt": nil, "version": nil,
		"location":     {"__typename": nil, "lat": nil, "lng": nil},
		"rating":       {"__typename": nil, "stars": nil, "comment": nil, "at": nil},
		"reporter":     {"__typename": nil, "name": nil, "phone": nil},
		"ownerDept":    departmentFields,
		"handlingDept": departmentFields,
		"jurisdiction": jurisdictionFields,
	}
	connectionFields = fastFields{
		"__typename": nil, "totalCount": nil,
		"edges":    {"__typename": nil, "cursor": nil, "node": caseFields},
		"pageInfo": {"__typename": nil, "hasNextPage": nil, "hasPreviousPage": nil, "startCursor": nil, "endCursor": nil},
	}
)

// plainSelection reports whether set selects only known fields, without
// arguments, directives, fragments or a response key twice.
func plainSelection(set ast.SelectionSet, known fastFields) bool {
	keys := make(map[string]bool, len(set))
	for _, s := range set {
		f, ok := s.(*ast.Field)
		if !ok || len(f.Directives) > 0 || keys[f.Alias] {
			return false
		}
		keys[f.Alias] = true
		sub, ok := known[f.Name]
		if !ok || (len(f.Arguments) > 0 && f.Name != "cases") {
			return false
		}
		if sub == nil {
			if len(f.SelectionSet) > 0 {
				return false
			}
			continue
		}
		if !plainSelection(f.SelectionSet, sub) {
			return false
		}
	}
	return true
}

// fastArgs turns the `cases` arguments into the resolver's, or reports
// that they hold something the fast path leaves to the executor.
func fastArgs(f *ast.Field, vars map[string]any) (cases.Filter, cases.Order, *int, *string, bool) {
	var (
		filter model.CaseFilter
		order  cases.Order
		first  *int
		after  *string
	)
	for name, v := range f.ArgumentMap(vars) {
		if v == nil {
			continue
		}
		switch name {
		case "filter":
			m, ok := v.(map[string]any)
			if !ok || !fastFilter(m, &filter) {
				return cases.Filter{}, "", nil, nil, false
			}
		case "orderBy":
			s, ok := v.(string)
			if !ok {
				return cases.Filter{}, "", nil, nil, false
			}
			order = cases.Order(s)
		case "first":
			n, ok := fastInt(v)
			if !ok {
				return cases.Filter{}, "", nil, nil, false
			}
			first = &n
		case "after":
			s, ok := v.(string)
			if !ok {
				return cases.Filter{}, "", nil, nil, false
			}
			after = &s
		default: // last and before (backward pages) too: the executor serves them

			return cases.Filter{}, "", nil, nil, false
		}
	}
	return caseFilter(&filter), order, first, after, true
}

// fastFilter reads the filter's plain members; dates and anything else go
// to the executor, whose input coercion they need.
func fastFilter(m map[string]any, f *model.CaseFilter) bool {
	str := func(v any) (*string, bool) { s, ok := v.(string); return &s, ok }
	for k, v := range m {
		if v == nil {
			continue
		}
		var ok bool
		switch k {
		case "open":
			var b bool
			b, ok = v.(bool)
			f.Open = &b
		case "overdue":
			var b bool
			b, ok = v.(bool)
			f.Overdue = &b
		case "jurisdiction":
			f.Jurisdiction, ok = str(v)
		case "handlingDept":
			f.HandlingDept, ok = str(v)
		case "majorCode":
			f.MajorCode, ok = str(v)
		case "minorCode":
			f.MinorCode, ok = str(v)
		case "text":
			f.Text, ok = str(v)
		case "kind":
			var s *string
			s, ok = str(v)
			k := cases.Kind(*s)
			f.Kind = &k
		case "status":
			f.Status, ok = fastEnums[cases.Status](v)
		case "source":
			f.Source, ok = fastEnums[cases.Source](v)
		}
		if !ok {
			return false
		}
	}
	return true
}

func fastEnums[E ~string](v any) ([]E, bool) {
	list, ok := v.([]any)
	if !ok {
		if s, ok := v.(string); ok { // a single value for a list argument
			return []E{E(s)}, true
		}
		return nil, false
	}
	out := make([]E, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out[i] = E(s)
	}
	return out, true
}

func fastInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), int64(int(n)) == n
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && int64(int(i)) == i
	case float64:
		return int(n), float64(int(n)) == n
	}
	return 0, false
}

// renderCasesFast runs the query and writes its data member; false hands it
// to the executor. Once the list is read (and audited) it never hands over
// except on a failure the executor would also meet.
func (r *Resolver) renderCasesFast(ctx context.Context, log *slog.Logger, oc *graphql.OperationContext, root *ast.Field) (data json.RawMessage, ok bool) {
	filter, order, first, after, ok := fastArgs(root, oc.Variables)
	if !ok {
		return nil, false
	}
	d, err := r.Access.Decide(ctx, cases.Dataset)
	if err != nil || d.Field("reporter") == access.FieldDenied && selects(root.SelectionSet, "reporter") {
		return nil, false
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("fast path panicked; the executor answers", "panic", fmt.Sprint(p))
			data, ok = nil, false
		}
	}()
	page, err := r.CaseService.List(ctx, filter, order, first, after)
	if err != nil {
		return nil, false // the executor meets the same error and reports it
	}
	conn := caseConnection(page, func(ctx context.Context) (int, error) { return r.CaseService.Count(ctx, filter) })
	w := fastWriter{ctx: ctx, buf: bytes.NewBuffer(make([]byte, 0, 1024+len(page.Cases)*1024)), d: d, now: r.CaseService.Now(),
		className: r.CaseService.ClassName}
	if w.depts, w.jurs, err = r.directoryFor(ctx, page.Cases); err != nil {
		return nil, false
	}
	w.buf.WriteByte('{')
	for i, s := range oc.Operation.SelectionSet {
		f := s.(*ast.Field)
		w.key(i, f.Alias)
		if f.Name == "__typename" {
			w.str("Query")
			continue
		}
		if !w.connection(f.SelectionSet, conn) {
			return nil, false
		}
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), true
}

// selects reports whether a field named name appears anywhere in set.
func selects(set ast.SelectionSet, name string) bool {
	for _, s := range set {
		if f, ok := s.(*ast.Field); ok && (f.Name == name || selects(f.SelectionSet, name)) {
			return true
		}
	}
	return false
}

// directoryFor looks up the departments and jurisdictions of a page.
func (r *Resolver) directoryFor(ctx context.Context, list []*cases.Case) (map[string]*directory.Department, map[string]*directory.Jurisdiction, error) {
	var deptCodes, jurCodes []string
	for _, c := range list {
		deptCodes = append(deptCodes, c.OwnerDept)
		if c.HandlingDept != "" {
			deptCodes = append(deptCodes, c.HandlingDept)
		}
		jurCodes = append(jurCodes, c.JurisdictionCode)
	}
	ds, err := r.DirectoryService.Departments(ctx, deptCodes)
	if err != nil {
		return nil, nil, err
	}
	js, err := r.DirectoryService.Jurisdictions(ctx, jurCodes)
	if err != nil {
		return nil, nil, err
	}
	depts := make(map[string]*directory.Department, len(ds))
	for _, d := range ds {
		depts[d.Code] = d
	}
	jurs := make(map[string]*directory.Jurisdiction, len(js))
	for _, j := range js {
		jurs[j.Code] = j
	}
	return depts, jurs, nil
}

// fastWriter writes JSON as gqlgen does: compact, keys in selection order,
// values through gqlgen's own marshalers. A method returning false met
// something the executor must answer (it reports an error there).
type fastWriter struct {
	ctx context.Context
	buf *bytes.Buffer
	d   *access.Decision
	now time.Time
	// className names a case's class as the resolver does.
	className func(*cases.Case) string
	depts     map[string]*directory.Department
	jurs      map[string]*directory.Jurisdiction
}

func (w *fastWriter) key(i int, k string) {
	if i > 0 {
		w.buf.WriteByte(',')
	}
	w.buf.WriteByte('"')
	w.buf.WriteString(k) // a GraphQL name: nothing to escape
	w.buf.WriteString(`":`)
}

func (w *fastWriter) str(s string)         { graphql.MarshalString(s).MarshalGQL(w.buf) }
func (w *fastWriter) integer(n int)        { graphql.MarshalInt(n).MarshalGQL(w.buf) }
func (w *fastWriter) boolean(b bool)       { graphql.MarshalBoolean(b).MarshalGQL(w.buf) }
func (w *fastWriter) null()                { w.buf.WriteString("null") }
func (w *fastWriter) datetime(t time.Time) { model.MarshalDateTime(t).MarshalGQL(w.buf) }
func (w *fastWriter) float(f float64) bool {
	return graphql.MarshalFloatContext(f).MarshalGQLContext(w.ctx, w.buf) == nil
}

func (w *fastWriter) optStr(s *string) {
	if s == nil {
		w.null()
		return
	}
	w.str(*s)
}

func (w *fastWriter) optTime(t *time.Time) {
	if t == nil {
		w.null()
		return
	}
	w.datetime(*t)
}

// object writes one object: a member per selected field, __typename as
// typename, every other field by field (false: hand the query over).
func (w *fastWriter) object(set ast.SelectionSet, typename string, field func(f *ast.Field) bool) bool {
	w.buf.WriteByte('{')
	for i, s := range set {
		f := s.(*ast.Field)
		w.key(i, f.Alias)
		if f.Name == "__typename" {
			w.str(typename)
			continue
		}
		if !field(f) {
			return false
		}
	}
	w.buf.WriteByte('}')
	return true
}

func (w *fastWriter) connection(set ast.SelectionSet, conn *model.CaseConnection) bool {
	return w.object(set, "CaseConnection", func(f *ast.Field) bool {
		switch f.Name {
		case "totalCount":
			n, err := conn.Count(w.ctx)
			if err != nil {
				return false
			}
			w.integer(n)
		case "pageInfo":
			return w.pageInfo(f.SelectionSet, conn.PageInfo)
		case "edges":
			w.buf.WriteByte('[')
			for j, e := range conn.Edges {
				if j > 0 {
					w.buf.WriteByte(',')
				}
				if !w.edge(f.SelectionSet, e) {
					return false
				}
			}
			w.buf.WriteByte(']')
		}
		return true
	})
}

func (w *fastWriter) pageInfo(set ast.SelectionSet, p *model.PageInfo) bool {
	return w.object(set, "PageInfo", func(f *ast.Field) bool {
		switch f.Name {
		case "hasNextPage":
			w.boolean(p.HasNextPage)
		case "hasPreviousPage":
			w.boolean(p.HasPreviousPage)
		case "startCursor":
			w.optStr(p.StartCursor)
		case "endCursor":
			w.optStr(p.EndCursor)
		}
		return true
	})
}

func (w *fastWriter) edge(set ast.SelectionSet, e *model.CaseEdge) bool {
	return w.object(set, "CaseEdge", func(f *ast.Field) bool {
		switch f.Name {
		case "cursor":
			w.str(e.Cursor)
		case "node":
			return w.node(f.SelectionSet, e.Node)
		}
		return true
	})
}

func (w *fastWriter) node(set ast.SelectionSet, c *cases.Case) bool {
	return w.object(set, "Case", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalUUID(c.ID).MarshalGQL(w.buf)
		case "caseNo":
			w.str(c.CaseNo)
		case "kind":
			w.str(string(c.Kind))
		case "majorCode":
			w.str(c.MajorCode)
		case "minorCode":
			w.str(c.MinorCode)
		case "className":
			w.str(w.className(c))
		case "source":
			w.str(string(c.Source))
		case "status":
			w.str(string(c.Status))
		case "description":
			w.str(c.Description)
		case "address":
			w.str(c.Address)
		case "photoUrls":
			w.buf.WriteByte('[')
			for j, u := range c.PhotoURLs {
				if j > 0 {
					w.buf.WriteByte(',')
				}
				w.str(u)
			}
			w.buf.WriteByte(']')
		case "reportedAt":
			w.datetime(c.ReportedAt)
		case "registeredAt":
			w.optTime(c.RegisteredAt)
		case "dispatchedAt":
			w.optTime(c.DispatchedAt)
		case "deadline":
			w.optTime(c.Deadline)
		case "handledAt":
			w.optTime(c.HandledAt)
		case "closedAt":
			w.optTime(c.ClosedAt)
		case "createdAt":
			w.datetime(c.CreatedAt)
		case "updatedAt":
			w.datetime(c.UpdatedAt)
		case "overdue":
			w.boolean(c.Overdue(w.now))
		case "reworkCount":
			w.integer(c.ReworkCount)
		case "version":
			w.integer(c.Version)
		case "location":
			return w.location(f.SelectionSet, c.Lat, c.Lng)
		case "rating":
			return w.rating(f.SelectionSet, c.Rating)
		case "ownerDept":
			return w.department(f.SelectionSet, c.OwnerDept)
		case "handlingDept":
			if c.HandlingDept == "" {
				w.null()
				return true
			}
			return w.department(f.SelectionSet, c.HandlingDept)
		case "jurisdiction":
			return w.jurisdiction(f.SelectionSet, c.JurisdictionCode)
		case "reporter":
			return w.reporter(f.SelectionSet, c)
		}
		return true
	})
}

func (w *fastWriter) location(set ast.SelectionSet, lat, lng float64) bool {
	return w.object(set, "GeoPoint", func(f *ast.Field) bool {
		if f.Name == "lat" {
			return w.float(lat)
		}
		return w.float(lng)
	})
}

func (w *fastWriter) rating(set ast.SelectionSet, r *cases.Rating) bool {
	if r == nil {
		w.null()
		return true
	}
	return w.object(set, "CaseRating", func(f *ast.Field) bool {
		switch f.Name {
		case "stars":
			w.integer(r.Stars)
		case "comment":
			w.str(r.Comment)
		case "at":
			w.datetime(r.At)
		}
		return true
	})
}

func (w *fastWriter) department(set ast.SelectionSet, code string) bool {
	d, ok := w.depts[code]
	if !ok {
		return false // the executor reports the missing department
	}
	return w.object(set, "Department", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalID(d.Code).MarshalGQL(w.buf)
		case "code":
			w.str(d.Code)
		case "name":
			w.str(d.NameZh)
		case "nameEn":
			w.str(d.NameEn)
		case "kind":
			w.str(d.Kind)
		}
		return true
	})
}

func (w *fastWriter) jurisdiction(set ast.SelectionSet, code string) bool {
	j, ok := w.jurs[code]
	if !ok {
		return false
	}
	return w.object(set, "Jurisdiction", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalID(j.Code).MarshalGQL(w.buf)
		case "code":
			w.str(j.Code)
		case "level":
			w.str(string(j.Level))
		case "name":
			w.str(j.NameZh)
		case "nameEn":
			w.str(j.NameEn)
		case "adminCode":
			w.str(j.AdminCode)
		}
		return true
	})
}

// reporter writes the reporter as the @access directive would let it
// through: visible, masked by its fields' rules, or (denied) not at all.
func (w *fastWriter) reporter(set ast.SelectionSet, c *cases.Case) bool {
	if c.ReporterName == "" && c.ReporterPhone == "" {
		w.null()
		return true
	}
	acc := w.d.Field("reporter")
	if _, partial := w.d.Partial["reporter"]; partial {
		acc = w.d.FieldAt("reporter", c.JurisdictionCode)
	}
	if acc != access.FieldVisible && acc != access.FieldMasked {
		return false
	}
	value := func(s string, rule access.MaskRule) {
		if s == "" {
			w.null()
			return
		}
		if acc == access.FieldMasked {
			s = access.Mask(rule, s)
		}
		w.str(s)
	}
	return w.object(set, "Reporter", func(f *ast.Field) bool {
		switch f.Name {
		case "name":
			value(c.ReporterName, access.MaskRule(model.MaskRuleName))
		case "phone":
			value(c.ReporterPhone, access.MaskRule(model.MaskRulePhone))
		}
		return true
	})
}
