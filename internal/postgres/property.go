package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// PropertyStore keeps compounds, permits, inspectors and inspection rounds
// in PostgreSQL. It implements property.Store.
//
// Its Permits method applies no field-level rule: the violations service,
// which decides on its own "permit" group, may call it directly.
type PropertyStore struct {
	pool DB
}

// NewPropertyStore returns a property store on pool.
func NewPropertyStore(pool DB) *PropertyStore { return &PropertyStore{pool: pool} }

var _ property.Store = (*PropertyStore)(nil)

const propertyColumns = `p.id, p.owner_dept, p.name, p.address, p.lat, p.lng, p.jurisdiction_code, p.build_year, p.buildings,
	p.households, p.mgmt_company, p.mgmt_credit_code, p.mgmt_contact_name, p.mgmt_contact_phone, p.renovation_status,
	p.renovation_year, p.renovation_scope, (p.renovation_budget * 100)::bigint, p.complaints, p.source_dept, p.external_id,
	p.created_at, p.updated_at, p.version`

// propertyScope judges rows of properties (aliased p in every statement).
var propertyScope = scopeColumns{path: "p.jpath", street: "p.street_code", depts: []string{"p.owner_dept"}}

func scanProperty(row pgx.Row) (*property.Property, error) {
	var p property.Property
	var company, code, contact, phone *string
	err := row.Scan(&p.ID, &p.OwnerDept, &p.Name, &p.Address, &p.Lat, &p.Lng, &p.JurisdictionCode, &p.BuildYear,
		&p.Buildings, &p.Households, &company, &code, &contact, &phone, &p.Renovation.Status, &p.Renovation.Year,
		&p.Renovation.Scope, &p.Renovation.BudgetFen, &p.Complaints, &p.SourceDept, &p.ExternalID,
		&p.CreatedAt, &p.UpdatedAt, &p.Version)
	if err != nil {
		return nil, err
	}
	if company != nil {
		p.Management = &property.Management{Company: *company, CreditCode: mgmtField(code), ContactName: mgmtField(contact), ContactPhone: mgmtField(phone)}
	}
	return &p, nil
}

func mgmtField(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Get implements property.Store.
func (s *PropertyStore) Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*property.Property, error) {
	w := newWhere()
	w.add("p.id = @id", "id", id)
	w.addScope(scope, propertyScope)
	p, err := scanProperty(s.pool.QueryRow(ctx, "SELECT "+propertyColumns+" FROM properties p WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "property %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get property %s: %w", id, err))
	}
	return p, nil
}

// GetMany implements property.Store.
func (s *PropertyStore) GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*property.Property, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	w := newWhere()
	w.add("p.id = ANY(@ids)", "ids", ids)
	w.addScope(scope, propertyScope)
	return s.query(ctx, "SELECT "+propertyColumns+" FROM properties p WHERE "+w.sql(), w.args)
}

func (s *PropertyStore) query(ctx context.Context, sql string, args pgx.NamedArgs) ([]*property.Property, error) {
	return queryAll(ctx, s.pool, "properties", sql, args, scanProperty)
}

func propertyFilter(w *where, f property.Filter) {
	if f.Jurisdiction != "" {
		w.addSubtree(f.Jurisdiction, "p.street_code", "p.community_code", "p.jpath", "")
	}
	if len(f.Renovation) > 0 {
		st := make([]string, len(f.Renovation))
		for i, v := range f.Renovation {
			st[i] = string(v)
		}
		w.add("p.renovation_status = ANY(@renovation)", "renovation", st)
	}
	if f.BuildYearFrom != nil {
		w.add("p.build_year >= @byfrom", "byfrom", *f.BuildYearFrom)
	}
	if f.BuildYearTo != nil {
		w.add("p.build_year <= @byto", "byto", *f.BuildYearTo)
	}
	if f.HasManagement != nil {
		if *f.HasManagement {
			w.add("p.mgmt_company IS NOT NULL")
		} else {
			w.add("p.mgmt_company IS NULL")
		}
	}
	if f.Text != "" {
		w.add("(p.name ILIKE @text OR p.address ILIKE @text)", "text", "%"+escapeLike(f.Text)+"%")
	}
}

