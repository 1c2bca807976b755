package violation

import (
	"context"
	"errors"
	"fmt"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// PermitCheck asks the planning register whether the structure of v has a
// planning permit. It answers nil (no question to ask) unless v is illegal
// construction linked to a property. FORBIDDEN when the caller's decision
// denies the "permit" field group on v — the checker is then not called;
// SERVICE_UNAVAILABLE when no register is connected. v must be a violation
// the caller has read through this service.
func (s *Service) PermitCheck(ctx context.Context, v *Violation) (*PermitCheck, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.permitCheck(ctx, d, v)
}

// PermitChecks is PermitCheck for several violations with one decision: the
// map holds an answer for each violation that has a permit question. The
// checker is called once per such violation.
func (s *Service) PermitChecks(ctx context.Context, vs []*Violation) (map[uuid.UUID]*PermitCheck, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*PermitCheck, len(vs))
	for _, v := range vs {
		pc, err := s.permitCheck(ctx, d, v)
		if err != nil {
			return nil, err
		}
		if pc != nil {
			out[v.ID] = pc
		}
	}
	return out, nil
}

func (s *Service) permitCheck(ctx context.Context, d *access.Decision, v *Violation) (*PermitCheck, error) {
	if v == nil {
		return nil, errors.New("permit check: nil violation")
	}
	// FieldAt, not Field: a grant may raise the group on part of the rows
	// only; where it does not apply FieldAt equals Field.
	if d.FieldAt("permit", v.JurisdictionCode) == access.FieldDenied {
		return nil, apperr.New(apperr.Forbidden, "the planning-permit status is shared by planning with an approved grant only")
	}
	if !v.Kind.Construction() || v.PropertyID == nil {
		return nil, nil
	}
	if s.permits == nil {
		return nil, apperr.New(apperr.ServiceUnavailable, "the planning-permit register is not connected")
	}
	var area float64
	if v.AreaM2 != nil {
		area = *v.AreaM2
	}
	pc, err := s.permits.CheckPermit(ctx, *v.PropertyID, string(v.Subtype), area)
	if err != nil {
		return nil, fmt.Errorf("check permit of violation %s: %w", v.ID, err)
	}
	if err := s.audited(ctx, d, []string{v.RowJurisdiction()}); err != nil {
		return nil, err
	}
	return &pc, nil
}
