package cases

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// Store is the persistence the case service needs. Every read takes the
// caller's row scope and applies it inside the query: a case outside the
// scope is reported exactly like a case that does not exist (NOT_FOUND).
type Store interface {
	// Get returns one case within scope, or NOT_FOUND.
	Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Case, error)
	// GetMany returns the cases within scope among ids, in any order.
	GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*Case, error)
	// List returns up to q.First cases after q.After and whether more follow.
	List(ctx context.Context, scope access.RowScope, q ListQuery) ([]*Case, bool, error)
	// Count returns how many cases within scope match f.
	Count(ctx context.Context, scope access.RowScope, f Filter, now time.Time) (int, error)
	// Create inserts a new case with its first timeline event.
	Create(ctx context.Context, c *Case, ev Event) error
	// Update writes c if its stored version is still prevVersion (else
	// CONFLICT naming the current status) and appends ev, atomically.
	Update(ctx context.Context, c *Case, prevVersion int, ev Event) error
	// Timelines returns the events of each case, oldest first.
	Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Event, error)
	// BySource returns the case sourceDept sent under externalID within
	// scope, or NOT_FOUND (a case outside scope is missing to the caller).
	BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*Case, error)
	// Revise writes c's reported fields (what its sender describes, not
	// its workflow) if its stored version is still prevVersion (else
	// CONFLICT), with its change event, atomically. No timeline event.
	Revise(ctx context.Context, c *Case, prevVersion int) error
	// GetByCitizenKey returns the report the citizen filed through the app
	// under idempotency key key, or NOT_FOUND. Creating a second case with
	// the same citizen and key is CONFLICT.
	GetByCitizenKey(ctx context.Context, citizenID, key string) (*Case, error)
	// ByParent returns, per parent key, its page of records within scope
	// (req gives the nested list's cursor and size) and, with withCount,
	// each parent's total.
	// ByParent leaves the parts in skip unread (see ListQuery.Skip).
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool, skip Parts) (map[string][]*Case, map[string]int, error)
	// CountByParent counts, per parent key, its records within scope.
	CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error)
	RequestStore
}

// Authorizer decides what the calling principal may do with a dataset. It
// is computed once per request and dataset.
type Authorizer interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// Calendar counts working time for deadlines.
type Calendar interface {
	AddWorkingHours(start time.Time, d time.Duration) time.Time
	AddWorkingDays(start time.Time, n int) time.Time
}

// Auditor records the reads that must leave a trace (access.Auditor).
type Auditor = access.Auditor

// Config are a Service's dependencies.
type Config struct {
	Store      Store
	Authorizer Authorizer
	// Directory locates points and checks jurisdiction and department
	// codes, for writes and list filters alike.
	Directory directory.Lookup
	Calendar  Calendar
	// Auditor may be nil (no audit trail: tests of the workflow alone).
	Auditor Auditor
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service implements the case workflow. It is safe for concurrent use.
type Service struct {
	dir     directory.Lookup
	store   Store
	auth    Authorizer
	cal     Calendar
	audit   Auditor
	classes *Catalogue
	now     func() time.Time
}

// NewService returns a case service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: cfg.Directory, store: cfg.Store, auth: cfg.Authorizer, cal: cfg.Calendar, audit: cfg.Auditor,
		classes: DefaultCatalogue(), now: cfg.Now}
}

// audited records a read of the rows in jurisdictions (one per row
// returned) when the auditor wants it.
func (s *Service) audited(ctx context.Context, d *access.Decision, jurisdictions []string) error {
	return access.AuditRead(ctx, s.audit, d, jurisdictions)
}

// Classes returns the class catalogue.
func (s *Service) Classes() *Catalogue { return s.classes }

// Now returns the service clock's current time.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Decide returns the caller's decision on cases. A caller who may not read
// cases gets a decision without rows: lists and counts come back empty
// (as for any scope holding nothing), Watch refuses.
func (s *Service) Decide(ctx context.Context) (*access.Decision, error) {
	return s.auth.Decide(ctx, Dataset)
}

// Get returns a case visible to the caller. NOT_FOUND when it does not exist
// or lies outside the caller's scope.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Case, error) {
	return access.ReadOne(ctx, s.Decide, s.audit, func(rows access.RowScope) (*Case, error) { return s.store.Get(ctx, rows, id) })
}

