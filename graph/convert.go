package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"

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

// nonEmpty is nil for the empty string (GraphQL null), else s: a status
// before the first event, an absent optional text.
func nonEmpty[S ~string](s S) *S {
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

func describeLimit(cl *cases.Class) string {
	l := cl.Limit
	if cl.Emergency {
		if l.Hours > 0 {
			return fmt.Sprintf("%d hours, around the clock", l.Hours)
		}
		return fmt.Sprintf("%d days, around the clock", l.Days)
	}
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

func (r *mutationResolver) requestChange(ctx context.Context, id string, in cases.RequestInput) (*cases.Request, error) {
	uid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return r.CaseService.RequestChange(ctx, uid, in)
}

func (r *mutationResolver) decideRequest(ctx context.Context, id string, approve bool, note string) (*cases.Request, error) {
	uid, err := parseID(id)
	if err != nil {
		return nil, err
	}
	return r.CaseService.DecideRequest(ctx, uid, approve, note)
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

// instant is at, or now when the caller gave none.
func instant(at *time.Time, now time.Time) time.Time {
	if at == nil {
		return now
	}
	return *at
}

func rangeStrings(rs []parking.Range) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func optionalID(field string, id *string) (*uuid.UUID, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	u, err := uuid.Parse(*id)
	if err != nil {
		return nil, apperr.Invalid(field, "%q is not a valid id", *id)
	}
	return &u, nil
}

func violationFilter(f *model.ViolationFilter) (violation.Filter, error) {
	if f == nil {
		return violation.Filter{}, nil
	}
	out := violation.Filter{Kind: deref(f.Kind), Subtype: deref(f.Subtype), Statuses: f.Status,
		Jurisdiction: deref(f.Jurisdiction), DiscoveredFrom: f.DiscoveredFrom, DiscoveredTo: f.DiscoveredTo,
		Open: f.Open, Overdue: f.Overdue, Outcomes: f.Outcome}
	var err error
	if out.PropertyID, err = optionalID("filter.propertyId", f.PropertyID); err != nil {
		return out, err
	}
	out.CaseID, err = optionalID("filter.caseId", f.CaseID)
	return out, err
}

func violationInput(in model.ViolationInput) (violation.ReportInput, error) {
	out := violation.ReportInput{Kind: in.Kind, Subtype: deref(in.Subtype), Channel: in.Channel, Description: in.Description,
		AreaM2: in.AreaM2, Address: deref(in.Address), Lat: in.Lat, Lng: in.Lng, Jurisdiction: deref(in.Jurisdiction),
		Plate: deref(in.Plate), DiscoveredAt: in.DiscoveredAt, ExternalID: deref(in.ExternalID)}
	if in.Party != nil {
		out.Party = violation.Party{Name: deref(in.Party.Name), IDNumber: deref(in.Party.IDNumber), Phone: deref(in.Party.Phone)}
	}
	var err error
	if out.PropertyID, err = optionalID("propertyId", in.PropertyID); err != nil {
		return out, err
	}
	out.CaseID, err = optionalID("caseId", in.CaseID)
	return out, err
}

func propertyInput(in model.PropertyInput) property.UpsertInput {
	out := property.UpsertInput{ExternalID: in.ExternalID, Name: in.Name, Address: in.Address, Lat: in.Lat, Lng: in.Lng,
		Jurisdiction: deref(in.Jurisdiction), BuildYear: in.BuildYear, Buildings: in.Buildings, Households: in.Households,
		Complaints: deref(in.Complaints), Version: in.Version}
	if m := in.Management; m != nil {
		out.Management = &property.Management{Company: m.Company, CreditCode: m.CreditCode,
			ContactName: deref(m.ContactName), ContactPhone: deref(m.ContactPhone)}
	}
	if rn := in.Renovation; rn != nil {
		out.Renovation = property.Renovation{Status: rn.Status, Year: rn.Year, Scope: deref(rn.Scope)}
		if rn.Budget != nil {
			fen := int64(math.Round(*rn.Budget * 100))
			out.Renovation.BudgetFen = &fen
		}
	}
	return out
}

func lotInput(in model.ParkingLotInput) (parking.UpsertInput, error) {
	out := parking.UpsertInput{ExternalID: in.ExternalID, Version: in.Version, Name: in.Name, Kind: in.Kind, Address: in.Address,
		Lat: in.Lat, Lng: in.Lng, Jurisdiction: deref(in.Jurisdiction), OwnerDept: deref(in.OwnerDept), Operator: deref(in.Operator),
		IsGovernment: deref(in.IsGovernment), TotalSpaces: in.TotalSpaces, SharedSpaces: deref(in.SharedSpaces),
		MaxSeats: deref(in.MaxSeats), BookingRule: deref(in.BookingRule), FeeRule: deref(in.FeeRule),
		ContactName: deref(in.ContactName), ContactPhone: deref(in.ContactPhone)}
	if w := in.Windows; w != nil {
		var err error
		parse := func(field string, list []string) []parking.Range {
			var rs []parking.Range
			for _, s := range list {
				r, perr := parking.ParseRange(s)
				if perr != nil && err == nil {
					err = apperr.Invalid("windows."+field, "%q is not a time range such as 18:30-07:30", s)
				}
				rs = append(rs, r)
			}
			return rs
		}
		out.Windows = parking.Windows{Hours: parse("hours", w.Hours), Weekday: parse("weekday", w.Weekday),
			RestDayAllDay: deref(w.RestDayAllDay), RestDay: parse("restDay", w.RestDay)}
		if w.NoMovement != nil {
			nm := parse("noMovement", []string{*w.NoMovement})
			if len(nm) == 1 {
				out.Windows.NoMovement = &nm[0]
			}
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// indicatorRows converts rows for the schema, every field filled in.
// indicatorQuery is the query indicators' arguments ask.
func indicatorQuery(period evaluation.Period, from, to time.Time, groupBy []evaluation.Dim, filter *model.IndicatorFilter) evaluation.Query {
	q := evaluation.Query{Period: period, From: from, To: to, GroupBy: groupBy}
	if filter != nil {
		q.Filter = evaluation.Filter{Jurisdiction: deref(filter.Jurisdiction), Kind: deref(filter.Kind),
			MajorCode: deref(filter.MajorCode), Sources: filter.Source, HandlingDept: deref(filter.HandlingDept)}
	}
	return q
}

func indicatorRows(rows []evaluation.Row) []*model.IndicatorRow {
	out := make([]*model.IndicatorRow, len(rows))
	for i := range rows {
		out[i] = indicatorRow(&rows[i])
	}
	return out
}

func indicatorRow(r *evaluation.Row) *model.IndicatorRow {
	g := r.Group
	row := &model.IndicatorRow{PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, Street: nonEmpty(g.Street),
		Community: nonEmpty(g.Community), Department: nonEmpty(g.Department), MajorCode: nonEmpty(g.MajorCode),
		Kind: nonEmpty(cases.Kind(g.Kind)), ReporterGroup: nonEmpty(g.ReporterGroup), Figures: make([]*model.Figure, len(r.Figures))}
	// One allocation for the row's figures and one for their counts.
	figs := make([]model.Figure, len(r.Figures))
	counts := make([]int, 2*len(r.Figures))
	for i, f := range r.Figures {
		figs[i] = model.Figure{Name: f.Name, Value: f.Value, Formula: f.Formula, Suppressed: f.Suppressed}
		if !f.Suppressed {
			counts[2*i], counts[2*i+1] = int(f.Numerator), int(f.Denominator)
			figs[i].Numerator, figs[i].Denominator = &counts[2*i], &counts[2*i+1]
		}
		row.Figures[i] = &figs[i]
	}
	return row
}

// argInt reads an Int argument's value as gqlparser hands it over (int64
// for a literal, json.Number or another number type for a variable);
// false when it is not a whole number an int holds.
func argInt(v any) (int, bool) {
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
