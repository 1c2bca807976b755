package parking

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// Store is the persistence the parking service needs. Every read takes the
// caller's row scope and applies it inside the query: a lot outside the
// scope is reported exactly like a lot that does not exist (NOT_FOUND).
type Store interface {
	// Get returns one lot within scope, or NOT_FOUND.
	Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*Lot, error)
	// GetMany returns the lots within scope among ids, in any order.
	GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*Lot, error)
	// List returns up to q.First lots after q.After and whether more follow.
	List(ctx context.Context, scope access.RowScope, q ListQuery) ([]*Lot, bool, error)
	// Near returns up to q.Limit lots within scope and q.Radius meters of
	// the point, nearest first, after q.After, with their distances (Status
	// left zero). Fewer than q.Limit means the radius is exhausted.
	Near(ctx context.Context, scope access.RowScope, q NearQuery) ([]Nearby, error)
	// OpeningRate counts the government lots within scope and those of them
	// open off-peak.
	OpeningRate(ctx context.Context, scope access.RowScope) (Rate, error)
	// AddedSpaces counts the lots within scope that opened in [since,
	// until) and their spaces.
	AddedSpaces(ctx context.Context, scope access.RowScope, since, until time.Time) (Added, error)
	// BySource returns the lot sourceDept filed under externalID within
	// scope, or NOT_FOUND. A lookup by key is a read: a lot outside the
	// caller's scope is missing to it, like any other.
	BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*Lot, error)
	// Create inserts a new lot; CONFLICT if (SourceDept, ExternalID) exists.
	Create(ctx context.Context, lot *Lot) error
	// Update writes lot if its stored version is still prevVersion, else
	// CONFLICT naming the current version.
	Update(ctx context.Context, lot *Lot, prevVersion int) error
	// ByParent returns, per parent key, its page of records within scope
	// (req gives the nested list's cursor and size) and, with withCount,
	// each parent's total.
	ByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Lot, map[string]int, error)
	// CountByParent counts, per parent key, its records within scope.
	CountByParent(ctx context.Context, scope access.RowScope, parent links.Parent, keys []string) (map[string]int, error)
	// Count returns how many lots within scope match f.
	Count(ctx context.Context, scope access.RowScope, f Filter) (int, error)
}

// Counters keep the live free-space counts (Redis in production).
type Counters interface {
	// Report records that lot lotID had free spaces at instant at and
	// returns the current value afterwards. A report older than the stored
	// one is ignored (stored = false, the newer value is returned).
	// BAD_USER_INPUT when free is negative or exceeds the lot's spaces,
	// NOT_FOUND for an unknown lot.
	Report(ctx context.Context, lotID uuid.UUID, free int, at time.Time) (current Availability, stored bool, err error)
	// Current returns the last reported value of each lot among ids that
	// has one, in one round trip.
	Current(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Availability, error)
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
	// Availability may be nil: live counts are then unavailable
	// (ReportAvailability answers SERVICE_UNAVAILABLE, Availability nothing).
	Availability Counters
	Calendar     Calendar
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Near limits.
const (
	RadiusDefault    = 2000.0   // meters
	RadiusMax        = 20_000.0 // meters
	NearFirstDefault = 10
	NearFirstMax     = 100
	// nearBatchMin and nearBatchMax bound the candidate batches Near reads
	// when it filters on opening hours.
	nearBatchMin = 16
	nearBatchMax = 512
)

// Service implements the parking registry and its queries. It is safe for
// concurrent use.
type Service struct {
	dir   directory.Lookup
	store Store
	auth  Authorizer
	audit Auditor
	avail Counters
	cal   Calendar
	now   func() time.Time
}

// NewService returns a parking service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{dir: cfg.Directory, store: cfg.Store, auth: cfg.Authorizer, audit: cfg.Auditor, avail: cfg.Availability,
		cal: cfg.Calendar, now: cfg.Now}
}

// Now returns the service clock's current time.
func (s *Service) Now() time.Time { return s.now().UTC() }

// Decide returns the caller's decision on parking.
func (s *Service) Decide(ctx context.Context) (*access.Decision, error) {
	return s.auth.Decide(ctx, Dataset)
}

