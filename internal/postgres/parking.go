package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ParkingStore keeps parking lots and their availability history in
// PostgreSQL. It implements parking.Store, and the lot capacities and
// history the live counters (internal/availability) need.
type ParkingStore struct {
	pool DB
	lots *lotCache // decoded lots for Near
}

// NewParkingStore returns a parking store on pool.
func NewParkingStore(pool DB) *ParkingStore { return &ParkingStore{pool: pool, lots: newLotCache()} }

var _ parking.Store = (*ParkingStore)(nil)

const lotColumns = `id, name, kind, is_government, address, lat, lng, jurisdiction_code, owner_dept, operator,
	total_spaces, shared_spaces, open_hours, weekday_windows, rest_day_all_day, rest_day_windows,
	coalesce(no_movement, ''), coalesce(max_seats, 0), booking_rule, fee_rule, coalesce(contact_name, ''),
	coalesce(contact_phone, ''), source_dept, external_id, created_at, updated_at, version, opened_at`

var lotScope = scopeColumns{path: "jpath", street: "street_code", depts: []string{"owner_dept"}}

// nearPoint is the query point of Near; pgx binds @lng and @lat once and
// the planner sees a stable expression it can drive the GiST index with.
const nearPoint = "ST_SetSRID(ST_MakePoint(@lng, @lat), 4326)::geography"

func scanLot(row pgx.Row, extra ...any) (*parking.Lot, error) {
	var l parking.Lot
	var hours, weekday, restDay []string
	var noMovement string
	dest := []any{&l.ID, &l.Name, &l.Kind, &l.IsGovernment, &l.Address, &l.Lat, &l.Lng, &l.JurisdictionCode,
		&l.OwnerDept, &l.Operator, &l.TotalSpaces, &l.SharedSpaces, &hours, &weekday, &l.Windows.RestDayAllDay,
		&restDay, &noMovement, &l.MaxSeats, &l.BookingRule, &l.FeeRule, &l.ContactName, &l.ContactPhone,
		&l.SourceDept, &l.ExternalID, &l.CreatedAt, &l.UpdatedAt, &l.Version, &l.OpenedAt}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	var err error
	if l.Windows.Hours, err = parseRanges(hours); err != nil {
		return nil, fmt.Errorf("lot %s open_hours: %w", l.ID, err)
	}
	if l.Windows.Weekday, err = parseRanges(weekday); err != nil {
		return nil, fmt.Errorf("lot %s weekday_windows: %w", l.ID, err)
	}
	if l.Windows.RestDay, err = parseRanges(restDay); err != nil {
		return nil, fmt.Errorf("lot %s rest_day_windows: %w", l.ID, err)
	}
	if noMovement != "" {
		r, err := parking.ParseRange(noMovement)
		if err != nil {
			return nil, fmt.Errorf("lot %s no_movement: %w", l.ID, err)
		}
		l.Windows.NoMovement = &r
	}
	return &l, nil
}

func parseRanges(list []string) ([]parking.Range, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]parking.Range, len(list))
	for i, s := range list {
		r, err := parking.ParseRange(s)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func formatRanges(list []parking.Range) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.String()
	}
	return out
}

// lotRow is a lot as the columns written by Create, Update and InsertLots
// want it.
type lotRow struct {
	street      string
	hours       []string
	weekday     []string
	restDay     []string
	noMovement  *string
	maxSeats    *int16
	contactName *string
	contactTel  *string
}

func toRow(l *parking.Lot) (lotRow, error) {
	street, _ := jurisdictionLevels(l.JurisdictionCode)
	if street == nil {
		return lotRow{}, apperr.Invalid("jurisdiction", "a lot must lie in a street or town, not the whole district")
	}
	r := lotRow{street: *street, hours: formatRanges(l.Windows.Hours), weekday: formatRanges(l.Windows.Weekday),
		restDay: formatRanges(l.Windows.RestDay), contactName: nullIfEmpty(l.ContactName), contactTel: nullIfEmpty(l.ContactPhone)}
	if l.Windows.NoMovement != nil {
		s := l.Windows.NoMovement.String()
		r.noMovement = &s
	}
	if l.MaxSeats > 0 {
		v := int16(l.MaxSeats)
		r.maxSeats = &v
	}
	return r, nil
}

