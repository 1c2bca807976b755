package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// CaseStore keeps cases in PostgreSQL. It implements cases.Store.
type CaseStore struct {
	pool DB
}

// NewCaseStore returns a case store on pool.
func NewCaseStore(pool DB) *CaseStore { return &CaseStore{pool: pool} }

var _ cases.Store = (*CaseStore)(nil)

var caseScope = scopeColumns{path: "jpath", street: "street_code", depts: []string{"owner_dept", "handling_dept"}, citizenID: "citizen_id"}

// caseGroup is a run of case columns with where each lands in a Case; the
// core group is read always, the others when their part is asked for.
type caseGroup struct {
	part    cases.Parts // 0: the core
	columns string
	dest    func(dst []any, c *cases.Case, r *caseRating) []any
}

// caseRating holds the rating columns until they are known to be set.
type caseRating struct {
	stars   *int16
	comment string
	at      *time.Time
}

var caseGroups = [...]caseGroup{
	{0, `id, case_no, owner_dept, kind, major_code, minor_code, source, status, address, jurisdiction_code,
	coalesce(handling_dept, ''), coalesce(citizen_id, ''), reported_at, deadline, handled_at, version`,
		func(dst []any, c *cases.Case, _ *caseRating) []any {
			return append(dst, &c.ID, &c.CaseNo, interned(&c.OwnerDept), interned((*string)(&c.Kind)), interned(&c.MajorCode),
				interned(&c.MinorCode), interned((*string)(&c.Source)), interned((*string)(&c.Status)), &c.Address,
				interned(&c.JurisdictionCode), interned(&c.HandlingDept), &c.CitizenID, &c.ReportedAt, &c.Deadline, &c.HandledAt, &c.Version)
		}},
	{cases.PartReporter, `coalesce(reporter_name, ''), coalesce(reporter_phone, '')`,
		func(dst []any, c *cases.Case, _ *caseRating) []any {
			return append(dst, &c.ReporterName, &c.ReporterPhone)
		}},
	{cases.PartText, `description, photo_urls`,
		func(dst []any, c *cases.Case, _ *caseRating) []any { return append(dst, &c.Description, &c.PhotoURLs) }},
	{cases.PartLocation, `lat, lng`,
		func(dst []any, c *cases.Case, _ *caseRating) []any { return append(dst, &c.Lat, &c.Lng) }},
	{cases.PartTimeline, `registered_at, dispatched_at, closed_at, first_handled_at, first_deadline, rework_count, defer_count, return_count`,
		func(dst []any, c *cases.Case, _ *caseRating) []any {
			return append(dst, &c.RegisteredAt, &c.DispatchedAt, &c.ClosedAt, &c.FirstHandledAt, &c.FirstDeadline,
				&c.ReworkCount, &c.DeferCount, &c.ReturnCount)
		}},
	{cases.PartRating, `rating, coalesce(rating_comment, ''), rated_at`,
		func(dst []any, _ *cases.Case, r *caseRating) []any { return append(dst, &r.stars, &r.comment, &r.at) }},
	{cases.PartRecord, `source_dept, coalesce(external_id, ''), property_id, created_at, updated_at`,
		func(dst []any, c *cases.Case, _ *caseRating) []any {
			return append(dst, interned(&c.SourceDept), &c.ExternalID, &c.PropertyID, &c.CreatedAt, &c.UpdatedAt)
		}},
}

// scanTargets recycles the slices of scan targets a row is read into (one
// per row otherwise, forty interfaces long).
var scanTargets = sync.Pool{New: func() any { s := make([]any, 0, 48); return &s }}

// caseReads are the select list and the scanner of every combination of
// parts, built once: a list names the parts it reads, not its columns.
var caseReads = func() (out [cases.AllParts + 1]struct {
	columns string
	scan    func(pgx.Row) (*cases.Case, error)
}) {
	for parts := range out {
		var cols []string
		var groups []caseGroup
		for _, g := range caseGroups {
			if g.part == 0 || cases.Parts(parts)&g.part != 0 {
				cols = append(cols, g.columns)
				groups = append(groups, g)
			}
		}
		out[parts].columns = strings.Join(cols, ", ")
		out[parts].scan = func(row pgx.Row) (*cases.Case, error) {
			var c cases.Case
			var r caseRating
			targets := scanTargets.Get().(*[]any)
			dst := (*targets)[:0]
			for _, g := range groups {
				dst = g.dest(dst, &c, &r)
			}
			err := row.Scan(dst...)
			clear(dst) // the pooled slice must not keep this case alive
			*targets = dst[:0]
			scanTargets.Put(targets)
			if err != nil {
				return nil, err
			}
			if r.stars != nil && r.at != nil {
				c.Rating = &cases.Rating{Stars: int(*r.stars), Comment: r.comment, At: *r.at}
			}
			return &c, nil
		}
	}
	return out
}()

