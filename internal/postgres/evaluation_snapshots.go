package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// snapshotQuery is how one snapshot dataset is read: its source rows, in a
// stable order, and its quasi-identifiers for the k-anonymity count.
type snapshotQuery struct {
	from    string // FROM clause
	columns string // what scan reads
	// quasi selects street, community, class, major class, kind, time,
	// lat and lng (evaluation.Quasi), in that order.
	quasi  string
	order  string
	when   string // the column the period filter bounds
	path   string // ltree of the record's jurisdiction
	street string // street code column
	scan   func(pgx.Rows) (evaluation.Record, error)
}

// snapshotQueries are the datasets' source queries. Direct identifiers
// (names, phones, ID numbers, plates, addresses, contacts) are never
// selected except to scrub them out of free text.
var snapshotQueries = map[string]snapshotQuery{
	cases.Dataset: {
		from: "cases",
		columns: `id, case_no, kind, major_code, minor_code, source, status, description, address, lat, lng,
		jurisdiction_code, street_code, coalesce(community_code, ''), coalesce(handling_dept, ''), coalesce(reporter_name, ''),
		coalesce(reporter_phone, ''), coalesce(citizen_id, ''), photo_urls, reported_at, registered_at, dispatched_at, deadline,
		handled_at, closed_at, rework_count, defer_count, rating, coalesce(rating_comment, ''), coalesce(external_id, ''),
		first_handled_at, first_deadline`,
		quasi: `street_code, coalesce(community_code, ''), kind || '/' || minor_code, kind || '/' || major_code, kind, reported_at, lat, lng`,
		order: "reported_at, id", when: "reported_at", path: "jpath", street: "street_code",
		scan: func(rows pgx.Rows) (evaluation.Record, error) {
			var c evaluation.SourceCase
			var rating *int16
			err := rows.Scan(&c.ID, &c.CaseNo, &c.Kind, &c.MajorCode, &c.MinorCode, &c.Source, &c.Status, &c.Description, &c.Address,
				&c.Lat, &c.Lng, &c.JurisdictionCode, &c.Street, &c.Community, &c.HandlingDept, &c.ReporterName, &c.ReporterPhone,
				&c.CitizenID, &c.PhotoURLs, &c.ReportedAt, &c.RegisteredAt, &c.DispatchedAt, &c.Deadline, &c.HandledAt, &c.ClosedAt,
				&c.ReworkCount, &c.DeferCount, &rating, &c.RatingComment, &c.ExternalID, &c.FirstHandledAt, &c.FirstDeadline)
			if rating != nil {
				r := int(*rating)
				c.Rating = &r
			}
			return &c, err
		},
	},
	evaluation.SnapshotViolations: {
		from: "violations",
		columns: `id, kind, coalesce(subtype, ''), channel, status, coalesce(outcome, ''), description, lat, lng, street_code,
		coalesce(community_code, ''), owner_dept, coalesce(party_name, ''), area_m2, demolished_area_m2, discovered_at,
		notice_issued_at, deadline, resolved_at, closed_at, case_id IS NOT NULL`,
		quasi: `street_code, coalesce(community_code, ''), kind || '/' || coalesce(subtype, ''), kind, kind, discovered_at, lat, lng`,
		order: "discovered_at, id", when: "discovered_at", path: "jpath", street: "street_code",
		scan: func(rows pgx.Rows) (evaluation.Record, error) {
			var v evaluation.SourceViolation
			err := rows.Scan(&v.ID, &v.Kind, &v.Subtype, &v.Channel, &v.Status, &v.Outcome, &v.Description, &v.Lat, &v.Lng, &v.Street,
				&v.Community, &v.OwnerDept, &v.PartyName, &v.AreaM2, &v.DemolishedAreaM2, &v.DiscoveredAt, &v.NoticeIssuedAt,
				&v.Deadline, &v.ResolvedAt, &v.Close, &v.FromCase)
			return &v, err
		},
	},
	evaluation.SnapshotParkingLots: {
		from: "parking_lots",
		columns: `id, name, kind, is_government, lat, lng, street_code, jurisdiction_code, owner_dept, total_spaces, shared_spaces,
		weekday_windows, rest_day_windows, rest_day_all_day, coalesce(no_movement, ''), max_seats, booking_rule, fee_rule, created_at`,
		quasi: `street_code, '', kind, kind, kind, created_at, 0::float8, 0::float8`,
		order: "created_at, id", when: "created_at", path: "jpath", street: "street_code",
		scan: func(rows pgx.Rows) (evaluation.Record, error) {
			var l evaluation.SourceLot
			var seats *int16
			err := rows.Scan(&l.ID, &l.Name, &l.Kind, &l.Government, &l.Lat, &l.Lng, &l.Street, &l.Jurisdiction, &l.OwnerDept,
				&l.TotalSpaces, &l.SharedSpaces, &l.WeekdayWindows, &l.RestDayWindows, &l.RestDayAllDay, &l.NoMovement, &seats,
				&l.BookingRule, &l.FeeRule, &l.CreatedAt)
			if seats != nil {
				n := int(*seats)
				l.MaxSeats = &n
			}
			return &l, err
		},
	},
	evaluation.SnapshotAvailability: {
		from:    "parking_availability_history h JOIN parking_lots l ON l.id = h.lot_id",
		columns: `h.lot_id, l.street_code, l.kind, h.at, h.free, l.total_spaces`,
		quasi:   `l.street_code, '', l.kind, l.kind, l.kind, h.at, 0::float8, 0::float8`,
		order:   "h.at, h.lot_id", when: "h.at", path: "l.jpath", street: "l.street_code",
		scan: func(rows pgx.Rows) (evaluation.Record, error) {
			var a evaluation.SourceAvailability
			err := rows.Scan(&a.LotID, &a.Street, &a.LotKind, &a.At, &a.Free, &a.TotalSpace)
			return &a, err
		},
	},
	evaluation.SnapshotInspections: {
		from: `inspections i JOIN inspection_rounds r ON r.round = i.round JOIN properties p ON p.id = i.property_id`,
		columns: `i.id, i.round, r.dept, r.period_start, i.rank, i.property_id, p.street_code, coalesce(p.community_code, ''),
		i.inspector_ids, coalesce((SELECT array_agg(x.name) FROM inspectors x WHERE x.id = ANY (i.inspector_ids)), '{}'),
		i.scheduled_on, coalesce(i.result, ''), i.findings, i.recorded_at, r.published`,
		quasi: `p.street_code, coalesce(p.community_code, ''), coalesce(i.result, ''), coalesce(i.result, ''), coalesce(i.result, ''),
		i.scheduled_on::timestamptz, 0::float8, 0::float8`,
		order: "i.round, i.rank", when: "i.scheduled_on::timestamptz", path: "p.jpath", street: "p.street_code",
		scan: func(rows pgx.Rows) (evaluation.Record, error) {
			var in evaluation.SourceInspection
			err := rows.Scan(&in.ID, &in.Round, &in.RoundDept, &in.PeriodStart, &in.Rank, &in.PropertyID, &in.Street, &in.Community,
				&in.Inspectors, &in.InspectorNames, &in.ScheduledOn, &in.Result, &in.Findings, &in.RecordedAt, &in.RoundPublished)
			return &in, err
		},
	},
}

