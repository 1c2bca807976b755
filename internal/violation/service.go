package violation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
)

// Store is the persistence the violation service needs. Every read takes the
// caller's row scope and applies it inside the query: a violation outside
// the scope is reported exactly like one that does not exist (NOT_FOUND).
type Store interface {
	// Get returns one violation within scope, or NOT_FOUND.
	Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Violation, error)
	// GetMany returns the violations within scope among ids, in any order.
	GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*Violation, error)
	// List returns up to q.First violations after q.After and whether more
	// follow.
	List(ctx context.Context, scope access.RowScope, q ListQuery) ([]*Violation, bool, error)
	// Count returns how many violations within scope match f.
	Count(ctx context.Context, scope access.RowScope, f Filter, now time.Time) (int, error)
	// ByProperty returns, per property, its first violations within scope,
	// newest discovered first, in one statement for all properties.
	ByProperty(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID, first int) (map[uuid.UUID][]*Violation, error)
	// ByCase returns, per case, its first violations within scope, newest
	// discovered first, in one statement for all cases.
	ByCase(ctx context.Context, scope access.RowScope, caseIDs []uuid.UUID, first int) (map[uuid.UUID][]*Violation, error)
	// BySource returns the violation a department sent under an external
	// id, within scope, or NOT_FOUND. A lookup by key is a read: a record
	// outside the caller's scope is missing to it, like any other.
	BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*Violation, error)
	// Create inserts a new violation with its first timeline event and fills
	// in its record number. CONFLICT when (SourceDept, ExternalID) exists.
	Create(ctx context.Context, v *Violation, ev Event) error
	// Update writes v if its stored version is still prevVersion (else
	// CONFLICT naming the current status) and appends ev, atomically.
	Update(ctx context.Context, v *Violation, prevVersion int, ev Event) error
	// MarkDue moves every NOTICE_ISSUED violation whose deadline is at or
	// before now to RECTIFICATION_DUE with a MARK_DUE event by actor, in one
	// transaction, and returns how many moved.
	MarkDue(ctx context.Context, now time.Time, actor, note string) (int, error)
	// Timelines returns the events of each violation, oldest first.
	Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Event, error)
	// CaseVisible reports whether a case exists within scope (the
	// caller's row scope on cases).
	CaseVisible(ctx context.Context, scope access.RowScope, id uuid.UUID) (bool, error)
	// ByParent returns, per parent key, its page of records within scope
	// (req gives the nested list's cursor and size) and, with withCount,
	// each parent's total.
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Violation, map[string]int, error)
	// CountByParent counts, per parent key, its records within scope.
	CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error)
}

// Authorizer decides what the calling principal may do with a dataset. It
// is computed once per request and dataset.
type Authorizer interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// Calendar counts working days for rectification deadlines.
type Calendar interface {
	AddWorkingDays(start time.Time, n int) time.Time
}

// Auditor records the reads that must leave a trace (access.Auditor).
type Auditor = access.Auditor

// PermitChecker asks the planning register whether a property has a
// planning permit covering a structure of the given subtype and area. The
// application adapts the property service to it.
type PermitChecker interface {
	CheckPermit(ctx context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (PermitCheck, error)
}

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
	// Permits may be nil: PermitCheck then answers SERVICE_UNAVAILABLE.
	Permits PermitChecker
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Limits of the service.
const (
	// NoticeDaysMax bounds the rectification period of a notice.
	NoticeDaysMax = 90
	// ByCaseLimit bounds the violations returned per case by ByCase.
	ByCaseLimit = 100
	// ParentsMax bounds the parents of one ByProperty or ByCase call.
	ParentsMax = 1000
	// SweepActor is the actor of the MARK_DUE events SweepDue records.
	SweepActor = "datahub-scheduler"
)

// Service implements the violation workflow. It is safe for concurrent use.
type Service struct {
	dir     directory.Lookup
	store   Store
	auth    Authorizer
	cal     Calendar
	audit   Auditor
	permits PermitChecker
	now     func() time.Time
}

// NewService returns a violation service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: cfg.Directory, store: cfg.Store, auth: cfg.Authorizer, cal: cfg.Calendar, audit: cfg.Auditor,
		permits: cfg.Permits, now: cfg.Now}
}