// audited records a read of the rows in jurisdictions (one per row
// returned) when the auditor wants it.
func (s *Service) audited(ctx context.Context, d *access.Decision, jurisdictions []string) error {
	return access.AuditRead(ctx, s.audit, d, jurisdictions)
}

// OpenStatus reports whether lot is open to the public at instant at (see
// OpenToPublic).
func (s *Service) OpenStatus(lot *Lot, at time.Time) OpenStatus { return OpenToPublic(lot, at, s.cal) }

// Get returns a lot visible to the caller. NOT_FOUND when it does not exist
// or lies outside the caller's scope.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (*Lot, error) {
	return access.ReadOne(ctx, s.Decide, s.audit, func(rows access.RowScope) (*Lot, error) { return s.store.Get(ctx, rows, id) })
}

// GetMany returns the visible lots among ids (entity resolution, loaders),
// in any order.
func (s *Service) GetMany(ctx context.Context, ids []uuid.UUID) ([]*Lot, error) {
	return access.ReadMany(ctx, s.Decide, s.audit, func(rows access.RowScope) ([]*Lot, error) { return s.store.GetMany(ctx, rows, ids) })
}

// Page is one page of a lot list.
type Page struct {
	Lots    []*Lot
	HasNext bool
	HasPrev bool
	Order   Order
}

// Cursor returns the cursor of the i-th lot of the page: its name (none in
// id order) and its id.
func (p *Page) Cursor(i int) string {
	l := p.Lots[i]
	if p.Order == OrderID {
		return page.Of(string(p.Order), "", l.ID).Encode()
	}
	return page.Of(string(p.Order), l.Name, l.ID).Encode()
}

// Count returns how many lots visible to the caller match f. BAD_USER_INPUT
// for an invalid filter.
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

// List returns a page of lots visible to the caller, by name (default) or
// by id. BAD_USER_INPUT for an invalid filter, page size or cursor.
func (s *Service) List(ctx context.Context, f Filter, order Order, first *int, after *string) (*Page, error) {
	return s.ListPage(ctx, f, order, page.Args{First: first, After: after})
}

// ListPage is List with every Relay argument: first/after page forward,
// last/before backward (the page still in the list's order).
// BAD_USER_INPUT for a mix of the two directions.
func (s *Service) ListPage(ctx context.Context, f Filter, order Order, args page.Args) (*Page, error) {
	var req page.Request
	if order == "" {
		order = OrderName
	}
	list, more, err := access.ReadPage(ctx, s.Decide, s.audit, func(d *access.Decision) ([]*Lot, bool, error) {
		if !order.Valid() {
			return nil, false, apperr.Invalid("orderBy", "unknown order %q; use NAME or ID", order)
		}
		r, err := page.ParseArgs(args, string(order), page.TextKey)
		if err != nil {
			return nil, false, err
		}
		req = r
		if err := s.validateFilter(ctx, d, &f, order); err != nil {
			return nil, false, err
		}
		list, more, err := s.store.List(ctx, d.Rows, ListQuery{Filter: f, Order: order, First: req.First, After: req.After, Backward: req.Backward, Last: req.Last, Before: req.Before})
		if err != nil {
			return nil, false, fmt.Errorf("list lots: %w", err)
		}
		return list, more, nil
	})
	if err != nil {
		return nil, err
	}
	info := req.InfoOf(more)
	return &Page{Lots: list, HasNext: info.HasNext, HasPrev: info.HasPrev, Order: order}, nil
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
	case f.Kind != "" && !f.Kind.Valid():
		return apperr.Invalid("filter.kind", "unknown kind %q", f.Kind)
	case f.OwnerDept != "" && !rules.DeptCode(f.OwnerDept):
		return invalidDept("filter.ownerDept", f.OwnerDept)
	}
	return directory.CheckFilter(ctx, "filter.jurisdiction", f.Jurisdiction, s.dir.JurisdictionExists)
}

