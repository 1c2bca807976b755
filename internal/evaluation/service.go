package evaluation

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/google/uuid"
)

// Dataset is the catalog name of evaluation data.
const Dataset = "evaluation"

// Field groups of the evaluation dataset (policies/catalog.yaml).
const (
	GroupIndicators = "indicators"
	GroupSnapshots  = "snapshots"
)

// Defaults for Config.
const (
	// SuppressBelowDefault is the small-cell threshold when the catalog
	// gives none.
	SuppressBelowDefault = 5
	// InlineRefreshLimitDefault bounds the queued case changes Indicators
	// applies itself before reading; more are left to the periodic Refresh.
	InlineRefreshLimitDefault = 10_000
	// ExportBatchDefault is how many snapshot rows one keyset query reads.
	ExportBatchDefault = 5_000
)

// Store is the persistence evaluation needs (internal/postgres).
type Store interface {
	// Refresh applies queued case changes to the rollups, one batch per
	// transaction, under a lock that serialises refreshes across instances.
	Refresh(ctx context.Context, rules *Rules, now time.Time, opts RefreshOptions) (RefreshStats, error)
	// Rebuild recomputes the ledger and every rollup from the cases.
	Rebuild(ctx context.Context, rules *Rules, now time.Time) (RefreshStats, error)
	// Cells aggregates the rollups; it also returns their horizon (stock
	// counters are known for the months before it). With q.Wide it also
	// returns the same cells under q.Filter's jurisdiction alone, read in
	// the same snapshot (wide is nil otherwise).
	Cells(ctx context.Context, q CellQuery) (cells, wide []Cell, horizon Month, err error)
	// Live reads the current period's time-dependent part from the ledger;
	// with q.Wide, also without the narrowing filters, as Cells does.
	Live(ctx context.Context, q LiveQuery) (cells, wide []LiveCell, err error)
	// Other reads the facts of the violations, parking and inspection
	// figures, for the tables that exist.
	Other(ctx context.Context, q OtherQuery) (*OtherFacts, error)
	// CreateSnapshot freezes a snapshot in one transaction and returns its
	// manifest.
	CreateSnapshot(ctx context.Context, spec *SnapshotSpec) (*Manifest, error)
	// Snapshot returns a manifest, or NOT_FOUND.
	Snapshot(ctx context.Context, id uuid.UUID) (*Manifest, error)
	// Snapshots lists manifests, newest first; only those made for org
	// when org is not empty.
	Snapshots(ctx context.Context, limit int, org string) ([]*Manifest, error)
	// Organisation returns a registered evaluation organisation, or
	// NOT_FOUND.
	Organisation(ctx context.Context, code string) (*Organisation, error)
	// RegisterOrganisation inserts or updates (a renewed contract) an
	// organisation; BAD_USER_INPUT when its code is a department's.
	RegisterOrganisation(ctx context.Context, o *Organisation) error
	// Checkpoint returns the last checkpoint at or before offset in a
	// rendering: the row it starts and that row's byte offset.
	Checkpoint(ctx context.Context, id uuid.UUID, f Format, offset int64) (seq, at int64, err error)
	// Lines calls fn with each row's line of a rendering (no newline), from
	// row fromSeq on, in order, reading limit rows per query; fn's slice is
	// valid only during the call. An error from fn stops the scan. fn is
	// never called while a database connection is held: it writes to a
	// client, which may read as slowly as it likes.
	Lines(ctx context.Context, id uuid.UUID, f Format, fromSeq int64, limit int, fn func(line []byte) error) error
	// File calls fn with the chunks of a stored file of the snapshot (each
	// FileChunk bytes but the last), from chunk number fromChunk on; none
	// for an unknown file.
	File(ctx context.Context, id uuid.UUID, name string, fromChunk int64, fn func(chunk []byte) error) error
	PublicationStore
}

// RefreshOptions tune one Refresh.
type RefreshOptions struct {
	// Limit caps the cases applied (0: all queued).
	Limit int
	// NoWait gives up at once when another refresh holds the lock.
	NoWait bool
	// NoRebuild reports NeedsRebuild instead of rebuilding when the
	// rollups were never built or were built by other rules.
	NoRebuild bool
}

