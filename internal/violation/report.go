package violation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/google/uuid"
)

// resolveJurisdiction fills in.Jurisdiction: checked when given, located
// from the point when empty.
func (s *Service) resolveJurisdiction(ctx context.Context, in *ReportInput) error {
	given := in.Jurisdiction != ""
	code, err := directory.Place(ctx, s.dir, "violation", in.Jurisdiction, in.Lat, in.Lng)
	if err != nil {
		return err
	}
	in.Jurisdiction = code
	if given && !strings.Contains(in.Jurisdiction, ".") {
		return apperr.Invalid("jurisdiction", "a violation lies in a street or town, not the whole district")
	}
	return nil
}

// checkLinks refuses a case the caller cannot see in the same words as one
// that does not exist: a link must not confirm that a record outside the
// caller's scope exists, nor attach to it. The compound is not checked:
// properties are housing's register, reloaded on its own schedule, and a
// link to a compound is kept like the cases' (no foreign key).
func (s *Service) checkLinks(ctx context.Context, in *ReportInput) error {
	if in.CaseID == nil {
		return nil
	}
	d, err := s.auth.Decide(ctx, linkedCases)
	if err != nil {
		return err
	}
	ok, err := s.store.CaseVisible(ctx, d.Rows, *in.CaseID)
	if err != nil {
		return fmt.Errorf("check caseId %s: %w", *in.CaseID, err)
	}
	if !ok {
		return apperr.Invalid("caseId", "unknown case %s", *in.CaseID)
	}
	return nil
}

func sourceDept(p *access.Principal) string {
	if p.Dept == "" {
		return DeptUrbanManagement
	}
	return p.Dept
}

// recording starts a write of a violation, Report's or Upsert's: the
// caller's decision, which must hold the "report" action, the instant the
// write happens at, and in checked and normalised.
func (s *Service) recording(ctx context.Context, in *ReportInput) (*access.Decision, time.Time, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !d.Can("report") {
		return nil, time.Time{}, apperr.New(apperr.Forbidden, "you may not record violations")
	}
	now := s.Now()
	if err := validateReport(in, now); err != nil {
		return nil, time.Time{}, err
	}
	return d, now, nil
}

// Report records a new violation in status DISCOVERED. The caller needs the
// "report" action on violations; BAD_USER_INPUT on invalid input, CONFLICT
// when the caller's department already sent this external id (use Upsert to
// resend). Nothing is written unless all checks pass.
func (s *Service) Report(ctx context.Context, in ReportInput) (*Violation, error) {
	d, now, err := s.recording(ctx, &in)
	if err != nil {
		return nil, err
	}
	if err := s.resolveJurisdiction(ctx, &in); err != nil {
		return nil, err
	}
	if err := s.checkLinks(ctx, &in); err != nil {
		return nil, err
	}
	v, err := s.create(ctx, in, access.PrincipalFrom(ctx), now)
	if err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, v); err != nil {
		return nil, err
	}
	return v, nil
}

func (s *Service) create(ctx context.Context, in ReportInput, p *access.Principal, now time.Time) (*Violation, error) {
	discovered := now
	if in.DiscoveredAt != nil {
		discovered = *in.DiscoveredAt
	}
	v := &Violation{
		ID: uuid.Must(uuid.NewV7()), OwnerDept: in.Kind.OwnerDept(),
		Status: StatusDiscovered, DiscoveredAt: discovered,
		SourceDept: sourceDept(p), ExternalID: in.ExternalID,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	apply(v, in)
	ev := Event{ViolationID: v.ID, Action: ActionReport, ToStatus: StatusDiscovered, Actor: p.Actor(), ActorDept: sourceDept(p), At: now}
	if err := s.store.Create(ctx, v, ev); err != nil {
		if apperr.Is(err, apperr.Conflict) && v.ExternalID != "" {
			return nil, fmt.Errorf("%w: %w", apperr.KeyTaken(v.ExternalID), err)
		}
		return nil, fmt.Errorf("create violation: %w", err)
	}
	return v, nil
}

// apply copies the descriptive fields of in onto v.
func apply(v *Violation, in ReportInput) {
	v.Kind, v.Subtype, v.Channel = in.Kind, in.Subtype, in.Channel
	v.Description, v.Address = in.Description, in.Address
	v.AreaM2 = in.AreaM2
	v.Lat, v.Lng, v.JurisdictionCode = in.Lat, in.Lng, in.Jurisdiction
	v.Party, v.Plate = in.Party, in.Plate
	v.PropertyID, v.CaseID = in.PropertyID, in.CaseID
	if in.DiscoveredAt != nil {
		v.DiscoveredAt = *in.DiscoveredAt
	}
}