// Count implements property.Store.
func (s *PropertyStore) Count(ctx context.Context, scope access.RowScope, f property.Filter) (int, error) {
	w := newWhere()
	propertyFilter(w, f)
	w.addScope(scope, propertyScope)
	return countRows(ctx, s.pool, "properties", "properties p", w)
}

// List implements property.Store with keyset pagination over (key, id).
func (s *PropertyStore) List(ctx context.Context, scope access.RowScope, q property.ListQuery) ([]*property.Property, bool, error) {
	w := newWhere()
	propertyFilter(w, q.Filter)
	w.addScope(scope, propertyScope)
	ks := keysetQuery{from: "properties p", columns: propertyColumns, key: "p.build_year", id: "p.id", desc: q.Order.Desc(), first: q.First}
	if q.Order.ByName() {
		ks.key = "p.name"
	}
	ks.pageBy(q.Request(), func(c *page.Cursor) any {
		if q.Order.ByName() {
			return c.Key
		}
		return c.Int()
	})
	return keysetPage(ctx, s.pool, "properties", w, ks, scanProperty)
}

// propertyValues returns the content columns of p in the order of
// propertyContent.
func propertyValues(p *property.Property) []any {
	street, community := jurisdictionLevels(p.JurisdictionCode)
	var company, code, contact, phone *string
	if m := p.Management; m != nil {
		company, code, contact, phone = &m.Company, &m.CreditCode, nullIfEmpty(m.ContactName), nullIfEmpty(m.ContactPhone)
	}
	return []any{p.Name, p.Address, p.Lat, p.Lng, p.JurisdictionCode, street, community, p.BuildYear, p.Buildings,
		p.Households, company, code, contact, phone, string(p.Renovation.Status), p.Renovation.Year, p.Renovation.Scope,
		p.Renovation.BudgetFen, p.Complaints}
}

// streetOrTown refuses a compound placed on the district itself.
func streetOrTown(p *property.Property) error {
	if street, _ := jurisdictionLevels(p.JurisdictionCode); street == nil {
		return apperr.Invalid("jurisdiction", "a compound lies in a street or town, not the whole district")
	}
	return nil
}

// BySource implements property.Store.
func (s *PropertyStore) BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*property.Property, error) {
	return bySource(ctx, s.pool, "properties p", "compound", propertyColumns, propertyScope, scope, sourceDept, externalID, scanProperty)
}

// Create implements property.Store: the insert and its outbox row commit
// together; CONFLICT when the source key is taken.
func (s *PropertyStore) Create(ctx context.Context, p *property.Property) error {
	if err := streetOrTown(p); err != nil {
		return err
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		args := append([]any{p.ID, p.OwnerDept, p.SourceDept, p.ExternalID, p.CreatedAt, p.UpdatedAt, p.Version}, propertyValues(p)...)
		tag, err := tx.Exec(ctx, `INSERT INTO properties (id, owner_dept, source_dept, external_id, created_at, updated_at, version,
			name, address, lat, lng, jurisdiction_code, street_code, community_code, build_year, buildings, households,
			mgmt_company, mgmt_credit_code, mgmt_contact_name, mgmt_contact_phone, renovation_status, renovation_year,
			renovation_scope, renovation_budget, complaints)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
			$23, $24, $25::bigint::numeric / 100, $26)
			ON CONFLICT (source_dept, external_id) DO NOTHING`, args...)
		if err != nil {
			return translate(fmt.Errorf("insert property: %w", err))
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.Conflict, "a compound with external id %q exists", p.ExternalID)
		}
		return writeChange(ctx, tx, propertyChange(p, "CREATED"))
	})
}

