package violation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/upsert"
)

// Upsert creates or updates the violation the caller's department sent
// under in.ExternalID: idempotent for department systems that resend. The
// lifecycle is not touched (use Transition). version, when set, must equal
// the stored version of an existing record (else CONFLICT). The caller needs
// the "report" action. BAD_USER_INPUT on invalid input, on a change of kind,
// or on changes to a closed file.
func (s *Service) Upsert(ctx context.Context, in ReportInput, version *int) (upsert.Result[*Violation], error) {
	var none upsert.Result[*Violation]
	d, now, err := s.recording(ctx, &in)
	if err != nil {
		return none, err
	}
	if in.ExternalID == "" {
		return none, apperr.Invalid("externalId", "an upsert is keyed by the sending system's external id; give one")
	}
	if err := s.checkLinks(ctx, &in); err != nil {
		return none, err
	}
	p := access.PrincipalFrom(ctx)
	explicit := in.Jurisdiction != ""
	if explicit {
		if err := s.resolveJurisdiction(ctx, &in); err != nil {
			return none, err
		}
	}
	res, err := upsert.Run(ctx, func(ctx context.Context) (upsert.Result[*Violation], error) {
		return s.upsertRound(ctx, d.Rows, p, &in, explicit, version, now)
	})
	if err != nil {
		return none, err
	}
	// The record comes back as a read shows it: audited as one.
	if err := access.AuditReturned(ctx, s.audit, d, res.Record); err != nil {
		return none, err
	}
	return res, nil
}

// upsertRound does one read-compare-write round (upsert.Run). The caller's
// scope applies: a record it cannot see can be neither read nor overwritten
// through its key; creating under the key then meets the key's uniqueness
// and gets apperr.KeyTaken.
func (s *Service) upsertRound(ctx context.Context, scope access.RowScope, p *access.Principal, in *ReportInput,
	explicit bool, version *int, now time.Time) (upsert.Result[*Violation], error) {
	var none upsert.Result[*Violation]
	cur, err := s.store.BySource(ctx, scope, sourceDept(p), in.ExternalID)
	if apperr.Is(err, apperr.NotFound) {
		if in.Jurisdiction == "" {
			if err := s.resolveJurisdiction(ctx, in); err != nil {
				return none, err
			}
		}
		v, err := s.create(ctx, *in, p, now)
		if apperr.Is(err, apperr.Conflict) {
			return none, fmt.Errorf("%w: %w", upsert.ErrRaced, err)
		}
		if err != nil {
			return none, err
		}
		return upsert.Result[*Violation]{Record: v, Outcome: upsert.Created}, nil
	}
	if err != nil {
		return none, err
	}
	if version != nil && *version != cur.Version {
		return none, apperr.New(apperr.Conflict, "the violation has changed since you loaded it (your version %d, current version %d, status %s); reload and try again", *version, cur.Version, cur.Status)
	}
	next := *cur
	upd := *in
	if upd.DiscoveredAt == nil {
		upd.DiscoveredAt = &cur.DiscoveredAt
	}
	if !explicit {
		if upd.Lat == cur.Lat && upd.Lng == cur.Lng {
			upd.Jurisdiction = cur.JurisdictionCode
		} else if err := s.resolveJurisdiction(ctx, &upd); err != nil {
			return none, err
		}
	}
	if upd.Kind != cur.Kind {
		return none, apperr.Invalid("kind", "a recorded violation keeps its kind (%s); record a %s violation under another external id", cur.Kind, upd.Kind)
	}
	apply(&next, upd)
	changed := diff(cur, &next)
	if len(changed) == 0 {
		return upsert.Result[*Violation]{Record: cur, Outcome: upsert.Unchanged}, nil
	}
	if cur.Status == StatusClosed {
		return none, apperr.Invalid("externalId", "the violation's file is closed (%s); it can no longer change", cur.RecordNo)
	}
	next.UpdatedAt = now
	next.Version = cur.Version + 1
	ev := Event{ViolationID: cur.ID, Action: ActionUpdate, FromStatus: cur.Status, ToStatus: cur.Status,
		Actor: p.Actor(), ActorDept: sourceDept(p), Note: "changed: " + strings.Join(changed, ", "), At: now}
	if err := s.store.Update(ctx, &next, cur.Version, ev); err != nil {
		return none, upsert.Raced(err, version)
	}
	return upsert.Result[*Violation]{Record: &next, Outcome: upsert.Updated}, nil
}

// diff names the descriptive fields that differ between a and b.
func diff(a, b *Violation) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("subtype", a.Subtype != b.Subtype)
	add("channel", a.Channel != b.Channel)
	add("description", a.Description != b.Description)
	add("areaM2", !eqPtr(a.AreaM2, b.AreaM2))
	add("address", a.Address != b.Address)
	add("location", a.Lat != b.Lat || a.Lng != b.Lng)
	add("jurisdiction", a.JurisdictionCode != b.JurisdictionCode)
	add("party", a.Party != b.Party)
	add("plate", a.Plate != b.Plate)
	add("propertyId", !eqPtr(a.PropertyID, b.PropertyID))
	add("caseId", !eqPtr(a.CaseID, b.CaseID))
	add("discoveredAt", !a.DiscoveredAt.Equal(b.DiscoveredAt))
	return out
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
