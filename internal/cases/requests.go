package cases

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// RequestKind is what a handling department asks the command centre for.
type RequestKind string

// Request kinds.
const (
	RequestDefer   RequestKind = "DEFER"   // 缓办: extend the handling deadline
	RequestBacklog RequestKind = "BACKLOG" // 挂账: record that the case cannot be solved now
)

// action returns the lifecycle transition an approved request takes.
func (k RequestKind) action() Action {
	if k == RequestBacklog {
		return ActionBacklog
	}
	return ActionDefer
}

// RequestStatus is where a request stands.
type RequestStatus string

// Request statuses. Expired is never stored: it is a pending request whose
// case deadline has passed, which can no longer be approved.
const (
	RequestPending  RequestStatus = "PENDING"
	RequestApproved RequestStatus = "APPROVED"
	RequestRejected RequestStatus = "REJECTED"
	RequestExpired  RequestStatus = "EXPIRED"
)

// Request is a deferral or backlog request on a case.
type Request struct {
	ID            uuid.UUID
	CaseID        uuid.UUID
	Kind          RequestKind
	ExtraDays     int // working days, DEFER only
	Reason        string
	Status        RequestStatus // as stored: PENDING, APPROVED or REJECTED
	RequestedBy   string
	RequestedDept string
	RequestedAt   time.Time
	// CaseDeadline is the case's handling deadline when the request was
	// made; a pending request lapses with it.
	CaseDeadline *time.Time
	DecidedBy    string
	DecidedAt    *time.Time
	DecisionNote string
}

// StatusAt returns the request's status at now: a pending request whose
// case deadline has passed is EXPIRED.
func (r *Request) StatusAt(now time.Time) RequestStatus {
	if r.Status == RequestPending && deadlinePassed(r.CaseDeadline, now) {
		return RequestExpired
	}
	return r.Status
}

// RequestStore is the persistence of requests (part of Store).
type RequestStore interface {
	// SaveRequest writes r in one transaction with, when c is not nil, the
	// case's transition (c at prevVersion, CONFLICT otherwise) and ev. A
	// new request is inserted (CONFLICT when the case already has a
	// pending one); a known one is updated only while it is still pending
	// (CONFLICT otherwise).
	SaveRequest(ctx context.Context, r *Request, isNew bool, c *Case, prevVersion int, ev *Event) error
	// Request returns one request on a case within scope, or NOT_FOUND.
	Request(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Request, error)
	// Requests returns the requests on each case, oldest first.
	Requests(ctx context.Context, caseIDs []uuid.UUID) (map[uuid.UUID][]*Request, error)
	// PendingRequests returns up to limit pending requests on cases within
	// scope, oldest first.
	PendingRequests(ctx context.Context, scope access.RowScope, limit int) ([]*Request, error)
}

// deadlinePassed reports whether a case's handling deadline is over at now.
// A deadline that has passed never moves: a late case stays late.
func deadlinePassed(deadline *time.Time, now time.Time) bool {
	return deadline != nil && !now.Before(*deadline)
}

func checkReason(field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", apperr.Invalid(field, "give a reason")
	}
	if err := rules.MaxText(field, "the reason", reason, rules.MaxNote); err != nil {
		return "", err
	}
	return reason, nil
}

func checkExtraDays(kind RequestKind, n int) error {
	if kind == RequestDefer && (n < 1 || n > 30) {
		return apperr.Invalid("extraDays", "a deferral extends the deadline by 1 to 30 working days")
	}
	return nil
}

// lateRefusal is the error for a deferral or backlog asked for or approved
// once the deadline has passed.
func lateRefusal(kind RequestKind, deadline time.Time) error {
	what := "deferral"
	if kind == RequestBacklog {
		what = "backlog"
	}
	return apperr.New(apperr.BadUserInput,
		"the handling deadline passed at %s: a late case stays late, so a %s can no longer be asked for or approved",
		deadline.UTC().Format(time.RFC3339), what)
}

// RequestInput is a deferral or backlog request.
type RequestInput struct {
	Kind      RequestKind
	ExtraDays int
	Reason    string
	// Version, when set, must equal the case's current version.
	Version *int
}