// Update implements property.Store: the row is written only while its
// version is still prevVersion, with its outbox row in one transaction.
func (s *PropertyStore) Update(ctx context.Context, p *property.Property, prevVersion int) error {
	if err := streetOrTown(p); err != nil {
		return err
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		args := append([]any{p.ID, p.UpdatedAt, p.Version, prevVersion}, propertyValues(p)...)
		tag, err := tx.Exec(ctx, `UPDATE properties SET updated_at = $2, version = $3, name = $5, address = $6, lat = $7,
			lng = $8, jurisdiction_code = $9, street_code = $10, community_code = $11, build_year = $12, buildings = $13,
			households = $14, mgmt_company = $15, mgmt_credit_code = $16, mgmt_contact_name = $17, mgmt_contact_phone = $18,
			renovation_status = $19, renovation_year = $20, renovation_scope = $21, renovation_budget = $22::bigint::numeric / 100,
			complaints = $23
			WHERE id = $1 AND version = $4`, args...)
		if err != nil {
			return translate(fmt.Errorf("update property %s: %w", p.ID, err))
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.Conflict, "the compound has changed since it was read (version %d); reload and try again", prevVersion)
		}
		return writeChange(ctx, tx, propertyChange(p, "UPDATED"))
	})
}

// propertyChange describes the creation or update of a compound for the
// outbox (an unchanged upsert writes none). Properties have no handling
// department and no citizen. The payload names the action only: every
// descriptive field of a compound is under field rules subscribers may not
// pass. Inspection draws, results and publication are not changes of the
// shared record and write no outbox rows.
func propertyChange(p *property.Property, op string) Change {
	action := "CREATE"
	if op != "CREATED" {
		action = "UPDATE"
	}
	return Change{Dataset: property.Dataset, RecordID: p.ID.String(), Op: op, Jurisdiction: p.JurisdictionCode,
		OwnerDept: p.OwnerDept, Version: p.Version, Payload: map[string]any{"action": action}}
}

