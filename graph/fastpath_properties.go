package graph

import (
	"context"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path of a page of compounds with their nested cases and
// violations (a dispatcher's overview; see FastPath). It takes the
// resolvers' calls: the page through the property service, the nested
// pages of every compound in one statement per nested field (each through
// its own service, scope and audit): nested cases read directly with only
// the parts the page writes, nested violations prefetched into the
// request's loaders and read back from them.

var (
	managementFields = fastFields{"__typename": nil, "company": nil, "creditCode": nil, "contactName": nil, "contactPhone": nil}
	violationFields  = fastFields{
		"__typename": nil, "id": nil, "recordNo": nil, "kind": nil, "subtype": nil, "channel": nil, "status": nil,
		"outcome": nil, "description": nil, "address": nil, "areaM2": nil, "demolishedAreaM2": nil, "discoveredAt": nil,
		"noticeIssuedAt": nil, "deadline": nil, "overdue": nil, "resolvedAt": nil, "closedAt": nil, "version": nil,
		"location":     geoPointFields,
		"jurisdiction": jurisdictionFields,
		"ownerDept":    departmentFields,
	}
	propertyFields = fastFields{
		"__typename": nil, "id": nil, "name": nil, "address": nil, "buildYear": nil, "version": nil,
		"location":     geoPointFields,
		"jurisdiction": jurisdictionFields,
		"management":   managementFields,
		"cases":        paged(connectionFields),
		"violations":   paged(connectionOf(violationFields)),
	}
	propertyConnectionFields = connectionOf(propertyFields)
)

// connectionOf returns the fields of a Relay connection of node's type.
func connectionOf(node fastFields) fastFields {
	return fastFields{
		"__typename": nil, "totalCount": nil,
		"edges":    {"__typename": nil, "cursor": nil, "node": node},
		"pageInfo": {"__typename": nil, "hasNextPage": nil, "hasPreviousPage": nil, "startCursor": nil, "endCursor": nil},
	}
}

// pagedMark, as a key of a field's fastFields, lets that field take the
// Relay page arguments (no GraphQL field is named "").
const pagedMark = ""

// paged returns conn marked as a field taking page arguments.
func paged(conn fastFields) fastFields {
	out := make(fastFields, len(conn)+1)
	for k, v := range conn {
		out[k] = v
	}
	out[pagedMark] = nil
	return out
}

// pageArgNames are the arguments a paged field may take.
var pageArgNames = map[string]bool{"first": true, "after": true, "last": true, "before": true}

// nestedConn is one compound's nested page under one field of the query.
type nestedConn struct {
	field *ast.Field
	id    string
}

// fastProperties reads the page of compounds and, for every nested field,
// every compound's nested page; false hands the query to the executor.
func (r *Resolver) fastProperties(ctx context.Context, w *fastWriter, root *ast.Field, vars map[string]any) (fastValue, bool) {
	filter, order, args, ok := fastPropertyArgs(root, vars)
	if !ok {
		return nil, false
	}
	d, err := r.Access.Decide(ctx, property.Dataset)
	if err != nil {
		return nil, false
	}
	p, err := r.PropertyService.ListPage(ctx, filter, order, args)
	if err != nil {
		return nil, false // the executor meets the same error and reports it
	}
	conn := propertyConnection(p, func(ctx context.Context) (int, error) { return r.PropertyService.Count(ctx, filter) })
	node := nodeSelection(ctx, root.SelectionSet)
	// Nested cases are read below with only the parts the page writes.
	r.prefetchProperties(ctx, p.Properties, withoutFields(node, "cases"))
	keys := make([]string, len(p.Properties))
	for i, prop := range p.Properties {
		keys[i] = prop.ID.String()
	}

	var deptCodes, jurCodes []string
	nestedCases := map[nestedConn]*model.CaseConnection{}
	nestedViolations := map[nestedConn]*model.ViolationConnection{}
	for _, s := range node {
		f := s.(*ast.Field)
		if f.Name != "cases" && f.Name != "violations" {
			continue
		}
		args, withCount := pageArgs(ctx, graphql.CollectedField{Field: f, Selections: f.SelectionSet})
		if f.Name == "cases" {
			conns, err := r.nestedCasesWithout(ctx, links.ParentProperty, keys, args, withCount, cases.AllParts&^connectionParts(f.SelectionSet))
			if err != nil {
				return nil, false
			}
			for id, c := range conns {
				nestedCases[nestedConn{f, id}] = c
				for _, e := range c.Edges {
					deptCodes = append(deptCodes, e.Node.OwnerDept, e.Node.HandlingDept)
					jurCodes = append(jurCodes, e.Node.JurisdictionCode)
				}
			}
			continue
		}
		for _, prop := range p.Properties {
			key := nestedConn{f, prop.ID.String()}
			v, err := r.nestedViolationsCounted(ctx, links.ParentProperty, key.id, args, withCount)
			if err != nil {
				return nil, false
			}
			nestedViolations[key] = v
			for _, e := range v.Edges {
				deptCodes = append(deptCodes, e.Node.OwnerDept)
				jurCodes = append(jurCodes, e.Node.JurisdictionCode)
			}
		}
	}
	if len(nestedCases) > 0 {
		if w.d, err = r.Access.Decide(ctx, cases.Dataset); err != nil {
			return nil, false
		}
		w.now, w.className = r.CaseService.Now(), r.CaseService.ClassName
	}
	for _, prop := range p.Properties {
		jurCodes = append(jurCodes, prop.JurisdictionCode)
	}
	if err := r.fastDirectory(ctx, w, deptCodes, jurCodes); err != nil {
		return nil, false
	}
	w.buf.Grow(1024 + len(p.Properties)*2048)
	pw := propertyWriter{fastWriter: w, d: d, cases: nestedCases, violations: nestedViolations, now: r.ViolationService.Now()}
	return func(w *fastWriter, set ast.SelectionSet) bool {
		return writeConnection(w, set, "Property", conn.Count, conn.PageInfo, conn.Edges,
			func(e *model.PropertyEdge) string { return e.Cursor() },
			func(set ast.SelectionSet, e *model.PropertyEdge) bool { return pw.property(set, e.Node) })
	}, true
}

// withoutFields returns set without the fields named names.
func withoutFields(set ast.SelectionSet, names ...string) ast.SelectionSet {
	out := make(ast.SelectionSet, 0, len(set))
	for _, s := range set {
		if f, ok := s.(*ast.Field); ok && slices.Contains(names, f.Name) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// fastPropertyArgs turns the `properties` arguments into the resolver's,
// or reports that they hold something the fast path leaves to the
// executor (renovation and build-year filters need its input coercion).
func fastPropertyArgs(f *ast.Field, vars map[string]any) (property.Filter, property.Order, page.Args, bool) {
	var (
		filter property.Filter
		order  property.Order
		args   page.Args
	)
	for name, v := range f.ArgumentMap(vars) {
		if v == nil {
			continue
		}
		var ok bool
		switch name {
		case "filter":
			var m map[string]any
			if m, ok = v.(map[string]any); ok {
				ok = fastPropertyFilter(m, &filter)
			}
		case "orderBy":
			var s string
			s, ok = v.(string)
			order = property.Order(s)
		case "first", "last":
			var n int
			n, ok = argInt(v)
			if name == "first" {
				args.First = &n
			} else {
				args.Last = &n
			}
		case "after", "before":
			var s string
			s, ok = v.(string)
			if name == "after" {
				args.After = &s
			} else {
				args.Before = &s
			}
		}
		if !ok {
			return property.Filter{}, "", page.Args{}, false
		}
	}
	return filter, order, args, true
}

func fastPropertyFilter(m map[string]any, f *property.Filter) bool {
	for k, v := range m {
		if v == nil {
			continue
		}
		var ok bool
		switch k {
		case "jurisdiction":
			f.Jurisdiction, ok = v.(string)
		case "text":
			f.Text, ok = v.(string)
		case "hasManagement":
			var b bool
			b, ok = v.(bool)
			f.HasManagement = &b
		}
		if !ok {
			return false
		}
	}
	return true
}

// propertyWriter writes compounds: their fields under the properties
// decision, their nested pages as read beforehand.
type propertyWriter struct {
	*fastWriter
	d          *access.Decision
	cases      map[nestedConn]*model.CaseConnection
	violations map[nestedConn]*model.ViolationConnection
	now        time.Time
}

func (w propertyWriter) property(set ast.SelectionSet, p *property.Property) bool {
	return w.object(set, "Property", func(f *ast.Field) bool {
		switch f.Name {
		case "id":
			graphql.MarshalUUID(p.ID).MarshalGQL(w.buf)
		case "name":
			w.str(p.Name)
		case "address":
			w.str(p.Address)
		case "buildYear":
			w.intOrNull(p.BuildYear)
		case "version":
			w.integer(p.Version)
		case "location":
			return w.location(f.SelectionSet, p.Lat, p.Lng)
		case "jurisdiction":
			return w.jurisdiction(f.SelectionSet, p.JurisdictionCode)
		case "management":
			return w.management(f.SelectionSet, p)
		case "cases":
			c, ok := w.cases[nestedConn{f, p.ID.String()}]
			return ok && w.connection(f.SelectionSet, c)
		case "violations":
			c, ok := w.violations[nestedConn{f, p.ID.String()}]
			return ok && writeConnection(w.fastWriter, f.SelectionSet, "Violation", c.Count, c.PageInfo, c.Edges,
				func(e *model.ViolationEdge) string { return e.Cursor() },
				func(set ast.SelectionSet, e *model.ViolationEdge) bool {
					return violationWriter{fastWriter: w.fastWriter, now: w.now}.violation(set, e.Node)
				})
		}
		return true
	})
}

// management writes the management company as @access lets it through: the
// container under "core", the contact masked or shown under "management";
// a denied group goes to the executor, which reports it.
func (w propertyWriter) management(set ast.SelectionSet, p *property.Property) bool {
	if !readable(fieldAccess(w.d, "core", p.JurisdictionCode)) {
		return false
	}
	m := p.Management
	if m == nil {
		w.null()
		return true
	}
	contact := fieldAccess(w.d, "management", p.JurisdictionCode)
	return w.object(set, "PropertyManagement", func(f *ast.Field) bool {
		switch f.Name {
		case "company":
			w.str(m.Company)
		case "creditCode":
			w.str(m.CreditCode)
		case "contactName", "contactPhone":
			if !readable(contact) {
				return false
			}
			if f.Name == "contactName" {
				w.masked(contact, m.ContactName, model.MaskRuleName)
			} else {
				w.masked(contact, m.ContactPhone, model.MaskRulePhone)
			}
		}
		return true
	})
}