// GetMany returns the visible cases among ids (entity resolution, loaders).
func (s *Service) GetMany(ctx context.Context, ids []uuid.UUID) ([]*Case, error) {
	return access.ReadMany(ctx, s.Decide, s.audit, func(rows access.RowScope) ([]*Case, error) { return s.store.GetMany(ctx, rows, ids) })
}

// Page is one page of a case list.
type Page struct {
	Cases   []*Case
	HasNext bool
	HasPrev bool
	Order   Order
}

// Cursor returns the cursor of the i-th case of the page.
func (p *Page) Cursor(i int) string {
	c := p.Cases[i]
	return page.At(string(p.Order), p.Order.SortKey(c), c.ID).Encode()
}

// List returns a page of cases visible to the caller. BAD_USER_INPUT for
// an unknown order, an invalid filter, page size or cursor.
func (s *Service) List(ctx context.Context, f Filter, order Order, first *int, after *string) (*Page, error) {
	return s.ListPage(ctx, f, order, page.Args{First: first, After: after})
}

// ListPage is List with every Relay argument: first/after page forward,
// last/before backward (the page still in the list's order).
// BAD_USER_INPUT for a mix of the two directions.
func (s *Service) ListPage(ctx context.Context, f Filter, order Order, args page.Args) (*Page, error) {
	return s.ListPageWithout(ctx, f, order, args, 0)
}

// ListPageWithout is ListPage leaving the parts in skip unread (zero in
// every case of the page), for a caller that writes only the rest.
func (s *Service) ListPageWithout(ctx context.Context, f Filter, order Order, args page.Args, skip Parts) (*Page, error) {
	var req page.Request
	if order == "" {
		order = OrderReportedDesc
	}
	list, more, err := access.ReadPage(ctx, s.Decide, s.audit, func(d *access.Decision) ([]*Case, bool, error) {
		if !order.Valid() {
			return nil, false, apperr.Invalid("orderBy", "unknown order %q", order)
		}
		r, err := page.ParseArgs(args, string(order), page.TimeKey)
		if err != nil {
			return nil, false, err
		}
		req = r
		if err := s.validateFilter(ctx, d, &f, order); err != nil {
			return nil, false, err
		}
		list, more, err := s.store.List(ctx, d.Rows, ListQuery{Filter: f, Order: order, First: req.First, After: req.After, Backward: req.Backward, Last: req.Last, Before: req.Before, Now: s.Now(), Skip: skip})
		if err != nil {
			return nil, false, fmt.Errorf("list cases: %w", err)
		}
		return list, more, nil
	})
	if err != nil {
		return nil, err
	}
	info := req.InfoOf(more)
	return &Page{Cases: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: order}, nil
}

// Count returns how many cases visible to the caller match f.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.validateFilter(ctx, d, &f, ""); err != nil {
		return 0, err
	}
	return s.store.Count(ctx, d.Rows, f, s.Now())
}

// Timelines returns the timelines of cases the caller can already see.
func (s *Service) Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Event, error) {
	return s.store.Timelines(ctx, ids)
}

// validateFilter checks f and normalises its text. BAD_USER_INPUT for a
// malformed or unknown jurisdiction, too long a text or a minor class
// outside the major class.
func (s *Service) validateFilter(ctx context.Context, d *access.Decision, f *Filter, o Order) error {
	if err := d.CheckFilter(strings.TrimSpace(f.Jurisdiction), f.Terms(o)); err != nil {
		return err
	}
	f.Text = strings.TrimSpace(f.Text)
	if err := rules.SearchText("filter.text", f.Text); err != nil {
		return err
	}
	if f.MinorCode != "" && f.MajorCode != "" && !strings.HasPrefix(f.MinorCode, f.MajorCode) {
		return apperr.Invalid("filter.minorCode", "minor class %s is not under major class %s", f.MinorCode, f.MajorCode)
	}
	return directory.CheckFilter(ctx, "filter.jurisdiction", f.Jurisdiction, s.dir.JurisdictionExists)
}

