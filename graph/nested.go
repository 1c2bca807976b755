package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/vikstrous/dataloadgen"
)

// nestedKey names one parent's nested list: all parents of one level of a
// query are loaded by a single statement per (relation, page request).
type nestedKey struct {
	parent    links.Parent
	key       string
	req       nestedReq
	withCount bool
}

// nestedReq is a nested page request in comparable form (a loader key):
// size rows, backward or not, from the cursor when hasCursor.
type nestedReq struct {
	size      int
	backward  bool
	hasCursor bool
	cursor    page.Cursor
}

func nestedReqOf(r page.Request) nestedReq {
	out := nestedReq{size: r.Size(), backward: r.Backward}
	cur := r.After
	if r.Backward {
		cur = r.Before
	}
	if cur != nil {
		out.hasCursor, out.cursor = true, *cur
	}
	return out
}

// request returns q as the store's page request, one row larger than the
// page so the loader knows whether more lie beyond it.
func (q nestedReq) request() page.Request {
	var cur *page.Cursor
	if q.hasCursor {
		c := q.cursor
		cur = &c
	}
	if q.backward {
		return page.Request{Backward: true, Last: q.size + 1, Before: cur}
	}
	return page.Request{First: q.size + 1, After: cur}
}

// countKey names one parent's nested totalCount.
type countKey struct {
	parent links.Parent
	key    string
}

// nestedPage is one parent's loaded list, with its total when counted.
type nestedPage[T any] struct {
	list    []T
	total   int
	counted bool
}

// nestedLoader batches ByParent calls; it asks for one row more than the
// page so hasNextPage (hasPreviousPage going backward) is exact.
func nestedLoader[T any](fetch func(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]T, map[string]int, error)) *dataloadgen.Loader[nestedKey, nestedPage[T]] {
	return dataloadgen.NewMappedLoader(func(ctx context.Context, keys []nestedKey) (map[nestedKey]nestedPage[T], error) {
		type group struct {
			parent    links.Parent
			req       nestedReq
			withCount bool
		}
		groups := map[group][]string{}
		for _, k := range keys {
			g := group{k.parent, k.req, k.withCount}
			groups[g] = append(groups[g], k.key)
		}
		out := make(map[nestedKey]nestedPage[T], len(keys))
		for g, ks := range groups {
			m, counts, err := fetch(ctx, g.parent, ks, g.req.request(), g.withCount)
			if err != nil {
				return nil, err
			}
			for _, k := range ks {
				out[nestedKey{g.parent, k, g.req, g.withCount}] = nestedPage[T]{list: m[k], total: counts[k], counted: g.withCount}
			}
		}
		return out, nil
	}, dataloadgen.WithWait(loaderWait))
}

// countLoader batches CountByParent calls (totalCount of a nested list
// whose page was loaded without its count).
func countLoader(fetch func(ctx context.Context, parent links.Parent, keys []string) (map[string]int, error)) *dataloadgen.Loader[countKey, int] {
	return dataloadgen.NewMappedLoader(func(ctx context.Context, keys []countKey) (map[countKey]int, error) {
		groups := map[links.Parent][]string{}
		for _, k := range keys {
			groups[k.parent] = append(groups[k.parent], k.key)
		}
		out := make(map[countKey]int, len(keys))
		for parent, ks := range groups {
			m, err := fetch(ctx, parent, ks)
			if err != nil {
				return nil, err
			}
			for _, k := range ks {
				out[countKey{parent, k}] = m[k]
			}
		}
		return out, nil
	}, dataloadgen.WithWait(loaderWait))
}

// nestedLoaders are the per-request loaders of nested connections.
type nestedLoaders struct {
	cases           *dataloadgen.Loader[nestedKey, nestedPage[*cases.Case]]
	caseCounts      *dataloadgen.Loader[countKey, int]
	violations      *dataloadgen.Loader[nestedKey, nestedPage[*violation.Violation]]
	violationCounts *dataloadgen.Loader[countKey, int]
	properties      *dataloadgen.Loader[nestedKey, nestedPage[*property.Property]]
	propertyCounts  *dataloadgen.Loader[countKey, int]
	lots            *dataloadgen.Loader[nestedKey, nestedPage[*parking.Lot]]
	lotCounts       *dataloadgen.Loader[countKey, int]
}

func (r *Resolver) newNestedLoaders() nestedLoaders {
	return nestedLoaders{
		cases:           nestedLoader(r.CaseService.ByParent),
		caseCounts:      countLoader(r.CaseService.CountByParent),
		violations:      nestedLoader(r.ViolationService.ByParent),
		violationCounts: countLoader(r.ViolationService.CountByParent),
		properties:      nestedLoader(r.PropertyService.ByParent),
		propertyCounts:  countLoader(r.PropertyService.CountByParent),
		lots:            nestedLoader(r.ParkingService.ByParent),
		lotCounts:       countLoader(r.ParkingService.CountByParent),
	}
}

