package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ViolationStore keeps violations in PostgreSQL. It implements
// violation.Store.
type ViolationStore struct {
	pool DB
}

// NewViolationStore returns a violation store on pool.
func NewViolationStore(pool DB) *ViolationStore { return &ViolationStore{pool: pool} }

var _ violation.Store = (*ViolationStore)(nil)

const violationColumns = `id, record_no, owner_dept, kind, coalesce(subtype, ''), channel, status, coalesce(outcome, ''),
	description, address, area_m2, demolished_area_m2, lat, lng, jurisdiction_code, coalesce(party_name, ''),
	coalesce(party_id_number, ''), coalesce(party_phone, ''), coalesce(plate, ''), property_id, case_id,
	discovered_at, notice_issued_at, deadline, due_at, resolved_at, closed_at, source_dept, coalesce(external_id, ''),
	created_at, updated_at, version`

// Violations have no handling department and no citizen column: the
// department part of a row scope is the owner (urban management, or the
// traffic police for illegal parking).
var violationScope = scopeColumns{path: "jpath", street: "street_code", depts: []string{"owner_dept"}}

// violationDest returns the scan destinations of violationColumns.
func violationDest(v *violation.Violation) []any {
	return []any{&v.ID, &v.RecordNo, &v.OwnerDept, &v.Kind, &v.Subtype, &v.Channel, &v.Status, &v.Outcome,
		&v.Description, &v.Address, &v.AreaM2, &v.DemolishedAreaM2, &v.Lat, &v.Lng, &v.JurisdictionCode,
		&v.Party.Name, &v.Party.IDNumber, &v.Party.Phone, &v.Plate, &v.PropertyID, &v.CaseID,
		&v.DiscoveredAt, &v.NoticeIssuedAt, &v.Deadline, &v.DueAt, &v.ResolvedAt, &v.ClosedAt, &v.SourceDept,
		&v.ExternalID, &v.CreatedAt, &v.UpdatedAt, &v.Version}
}

func scanViolation(row pgx.Row) (*violation.Violation, error) {
	var v violation.Violation
	if err := row.Scan(violationDest(&v)...); err != nil {
		return nil, err
	}
	return &v, nil
}

// Get implements violation.Store.
func (s *ViolationStore) Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*violation.Violation, error) {
	w := newWhere()
	w.add("id = @id", "id", id)
	w.addScope(scope, violationScope)
	v, err := scanViolation(s.pool.QueryRow(ctx, "SELECT "+violationColumns+" FROM violations WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "violation %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get violation %s: %w", id, err))
	}
	return v, nil
}

// GetMany implements violation.Store.
func (s *ViolationStore) GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*violation.Violation, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	w := newWhere()
	w.add("id = ANY(@ids)", "ids", ids)
	w.addScope(scope, violationScope)
	return s.query(ctx, "SELECT "+violationColumns+" FROM violations WHERE "+w.sql(), w.args)
}

// BySource implements violation.Store.
func (s *ViolationStore) BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*violation.Violation, error) {
	return bySource(ctx, s.pool, "violations", "violation", violationColumns, violationScope, scope, sourceDept, externalID, scanViolation)
}

func (s *ViolationStore) query(ctx context.Context, sql string, args pgx.NamedArgs) ([]*violation.Violation, error) {
	return queryAll(ctx, s.pool, "violations", sql, args, scanViolation)
}

func violationFilter(w *where, f violation.Filter, now time.Time) {
	if f.Kind != "" {
		w.add("kind = @kind", "kind", string(f.Kind))
	}
	if f.Subtype != "" {
		w.add("subtype = @subtype", "subtype", string(f.Subtype))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, v := range f.Statuses {
			st[i] = string(v)
		}
		w.add("status = ANY(@statuses)", "statuses", st)
	}
	if f.Jurisdiction != "" {
		w.addSubtree(f.Jurisdiction, "street_code", "community_code", "jpath", "")
	}
	if f.PropertyID != nil {
		w.add("property_id = @property", "property", *f.PropertyID)
	}
	if f.CaseID != nil {
		w.add("case_id = @case", "case", *f.CaseID)
	}
	if f.DiscoveredFrom != nil {
		w.add("discovered_at >= @dfrom", "dfrom", *f.DiscoveredFrom)
	}
	if f.DiscoveredTo != nil {
		w.add("discovered_at < @dto", "dto", *f.DiscoveredTo)
	}
	if f.Open != nil {
		w.add("is_open = @open", "open", *f.Open)
	}
	if len(f.Outcomes) > 0 {
		out := make([]string, len(f.Outcomes))
		for i, o := range f.Outcomes {
			out[i] = string(o)
		}
		w.add("outcome = ANY(@outcomes)", "outcomes", out)
	}
	if f.Overdue != nil {
		// Mirrors violation.Violation.Overdue.
		const overdue = "(is_open AND deadline < @now)"
		if *f.Overdue {
			w.add(overdue, "now", now)
		} else {
			w.add("NOT coalesce("+overdue+", false)", "now", now)
		}
	}
}