// filter turns a snapshot filter into the dataset's WHERE clause.
func (q snapshotQuery) filter(f evaluation.SnapshotFilter) *where {
	w := newWhere()
	if f.Jurisdiction != "" {
		if strings.Count(f.Jurisdiction, ".") == 1 {
			w.add(q.street+" = @street", "street", f.Jurisdiction)
		} else {
			w.add(q.path+" <@ @root::ltree", "root", f.Jurisdiction)
		}
	}
	if f.ReportedFrom != nil {
		w.add(q.when+" >= @rfrom", "rfrom", *f.ReportedFrom)
	}
	if f.ReportedTo != nil {
		w.add(q.when+" < @rto", "rto", *f.ReportedTo)
	}
	if f.Kind != "" {
		w.add("kind = @kind", "kind", string(f.Kind))
	}
	if len(f.Sources) > 0 {
		src := make([]string, len(f.Sources))
		for i, s := range f.Sources {
			src[i] = string(s)
		}
		w.add("source = ANY(@sources)", "sources", src)
	}
	return w
}

// countQuasi counts the source rows by their finest quasi-identifiers
// (evaluation.QICount), in the reader's transaction: the same picture the
// rows are then read from. Coordinates are rounded with the same float
// arithmetic as Go's math.Round(v*1000)/1000 (for the district's positive
// coordinates), so a row's combination here is its combination there.
func countQuasi(ctx context.Context, db evalQuerier, q snapshotQuery, w *where, tz string, coords bool) ([]evaluation.QICount, error) {
	args := pgx.NamedArgs{}
	for k, v := range w.args {
		args[k] = v
	}
	args["tz"], args["coords"] = tz, coords
	rows, err := db.Query(ctx, `SELECT q_street, q_community, q_class, q_major, q_kind, extract(hour FROM q_at AT TIME ZONE @tz)::int,
		CASE WHEN @coords THEN floor(q_lat * 1000 + 0.5) / 1000 ELSE 0 END,
		CASE WHEN @coords THEN floor(q_lng * 1000 + 0.5) / 1000 ELSE 0 END, count(*)
		FROM (SELECT `+aliasQuasi(q.quasi)+` FROM `+q.from+` WHERE `+w.sql()+`) s
		GROUP BY 1, 2, 3, 4, 5, 6, 7, 8`, args)
	if err != nil {
		return nil, fmt.Errorf("snapshot: count quasi-identifiers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.QICount, error) {
		var c evaluation.QICount
		err := r.Scan(&c.Street, &c.Community, &c.Class, &c.Major, &c.Kind, &c.Hour, &c.Lat, &c.Lng, &c.Rows)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: count quasi-identifiers: %w", err)
	}
	return out, nil
}

// aliasQuasi names the eight quasi-identifier expressions.
func aliasQuasi(exprs string) string {
	names := []string{"q_street", "q_community", "q_class", "q_major", "q_kind", "q_at", "q_lat", "q_lng"}
	parts := splitTop(exprs)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i]) + " AS " + names[i]
	}
	return strings.Join(parts, ", ")
}

