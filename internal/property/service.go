package property

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
)

// Store is the persistence the property service needs. Reads of compounds
// take the caller's row scope and apply it inside the query: a compound
// outside the scope is reported exactly like one that does not exist.
type Store interface {
	// Get returns one compound within scope, or NOT_FOUND.
	Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Property, error)
	// GetMany returns the compounds within scope among ids, in any order.
	GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*Property, error)
	// List returns up to q.First compounds after q.After and whether more follow.
	List(ctx context.Context, scope access.RowScope, q ListQuery) ([]*Property, bool, error)
	// Count returns how many compounds within scope match f.
	Count(ctx context.Context, scope access.RowScope, f Filter) (int, error)
	// BySource returns the compound sourceDept filed under externalID
	// within scope, or NOT_FOUND (a compound outside scope is missing to
	// the caller).
	BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*Property, error)
	// Create inserts p with its change event; CONFLICT when its source
	// key is taken.
	Create(ctx context.Context, p *Property) error
	// Update writes p if its stored version is still prevVersion (else
	// CONFLICT), with its change event, atomically.
	Update(ctx context.Context, p *Property, prevVersion int) error
	// Permits returns the permits of the compounds within scope among
	// propertyIDs, latest first, in one statement.
	Permits(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID) (map[uuid.UUID][]Permit, error)
	// Inspections returns the inspections of the compounds within scope
	// among propertyIDs, newest round first, in one statement; only those
	// of published rounds when publishedOnly.
	Inspections(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID, publishedOnly bool) (map[uuid.UUID][]Inspection, error)
	// Registers reads, in one consistent snapshot, the register of targets
	// (every compound with a management company and its complaints), the
	// active inspectors of dept with their declared conflicts, and the
	// rounds of dept recusal looks back over — the latest lookBack whose
	// period starts before periodStart, newest first — with their
	// assignments.
	Registers(ctx context.Context, dept string, periodStart time.Time, lookBack int) (Registers, error)
	// CreateRound stores a drawn round with its register snapshots and its
	// inspections, atomically. CONFLICT when the round exists.
	CreateRound(ctx context.Context, r *Round, targets, inspectors []byte, list []Inspection) error
	// Round returns one round, or NOT_FOUND.
	Round(ctx context.Context, round string) (*Round, error)
	// RoundSnapshots returns the register snapshots a round was drawn from.
	RoundSnapshots(ctx context.Context, round string) (targets, inspectors []byte, err error)
	// Rounds returns the rounds, newest period first; only published ones
	// when publishedOnly.
	Rounds(ctx context.Context, publishedOnly bool) ([]*Round, error)
	// RoundInspections returns a round's inspections in draw order.
	RoundInspections(ctx context.Context, round string) ([]Inspection, error)
	// Inspection returns one inspection of a compound within scope, or
	// NOT_FOUND (an inspection of a compound outside it is missing too).
	Inspection(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Inspection, error)
	// RecordResult writes in's result if its stored version is still
	// prevVersion and its round is not published, else CONFLICT.
	RecordResult(ctx context.Context, in *Inspection, prevVersion int) error
	// PublishRound marks a round published if it is not yet and every
	// inspection has a result, else CONFLICT.
	PublishRound(ctx context.Context, round string, at time.Time) error
	// Inspectors returns the inspectors among ids, in any order.
	Inspectors(ctx context.Context, ids []string) ([]*Inspector, error)
	// ByParent returns, per parent key, its page of records within scope
	// (req gives the nested list's cursor and size) and, with withCount,
	// each parent's total.
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Property, map[string]int, error)
	// CountByParent counts, per parent key, its records within scope.
	CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error)
}

