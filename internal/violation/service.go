package violation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	"github.com/fengcheng/datahub/internal/upsert"
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
	// ByParent returns, per parent key, its first records within scope and,
	// with withCount, each parent's total.
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, first int, withCount bool) (map[string][]*Violation, map[string]int, error)
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
	if order == "" {
		order = OrderDiscoveredDesc
	}
	list, more, err := access.ReadPage(ctx, s.Decide, s.audit, func(d *access.Decision) ([]*Violation, bool, error) {
		if !slices.Contains(Orders(), order) {
			return nil, false, apperr.Invalid("orderBy", "unknown order %q", order)
		}
		req, err := page.Parse(first, after, string(order), page.TimeKey)
		if err != nil {
			return nil, false, err
		}
		if err := s.validateFilter(ctx, d, &f, order); err != nil {
			return nil, false, err
		}
		list, more, err := s.store.List(ctx, d.Rows, ListQuery{Filter: f, Order: order, First: req.First, After: req.After, Now: s.Now()})
		if err != nil {
			return nil, false, fmt.Errorf("list violations: %w", err)
		}
		return list, more, nil
	})
	if err != nil {
		return nil, err
	}
	return &Page{Violations: list, HasNext: more, Order: order}, nil
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

// ReportInput is a violation as recorded by an officer or sent by a
// department system (drone platform, enforcement terminal, traffic police).
type ReportInput struct {
	Kind        Kind
	Subtype     Subtype // required for kinds with subtypes, empty otherwise
	Channel     Channel
	Description string
	// AreaM2 is required (> 0) for illegal construction.
	AreaM2  *float64
	Address string
	Lat     float64
	Lng     float64
	// Jurisdiction is optional: located from the point when empty.
	Jurisdiction string
	Party        Party
	// Plate is required for illegal parking and refused otherwise.
	Plate        string
	PropertyID   *uuid.UUID
	CaseID       *uuid.UUID
	DiscoveredAt *time.Time // now when nil
	// ExternalID is the sending system's id; Upsert requires it.
	ExternalID string
}

// validateReport checks and normalises in; it does not touch the store.
func validateReport(in *ReportInput, now time.Time) error {
	in.Description = strings.TrimSpace(in.Description)
	in.Address = strings.TrimSpace(in.Address)
	in.Jurisdiction = strings.TrimSpace(in.Jurisdiction)
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Party.Name = strings.TrimSpace(in.Party.Name)
	in.Party.Phone = strings.TrimSpace(in.Party.Phone)
	in.Party.IDNumber = strings.TrimSpace(in.Party.IDNumber)
	in.Plate = strings.TrimSpace(in.Plate)
	if !in.Kind.Valid() {
		return apperr.Invalid("kind", "unknown kind %q", in.Kind)
	}
	if subs := subtypes[in.Kind]; len(subs) > 0 {
		if !slices.Contains(subs, in.Subtype) {
			return apperr.Invalid("subtype", "a %s violation needs one of the subtypes %s", in.Kind, joinSubtypes(subs))
		}
	} else if in.Subtype != "" {
		return apperr.Invalid("subtype", "%s violations have no subtypes", in.Kind)
	}
	if !in.Channel.Valid() {
		return apperr.Invalid("channel", "unknown discovery channel %q", in.Channel)
	}
	if in.Description == "" {
		return apperr.Invalid("description", "describe the violation: the description must not be empty")
	}
	// In this order: the first problem is reported.
	for _, err := range []error{
		rules.MaxText("description", "the description", in.Description, rules.MaxDescription),
		rules.Address("address", in.Address),
		rules.Location("location", in.Lat, in.Lng),
		rules.OptionalJurisdiction("jurisdiction", in.Jurisdiction),
		rules.MaxText("externalId", "the external id", in.ExternalID, rules.MaxExternalID),
	} {
		if err != nil {
			return err
		}
	}
	if in.AreaM2 != nil {
		if !validArea(*in.AreaM2) {
			return apperr.Invalid("areaM2", "the area must be more than 0 and at most %d m²", AreaMaxM2)
		}
		a := math.Round(*in.AreaM2*100) / 100 // centimetre-square precision is plenty
		in.AreaM2 = &a
	} else if in.Kind.Construction() {
		return apperr.Invalid("areaM2", "give the area in m² of the illegal structure")
	}
	if err := validateParty(&in.Party); err != nil {
		return err
	}
	if in.Kind == KindIllegalParking {
		p, ok := NormalizePlate(in.Plate)
		if !ok {
			if in.Plate == "" {
				return apperr.Invalid("plate", "an illegal-parking violation needs the vehicle's plate")
			}
			return apperr.Invalid("plate", "%q is not a licence plate such as 苏M12345 or 苏MD12345", in.Plate)
		}
		in.Plate = p
	} else if in.Plate != "" {
		return apperr.Invalid("plate", "a plate is recorded for illegal parking only")
	}
	if in.DiscoveredAt != nil {
		if err := recordtime.Check("discoveredAt", *in.DiscoveredAt, now); err != nil {
			return err
		}
		t := in.DiscoveredAt.UTC().Truncate(time.Microsecond)
		in.DiscoveredAt = &t
	}
	return nil
}