// ReportInput is a new case as reported by an inspector, a department
// system or a citizen.
type ReportInput struct {
	Kind          Kind
	MinorCode     string
	Source        Source
	Description   string
	Address       string
	Lat, Lng      float64
	Jurisdiction  string // optional: located from the point when empty
	ReporterName  string
	ReporterPhone string
	PhotoURLs     []string
	CitizenID     string
	ExternalID    string
	// citizenKey is set by ReportIssue only: the app's idempotency key.
	citizenKey string
	ReportedAt *time.Time
	// PropertyID names the residential compound the case is about.
	PropertyID *uuid.UUID
}

// Report files a new case in status REPORTED. The caller needs the "report"
// action on cases; BAD_USER_INPUT on invalid input (nothing is written).
func (s *Service) Report(ctx context.Context, in ReportInput) (*Case, error) {
	return s.file(ctx, in, actionReport)
}

// Dataset actions of cases that file a case: a staff report chooses every
// field; a citizen's report through the app (ReportIssue) is filled in by
// the hub and needs only its own action, so the citizen app never holds
// the staff one.
const (
	actionReport        = "report"
	actionCitizenReport = "citizen-report"
)

// file stores a new case for a caller holding action.
func (s *Service) file(ctx context.Context, in ReportInput, action string) (*Case, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !d.Can(action) {
		return nil, apperr.New(apperr.Forbidden, "you may not file cases")
	}
	p := access.PrincipalFrom(ctx)
	cl, err := ReportRules{Classes: s.classes}.Check(&in)
	if err != nil {
		return nil, err
	}
	if in.Jurisdiction, err = directory.Place(ctx, s.dir, "report", in.Jurisdiction, in.Lat, in.Lng); err != nil {
		return nil, err
	}
	now := s.Now()
	reported := now
	if in.ReportedAt != nil {
		if err := recordtime.Check("reportedAt", *in.ReportedAt, now); err != nil {
			return nil, err
		}
		reported = in.ReportedAt.UTC()
	}
	c := &Case{
		ID: uuid.Must(uuid.NewV7()), OwnerDept: OwnerDept,
		Kind: cl.Kind, MajorCode: cl.MajorCode, MinorCode: cl.MinorCode,
		Source: in.Source, Status: StatusReported,
		Description: in.Description, Address: in.Address, Lat: in.Lat, Lng: in.Lng,
		JurisdictionCode: in.Jurisdiction,
		ReporterName:     in.ReporterName, ReporterPhone: in.ReporterPhone, CitizenID: in.CitizenID,
		PhotoURLs: in.PhotoURLs, ReportedAt: reported,
		SourceDept: sourceDept(p), ExternalID: in.ExternalID, CitizenKey: in.citizenKey, PropertyID: in.PropertyID,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if c.PhotoURLs == nil {
		c.PhotoURLs = []string{}
	}
	ev := Event{CaseID: c.ID, Action: ActionReport, ToStatus: StatusReported, Actor: p.Actor(), ActorDept: p.Dept, At: now}
	if err := s.store.Create(ctx, c, ev); err != nil {
		return nil, fmt.Errorf("create case: %w", err)
	}
	// The new case comes back with its reporter: audited as a read of it.
	if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
		return nil, err
	}
	return c, nil
}

func sourceDept(p *access.Principal) string {
	if p.Dept == "" {
		return OwnerDept
	}
	return p.Dept
}

// TransitionInput carries what a transition needs besides the action.
type TransitionInput struct {
	// Version, when set, must equal the case's current version (optimistic
	// concurrency): a stale version gets CONFLICT.
	Version *int
	Note    string
	// Dept is the department a case is dispatched to.
	Dept string
	// ExtraDays extends the deadline on DEFER (working days).
	ExtraDays int
}

// commandActions are taken by the command centre; the others by the
// department the case was dispatched to.
var commandActions = map[Action]bool{
	ActionRegister: true, ActionDecline: true, ActionDispatch: true,
	ActionVerify: true, ActionRework: true, ActionBacklog: true, ActionDefer: true,
}

