package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"os"
	"strconv"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/google/uuid"
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

// CreateSnapshot implements evaluation.Store. The source cases are read on
// one connection in a read-only REPEATABLE READ transaction (a consistent
// picture) and streamed through the anonymizer into a COPY on another, in
// one transaction with the checkpoints and the manifest: a snapshot exists
// completely or not at all. Memory stays constant.
func (s *EvaluationStore) CreateSnapshot(ctx context.Context, spec *evaluation.SnapshotSpec) (*evaluation.Manifest, error) {
	rc, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: acquire reader: %w", err)
	}
	defer rc.Release()
	rtx, err := rc.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("snapshot: begin reader: %w", err)
	}
	defer rtx.Rollback(ctx) //nolint:errcheck // read-only

	q, ok := snapshotQueries[spec.Dataset]
	if !ok {
		return nil, fmt.Errorf("snapshot: no source query for dataset %q", spec.Dataset)
	}
	w := q.filter(spec.Filter)
	loc := spec.Location
	if loc == nil {
		loc = time.UTC
	}
	counts, err := countQuasi(ctx, rtx, q, w, loc.String(), spec.Profile.Coordinates)
	if err != nil {
		return nil, err
	}
	kanon, err := spec.Anonymizer.Plan(counts, spec.K)
	if err != nil {
		return nil, err
	}
	rows, err := rtx.Query(ctx, `SELECT `+q.columns+` FROM `+q.from+` WHERE `+w.sql()+` ORDER BY `+q.order, w.args)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read %s: %w", spec.Dataset, err)
	}
	defer rows.Close()

	src := &snapshotSource{rows: rows, scan: q.scan, spec: spec, ndHash: sha256.New(), csvHash: sha256.New(), bomHash: sha256.New()}
	header := []byte(evaluationCSVHeader(spec.Anonymizer.Columns()) + "\n")
	src.csvHash.Write(header)
	src.bomHash.Write([]byte(evaluation.BOM))
	src.bomHash.Write(header)
	src.csvPos = int64(len(header))
	if src.book, err = evaluation.NewDatasetWorkbook(spec.Dataset, spec.Anonymizer.Columns(), loc); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer src.book.Close() //nolint:errcheck // temporary files only
	pqFile, err := os.CreateTemp("", "snapshot-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("snapshot: parquet: %w", err)
	}
	defer os.Remove(pqFile.Name()) //nolint:errcheck // best effort
	defer pqFile.Close()           //nolint:errcheck // read back below
	pqBuf := bufio.NewWriterSize(pqFile, 64<<10)
	src.pq = evaluation.NewParquetWriter(pqBuf, spec.Dataset, spec.Anonymizer.Columns())

	var m *evaluation.Manifest
	err = InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_rows"}, []string{"snapshot_id", "seq", "ndjson", "csv"}, src); err != nil {
			return fmt.Errorf("snapshot: write rows: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("snapshot: read %s: %w", spec.Dataset, err)
		}
		if len(src.checkpoints) > 0 {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_checkpoints"},
				[]string{"snapshot_id", "seq", "ndjson_offset", "csv_offset"}, pgx.CopyFromRows(src.checkpoints)); err != nil {
				return fmt.Errorf("snapshot: write checkpoints: %w", err)
			}
		}
		m = &evaluation.Manifest{
			ID: spec.ID, Dataset: spec.Dataset, Filter: spec.Filter, Profile: spec.Profile,
			Columns: spec.Anonymizer.Columns(), Rows: src.seq,
			NDJSON:        evaluation.Rendering{SHA256: hex.EncodeToString(src.ndHash.Sum(nil)), Bytes: src.ndPos},
			CSV:           evaluation.Rendering{SHA256: hex.EncodeToString(src.csvHash.Sum(nil)), Bytes: src.csvPos},
			CSVBOM:        evaluation.Rendering{SHA256: hex.EncodeToString(src.bomHash.Sum(nil)), Bytes: src.csvPos + int64(len(evaluation.BOM))},
			PolicyVersion: spec.PolicyVersion, RulesVersion: evaluation.RulesVersion,
			CreatedBy: spec.CreatedBy, CreatedAt: spec.CreatedAt,
			Organisation: spec.Org, KAnonymity: kanon,
		}
		// The dimension tables are read in the reader's transaction: the
		// same picture of the catalogues as the rows.
		tables, err := readDimensions(ctx, rtx, m.Dataset, m.Columns, spec.Classes)
		if err != nil {
			return err
		}
		for _, t := range tables {
			files, tm, err := t.Files()
			if err != nil {
				return fmt.Errorf("snapshot: %s: %w", t.Name, err)
			}
			for name, b := range files {
				if _, err := writeFile(ctx, tx, spec.ID, name, bytes.NewReader(b)); err != nil {
					return err
				}
			}
			m.Tables = append(m.Tables, tm)
		}
		if !src.book.TooBig() {
			about := [][2]string{{"snapshot", m.ID.String()}, {"dataset", m.Dataset}, {"rows", strconv.FormatInt(m.Rows, 10)},
				{"policy version", m.PolicyVersion}, {"rules version", strconv.Itoa(m.RulesVersion)},
				{"created by", m.CreatedBy}, {"created at (UTC)", m.CreatedAt.Format(time.RFC3339)},
				{"organisation", orgLine(m.Organisation)}, {"k-anonymity", kanonLine(kanon)},
				{"times", "timestamps are local time in " + loc.String() + ", truncated to the hour"},
				{"dictionary", "the sheet dictionary describes every column of every sheet"}}
			rend, err := writeWorkbook(ctx, tx, spec.ID, src.book, tables, about)
			if err != nil {
				return err
			}
			m.XLSX = &rend
		}
		if err := src.pq.Close(); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := pqBuf.Flush(); err != nil {
			return fmt.Errorf("snapshot: parquet: %w", err)
		}
		if _, err := pqFile.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("snapshot: parquet: %w", err)
		}
		rend, err := writeFile(ctx, tx, spec.ID, evaluation.ParquetFileOf(spec.Dataset), bufio.NewReaderSize(pqFile, 64<<10))
		if err != nil {
			return err
		}
		m.Parquet = &rend
		filter, _ := json.Marshal(m.Filter)
		profile, _ := json.Marshal(m.Profile)
		columns, _ := json.Marshal(m.Columns)
		files, _ := json.Marshal(manifestFiles{CSVBOM: m.CSVBOM, XLSX: m.XLSX, Parquet: m.Parquet, Tables: m.Tables, KAnonymity: m.KAnonymity})
		_, err = tx.Exec(ctx, `INSERT INTO eval_snapshots (id, dataset, filter, profile, columns, row_count, ndjson_sha256,
			ndjson_bytes, csv_sha256, csv_bytes, policy_version, rules_version, pseudonym_key, created_by, created_at, files, organisation)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			m.ID, m.Dataset, filter, profile, columns, m.Rows, m.NDJSON.SHA256, m.NDJSON.Bytes, m.CSV.SHA256, m.CSV.Bytes,
			m.PolicyVersion, m.RulesVersion, spec.Key, m.CreatedBy, m.CreatedAt, files, m.Organisation)
		if err != nil {
			return fmt.Errorf("snapshot: write manifest: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// manifestFiles is the manifest's "files" column: what later versions
// added to a snapshot, so older snapshots keep reading as they were.
type manifestFiles struct {
	CSVBOM  evaluation.Rendering       `json:"csvBom"`
	XLSX    *evaluation.Rendering      `json:"xlsx,omitempty"`
	Parquet *evaluation.Rendering      `json:"parquet,omitempty"`
	Tables  []evaluation.TableManifest `json:"tables,omitempty"`
	// KAnonymity: what was generalized (migration-free: files is jsonb).
	KAnonymity *evaluation.KAnonymity `json:"kAnonymity,omitempty"`
}

func orgLine(o *evaluation.OrgRef) string {
	if o == nil {
		return "made by the district's own staff"
	}
	return fmt.Sprintf("%s (%s), contract %s, %s – %s", o.Name, o.Code, o.ContractNo,
		o.ContractFrom.Format(time.RFC3339), o.ContractTo.Format(time.RFC3339))
}

func kanonLine(k *evaluation.KAnonymity) string {
	if k.NotApplicable != "" {
		return fmt.Sprintf("at least %d rows; no quasi-identifiers: %s", k.K, k.NotApplicable)
	}
	g := "nothing generalized"
	if len(k.Generalized) > 0 {
		g = "generalized " + strings.Join(k.Generalized, ", ")
	}
	return fmt.Sprintf("every combination of %s holds at least %d rows (smallest %d); %s",
		strings.Join(k.QuasiIdentifiers, ", "), k.K, k.SmallestGroup, g)
}

// readDimensions reads the jurisdictions and departments and builds the
// tables frozen with a snapshot.
func readDimensions(ctx context.Context, db evalQuerier, dataset string, cols []evaluation.Column, classes []cases.Class) ([]*evaluation.Table, error) {
	rows, err := db.Query(ctx, `SELECT code, level, coalesce(parent_code, ''), name_zh, name_en, coalesce(admin_code, ''), lat, lng,
		area_km2 FROM jurisdictions ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read jurisdictions: %w", err)
	}
	js, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.JurisdictionInfo, error) {
		var j evaluation.JurisdictionInfo
		err := r.Scan(&j.Code, &j.Level, &j.Parent, &j.NameZH, &j.NameEN, &j.AdminCode, &j.Lat, &j.Lng, &j.AreaKm2)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read jurisdictions: %w", err)
	}
	rows, err = db.Query(ctx, `SELECT code, name_zh, name_en, kind, jurisdiction_code FROM departments ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read departments: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (evaluation.DepartmentInfo, error) {
		var d evaluation.DepartmentInfo
		err := r.Scan(&d.Code, &d.NameZH, &d.NameEN, &d.Kind, &d.Jurisdiction)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read departments: %w", err)
	}
	return evaluation.DimensionTables(dataset, cols, js, ds, classes), nil
}

// writeFile stores a file of a snapshot in FileChunk-sized chunks with one
// COPY, and returns its checksum and length.
func writeFile(ctx context.Context, tx pgx.Tx, id uuid.UUID, name string, r io.Reader) (evaluation.Rendering, error) {
	h := sha256.New()
	var (
		n     int64
		chunk int64
		buf   = make([]byte, evaluation.FileChunk)
		done  bool
		rerr  error
	)
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"eval_snapshot_files"}, []string{"snapshot_id", "name", "chunk", "data"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if done {
				return nil, nil
			}
			k, err := io.ReadFull(r, buf)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				done = true
			} else if err != nil {
				rerr = err
				return nil, err
			}
			if k == 0 && chunk > 0 {
				return nil, nil
			}
			h.Write(buf[:k])
			n += int64(k)
			row := []any{id, name, chunk, buf[:k]}
			chunk++
			return row, nil
		}))
	if err != nil || rerr != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: write %s: %w", name, errors.Join(err, rerr))
	}
	return evaluation.Rendering{SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

// writeWorkbook finishes the workbook into a temporary file (its rows are
// already spilled to disk by the stream writer) and stores it.
func writeWorkbook(ctx context.Context, tx pgx.Tx, id uuid.UUID, book *evaluation.Workbook, tables []*evaluation.Table, about [][2]string) (evaluation.Rendering, error) {
	f, err := os.CreateTemp("", "snapshot-*.xlsx")
	if err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	defer os.Remove(f.Name()) //nolint:errcheck // best effort
	defer f.Close()           //nolint:errcheck // read only after the write
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := book.Finish(tables, about, bw); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return evaluation.Rendering{}, fmt.Errorf("snapshot: workbook: %w", err)
	}
	return writeFile(ctx, tx, id, evaluation.XLSXFile, bufio.NewReaderSize(f, 64<<10))
}

// File implements evaluation.Store: one chunk per query, so a slow client
// holds no connection and memory stays at one chunk.
func (s *EvaluationStore) File(ctx context.Context, id uuid.UUID, name string, fromChunk int64, fn func([]byte) error) error {
	var buf []byte
	for c := fromChunk; ; c++ {
		err := s.pool.QueryRow(ctx, `SELECT data FROM eval_snapshot_files WHERE snapshot_id = $1 AND name = $2 AND chunk = $3`,
			id, name, c).Scan(&buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read snapshot file %s: %w", name, err)
		}
		if err := fn(buf); err != nil {
			return err
		}
	}
}

func evaluationCSVHeader(cols []evaluation.Column) string {
	m := evaluation.Manifest{Columns: cols}
	return m.CSVHeader()
}

// snapshotSource renders source cases into snapshot rows for COPY, hashing
// both renderings and noting checkpoints as it goes.
type snapshotSource struct {
	rows            pgx.Rows
	scan            func(pgx.Rows) (evaluation.Record, error)
	spec            *evaluation.SnapshotSpec
	seq             int64
	ndPos, csvPos   int64
	ndHash, csvHash hash.Hash
	bomHash         hash.Hash
	book            *evaluation.Workbook
	pq              *evaluation.ParquetWriter
	nd, csv         []byte
	row             [4]any
	checkpoints     [][]any
	err             error
}

func (s *snapshotSource) Next() bool {
	if !s.rows.Next() {
		return false
	}
	var rec evaluation.Record
	for {
		var err error
		if rec, err = s.scan(s.rows); err != nil {
			s.err = err
			return false
		}
		if !s.spec.Anonymizer.Suppressed(rec) {
			break
		}
		// Withheld for k-anonymity (counted in the manifest).
		if !s.rows.Next() {
			return false
		}
	}
	s.seq++
	if (s.seq-1)%snapshotCheckpointEvery == 0 {
		s.checkpoints = append(s.checkpoints, []any{s.spec.ID, s.seq, s.ndPos, s.csvPos})
	}
	s.nd, s.csv = s.spec.Anonymizer.Render(rec, s.nd[:0], s.csv[:0])
	s.ndHash.Write(s.nd)
	s.ndHash.Write([]byte{'\n'})
	s.csvHash.Write(s.csv)
	s.csvHash.Write([]byte{'\n'})
	s.bomHash.Write(s.csv)
	s.bomHash.Write([]byte{'\n'})
	if err := s.book.Add(s.spec.Anonymizer); err != nil {
		s.err = err
		return false
	}
	if err := s.pq.Add(s.spec.Anonymizer); err != nil {
		s.err = err
		return false
	}
	s.ndPos += int64(len(s.nd)) + 1
	s.csvPos += int64(len(s.csv)) + 1
	s.row = [4]any{s.spec.ID, s.seq, string(s.nd), string(s.csv)}
	return true
}

func (s *snapshotSource) Values() ([]any, error) { return s.row[:], nil }

func (s *snapshotSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

func scanManifest(row pgx.Row) (*evaluation.Manifest, error) {
	var (
		m     evaluation.Manifest
		files manifestFiles
	)
	err := row.Scan(&m.ID, &m.Dataset, &m.Filter, &m.Profile, &m.Columns, &m.Rows, &m.NDJSON.SHA256, &m.NDJSON.Bytes,
		&m.CSV.SHA256, &m.CSV.Bytes, &m.PolicyVersion, &m.RulesVersion, &m.CreatedBy, &m.CreatedAt, &files, &m.Organisation)
	if err != nil {
		return nil, err
	}
	m.CSVBOM, m.XLSX, m.Parquet, m.Tables, m.KAnonymity = files.CSVBOM, files.XLSX, files.Parquet, files.Tables, files.KAnonymity
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// Snapshot implements evaluation.Store.
func (s *EvaluationStore) Snapshot(ctx context.Context, id uuid.UUID) (*evaluation.Manifest, error) {
	m, err := scanManifest(s.pool.QueryRow(ctx, `SELECT `+manifestColumns+` FROM eval_snapshots WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no assessment dataset %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return m, nil
}