// Authorizer decides what the calling principal may do with a dataset. It
// is computed once per request and dataset.
type Authorizer interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
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
	// Auditor may be nil (no audit trail).
	Auditor Auditor
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Calendar schedules inspections on working days (Monday to Friday,
	// without holidays, when nil).
	Calendar WorkingDays
	// RecusalRounds is how many past rounds a draw's recusal looks back
	// over (RecusalRoundsDefault when 0; at most MaxRecusalRounds).
	RecusalRounds int
}

// Service implements the property registry and its double-random
// inspections. It is safe for concurrent use.
type Service struct {
	dir           directory.Lookup
	store         Store
	auth          Authorizer
	audit         Auditor
	now           func() time.Time
	cal           WorkingDays
	recusalRounds int
}

// NewService returns a property service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecusalRounds <= 0 {
		cfg.RecusalRounds = RecusalRoundsDefault
	}
	return &Service{dir: cfg.Directory, store: cfg.Store, auth: cfg.Authorizer, audit: cfg.Auditor, now: cfg.Now,
		cal: cfg.Calendar, recusalRounds: min(cfg.RecusalRounds, MaxRecusalRounds)}
}

// Now returns the service clock's current time.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Decide returns the caller's decision on properties.
func (s *Service) Decide(ctx context.Context) (*access.Decision, error) {
	return s.auth.Decide(ctx, Dataset)
}

// audited records a read of the rows in jurisdictions (one per row
// returned) when the auditor wants it.
func (s *Service) audited(ctx context.Context, d *access.Decision, jurisdictions []string) error {
	return access.AuditRead(ctx, s.audit, d, jurisdictions)
}

// Get returns a compound visible to the caller. NOT_FOUND when it does not
// exist or lies outside the caller's scope.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Property, error) {
	return access.ReadOne(ctx, s.Decide, s.audit, func(rows access.RowScope) (*Property, error) { return s.store.Get(ctx, rows, id) })
}

// GetMany returns the visible compounds among ids (entity resolution,
// loaders), in any order.
func (s *Service) GetMany(ctx context.Context, ids []uuid.UUID) ([]*Property, error) {
	return access.ReadMany(ctx, s.Decide, s.audit, func(rows access.RowScope) ([]*Property, error) { return s.store.GetMany(ctx, rows, ids) })
}

// Page is one page of a property list.
type Page struct {
	Properties []*Property
	HasNext    bool
	HasPrev    bool
	Order      Order
}

// Cursor returns the cursor of the i-th compound of the page.
func (p *Page) Cursor(i int) string { return p.Order.CursorOf(p.Properties[i]).Encode() }

// Count returns how many compounds visible to the caller match f.
func (s *Service) Count(ctx context.Context, f Filter) (int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.validateFilter(ctx, d, &f, ""); err != nil {
		return 0, err
	}
	return s.store.Count(ctx, d.Rows, f)
}

// List returns a page of compounds visible to the caller, by name (the
// default) or build year. BAD_USER_INPUT for a bad filter, order, size or
// cursor.
func (s *Service) List(ctx context.Context, f Filter, order Order, first *int, after *string) (*Page, error) {
	return s.ListPage(ctx, f, order, page.Args{First: first, After: after})
}

// ListPage is List with every Relay argument: first/after page forward,
// last/before backward (the page still in the list's order).
// BAD_USER_INPUT for a mix of the two directions.
func (s *Service) ListPage(ctx context.Context, f Filter, order Order, args page.Args) (*Page, error) {
	var req page.Request
	if order == "" {
		order = OrderNameAsc
	}
	list, more, err := access.ReadPage(ctx, s.Decide, s.audit, func(d *access.Decision) ([]*Property, bool, error) {
		if !order.Valid() {
			return nil, false, apperr.Invalid("orderBy", "unknown order %q", order)
		}
		r, err := page.ParseArgs(args, string(order), order.keyKind())
		if err != nil {
			return nil, false, err
		}
		req = r
		if err := s.validateFilter(ctx, d, &f, order); err != nil {
			return nil, false, err
		}
		list, more, err := s.store.List(ctx, d.Rows, ListQuery{Filter: f, Order: order, First: req.First, After: req.After, Backward: req.Backward, Last: req.Last, Before: req.Before})
		if err != nil {
			return nil, false, fmt.Errorf("list properties: %w", err)
		}
		return list, more, nil
	})
	if err != nil {
		return nil, err
	}
	info := req.InfoOf(more)
	return &Page{Properties: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: order}, nil
}