// Permits implements property.Store: one statement for every compound.
func (s *PropertyStore) Permits(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID) (map[uuid.UUID][]property.Permit, error) {
	out := make(map[uuid.UUID][]property.Permit)
	if len(propertyIDs) == 0 {
		return out, nil
	}
	w := newWhere()
	w.add("b.property_id = ANY(@ids)", "ids", propertyIDs)
	w.addScope(scope, propertyScope)
	rows, err := s.pool.Query(ctx, `SELECT b.id, b.permit_no, b.property_id, b.issued_on, b.scope, b.structure, b.floor_area_m2,
		b.valid, b.owner_dept, b.source_dept, b.external_id, b.created_at, b.updated_at, b.version
		FROM building_permits b JOIN properties p ON p.id = b.property_id
		WHERE `+w.sql()+` ORDER BY b.property_id, b.issued_on DESC, b.permit_no`, w.args)
	if err != nil {
		return nil, translate(fmt.Errorf("query permits: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var b property.Permit
		if err := rows.Scan(&b.ID, &b.PermitNo, &b.PropertyID, &b.IssuedOn, &b.Scope, &b.Structure, &b.FloorAreaM2,
			&b.Valid, &b.OwnerDept, &b.SourceDept, &b.ExternalID, &b.CreatedAt, &b.UpdatedAt, &b.Version); err != nil {
			return nil, fmt.Errorf("scan permit: %w", err)
		}
		out[b.PropertyID] = append(out[b.PropertyID], b)
	}
	return out, translate(rows.Err())
}

// CheckPermit answers whether a planning permit of the compound covers a
// structure of an illegal-construction subtype and area (property.CheckPermit
// on the compound's permits). It applies no access rule: it is for callers
// that already decided, such as the violations service, which shows the
// permit status under its own "permit" field group.
func (s *PropertyStore) CheckPermit(ctx context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (property.PermitCheck, error) {
	m, err := s.Permits(ctx, access.RowScope{All: true}, []uuid.UUID{propertyID})
	if err != nil {
		return property.PermitCheck{}, err
	}
	return property.CheckPermit(m[propertyID], subtype, areaM2), nil
}

const inspectionColumns = `i.id, i.round, i.rank, i.property_id, i.inspector_ids, i.scheduled_on, coalesce(i.result, ''),
	i.findings, i.recorded_at, r.published, i.version`

func scanInspection(row pgx.Row) (property.Inspection, error) {
	var in property.Inspection
	err := row.Scan(&in.ID, &in.Round, &in.Rank, &in.PropertyID, &in.InspectorIDs, &in.ScheduledOn, &in.Result,
		&in.Findings, &in.RecordedAt, &in.Published, &in.Version)
	return in, err
}

func (s *PropertyStore) inspections(ctx context.Context, sql string, args ...any) ([]property.Inspection, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("query inspections: %w", err))
	}
	defer rows.Close()
	var out []property.Inspection
	for rows.Next() {
		in, err := scanInspection(rows)
		if err != nil {
			return nil, fmt.Errorf("scan inspection: %w", err)
		}
		out = append(out, in)
	}
	return out, translate(rows.Err())
}

// Inspections implements property.Store: one statement for every compound.
func (s *PropertyStore) Inspections(ctx context.Context, scope access.RowScope, propertyIDs []uuid.UUID, publishedOnly bool) (map[uuid.UUID][]property.Inspection, error) {
	out := make(map[uuid.UUID][]property.Inspection)
	if len(propertyIDs) == 0 {
		return out, nil
	}
	w := newWhere()
	w.add("i.property_id = ANY(@ids)", "ids", propertyIDs)
	if publishedOnly {
		w.add("r.published")
	}
	w.addScope(scope, propertyScope)
	list, err := s.inspections(ctx, "SELECT "+inspectionColumns+` FROM inspections i
		JOIN inspection_rounds r ON r.round = i.round JOIN properties p ON p.id = i.property_id
		WHERE `+w.sql()+` ORDER BY i.property_id, r.period_start DESC, i.round DESC`, w.args)
	if err != nil {
		return nil, err
	}
	for _, in := range list {
		out[in.PropertyID] = append(out[in.PropertyID], in)
	}
	return out, nil
}

// Registers implements property.Store. The four reads share one
// repeatable-read snapshot, so the registers are consistent with each other
// even while the registry is being written.
func (s *PropertyStore) Registers(ctx context.Context, dept string, periodStart time.Time, lookBack int) (property.Registers, error) {
	var reg property.Registers
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return reg, translate(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	rows, err := tx.Query(ctx, `SELECT id, complaints FROM properties WHERE mgmt_company IS NOT NULL`)
	if err != nil {
		return reg, translate(fmt.Errorf("read targets: %w", err))
	}
	reg.Targets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (property.Target, error) {
		var t property.Target
		err := r.Scan(&t.PropertyID, &t.Complaints)
		return t, err
	})
	if err != nil {
		return reg, translate(fmt.Errorf("read targets: %w", err))
	}
	rows, err = tx.Query(ctx, `SELECT id FROM inspectors WHERE active AND dept = $1`, dept)
	if err != nil {
		return reg, translate(fmt.Errorf("read inspectors: %w", err))
	}
	if reg.Inspectors, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return reg, translate(fmt.Errorf("read inspectors: %w", err))
	}
	// Only conflicts between registered inspectors and targets matter to
	// the draw, so only they enter the snapshot and its hash.
	rows, err = tx.Query(ctx, `SELECT c.inspector_id, c.property_id FROM inspector_conflicts c
		JOIN inspectors i ON i.id = c.inspector_id JOIN properties p ON p.id = c.property_id
		WHERE i.active AND i.dept = $1 AND p.mgmt_company IS NOT NULL`, dept)
	if err != nil {
		return reg, translate(fmt.Errorf("read conflicts: %w", err))
	}
	reg.Conflicts, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (property.Conflict, error) {
		var c property.Conflict
		err := r.Scan(&c.InspectorID, &c.PropertyID)
		return c, err
	})
	if err != nil {
		return reg, translate(fmt.Errorf("read conflicts: %w", err))
	}
	rows, err = tx.Query(ctx, `SELECT round FROM inspection_rounds WHERE dept = $1 AND period_start < $2
		ORDER BY period_start DESC, round DESC LIMIT $3`, dept, periodStart, max(lookBack, 1))
	if err != nil {
		return reg, translate(fmt.Errorf("read previous rounds: %w", err))
	}
	if reg.PreviousRounds, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return reg, translate(fmt.Errorf("read previous rounds: %w", err))
	}
	if len(reg.PreviousRounds) == 0 {
		return reg, nil
	}
	rows, err = tx.Query(ctx, `SELECT property_id, unnest(inspector_ids) FROM inspections WHERE round = ANY($1)`, reg.PreviousRounds)
	if err != nil {
		return reg, translate(fmt.Errorf("read previous assignments: %w", err))
	}
	reg.Previous, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (property.Assignment, error) {
		var a property.Assignment
		err := r.Scan(&a.PropertyID, &a.InspectorID)
		return a, err
	})
	if err != nil {
		return reg, translate(fmt.Errorf("read previous assignments: %w", err))
	}
	return reg, nil
}

