package property

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/rules"
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
	// Upsert stores p keyed by (p.SourceDept, p.ExternalID), atomically:
	// with no such row it inserts p (OutcomeCreated); otherwise, under a
	// row lock, it returns CONFLICT when expectedVersion is set and differs
	// from the stored version, returns the stored row untouched when its
	// content is the same as p's (OutcomeUnchanged: no write, no version
	// bump), and else writes p's content with version + 1 (OutcomeUpdated).
	// The stored id, creation time and version win over p's.
	//
	// The lookup by key takes scope: a compound outside it is missing to
	// the caller, and creating one under its key is refused with
	// apperr.KeyTaken (nothing is written, nothing of it is told).
	Upsert(ctx context.Context, scope access.RowScope, p *Property, expectedVersion *int) (*Property, Outcome, error)
	// Locate returns the grid containing or nearest a point.
	Locate(ctx context.Context, lat, lng float64) (string, error)
	// JurisdictionExists reports whether a jurisdiction code exists.
	JurisdictionExists(ctx context.Context, code string) (bool, error)
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
	// ByParent returns, per parent key, its first records within scope and,
	// with withCount, each parent's total.
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, first int, withCount bool) (map[string][]*Property, map[string]int, error)
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
	// KnownJurisdiction answers whether a list filter's jurisdiction
	// exists (the directory's in-memory tree); Store.JurisdictionExists
	// when nil.
	KnownJurisdiction func(ctx context.Context, code string) (bool, error)
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
	knownJurisdiction func(ctx context.Context, code string) (bool, error)
	store             Store
	auth              Authorizer
	audit             Auditor
	now               func() time.Time
	cal               WorkingDays
	recusalRounds     int
}

// NewService returns a property service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KnownJurisdiction == nil {
		cfg.KnownJurisdiction = cfg.Store.JurisdictionExists
	}
	if cfg.RecusalRounds <= 0 {
		cfg.RecusalRounds = RecusalRoundsDefault
	}
	return &Service{knownJurisdiction: cfg.KnownJurisdiction, store: cfg.Store, auth: cfg.Authorizer, audit: cfg.Auditor, now: cfg.Now,
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
	Order      Order
}

// Cursor returns the cursor of the i-th compound of the page.
func (p *Page) Cursor(i int) string { return CursorOf(p.Order, p.Properties[i]).Encode() }

// List returns a page of compounds visible to the caller, by name (the
// default) or build year. BAD_USER_INPUT for a bad filter, order, size or
// cursor.
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