// Snapshots implements evaluation.Store.
func (s *EvaluationStore) Snapshots(ctx context.Context, limit int, org string) ([]*evaluation.Manifest, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+manifestColumns+` FROM eval_snapshots
		WHERE $2 = '' OR organisation->>'code' = $2 ORDER BY created_at DESC, id LIMIT $1`, limit, org)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*evaluation.Manifest, error) { return scanManifest(r) })
}

func renderingColumn(f evaluation.Format) string {
	if f == evaluation.FormatCSV {
		return "csv"
	}
	return "ndjson"
}

// Checkpoint implements evaluation.Store. Offsets grow with seq, so the
// last checkpoint at or before offset is found walking the primary key
// backwards (a thousand checkpoints per million rows).
func (s *EvaluationStore) Checkpoint(ctx context.Context, id uuid.UUID, f evaluation.Format, offset int64) (int64, int64, error) {
	col := renderingColumn(f) + "_offset"
	var seq, at int64
	err := s.pool.QueryRow(ctx, `SELECT seq, `+col+` FROM eval_snapshot_checkpoints
		WHERE snapshot_id = $1 AND `+col+` <= $2 ORDER BY seq DESC LIMIT 1`, id, offset).Scan(&seq, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 1, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("snapshot checkpoint: %w", err)
	}
	return seq, at, nil
}