// Get implements parking.Store.
func (s *ParkingStore) Get(ctx context.Context, scope access.RowScope, id uuid.UUID) (*parking.Lot, error) {
	w := newWhere()
	w.add("id = @id", "id", id)
	w.addScope(scope, lotScope)
	l, err := scanLot(s.pool.QueryRow(ctx, "SELECT "+lotColumns+" FROM parking_lots WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "parking lot %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get lot %s: %w", id, err))
	}
	return l, nil
}

// GetMany implements parking.Store.
func (s *ParkingStore) GetMany(ctx context.Context, scope access.RowScope, ids []uuid.UUID) ([]*parking.Lot, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	w := newWhere()
	w.add("id = ANY(@ids)", "ids", ids)
	w.addScope(scope, lotScope)
	return s.query(ctx, "SELECT "+lotColumns+" FROM parking_lots WHERE "+w.sql(), w.args)
}

func (s *ParkingStore) query(ctx context.Context, sql string, args pgx.NamedArgs) ([]*parking.Lot, error) {
	return queryAll(ctx, s.pool, "parking lots", sql, args, func(r pgx.Row) (*parking.Lot, error) { return scanLot(r) })
}

func lotFilter(w *where, f parking.Filter) {
	if f.Kind != "" {
		w.add("kind = @kind", "kind", string(f.Kind))
	}
	if f.Jurisdiction != "" {
		w.addSubtree(f.Jurisdiction, "street_code", "", "jpath", "")
	}
	if f.OwnerDept != "" {
		w.add("owner_dept = @owner", "owner", f.OwnerDept)
	}
	if f.Government != nil {
		w.add("is_government = @gov", "gov", *f.Government)
	}
	if f.Text != "" {
		w.add("name ILIKE @text", "text", "%"+escapeLike(f.Text)+"%")
	}
}

// List implements parking.Store with keyset pagination over (name, id),
// or over id alone in id order (the id is its own key).
func (s *ParkingStore) List(ctx context.Context, scope access.RowScope, q parking.ListQuery) ([]*parking.Lot, bool, error) {
	w := newWhere()
	lotFilter(w, q.Filter)
	w.addScope(scope, lotScope)
	ks := keysetQuery{from: "parking_lots", columns: lotColumns, key: "name", id: "id", first: q.First}
	if q.Order == parking.OrderID {
		ks.key = "id"
	}
	ks.pageBy(q.Request(), func(c *page.Cursor) any {
		if q.Order == parking.OrderID {
			return c.ID
		}
		return c.Key
	})
	return keysetPage(ctx, s.pool, "lots", w, ks, func(r pgx.Row) (*parking.Lot, error) { return scanLot(r) })
}

// nearSQL returns the statement and arguments of one Near batch.
//
// The inner query is a nearest-first GiST index scan (ORDER BY geog <->
// point) bounded by the radius' box (geog && _ST_Expand(point, radius), the
// very index condition PostGIS derives from ST_DWithin), which stops at
// LIMIT. The exact ST_DWithin test runs outside, on those rows only: the
// rows within the radius are a prefix of the nearest-first order, so
// cutting after LIMIT loses none. Written the obvious way (ST_DWithin in
// the same WHERE as ORDER BY … LIMIT), the planner takes ST_DWithin on
// geography for a one-row filter of cost 10,000 per row, sees no gain in
// LIMIT, and for large radii picks a sequential scan and a sort of every
// lot. The order is by distance alone: a secondary key (id) also defeats
// the index order, so ties are handled by the cursor instead.
func nearSQL(scope access.RowScope, q parking.NearQuery) (string, pgx.NamedArgs) {
	w := newWhere()
	w.add("geog && _ST_Expand("+nearPoint+", @radius)", "lng", q.Lng, "lat", q.Lat, "radius", q.Radius)
	if q.After != nil {
		w.add("geog <-> "+nearPoint+" >= @after_dist", "after_dist", q.After.Distance)
		if len(q.After.Seen) > 0 {
			w.add("id <> ALL(@seen)", "seen", q.After.Seen)
		}
	}
	w.addScope(scope, lotScope)
	return fmt.Sprintf(`SELECT id, xmin::text::bigint, distance FROM (
		SELECT l.id, l.xmin, l.geog, geog <-> %s AS distance FROM parking_lots l WHERE %s ORDER BY geog <-> %s LIMIT %d
	) near WHERE ST_DWithin(geog, %s, @radius, false) ORDER BY distance`,
		nearPoint, w.sql(), nearPoint, q.Limit, nearPoint), w.args
}

// Near implements parking.Store. Distances are on the sphere (use_spheroid
// false in ST_DWithin, and <-> on geography): the filter, the order and the
// reported distance agree exactly, and they differ from the ellipsoid by
// well under 0.5 %.
//
// The search reads ids, row versions and distances; the lots come from the
// store's cache when their version matches, and the rest in one more
// statement by id, under the same row scope (a lot changed or moved out of
// scope in between is read as it is now, or left out).
func (s *ParkingStore) Near(ctx context.Context, scope access.RowScope, q parking.NearQuery) ([]parking.Nearby, error) {
	sql, args := nearSQL(scope, q)
	rows, err := s.pool.Query(ctx, sql, args)
	if err != nil {
		return nil, translate(fmt.Errorf("near lots: %w", err))
	}
	type hit struct {
		id   uuid.UUID
		xmin int64
		dist float64
	}
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.id, &h.xmin, &h.dist); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan near lot: %w", err)
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("read near lots: %w", err))
	}
	found := make(map[uuid.UUID]*parking.Lot, len(hits))
	var missing []uuid.UUID
	for _, h := range hits {
		if l, ok := s.lots.get(h.id, uint32(h.xmin)); ok {
			found[h.id] = l
		} else {
			missing = append(missing, h.id)
		}
	}
	if len(missing) > 0 {
		if err := s.readLots(ctx, scope, missing, found); err != nil {
			return nil, err
		}
	}
	out := make([]parking.Nearby, 0, len(hits))
	for _, h := range hits {
		if l := found[h.id]; l != nil {
			out = append(out, parking.Nearby{Lot: l, DistanceMeters: h.dist})
		}
	}
	return out, nil
}