// Now returns the service clock's current time (UTC, microseconds: what the
// database stores).
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Decide returns the caller's decision on violations.
func (s *Service) Decide(ctx context.Context) (*access.Decision, error) {
	return s.auth.Decide(ctx, Dataset)
}

// audited records a read of the rows in jurisdictions (one per row
// returned) when the auditor wants it.
func (s *Service) audited(ctx context.Context, d *access.Decision, jurisdictions []string) error {
	return access.AuditRead(ctx, s.audit, d, jurisdictions)
}

// Get returns a violation visible to the caller. NOT_FOUND when it does not
// exist or lies outside the caller's scope.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Violation, error) {
	return access.ReadOne(ctx, s.Decide, s.audit, func(rows access.RowScope) (*Violation, error) { return s.store.Get(ctx, rows, id) })
}

// GetMany returns the visible violations among ids (entity resolution,
// loaders), in any order.
func (s *Service) GetMany(ctx context.Context, ids []uuid.UUID) ([]*Violation, error) {
	return access.ReadMany(ctx, s.Decide, s.audit, func(rows access.RowScope) ([]*Violation, error) { return s.store.GetMany(ctx, rows, ids) })
}

// Page is one page of a violation list.
type Page struct {
	Violations []*Violation
	HasNext    bool
	HasPrev    bool
	Order      Order
}

// Cursor returns the cursor of the i-th violation of the page.
func (p *Page) Cursor(i int) string {
	v := p.Violations[i]
	return page.At(string(p.Order), p.Order.SortKey(v), v.ID).Encode()
}

// List returns a page of violations visible to the caller (keyset
// pagination; after is a cursor of the same order). BAD_USER_INPUT for an
// invalid filter, order, page size or cursor.
func (s *Service) List(ctx context.Context, f Filter, order Order, first *int, after *string) (*Page, error) {
	return s.ListPage(ctx, f, order, page.Args{First: first, After: after})
}

