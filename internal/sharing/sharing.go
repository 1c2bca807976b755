// Package sharing is the data-sharing workflow (数据共享申请): a department
// asks another for conditional or personal data (dataset, field groups,
// jurisdiction, purpose, expiry); the provider's admin approves or rejects
// with a reason; an approved request becomes an access grant (Casbin policy)
// until it expires or is revoked. Every step is recorded.
package sharing

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/google/uuid"
)

// Status is where a request stands.
type Status string

// Request statuses.
const (
	StatusPending  Status = "PENDING"
	StatusApproved Status = "APPROVED" // an active grant (until it expires)
	StatusRejected Status = "REJECTED"
	StatusRevoked  Status = "REVOKED"
	StatusExpired  Status = "EXPIRED"
)

// MaxGrantLifetime caps how long a grant may last.
const MaxGrantLifetime = 366 * 24 * time.Hour

// Request is one data-sharing request and, once approved, its grant.
type Request struct {
	ID            uuid.UUID
	RequesterDept string
	RequestedBy   string
	ProviderDept  string
	Dataset       string
	FieldGroups   []string
	Jurisdiction  string
	Purpose       string
	Until         time.Time
	Status        Status
	DecidedBy     string
	DecidedAt     *time.Time
	Reason        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Grant returns the access grant an approved request stands for.
func (r *Request) Grant() access.Grant {
	return access.Grant{ID: r.ID.String(), Grantee: r.RequesterDept, Dataset: r.Dataset, Groups: r.FieldGroups,
		Jurisdiction: r.Jurisdiction, Purpose: r.Purpose, Until: r.Until}
}

// Direction selects a department's requests.
type Direction string

// Directions.
const (
	Incoming Direction = "INCOMING" // asked of my department
	Outgoing Direction = "OUTGOING" // asked by my department
)

// Store persists requests.
type Store interface {
	Create(ctx context.Context, r *Request) error
	Get(ctx context.Context, id uuid.UUID) (*Request, error)
	// List returns the department's requests in one direction, newest first.
	List(ctx context.Context, dept string, dir Direction, statuses []Status) ([]*Request, error)
	// Decide serializes the decisions on one request: it locks request id
	// until commit, hands its current record to decide, and when decide
	// returns nil writes the record as decide left it together with the
	// grant's policy lines, which follow the status (stored when it becomes
	// APPROVED, removed when it is anything else), in one transaction.
	// NOT_FOUND for an unknown id; decide's error is returned as it is and
	// nothing is written.
	Decide(ctx context.Context, id uuid.UUID, decide func(r *Request) error) (*Request, error)
	// Expire marks approved requests past their until as EXPIRED, removes
	// their policy lines in the same transaction, and returns them.
	Expire(ctx context.Context, now time.Time) ([]*Request, error)
	// Reconcile removes every grant line whose request is not APPROVED and
	// returns how many it removed.
	Reconcile(ctx context.Context) (int, error)
}

// Grants is the policy side: the access engine. The grant lines themselves
// are written by the Store, in the decision's transaction.
type Grants interface {
	Catalog() *access.Catalog
	ValidateGrant(g access.Grant) error
	// PolicyChanged reloads this instance's policy and tells the others,
	// after the Store committed a change to grant lines.
	PolicyChanged(ctx context.Context, what string) error
}

// Service runs the workflow.
type Service struct {
	store  Store
	dir    directory.Lookup
	grants Grants
	now    func() time.Time
	log    *slog.Logger
}

// NewService returns a sharing service; now and log may be nil. dir checks
// the jurisdiction a request names.
func NewService(store Store, dir directory.Lookup, grants Grants, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, dir: dir, grants: grants, now: now, log: log}
}

// RequestInput is what a department asks for.
type RequestInput struct {
	Dataset      string
	FieldGroups  []string
	Jurisdiction string
	Purpose      string
	Until        time.Time
}

func staff(p *access.Principal) bool {
	return p.Kind == access.KindUser && p.Dept != "" && (p.HasRole(access.RoleAdmin) || p.HasRole(access.RoleOfficer))
}

