// Package seed fills an empty hub database with realistic, reproducible demo
// data for Hailing District: the jurisdiction tree (district → 9 streets and
// towns → communities and villages → unit grids), the departments, and any
// number of digital urban-management cases with their timelines.
//
// The figures follow docs/demo-data.md: about 35,000–40,000 cases a year
// at the default size, events far more common than components, central
// streets busier than the towns, inspectors' patrols the main source, then
// the 12345 hotline and the citizen app; weekday and daytime report peaks;
// closure rates of 95–99 % for cases older than a month, on-time handling
// around 90 %, rework well under 1 %, a few declined, returned, deferred and
// backlogged cases, and recent cases still open in every stage. Handling and
// verification happen in the calendar's office hours except for emergency
// classes, which run around the clock; illegal construction goes to
// urban-management enforcement or the street and town offices.
//
// The same Seed and Now produce byte-identical rows (ids included): every
// random choice comes from one math/rand/v2 PCG stream in a fixed order.
//
// Rows are streamed into PostgreSQL with COPY from a generator that holds
// one case at a time, so memory stays flat at any size. Every case's row is
// complete; its timeline in case_events is complete for the newest 200,000
// cases and compact (report, last transition, rating) for older ones, which
// only happens in runs larger than that.
//
// The jurisdiction tree and the departments do not depend on the seed: codes
// such as hailing.chengdong.fenghuang.g03 are the same in every database.
package seed

import (
	"context"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"slices"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults for Options.
const (
	CasesDefault = 100_000
	YearsDefault = 3
)

// Options configure a seeding run.
type Options struct {
	// Seed selects the data; the same Seed and Now give identical rows.
	Seed int64
	// Cases is the number of cases (CasesDefault when 0).
	Cases int
	// Years is the period the cases span, ending at Now (YearsDefault when 0).
	Years int
	// Now is the end of the period: later timeline steps have not happened
	// yet, so recent cases are still open. Zero means time.Now(), which
	// makes the data depend on the moment of the run.
	Now time.Time
	// Calendar counts the working time of deadlines, handling and
	// verification (required); rest days get fewer reports.
	Calendar Calendar
	// Compound, when set, names the residential compound a case is about
	// (refuse, construction and laundry cases near one), so Property.cases
	// has data without rewriting a million rows afterwards.
	Compound func(community string, lat, lng float64) *uuid.UUID
	// Reset truncates the seeded tables (jurisdictions, departments, cases,
	// case_events) first. TRUNCATE … CASCADE also empties every table that
	// references them, e.g. other datasets' demo rows. Without Reset, Run
	// refuses a database that already holds any of them (ErrAlreadySeeded).
	Reset bool
}

// Calendar is the working-time calendar seeding needs; *calendar.Calendar
// implements it.
type Calendar interface {
	cases.Calendar
	IsWorkingDay(t time.Time) bool
	// IsWorkingTime reports whether t lies inside a working window.
	IsWorkingTime(t time.Time) bool
	// WorkingDuration is the working time between from and to.
	WorkingDuration(from, to time.Time) time.Duration
}

// Stats describes a finished run.
type Stats struct {
	Jurisdictions int
	Departments   int
	Cases         int
	Events        int
	Requests      int
	// Stages lists each step with its row count and time, in order.
	Stages   []Stage
	Duration time.Duration
}

// Stage is one step of a run.
type Stage struct {
	Name     string
	Rows     int
	Duration time.Duration
}

// Progress stage names passed to Run's progress callback (and used in
// Stats.Stages).
const (
	StageJurisdictions = "jurisdictions"
	StageDepartments   = "departments"
	StageCases         = "cases"
	StageEvents        = "case_events"
	StageRequests      = "case_requests"
	StageIndexes       = "rebuild"
	StageAnalyze       = "analyze"
)

// ErrAlreadySeeded is returned (wrapped) by Run when the database already
// holds jurisdictions, departments or cases and Options.Reset is false.
var ErrAlreadySeeded = errors.New("the database already holds seeded data")

// progressEvery is how many rows pass between progress callbacks.
const progressEvery = 20_000

// IsSeeded reports whether the database already holds reference data (any
// jurisdiction), so `seed --if-empty` can skip a second run.
func IsSeeded(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var ok bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jurisdictions)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("seed: check jurisdictions: %w", err)
	}
	return ok, nil
}