// RefreshStats describe one Refresh or Rebuild.
type RefreshStats struct {
	Cases        int  // case changes applied (rows of cases read)
	Rebuilt      bool // the rollups were rebuilt from scratch
	Busy         bool // another refresh held the lock (NoWait)
	NeedsRebuild bool // NoRebuild was set and a rebuild is due
	Pending      bool // queued changes remain (Limit reached)
	Duration     time.Duration
}

// SnapshotSpec is a snapshot to freeze.
type SnapshotSpec struct {
	ID            uuid.UUID
	Dataset       string
	Filter        SnapshotFilter
	Profile       Profile
	Anonymizer    *Anonymizer
	Key           []byte
	PolicyVersion string
	CreatedBy     string
	CreatedAt     time.Time
	// Classes is the case class catalogue frozen with the snapshot.
	Classes []cases.Class
	// Location is the zone the workbook shows times in.
	Location *time.Location
	// Org is the evaluation organisation the snapshot is made for (nil when
	// the district's own staff make it).
	Org *OrgRef
	// K is the k-anonymity threshold: every combination of the
	// quasi-identifiers must hold at least K rows.
	K int
}

// Authorizer decides what the calling principal may do with a dataset
// (the access engine), once per request and dataset.
type Authorizer interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// Auditor records reads that must leave a trace (internal/app's audit
// writer). An error refuses the read.
type Auditor interface {
	Read(ctx context.Context, d *access.Decision, rows int) error
}

// Config are a Service's dependencies.
type Config struct {
	Store      Store
	Authorizer Authorizer
	// Calendar counts working time (handling time in working hours) and
	// gives the time zone periods are judged in.
	Calendar WorkingTime
	// Weights of the composite score (policy.LoadWeights(policies.FS)); nil leaves
	// the composite empty.
	Weights *Weights
	// Catalog gives the small-cell threshold of the indicators group
	// (suppressBelow); nil means SuppressBelowDefault.
	Catalog *access.Catalog
	// Auditor may be nil.
	Auditor Auditor
	// PolicyVersion is recorded in every snapshot manifest
	// (PolicyVersion(policies.FS)).
	PolicyVersion string
	// InlineRefreshLimit: see InlineRefreshLimitDefault; negative disables
	// the refresh Indicators does itself.
	InlineRefreshLimit int
	// ExportBatch: see ExportBatchDefault.
	ExportBatch int
	// SnapshotK is the k-anonymity threshold of snapshots (see
	// KAnonymityDefault when 0).
	SnapshotK int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger (slog.Default when nil).
	Logger *slog.Logger
}

// Service computes indicators, freezes snapshots and exports them. It is
// safe for concurrent use.
type Service struct {
	store         Store
	auth          Authorizer
	cal           WorkingTime
	rules         *Rules
	loc           *time.Location
	weights       *Weights
	suppressBelow int
	audit         Auditor
	policyVersion string
	inlineLimit   int
	batch         int
	k             int
	now           func() time.Time
	log           *slog.Logger
}

// NewService returns an evaluation service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Authorizer == nil || cfg.Calendar == nil {
		return nil, fmt.Errorf("evaluation: Store, Authorizer and Calendar are required")
	}
	s := &Service{store: cfg.Store, auth: cfg.Authorizer, cal: cfg.Calendar, rules: NewRules(cfg.Calendar),
		loc: cfg.Calendar.Location(), weights: cfg.Weights, audit: cfg.Auditor, policyVersion: cfg.PolicyVersion,
		inlineLimit: cfg.InlineRefreshLimit, batch: cfg.ExportBatch, now: cfg.Now, log: cfg.Logger,
		suppressBelow: SuppressBelowDefault, k: cfg.SnapshotK}
	if s.k <= 0 {
		s.k = KAnonymityDefault
	}
	if s.inlineLimit == 0 {
		s.inlineLimit = InlineRefreshLimitDefault
	}
	if s.batch <= 0 {
		s.batch = ExportBatchDefault
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.policyVersion == "" {
		s.policyVersion = "unversioned"
	}
	if cfg.Catalog != nil {
		if ds, ok := cfg.Catalog.Dataset(Dataset); ok {
			if g, ok := ds.Group(GroupIndicators); ok && g.SuppressBelow > 0 {
				s.suppressBelow = g.SuppressBelow
			}
		}
	}
	return s, nil
}

