package parking

import (
	"context"
	"fmt"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
)

// Input limits.
const (
	maxSpaces  = 100_000
	maxRanges  = 4
	maxSeatCap = 99
)

// UpsertInput is a lot as a department system sends it. (SourceDept,
// ExternalID) identifies it: the source department is the caller's.
type UpsertInput struct {
	ExternalID string
	// Version, when set, must equal the stored version for a change to be
	// written (optimistic concurrency); 0 means "create only". Re-sending
	// unchanged content is never a conflict.
	Version      *int
	Name         string
	Kind         Kind
	Address      string
	Lat, Lng     float64
	Jurisdiction string // optional: located from the point when empty
	// OwnerDept defaults to the caller's department.
	OwnerDept string
	Operator  string
	// IsGovernment is implied by KindGovernmentShared.
	IsGovernment bool
	TotalSpaces  int
	SharedSpaces int
	Windows      Windows
	MaxSeats     int
	BookingRule  string
	FeeRule      string
	ContactName  string
	ContactPhone string
}

// Upsert creates the lot the caller's department files under in.ExternalID,
// or updates it when its content changed (the version goes up by one), or
// leaves it alone when nothing changed. The caller needs the "write" action
// on parking and must belong to the traffic police or to the lot's owner
// department, before and after the change (FORBIDDEN otherwise).
// BAD_USER_INPUT (with the field) for invalid input; CONFLICT when
// in.Version is stale or the lot changed concurrently. Nothing is written
// unless every check passes.
func (s *Service) Upsert(ctx context.Context, in UpsertInput) (upsert.Result[*Lot], error) {
	var none upsert.Result[*Lot]
	d, err := s.Decide(ctx)
	if err != nil {
		return none, err
	}
	p := access.PrincipalFrom(ctx)
	if !d.Can("write") || p.Dept == "" {
		return none, apperr.New(apperr.Forbidden, "you may not write parking lots")
	}
	if in.OwnerDept == "" {
		in.OwnerDept = p.Dept
	}
	if err := validateUpsert(&in); err != nil {
		return none, err
	}
	if !mayWrite(p, in.OwnerDept) {
		return none, apperr.New(apperr.Forbidden, "only %s or the traffic police may write lots owned by %s", in.OwnerDept, in.OwnerDept)
	}
	if ok, err := s.dir.DepartmentExists(ctx, in.OwnerDept); err != nil {
		return none, err
	} else if !ok {
		return none, apperr.Invalid("ownerDept", "unknown department %q", in.OwnerDept)
	}
	if in.Jurisdiction, err = directory.Place(ctx, s.dir, "lot", in.Jurisdiction, in.Lat, in.Lng); err != nil {
		return none, err
	}
	res, err := upsert.Run(ctx, func(ctx context.Context) (upsert.Result[*Lot], error) {
		return s.upsertRound(ctx, d.Rows, p, &in)
	})
	if err != nil {
		return none, err
	}
	// The lot comes back as a read shows it: audited as one.
	if err := access.AuditReturned(ctx, s.audit, d, res.Record); err != nil {
		return none, err
	}
	return res, nil
}

// upsertRound does one read-compare-write round (upsert.Run).
//
// The caller's scope applies: a lot it cannot see can be neither read nor
// overwritten through its key; creating under the key then meets the key's
// uniqueness, and a second round that still finds nothing refuses with
// apperr.KeyTaken.
func (s *Service) upsertRound(ctx context.Context, scope access.RowScope, p *access.Principal, in *UpsertInput) (upsert.Result[*Lot], error) {
	var none upsert.Result[*Lot]
	cur, err := s.store.BySource(ctx, scope, p.Dept, in.ExternalID)
	if apperr.Is(err, apperr.NotFound) {
		cur, err = nil, nil
	}
	if err != nil {
		return none, fmt.Errorf("find lot %s/%s: %w", p.Dept, in.ExternalID, err)
	}
	now := s.Now()
	next := &Lot{
		Name: in.Name, Kind: in.Kind, Address: in.Address, Lat: in.Lat, Lng: in.Lng,
		JurisdictionCode: in.Jurisdiction, OwnerDept: in.OwnerDept, Operator: in.Operator,
		IsGovernment: in.IsGovernment, TotalSpaces: in.TotalSpaces, SharedSpaces: in.SharedSpaces,
		Windows: in.Windows, MaxSeats: in.MaxSeats, BookingRule: in.BookingRule, FeeRule: in.FeeRule,
		ContactName: in.ContactName, ContactPhone: in.ContactPhone,
		SourceDept: p.Dept, ExternalID: in.ExternalID, UpdatedAt: now,
	}
	if cur == nil {
		if in.Version != nil && *in.Version != 0 {
			return none, apperr.New(apperr.Conflict, "lot %q does not exist, so it cannot be at version %d; send no version to create it", in.ExternalID, *in.Version)
		}
		next.ID = uuid.Must(uuid.NewV7())
		next.CreatedAt = now
		next.Version = 1
		if err := s.store.Create(ctx, next); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return none, fmt.Errorf("%w: %w: %w", apperr.KeyTaken(in.ExternalID), upsert.ErrRaced, err)
			}
			return none, err
		}
		return upsert.Result[*Lot]{Record: next, Outcome: upsert.Created}, nil
	}
	if !mayWrite(p, cur.OwnerDept) {
		return none, apperr.New(apperr.Forbidden, "only %s or the traffic police may change %s", cur.OwnerDept, cur.Name)
	}
	if next.sameContent(cur) {
		return upsert.Result[*Lot]{Record: cur, Outcome: upsert.Unchanged}, nil
	}
	if in.Version != nil && *in.Version != cur.Version {
		return none, apperr.New(apperr.Conflict, "lot %q has changed since you read it (your version %d, current version %d); reload and try again",
			in.ExternalID, *in.Version, cur.Version)
	}
	next.ID, next.CreatedAt, next.Version = cur.ID, cur.CreatedAt, cur.Version+1
	if err := s.store.Update(ctx, next, cur.Version); err != nil {
		return none, upsert.Raced(err, in.Version)
	}
	return upsert.Result[*Lot]{Record: next, Outcome: upsert.Updated}, nil
}

