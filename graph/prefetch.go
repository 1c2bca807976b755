package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"
)

// Prefetching: when a resolver has a whole list of parents in hand, it
// loads what the query asks below them for all parents at once (LoadAll),
// so the per-parent field resolvers find their data in the loaders' caches.
// Without it, batching would depend on how gqlgen's goroutines happen to
// be scheduled, and a page of 50 could cost more statements than a page of
// 10. Prefetch errors are ignored: the field resolvers load again and
// report them where they belong.

// fieldsOf collects the fields of a selection set (all fragments applied).
func fieldsOf(ctx context.Context, sel ast.SelectionSet) []graphql.CollectedField {
	if !graphql.HasOperationContext(ctx) || len(sel) == 0 {
		return nil
	}
	return graphql.CollectFields(graphql.GetOperationContext(ctx), sel, nil)
}

// currentSelection is the selection set of the field being resolved.
func currentSelection(ctx context.Context) ast.SelectionSet {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return nil
	}
	return fc.Field.Selections
}

// nodeSelection is the selection below edges.node of a connection field.
func nodeSelection(ctx context.Context, conn ast.SelectionSet) ast.SelectionSet {
	var out ast.SelectionSet
	for _, e := range fieldsOf(ctx, conn) {
		if e.Name != "edges" {
			continue
		}
		for _, n := range fieldsOf(ctx, e.Selections) {
			if n.Name == "node" {
				out = append(out, n.Selections...)
			}
		}
	}
	return out
}

// pageArgs reads a nested connection field's Relay arguments and whether
// it asks for totalCount.
func pageArgs(ctx context.Context, f graphql.CollectedField) (args page.Args, withCount bool) {
	m := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
	size := func(name string) *int {
		if n, ok := argInt(m[name]); ok {
			return &n
		}
		return nil
	}
	cursor := func(name string) *string {
		if s, ok := m[name].(string); ok {
			return &s
		}
		return nil
	}
	args = page.Args{First: size("first"), After: cursor("after"), Last: size("last"), Before: cursor("before")}
	for _, c := range fieldsOf(ctx, f.Selections) {
		if c.Name == "totalCount" {
			withCount = true
		}
	}
	return args, withCount
}

// nestedKeys returns the loader keys of one nested field under each parent,
// the same the field's resolver will load; none when the arguments are
// invalid (the resolver reports that).
func nestedKeys(parent links.Parent, keys []string, args page.Args, order string, kind page.KeyKind, withCount bool) []nestedKey {
	req, err := nestedRequest(args, order, kind)
	if err != nil {
		return nil
	}
	out := make([]nestedKey, len(keys))
	for i, k := range keys {
		out[i] = nestedKey{parent: parent, key: k, req: nestedReqOf(req), withCount: withCount}
	}
	return out
}