// CreateRound implements property.Store.
func (s *PropertyStore) CreateRound(ctx context.Context, r *property.Round, targets, inspectors []byte, list []property.Inspection) error {
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return insertInspectionRound(ctx, tx, r, targets, inspectors, list)
	})
}

func insertInspectionRound(ctx context.Context, tx pgx.Tx, r *property.Round, targets, inspectors []byte, list []property.Inspection) error {
	prev := r.PreviousRounds
	if prev == nil {
		prev = []string{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO inspection_rounds (round, period_start, dept, seed, ratio, k, register_size, drawn,
		previous_round, targets_hash, inspectors_hash, targets_register, inspectors_register, drawn_at, drawn_by,
		published, published_at, previous_rounds)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.Round, r.PeriodStart, r.Dept, r.Seed, r.Ratio, r.PerTarget, r.RegisterSize, r.Drawn, nullIfEmpty(r.PreviousRound),
		r.TargetsHash, r.InspectorsHash, targets, inspectors, r.DrawnAt, r.DrawnBy, r.Published, r.PublishedAt, prev)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return apperr.New(apperr.Conflict, "round %s was already drawn; a round is drawn once", r.Round)
	}
	if err != nil {
		return translate(fmt.Errorf("insert round %s: %w", r.Round, err))
	}
	rows := make([][]any, len(list))
	for i, in := range list {
		var result *string
		if in.Result != "" {
			v := string(in.Result)
			result = &v
		}
		rows[i] = []any{in.ID, in.Round, in.Rank, in.PropertyID, in.InspectorIDs, in.ScheduledOn, result, in.Findings,
			in.RecordedAt, in.Version}
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"inspections"},
		[]string{"id", "round", "rank", "property_id", "inspector_ids", "scheduled_on", "result", "findings", "recorded_at", "version"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return translate(fmt.Errorf("insert inspections of %s: %w", r.Round, err))
	}
	return nil
}

const inspectionRoundColumns = `round, period_start, dept, seed, ratio, k, register_size, drawn, coalesce(previous_round, ''),
	previous_rounds, targets_hash, inspectors_hash, drawn_at, drawn_by, published, published_at`

func scanInspectionRound(row pgx.Row) (*property.Round, error) {
	var r property.Round
	err := row.Scan(&r.Round, &r.PeriodStart, &r.Dept, &r.Seed, &r.Ratio, &r.PerTarget, &r.RegisterSize, &r.Drawn,
		&r.PreviousRound, &r.PreviousRounds, &r.TargetsHash, &r.InspectorsHash, &r.DrawnAt, &r.DrawnBy, &r.Published, &r.PublishedAt)
	return &r, err
}

// Round implements property.Store.
func (s *PropertyStore) Round(ctx context.Context, round string) (*property.Round, error) {
	r, err := scanInspectionRound(s.pool.QueryRow(ctx, "SELECT "+inspectionRoundColumns+" FROM inspection_rounds WHERE round = $1", round))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "inspection round %s not found", round)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get round %s: %w", round, err))
	}
	return r, nil
}

// RoundSnapshots implements property.Store.
func (s *PropertyStore) RoundSnapshots(ctx context.Context, round string) (targets, inspectors []byte, err error) {
	err = s.pool.QueryRow(ctx, `SELECT targets_register, inspectors_register FROM inspection_rounds WHERE round = $1`, round).
		Scan(&targets, &inspectors)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, apperr.New(apperr.NotFound, "inspection round %s not found", round)
	}
	if err != nil {
		return nil, nil, translate(fmt.Errorf("get snapshots of %s: %w", round, err))
	}
	return targets, inspectors, nil
}