func validateParty(p *Party) error {
	if utf8.RuneCountInString(p.Name) > 100 {
		return apperr.Invalid("party.name", "the name is limited to 100 characters")
	}
	if err := rules.Phone("party.phone", p.Phone); err != nil {
		return err
	}
	if p.IDNumber != "" {
		id, ok := NormalizeIDNumber(p.IDNumber)
		if !ok {
			return apperr.Invalid("party.idNumber", "not a valid 18-character resident ID number (check the birth date and the last character)")
		}
		p.IDNumber = id
	}
	return nil
}

func joinSubtypes(list []Subtype) string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

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

// linkedCases is the dataset a violation's case link points into.
const linkedCases = "cases"

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

// Report records a new violation in status DISCOVERED. The caller needs the
// "report" action on violations; BAD_USER_INPUT on invalid input, CONFLICT
// when the caller's department already sent this external id (use Upsert to
// resend). Nothing is written unless all checks pass.
func (s *Service) Report(ctx context.Context, in ReportInput) (*Violation, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !d.Can("report") {
		return nil, apperr.New(apperr.Forbidden, "you may not record violations")
	}
	now := s.Now()
	if err := validateReport(&in, now); err != nil {
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

// Upsert creates or updates the violation the caller's department sent
// under in.ExternalID: idempotent for department systems that resend. The
// lifecycle is not touched (use Transition). version, when set, must equal
// the stored version of an existing record (else CONFLICT). The caller needs
// the "report" action. BAD_USER_INPUT on invalid input, on a change of kind,
// or on changes to a closed file.
func (s *Service) Upsert(ctx context.Context, in ReportInput, version *int) (upsert.Result[*Violation], error) {
	var none upsert.Result[*Violation]
	d, err := s.Decide(ctx)
	if err != nil {
		return none, err
	}
	if !d.Can("report") {
		return none, apperr.New(apperr.Forbidden, "you may not record violations")
	}
	now := s.Now()
	if err := validateReport(&in, now); err != nil {
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
	if utf8.RuneCountInString(in.Note) > 1000 {
		return nil, apperr.Invalid("note", "the note is limited to 1000 characters")
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

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

func fmtDeadline(t *time.Time) string {
	if t == nil {
		return "none set"
	}
	return t.In(shanghai).Format("2006-01-02 15:04")
}

func ptr[T any](v T) *T { return &v }

// ByParent returns, per parent key, the first violations under it that the
// caller may see, in one statement per jurisdiction level (nested lists).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, first int, withCount bool) (map[string][]*Violation, map[string]int, error) {
	if err := links.CheckFirst(first); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Violation, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, first, withCount)
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