func validateUpsert(in *UpsertInput) error {
	trim := func(ps ...*string) {
		for _, p := range ps {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(&in.ExternalID, &in.Name, &in.Address, &in.Jurisdiction, &in.OwnerDept, &in.Operator,
		&in.BookingRule, &in.FeeRule, &in.ContactName, &in.ContactPhone)
	if in.Kind == KindGovernmentShared {
		in.IsGovernment = true
	}
	tooLong := rules.TooLong
	switch {
	case !rules.PrintableID(in.ExternalID):
		return apperr.Invalid("externalId", "give the lot's id in your system (1 to 100 printable characters)")
	case in.Name == "" || tooLong(in.Name, 100):
		return apperr.Invalid("name", "the name must be 1 to 100 characters")
	case !in.Kind.Valid():
		return apperr.Invalid("kind", "unknown kind %q", in.Kind)
	}
	if err := rules.Site(in.Address, in.Lat, in.Lng, in.Jurisdiction); err != nil {
		return err
	}
	switch {
	case !rules.DeptCode(in.OwnerDept):
		return invalidDept("ownerDept", in.OwnerDept)
	case tooLong(in.Operator, 100):
		return apperr.Invalid("operator", "the operator's name is limited to 100 characters")
	case in.TotalSpaces < 0 || in.TotalSpaces > maxSpaces:
		return apperr.Invalid("totalSpaces", "total spaces must be between 0 and %d", maxSpaces)
	case in.SharedSpaces < 0 || in.SharedSpaces > in.TotalSpaces:
		return apperr.Invalid("sharedSpaces", "shared spaces must be between 0 and the %d total spaces", in.TotalSpaces)
	case in.MaxSeats < 0 || in.MaxSeats > maxSeatCap:
		return apperr.Invalid("maxSeats", "the seat limit must be between 1 and %d, or 0 for none", maxSeatCap)
	case tooLong(in.BookingRule, 500):
		return apperr.Invalid("bookingRule", "the booking rule is limited to 500 characters")
	case tooLong(in.FeeRule, 500):
		return apperr.Invalid("feeRule", "the fee rule is limited to 500 characters")
	case tooLong(in.ContactName, rules.MaxContactName):
		return apperr.Invalid("contactName", "the contact name is limited to 50 characters")
	}
	if err := rules.Phone("contactPhone", in.ContactPhone); err != nil {
		return err
	}
	return ValidateWindows(in.Kind, in.Windows)
}

// ValidateWindows checks a lot's rules against its kind: a
// GOVERNMENT_SHARED lot has weekday and rest-day windows, other kinds only
// opening hours. BAD_USER_INPUT naming the field otherwise.
func ValidateWindows(k Kind, w Windows) error {
	check := func(field string, rs []Range) error {
		if len(rs) > maxRanges {
			return apperr.Invalid(field, "at most %d windows", maxRanges)
		}
		for i, r := range rs {
			if err := r.validate(); err != nil {
				return apperr.Invalid(fmt.Sprintf("%s[%d]", field, i), "%s: %v", r, err)
			}
		}
		return nil
	}
	if err := check("windows.hours", w.Hours); err != nil {
		return err
	}
	if err := check("windows.weekday", w.Weekday); err != nil {
		return err
	}
	if err := check("windows.restDay", w.RestDay); err != nil {
		return err
	}
	if w.NoMovement != nil {
		if err := w.NoMovement.validate(); err != nil {
			return apperr.Invalid("windows.noMovement", "%s: %v", *w.NoMovement, err)
		}
	}
	if w.RestDayAllDay && len(w.RestDay) > 0 {
		return apperr.Invalid("windows.restDay", "give rest-day windows or open all day on rest days, not both")
	}
	if k == KindGovernmentShared {
		if len(w.Hours) > 0 {
			return apperr.Invalid("windows.hours", "a GOVERNMENT_SHARED lot opens by weekday and rest-day windows, not daily hours")
		}
		return nil
	}
	if len(w.Weekday) > 0 || len(w.RestDay) > 0 || w.RestDayAllDay {
		return apperr.Invalid("windows.weekday", "only a GOVERNMENT_SHARED lot has weekday and rest-day sharing windows; give %s lots daily hours", k)
	}
	return nil
}