// Rounds implements property.Store.
func (s *PropertyStore) Rounds(ctx context.Context, publishedOnly bool) ([]*property.Round, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+inspectionRoundColumns+` FROM inspection_rounds WHERE published OR NOT $1
		ORDER BY period_start DESC, round DESC`, publishedOnly)
	if err != nil {
		return nil, translate(fmt.Errorf("query rounds: %w", err))
	}
	defer rows.Close()
	var out []*property.Round
	for rows.Next() {
		r, err := scanInspectionRound(rows)
		if err != nil {
			return nil, fmt.Errorf("scan round: %w", err)
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}

// RoundInspections implements property.Store.
func (s *PropertyStore) RoundInspections(ctx context.Context, round string) ([]property.Inspection, error) {
	return s.inspections(ctx, "SELECT "+inspectionColumns+` FROM inspections i JOIN inspection_rounds r ON r.round = i.round
		WHERE i.round = $1 ORDER BY i.rank`, round)
}

// Inspection implements property.Store.
func (s *PropertyStore) Inspection(ctx context.Context, scope access.RowScope, id uuid.UUID) (*property.Inspection, error) {
	w := newWhere()
	w.add("i.id = @id", "id", id)
	w.addScope(scope, propertyScope)
	in, err := scanInspection(s.pool.QueryRow(ctx, "SELECT "+inspectionColumns+` FROM inspections i
		JOIN inspection_rounds r ON r.round = i.round JOIN properties p ON p.id = i.property_id WHERE `+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "inspection %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get inspection %s: %w", id, err))
	}
	return &in, nil
}

// RecordResult implements property.Store.
func (s *PropertyStore) RecordResult(ctx context.Context, in *property.Inspection, prevVersion int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE inspections i SET result = $3, findings = $4, recorded_at = $5, version = $6
		WHERE id = $1 AND version = $2
		AND NOT EXISTS (SELECT 1 FROM inspection_rounds r WHERE r.round = i.round AND r.published)`,
		in.ID, prevVersion, string(in.Result), in.Findings, in.RecordedAt, in.Version)
	if err != nil {
		return translate(fmt.Errorf("record result of %s: %w", in.ID, err))
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.Conflict, "the inspection was changed or its round published meanwhile; reload and try again")
	}
	return nil
}

// PublishRound implements property.Store.
func (s *PropertyStore) PublishRound(ctx context.Context, round string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE inspection_rounds SET published = true, published_at = $2
		WHERE round = $1 AND NOT published
		AND NOT EXISTS (SELECT 1 FROM inspections WHERE round = $1 AND result IS NULL)`, round, at)
	if err != nil {
		return translate(fmt.Errorf("publish round %s: %w", round, err))
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.Conflict, "round %s was published or changed meanwhile; reload and try again", round)
	}
	return nil
}

// Inspectors implements property.Store.
func (s *PropertyStore) Inspectors(ctx context.Context, ids []string) ([]*property.Inspector, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, name, dept, active FROM inspectors WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, translate(fmt.Errorf("query inspectors: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*property.Inspector, error) {
		var in property.Inspector
		err := r.Scan(&in.ID, &in.Name, &in.Dept, &in.Active)
		return &in, err
	})
}

// ---------------------------------------------------------------- bulk load

// DeclaredConflict is a declared conflict of interest with its reason, as
// inspector_conflicts stores it.
type DeclaredConflict struct {
	InspectorID string
	PropertyID  uuid.UUID
	Reason      string
	DeclaredAt  time.Time
}

// DrawnRound is a drawn inspection round with the register snapshots it was
// drawn from, stored as a live draw stores it.
type DrawnRound struct {
	Round       *property.Round
	Targets     []byte
	Inspectors  []byte
	Inspections []property.Inspection
}