// List implements violation.Store with keyset pagination.
func (s *ViolationStore) List(ctx context.Context, scope access.RowScope, q violation.ListQuery) ([]*violation.Violation, bool, error) {
	w := newWhere()
	violationFilter(w, q.Filter, q.Now)
	w.addScope(scope, violationScope)
	ks := keysetQuery{from: "violations", columns: violationColumns, key: "discovered_at", id: "id", desc: true, first: q.First}
	switch q.Order {
	case violation.OrderDiscoveredAsc:
		ks.desc = false
	case violation.OrderDeadlineAsc:
		ks.key, ks.desc = "deadline_key", false
	}
	ks.pageBy(q.Request(), func(c *page.Cursor) any { return timeKey(c.Time()) })
	return keysetPage(ctx, s.pool, "violations", w, ks, scanViolation)
}

// Count implements violation.Store.
func (s *ViolationStore) Count(ctx context.Context, scope access.RowScope, f violation.Filter, now time.Time) (int, error) {
	w := newWhere()
	violationFilter(w, f, now)
	w.addScope(scope, violationScope)
	return countRows(ctx, s.pool, "violations", "violations", w)
}

// ByProperty implements violation.Store: one statement for every property,
// each walking violations_property for its first rows (docs/design.md,
// Performance facts).
func (s *ViolationStore) ByProperty(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID, first int) (map[uuid.UUID][]*violation.Violation, error) {
	return s.byParent(ctx, scope, "property_id", propertyIDs, first)
}

// ByCase implements violation.Store in one statement, like ByProperty.
func (s *ViolationStore) ByCase(ctx context.Context, scope access.RowScope, caseIDs []uuid.UUID, first int) (map[uuid.UUID][]*violation.Violation, error) {
	return s.byParent(ctx, scope, "case_id", caseIDs, first)
}

// byParent loads the first violations of each parent with
// unnest(ids) CROSS JOIN LATERAL (… LIMIT n). column is a constant of this
// file, never input.
func (s *ViolationStore) byParent(ctx context.Context, scope access.RowScope, column string, ids []uuid.UUID, first int) (map[uuid.UUID][]*violation.Violation, error) {
	out := make(map[uuid.UUID][]*violation.Violation, len(ids))
	if len(ids) == 0 || first <= 0 {
		return out, nil
	}
	w := newWhere()
	w.add(column + " = p.parent")
	w.addScope(scope, violationScope)
	w.args["parents"] = ids
	w.args["first"] = first
	sql := `SELECT p.parent, v.* FROM unnest(@parents::uuid[]) AS p(parent)
		CROSS JOIN LATERAL (SELECT ` + violationColumns + ` FROM violations WHERE ` + w.sql() + `
			ORDER BY discovered_at DESC, id DESC LIMIT @first) v`
	rows, err := s.pool.Query(ctx, sql, w.args)
	if err != nil {
		return nil, translate(fmt.Errorf("query violations by %s: %w", column, err))
	}
	defer rows.Close()
	for rows.Next() {
		var parent uuid.UUID
		var v violation.Violation
		if err := rows.Scan(append([]any{&parent}, violationDest(&v)...)...); err != nil {
			return nil, fmt.Errorf("scan violation: %w", err)
		}
		out[parent] = append(out[parent], &v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("read violations by %s: %w", column, err))
	}
	return out, nil
}

