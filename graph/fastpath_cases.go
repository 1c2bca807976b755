package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path of a page of cases (see FastPath).

var (
	caseFields = fastFields{
		"__typename": nil, "id": nil, "caseNo": nil, "kind": nil, "majorCode": nil, "minorCode": nil, "className": nil,
		"source": nil, "status": nil, "description": nil, "address": nil, "photoUrls": nil,
		"reportedAt": nil, "registeredAt": nil, "dispatchedAt": nil, "deadline": nil, "handledAt": nil, "closedAt": nil,
		"overdue": nil, "reworkCount": nil, "createdAt": nil, "updatedAt": nil, "version": nil,
		"location":     geoPointFields,
		"rating":       {"__typename": nil, "stars": nil, "comment": nil, "at": nil},
		"reporter":     {"__typename": nil, "name": nil, "phone": nil},
		"ownerDept":    departmentFields,
		"handlingDept": departmentFields,
		"jurisdiction": jurisdictionFields,
	}
	// caseFieldParts names, for every field caseFields lets through, the
	// part of a case it writes (0: the core every case carries).
	caseFieldParts = map[string]cases.Parts{
		"__typename": 0, "id": 0, "caseNo": 0, "kind": 0, "majorCode": 0, "minorCode": 0, "className": 0,
		"source": 0, "status": 0, "address": 0, "deadline": 0, "handledAt": 0, "reportedAt": 0, "overdue": 0,
		"version": 0, "ownerDept": 0, "handlingDept": 0, "jurisdiction": 0,
		"reporter":    cases.PartReporter,
		"description": cases.PartText, "photoUrls": cases.PartText,
		"location":     cases.PartLocation,
		"registeredAt": cases.PartTimeline, "dispatchedAt": cases.PartTimeline, "closedAt": cases.PartTimeline,
		"reworkCount": cases.PartTimeline,
		"rating":      cases.PartRating,
		"createdAt":   cases.PartRecord, "updatedAt": cases.PartRecord,
	}
	connectionFields = fastFields{
		"__typename": nil, "totalCount": nil,
		"edges":    {"__typename": nil, "cursor": nil, "node": caseFields},
		"pageInfo": {"__typename": nil, "hasNextPage": nil, "hasPreviousPage": nil, "startCursor": nil, "endCursor": nil},
	}
)

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
			n, ok := argInt(v)
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
	str := fastString
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

// fastString reads a String or enum value (not null).
func fastString(v any) (*string, bool) { s, ok := v.(string); return &s, ok }

// fastEnums reads a list of enum values; a single value is a list of one.
// A variable holds []any as sent, or []string once gqlparser has coerced a
// single value into a list.
func fastEnums[E ~string](v any) ([]E, bool) {
	if ss, ok := v.([]string); ok {
		out := make([]E, len(ss))
		for i, s := range ss {
			out[i] = E(s)
		}
		return out, true
	}
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

// fastCases reads the page of cases; false hands the query to the
// executor.
func (r *Resolver) fastCases(ctx context.Context, w *fastWriter, root *ast.Field, vars map[string]any) (fastValue, bool) {
	filter, order, first, after, ok := fastArgs(root, vars)
	if !ok {
		return nil, false
	}
	d, err := r.Access.Decide(ctx, cases.Dataset)
	if err != nil || d.Field("reporter") == access.FieldDenied && selects(root.SelectionSet, "reporter") {
		return nil, false
	}
	list, err := r.CaseService.ListPageWithout(ctx, filter, order, page.Args{First: first, After: after},
		cases.AllParts&^connectionParts(root.SelectionSet))
	if err != nil {
		return nil, false // the executor meets the same error and reports it
	}
	conn := caseConnection(list, func(ctx context.Context) (int, error) { return r.CaseService.Count(ctx, filter) })
	w.buf.Grow(1024 + len(list.Cases)*1024)
	w.d, w.now, w.className = d, r.CaseService.Now(), r.CaseService.ClassName
	var deptCodes, jurCodes []string
	for _, c := range list.Cases {
		deptCodes = append(deptCodes, c.OwnerDept)
		if c.HandlingDept != "" {
			deptCodes = append(deptCodes, c.HandlingDept)
		}
		jurCodes = append(jurCodes, c.JurisdictionCode)
	}
	if err := r.fastDirectory(ctx, w, deptCodes, jurCodes); err != nil {
		return nil, false
	}
	return func(w *fastWriter, set ast.SelectionSet) bool { return w.connection(set, conn) }, true
}

// connectionParts returns the parts of a case that a connection's
// selection writes.
func connectionParts(set ast.SelectionSet) cases.Parts {
	var parts cases.Parts
	for _, s := range set {
		if edges, ok := s.(*ast.Field); ok && edges.Name == "edges" {
			for _, s := range edges.SelectionSet {
				if node, ok := s.(*ast.Field); ok && node.Name == "node" {
					for _, s := range node.SelectionSet {
						if f, ok := s.(*ast.Field); ok {
							parts |= caseFieldParts[f.Name]
						}
					}
				}
			}
		}
	}
	return parts
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

func (w *fastWriter) connection(set ast.SelectionSet, conn *model.CaseConnection) bool {
	return writeConnection(w, set, "Case", conn.Count, conn.PageInfo, conn.Edges,
		func(e *model.CaseEdge) string { return e.Cursor() },
		func(set ast.SelectionSet, e *model.CaseEdge) bool { return w.node(set, e.Node) })
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

// reporter writes the reporter as the @access directive would let it
// through: visible, masked by its fields' rules, or (denied) not at all.
func (w *fastWriter) reporter(set ast.SelectionSet, c *cases.Case) bool {
	if c.ReporterName == "" && c.ReporterPhone == "" {
		w.null()
		return true
	}
	acc := fieldAccess(w.d, "reporter", c.JurisdictionCode)
	if !readable(acc) {
		return false
	}
	return w.object(set, "Reporter", func(f *ast.Field) bool {
		switch f.Name {
		case "name":
			w.masked(acc, c.ReporterName, model.MaskRuleName)
		case "phone":
			w.masked(acc, c.ReporterPhone, model.MaskRulePhone)
		}
		return true
	})
}