// ListPage is List with every Relay argument: first/after page forward,
// last/before backward (the page still in the list's order).
// BAD_USER_INPUT for a mix of the two directions.
func (s *Service) ListPage(ctx context.Context, f Filter, order Order, args page.Args) (*Page, error) {
	var req page.Request
	if order == "" {
		order = OrderDiscoveredDesc
	}
	list, more, err := access.ReadPage(ctx, s.Decide, s.audit, func(d *access.Decision) ([]*Violation, bool, error) {
		if !slices.Contains(Orders(), order) {
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
		list, more, err := s.store.List(ctx, d.Rows, ListQuery{Filter: f, Order: order, First: req.First, After: req.After, Backward: req.Backward, Last: req.Last, Before: req.Before, Now: s.Now()})
		if err != nil {
			return nil, false, fmt.Errorf("list violations: %w", err)
		}
		return list, more, nil
	})
	if err != nil {
		return nil, err
	}
	info := req.InfoOf(more)
	return &Page{Violations: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: order}, nil
}

// Count returns how many violations visible to the caller match f.
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

// validateFilter checks f. BAD_USER_INPUT names the first bad field,
// including a jurisdiction that does not exist.
func (s *Service) validateFilter(ctx context.Context, d *access.Decision, f *Filter, o Order) error {
	if err := d.CheckFilter(strings.TrimSpace(f.Jurisdiction), f.Terms(o)); err != nil {
		return err
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return apperr.Invalid("filter.kind", "unknown kind %q", f.Kind)
	}
	for _, o := range f.Outcomes {
		if !slices.Contains([]Outcome{OutcomeDemolished, OutcomeLegalized, OutcomePenalized, OutcomeUnfounded}, o) {
			return apperr.Invalid("filter.outcome", "unknown outcome %q", o)
		}
	}
	if f.Subtype != "" {
		k, ok := KindOf(f.Subtype)
		if !ok {
			return apperr.Invalid("filter.subtype", "unknown subtype %q", f.Subtype)
		}
		if f.Kind != "" && k != f.Kind {
			return apperr.Invalid("filter.subtype", "subtype %s is not a kind of %s", f.Subtype, f.Kind)
		}
	}
	for _, st := range f.Statuses {
		if _, err := ParseStatus(string(st)); err != nil {
			return apperr.Invalid("filter.status", "unknown status %q", st)
		}
	}
	if f.DiscoveredFrom != nil && f.DiscoveredTo != nil && !f.DiscoveredFrom.Before(*f.DiscoveredTo) {
		return apperr.Invalid("filter.discoveredTo", "the end of the period must be after its start")
	}
	return directory.CheckFilter(ctx, "filter.jurisdiction", f.Jurisdiction, s.dir.JurisdictionExists)
}

// ByProperty returns, for each property, its first violations visible to
// the caller, newest discovered first (the properties' violations field, one
// statement for all of them). Properties without visible violations are
// absent from the map.
func (s *Service) ByProperty(ctx context.Context, propertyIDs []uuid.UUID, first int) (map[uuid.UUID][]*Violation, error) {
	if first < 0 || first > page.FirstMax {
		return nil, apperr.Invalid("first", "must be between 0 and %d", page.FirstMax)
	}
	return s.byParent(ctx, propertyIDs, first, s.store.ByProperty)
}

// ByCase returns, for each case, the violations visible to the caller that
// are linked to it (at most ByCaseLimit each), newest discovered first, in
// one statement for all cases.
func (s *Service) ByCase(ctx context.Context, caseIDs []uuid.UUID) (map[uuid.UUID][]*Violation, error) {
	return s.byParent(ctx, caseIDs, ByCaseLimit, s.store.ByCase)
}

func (s *Service) byParent(ctx context.Context, ids []uuid.UUID, first int,
	load func(context.Context, access.RowScope, []uuid.UUID, int) (map[uuid.UUID][]*Violation, error),
) (map[uuid.UUID][]*Violation, error) {
	ids = dedupe(ids)
	if len(ids) > ParentsMax {
		return nil, apperr.Invalid("ids", "at most %d parents at once", ParentsMax)
	}
	if len(ids) == 0 || first == 0 {
		return map[uuid.UUID][]*Violation{}, nil
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	out, err := load(ctx, d.Rows, ids, first)
	if err != nil {
		return nil, err
	}
	var js []string
	for _, list := range out {
		js = append(js, access.Jurisdictions(list)...)
	}
	if err := s.audited(ctx, d, js); err != nil {
		return nil, err
	}
	return out, nil
}

func dedupe(ids []uuid.UUID) []uuid.UUID {
	seen := make(map[uuid.UUID]bool, len(ids))
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Timelines returns the timelines of violations the caller can already see.
func (s *Service) Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]Event, error) {
	return s.store.Timelines(ctx, ids)
}

// linkedCases is the dataset a violation's case link points into.
const linkedCases = "cases"

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

func ptr[T any](v T) *T { return &v }

// ByParent returns, per parent key, the first violations under it that the
// caller may see, in one statement per jurisdiction level (nested lists),
// from req's cursor (req.Size() rows: the graph asks one more than the page).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Violation, map[string]int, error) {
	if err := links.CheckFirst(req.Size()); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Violation, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, req, withCount)
	})
}

// CountByParent returns, per parent key, how many violations under it the
// caller may see.
func (s *Service) CountByParent(ctx context.Context, parent links.Parent, keys []string) (map[string]int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CountByParent(ctx, d.Rows, parent, keys)
}