// Create implements violation.Store.
func (s *ViolationStore) Create(ctx context.Context, v *violation.Violation, ev violation.Event) error {
	street, community := jurisdictionLevels(v.JurisdictionCode)
	if street == nil {
		return apperr.Invalid("jurisdiction", "a violation must lie in a street or town, not the whole district")
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO violations (id, record_no, owner_dept, kind, subtype, channel, status,
			description, address, area_m2, lat, lng, jurisdiction_code, street_code, community_code, party_name,
			party_id_number, party_phone, plate, property_id, case_id, discovered_at, source_dept, external_id,
			created_at, updated_at, version)
			VALUES ($1, 'WF' || to_char($21 AT TIME ZONE 'Asia/Shanghai', 'YYYY') || '-' || lpad(nextval('violation_no_seq')::text, 6, '0'),
			$2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $24, $25)
			RETURNING record_no`,
			v.ID, v.OwnerDept, v.Kind, nullIfEmpty(string(v.Subtype)), v.Channel, v.Status, v.Description, v.Address,
			v.AreaM2, v.Lat, v.Lng, v.JurisdictionCode, *street, community, nullIfEmpty(v.Party.Name),
			nullIfEmpty(v.Party.IDNumber), nullIfEmpty(v.Party.Phone), nullIfEmpty(v.Plate), v.PropertyID, v.CaseID,
			v.DiscoveredAt, v.SourceDept, nullIfEmpty(v.ExternalID), v.CreatedAt, v.Version,
		).Scan(&v.RecordNo)
		if err != nil {
			return translate(fmt.Errorf("insert violation: %w", err))
		}
		if err := insertViolationEvent(ctx, tx, ev); err != nil {
			return err
		}
		return writeChange(ctx, tx, violationChange(v, "CREATED", ev))
	})
}

// violationChange describes a violation change for the outbox. Violations
// have no handling department (the owner handles them) and no citizen.
func violationChange(v *violation.Violation, op string, ev violation.Event) Change {
	return Change{Dataset: violation.Dataset, RecordID: v.ID.String(), Op: op, Jurisdiction: v.JurisdictionCode,
		OwnerDept: v.OwnerDept, Version: v.Version,
		Payload: map[string]any{"status": v.Status, "action": ev.Action}}
}

func insertViolationEvent(ctx context.Context, tx pgx.Tx, ev violation.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO violation_events (violation_id, action, from_status, to_status, actor, actor_dept, note, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ev.ViolationID, ev.Action, nullIfEmpty(string(ev.FromStatus)), ev.ToStatus, ev.Actor, ev.ActorDept, ev.Note, ev.At)
	if err != nil {
		return translate(fmt.Errorf("insert violation event: %w", err))
	}
	return nil
}

// Update implements violation.Store: the row is written only if nobody
// changed it since prevVersion, and the event goes in the same transaction.
func (s *ViolationStore) Update(ctx context.Context, v *violation.Violation, prevVersion int, ev violation.Event) error {
	street, community := jurisdictionLevels(v.JurisdictionCode)
	if street == nil {
		return apperr.Invalid("jurisdiction", "a violation must lie in a street or town, not the whole district")
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE violations SET subtype = $3, channel = $4, status = $5, outcome = $6,
			description = $7, address = $8, area_m2 = $9, demolished_area_m2 = $10, lat = $11, lng = $12,
			jurisdiction_code = $13, street_code = $14, community_code = $15, party_name = $16, party_id_number = $17,
			party_phone = $18, plate = $19, property_id = $20, case_id = $21, discovered_at = $22,
			notice_issued_at = $23, deadline = $24, due_at = $25, resolved_at = $26, closed_at = $27,
			updated_at = $28, version = $29
			WHERE id = $1 AND version = $2`,
			v.ID, prevVersion, nullIfEmpty(string(v.Subtype)), v.Channel, v.Status, nullIfEmpty(string(v.Outcome)),
			v.Description, v.Address, v.AreaM2, v.DemolishedAreaM2, v.Lat, v.Lng,
			v.JurisdictionCode, *street, community, nullIfEmpty(v.Party.Name), nullIfEmpty(v.Party.IDNumber),
			nullIfEmpty(v.Party.Phone), nullIfEmpty(v.Plate), v.PropertyID, v.CaseID, v.DiscoveredAt,
			v.NoticeIssuedAt, v.Deadline, v.DueAt, v.ResolvedAt, v.ClosedAt, v.UpdatedAt, v.Version)
		if err != nil {
			return translate(fmt.Errorf("update violation %s: %w", v.ID, err))
		}
		if tag.RowsAffected() == 0 {
			var cur string
			var ver int
			if err := tx.QueryRow(ctx, "SELECT status, version FROM violations WHERE id = $1", v.ID).Scan(&cur, &ver); err != nil {
				return apperr.New(apperr.NotFound, "violation %s not found", v.ID)
			}
			return apperr.New(apperr.Conflict, "the violation was changed by someone else meanwhile (now version %d, status %s); reload and try again", ver, cur)
		}
		if err := insertViolationEvent(ctx, tx, ev); err != nil {
			return err
		}
		// An upsert of new data is an UPDATE event; every other event is a
		// step of the lifecycle.
		op := "TRANSITION"
		if ev.Action == violation.ActionUpdate {
			op = "UPDATED"
		}
		return writeChange(ctx, tx, violationChange(v, op, ev))
	})
}