// Run seeds the database in one transaction: either everything is written
// or nothing is. Concurrent runs are serialised by a table lock; the second
// then finds the data and refuses (or, with Reset, replaces it). progress,
// when not nil, is called with a stage name and rows done out of total;
// the time it takes counts against the run.
//
// Speed: cases and events are streamed with binary COPY into the tables
// stripped of their secondary indexes and foreign keys, which are rebuilt
// afterwards (see takeOff). Beyond fullTimelineCases cases, the older
// cases get a compact timeline (see writeEvents). 1,000,000 cases take
// about 45 s on the 2-core development machine (TestSeedMillion). While it
// runs, the transaction holds an exclusive lock on cases and case_events.
func Run(ctx context.Context, pool *pgxpool.Pool, opts Options, progress func(stage string, done, total int)) (Stats, error) {
	return run(ctx, pool, opts, progress, fullTimelineCases)
}

// run is Run with the number of full timelines as a parameter (tests lower
// it to see compact timelines without seeding 200,000 cases).
func run(ctx context.Context, pool *pgxpool.Pool, opts Options, progress func(stage string, done, total int), fullTimelines int) (Stats, error) {
	began := time.Now()
	var st Stats
	if opts.Cases == 0 {
		opts.Cases = CasesDefault
	}
	if opts.Years == 0 {
		opts.Years = YearsDefault
	}
	switch {
	case opts.Cases < 0 || opts.Cases > 9_999_999:
		return st, fmt.Errorf("seed: cases must be between 1 and 9,999,999 (case numbers have 7 digits), got %d", opts.Cases)
	case opts.Years < 0 || opts.Years > 20:
		return st, fmt.Errorf("seed: years must be between 1 and 20, got %d", opts.Years)
	case opts.Calendar == nil:
		return st, errors.New("seed: Options.Calendar is required to compute deadlines")
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	// Whole seconds: the stored values then round-trip exactly.
	now := opts.Now.UTC().Truncate(time.Second)
	from := now.AddDate(-opts.Years, 0, 0)
	if progress == nil {
		progress = func(string, int, int) {}
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		return st, fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op

	// The pool's statement and idle timeouts protect request handling; a
	// bulk load legitimately runs single statements for many seconds.
	for _, q := range []string{
		`SET LOCAL statement_timeout = 0`,
		`SET LOCAL idle_in_transaction_session_timeout = 0`,
		`SET LOCAL lock_timeout = '30s'`,
		// Index builds after the load sort in memory rather than on disk.
		`SET LOCAL maintenance_work_mem = '1GB'`,
		// Skip queueing a million case ids for the evaluation rollups: they
		// are marked for a rebuild instead, which the hub performs on start.
		`SET LOCAL datahub.evaluation_defer = 'on'`,
		// Self-conflicting, so concurrent runs queue here; readers are not
		// blocked.
		`LOCK TABLE jurisdictions, departments, cases, case_events IN SHARE ROW EXCLUSIVE MODE`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return st, fmt.Errorf("seed: prepare transaction (%s): %w", q, err)
		}
	}
	if opts.Reset {
		if _, err := tx.Exec(ctx, `TRUNCATE case_events, cases, departments, jurisdictions RESTART IDENTITY CASCADE`); err != nil {
			return st, fmt.Errorf("seed: reset: %w", err)
		}
	} else {
		var nj, nd, nc int
		err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM jurisdictions LIMIT 1) j),
			(SELECT count(*) FROM (SELECT 1 FROM departments LIMIT 1) d),
			(SELECT count(*) FROM (SELECT 1 FROM cases LIMIT 1) c)`).Scan(&nj, &nd, &nc)
		if err != nil {
			return st, fmt.Errorf("seed: check for existing data: %w", err)
		}
		if nj+nd+nc > 0 {
			return st, fmt.Errorf("seed: %w (jurisdictions, departments or cases are not empty); "+
				"skip seeding when data exists (seed --if-empty) or replace it (seed --reset, which truncates them)", ErrAlreadySeeded)
		}
	}

	stage := func(name string, fn func() (int, error)) error {
		t0 := time.Now()
		n, err := fn()
		if err != nil {
			return fmt.Errorf("seed: %s: %w", name, err)
		}
		st.Stages = append(st.Stages, Stage{Name: name, Rows: n, Duration: time.Since(t0)})
		return nil
	}

	err = stage(StageJurisdictions, func() (int, error) {
		total := len(Jurisdictions())
		progress(StageJurisdictions, 0, total)
		n, err := copyJurisdictions(ctx, tx)
		st.Jurisdictions = int(n)
		progress(StageJurisdictions, int(n), total)
		return int(n), err
	})
	if err != nil {
		return st, err
	}
	err = stage(StageDepartments, func() (int, error) {
		total := len(Departments())
		progress(StageDepartments, 0, total)
		n, err := copyDepartments(ctx, tx)
		st.Departments = int(n)
		progress(StageDepartments, int(n), total)
		return int(n), err
	})
	if err != nil {
		return st, err
	}

	// Indexes and foreign keys go off for the bulk load and come back after
	// it (see takeOff). case_events first: its foreign key refers to cases.
	var deferred []*deferredDDL
	for _, table := range []string{"case_events", "cases"} {
		d, err := takeOff(ctx, tx, table)
		if err != nil {
			return st, fmt.Errorf("seed: %w", err)
		}
		deferred = append(deferred, d)
	}

	err = stage(StageCases, func() (int, error) {
		g := newGenerator(opts.Seed, opts.Cases, from, now, opts.Calendar, true)
		g.compound = opts.Compound
		progress(StageCases, 0, opts.Cases)
		n, err := copyRows(ctx, tx, "cases", caseColumns, func(w *binWriter) bool {
			if !g.next() {
				return false
			}
			writeCase(w, &g.c)
			if g.n%progressEvery == 0 {
				progress(StageCases, g.n, opts.Cases)
			}
			return true
		})
		st.Cases = int(n)
		progress(StageCases, int(n), opts.Cases)
		return int(n), err
	})
	if err != nil {
		return st, err
	}
	var approvals []caseRequests
	// Events come from a second generator that replays the same cases: they
	// cannot be written before their cases (foreign key), and keeping them
	// in memory meanwhile would grow with the number of cases.
	err = stage(StageEvents, func() (int, error) {
		g := newGenerator(opts.Seed, opts.Cases, from, now, opts.Calendar, false)
		progress(StageEvents, 0, opts.Cases)
		n, err := copyRows(ctx, tx, "case_events", eventColumns, func(w *binWriter) bool {
			if !g.next() {
				return false
			}
			if len(g.c.requests) > 0 {
				approvals = append(approvals, caseRequests{g.c.id, slices.Clone(g.c.requests)})
			}
			writeEvents(w, &g.c, g.n <= opts.Cases-fullTimelines)
			if g.n%progressEvery == 0 {
				progress(StageEvents, g.n, opts.Cases)
			}
			return true
		})
		st.Events = int(n)
		progress(StageEvents, opts.Cases, opts.Cases)
		return int(n), err
	})
	if err != nil {
		return st, err
	}
	// Approved deferral and backlog requests, kept from the events' replay:
	// a few per hundred cases.
	if err := stage(StageRequests, func() (int, error) {
		n, err := copyRequests(ctx, tx, approvals, progress)
		st.Requests = n
		return n, err
	}); err != nil {
		return st, err
	}
	for _, d := range deferred {
		for _, ix := range d.indexes {
			if err := stage(StageIndexes+" "+ix.name, func() (int, error) { return 0, d.rebuildIndex(ctx, tx, ix) }); err != nil {
				return st, err
			}
		}
		for _, fk := range d.fkeys {
			if err := stage(StageIndexes+" "+fk.name, func() (int, error) { return 0, d.restoreFK(ctx, tx, fk) }); err != nil {
				return st, err
			}
		}
	}
	// Case numbers HL<year>-<n> used n = 1…Cases; new cases continue after.
	if _, err := tx.Exec(ctx, `SELECT setval('case_no_seq', $1)`, int64(opts.Cases)); err != nil {
		return st, fmt.Errorf("seed: advance case_no_seq: %w", err)
	}
	// Fresh statistics for the planner: without them the first queries on
	// a million new rows plan as if the tables were empty. ANALYZE inside
	// the transaction sees its own rows.
	err = stage(StageAnalyze, func() (int, error) {
		progress(StageAnalyze, 0, 1)
		_, err := tx.Exec(ctx, `ANALYZE jurisdictions, departments, cases, case_events`)
		progress(StageAnalyze, 1, 1)
		return 0, err
	})
	if err != nil {
		return st, err
	}
	if err := tx.Commit(ctx); err != nil {
		return st, fmt.Errorf("seed: commit: %w", err)
	}
	st.Duration = time.Since(began)
	return st, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// caseColumns are the columns seeding writes, in the order writeCase
// encodes them; the generated ones (is_open, jpath, deadline_key) cannot be
// written.
var caseColumns = []column{
	{"id", "uuid"}, {"case_no", "text"}, {"owner_dept", "text"}, {"kind", "text"}, {"major_code", "text"},
	{"minor_code", "text"}, {"source", "text"}, {"status", "text"}, {"description", "text"}, {"address", "text"},
	{"lat", "double precision"}, {"lng", "double precision"}, {"jurisdiction_code", "text"}, {"street_code", "text"},
	{"community_code", "text"}, {"handling_dept", "text"}, {"reporter_name", "text"}, {"reporter_phone", "text"},
	{"citizen_id", "text"}, {"photo_urls", "text[]"}, {"reported_at", "timestamp with time zone"},
	{"registered_at", "timestamp with time zone"}, {"dispatched_at", "timestamp with time zone"},
	{"deadline", "timestamp with time zone"}, {"handled_at", "timestamp with time zone"},
	{"closed_at", "timestamp with time zone"}, {"rework_count", "integer"}, {"defer_count", "integer"},
	{"rating", "smallint"}, {"rating_comment", "text"}, {"rated_at", "timestamp with time zone"},
	{"source_dept", "text"}, {"external_id", "text"}, {"created_at", "timestamp with time zone"},
	{"updated_at", "timestamp with time zone"}, {"version", "integer"}, {"property_id", "uuid"},
	{"return_count", "integer"}, {"first_handled_at", "timestamp with time zone"},
	{"first_deadline", "timestamp with time zone"},
}

// writeCase encodes the generator's current case as a cases tuple.
func writeCase(w *binWriter, c *caseRow) {
	w.row(len(caseColumns))
	w.uuid(c.id)
	w.text(c.no)
	w.text(cases.OwnerDept)
	w.text(string(c.class.Kind))
	w.text(c.class.MajorCode)
	w.text(c.class.MinorCode)
	w.text(string(c.source))
	w.text(string(c.status))
	w.text(c.desc)
	w.text(c.addr)
	w.float8(c.lat)
	w.float8(c.lng)
	w.text(c.grid.Code)
	w.text(c.grid.street.node.Code)
	w.text(c.grid.community.Code)
	w.textOrNull(c.handlingDept)
	w.textOrNull(c.reporterName)
	w.textOrNull(c.reporterPhone)
	w.textOrNull(c.citizenID)
	w.textArray(c.photos)
	w.timestamptz(c.reported)
	w.timestamptzOrNull(c.registered)
	w.timestamptzOrNull(c.dispatched)
	w.timestamptzOrNull(c.deadline)
	w.timestamptzOrNull(c.handled)
	w.timestamptzOrNull(c.closed)
	w.int4(int32(c.rework))
	w.int4(int32(c.deferrals))
	if c.rating > 0 {
		w.int2(int16(c.rating))
		w.text(c.ratingComment) // '' when rated without a comment, as the case store writes it
		w.timestamptz(c.ratedAt)
	} else {
		w.null()
		w.null()
		w.null()
	}
	w.text(c.sourceDept)
	w.textOrNull(c.externalID)
	w.timestamptz(c.reported) // created_at
	w.timestamptz(c.updated)
	w.int4(int32(c.version))
	if c.propertyID != nil {
		w.uuid(*c.propertyID)
	} else {
		w.null()
	}
	w.int4(int32(c.returns))
	w.timestamptzOrNull(c.firstHandled)
	w.timestamptzOrNull(c.firstDeadline)
}

// copyRequests writes the approved requests the events' replay kept.
func copyRequests(ctx context.Context, tx pgx.Tx, approvals []caseRequests, progress func(stage string, done, total int)) (int, error) {
	progress(StageRequests, 0, len(approvals))
	defer progress(StageRequests, len(approvals), len(approvals))
	i := 0
	n, err := copyRows(ctx, tx, "case_requests", requestColumns, func(w *binWriter) bool {
		if i == len(approvals) {
			return false
		}
		writeRequests(w, approvals[i].caseID, approvals[i].requests)
		i++
		return true
	})
	return int(n), err
}

// caseRequests are one case's approved requests.
type caseRequests struct {
	caseID   uuid.UUID
	requests []request
}

var requestColumns = []column{
	{"id", "uuid"}, {"case_id", "uuid"}, {"kind", "text"}, {"extra_days", "integer"}, {"reason", "text"},
	{"status", "text"}, {"requested_by", "text"}, {"requested_dept", "text"}, {"requested_at", "timestamp with time zone"},
	{"case_deadline", "timestamp with time zone"}, {"decided_by", "text"}, {"decided_at", "timestamp with time zone"},
	{"decision_note", "text"},
}

// writeRequests encodes approved deferral and backlog requests. Their ids
// are version-7 UUIDs of the request time, drawn from the case's id so the
// same seed gives the same ids.
func writeRequests(w *binWriter, caseID uuid.UUID, list []request) {
	for i, r := range list {
		w.row(len(requestColumns))
		id := caseID
		id[15] ^= byte(i + 1)
		w.uuid(id)
		w.uuid(caseID)
		w.text(string(r.kind))
		w.int4(int32(r.extraDays))
		w.text(r.reason)
		w.text(string(cases.RequestApproved))
		w.text(r.requestedBy)
		w.text(r.requestedDept)
		w.timestamptz(r.requestedAt)
		w.timestamptz(r.caseDeadline)
		w.text(r.decidedBy)
		w.timestamptz(r.decidedAt)
		w.text("")
	}
}

var eventColumns = []column{
	{"case_id", "uuid"}, {"action", "text"}, {"from_status", "text"}, {"to_status", "text"},
	{"actor", "text"}, {"actor_dept", "text"}, {"note", "text"}, {"at", "timestamp with time zone"},
}

// fullTimelineCases is how many of the most recent cases get their whole
// timeline in case_events; older cases keep a compact history (see
// writeEvents).
//
// Why: a full timeline is about 5.1 events a case. Measured on the 2-core
// development machine at 1,000,000 cases, the full 5.1 million events cost
// about 12 s of COPY plus 4.5 s for their index and foreign key; with the
// cases' own load (≈ 8 s) and index builds (≈ 27 s, of which the trigram
// GIN and the ltree GiST take 16 s) the run came to about 55 s, with no
// margin under the 60-second budget — and 65–85 s while other builds
// shared the two cores. Compacting the timelines of all but the newest
// 200,000 cases leaves 2.7 million events (5.4 s + 2.3 s) and the whole run
// at about 44 s. Runs of up to this many cases (the default 100,000
// included) keep every timeline complete.
const fullTimelineCases = 200_000

// writeEvents encodes the timeline of the generator's current case, oldest
// first (event ids follow that order). When compact, only the first event
// (REPORT), the last transition (e.g. VERIFY_PASS → CLOSED) and a rating
// are written; the case row still carries every timestamp and counter of
// the full timeline, and its version counts every transition.
func writeEvents(w *binWriter, c *caseRow, compact bool) {
	last := len(c.events) - 1
	for last > 0 && c.events[last].action == cases.ActionRate {
		last--
	}
	for i := range c.events {
		if compact && i > 0 && i < last {
			continue
		}
		e := &c.events[i]
		w.row(len(eventColumns))
		w.uuid(c.id)
		w.text(string(e.action))
		w.textOrNull(string(e.from))
		w.text(string(e.to))
		w.text(e.actor)
		w.text(e.dept)
		w.text(e.note)
		w.timestamptz(e.at)
	}
}

// Directory loads the reference data alone — the jurisdiction tree and the
// departments — into empty tables: what tests and tools need before any
// record can name a jurisdiction or a department.
func Directory(ctx context.Context, tx pgx.Tx) error {
	if _, err := copyJurisdictions(ctx, tx); err != nil {
		return fmt.Errorf("seed jurisdictions: %w", err)
	}
	if _, err := copyDepartments(ctx, tx); err != nil {
		return fmt.Errorf("seed departments: %w", err)
	}
	return nil
}

func copyJurisdictions(ctx context.Context, tx pgx.Tx) (int64, error) {
	js := Jurisdictions()
	return tx.CopyFrom(ctx, pgx.Identifier{"jurisdictions"},
		[]string{"code", "level", "parent_code", "name_zh", "name_en", "admin_code", "lat", "lng", "area_km2"},
		pgx.CopyFromSlice(len(js), func(i int) ([]any, error) {
			j := js[i]
			var area *float64
			if j.AreaKm2 > 0 {
				area = &j.AreaKm2
			}
			return []any{j.Code, j.Level, nullIfEmpty(j.ParentCode), j.NameZh, j.NameEn, nullIfEmpty(j.AdminCode), j.Lat, j.Lng, area}, nil
		}))
}

func copyDepartments(ctx context.Context, tx pgx.Tx) (int64, error) {
	ds := Departments()
	return tx.CopyFrom(ctx, pgx.Identifier{"departments"},
		[]string{"code", "name_zh", "name_en", "kind", "jurisdiction_code"},
		pgx.CopyFromSlice(len(ds), func(i int) ([]any, error) {
			d := ds[i]
			return []any{d.Code, d.NameZh, d.NameEn, d.Kind, d.JurisdictionCode}, nil
		}))
}