// PropertyRegister is a whole property register loaded in one go.
type PropertyRegister struct {
	Properties []*property.Property
	Permits    []property.Permit
	Inspectors []property.Inspector
	// InspectorsCreatedAt is when the inspectors were registered.
	InspectorsCreatedAt time.Time
	Conflicts           []DeclaredConflict
	Rounds              []DrawnRound
}

func fenAsYuan(fen *int64) any {
	if fen == nil {
		return nil
	}
	return pgtype.Numeric{Int: big.NewInt(*fen), Exp: -2, Valid: true}
}

// CopyPropertyRegister streams a whole register into empty property tables
// in tx with COPY (seeding); rounds go through the same insert as a live
// draw. Nothing goes to the outbox: a bulk load is not a stream of changes.
func CopyPropertyRegister(ctx context.Context, tx pgx.Tx, d *PropertyRegister) error {
	copyRows := func(table string, cols []string, rows [][]any) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows)); err != nil {
			return translate(fmt.Errorf("seed properties: copy %s: %w", table, err))
		}
		return nil
	}
	rows := make([][]any, len(d.Properties))
	for i, p := range d.Properties {
		street, community := jurisdictionLevels(p.JurisdictionCode)
		var company, code, contact, phone *string
		if m := p.Management; m != nil {
			company, code, contact, phone = &m.Company, &m.CreditCode, &m.ContactName, &m.ContactPhone
		}
		rows[i] = []any{p.ID, p.OwnerDept, p.Name, p.Address, p.Lat, p.Lng, p.JurisdictionCode, street, community,
			p.BuildYear, p.Buildings, p.Households, company, code, contact, phone, string(p.Renovation.Status),
			p.Renovation.Year, p.Renovation.Scope, fenAsYuan(p.Renovation.BudgetFen), p.Complaints, p.SourceDept,
			p.ExternalID, p.CreatedAt, p.UpdatedAt, p.Version}
	}
	if err := copyRows("properties", []string{"id", "owner_dept", "name", "address", "lat", "lng", "jurisdiction_code",
		"street_code", "community_code", "build_year", "buildings", "households", "mgmt_company", "mgmt_credit_code",
		"mgmt_contact_name", "mgmt_contact_phone", "renovation_status", "renovation_year", "renovation_scope",
		"renovation_budget", "complaints", "source_dept", "external_id", "created_at", "updated_at", "version"}, rows); err != nil {
		return err
	}
	rows = make([][]any, len(d.Permits))
	for i, b := range d.Permits {
		rows[i] = []any{b.ID, b.PermitNo, b.PropertyID, b.IssuedOn, string(b.Scope), b.Structure, b.FloorAreaM2, b.Valid,
			b.OwnerDept, b.SourceDept, b.ExternalID, b.CreatedAt, b.UpdatedAt, b.Version}
	}
	if err := copyRows("building_permits", []string{"id", "permit_no", "property_id", "issued_on", "scope", "structure",
		"floor_area_m2", "valid", "owner_dept", "source_dept", "external_id", "created_at", "updated_at", "version"}, rows); err != nil {
		return err
	}
	rows = make([][]any, len(d.Inspectors))
	for i, in := range d.Inspectors {
		rows[i] = []any{in.ID, in.Name, in.Dept, in.Active, d.InspectorsCreatedAt}
	}
	if err := copyRows("inspectors", []string{"id", "name", "dept", "active", "created_at"}, rows); err != nil {
		return err
	}
	rows = make([][]any, len(d.Conflicts))
	for i, c := range d.Conflicts {
		rows[i] = []any{c.InspectorID, c.PropertyID, c.Reason, c.DeclaredAt}
	}
	if err := copyRows("inspector_conflicts", []string{"inspector_id", "property_id", "reason", "declared_at"}, rows); err != nil {
		return err
	}
	for _, r := range d.Rounds {
		if err := insertInspectionRound(ctx, tx, r.Round, r.Targets, r.Inspectors, r.Inspections); err != nil {
			return fmt.Errorf("seed properties: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `ANALYZE properties, building_permits, inspectors, inspector_conflicts, inspection_rounds, inspections`); err != nil {
		return translate(fmt.Errorf("seed properties: analyze: %w", err))
	}
	return nil
}