// caseColumns and scanCase read whole cases.
var (
	caseColumns = caseReads[cases.AllParts].columns
	scanCase    = caseReads[cases.AllParts].scan
)

// Get implements cases.Store.
func (s *CaseStore) Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*cases.Case, error) {
	w := newWhere()
	w.add("id = @id", "id", id)
	w.addScope(scope, caseScope)
	c, err := scanCase(s.pool.QueryRow(ctx, "SELECT "+caseColumns+" FROM cases WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "case %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get case %s: %w", id, err))
	}
	return c, nil
}

// GetMany implements cases.Store.
func (s *CaseStore) GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*cases.Case, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	w := newWhere()
	w.add("id = ANY(@ids)", "ids", ids)
	w.addScope(scope, caseScope)
	return s.query(ctx, "SELECT "+caseColumns+" FROM cases WHERE "+w.sql(), w.args)
}

func (s *CaseStore) query(ctx context.Context, sql string, args pgx.NamedArgs) ([]*cases.Case, error) {
	return queryAll(ctx, s.pool, "cases", sql, args, scanCase)
}

func caseFilter(w *where, f cases.Filter, now time.Time) {
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, v := range f.Statuses {
			st[i] = string(v)
		}
		w.add("status = ANY(@statuses)", "statuses", st)
	}
	if f.Open != nil {
		w.add("is_open = @open", "open", *f.Open)
	}
	if f.Kind != "" {
		w.add("kind = @kind", "kind", string(f.Kind))
	}
	if f.MajorCode != "" {
		w.add("major_code = @major", "major", f.MajorCode)
	}
	if f.MinorCode != "" {
		w.add("minor_code = @minor", "minor", f.MinorCode)
	}
	if len(f.Sources) > 0 {
		src := make([]string, len(f.Sources))
		for i, v := range f.Sources {
			src[i] = string(v)
		}
		w.add("source = ANY(@sources)", "sources", src)
	}
	if f.Jurisdiction != "" {
		w.addSubtree(f.Jurisdiction, "street_code", "community_code", "jpath", "jurisdiction_code")
	}
	if f.HandlingDept != "" {
		w.add("handling_dept = @hdept", "hdept", f.HandlingDept)
	}
	if f.Overdue != nil {
		// Mirrors cases.Case.Overdue.
		const overdue = `(deadline IS NOT NULL AND CASE WHEN handled_at IS NOT NULL AND status <> 'REWORK'
			THEN handled_at > deadline ELSE is_open AND deadline < @now END)`
		if *f.Overdue {
			w.add(overdue, "now", now)
		} else {
			w.add("NOT "+overdue, "now", now)
		}
	}
	if f.ReportedFrom != nil {
		w.add("reported_at >= @rfrom", "rfrom", *f.ReportedFrom)
	}
	if f.ReportedTo != nil {
		w.add("reported_at < @rto", "rto", *f.ReportedTo)
	}
	if f.ClosedFrom != nil {
		w.add("closed_at >= @cfrom", "cfrom", *f.ClosedFrom)
	}
	if f.ClosedTo != nil {
		w.add("closed_at < @cto", "cto", *f.ClosedTo)
	}
	if f.Text != "" {
		w.add("description ILIKE @text", "text", "%"+escapeLike(f.Text)+"%")
	}
	if f.CitizenID != "" {
		w.add("citizen_id = @citizen", "citizen", f.CitizenID)
	}
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// List implements cases.Store with keyset pagination.
func (s *CaseStore) List(ctx context.Context, scope access.RowScope, q cases.ListQuery) ([]*cases.Case, bool, error) {
	w := newWhere()
	caseFilter(w, q.Filter, q.Now)
	w.addScope(scope, caseScope)
	read := caseReads[cases.AllParts&^q.Skip]
	ks := keysetQuery{from: "cases", columns: read.columns, key: "reported_at", id: "id", desc: true, first: q.First}
	switch q.Order {
	case cases.OrderReportedAsc:
		ks.desc = false
	case cases.OrderDeadlineAsc:
		ks.key, ks.desc = "deadline_key", false
	case cases.OrderDeadlineDesc:
		ks.key = "deadline_key"
	}
	ks.pageBy(q.Request(), func(c *page.Cursor) any { return timeKey(c.Time()) })
	return keysetPage(ctx, s.pool, "cases", w, ks, read.scan)
}

// Count implements cases.Store.
func (s *CaseStore) Count(ctx context.Context, scope access.RowScope, f cases.Filter, now time.Time) (int, error) {
	w := newWhere()
	caseFilter(w, f, now)
	w.addScope(scope, caseScope)
	return countRows(ctx, s.pool, "cases", "cases", w)
}