// validateFilter checks f and normalises its text. BAD_USER_INPUT names the
// first bad field, including a jurisdiction that does not exist.
func (s *Service) validateFilter(ctx context.Context, d *access.Decision, f *Filter, o Order) error {
	if err := d.CheckFilter(strings.TrimSpace(f.Jurisdiction), f.Terms(o)); err != nil {
		return err
	}
	f.Text = strings.TrimSpace(f.Text)
	if err := rules.SearchText("filter.text", f.Text); err != nil {
		return err
	}
	switch {
	case f.BuildYearFrom != nil && f.BuildYearTo != nil && *f.BuildYearFrom > *f.BuildYearTo:
		return apperr.Invalid("filter.buildYearFrom", "the range %d–%d is empty", *f.BuildYearFrom, *f.BuildYearTo)
	}
	for _, st := range f.Renovation {
		if !st.Valid() {
			return apperr.Invalid("filter.renovation", "unknown renovation status %q", st)
		}
	}
	return directory.CheckFilter(ctx, "filter.jurisdiction", f.Jurisdiction, s.dir.JurisdictionExists)
}

// Input limits.
const (
	MaxComplaints = 100_000
	// MaxBudgetFen is 10 billion yuan: larger is a typing error.
	MaxBudgetFen = 1_000_000_000_000
)

// UpsertInput is a compound as sent by housing's registry system.
type UpsertInput struct {
	// ExternalID is the record's id in the sending system; with the
	// sender's department it keys the upsert.
	ExternalID   string
	Name         string
	Address      string
	Lat, Lng     float64
	Jurisdiction string // optional: located from the point when empty
	BuildYear    int
	Buildings    int
	Households   int
	Management   *Management
	Renovation   Renovation
	Complaints   int
	// Version, when set, must equal the stored version (optimistic
	// concurrency); 0 means "must not exist yet". A stale version gets
	// CONFLICT.
	Version *int
}

func (s *Service) validateUpsert(in *UpsertInput) error {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Name = strings.TrimSpace(in.Name)
	in.Address = strings.TrimSpace(in.Address)
	in.Renovation.Scope = strings.TrimSpace(in.Renovation.Scope)
	if in.Renovation.Status == "" {
		in.Renovation.Status = RenovationNone
	}
	thisYear := s.Now().Year()
	switch {
	case in.ExternalID == "":
		return apperr.Invalid("externalId", "give the record's id in your system: upserts are keyed by it")
	case !rules.PrintableID(in.ExternalID):
		return apperr.Invalid("externalId", "the external id is limited to 100 printable characters")
	case in.Name == "":
		return apperr.Invalid("name", "the compound needs a name")
	case utf8.RuneCountInString(in.Name) > 100:
		return apperr.Invalid("name", "the name is limited to 100 characters")
	}
	if err := rules.Site(in.Address, in.Lat, in.Lng, in.Jurisdiction); err != nil {
		return err
	}
	switch {
	case in.BuildYear < 1900 || in.BuildYear > thisYear+3:
		return apperr.Invalid("buildYear", "the build year must lie between 1900 and %d", thisYear+3)
	case in.Buildings < 1 || in.Buildings > 1000:
		return apperr.Invalid("buildings", "a compound has 1 to 1000 buildings")
	case in.Households < 1 || in.Households > 100_000:
		return apperr.Invalid("households", "a compound has 1 to 100000 households")
	case in.Complaints < 0 || in.Complaints > MaxComplaints:
		return apperr.Invalid("complaints", "complaints must be between 0 and %d", MaxComplaints)
	case in.Version != nil && *in.Version < 0:
		return apperr.Invalid("version", "a version is not negative")
	}
	if in.Management != nil {
		m := *in.Management // the caller's value stays as sent
		in.Management = &m
		m.Company = strings.TrimSpace(m.Company)
		m.CreditCode = strings.ToUpper(strings.TrimSpace(m.CreditCode))
		m.ContactName = strings.TrimSpace(m.ContactName)
		m.ContactPhone = strings.TrimSpace(m.ContactPhone)
		switch {
		case m.Company == "":
			return apperr.Invalid("management.company", "name the property-management company (or leave management out for a compound without one)")
		case utf8.RuneCountInString(m.Company) > 100:
			return apperr.Invalid("management.company", "the company name is limited to 100 characters")
		case rules.TooLong(m.ContactName, rules.MaxContactName):
			return apperr.Invalid("management.contactName", "the contact name is limited to 50 characters")
		}
		if err := rules.Phone("management.contactPhone", m.ContactPhone); err != nil {
			return err
		}
		if err := ValidateCreditCode(m.CreditCode); err != nil {
			return apperr.Invalid("management.creditCode", "%s", err.Error())
		}
	}
	return validateRenovation(in.Renovation, in.BuildYear, thisYear)
}