// Transition moves a case through its lifecycle. BAD_USER_INPUT for an
// illegal transition (the message names the current status), CONFLICT for a
// stale version, FORBIDDEN when the caller may not take the action, NOT_FOUND
// when the case is not visible. Nothing is written unless all checks pass.
func (s *Service) Transition(ctx context.Context, id uuid.UUID, a Action, in TransitionInput) (*Case, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	in.Note = strings.TrimSpace(in.Note)
	if err := rules.MaxText("note", "the note", in.Note, rules.MaxNote); err != nil {
		return nil, err
	}
	c, err := s.store.Get(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	if commandActions[a] {
		if !d.Can("command") {
			return nil, apperr.New(apperr.Forbidden, "only the urban-management command centre may %s cases", strings.ToLower(string(a)))
		}
	} else if !d.Can("command") && !(d.Can("handle") && c.HandlingDept == p.Dept) {
		return nil, apperr.New(apperr.Forbidden, "only the department the case was dispatched to may %s it", strings.ToLower(string(a)))
	}
	if in.Version != nil && *in.Version != c.Version {
		return nil, apperr.New(apperr.Conflict, "the case has changed since you loaded it (your version %d, current version %d, status %s); reload and try again", *in.Version, c.Version, c.Status)
	}
	if a == ActionDefer || a == ActionBacklog {
		return s.directRequest(ctx, d, c, a, in)
	}
	next, err := Next(c.Status, a)
	if err != nil {
		return nil, err
	}
	prev := c.Status
	prevVersion := c.Version
	now := s.Now()
	cl, _ := s.classes.Lookup(c.Kind, c.MinorCode)
	switch a {
	case ActionRegister:
		c.RegisteredAt = &now
	case ActionDecline, ActionReturn, ActionRework:
		if in.Note == "" {
			return nil, apperr.Invalid("note", "give a reason")
		}
	}
	switch a {
	case ActionDispatch:
		if in.Dept == "" {
			return nil, apperr.Invalid("dept", "name the department to dispatch to")
		}
		ok, err := s.dir.DepartmentExists(ctx, in.Dept)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apperr.Invalid("dept", "unknown department %q", in.Dept)
		}
		c.HandlingDept = in.Dept
		c.DispatchedAt = &now
		c.Deadline = ptr(cl.Deadline(s.cal, now))
		c.HandledAt = nil
	case ActionHandle:
		c.HandledAt = &now
		if c.FirstHandledAt == nil {
			c.FirstHandledAt, c.FirstDeadline = &now, c.Deadline
		}
	case ActionReturn:
		c.ReturnCount++
	case ActionVerify:
		c.ClosedAt = &now
	case ActionRework:
		c.ReworkCount++
		c.HandledAt = nil
		c.Deadline = ptr(cl.Deadline(s.cal, now))
	}
	c.Status = next
	c.UpdatedAt = now
	c.Version++
	ev := Event{CaseID: c.ID, Action: a, FromStatus: prev, ToStatus: next, Actor: p.Actor(), ActorDept: p.Dept, Note: in.Note, At: now}
	if a == ActionDispatch {
		ev.Note = strings.TrimSpace("→ " + in.Dept + " " + in.Note)
	}
	if err := s.store.Update(ctx, c, prevVersion, ev); err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Rate records the reporter's satisfaction with a closed case: 1–5 stars,
// once. Only the reporting citizen (through the citizen app) or the command
// centre on the reporter's behalf (hotline follow-up call) may rate.
func (s *Service) Rate(ctx context.Context, id uuid.UUID, stars int, comment string) (*Case, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	if stars < 1 || stars > 5 {
		return nil, apperr.Invalid("stars", "a rating is 1 to 5 stars")
	}
	comment = strings.TrimSpace(comment)
	if utf8.RuneCountInString(comment) > 500 {
		return nil, apperr.Invalid("comment", "the comment is limited to 500 characters")
	}
	c, err := s.store.Get(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	own := p.CitizenID != "" && c.CitizenID == p.CitizenID
	if !own && !d.Can("command") {
		return nil, apperr.New(apperr.Forbidden, "only the reporter may rate a case")
	}
	if c.Status != StatusClosed {
		return nil, apperr.New(apperr.BadUserInput, "only a closed case can be rated; this case is %s", c.Status)
	}
	if c.Rating != nil {
		return nil, apperr.New(apperr.Conflict, "this case was already rated")
	}
	now := s.Now()
	prevVersion := c.Version
	c.Rating = &Rating{Stars: stars, Comment: comment, At: now}
	c.UpdatedAt = now
	c.Version++
	ev := Event{CaseID: c.ID, Action: ActionRate, FromStatus: c.Status, ToStatus: c.Status, Actor: p.Actor(), ActorDept: p.Dept,
		Note: fmt.Sprintf("%d★ %s", stars, comment), At: now}
	if err := s.store.Update(ctx, c, prevVersion, ev); err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
		return nil, err
	}
	return c, nil
}

func ptr[T any](v T) *T { return &v }

// ClassName returns the minor class name of c.
func (s *Service) ClassName(c *Case) string {
	cl, _ := s.classes.Lookup(c.Kind, c.MinorCode)
	return cl.MinorName
}

// CitizenReport is an issue a citizen reports through the app.
type CitizenReport struct {
	Kind         Kind
	MinorCode    string
	Description  string
	Address      string
	Lat, Lng     float64
	PhotoURLs    []string
	ContactName  string
	ContactPhone string
}

var idempotencyKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// ReportIssue files a citizen's report (source CITIZEN_REPORT) for the
// citizen the app acts for. A retry with the same idempotency key returns
// the case the first call created, whatever the retry carries.
func (s *Service) ReportIssue(ctx context.Context, in CitizenReport, idempotencyKey string) (*Case, error) {
	p := access.PrincipalFrom(ctx)
	if p.CitizenID == "" {
		return nil, apperr.New(apperr.Forbidden, "only the citizen app, acting for a citizen, may report an issue")
	}
	if !idempotencyKeyPattern.MatchString(idempotencyKey) {
		return nil, apperr.Invalid("idempotencyKey", "use 8 to 64 letters, digits, '-' or '_' (a UUID is ideal)")
	}
	// The key lives in the citizen's own namespace, never among the
	// external ids a department's systems choose.
	if c, err := s.ownReport(ctx, p, idempotencyKey); err == nil || !apperr.Is(err, apperr.NotFound) {
		return c, err
	}
	c, err := s.file(ctx, ReportInput{
		Kind: in.Kind, MinorCode: in.MinorCode, Source: SourceCitizenReport, Description: in.Description,
		Address: in.Address, Lat: in.Lat, Lng: in.Lng, PhotoURLs: in.PhotoURLs,
		ReporterName: in.ContactName, ReporterPhone: in.ContactPhone, CitizenID: p.CitizenID, citizenKey: idempotencyKey,
	}, actionCitizenReport)
	if apperr.Is(err, apperr.Conflict) {
		// A concurrent retry won the race: answer with its case.
		return s.ownReport(ctx, p, idempotencyKey)
	}
	return c, err
}

// ownReport answers a citizen's retry with the case its key filed, audited
// as myCase would audit it.
func (s *Service) ownReport(ctx context.Context, p *access.Principal, key string) (*Case, error) {
	c, err := s.store.GetByCitizenKey(ctx, p.CitizenID, key)
	if err != nil {
		return nil, err
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if err := access.AuditReturned(ctx, s.audit, d, c); err != nil {
		return nil, err
	}
	return c, nil
}

// MyCases lists the calling citizen's own reports, newest first.
func (s *Service) MyCases(ctx context.Context, first *int, after *string) (*Page, error) {
	return s.MyCasesPage(ctx, page.Args{First: first, After: after})
}

// MyCasesPage is MyCases with every Relay argument (see ListPage).
func (s *Service) MyCasesPage(ctx context.Context, args page.Args) (*Page, error) {
	p := access.PrincipalFrom(ctx)
	if p.CitizenID == "" {
		return nil, apperr.New(apperr.Forbidden, "only the citizen app, acting for a citizen, has own reports")
	}
	return s.ListPage(ctx, Filter{CitizenID: p.CitizenID}, OrderReportedDesc, args)
}

// ByParent returns, per parent key, the first cases under it that the
// caller may see, in one statement per jurisdiction level (nested lists),
// from req's cursor (req.Size() rows: the graph asks one more than the page).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Case, map[string]int, error) {
	return s.ByParentWithout(ctx, parent, keys, req, withCount, 0)
}

// ByParentWithout is ByParent leaving the parts in skip unread (zero in
// every case it returns), for a caller that writes only the rest.
func (s *Service) ByParentWithout(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool, skip Parts) (map[string][]*Case, map[string]int, error) {
	if err := links.CheckFirst(req.Size()); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Case, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, req, withCount, skip)
	})
}

// CountByParent returns, per parent key, how many cases under it the
// caller may see.
func (s *Service) CountByParent(ctx context.Context, parent links.Parent, keys []string) (map[string]int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CountByParent(ctx, d.Rows, parent, keys)
}