// trim cuts a nested list loaded with one row more than size down to the
// page, and reports whether the extra row was there. A backward list is in
// list order, so its extra row is the first.
func trim[T any](list []T, size int, backward bool) ([]T, bool) {
	if len(list) <= size {
		return list, false
	}
	if backward {
		return list[len(list)-size:], true
	}
	return list[:size], true
}

// pageInfo is the page info of a page of n edges whose cursors cursor
// gives.
func pageInfo(n int, cursor func(int) string, hasNext, hasPrev bool) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: hasPrev}
	if n > 0 {
		start, end := cursor(0), cursor(n-1)
		pi.StartCursor, pi.EndCursor = &start, &end
	}
	return pi
}

// nestedRequest validates a nested list's Relay arguments for a list in
// order whose sort key is of kind: sizes 0 to links.FirstMax (5 by
// default, links.FirstDefault), a cursor of that list's order.
func nestedRequest(a page.Args, order string, kind page.KeyKind) (page.Request, error) {
	for _, s := range []struct {
		field string
		n     *int
	}{{"first", a.First}, {"last", a.Last}} {
		if s.n != nil && (*s.n < 0 || *s.n > links.FirstMax) {
			return page.Request{}, apperr.Invalid(s.field, "nested lists show 0 to %d records; page on through the root list", links.FirstMax)
		}
	}
	backward, err := a.Direction()
	if err != nil {
		return page.Request{}, err
	}
	n := links.FirstDefault
	if backward && a.Last == nil {
		a.Last = &n
	} else if !backward && a.First == nil {
		a.First = &n
	}
	return page.ParseArgs(a, order, kind)
}

// loadNested loads one parent's nested page through l, counting it in the
// same statement when the client asked for totalCount (withCount), and
// returns the page, where it sits, and its counter.
func loadNested[T any](ctx context.Context, l *dataloadgen.Loader[nestedKey, nestedPage[T]], counts *dataloadgen.Loader[countKey, int],
	parent links.Parent, key string, req page.Request, withCount bool) ([]T, page.Info, model.Counter, error) {
	k := nestedKey{parent: parent, key: key, req: nestedReqOf(req), withCount: withCount}
	p, err := l.Load(ctx, k)
	if err != nil {
		return nil, page.Info{}, nil, err
	}
	list, info, count := p.page(req, counts, countKey{parent, key})
	return list, info, count, nil
}

// page cuts p, loaded for req with one row more, down to the page and
// returns where it sits and its counter: p's total when it was counted,
// else a batched count of key.
func (p nestedPage[T]) page(req page.Request, counts *dataloadgen.Loader[countKey, int], key countKey) ([]T, page.Info, model.Counter) {
	list, more := trim(p.list, req.Size(), req.Backward)
	count := func(ctx context.Context) (int, error) {
		if p.counted {
			return p.total, nil
		}
		return counts.Load(ctx, key)
	}
	return list, req.InfoOf(more), count
}

// wantsTotal reports whether the connection being resolved selects
// totalCount.
func wantsTotal(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) || graphql.GetFieldContext(ctx) == nil {
		return false
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "totalCount" {
			return true
		}
	}
	return false
}

func (r *Resolver) nestedCases(ctx context.Context, parent links.Parent, key string, args page.Args) (*model.CaseConnection, error) {
	return r.nestedCasesCounted(ctx, parent, key, args, wantsTotal(ctx))
}

// nestedCasesCounted is nestedCases for a caller that knows whether
// totalCount is selected (the fast path has no field context to ask).
func (r *Resolver) nestedCasesCounted(ctx context.Context, parent links.Parent, key string, args page.Args, withCount bool) (*model.CaseConnection, error) {
	req, err := nestedRequest(args, string(cases.OrderReportedDesc), page.TimeKey)
	if err != nil {
		return nil, err
	}
	l := r.loaders(ctx).nested
	list, info, count, err := loadNested(ctx, l.cases, l.caseCounts, parent, key, req, withCount)
	if err != nil {
		return nil, err
	}
	return caseConnection(&cases.Page{Cases: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: cases.OrderReportedDesc}, count), nil
}

// nestedCasesWithout is nestedCasesCounted for every parent in keys at
// once, reading only the parts of a case outside skip. It bypasses the
// request's loaders: their pages must stay whole for the executor.
func (r *Resolver) nestedCasesWithout(ctx context.Context, parent links.Parent, keys []string, args page.Args, withCount bool, skip cases.Parts) (map[string]*model.CaseConnection, error) {
	req, err := nestedRequest(args, string(cases.OrderReportedDesc), page.TimeKey)
	if err != nil {
		return nil, err
	}
	lists, totals, err := r.CaseService.ByParentWithout(ctx, parent, keys, nestedReqOf(req).request(), withCount, skip)
	if err != nil {
		return nil, err
	}
	counts := r.loaders(ctx).nested.caseCounts
	out := make(map[string]*model.CaseConnection, len(keys))
	for _, key := range keys {
		p := nestedPage[*cases.Case]{list: lists[key], total: totals[key], counted: withCount}
		list, info, count := p.page(req, counts, countKey{parent, key})
		out[key] = caseConnection(&cases.Page{Cases: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: cases.OrderReportedDesc}, count)
	}
	return out, nil
}