func (s *Service) List(ctx context.Context, f Filter, order Order, first *int, after *string) (*Page, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if order == "" {
		order = OrderNameAsc
	}
	if !order.Valid() {
		return nil, apperr.Invalid("order", "unknown order %q", order)
	}
	n, err := page.Size(first)
	if err != nil {
		return nil, err
	}
	if err := s.validateFilter(ctx, d, &f, order); err != nil {
		return nil, err
	}
	q := ListQuery{Filter: f, Order: order, First: n}
	if after != nil && *after != "" {
		cur, err := DecodeCursor(*after, order)
		if err != nil {
			return nil, err
		}
		q.After = &cur
	}
	list, more, err := s.store.List(ctx, d.Rows, q)
	if err != nil {
		return nil, fmt.Errorf("list properties: %w", err)
	}
	if err := s.audited(ctx, d, access.Jurisdictions(list)); err != nil {
		return nil, err
	}
	return &Page{Properties: list, HasNext: more, Order: order}, nil
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
	return directory.CheckFilter(ctx, "filter.jurisdiction", f.Jurisdiction, s.knownJurisdiction)
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

// UpsertResult is a stored compound and what the upsert did.
type UpsertResult struct {
	Property *Property
	Outcome  Outcome
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
	if err := rules.Address("address", in.Address); err != nil {
		return err
	}
	if err := rules.Location("location", in.Lat, in.Lng); err != nil {
		return err
	}
	if err := rules.OptionalJurisdiction("jurisdiction", in.Jurisdiction); err != nil {
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
func (s *Service) Upsert(ctx context.Context, in UpsertInput) (*UpsertResult, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !d.Can("write") {
		return nil, apperr.New(apperr.Forbidden, "only housing may write the property registry")
	}
	if err := s.validateUpsert(&in); err != nil {
		return nil, err
	}
	if in.Jurisdiction == "" {
		if in.Jurisdiction, err = s.store.Locate(ctx, in.Lat, in.Lng); err != nil {
			return nil, fmt.Errorf("locate compound: %w", err)
		}
	} else if ok, err := s.store.JurisdictionExists(ctx, in.Jurisdiction); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperr.Invalid("jurisdiction", "unknown jurisdiction %q", in.Jurisdiction)
	}
	if strings.Count(in.Jurisdiction, ".") < 1 {
		return nil, apperr.Invalid("jurisdiction", "a compound lies in a street or town, not the whole district")
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
	stored, outcome, err := s.store.Upsert(ctx, d.Rows, prop, in.Version)
	if err != nil {
		return nil, err
	}
	// The compound comes back as a read shows it: audited as one.
	if err := access.AuditReturned(ctx, s.audit, d, stored); err != nil {
		return nil, err
	}
	return &UpsertResult{Property: stored, Outcome: outcome}, nil
}

func sourceDept(p *access.Principal) string {
	if p.Dept == "" {
		return OwnerDept
	}
	return p.Dept
}

// Permits returns the planning permits of the visible compounds among
// propertyIDs (one statement for a whole loader batch), latest first.
// Permits are planning's conditional data: FORBIDDEN when the caller has no
// access to the "permits" group at all; with a grant limited to part of the
// district, only compounds there get their permits. Compounds without
// permits are absent from the map.
func (s *Service) Permits(ctx context.Context, propertyIDs []uuid.UUID) (map[uuid.UUID][]Permit, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	pa, partial := d.Partial[GroupPermits]
	if d.Field(GroupPermits) == access.FieldDenied && (!partial || pa.Access == access.FieldDenied) {
		return nil, apperr.New(apperr.Forbidden, "building permits are planning's conditional data: request a data-sharing grant for properties/permits")
	}
	out, err := s.store.Permits(ctx, d.Rows, propertyIDs)
	if err != nil {
		return nil, err
	}
	// where holds the compounds' jurisdictions when they matter: to keep,
	// under a partial grant, only the compounds it covers, and to audit the
	// grants the permits returned were read under.
	var where map[uuid.UUID]string
	if len(out) > 0 && (partial || len(d.GrantIDs) > 0) {
		ids := make([]uuid.UUID, 0, len(out))
		for id := range out {
			ids = append(ids, id)
		}
		props, err := s.store.GetMany(ctx, d.Rows, ids)
		if err != nil {
			return nil, err
		}
		where = make(map[uuid.UUID]string, len(props))
		for _, p := range props {
			where[p.ID] = p.RowJurisdiction()
		}
	}
	if d.Field(GroupPermits) == access.FieldDenied {
		// Only a partial grant: keep the compounds it covers.
		for id := range out {
			if j, ok := where[id]; !ok || d.FieldAt(GroupPermits, j) == access.FieldDenied {
				delete(out, id)
			}
		}
	}
	var js []string
	for id, l := range out {
		for range l {
			js = append(js, where[id])
		}
	}
	if err := s.audited(ctx, d, js); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckPermit answers, for a structure of an illegal-construction subtype
// and area on a compound, whether a planning permit covers it (see the
// package function CheckPermit). Same access rules as Permits.
func (s *Service) CheckPermit(ctx context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (PermitCheck, error) {
	m, err := s.Permits(ctx, []uuid.UUID{propertyID})
	if err != nil {
		return PermitCheck{}, err
	}
	return CheckPermit(m[propertyID], subtype, areaM2), nil
}

// fullInspections reports whether the caller sees inspections as staff do
// (every round, inspectors' ids); everyone else sees the published results.
func fullInspections(d *access.Decision) bool {
	return d.Field(GroupInspections) == access.FieldVisible
}

func publicInspection(in *Inspection) {
	in.InspectorIDs = nil
}

func publicRound(r *Round) {
	r.DrawnBy = ""
}

// Inspections returns the inspections of the visible compounds among
// propertyIDs (one statement for a loader batch), newest round first.
// Callers without the "inspections" group (the public) get the results of
// published rounds only, without the inspectors.
func (s *Service) Inspections(ctx context.Context, propertyIDs []uuid.UUID) (map[uuid.UUID][]Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	full := fullInspections(d)
	out, err := s.store.Inspections(ctx, d.Rows, propertyIDs, !full)
	if err != nil {
		return nil, err
	}
	if !full {
		for _, l := range out {
			for i := range l {
				publicInspection(&l[i])
			}
		}
	}
	return out, nil
}

// Rounds lists the inspection rounds, newest first: every round for staff,
// the published ones (without who drew them) for the public.
func (s *Service) Rounds(ctx context.Context) ([]*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	full := fullInspections(d)
	list, err := s.store.Rounds(ctx, !full)
	if err != nil {
		return nil, err
	}
	if !full {
		for _, r := range list {
			publicRound(r)
		}
	}
	return list, nil
}

// Round returns one round. NOT_FOUND when it does not exist or, for the
// public, is not published yet.
func (s *Service) Round(ctx context.Context, round string) (*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.visibleRound(ctx, d, round)
}

func (s *Service) visibleRound(ctx context.Context, d *access.Decision, round string) (*Round, error) {
	r, err := s.store.Round(ctx, round)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		if !r.Published {
			return nil, apperr.New(apperr.NotFound, "inspection round %s not found", round)
		}
		publicRound(r)
	}
	return r, nil
}

// RoundInspections returns a round's inspections in draw order, with the
// same visibility as Round (the public sees no inspectors).
func (s *Service) RoundInspections(ctx context.Context, round string) ([]Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.visibleRound(ctx, d, round); err != nil {
		return nil, err
	}
	list, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		for i := range list {
			publicInspection(&list[i])
		}
		return list, nil
	}
	if err := s.auditInspections(ctx, d, len(list)); err != nil {
		return nil, err
	}
	return list, nil
}

// auditInspections records the disclosure of n inspections in full (their
// inspectors, results and findings: the inspections group of housing's
// dataset) to staff. Inspections carry no jurisdiction, so the record names
// only that group; the compounds they lead to are audited when read.
func (s *Service) auditInspections(ctx context.Context, d *access.Decision, n int) error {
	if s.audit == nil || n == 0 {
		return nil
	}
	only := &access.Decision{Dataset: d.Dataset, Rows: d.Rows, OwnDept: d.OwnDept,
		Fields: map[string]access.FieldAccess{GroupInspections: access.FieldVisible}, Purpose: d.Purpose}
	if err := s.audit.Read(ctx, only, n); err != nil {
		return fmt.Errorf("audit inspections: %w", err)
	}
	return nil
}

// Inspectors returns the inspectors among ids (names for the staff who see
// inspections). FORBIDDEN for the public.
func (s *Service) Inspectors(ctx context.Context, ids []string) ([]*Inspector, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		return nil, apperr.New(apperr.Forbidden, "inspectors are not published")
	}
	return s.store.Inspectors(ctx, ids)
}

// mayManageInspections reports whether the caller runs housing's
// inspections: a housing officer or administrator (who may write the
// registry). Department systems may not draw: a draw is a person's act.
func mayManageInspections(d *access.Decision, p *access.Principal) bool {
	return d.Can("write") && p.Dept == OwnerDept && p.Kind == access.KindUser &&
		(p.HasRole(access.RoleAdmin) || p.HasRole(access.RoleOfficer))
}

// DrawInspections draws a round of double-random inspections (双随机): from
// the register of targets (compounds with a management company, weighted by
// complaints) it draws ⌈ratio × targets⌉ of them, and for each
// inspectorsPerTarget inspectors with recusal, by the pure function Draw.
// Recusal excludes declared conflicts and whoever inspected the compound in
// the last Config.RecusalRounds rounds (2 by default). It records the seed
// and the SHA-256 of both register snapshots (and the snapshots themselves,
// so anyone can replay it with ReplayDraw) and stores the round and its
// inspections, scheduled on working days over the period.
//
// round names the period: 2026-H1, 2026-Q3 or 2026-07. Only housing's
// officers and administrators may draw (else FORBIDDEN). BAD_USER_INPUT for
// a malformed round, a ratio under 5 % or over 100 %, fewer than 2
// inspectors per target, or too few eligible inspectors; CONFLICT when the
// round was already drawn: a round is drawn once.
func (s *Service) DrawInspections(ctx context.Context, round string, ratio float64, inspectorsPerTarget int, seed int64) (*Round, []Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := access.PrincipalFrom(ctx)
	if !mayManageInspections(d, p) {
		return nil, nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may draw inspection rounds")
	}
	start, _, ok := ParseRound(round)
	if !ok {
		return nil, nil, apperr.Invalid("round", "%q is not a round such as 2026-H1, 2026-Q3 or 2026-07", round)
	}
	if !(ratio >= MinRatio && ratio <= 1) {
		return nil, nil, apperr.Invalid("ratio", "the sampling ratio must be between 5%% and 100%% (0.05–1), got %v", ratio)
	}
	if inspectorsPerTarget < MinPerTarget || inspectorsPerTarget > MaxPerTarget {
		return nil, nil, apperr.Invalid("inspectorsPerTarget", "each target needs %d to %d inspectors, got %d", MinPerTarget, MaxPerTarget, inspectorsPerTarget)
	}
	if r, err := s.store.Round(ctx, round); err == nil {
		return nil, nil, apperr.New(apperr.Conflict, "round %s was already drawn on %s; a round is drawn once", round, r.DrawnAt.Format(time.DateOnly))
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, nil, err
	}
	reg, err := s.store.Registers(ctx, OwnerDept, start, s.recusalRounds)
	if err != nil {
		return nil, nil, fmt.Errorf("read registers: %w", err)
	}
	res, err := Draw(reg, seed, ratio, inspectorsPerTarget)
	if err != nil {
		return nil, nil, err
	}
	r, list := RoundFromDraw(round, OwnerDept, res, s.Now(), p.Actor(), s.cal)
	if err := s.store.CreateRound(ctx, r, reg.EncodeTargets(), reg.EncodeInspectors(), list); err != nil {
		return nil, nil, err
	}
	return r, list, nil
}

// RoundFromDraw turns a draw into the round record and its inspections
// (new ids, dates spread over the period's working days by ScheduleDates).
// The demo seeder uses it too.
func RoundFromDraw(round, dept string, res *DrawResult, at time.Time, by string, cal WorkingDays) (*Round, []Inspection) {
	start, _, _ := ParseRound(round)
	r := &Round{Round: round, PeriodStart: start, Dept: dept, Seed: res.Seed, Ratio: res.Ratio, PerTarget: res.PerTarget,
		RegisterSize: res.RegisterSize, Drawn: len(res.Picks), PreviousRounds: slices.Clone(res.PreviousRounds),
		TargetsHash: res.TargetsHash, InspectorsHash: res.InspectorsHash, DrawnAt: at, DrawnBy: by}
	if len(res.PreviousRounds) > 0 {
		r.PreviousRound = res.PreviousRounds[0]
	}
	dates := ScheduleDates(round, len(res.Picks), cal)
	list := make([]Inspection, len(res.Picks))
	for i, pk := range res.Picks {
		list[i] = Inspection{ID: uuid.Must(uuid.NewV7()), Round: round, Rank: pk.Rank, PropertyID: pk.PropertyID,
			InspectorIDs: slices.Clone(pk.InspectorIDs), ScheduledOn: dates[i], Version: 1}
	}
	return r, list
}

// Replay is a stored round drawn again from its recorded snapshots and seed.
type Replay struct {
	Round  *Round
	Result *DrawResult
	// HashesMatch: the stored snapshots hash to the recorded hashes.
	HashesMatch bool
	// Matches: the replayed picks equal the stored inspections (targets,
	// order and inspectors).
	Matches     bool
	Differences []string
}

// ReplayDraw draws a stored round again from the register snapshots it was
// drawn from and its recorded seed, and compares with what was stored: the
// proof that a draw was not steered. Anyone who may see the round may
// replay it; NOT_FOUND otherwise.
func (s *Service) ReplayDraw(ctx context.Context, round string) (*Replay, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.visibleRound(ctx, d, round)
	if err != nil {
		return nil, err
	}
	tSnap, iSnap, err := s.store.RoundSnapshots(ctx, round)
	if err != nil {
		return nil, err
	}
	out := &Replay{Round: r, HashesMatch: Hash(tSnap) == r.TargetsHash && Hash(iSnap) == r.InspectorsHash}
	if !out.HashesMatch {
		out.Differences = append(out.Differences, "the stored register snapshots do not hash to the recorded hashes")
	}
	reg, err := DecodeRegisters(tSnap, iSnap)
	if err != nil {
		return nil, fmt.Errorf("replay round %s: %w", round, err)
	}
	res, err := Draw(reg, r.Seed, r.Ratio, r.PerTarget)
	if err != nil {
		return nil, fmt.Errorf("replay round %s: %w", round, err)
	}
	out.Result = res
	stored, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	out.Differences = append(out.Differences, ComparePicks(res.Picks, stored)...)
	out.Matches = len(out.Differences) == 0
	return out, nil
}

// ComparePicks lists how stored inspections differ from a draw's picks
// (nothing when they agree).
func ComparePicks(picks []Pick, stored []Inspection) []string {
	var diff []string
	if len(picks) != len(stored) {
		diff = append(diff, fmt.Sprintf("the draw has %d targets, %d inspections are stored", len(picks), len(stored)))
	}
	byRank := make(map[int]*Inspection, len(stored))
	for i := range stored {
		byRank[stored[i].Rank] = &stored[i]
	}
	for _, pk := range picks {
		in := byRank[pk.Rank]
		switch {
		case in == nil:
			diff = append(diff, fmt.Sprintf("rank %d: drawn %s, nothing stored", pk.Rank, pk.PropertyID))
		case in.PropertyID != pk.PropertyID:
			diff = append(diff, fmt.Sprintf("rank %d: drawn %s, stored %s", pk.Rank, pk.PropertyID, in.PropertyID))
		case !slices.Equal(in.InspectorIDs, pk.InspectorIDs):
			diff = append(diff, fmt.Sprintf("rank %d: drawn inspectors %v, stored %v", pk.Rank, pk.InspectorIDs, in.InspectorIDs))
		}
	}
	return diff
}

// ResultInput records an inspection's outcome.
type ResultInput struct {
	Result   Result
	Findings string
	// Version, when set, must equal the inspection's current version.
	Version *int
}

// RecordResult records (or corrects) an inspection's result before its
// round is published. Only housing's officers and administrators
// (FORBIDDEN); BAD_USER_INPUT for an unknown result or a RECTIFY or FAIL
// without findings; CONFLICT once the round is published or for a stale
// version; NOT_FOUND for an unknown inspection.
func (s *Service) RecordResult(ctx context.Context, id uuid.UUID, in ResultInput) (*Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !mayManageInspections(d, access.PrincipalFrom(ctx)) {
		return nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may record inspection results")
	}
	in.Findings = strings.TrimSpace(in.Findings)
	switch {
	case !in.Result.Valid():
		return nil, apperr.Invalid("result", "unknown result %q (PASS, RECTIFY or FAIL)", in.Result)
	case in.Result != ResultPass && in.Findings == "":
		return nil, apperr.Invalid("findings", "a %s result needs findings: what is wrong and what must be done", in.Result)
	case utf8.RuneCountInString(in.Findings) > 2000:
		return nil, apperr.Invalid("findings", "the findings are limited to 2000 characters")
	}
	// Looked up within the caller's scope on compounds: an inspection of a
	// compound it cannot see is missing to it.
	ins, err := s.store.Inspection(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	if ins.Published {
		return nil, apperr.New(apperr.Conflict, "round %s is published: its results can no longer change", ins.Round)
	}
	if in.Version != nil && *in.Version != ins.Version {
		return nil, apperr.New(apperr.Conflict, "the inspection has changed since you loaded it (your version %d, current version %d); reload and try again", *in.Version, ins.Version)
	}
	now := s.Now()
	prev := ins.Version
	ins.Result, ins.Findings, ins.RecordedAt = in.Result, in.Findings, &now
	ins.Version++
	if err := s.store.RecordResult(ctx, ins, prev); err != nil {
		return nil, err
	}
	return ins, nil
}

// PublishRound publishes a round's results to the public (一公开). Only
// housing's officers and administrators (FORBIDDEN); NOT_FOUND for an
// unknown round; BAD_USER_INPUT while inspections lack a result; CONFLICT
// when it is already published.
func (s *Service) PublishRound(ctx context.Context, round string) (*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !mayManageInspections(d, access.PrincipalFrom(ctx)) {
		return nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may publish inspection rounds")
	}
	r, err := s.store.Round(ctx, round)
	if err != nil {
		return nil, err
	}
	if r.Published {
		return nil, apperr.New(apperr.Conflict, "round %s is already published", round)
	}
	list, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	pending := 0
	for _, in := range list {
		if in.Result == "" {
			pending++
		}
	}
	if pending > 0 {
		return nil, apperr.New(apperr.BadUserInput, "%d of the %d inspections of round %s have no result yet; record them before publishing", pending, len(list), round)
	}
	now := s.Now()
	if err := s.store.PublishRound(ctx, round, now); err != nil {
		return nil, err
	}
	r.Published, r.PublishedAt = true, &now
	return r, nil
}

// ByParent returns, per parent key, the first compounds under it that the
// caller may see, in one statement per jurisdiction level (nested lists).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, first int, withCount bool) (map[string][]*Property, map[string]int, error) {
	if err := links.CheckFirst(first); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Property, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, first, withCount)
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