// Near returns the lots nearest a point within radiusMeters (default 2 km,
// at most 20 km), nearest first, at most first (default 10, at most 100),
// each with its distance and whether it is open. When openAt is given only
// lots open to the public at that instant are returned.
//
// The distance query runs on the GiST index (nearest-first index scan
// bounded by the radius). The opening rule is applied here, in Go, on
// candidates read in distance order, in batches that start at twice first
// and double (up to 512) until first open lots are found or the radius
// holds no more lots. Keeping the rule in one place (OpenToPublic, with the
// holiday calendar and the midnight-crossing windows that depend on the
// previous day's type) is worth more than pushing it into SQL: most lots
// are open at most times, so the first batch nearly always suffices, and
// the index scan stops as soon as a batch is full.
//
// BAD_USER_INPUT (with the field) for a point off the globe, a radius or
// first out of range.
func (s *Service) Near(ctx context.Context, lat, lng float64, radiusMeters *float64, openAt *time.Time, first *int) ([]Nearby, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case math.IsNaN(lat) || lat < -90 || lat > 90:
		return nil, apperr.Invalid("lat", "latitude must be between -90 and 90")
	case math.IsNaN(lng) || lng < -180 || lng > 180:
		return nil, apperr.Invalid("lng", "longitude must be between -180 and 180")
	}
	radius := RadiusDefault
	if radiusMeters != nil {
		radius = *radiusMeters
		if math.IsNaN(radius) || radius <= 0 || radius > RadiusMax {
			return nil, apperr.Invalid("radiusMeters", "the radius must be more than 0 and at most %.0f meters", RadiusMax)
		}
	}
	n := NearFirstDefault
	if first != nil {
		n = *first
		if n < 0 || n > NearFirstMax {
			return nil, apperr.Invalid("first", "must be between 0 and %d", NearFirstMax)
		}
	}
	if n == 0 {
		return []Nearby{}, nil
	}
	at := s.Now()
	if openAt != nil {
		at = *openAt
	}
	q := NearQuery{Lat: lat, Lng: lng, Radius: radius, Limit: n}
	if openAt != nil {
		q.Limit = min(max(2*n, nearBatchMin), nearBatchMax)
	}
	out := make([]Nearby, 0, n)
	for {
		batch, err := s.store.Near(ctx, d.Rows, q)
		if err != nil {
			return nil, fmt.Errorf("near lots: %w", err)
		}
		for _, nb := range batch {
			nb.Status = OpenToPublic(nb.Lot, at, s.cal)
			if openAt != nil && !nb.Status.Open {
				continue
			}
			out = append(out, nb)
			if len(out) == n {
				break
			}
		}
		if len(out) == n || len(batch) < q.Limit {
			break
		}
		q.After = nextNear(q.After, batch)
		q.Limit = min(2*q.Limit, nearBatchMax)
	}
	js := make([]string, len(out))
	for i, nb := range out {
		js[i] = nb.Lot.RowJurisdiction()
	}
	if err := s.audited(ctx, d, js); err != nil {
		return nil, err
	}
	return out, nil
}

// nextNear returns the cursor after batch: its last distance and every id
// returned at exactly that distance (in this batch and, when the whole
// batch sat at that distance, the previous ones).
func nextNear(prev *NearCursor, batch []Nearby) *NearCursor {
	last := batch[len(batch)-1].DistanceMeters
	cur := &NearCursor{Distance: last}
	if prev != nil && prev.Distance == last {
		cur.Seen = append(cur.Seen, prev.Seen...)
	}
	for i := len(batch) - 1; i >= 0 && batch[i].DistanceMeters == last; i-- {
		cur.Seen = append(cur.Seen, batch[i].Lot.ID)
	}
	return cur
}

// OpeningRate returns the off-peak sharing opening rate of the government
// lots visible to the caller: GOVERNMENT_SHARED lots with shared spaces over
// all government lots.
func (s *Service) OpeningRate(ctx context.Context) (Rate, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return Rate{}, err
	}
	r, err := s.store.OpeningRate(ctx, d.Rows)
	if err != nil {
		return Rate{}, fmt.Errorf("opening rate: %w", err)
	}
	if r.Total > 0 {
		r.Rate = float64(r.Open) / float64(r.Total)
	}
	return r, nil
}