// Location returns the time zone periods are judged in.
func (s *Service) Location() *time.Location { return s.loc }

// Weights returns the composite weights (nil when none).
func (s *Service) Weights() *Weights { return s.weights }

// SuppressBelow returns the small-cell threshold for public callers.
func (s *Service) SuppressBelow() int { return s.suppressBelow }

// Rules returns the contribution rules (for stores and tests).
func (s *Service) Rules() *Rules { return s.rules }

// indicatorAccess checks that the caller may read indicators and tells
// whether the caller is public.
//
// Who is public: the evaluation dataset's indicators group is class
// "public" (everyone reads it, and the policy gives every principal every
// row), so its decision cannot tell staff from the public. The hub already
// answers "may this caller read case rows as a department?" in the cases
// decision: every staff role has some case rows (its department's, its
// jurisdiction's, or all of them); the anonymous public, the citizen app
// (its own reports only) and evaluators (no live case rows at all) have
// none. Callers with department case rows see exact figures; everyone
// else gets small cells suppressed. The rule follows the policy, so a
// change in policy.csv moves a role across without code.
func (s *Service) indicatorAccess(ctx context.Context) (public bool, err error) {
	d, err := s.auth.Decide(ctx, Dataset)
	if err != nil {
		return false, err
	}
	if d.Field(GroupIndicators) == access.FieldDenied {
		return false, apperr.New(apperr.Forbidden, "you may not read evaluation indicators")
	}
	dc, err := s.auth.Decide(ctx, cases.Dataset)
	if err != nil {
		return false, err
	}
	r := dc.Rows
	staff := r.All || len(r.Jurisdictions) > 0 || len(r.Depts) > 0
	return !staff, nil
}

// snapshotAccess checks that the caller may read and create snapshots: the
// evaluation decision shows the "snapshots" group (class not-shared,
// provider "district": only roles policy.csv names — today the evaluator
// role). Anonymous callers get UNAUTHENTICATED, others FORBIDDEN.
func (s *Service) snapshotAccess(ctx context.Context) (*access.Decision, error) {
	d, err := s.auth.Decide(ctx, Dataset)
	if err != nil {
		return nil, err
	}
	if d.Field(GroupSnapshots) < access.FieldVisible {
		if access.PrincipalFrom(ctx).Kind == access.KindAnonymous {
			return nil, apperr.New(apperr.Unauthenticated, "sign in with an evaluator key to read assessment datasets")
		}
		return nil, apperr.New(apperr.Forbidden, "only third-party evaluators may read assessment datasets")
	}
	return d, nil
}

