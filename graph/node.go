package graph

import (
	"context"
	"fmt"
	"sync"

	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

// MaxNodes is the most ids one nodes() call takes: a client refetches what
// it shows, and the cost limit counts each id as a whole object.
const MaxNodes = 1000

// resolveNodes answers node and nodes. Ids are the objects' own ids, which
// do not say their type, so a UUID is asked of every dataset (one GetMany
// each, all at once: the services apply the caller's row scope in SQL and
// audit what they return, as for _entities) and anything else of the
// directory, jurisdictions first. The answer has ids' order, nil where an
// id names nothing the caller may see: a record outside the caller's rows
// answers exactly like one that does not exist.
func (r *Resolver) resolveNodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > MaxNodes {
		return nil, apperr.Invalid("ids", "at most %d ids per call, got %d: split the list", MaxNodes, len(ids))
	}
	var keys []uuid.UUID
	var codes []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		// Only the canonical form the hub hands out names a record: the
		// answer is keyed by the id as asked.
		if u, err := uuid.Parse(id); err == nil && u.String() == id {
			keys = append(keys, u)
		} else {
			codes = append(codes, id)
		}
	}
	found := make(map[string]model.Node, len(seen))
	if err := r.recordNodes(ctx, keys, found); err != nil {
		return nil, err
	}
	if err := r.directoryNodes(ctx, codes, found); err != nil {
		return nil, err
	}
	out := make([]model.Node, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// nodeSource is one dataset asked for a batch of UUIDs.
type nodeSource struct {
	name string
	get  func(context.Context, []uuid.UUID) (map[string]model.Node, error)
}

// byUUID adapts a dataset service's GetMany to a nodeSource.
func byUUID[T any](name string, getMany func(context.Context, []uuid.UUID) ([]T, error), id func(T) uuid.UUID) nodeSource {
	return nodeSource{name: name, get: func(ctx context.Context, keys []uuid.UUID) (map[string]model.Node, error) {
		list, err := getMany(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[string]model.Node, len(list))
		for _, v := range list {
			out[id(v).String()] = v
		}
		return out, nil
	}}
}

// recordNodes looks keys up in every dataset concurrently and adds what the
// caller may see to found. Datasets are applied in a fixed order, so the
// answer never depends on timing.
func (r *Resolver) recordNodes(ctx context.Context, keys []uuid.UUID, found map[string]model.Node) error {
	if len(keys) == 0 {
		return nil
	}
	sources := []nodeSource{
		byUUID("cases", r.CaseService.GetMany, func(c *cases.Case) uuid.UUID { return c.ID }),
		byUUID("violations", r.ViolationService.GetMany, func(v *violation.Violation) uuid.UUID { return v.ID }),
		byUUID("properties", r.PropertyService.GetMany, func(p *property.Property) uuid.UUID { return p.ID }),
		byUUID("parking lots", r.ParkingService.GetMany, func(l *parking.Lot) uuid.UUID { return l.ID }),
	}
	results := make([]map[string]model.Node, len(sources))
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, s := range sources {
		wg.Go(func() { results[i], errs[i] = s.get(ctx, keys) })
	}
	wg.Wait()
	for i, s := range sources {
		if errs[i] != nil {
			return fmt.Errorf("node: %s: %w", s.name, errs[i])
		}
		for id, n := range results[i] {
			if _, ok := found[id]; !ok {
				found[id] = n
			}
		}
	}
	return nil
}

// directoryNodes resolves codes as jurisdictions, then what is left as
// departments, and adds them to found.
func (r *Resolver) directoryNodes(ctx context.Context, codes []string, found map[string]model.Node) error {
	if len(codes) == 0 {
		return nil
	}
	js, err := r.DirectoryService.Jurisdictions(ctx, codes)
	if err != nil {
		return fmt.Errorf("node: jurisdictions: %w", err)
	}
	for _, j := range js {
		found[j.Code] = j
	}
	rest := make([]string, 0, len(codes))
	for _, c := range codes {
		if _, ok := found[c]; !ok {
			rest = append(rest, c)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	ds, err := r.DirectoryService.Departments(ctx, rest)
	if err != nil {
		return fmt.Errorf("node: departments: %w", err)
	}
	for _, d := range ds {
		found[d.Code] = d
	}
	return nil
}