// AddedSpaces returns the lots that opened in [since, until) among those the
// caller may see, and their spaces: the new parking spaces of a period
// (until defaults to now). BAD_USER_INPUT when until is not after since.
func (s *Service) AddedSpaces(ctx context.Context, since time.Time, until *time.Time) (Added, error) {
	end := s.now()
	if until != nil {
		end = *until
	}
	if !end.After(since) {
		return Added{}, apperr.Invalid("until", "the period must end after it starts")
	}
	d, err := s.Decide(ctx)
	if err != nil {
		return Added{}, err
	}
	a, err := s.store.AddedSpaces(ctx, d.Rows, since, end)
	if err != nil {
		return Added{}, fmt.Errorf("added spaces: %w", err)
	}
	return a, nil
}

// Availability returns the live free spaces of lots the caller already
// sees (field resolvers, loaders), keyed by lot; lots that never reported
// are absent.
func (s *Service) Availability(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]Availability, error) {
	if s.avail == nil || len(ids) == 0 {
		return map[uuid.UUID]Availability{}, nil
	}
	return s.avail.Current(ctx, ids)
}

// mayWrite reports whether the principal's department may write a lot
// owned by owner: the provider (traffic police) writes every lot, another
// department only its own.
func mayWrite(p *access.Principal, owner string) bool {
	return p.Dept != "" && (p.Dept == ProviderDept || p.Dept == owner)
}

// ReportAvailability records a lot's free spaces as counted by its system
// at instant at (now when nil) and returns the lot's current value (the
// stored newer one when this report is older). The caller needs the "write"
// action on parking and must belong to the traffic police or to the lot's
// owner department (FORBIDDEN otherwise); NOT_FOUND for an unknown lot;
// BAD_USER_INPUT when free is negative or exceeds the lot's spaces or at
// lies in the future; SERVICE_UNAVAILABLE without live counters.
func (s *Service) ReportAvailability(ctx context.Context, lotID uuid.UUID, free int, at *time.Time) (Availability, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return Availability{}, err
	}
	if !d.Can("write") {
		return Availability{}, apperr.New(apperr.Forbidden, "you may not report parking availability")
	}
	if s.avail == nil {
		return Availability{}, apperr.New(apperr.ServiceUnavailable, "live parking availability is not available")
	}
	lot, err := s.store.Get(ctx, d.Rows, lotID)
	if err != nil {
		return Availability{}, err
	}
	if !mayWrite(access.PrincipalFrom(ctx), lot.OwnerDept) {
		return Availability{}, apperr.New(apperr.Forbidden, "only %s or the traffic police may report availability of %s", lot.OwnerDept, lot.Name)
	}
	if free < 0 || free > lot.TotalSpaces {
		return Availability{}, apperr.Invalid("free", "free spaces must be between 0 and the lot's %d spaces", lot.TotalSpaces)
	}
	now := s.Now()
	when := now
	if at != nil {
		if err := recordtime.Check("at", *at, now); err != nil {
			return Availability{}, err
		}
		when = at.UTC()
	}
	cur, _, err := s.avail.Report(ctx, lot.ID, free, when)
	if err != nil {
		return Availability{}, fmt.Errorf("report availability of %s: %w", lot.ID, err)
	}
	return cur, nil
}

// invalidDept refuses a malformed department code on field.
func invalidDept(field, dept string) error {
	return apperr.Invalid(field, "%q is not a department code such as traffic-police", dept)
}

// ByParent returns, per parent key, the first lots under it that the
// caller may see, in one statement per jurisdiction level (nested lists),
// from req's cursor (req.Size() rows: the graph asks one more than the page).
// With withCount it also returns each parent's total.
func (s *Service) ByParent(ctx context.Context, parent links.Parent, keys []string, req page.Request, withCount bool) (map[string][]*Lot, map[string]int, error) {
	if err := links.CheckFirst(req.Size()); err != nil {
		return nil, nil, err
	}
	return access.ReadGrouped(ctx, s.Decide, s.audit, func(rows access.RowScope) (map[string][]*Lot, map[string]int, error) {
		return s.store.ByParent(ctx, rows, parent, keys, req, withCount)
	})
}

// CountByParent returns, per parent key, how many lots under it the
// caller may see.
func (s *Service) CountByParent(ctx context.Context, parent links.Parent, keys []string) (map[string]int, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.CountByParent(ctx, d.Rows, parent, keys)
}