// readLots reads the lots ids within scope into found and keeps them in the
// cache at the version read.
func (s *ParkingStore) readLots(ctx context.Context, scope access.RowScope, ids []uuid.UUID, found map[uuid.UUID]*parking.Lot) error {
	w := newWhere()
	w.add("id = ANY(@ids)", "ids", ids)
	w.addScope(scope, lotScope)
	rows, err := s.pool.Query(ctx, `SELECT `+lotColumns+`, xmin::text::bigint FROM parking_lots WHERE `+w.sql(), w.args)
	if err != nil {
		return translate(fmt.Errorf("read near lots by id: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var xmin int64
		l, err := scanLot(rows, &xmin)
		if err != nil {
			return fmt.Errorf("scan lot: %w", err)
		}
		s.lots.put(l, uint32(xmin))
		found[l.ID] = l
	}
	if err := rows.Err(); err != nil {
		return translate(fmt.Errorf("read near lots by id: %w", err))
	}
	return nil
}

// ExplainNear returns the plan of a Near batch, so tests and benchmarks can
// check that it runs on the GiST index. generic asks for the plan without
// the parameters' values: the one a cached prepared statement may switch
// to after a few executions.
func (s *ParkingStore) ExplainNear(ctx context.Context, scope access.RowScope, q parking.NearQuery, generic bool) (string, error) {
	sql, named := nearSQL(scope, q)
	var lines []string
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if !generic {
			rows, err := tx.Query(ctx, "EXPLAIN "+sql, named)
			if err != nil {
				return err
			}
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}
		psql, args, err := named.RewriteQuery(ctx, tx.Conn(), sql, nil)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		// Prepared statements outlive transactions: drop it whatever happens.
		if _, err := tx.Exec(ctx, "PREPARE explain_near AS "+psql); err != nil {
			return err
		}
		defer tx.Exec(ctx, "DEALLOCATE explain_near") //nolint:errcheck // best effort; the session ends with the pool
		ph := make([]string, len(args))
		for i := range args {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		// EXPLAIN EXECUTE takes no bind parameters: pgx inlines them as
		// literals in the simple protocol.
		rows, err := tx.Query(ctx, "EXPLAIN EXECUTE explain_near("+strings.Join(ph, ", ")+")",
			append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return "", translate(fmt.Errorf("explain near: %w", err))
	}
	return strings.Join(lines, "\n"), nil
}

// OpeningRate implements parking.Store (Rate is left for the service).
func (s *ParkingStore) OpeningRate(ctx context.Context, scope access.RowScope) (parking.Rate, error) {
	w := newWhere()
	w.add("is_government")
	w.addScope(scope, lotScope)
	var r parking.Rate
	err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'GOVERNMENT_SHARED' AND shared_spaces > 0), count(*),
		coalesce(sum(shared_spaces) FILTER (WHERE kind = 'GOVERNMENT_SHARED'), 0)
		FROM parking_lots WHERE `+w.sql(), w.args).Scan(&r.Open, &r.Total, &r.SharedSpaces)
	if err != nil {
		return parking.Rate{}, translate(fmt.Errorf("opening rate: %w", err))
	}
	return r, nil
}

// AddedSpaces implements parking.Store.
func (s *ParkingStore) AddedSpaces(ctx context.Context, scope access.RowScope, since, until time.Time) (parking.Added, error) {
	w := newWhere()
	w.add("opened_at >= @since AND opened_at < @until", "since", since, "until", until)
	w.addScope(scope, lotScope)
	var a parking.Added
	err := s.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(total_spaces), 0) FROM parking_lots WHERE `+w.sql(), w.args).
		Scan(&a.Lots, &a.Spaces)
	if err != nil {
		return parking.Added{}, translate(fmt.Errorf("added spaces: %w", err))
	}
	return a, nil
}

// BySource implements parking.Store.
func (s *ParkingStore) BySource(ctx context.Context, scope access.RowScope, sourceDept, externalID string) (*parking.Lot, error) {
	return bySource(ctx, s.pool, "parking_lots", "lot", lotColumns, lotScope, scope, sourceDept, externalID,
		func(r pgx.Row) (*parking.Lot, error) { return scanLot(r) })
}

// Create implements parking.Store.
func (s *ParkingStore) Create(ctx context.Context, l *parking.Lot) error {
	r, err := toRow(l)
	if err != nil {
		return err
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO parking_lots (id, name, kind, is_government, address, lat, lng, jurisdiction_code,
			street_code, owner_dept, operator, total_spaces, shared_spaces, open_hours, weekday_windows, rest_day_all_day,
			rest_day_windows, no_movement, max_seats, booking_rule, fee_rule, contact_name, contact_phone, source_dept,
			external_id, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
			$23, $24, $25, $26, $27, $28)`,
			l.ID, l.Name, l.Kind, l.IsGovernment, l.Address, l.Lat, l.Lng, l.JurisdictionCode, r.street, l.OwnerDept,
			l.Operator, l.TotalSpaces, l.SharedSpaces, r.hours, r.weekday, l.Windows.RestDayAllDay, r.restDay,
			r.noMovement, r.maxSeats, l.BookingRule, l.FeeRule, r.contactName, r.contactTel, l.SourceDept,
			l.ExternalID, l.CreatedAt, l.UpdatedAt, l.Version)
		if err != nil {
			return translate(fmt.Errorf("insert lot: %w", err))
		}
		return writeChange(ctx, tx, lotChange(l, "CREATED"))
	})
}

// lotChange describes the creation or update of a lot for the outbox.
// Lots have no handling department and no citizen; the payload names the
// action only (contacts are under field rules). Availability readings are
// not record changes: they go through Redis pub/sub, not the outbox, and
// bulk loads (InsertLots) write no outbox rows.
func lotChange(l *parking.Lot, op string) Change {
	action := "CREATE"
	if op != "CREATED" {
		action = "UPDATE"
	}
	return Change{Dataset: parking.Dataset, RecordID: l.ID.String(), Op: op, Jurisdiction: l.JurisdictionCode,
		OwnerDept: l.OwnerDept, Version: l.Version, Payload: map[string]any{"action": action}}
}

// Update implements parking.Store.
func (s *ParkingStore) Update(ctx context.Context, l *parking.Lot, prevVersion int) error {
	r, err := toRow(l)
	if err != nil {
		return err
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE parking_lots SET name = $3, kind = $4, is_government = $5, address = $6,
			lat = $7, lng = $8, jurisdiction_code = $9, street_code = $10, owner_dept = $11, operator = $12,
			total_spaces = $13, shared_spaces = $14, open_hours = $15, weekday_windows = $16, rest_day_all_day = $17,
			rest_day_windows = $18, no_movement = $19, max_seats = $20, booking_rule = $21, fee_rule = $22,
			contact_name = $23, contact_phone = $24, updated_at = $25, version = $26
			WHERE id = $1 AND version = $2`,
			l.ID, prevVersion, l.Name, l.Kind, l.IsGovernment, l.Address, l.Lat, l.Lng, l.JurisdictionCode, r.street,
			l.OwnerDept, l.Operator, l.TotalSpaces, l.SharedSpaces, r.hours, r.weekday, l.Windows.RestDayAllDay,
			r.restDay, r.noMovement, r.maxSeats, l.BookingRule, l.FeeRule, r.contactName, r.contactTel,
			l.UpdatedAt, l.Version)
		if err != nil {
			return translate(fmt.Errorf("update lot %s: %w", l.ID, err))
		}
		if tag.RowsAffected() == 0 {
			var ver int
			if err := tx.QueryRow(ctx, "SELECT version FROM parking_lots WHERE id = $1", l.ID).Scan(&ver); err != nil {
				return apperr.New(apperr.NotFound, "parking lot %s not found", l.ID)
			}
			return apperr.New(apperr.Conflict, "the lot was changed by someone else meanwhile (now version %d); reload and try again", ver)
		}
		return writeChange(ctx, tx, lotChange(l, "UPDATED"))
	})
}