func validateRenovation(r Renovation, buildYear, thisYear int) error {
	switch {
	case !r.Status.Valid():
		return apperr.Invalid("renovation.status", "unknown renovation status %q (NONE, PLANNED, IN_PROGRESS or DONE)", r.Status)
	case r.Status == RenovationNone && (r.Year != nil || r.BudgetFen != nil || r.Scope != ""):
		return apperr.Invalid("renovation.status", "a compound without renovation (NONE) has no renovation year, scope or budget")
	case r.Status != RenovationNone && r.Year == nil:
		return apperr.Invalid("renovation.year", "give the year the renovation is planned for, started or finished")
	case r.Year != nil && (*r.Year < buildYear || *r.Year < 1990 || *r.Year > thisYear+10):
		return apperr.Invalid("renovation.year", "the renovation year %d must lie between the build year (%d) and %d", *r.Year, buildYear, thisYear+10)
	case r.Status == RenovationDone && *r.Year > thisYear:
		return apperr.Invalid("renovation.year", "a finished renovation cannot finish in the future (%d)", *r.Year)
	case r.BudgetFen != nil && (*r.BudgetFen < 0 || *r.BudgetFen > MaxBudgetFen):
		return apperr.Invalid("renovation.budget", "the budget must lie between 0 and %d yuan", MaxBudgetFen/100)
	case utf8.RuneCountInString(r.Scope) > 500:
		return apperr.Invalid("renovation.scope", "the scope is limited to 500 characters")
	}
	return nil
}