func flatten[T any](pages []nestedPage[T]) []T {
	var out []T
	for _, p := range pages {
		out = append(out, p.list...)
	}
	return out
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func (r *Resolver) prefetchCases(ctx context.Context, list []*cases.Case, sel ast.SelectionSet) {
	if len(list) == 0 {
		return
	}
	l := r.loaders(ctx)
	ids := make([]uuid.UUID, len(list))
	var props []uuid.UUID
	for i, c := range list {
		if c == nil {
			continue // a violation's case outside the caller's scope: the loader found nothing
		}
		ids[i] = c.ID
		l.cases.Prime(c.ID, c)
		if c.PropertyID != nil {
			props = append(props, *c.PropertyID)
		}
	}
	for _, f := range fieldsOf(ctx, sel) {
		switch f.Name {
		case "timeline":
			_, _ = l.timelines.LoadAll(ctx, ids)
		case "violations":
			found, _ := l.caseViols.LoadAll(ctx, ids)
			var vs []*violation.Violation
			for _, v := range found {
				vs = append(vs, v...)
			}
			r.prefetchViolations(ctx, vs, f.Selections)
		case "property":
			found, _ := l.properties.LoadAll(ctx, props)
			r.prefetchProperties(ctx, found, f.Selections)
		}
	}
}

func (r *Resolver) prefetchViolations(ctx context.Context, list []*violation.Violation, sel ast.SelectionSet) {
	if len(list) == 0 {
		return
	}
	l := r.loaders(ctx)
	ids := make([]uuid.UUID, len(list))
	var caseIDs, props []uuid.UUID
	for i, v := range list {
		ids[i] = v.ID
		l.violations.Prime(v.ID, v)
		if v.CaseID != nil {
			caseIDs = append(caseIDs, *v.CaseID)
		}
		if v.PropertyID != nil {
			props = append(props, *v.PropertyID)
		}
	}
	for _, f := range fieldsOf(ctx, sel) {
		switch f.Name {
		case "timeline":
			_, _ = l.violTimelines.LoadAll(ctx, ids)
		case "case":
			found, _ := l.cases.LoadAll(ctx, caseIDs)
			r.prefetchCases(ctx, found, f.Selections)
		case "property":
			found, _ := l.properties.LoadAll(ctx, props)
			r.prefetchProperties(ctx, found, f.Selections)
		}
	}
}

func (r *Resolver) prefetchProperties(ctx context.Context, list []*property.Property, sel ast.SelectionSet) {
	if len(list) == 0 {
		return
	}
	l := r.loaders(ctx)
	ids := make([]uuid.UUID, 0, len(list))
	for _, p := range list {
		if p != nil {
			ids = append(ids, p.ID)
			l.properties.Prime(p.ID, p)
		}
	}
	keys := uuidStrings(ids)
	for _, f := range fieldsOf(ctx, sel) {
		switch f.Name {
		case "permits":
			_, _ = l.permits.LoadAll(ctx, ids)
		case "inspections":
			_, _ = l.inspections.LoadAll(ctx, ids)
		case "violations":
			args, withCount := pageArgs(ctx, f)
			pages, _ := l.nested.violations.LoadAll(ctx, nestedKeys(links.ParentProperty, keys, args, string(violation.OrderDiscoveredDesc), page.TimeKey, withCount))
			r.prefetchViolations(ctx, flatten(pages), nodeSelection(ctx, f.Selections))
		case "cases":
			args, withCount := pageArgs(ctx, f)
			pages, _ := l.nested.cases.LoadAll(ctx, nestedKeys(links.ParentProperty, keys, args, string(cases.OrderReportedDesc), page.TimeKey, withCount))
			r.prefetchCases(ctx, flatten(pages), nodeSelection(ctx, f.Selections))
		}
	}
}

func (r *Resolver) prefetchJurisdictions(ctx context.Context, list []*directory.Jurisdiction, sel ast.SelectionSet) {
	if len(list) == 0 {
		return
	}
	l := r.loaders(ctx).nested
	keys := make([]string, len(list))
	for i, j := range list {
		keys[i] = j.Code
	}
	for _, f := range fieldsOf(ctx, sel) {
		args, withCount := pageArgs(ctx, f)
		switch f.Name {
		case "cases":
			pages, _ := l.cases.LoadAll(ctx, nestedKeys(links.ParentJurisdiction, keys, args, string(cases.OrderReportedDesc), page.TimeKey, withCount))
			r.prefetchCases(ctx, flatten(pages), nodeSelection(ctx, f.Selections))
		case "violations":
			pages, _ := l.violations.LoadAll(ctx, nestedKeys(links.ParentJurisdiction, keys, args, string(violation.OrderDiscoveredDesc), page.TimeKey, withCount))
			r.prefetchViolations(ctx, flatten(pages), nodeSelection(ctx, f.Selections))
		case "properties":
			pages, _ := l.properties.LoadAll(ctx, nestedKeys(links.ParentJurisdiction, keys, args, string(property.OrderNameAsc), page.TextKey, withCount))
			r.prefetchProperties(ctx, flatten(pages), nodeSelection(ctx, f.Selections))
		case "parkingLots":
			_, _ = l.lots.LoadAll(ctx, nestedKeys(links.ParentJurisdiction, keys, args, string(parking.OrderName), page.TextKey, withCount))
		}
	}
}