// TotalSpaces returns the total spaces of each existing lot among ids (the
// live counters check reports against it).
func (s *ParkingStore) TotalSpaces(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]int, error) {
	out := make(map[uuid.UUID]int, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT id, total_spaces FROM parking_lots WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, translate(fmt.Errorf("lot capacities: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("scan capacity: %w", err)
		}
		out[id] = n
	}
	return out, translate(rows.Err())
}

// RecordAvailability writes one history row per lot for the sampler tick
// at, in one statement; rows already written for that tick (by another
// instance, or an earlier run) and lots that no longer exist are skipped.
// It returns the number of rows written.
func (s *ParkingStore) RecordAvailability(ctx context.Context, at time.Time, values map[uuid.UUID]parking.Availability) (int64, error) {
	if len(values) == 0 {
		return 0, nil
	}
	ids := make([]uuid.UUID, 0, len(values))
	free := make([]int32, 0, len(values))
	reported := make([]time.Time, 0, len(values))
	for id, v := range values {
		ids = append(ids, id)
		free = append(free, int32(v.Free))
		reported = append(reported, v.At)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO parking_availability_history (lot_id, at, free, reported_at)
		SELECT v.id, $1, v.free, v.reported FROM unnest($2::uuid[], $3::int[], $4::timestamptz[]) AS v(id, free, reported)
		JOIN parking_lots l ON l.id = v.id
		ON CONFLICT (lot_id, at) DO NOTHING`, at, ids, free, reported)
	if err != nil {
		return 0, translate(fmt.Errorf("record availability: %w", err))
	}
	return tag.RowsAffected(), nil
}

// lotCopyColumns are the columns InsertLots copies (generated ones aside).
var lotCopyColumns = []string{"id", "name", "kind", "is_government", "address", "lat", "lng", "jurisdiction_code",
	"street_code", "owner_dept", "operator", "total_spaces", "shared_spaces", "open_hours", "weekday_windows",
	"rest_day_all_day", "rest_day_windows", "no_movement", "max_seats", "booking_rule", "fee_rule", "contact_name",
	"contact_phone", "source_dept", "external_id", "created_at", "updated_at", "version", "opened_at"}

// InsertLots bulk-loads lots with COPY in one transaction (seeding,
// imports). Any existing id or (source_dept, external_id) fails the whole
// load with CONFLICT.
func (s *ParkingStore) InsertLots(ctx context.Context, lots []parking.Lot) (int64, error) {
	var n int64
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var rowErr error
		i := 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(lots) {
				return nil, nil
			}
			l := &lots[i]
			i++
			r, err := toRow(l)
			if err != nil {
				rowErr = fmt.Errorf("lot %d (%s): %w", i, l.ExternalID, err)
				return nil, rowErr
			}
			return []any{l.ID, l.Name, string(l.Kind), l.IsGovernment, l.Address, l.Lat, l.Lng, l.JurisdictionCode,
				r.street, l.OwnerDept, l.Operator, int32(l.TotalSpaces), int32(l.SharedSpaces), r.hours, r.weekday,
				l.Windows.RestDayAllDay, r.restDay, r.noMovement, r.maxSeats, l.BookingRule, l.FeeRule, r.contactName,
				r.contactTel, l.SourceDept, l.ExternalID, l.CreatedAt, l.UpdatedAt, int32(l.Version), l.OpenedAt}, nil
		})
		var err error
		n, err = tx.CopyFrom(ctx, pgx.Identifier{"parking_lots"}, lotCopyColumns, src)
		if rowErr != nil {
			return rowErr
		}
		if err != nil {
			return translate(fmt.Errorf("copy lots: %w", err))
		}
		return nil
	})
	return n, err
}
