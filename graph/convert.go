package graph

import (
	"context"
	"fmt"

	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
)

func parseID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, apperr.Invalid("id", "%q is not a valid id", id)
	}
	return u, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullIfNotFound turns NOT_FOUND into a null result: a nullable root field
// for a record that does not exist (or that the caller may not see) is
// simply null.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil
	}
	return v, err
}

// alignEntities orders found entities like the representations asked for,
// with nil where an entity does not exist or is outside the caller's scope.
func alignEntities[R any, E any](reps []R, found []E, repKey func(R) string, key func(E) string) []E {
	byKey := make(map[string]E, len(found))
	for _, e := range found {
		byKey[key(e)] = e
	}
	out := make([]E, len(reps))
	for i, r := range reps {
		out[i] = byKey[repKey(r)]
	}
	return out
}

func describeLimit(l cases.Limit) string {
	if l.Hours > 0 {
		return fmt.Sprintf("%d working hours", l.Hours)
	}
	if l.Days == 1 {
		return "1 working day"
	}
	return fmt.Sprintf("%d working days", l.Days)
}

func caseFilter(f *model.CaseFilter) cases.Filter {
	if f == nil {
		return cases.Filter{}
	}
	return cases.Filter{
		Statuses: f.Status, Open: f.Open, Kind: deref(f.Kind), MajorCode: deref(f.MajorCode), MinorCode: deref(f.MinorCode),
		Sources: f.Source, Jurisdiction: deref(f.Jurisdiction), HandlingDept: deref(f.HandlingDept), Overdue: f.Overdue,
		ReportedFrom: f.ReportedFrom, ReportedTo: f.ReportedTo, ClosedFrom: f.ClosedFrom, ClosedTo: f.ClosedTo,
		Text: deref(f.Text),
	}
}

func caseConnection(p *cases.Page, f cases.Filter) *model.CaseConnection {
	conn := &model.CaseConnection{Edges: make([]*model.CaseEdge, len(p.Cases)), PageInfo: &model.PageInfo{HasNextPage: p.HasNext}, Filter: f}
	for i, c := range p.Cases {
		conn.Edges[i] = &model.CaseEdge{Cursor: p.Cursor(i), Node: c}
	}
	if n := len(p.Cases); n > 0 {
		conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
	}
	return conn
}

func reportInput(in model.ReportCaseInput) cases.ReportInput {
	return cases.ReportInput{
		Kind: in.Kind, MinorCode: in.MinorCode, Source: in.Source, Description: in.Description,
		Address: deref(in.Address), Lat: in.Lat, Lng: in.Lng, Jurisdiction: deref(in.Jurisdiction),
		ReporterName: deref(in.ReporterName), ReporterPhone: deref(in.ReporterPhone), PhotoURLs: in.PhotoUrls,
		ExternalID: deref(in.ExternalID), ReportedAt: in.ReportedAt,
	}
}

func (r *mutationResolver) transition(ctx context.Context, id string, a cases.Action, in cases.TransitionInput) (*cases.Case, error) {
	uid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return r.CaseService.Transition(ctx, uid, a, in)
}

// pointers returns pointers to the elements of list.
func pointers[T any](list []T) []*T {
	out := make([]*T, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

// repIDs collects the valid uuids among entity representations; malformed
// ones name no entity and resolve to null.
func repIDs[R any](reps []R, id func(R) string) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(reps))
	for _, rep := range reps {
		if u, err := uuid.Parse(id(rep)); err == nil {
			out = append(out, u)
		}
	}
	return out
}