// RequestAccess files a request for the caller's department. The caller
// must be an admin or officer of a department; the field groups must be
// conditional or personal groups of one provider other than the caller's
// department; the jurisdiction, when given, must exist in the jurisdiction
// tree. BAD_USER_INPUT names the first problem; nothing is written then.
func (s *Service) RequestAccess(ctx context.Context, in RequestInput) (*Request, error) {
	p := access.PrincipalFrom(ctx)
	if !staff(p) {
		return nil, apperr.New(apperr.Forbidden, "only a department's admin or officer may request data")
	}
	in.Purpose = strings.TrimSpace(in.Purpose)
	now := s.now().UTC()
	switch {
	case utf8.RuneCountInString(in.Purpose) < 4 || utf8.RuneCountInString(in.Purpose) > 500:
		return nil, apperr.Invalid("purpose", "state the purpose in 4 to 500 characters")
	case !in.Until.After(now):
		return nil, apperr.Invalid("until", "the grant must end in the future")
	case in.Until.Sub(now) > MaxGrantLifetime:
		return nil, apperr.Invalid("until", "a grant lasts at most one year; ask again to renew")
	case len(in.FieldGroups) == 0:
		return nil, apperr.Invalid("fieldGroups", "name at least one field group")
	}
	ds, ok := s.grants.Catalog().Dataset(in.Dataset)
	if !ok {
		return nil, apperr.Invalid("dataset", "unknown dataset %q", in.Dataset)
	}
	provider := ""
	groups := slices.Clone(in.FieldGroups)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	for _, name := range groups {
		g, ok := ds.Group(name)
		if !ok {
			return nil, apperr.Invalid("fieldGroups", "dataset %s has no field group %q", ds.Name, name)
		}
		if g.Class != access.ClassConditional && g.Class != access.ClassPersonal {
			return nil, apperr.Invalid("fieldGroups", "%s/%s is %s data: it is not granted on request", ds.Name, name, g.Class)
		}
		pv := ds.ProviderOf(g)
		if provider != "" && pv != provider {
			return nil, apperr.Invalid("fieldGroups", "the groups come from different providers (%s, %s): ask each separately", provider, pv)
		}
		provider = pv
	}
	if provider == p.Dept {
		return nil, apperr.Invalid("fieldGroups", "your department provides this data already")
	}
	if in.Jurisdiction == "" {
		in.Jurisdiction = "hailing"
	}
	r := &Request{
		ID: uuid.Must(uuid.NewV7()), RequesterDept: p.Dept, RequestedBy: p.Actor(), ProviderDept: provider,
		Dataset: ds.Name, FieldGroups: groups, Jurisdiction: in.Jurisdiction, Purpose: in.Purpose,
		Until: in.Until.UTC(), Status: StatusPending, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.grants.ValidateGrant(r.Grant()); err != nil {
		return nil, apperr.Invalid("request", "%s", strings.TrimPrefix(err.Error(), "access: "))
	}
	// A well-formed code need not name a real jurisdiction; a grant on one
	// that does not exist would be approved and then match no row at all.
	if ok, err := s.dir.JurisdictionExists(ctx, r.Jurisdiction); err != nil {
		return nil, fmt.Errorf("create access request: jurisdiction[%s]: %w", r.Jurisdiction, err)
	} else if !ok {
		return nil, apperr.Invalid("jurisdiction", "unknown jurisdiction %q: name one of the jurisdiction tree, such as hailing.chengdong, or leave it out for the whole district", r.Jurisdiction)
	}
	if err := s.store.Create(ctx, r); err != nil {
		return nil, fmt.Errorf("create access request: %w", err)
	}
	return r, nil
}

// decide runs one decision on request id under the store's row lock: fn
// sees the record as committed by any earlier decision, and its change and
// the grant's policy lines are written together. A department not party to
// the request gets NOT_FOUND, as if it did not exist. The instances reload
// after the commit.
func (s *Service) decide(ctx context.Context, id uuid.UUID, what string, fn func(r *Request, p *access.Principal, now time.Time) error) (*Request, error) {
	p := access.PrincipalFrom(ctx)
	r, err := s.store.Decide(ctx, id, func(r *Request) error {
		if p.Dept == "" || (r.ProviderDept != p.Dept && r.RequesterDept != p.Dept) {
			return apperr.New(apperr.NotFound, "access request %s not found", id)
		}
		return fn(r, p, s.now().UTC())
	})
	if err != nil {
		return nil, err
	}
	s.published(ctx, what+" "+id.String())
	return r, nil
}

// published reloads and notifies after a committed policy change. The
// decision stands whatever happens here: this instance reloads on its next
// maintenance round, the others on theirs or on the next notification.
func (s *Service) published(ctx context.Context, what string) {
	if err := s.grants.PolicyChanged(ctx, what); err != nil {
		s.log.Warn("grant policy changed but not yet applied everywhere", "change", what, "err", err)
	}
}

func providerAdmin(p *access.Principal, r *Request) error {
	if p.Kind != access.KindUser || p.Dept != r.ProviderDept || !p.HasRole(access.RoleAdmin) {
		return apperr.New(apperr.Forbidden, "only an admin of %s, which provides this data, may decide", r.ProviderDept)
	}
	return nil
}

func pendingOnly(r *Request) error {
	if r.Status != StatusPending {
		return apperr.New(apperr.Conflict, "the request is already %s", r.Status)
	}
	return nil
}

// Approve turns a pending request into an active grant. Only the provider
// department's admin may approve. The record and the grant's policy lines
// are written in one transaction, serialized with every other decision on
// the request.
func (s *Service) Approve(ctx context.Context, id uuid.UUID) (*Request, error) {
	return s.decide(ctx, id, "approve", func(r *Request, p *access.Principal, now time.Time) error {
		if err := providerAdmin(p, r); err != nil {
			return err
		}
		if err := pendingOnly(r); err != nil {
			return err
		}
		if !r.Until.After(now) {
			return apperr.New(apperr.BadUserInput, "the requested period ended at %s; ask for a new request", r.Until.Format(time.RFC3339))
		}
		if err := s.grants.ValidateGrant(r.Grant()); err != nil {
			return apperr.Invalid("request", "%s", strings.TrimPrefix(err.Error(), "access: "))
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.UpdatedAt = StatusApproved, p.Actor(), &now, now
		return nil
	})
}

// Reject refuses a pending request with a reason. Provider admin only.
func (s *Service) Reject(ctx context.Context, id uuid.UUID, reason string) (*Request, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, apperr.Invalid("reason", "give the requester a reason")
	}
	return s.decide(ctx, id, "reject", func(r *Request, p *access.Principal, now time.Time) error {
		if err := providerAdmin(p, r); err != nil {
			return err
		}
		if err := pendingOnly(r); err != nil {
			return err
		}
		r.Status, r.DecidedBy, r.DecidedAt, r.Reason, r.UpdatedAt = StatusRejected, p.Actor(), &now, reason, now
		return nil
	})
}

// Revoke ends an active grant at once. The provider's admin may revoke; so
// may the requesting department's admin (giving data back). The record and
// the removal of the grant's lines commit together.
func (s *Service) Revoke(ctx context.Context, id uuid.UUID, reason string) (*Request, error) {
	return s.decide(ctx, id, "revoke", func(r *Request, p *access.Principal, now time.Time) error {
		if p.Kind != access.KindUser || !p.HasRole(access.RoleAdmin) {
			return apperr.New(apperr.Forbidden, "only an admin of the provider or of the requesting department may revoke a grant")
		}
		if r.Status != StatusApproved {
			return apperr.New(apperr.Conflict, "only an active grant can be revoked; this request is %s", r.Status)
		}
		r.Status, r.Reason, r.UpdatedAt = StatusRevoked, strings.TrimSpace(reason), now
		r.DecidedBy, r.DecidedAt = p.Actor(), &now
		return nil
	})
}

// List returns the caller's department's requests in one direction.
func (s *Service) List(ctx context.Context, dir Direction, statuses []Status) ([]*Request, error) {
	p := access.PrincipalFrom(ctx)
	if p.Dept == "" || p.Kind != access.KindUser {
		return nil, apperr.New(apperr.Forbidden, "data-sharing requests belong to departments' staff")
	}
	return s.store.List(ctx, p.Dept, dir, statuses)
}

// ActiveGrants returns the approved, unexpired requests of the caller's
// department in one direction.
func (s *Service) ActiveGrants(ctx context.Context, dir Direction) ([]*Request, error) {
	list, err := s.List(ctx, dir, []Status{StatusApproved})
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := list[:0]
	for _, r := range list {
		if r.Until.After(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ExpireDue marks grants past their end as EXPIRED and removes their policy
// lines in the same transaction. The engine already ignores them from their
// until on; this keeps the records and the policy store tidy. It then
// reconciles (see Reconcile). Safe to run on every instance.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	expired, err := s.store.Expire(ctx, s.now().UTC())
	if err != nil {
		return 0, err
	}
	if len(expired) > 0 {
		s.published(ctx, "expire grants")
	}
	if _, err := s.Reconcile(ctx); err != nil {
		return len(expired), err
	}
	return len(expired), nil
}

// Reconcile removes every grant line whose request is not APPROVED (left by
// an older version's unserialized decisions, or written by hand) and, when
// it removed any, makes every instance reload. Run at start and with the
// periodic maintenance; safe on every instance at once.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	n, err := s.store.Reconcile(ctx)
	if err != nil {
		return 0, fmt.Errorf("reconcile grants: %w", err)
	}
	if n > 0 {
		s.log.Warn("removed grant lines without an approved request", "lines", n)
		s.published(ctx, "reconcile grants")
	}
	return n, nil
}
