package graph

import (
	"context"

	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/vikstrous/dataloadgen"
)

// nestedKey names one parent's nested list: all parents of one level of a
// query are loaded by a single statement per (relation, page size).
type nestedKey struct {
	parent links.Parent
	key    string
	first  int
}

// countKey names one parent's nested totalCount.
type countKey struct {
	parent links.Parent
	key    string
}

// nestedLoader batches ByParent calls; it asks for one row more than the
// page so hasNextPage is exact.
func nestedLoader[T any](fetch func(ctx context.Context, parent links.Parent, keys []string, first int) (map[string][]T, error)) *dataloadgen.Loader[nestedKey, []T] {
	return dataloadgen.NewMappedLoader(func(ctx context.Context, keys []nestedKey) (map[nestedKey][]T, error) {
		type group struct {
			parent links.Parent
			first  int
		}
		groups := map[group][]string{}
		for _, k := range keys {
			g := group{k.parent, k.first}
			groups[g] = append(groups[g], k.key)
		}
		out := make(map[nestedKey][]T, len(keys))
		for g, ks := range groups {
			m, err := fetch(ctx, g.parent, ks, g.first+1)
			if err != nil {
				return nil, err
			}
			for _, k := range ks {
				out[nestedKey{g.parent, k, g.first}] = m[k]
			}
		}
		return out, nil
	}, dataloadgen.WithWait(loaderWait))
}

// countLoader batches CountByParent calls.
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
	cases           *dataloadgen.Loader[nestedKey, []*cases.Case]
	caseCounts      *dataloadgen.Loader[countKey, int]
	violations      *dataloadgen.Loader[nestedKey, []*violation.Violation]
	violationCounts *dataloadgen.Loader[countKey, int]
	properties      *dataloadgen.Loader[nestedKey, []*property.Property]
	propertyCounts  *dataloadgen.Loader[countKey, int]
	lots            *dataloadgen.Loader[nestedKey, []*parking.Lot]
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

// connection builds a nested connection's parts from a loaded list of at
// most first+1 rows.
func trim[T any](list []T, first int) ([]T, bool) {
	if len(list) > first {
		return list[:first], true
	}
	return list, false
}

func pageInfo(cursors []string, hasNext bool) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: hasNext}
	if n := len(cursors); n > 0 {
		pi.EndCursor = &cursors[n-1]
	}
	return pi
}

func (r *Resolver) nestedCases(ctx context.Context, parent links.Parent, key string, first int) (*model.CaseConnection, error) {
	l := r.loaders(ctx).nested
	list, err := l.cases.Load(ctx, nestedKey{parent, key, first})
	if err != nil {
		return nil, err
	}
	list, more := trim(list, first)
	return caseConnection(&cases.Page{Cases: list, HasNext: more, Order: cases.OrderReportedDesc},
		func(ctx context.Context) (int, error) { return l.caseCounts.Load(ctx, countKey{parent, key}) }), nil
}

func (r *Resolver) nestedViolations(ctx context.Context, parent links.Parent, key string, first int) (*model.ViolationConnection, error) {
	l := r.loaders(ctx).nested
	list, err := l.violations.Load(ctx, nestedKey{parent, key, first})
	if err != nil {
		return nil, err
	}
	list, more := trim(list, first)
	return violationConnection(&violation.Page{Violations: list, HasNext: more, Order: violation.OrderDiscoveredDesc},
		func(ctx context.Context) (int, error) { return l.violationCounts.Load(ctx, countKey{parent, key}) }), nil
}

func (r *Resolver) nestedProperties(ctx context.Context, parent links.Parent, key string, first int) (*model.PropertyConnection, error) {
	l := r.loaders(ctx).nested
	list, err := l.properties.Load(ctx, nestedKey{parent, key, first})
	if err != nil {
		return nil, err
	}
	list, more := trim(list, first)
	return propertyConnection(&property.Page{Properties: list, HasNext: more, Order: property.OrderNameAsc},
		func(ctx context.Context) (int, error) { return l.propertyCounts.Load(ctx, countKey{parent, key}) }), nil
}

func (r *Resolver) nestedLots(ctx context.Context, parent links.Parent, key string, first int) (*model.ParkingLotConnection, error) {
	l := r.loaders(ctx).nested
	list, err := l.lots.Load(ctx, nestedKey{parent, key, first})
	if err != nil {
		return nil, err
	}
	list, more := trim(list, first)
	return lotConnection(&parking.Page{Lots: list, HasNext: more, Order: parking.OrderName},
		func(ctx context.Context) (int, error) { return l.lotCounts.Load(ctx, countKey{parent, key}) }), nil
}

func caseConnection(p *cases.Page, count model.Counter) *model.CaseConnection {
	conn := &model.CaseConnection{Edges: make([]*model.CaseEdge, len(p.Cases)), Count: count}
	cursors := make([]string, len(p.Cases))
	for i, c := range p.Cases {
		cursors[i] = p.Cursor(i)
		conn.Edges[i] = &model.CaseEdge{Cursor: cursors[i], Node: c}
	}
	conn.PageInfo = pageInfo(cursors, p.HasNext)
	return conn
}

func violationConnection(p *violation.Page, count model.Counter) *model.ViolationConnection {
	conn := &model.ViolationConnection{Edges: make([]*model.ViolationEdge, len(p.Violations)), Count: count}
	cursors := make([]string, len(p.Violations))
	for i, v := range p.Violations {
		cursors[i] = p.Cursor(i)
		conn.Edges[i] = &model.ViolationEdge{Cursor: cursors[i], Node: v}
	}
	conn.PageInfo = pageInfo(cursors, p.HasNext)
	return conn
}

func propertyConnection(p *property.Page, count model.Counter) *model.PropertyConnection {
	conn := &model.PropertyConnection{Edges: make([]*model.PropertyEdge, len(p.Properties)), Count: count}
	cursors := make([]string, len(p.Properties))
	for i, n := range p.Properties {
		cursors[i] = p.Cursor(i)
		conn.Edges[i] = &model.PropertyEdge{Cursor: cursors[i], Node: n}
	}
	conn.PageInfo = pageInfo(cursors, p.HasNext)
	return conn
}

func lotConnection(p *parking.Page, count model.Counter) *model.ParkingLotConnection {
	conn := &model.ParkingLotConnection{Edges: make([]*model.ParkingLotEdge, len(p.Lots)), Count: count}
	cursors := make([]string, len(p.Lots))
	for i, n := range p.Lots {
		cursors[i] = p.Cursor(i)
		conn.Edges[i] = &model.ParkingLotEdge{Cursor: cursors[i], Node: n}
	}
	conn.PageInfo = pageInfo(cursors, p.HasNext)
	return conn
}