// Lines implements evaluation.Store: keyset batches over (snapshot_id,
// seq). Each batch is read into one buffer and its connection returned to
// the pool before fn sees a line: fn writes to a client, and a client that
// reads slowly must not hold a connection (a few slow downloads would
// exhaust the pool). The buffer is reused from batch to batch.
func (s *EvaluationStore) Lines(ctx context.Context, id uuid.UUID, f evaluation.Format, fromSeq int64, limit int, fn func([]byte) error) error {
	q := `SELECT seq, ` + renderingColumn(f) + ` FROM eval_snapshot_rows WHERE snapshot_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`
	var (
		buf  []byte
		ends []int
	)
	for {
		buf, ends = buf[:0], ends[:0]
		rows, err := s.pool.Query(ctx, q, id, fromSeq, limit)
		if err != nil {
			return fmt.Errorf("read snapshot rows: %w", err)
		}
		var last int64
		for rows.Next() {
			raw := rows.RawValues()
			if last, err = rawInt8(rows.FieldDescriptions()[0].Format, raw[0]); err != nil {
				rows.Close()
				return fmt.Errorf("read snapshot rows: %w", err)
			}
			buf = append(buf, raw[1]...)
			ends = append(ends, len(buf))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read snapshot rows: %w", err)
		}
		start := 0
		for _, end := range ends {
			if err := fn(buf[start:end:end]); err != nil {
				return err
			}
			start = end
		}
		if len(ends) < limit {
			return nil
		}
		fromSeq = last + 1
	}
}

// rawInt8 decodes a bigint column from its wire form (binary or text).
func rawInt8(format int16, b []byte) (int64, error) {
	if format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("bigint of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}
