package graph

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"
)

// loaders batch the nested fields of one request: each level of a query
// costs one statement per kind of relation, whatever the page size.
type loaders struct {
	departments   *dataloadgen.Loader[string, *directory.Department]
	jurisdictions *dataloadgen.Loader[string, *directory.Jurisdiction]
	timelines     *dataloadgen.Loader[uuid.UUID, []cases.Event]
	caseRequests  *dataloadgen.Loader[uuid.UUID, []*cases.Request]
	properties    *dataloadgen.Loader[uuid.UUID, *property.Property]
	permits       *dataloadgen.Loader[uuid.UUID, []property.Permit]
	inspections   *dataloadgen.Loader[uuid.UUID, []property.Inspection]
	cases         *dataloadgen.Loader[uuid.UUID, *cases.Case]
	caseViols     *dataloadgen.Loader[uuid.UUID, []*violation.Violation]
	violations    *dataloadgen.Loader[uuid.UUID, *violation.Violation]
	violTimelines *dataloadgen.Loader[uuid.UUID, []violation.Event]
	lots          *dataloadgen.Loader[uuid.UUID, *parking.Lot]
	freeSpaces    *dataloadgen.Loader[uuid.UUID, parking.Availability]
	nested        nestedLoaders
}

// loaderWait is how long a loader collects keys before it fetches. Field
// resolution of one level happens within microseconds, so a short wait
// batches a whole level without adding noticeable latency.
const loaderWait = 500 * time.Microsecond

func (r *Resolver) newLoaders() *loaders {
	return &loaders{
		departments: dataloadgen.NewMappedLoader(func(ctx context.Context, codes []string) (map[string]*directory.Department, error) {
			list, err := r.DirectoryService.Departments(ctx, codes)
			if err != nil {
				return nil, err
			}
			out := make(map[string]*directory.Department, len(list))
			for _, d := range list {
				out[d.Code] = d
			}
			return out, nil
		}, dataloadgen.WithWait(loaderWait)),
		jurisdictions: dataloadgen.NewMappedLoader(func(ctx context.Context, codes []string) (map[string]*directory.Jurisdiction, error) {
			list, err := r.DirectoryService.Jurisdictions(ctx, codes)
			if err != nil {
				return nil, err
			}
			out := make(map[string]*directory.Jurisdiction, len(list))
			for _, j := range list {
				out[j.Code] = j
			}
			return out, nil
		}, dataloadgen.WithWait(loaderWait)),
		timelines: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]cases.Event, error) {
			return r.CaseService.Timelines(ctx, ids)
		}, dataloadgen.WithWait(loaderWait)),
		caseRequests: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*cases.Request, error) {
			return r.CaseService.Requests(ctx, ids)
		}, dataloadgen.WithWait(loaderWait)),
		properties: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*property.Property, error) {
			list, err := r.PropertyService.GetMany(ctx, ids)
			if err != nil {
				return nil, err
			}
			return byID(list, func(p *property.Property) uuid.UUID { return p.ID }), nil
		}, dataloadgen.WithWait(loaderWait)),
		permits: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]property.Permit, error) {
			return r.PropertyService.Permits(ctx, ids)
		}, dataloadgen.WithWait(loaderWait)),
		inspections: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]property.Inspection, error) {
			return r.PropertyService.Inspections(ctx, ids)
		}, dataloadgen.WithWait(loaderWait)),
		cases: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*cases.Case, error) {
			list, err := r.CaseService.GetMany(ctx, ids)
			if err != nil {
				return nil, err
			}
			return byID(list, func(c *cases.Case) uuid.UUID { return c.ID }), nil
		}, dataloadgen.WithWait(loaderWait)),
		caseViols: dataloadgen.NewMappedLoader(r.ViolationService.ByCase, dataloadgen.WithWait(loaderWait)),
		violations: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*violation.Violation, error) {
			list, err := r.ViolationService.GetMany(ctx, ids)
			if err != nil {
				return nil, err
			}
			return byID(list, func(v *violation.Violation) uuid.UUID { return v.ID }), nil
		}, dataloadgen.WithWait(loaderWait)),
		violTimelines: dataloadgen.NewMappedLoader(r.ViolationService.Timelines, dataloadgen.WithWait(loaderWait)),
		lots: dataloadgen.NewMappedLoader(func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*parking.Lot, error) {
			list, err := r.ParkingService.GetMany(ctx, ids)
			if err != nil {
				return nil, err
			}
			return byID(list, func(l *parking.Lot) uuid.UUID { return l.ID }), nil
		}, dataloadgen.WithWait(loaderWait)),
		freeSpaces: dataloadgen.NewMappedLoader(r.ParkingService.Availability, dataloadgen.WithWait(loaderWait)),
		nested:     r.newNestedLoaders(),
	}
}

type loadersKey struct{}

// Middleware gives every request its own loaders (their caches must not
// outlive a request: what one caller may see is not what the next may).
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(r.WithLoaders(req.Context())))
	})
}

// WithLoaders returns ctx carrying fresh loaders (also used for WebSocket
// operations and tests). They are made on first use: a request the fast
// path or the response cache answers never needs them.
func (r *Resolver) WithLoaders(ctx context.Context) context.Context {
	return context.WithValue(ctx, loadersKey{}, &lazyLoaders{})
}

// lazyLoaders makes a request's loaders when it first asks for them.
type lazyLoaders struct {
	once sync.Once
	l    *loaders
}

func (r *Resolver) loaders(ctx context.Context) *loaders {
	if lz, ok := ctx.Value(loadersKey{}).(*lazyLoaders); ok {
		lz.once.Do(func() { lz.l = r.newLoaders() })
		return lz.l
	}
	// A caller without the middleware still works, unbatched.
	return r.newLoaders()
}

// byID indexes a list by its key.
func byID[K comparable, V any](list []V, key func(V) K) map[K]V {
	out := make(map[K]V, len(list))
	for _, v := range list {
		out[key(v)] = v
	}
	return out
}

// loadOptional maps the loader's not-found to nil.
func loadOptional[K comparable, V any](ctx context.Context, l *dataloadgen.Loader[K, *V], key K) (*V, error) {
	v, err := l.Load(ctx, key)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return v, err
}