// RequestChange asks the command centre to defer (缓办) or backlog (挂账) a
// case. The department the case was dispatched to (or the command centre)
// may ask, with a reason, while the case may take the transition and
// before its handling deadline has passed. A case has at most one pending
// request (CONFLICT).
func (s *Service) RequestChange(ctx context.Context, id uuid.UUID, in RequestInput) (*Request, error) {
	if in.Kind != RequestDefer && in.Kind != RequestBacklog {
		return nil, apperr.Invalid("kind", "unknown request kind %q: use DEFER or BACKLOG", in.Kind)
	}
	reason, err := checkReason("reason", in.Reason)
	if err != nil {
		return nil, err
	}
	if err := checkExtraDays(in.Kind, in.ExtraDays); err != nil {
		return nil, err
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	c, err := s.store.Get(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	if !d.Can("command") && !(d.Can("handle") && c.HandlingDept == p.Dept) {
		return nil, apperr.New(apperr.Forbidden, "only the department the case was dispatched to may ask for its deferral or backlog")
	}
	if in.Version != nil && *in.Version != c.Version {
		return nil, apperr.New(apperr.Conflict, "the case has changed since you loaded it (your version %d, current version %d, status %s); reload and try again", *in.Version, c.Version, c.Status)
	}
	now := s.Now()
	if _, err := Next(c.Status, in.Kind.action()); err != nil {
		return nil, err
	}
	if deadlinePassed(c.Deadline, now) {
		return nil, lateRefusal(in.Kind, *c.Deadline)
	}
	if err := s.lapseExpired(ctx, c.ID, now); err != nil {
		return nil, err
	}
	r := &Request{
		ID: uuid.Must(uuid.NewV7()), CaseID: c.ID, Kind: in.Kind, ExtraDays: in.ExtraDays, Reason: reason,
		Status: RequestPending, RequestedBy: p.Actor(), RequestedDept: p.Dept, RequestedAt: now, CaseDeadline: c.Deadline,
	}
	if in.Kind == RequestBacklog {
		r.ExtraDays = 0
	}
	if err := s.store.SaveRequest(ctx, r, true, nil, 0, nil); err != nil {
		return nil, fmt.Errorf("save case request: %w", err)
	}
	return r, nil
}

// lapseExpired records as rejected the case's pending request that expired
// undecided (its deadline passed, then a rework set a new one), so the
// department can ask again against the new deadline.
func (s *Service) lapseExpired(ctx context.Context, caseID uuid.UUID, now time.Time) error {
	reqs, err := s.store.Requests(ctx, []uuid.UUID{caseID})
	if err != nil {
		return fmt.Errorf("case requests: %w", err)
	}
	for _, r := range reqs[caseID] {
		if r.StatusAt(now) != RequestExpired {
			continue
		}
		r.Status, r.DecidedBy, r.DecidedAt = RequestRejected, "hub", &now
		r.DecisionNote = "lapsed undecided: the deadline passed at " + r.CaseDeadline.UTC().Format(time.RFC3339)
		if err := s.store.SaveRequest(ctx, r, false, nil, 0, nil); err != nil && !apperr.Is(err, apperr.Conflict) {
			return fmt.Errorf("lapse expired request: %w", err)
		}
	}
	return nil
}

// DecideRequest approves or rejects a pending request; the command centre
// only. Approving applies the transition in the same transaction: a
// deferral extends the deadline it was asked against by its working days
// (never from now), a backlog takes the case out of the open cases. It is
// refused once the case's deadline has passed (the request has expired) or
// when the case can no longer take the transition. Rejecting needs a note.
func (s *Service) DecideRequest(ctx context.Context, id uuid.UUID, approve bool, note string) (*Request, error) {
	note = strings.TrimSpace(note)
	if !approve {
		var err error
		if note, err = checkReason("note", note); err != nil {
			return nil, err
		}
	} else if err := rules.MaxText("note", "the note", note, rules.MaxNote); err != nil {
		return nil, err
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !d.Can("command") {
		return nil, apperr.New(apperr.Forbidden, "only the urban-management command centre may decide deferral and backlog requests")
	}
	r, err := s.store.Request(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	if st := r.StatusAt(now); st != RequestPending && (approve || st != RequestExpired) {
		return nil, apperr.New(apperr.BadUserInput, "the request is %s and can no longer be %s", st, map[bool]string{true: "approved", false: "rejected"}[approve])
	}
	p := access.PrincipalFrom(ctx)
	r.DecidedBy, r.DecidedAt, r.DecisionNote = p.Actor(), &now, note
	if !approve {
		r.Status = RequestRejected
		if err := s.store.SaveRequest(ctx, r, false, nil, 0, nil); err != nil {
			return nil, fmt.Errorf("reject case request: %w", err)
		}
		return r, nil
	}
	c, err := s.store.Get(ctx, d.Rows, r.CaseID)
	if err != nil {
		return nil, err
	}
	prevVersion := c.Version
	ev, err := s.applyRequest(c, r, p, now)
	if err != nil {
		return nil, err
	}
	r.Status = RequestApproved
	if err := s.store.SaveRequest(ctx, r, false, c, prevVersion, ev); err != nil {
		return nil, fmt.Errorf("approve case request: %w", err)
	}
	return r, nil
}

// directRequest is the command centre's own deferral or backlog (deferCase,
// backlogCase): a request it makes and approves at once, under the same
// rules, recorded like any other.
func (s *Service) directRequest(ctx context.Context, d *access.Decision, c *Case, a Action, in TransitionInput) (*Case, error) {
	kind := RequestDefer
	if a == ActionBacklog {
		kind = RequestBacklog
	}
	reason, err := checkReason("note", in.Note)
	if err != nil {
		return nil, err
	}
	if err := checkExtraDays(kind, in.ExtraDays); err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	now := s.Now()
	r := &Request{
		ID: uuid.Must(uuid.NewV7()), CaseID: c.ID, Kind: kind, ExtraDays: in.ExtraDays, Reason: reason,
		Status: RequestApproved, RequestedBy: p.Actor(), RequestedDept: p.Dept, RequestedAt: now, CaseDeadline: c.Deadline,
		DecidedBy: p.Actor(), DecidedAt: &now,
	}
	if kind == RequestBacklog {
		r.ExtraDays = 0
	}
	prevVersion := c.Version
	ev, err := s.applyRequest(c, r, p, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.SaveRequest(ctx, r, true, c, prevVersion, ev); err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
		return nil, err
	}
	return c, nil
}

// applyRequest moves c as an approved r says and returns the timeline
// event. BAD_USER_INPUT when the case cannot take the transition or its
// deadline has passed.
func (s *Service) applyRequest(c *Case, r *Request, p *access.Principal, now time.Time) (*Event, error) {
	a := r.Kind.action()
	next, err := Next(c.Status, a)
	if err != nil {
		return nil, err
	}
	if deadlinePassed(c.Deadline, now) {
		return nil, lateRefusal(r.Kind, *c.Deadline)
	}
	if a == ActionDefer {
		// From the deadline the case had, never from now: asking early
		// gains nothing and asking late is refused above.
		base := now
		if c.Deadline != nil {
			base = *c.Deadline
		}
		c.Deadline = ptr(s.cal.AddWorkingDays(base, r.ExtraDays))
		c.DeferCount++
	}
	prev := c.Status
	c.Status = next
	c.UpdatedAt = now
	c.Version++
	note := r.Reason
	if r.RequestedBy != p.Actor() {
		note = fmt.Sprintf("%s (asked by %s %s)", r.Reason, r.RequestedDept, r.RequestedBy)
	}
	return &Event{CaseID: c.ID, Action: a, FromStatus: prev, ToStatus: next, Actor: p.Actor(), ActorDept: p.Dept, Note: note, At: now}, nil
}

// Requests returns the requests on cases the caller can already see.
func (s *Service) Requests(ctx context.Context, caseIDs []uuid.UUID) (map[uuid.UUID][]*Request, error) {
	return s.store.Requests(ctx, caseIDs)
}

// PendingRequests lists the pending (and expired, undecided) requests on
// the cases within the caller's scope, oldest first: the command centre's
// inbox, or a department's open requests. Requests are part of a case's
// workflow: FORBIDDEN to callers who may not read that group; a caller
// with no case rows gets an empty list, as for any case list.
func (s *Service) PendingRequests(ctx context.Context, first int) ([]*Request, error) {
	if first < 1 || first > 500 {
		return nil, apperr.Invalid("first", "first must be between 1 and 500")
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if d.Rows.Empty() {
		return []*Request{}, nil
	}
	if d.Field("workflow") != access.FieldVisible {
		return nil, apperr.New(apperr.Forbidden, "you may not read the workflow of cases")
	}
	list, err := s.store.PendingRequests(ctx, d.Rows, first)
	if list == nil && err == nil {
		list = []*Request{}
	}
	return list, err
}