// Upsert creates or updates a compound keyed by the caller's department and
// in.ExternalID. Sending the same content again writes nothing and keeps the
// version (UNCHANGED); changed content bumps it (UPDATED). FORBIDDEN unless
// the caller may write properties (housing's officers and systems);
// BAD_USER_INPUT on invalid input; CONFLICT for a stale in.Version.
func (s *Service) Upsert(ctx context.Context, in UpsertInput) (upsert.Result[*Property], error) {
	var none upsert.Result[*Property]
	d, err := s.Decide(ctx)
	if err != nil {
		return none, err
	}
	if !d.Can("write") {
		return none, apperr.New(apperr.Forbidden, "only housing may write the property registry")
	}
	if err := s.validateUpsert(&in); err != nil {
		return none, err
	}
	if in.Jurisdiction, err = directory.Place(ctx, s.dir, "compound", in.Jurisdiction, in.Lat, in.Lng); err != nil {
		return none, err
	}
	if strings.Count(in.Jurisdiction, ".") < 1 {
		return none, apperr.Invalid("jurisdiction", "a compound lies in a street or town, not the whole district")
	}
	p := access.PrincipalFrom(ctx)
	now := s.Now()
	prop := &Property{
		ID: uuid.Must(uuid.NewV7()), OwnerDept: OwnerDept,
		Name: in.Name, Address: in.Address, Lat: in.Lat, Lng: in.Lng, JurisdictionCode: in.Jurisdiction,
		BuildYear: in.BuildYear, Buildings: in.Buildings, Households: in.Households,
		Management: in.Management, Renovation: in.Renovation, Complaints: in.Complaints,
		SourceDept: sourceDept(p), ExternalID: in.ExternalID,
		CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	res, err := upsert.Run(ctx, func(ctx context.Context) (upsert.Result[*Property], error) {
		return s.upsertRound(ctx, d.Rows, prop, in.Version)
	})
	if err != nil {
		return none, err
	}
	// The compound comes back as a read shows it: audited as one.
	if err := access.AuditReturned(ctx, s.audit, d, res.Record); err != nil {
		return none, err
	}
	return res, nil
}

// upsertRound does one read-compare-write round (upsert.Run): prop is
// created, or its content replaces the stored compound's (whose id,
// creation time and version win), or nothing is written when the content
// is the same. The caller's scope applies: a compound it cannot see can be
// neither read nor overwritten through its key; creating one under the key
// then meets the key's uniqueness and is refused with apperr.KeyTaken.
func (s *Service) upsertRound(ctx context.Context, scope access.RowScope, prop *Property, expected *int) (upsert.Result[*Property], error) {
	var none upsert.Result[*Property]
	cur, err := s.store.BySource(ctx, scope, prop.SourceDept, prop.ExternalID)
	if apperr.Is(err, apperr.NotFound) {
		if expected != nil && *expected != 0 {
			return none, apperr.New(apperr.Conflict, "no compound with external id %q exists (you gave version %d); it may have been removed", prop.ExternalID, *expected)
		}
		if err := s.store.Create(ctx, prop); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				return none, fmt.Errorf("%w: %w: %w", apperr.KeyTaken(prop.ExternalID), upsert.ErrRaced, err)
			}
			return none, fmt.Errorf("create compound: %w", err)
		}
		return upsert.Result[*Property]{Record: prop, Outcome: upsert.Created}, nil
	}
	if err != nil {
		return none, err
	}
	if expected != nil && *expected != cur.Version {
		return none, apperr.New(apperr.Conflict, "the compound has changed since you loaded it (your version %d, current version %d); reload and try again", *expected, cur.Version)
	}
	if cur.SameContent(prop) {
		return upsert.Result[*Property]{Record: cur, Outcome: upsert.Unchanged}, nil
	}
	upd := *prop
	upd.ID, upd.OwnerDept, upd.CreatedAt, upd.Version = cur.ID, cur.OwnerDept, cur.CreatedAt, cur.Version+1
	if err := s.store.Update(ctx, &upd, cur.Version); err != nil {
		return none, upsert.Raced(err, expected)
	}
	return upsert.Result[*Property]{Record: &upd, Outcome: upsert.Updated}, nil
}

func sourceDept(p *access.Principal) string {
	if p.Dept == "" {
		return OwnerDept
	}
	return p.Dept
}

// ByParent returns, per parent key, the first compounds under it that the
// caller may see, in one statement per jurisdiction level (nested lists),
// from req's cursor (req.Size() rows: the graph asks one more than the page).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Property, map[string]int, error) {
	if err := links.CheckFirst(req.Size()); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Property, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, req, withCount)
	})
}

// CountByParent returns, per parent key, how many compounds under it the
// caller may see.
func (s *Service) CountByParent(ctx context.Context, parent links.Parent, keys []string) (map[string]int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CountByParent(ctx, d.Rows, parent, keys)
}