// MarkDue implements violation.Store in one statement: the status change,
// and the event and the outbox row (as violationChange would write them) of
// every violation it moves.
func (s *ViolationStore) MarkDue(ctx context.Context, now time.Time, actor, note string) (int, error) {
	tag, err := s.pool.Exec(ctx, `WITH due AS (
			UPDATE violations SET status = 'RECTIFICATION_DUE', due_at = $1, updated_at = $1, version = version + 1
			WHERE status = 'NOTICE_ISSUED' AND deadline <= $1
			RETURNING id, owner_dept, jurisdiction_code, version, status),
		events AS (
			INSERT INTO violation_events (violation_id, action, from_status, to_status, actor, actor_dept, note, at)
			SELECT id, 'MARK_DUE', 'NOTICE_ISSUED', 'RECTIFICATION_DUE', $2, owner_dept, $3, $1 FROM due)
		INSERT INTO outbox (event_id, dataset, record_id, op, jurisdiction, owner_dept, handling_dept, citizen_id,
			version, payload)
		SELECT `+OrderedID("$5", "row_number() OVER ()")+`, $4, id::text, 'TRANSITION', jurisdiction_code, owner_dept, '', '', version,
			jsonb_build_object('status', status, 'action', 'MARK_DUE')
		FROM due ORDER BY id`,
		now, actor, note, violation.Dataset, NewOrderedIDPrefix())
	if err != nil {
		return 0, translate(fmt.Errorf("mark due violations: %w", err))
	}
	return int(tag.RowsAffected()), nil
}

// Timelines implements violation.Store.
func (s *ViolationStore) Timelines(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]violation.Event, error) {
	out := make(map[uuid.UUID][]violation.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, violation_id, action, coalesce(from_status, ''), to_status, actor, actor_dept, note, at
		FROM violation_events WHERE violation_id = ANY($1) ORDER BY violation_id, at, id`, ids)
	if err != nil {
		return nil, translate(fmt.Errorf("query violation timelines: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var e violation.Event
		if err := rows.Scan(&e.ID, &e.ViolationID, &e.Action, &e.FromStatus, &e.ToStatus, &e.Actor, &e.ActorDept, &e.Note, &e.At); err != nil {
			return nil, fmt.Errorf("scan violation event: %w", err)
		}
		out[e.ViolationID] = append(out[e.ViolationID], e)
	}
	return out, translate(rows.Err())
}

// CaseVisible implements violation.Store.
func (s *ViolationStore) CaseVisible(ctx context.Context, scope access.RowScope, id uuid.UUID) (bool, error) {
	return existsIn(ctx, s.pool, "cases", scope, caseScope, "id", id)
}

// violationCopyColumns and violationEventCopyColumns are the columns
// CopyViolations writes.
var (
	violationCopyColumns = []string{"id", "record_no", "owner_dept", "kind", "subtype", "channel", "status", "outcome",
		"description", "address", "area_m2", "demolished_area_m2", "lat", "lng", "jurisdiction_code", "street_code",
		"community_code", "party_name", "party_id_number", "party_phone", "plate", "property_id", "case_id",
		"discovered_at", "notice_issued_at", "deadline", "due_at", "resolved_at", "closed_at", "source_dept",
		"external_id", "created_at", "updated_at", "version"}
	violationEventCopyColumns = []string{"violation_id", "action", "from_status", "to_status", "actor", "actor_dept", "note", "at"}
)

// CopyViolations bulk-loads finished violations and their events with COPY
// in tx (seeding): every field is written as given, ids, record numbers and
// versions included, and the street and community codes are derived from
// the jurisdiction code as Create does. The events carry their violation's
// id. Nothing goes to the outbox: a bulk load is not a stream of changes.
func CopyViolations(ctx context.Context, tx pgx.Tx, vs []*violation.Violation, events []violation.Event) error {
	vrows := make([][]any, 0, len(vs))
	for _, v := range vs {
		street, community := jurisdictionLevels(v.JurisdictionCode)
		vrows = append(vrows, []any{v.ID, v.RecordNo, v.OwnerDept, string(v.Kind), nullIfEmpty(string(v.Subtype)),
			string(v.Channel), string(v.Status), nullIfEmpty(string(v.Outcome)), v.Description, v.Address, v.AreaM2,
			v.DemolishedAreaM2, v.Lat, v.Lng, v.JurisdictionCode, street, community, nullIfEmpty(v.Party.Name),
			nullIfEmpty(v.Party.IDNumber), nullIfEmpty(v.Party.Phone), nullIfEmpty(v.Plate), v.PropertyID, v.CaseID,
			v.DiscoveredAt, v.NoticeIssuedAt, v.Deadline, v.DueAt, v.ResolvedAt, v.ClosedAt, v.SourceDept,
			v.ExternalID, v.CreatedAt, v.UpdatedAt, v.Version})
	}
	erows := make([][]any, 0, len(events))
	for _, e := range events {
		erows = append(erows, []any{e.ViolationID, string(e.Action), nullIfEmpty(string(e.FromStatus)),
			string(e.ToStatus), e.Actor, e.ActorDept, e.Note, e.At})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"violations"}, violationCopyColumns, pgx.CopyFromRows(vrows)); err != nil {
		return fmt.Errorf("copy violations: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"violation_events"}, violationEventCopyColumns, pgx.CopyFromRows(erows)); err != nil {
		return fmt.Errorf("copy violation events: %w", err)
	}
	return nil
}