// Indicators returns the indicators of q: one row per period and group,
// every figure with its numerator, denominator and formula, and the
// composite score. Every caller who may read the evaluation indicators
// group may call it (FORBIDDEN otherwise); public callers (see
// indicatorAccess) get figures resting on fewer than the catalog's
// suppressBelow cases suppressed, and, when the filter narrows the cases
// below period and jurisdiction, those whose complement (the same cell
// without the narrowing filters, less this one) is that small too, and
// those the period rule hides so that no hidden figure is a quarter or a
// year less its other months or quarters (doc.go, "Small cells").
// BAD_USER_INPUT for an invalid query,
// SERVICE_UNAVAILABLE while the rollups are being rebuilt.
//
// Before reading, it applies up to InlineRefreshLimit queued case changes
// itself (unless another instance is refreshing), so a change is reflected
// in the next call.
func (s *Service) Indicators(ctx context.Context, q Query) ([]Row, error) {
	public, err := s.indicatorAccess(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	from, to, err := q.validate(now, s.loc)
	if err != nil {
		return nil, err
	}
	if to <= from {
		return []Row{}, nil
	}
	return s.indicators(ctx, &q, from, to, public, now)
}

// indicators computes q's rows as Indicators answers them for a public or
// a department caller, once q is valid and the caller checked.
func (s *Service) indicators(ctx context.Context, q *Query, from, to Month, public bool, now time.Time) ([]Row, error) {
	if s.inlineLimit > 0 {
		st, err := s.store.Refresh(ctx, s.rules, now, RefreshOptions{Limit: s.inlineLimit, NoWait: true, NoRebuild: true})
		if err != nil {
			return nil, fmt.Errorf("indicators: refresh: %w", err)
		}
		if st.NeedsRebuild {
			return nil, apperr.New(apperr.ServiceUnavailable, "the evaluation figures are being rebuilt; try again in a few minutes")
		}
	}
	if public {
		return s.publicIndicators(ctx, q, from, to, now)
	}
	cells, _, horizon, err := s.store.Cells(ctx, CellQuery{Period: q.Period, From: from, To: to, GroupBy: q.GroupBy, Filter: q.Filter})
	if err != nil {
		return nil, fmt.Errorf("indicators: cells: %w", err)
	}
	var live []LiveCell
	cur := q.Period.Start(MonthOf(now, s.loc))
	if cur >= from && cur < to {
		end := (cur + Month(q.Period.Months())).Start(s.loc)
		live, _, err = s.store.Live(ctx, LiveQuery{GroupBy: q.GroupBy, Filter: q.Filter, Now: now, PeriodEnd: end})
		if err != nil {
			return nil, fmt.Errorf("indicators: live: %w", err)
		}
	}
	var other *OtherFacts
	if otherGroupable(q) {
		other, err = s.store.Other(ctx, OtherQuery{Jurisdiction: q.Filter.Jurisdiction, From: from.Start(s.loc), To: to.Start(s.loc), Zone: s.loc.String()})
		if err != nil {
			return nil, fmt.Errorf("indicators: other datasets: %w", err)
		}
	}
	return s.rows(q.Period, s.accumulate(q, from, to, cells, live, other, nil, now), nil, horizon, other, now), nil
}

// Refresh applies every queued case change to the rollups, rebuilding them
// first when they were never built or were built by other rules. Call it
// periodically (every minute, say) and after bulk writes; it is safe to
// call from every instance (a lock serialises them). It is an internal
// operation: no principal is checked.
func (s *Service) Refresh(ctx context.Context) (RefreshStats, error) {
	return s.store.Refresh(ctx, s.rules, s.now(), RefreshOptions{})
}

// Rebuild recomputes the rollups from the cases. Call it after seeding or
// bulk-loading cases. Internal: no principal is checked.
func (s *Service) Rebuild(ctx context.Context) (RefreshStats, error) {
	return s.store.Rebuild(ctx, s.rules, s.now())
}

// CreateSnapshot freezes an anonymised copy of dataset (one of
// SnapshotDatasets) under filter and profile and returns its manifest.
// Only principals who may read snapshots may create them (see
// snapshotAccess); an evaluator only for its registered organisation,
// inside the contract's period and scope (FORBIDDEN otherwise).
// BAD_USER_INPUT for an unknown dataset, an invalid filter, or rows that
// cannot be made k-anonymous (see Plan).
//
// What a snapshot keeps: direct identifiers (reporter name and phone,
// citizen id, photo URLs, case number, external id, address, a violation's
// party and plate, a lot's contact, inspectors' names) are dropped; free
// text is dropped unless the profile keeps it, scrubbed; record ids become
// HMAC-SHA256 pseudonyms under a random key unique to the snapshot (kept
// server-side only), so two snapshots of the same data cannot be joined on
// them; the location is generalised to the community (plus coordinates
// rounded to about 100 m if the profile asks); times are truncated to the
// hour, with on-time flags and working hours computed on the exact times
// first so every figure stays reproducible. Then the quasi-identifiers are
// generalized until every combination holds at least K rows, and the
// manifest says what was generalized.
func (s *Service) CreateSnapshot(ctx context.Context, dataset string, filter SnapshotFilter, profile Profile) (*Manifest, error) {
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(SnapshotDatasets(), dataset) {
		return nil, apperr.Invalid("dataset", "unknown dataset %q: snapshots can be made of %s", dataset, strings.Join(SnapshotDatasets(), ", "))
	}
	if err := filter.validate(dataset); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	org, err := s.organisation(ctx)
	if err != nil {
		return nil, err
	}
	if org != nil {
		if err := org.permits(now, dataset, filter.Jurisdiction); err != nil {
			return nil, err
		}
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("snapshot key: %w", err)
	}
	an, err := NewDatasetAnonymizer(dataset, key, profile, s.cal)
	if err != nil {
		return nil, err
	}
	p := access.PrincipalFrom(ctx)
	spec := &SnapshotSpec{
		ID: uuid.Must(uuid.NewV7()), Dataset: dataset, Filter: filter, Profile: profile,
		Anonymizer: an, Key: key,
		PolicyVersion: s.policyVersion, CreatedBy: p.Actor(), CreatedAt: now,
		Classes: cases.DefaultCatalogue().All(), Location: s.loc, K: s.k,
	}
	if org != nil {
		spec.Org = org.ref()
	}
	m, err := s.store.CreateSnapshot(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("create snapshot: %w", err)
	}
	if err := s.audited(ctx, d, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (f *SnapshotFilter) validate(dataset string) error {
	f.Jurisdiction = strings.TrimSpace(f.Jurisdiction)
	if err := rules.OptionalJurisdiction("filter.jurisdiction", f.Jurisdiction); err != nil {
		return err
	}
	if f.ReportedFrom != nil && f.ReportedTo != nil && !f.ReportedTo.After(*f.ReportedFrom) {
		return apperr.Invalid("filter.reportedTo", "reportedTo must be after reportedFrom")
	}
	if spec, _ := snapshotDataset(dataset); !spec.kindAndSources && (f.Kind != "" || len(f.Sources) > 0) {
		return apperr.Invalid("filter.kind", "kind and source filter cases only; %s snapshots take jurisdiction and the period", dataset)
	}
	if f.Kind != "" && f.Kind != cases.KindComponent && f.Kind != cases.KindEvent {
		return apperr.Invalid("filter.kind", "unknown kind %q: use COMPONENT or EVENT", f.Kind)
	}
	for _, src := range f.Sources {
		if !slices.Contains(cases.Sources(), src) {
			return apperr.Invalid("filter.sources", "unknown source %q", src)
		}
	}
	return nil
}

// Snapshot returns a snapshot's manifest. Only principals who may read
// snapshots may call it, an evaluator only for its own organisation's
// snapshots within its contract (FORBIDDEN); NOT_FOUND when it does not
// exist.
func (s *Service) Snapshot(ctx context.Context, id uuid.UUID) (*Manifest, error) {
	if _, err := s.snapshotAccess(ctx); err != nil {
		return nil, err
	}
	m, err := s.store.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.mayDownload(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Snapshots lists up to limit manifests (100 when limit ≤ 0), newest first,
// to principals who may read snapshots; an evaluator sees its own
// organisation's, and none outside its contract period (FORBIDDEN).
func (s *Service) Snapshots(ctx context.Context, limit int) ([]*Manifest, error) {
	if _, err := s.snapshotAccess(ctx); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	org, err := s.organisation(ctx)
	if err != nil {
		return nil, err
	}
	code := ""
	if org != nil {
		if err := org.permits(s.now(), "", org.Jurisdictions[0]); err != nil {
			return nil, err
		}
		code = org.Code
	}
	return s.store.Snapshots(ctx, limit, code)
}

// mayDownload refuses an evaluator a snapshot made for another
// organisation (or before organisations), or outside its contract's period
// or scope: FORBIDDEN.
func (s *Service) mayDownload(ctx context.Context, m *Manifest) error {
	org, err := s.organisation(ctx)
	if err != nil || org == nil {
		return err
	}
	if m.Organisation == nil || m.Organisation.Code != org.Code {
		return apperr.New(apperr.Forbidden, "snapshot %s was not made for %s: an organisation downloads only its own assessment datasets", m.ID, org.Name)
	}
	return org.permits(s.now(), m.Dataset, m.Filter.Jurisdiction)
}
