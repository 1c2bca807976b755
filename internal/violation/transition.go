package violation

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// TransitionInput carries what a transition needs besides the action.
type TransitionInput struct {
	// Version, when set, must equal the violation's current version
	// (optimistic concurrency): a stale version gets CONFLICT.
	Version *int
	// Note is free text; DISMISS, LEGALIZE and PENALIZE require it (the
	// reason, the permit or approval reference, the penalty decision).
	Note string
	// Days overrides the working days ISSUE_NOTICE gives to rectify
	// (0 = immediately); Kind.NoticeDaysDefault when nil.
	Days *int
	// DemolishedAreaM2 is the area removed on DEMOLISH; the recorded area
	// when nil.
	DemolishedAreaM2 *float64
}

// Transition moves a violation through its lifecycle. The caller needs the
// "handle" action and must belong to the owning department (the traffic
// police for illegal parking, urban management for the rest), else
// FORBIDDEN. BAD_USER_INPUT for an illegal transition (the message names
// the current status) or missing input, CONFLICT for a stale version,
// NOT_FOUND when the violation is not visible. Nothing is written unless
// all checks pass; the change and its event are written together.
func (s *Service) Transition(ctx context.Context, id uuid.UUID, a Action, in TransitionInput) (*Violation, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	in.Note = strings.TrimSpace(in.Note)
	if err := rules.MaxText("note", "the note", in.Note, rules.MaxNote); err != nil {
		return nil, err
	}
	v, err := s.store.Get(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	if !d.Can("handle") {
		return nil, apperr.New(apperr.Forbidden, "you may not handle violations")
	}
	if p.Dept != v.OwnerDept {
		return nil, apperr.New(apperr.Forbidden, "%s violations are handled by %s only", strings.ToLower(string(v.Kind)), v.OwnerDept)
	}
	if in.Version != nil && *in.Version != v.Version {
		return nil, apperr.New(apperr.Conflict, "the violation has changed since you loaded it (your version %d, current version %d, status %s); reload and try again", *in.Version, v.Version, v.Status)
	}
	next, err := Next(v.Status, a)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	prev, prevVersion := v.Status, v.Version
	note := in.Note
	switch a {
	case ActionIssueNotice:
		days := v.Kind.NoticeDaysDefault()
		if in.Days != nil {
			days = *in.Days
		}
		if days < 0 || days > NoticeDaysMax {
			return nil, apperr.Invalid("days", "a notice gives 0 (immediately) to %d working days to rectify", NoticeDaysMax)
		}
		v.NoticeIssuedAt = &now
		v.Deadline = ptr(s.cal.AddWorkingDays(now, days).UTC().Truncate(time.Microsecond))
		note = strings.TrimSpace(fmt.Sprintf("rectify within %d working days, by %s %s", days,
			v.Deadline.In(shanghai).Format("2006-01-02 15:04"), in.Note))
	case ActionMarkDue:
		if v.Deadline == nil || now.Before(*v.Deadline) {
			return nil, apperr.New(apperr.BadUserInput, "the rectification deadline (%s) has not passed yet", fmtDeadline(v.Deadline))
		}
		v.DueAt = &now
	case ActionDemolish:
		if v.Kind == KindIllegalParking {
			return nil, apperr.Invalid("action", "illegal parking is not demolished; penalize the violation or dismiss it")
		}
		area := v.AreaM2
		if in.DemolishedAreaM2 != nil {
			if !validArea(*in.DemolishedAreaM2) {
				return nil, apperr.Invalid("demolishedAreaM2", "the demolished area must be more than 0 and at most %d m²", AreaMaxM2)
			}
			a := math.Round(*in.DemolishedAreaM2*100) / 100
			area = &a
		}
		if area == nil && v.Kind.Construction() {
			return nil, apperr.Invalid("demolishedAreaM2", "give the demolished area in m²")
		}
		v.DemolishedAreaM2 = area
		v.ResolvedAt = &now
		if area != nil {
			note = strings.TrimSpace(fmt.Sprintf("demolished %.2f m² %s", *area, in.Note))
		}
	case ActionLegalize:
		if v.Kind == KindIllegalParking || v.Kind == KindDumping {
			return nil, apperr.Invalid("action", "%s cannot be legalized", strings.ToLower(strings.ReplaceAll(string(v.Kind), "_", " ")))
		}
		if in.Note == "" {
			return nil, apperr.Invalid("note", "give the permit or approval reference")
		}
		v.ResolvedAt = &now
	case ActionPenalize:
		if in.Note == "" {
			return nil, apperr.Invalid("note", "give the penalty decision (number, amount)")
		}
		v.ResolvedAt = &now
	case ActionDismiss:
		if in.Note == "" {
			return nil, apperr.Invalid("note", "give the reason the violation is unfounded")
		}
		v.ClosedAt = &now
	case ActionClose:
		v.ClosedAt = &now
	}
	if o, ok := outcomes[a]; ok {
		v.Outcome = o
	}
	v.Status = next
	v.UpdatedAt = now
	v.Version++
	ev := Event{ViolationID: v.ID, Action: a, FromStatus: prev, ToStatus: next, Actor: p.Actor(), ActorDept: p.Dept, Note: note, At: now}
	if err := s.store.Update(ctx, v, prevVersion, ev); err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, v); err != nil {
		return nil, err
	}
	return v, nil
}

// SweepDue records RECTIFICATION_DUE for every notice whose deadline has
// passed, with a MARK_DUE event by SweepActor, and returns how many moved.
// It is the scheduler's job, not a request: it consults no decision, and
// changes nothing an officer's MARK_DUE would not.
func (s *Service) SweepDue(ctx context.Context) (int, error) {
	n, err := s.store.MarkDue(ctx, s.Now(), SweepActor, "the rectification deadline passed")
	if err != nil {
		return 0, fmt.Errorf("sweep due violations: %w", err)
	}
	return n, nil
}

func fmtDeadline(t *time.Time) string {
	if t == nil {
		return "none set"
	}
	return t.In(shanghai).Format("2006-01-02 15:04")
}