func (r *Resolver) nestedViolations(ctx context.Context, parent links.Parent, key string, args page.Args) (*model.ViolationConnection, error) {
	return r.nestedViolationsCounted(ctx, parent, key, args, wantsTotal(ctx))
}

// nestedViolationsCounted is nestedViolations with withCount given (see
// nestedCasesCounted).
func (r *Resolver) nestedViolationsCounted(ctx context.Context, parent links.Parent, key string, args page.Args, withCount bool) (*model.ViolationConnection, error) {
	req, err := nestedRequest(args, string(violation.OrderDiscoveredDesc), page.TimeKey)
	if err != nil {
		return nil, err
	}
	l := r.loaders(ctx).nested
	list, info, count, err := loadNested(ctx, l.violations, l.violationCounts, parent, key, req, withCount)
	if err != nil {
		return nil, err
	}
	return violationConnection(&violation.Page{Violations: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: violation.OrderDiscoveredDesc}, count), nil
}

func (r *Resolver) nestedProperties(ctx context.Context, parent links.Parent, key string, args page.Args) (*model.PropertyConnection, error) {
	req, err := nestedRequest(args, string(property.OrderNameAsc), page.TextKey)
	if err != nil {
		return nil, err
	}
	l := r.loaders(ctx).nested
	list, info, count, err := loadNested(ctx, l.properties, l.propertyCounts, parent, key, req, wantsTotal(ctx))
	if err != nil {
		return nil, err
	}
	return propertyConnection(&property.Page{Properties: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: property.OrderNameAsc}, count), nil
}

func (r *Resolver) nestedLots(ctx context.Context, parent links.Parent, key string, args page.Args) (*model.ParkingLotConnection, error) {
	req, err := nestedRequest(args, string(parking.OrderName), page.TextKey)
	if err != nil {
		return nil, err
	}
	l := r.loaders(ctx).nested
	list, info, count, err := loadNested(ctx, l.lots, l.lotCounts, parent, key, req, wantsTotal(ctx))
	if err != nil {
		return nil, err
	}
	return lotConnection(&parking.Page{Lots: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: parking.OrderName}, count), nil
}

// edges builds a page's edges with their cursors and its page info.
// A cursor is encoded only when written (model.EdgeCursor).
func edges[T any, E any](nodes []T, cursor func(int) string, hasNext, hasPrev bool, edge func(cursor model.EdgeCursor, node T) E) ([]E, *model.PageInfo) {
	out := make([]E, len(nodes))
	for i, n := range nodes {
		out[i] = edge(model.CursorOf(cursor, i), n)
	}
	return out, pageInfo(len(nodes), cursor, hasNext, hasPrev)
}

func caseConnection(p *cases.Page, count model.Counter) *model.CaseConnection {
	e, pi := edges(p.Cases, p.Cursor, p.HasNext, p.HasPrev, func(c model.EdgeCursor, n *cases.Case) *model.CaseEdge {
		return &model.CaseEdge{EdgeCursor: c, Node: n}
	})
	return &model.CaseConnection{Edges: e, PageInfo: pi, Count: count}
}

func violationConnection(p *violation.Page, count model.Counter) *model.ViolationConnection {
	e, pi := edges(p.Violations, p.Cursor, p.HasNext, p.HasPrev, func(c model.EdgeCursor, n *violation.Violation) *model.ViolationEdge {
		return &model.ViolationEdge{EdgeCursor: c, Node: n}
	})
	return &model.ViolationConnection{Edges: e, PageInfo: pi, Count: count}
}

func propertyConnection(p *property.Page, count model.Counter) *model.PropertyConnection {
	e, pi := edges(p.Properties, p.Cursor, p.HasNext, p.HasPrev, func(c model.EdgeCursor, n *property.Property) *model.PropertyEdge {
		return &model.PropertyEdge{EdgeCursor: c, Node: n}
	})
	return &model.PropertyConnection{Edges: e, PageInfo: pi, Count: count}
}

func lotConnection(p *parking.Page, count model.Counter) *model.ParkingLotConnection {
	e, pi := edges(p.Lots, p.Cursor, p.HasNext, p.HasPrev, func(c model.EdgeCursor, n *parking.Lot) *model.ParkingLotEdge {
		return &model.ParkingLotEdge{EdgeCursor: c, Node: n}
	})
	return &model.ParkingLotConnection{Edges: e, PageInfo: pi, Count: count}
}