// splitTop splits a select list at the commas outside parentheses and
// quotes.
func splitTop(s string) []string {
	var (
		out   []string
		depth int
		quote bool
		start int
	)
	for i, r := range s {
		switch {
		case r == '\'':
			quote = !quote
		case quote:
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

const orgColumns = `code, name, coalesce(credit_code, ''), contract_no, contract_from, contract_to, datasets, jurisdictions,
	registered_by, registered_at`

// Organisation implements evaluation.Store.
func (s *EvaluationStore) Organisation(ctx context.Context, code string) (*evaluation.Organisation, error) {
	var o evaluation.Organisation
	err := s.pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM eval_organisations WHERE code = $1`, code).Scan(&o.Code, &o.Name,
		&o.CreditCode, &o.ContractNo, &o.From, &o.To, &o.Datasets, &o.Jurisdictions, &o.RegisteredBy, &o.RegisteredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no evaluation organisation %q", code)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("read organisation %s: %w", code, err))
	}
	return &o, nil
}

// RegisterOrganisation implements evaluation.Store: an upsert, so a
// renewed contract replaces the old one. The database refuses a code that
// is a department's (trigger, SQLSTATE 23514) and a jurisdiction the tree
// does not hold is refused here.
func (s *EvaluationStore) RegisterOrganisation(ctx context.Context, o *evaluation.Organisation) error {
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var missing []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(j), '{}') FROM unnest($1::text[]) j
			WHERE NOT EXISTS (SELECT 1 FROM jurisdictions WHERE code = j)`, o.Jurisdictions).Scan(&missing); err != nil {
			return fmt.Errorf("register organisation %s: check jurisdictions: %w", o.Code, err)
		}
		if len(missing) > 0 {
			return apperr.Invalid("jurisdictions", "unknown jurisdictions %s: give codes of the jurisdiction tree", strings.Join(missing, ", "))
		}
		err := tx.QueryRow(ctx, `INSERT INTO eval_organisations (code, name, credit_code, contract_no, contract_from, contract_to,
			datasets, jurisdictions, registered_by) VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7, $8, $9)
			ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, credit_code = EXCLUDED.credit_code,
				contract_no = EXCLUDED.contract_no, contract_from = EXCLUDED.contract_from, contract_to = EXCLUDED.contract_to,
				datasets = EXCLUDED.datasets, jurisdictions = EXCLUDED.jurisdictions, registered_by = EXCLUDED.registered_by,
				registered_at = now()
			RETURNING registered_at`,
			o.Code, o.Name, o.CreditCode, o.ContractNo, o.From, o.To, o.Datasets, o.Jurisdictions, o.RegisteredBy).Scan(&o.RegisteredAt)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "department") {
			return apperr.Invalid("code", "%q is a department's code: an evaluation organisation is not one of the departments it evaluates", o.Code)
		}
		if err != nil {
			return translate(fmt.Errorf("register organisation %s: %w", o.Code, err))
		}
		return nil
	})
}