func jurisdictionLevels(code string) (street, community *string) {
	parts := strings.Split(code, ".")
	if len(parts) >= 2 {
		s := strings.Join(parts[:2], ".")
		street = &s
	}
	if len(parts) >= 3 {
		c := strings.Join(parts[:3], ".")
		community = &c
	}
	return street, community
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Create implements cases.Store.
func (s *CaseStore) Create(ctx context.Context, c *cases.Case, ev cases.Event) error {
	street, community := jurisdictionLevels(c.JurisdictionCode)
	if street == nil {
		return apperr.Invalid("jurisdiction", "a case must lie in a street or town, not the whole district")
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source, status,
			description, address, lat, lng, jurisdiction_code, street_code, community_code, reporter_name, reporter_phone,
			citizen_id, photo_urls, reported_at, source_dept, external_id, created_at, updated_at, version, property_id, citizen_key)
			VALUES ($1, 'HL' || to_char($19 AT TIME ZONE 'Asia/Shanghai', 'YYYY') || '-' || lpad(nextval('case_no_seq')::text, 7, '0'),
			$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, 1, $23, $24)
			RETURNING case_no`,
			c.ID, c.OwnerDept, c.Kind, c.MajorCode, c.MinorCode, c.Source, c.Status, c.Description, c.Address,
			c.Lat, c.Lng, c.JurisdictionCode, *street, community, nullIfEmpty(c.ReporterName), nullIfEmpty(c.ReporterPhone),
			nullIfEmpty(c.CitizenID), c.PhotoURLs, c.ReportedAt, c.SourceDept, nullIfEmpty(c.ExternalID), c.CreatedAt,
			c.PropertyID, nullIfEmpty(c.CitizenKey),
		).Scan(&c.CaseNo)
		if err != nil {
			return translate(fmt.Errorf("insert case: %w", err))
		}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		return writeChange(ctx, tx, caseChange(c, "CREATED", ev))
	})
}

// caseChange describes a case change for the outbox.
func caseChange(c *cases.Case, op string, ev cases.Event) Change {
	return Change{Dataset: cases.Dataset, RecordID: c.ID.String(), Op: op, Jurisdiction: c.JurisdictionCode,
		OwnerDept: c.OwnerDept, HandlingDept: c.HandlingDept, CitizenID: c.CitizenID, Version: c.Version,
		Payload: map[string]any{"status": c.Status, "action": ev.Action}}
}

func insertEvent(ctx context.Context, tx pgx.Tx, ev cases.Event) error {
	var from *string
	if ev.FromStatus != "" {
		f := string(ev.FromStatus)
		from = &f
	}
	_, err := tx.Exec(ctx, `INSERT INTO case_events (case_id, action, from_status, to_status, actor, actor_dept, note, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ev.CaseID, ev.Action, from, ev.ToStatus, ev.Actor, ev.ActorDept, ev.Note, ev.At)
	if err != nil {
		return translate(fmt.Errorf("insert case event: %w", err))
	}
	return nil
}

// Update implements cases.Store.
func (s *CaseStore) Update(ctx context.Context, c *cases.Case, prevVersion int, ev cases.Event) error {
	return InTx(ctx, s.pool, func(tx pgx.Tx) error { return updateCase(ctx, tx, c, prevVersion, ev) })
}

// updateCase writes c if its stored version is still prevVersion, appends
// ev and queues the change, in tx.
func updateCase(ctx context.Context, tx pgx.Tx, c *cases.Case, prevVersion int, ev cases.Event) error {
	var rating *int
	var ratingComment *string
	var ratedAt *time.Time
	if c.Rating != nil {
		rating, ratingComment, ratedAt = &c.Rating.Stars, &c.Rating.Comment, &c.Rating.At
	}
	tag, err := tx.Exec(ctx, `UPDATE cases SET status = $3, registered_at = $4, dispatched_at = $5, deadline = $6,
		handled_at = $7, closed_at = $8, handling_dept = $9, rework_count = $10, defer_count = $11, rating = $12,
		rating_comment = $13, rated_at = $14, updated_at = $15, version = $16, return_count = $17,
		first_handled_at = $18, first_deadline = $19
		WHERE id = $1 AND version = $2`,
		c.ID, prevVersion, c.Status, c.RegisteredAt, c.DispatchedAt, c.Deadline, c.HandledAt, c.ClosedAt,
		nullIfEmpty(c.HandlingDept), c.ReworkCount, c.DeferCount, rating, ratingComment, ratedAt, c.UpdatedAt, c.Version,
		c.ReturnCount, c.FirstHandledAt, c.FirstDeadline)
	if err != nil {
		return translate(fmt.Errorf("update case %s: %w", c.ID, err))
	}
	if tag.RowsAffected() == 0 {
		var cur string
		var ver int
		if err := tx.QueryRow(ctx, "SELECT status, version FROM cases WHERE id = $1", c.ID).Scan(&cur, &ver); err != nil {
			return apperr.New(apperr.NotFound, "case %s not found", c.ID)
		}
		return apperr.New(apperr.Conflict, "the case was changed by someone else meanwhile (now version %d, status %s); reload and try again", ver, cur)
	}
	if err := insertEvent(ctx, tx, ev); err != nil {
		return err
	}
	return writeChange(ctx, tx, caseChange(c, "TRANSITION", ev))
}

// Timelines implements cases.Store.
func (s *CaseStore) Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]cases.Event, error) {
	out := make(map[uuid.UUID][]cases.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, case_id, action, coalesce(from_status, ''), to_status, actor, actor_dept, note, at
		FROM case_events WHERE case_id = ANY($1) ORDER BY case_id, at, id`, ids)
	if err != nil {
		return nil, translate(fmt.Errorf("query timelines: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var e cases.Event
		if err := rows.Scan(&e.ID, &e.CaseID, &e.Action, &e.FromStatus, &e.ToStatus, &e.Actor, &e.ActorDept, &e.Note, &e.At); err != nil {
			return nil, fmt.Errorf("scan case event: %w", err)
		}
		out[e.CaseID] = append(out[e.CaseID], e)
	}
	return out, translate(rows.Err())
}

// existsIn reports whether from holds a row with idCol = id inside scope
// (cols name from's scope columns).
func existsIn(ctx context.Context, pool DB, from string, scope access.RowScope, cols scopeColumns, idCol string, id uuid.UUID) (bool, error) {
	w := newWhere()
	w.add(idCol+" = @id", "id", id)
	w.addScope(scope, cols)
	var ok bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+from+" WHERE "+w.sql()+")", w.args).Scan(&ok); err != nil {
		return false, translate(fmt.Errorf("exists in %s: %w", from, err))
	}
	return ok, nil
}

func exists(ctx context.Context, pool DB, sql string, arg any) (bool, error) {
	var ok bool
	if err := pool.QueryRow(ctx, sql, arg).Scan(&ok); err != nil {
		return false, translate(fmt.Errorf("exists: %w", err))
	}
	return ok, nil
}

// GetByCitizenKey implements cases.Store.
func (s *CaseStore) GetByCitizenKey(ctx context.Context, citizenID, key string) (*cases.Case, error) {
	c, err := scanCase(s.pool.QueryRow(ctx, "SELECT "+caseColumns+" FROM cases WHERE citizen_id = $1 AND citizen_key = $2",
		citizenID, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "case not found")
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get case by citizen key: %w", err))
	}
	return c, nil
}

// BySource implements cases.Store.
func (s *CaseStore) BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*cases.Case, error) {
	return bySource(ctx, s.pool, "cases", "case", caseColumns, caseScope, scope, sourceDept, externalID, scanCase)
}

// Revise implements cases.Store.
func (s *CaseStore) Revise(ctx context.Context, c *cases.Case, prevVersion int) error {
	street, community := jurisdictionLevels(c.JurisdictionCode)
	if street == nil {
		return apperr.Invalid("jurisdiction", "a case must lie in a street or town, not the whole district")
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE cases SET kind = $3, major_code = $4, minor_code = $5, source = $6,
			description = $7, address = $8, lat = $9, lng = $10, jurisdiction_code = $11, street_code = $12,
			community_code = $13, reporter_name = $14, reporter_phone = $15, photo_urls = $16,
			reported_at = $17, updated_at = $18, version = $19
			WHERE id = $1 AND version = $2`,
			c.ID, prevVersion, string(c.Kind), c.MajorCode, c.MinorCode, string(c.Source), c.Description, c.Address,
			c.Lat, c.Lng, c.JurisdictionCode, *street, community, nullIfEmpty(c.ReporterName), nullIfEmpty(c.ReporterPhone),
			c.PhotoURLs, c.ReportedAt, c.UpdatedAt, c.Version)
		if err != nil {
			return translate(fmt.Errorf("revise case %s: %w", c.ID, err))
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.Conflict, "the case was changed by someone else meanwhile (version %d); reload and try again", prevVersion)
		}
		return writeChange(ctx, tx, Change{Dataset: cases.Dataset, RecordID: c.ID.String(), Op: "UPDATED",
			Jurisdiction: c.JurisdictionCode, OwnerDept: c.OwnerDept, HandlingDept: c.HandlingDept, CitizenID: c.CitizenID,
			Version: c.Version, Payload: map[string]any{"status": c.Status}})
	})
}
