// Package ingest brings department systems' records into the hub: single
// upserts keyed by (sourceDept, externalId) and bulk files (NDJSON, CSV)
// that are read and validated as they stream, staged with COPY and merged
// set-based in one transaction, with a per-row error report. Re-sending the
// same record or file changes nothing.
//
// The package owns reading, validation, authorization and reporting; the
// SQL lives behind the Store interface (internal/postgres implements it).
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
)

// Store is the persistence ingestion needs.
type Store interface {
	// ImportCases stages job.Rows with COPY, validates them set-based
	// (duplicate externalIds within the file, unknown jurisdictions, points
	// no grid can be found for), and then, as job.Decide says, merges the
	// valid rows into cases (case events for creations, an outbox row for
	// every inserted or updated case) and commits — all in one transaction.
	// Rows whose content equals the stored case are not written. When Rows
	// fails (Err), nothing is written and the error is returned.
	ImportCases(ctx context.Context, job *CaseImport) (*StoreResult, error)
}

// CaseRows yields validated case rows one at a time. Next and Row are
// called from one goroutine, which need not be the caller's.
type CaseRows interface {
	// Next advances to the next valid row; false at the end or on error.
	Next() bool
	// Row is the current row, valid until the next call to Next.
	Row() *CaseRow
	// Err is the error that ended the rows early, if any.
	Err() error
}

// Writer is who writes, and when.
type Writer struct {
	// SourceDept is the department that sends the records (the caller's).
	SourceDept string
	// OwnerDept is the dataset's provider: the owner of new records.
	OwnerDept string
	// Actor and ActorDept appear on the timeline of created cases.
	Actor     string
	ActorDept string
	Now       time.Time
	// Scope is the caller's row scope on the dataset. Every lookup of a
	// stored record by its key takes it: a record outside it can be neither
	// read nor overwritten, and its key is refused as taken
	// (apperr.KeyTaken). The zero scope matches no record.
	Scope access.RowScope
}

// CaseImport is one bulk load of cases.
type CaseImport struct {
	Writer
	Rows CaseRows
	// MaxErrors caps the rejected rows the store lists (it counts them all).
	MaxErrors int
	// Decide is called once the rows are staged and validated, with how
	// many the store rejected. merge says whether to merge the valid rows;
	// commit whether to commit (without commit everything is rolled back).
	Decide func(storeRejected int64) (merge, commit bool)
}

// StoreResult is what a store import did.
type StoreResult struct {
	// Staged counts the rows copied into staging.
	Staged   int64
	Inserted int64
	Updated  int64
	// Rejected lists the first MaxErrors rows the store rejected, by line.
	Rejected      []RowError
	RejectedTotal int64
	// Merged says whether the valid rows were merged (Decide said so).
	Merged    bool
	Committed bool
	Phases    Phases
}

// Phases says how long each phase of an import took.
type Phases struct {
	// Copy is reading, validating and copying the rows into staging.
	Copy time.Duration
	// Check is the set-based checks of the staged rows.
	Check  time.Duration
	Merge  time.Duration
	Commit time.Duration
}

// MarshalJSON writes the phases in milliseconds.
func (p Phases) MarshalJSON() ([]byte, error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return json.Marshal(map[string]float64{"copyMs": ms(p.Copy), "checkMs": ms(p.Check), "mergeMs": ms(p.Merge), "commitMs": ms(p.Commit)})
}

// Mode says what a bulk import does with rejected rows.
type Mode string

// Import modes.
const (
	// AllOrNothing writes nothing unless every row is valid.
	AllOrNothing Mode = "all-or-nothing"
	// SkipInvalid writes the valid rows and reports the others.
	SkipInvalid Mode = "skip-invalid"
)

// ParseMode parses a mode name; empty means AllOrNothing.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", AllOrNothing:
		return AllOrNothing, nil
	case SkipInvalid:
		return SkipInvalid, nil
	}
	return "", apperr.Invalid("mode", "unknown mode %q: use %s (the default) or %s", s, AllOrNothing, SkipInvalid)
}

// Format is a bulk file format.
type Format string

// File formats.
const (
	// NDJSON is one JSON object per line (application/x-ndjson).
	NDJSON Format = "ndjson"
	// CSV has a header row naming the fields (text/csv, RFC 4180, UTF-8).
	CSV Format = "csv"
)

// FormatFromName guesses a file's format and compression from its name:
// .ndjson, .jsonl or .csv, optionally followed by .gz. ok is false when the
// name says neither.
func FormatFromName(name string) (f Format, gzipped, ok bool) {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, ".gz") {
		n, gzipped = strings.TrimSuffix(n, ".gz"), true
	}
	switch {
	case strings.HasSuffix(n, ".ndjson"), strings.HasSuffix(n, ".jsonl"):
		return NDJSON, gzipped, true
	case strings.HasSuffix(n, ".csv"):
		return CSV, gzipped, true
	}
	return "", gzipped, false
}

// Defaults for Config and Options.
const (
	// MaxErrorsDefault caps the rejected rows a report lists.
	MaxErrorsDefault = 1000
	// MaxRecordBytesDefault bounds one NDJSON line or CSV record, so that a
	// file without line breaks (or with a quote never closed) cannot make
	// the reader hold it all in memory.
	MaxRecordBytesDefault = 1 << 20
	// ProgressEveryDefault is how many bytes pass between progress calls.
	ProgressEveryDefault = 1 << 20
)

// Authorizer decides what the calling principal may do with a dataset
// (policy.Engine). Ingestion takes the row scope from it.
type Authorizer interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// Config configures a Service.
type Config struct {
	// Authorizer gives the caller's row scope. When nil no stored record is
	// in scope: records can be created, never updated.
	Authorizer Authorizer
	// Catalog names each dataset's provider department, the only one that
	// may write it. When nil, cases are provided by cases.OwnerDept.
	Catalog *access.Catalog
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// MaxErrors caps the rejected rows listed in a report
	// (MaxErrorsDefault when zero).
	MaxErrors int
	// MaxRecordBytes bounds one line or record (MaxRecordBytesDefault when
	// zero).
	MaxRecordBytes int
	// Decoders is how many goroutines decode and validate an NDJSON file's
	// lines (results kept in file order); 0 takes GOMAXPROCS, at most 4,
	// and 1 reads on the request's goroutine alone.
	Decoders int
	// Logger logs internal errors of the HTTP handler (slog.Default when
	// nil).
	Logger *slog.Logger
	// Auditor, with Authorizer, audits the case an upsert answers with as
	// a read of it (unmasked reporter data).
	Auditor access.Auditor
}

// Service imports records. It is safe for concurrent use.
type Service struct {
	store     Store
	auth      Authorizer
	catalog   *access.Catalog
	now       func() time.Time
	maxErrors int
	maxRecord int
	decoders  int
	log       *slog.Logger
	validator *Validator
	audit     access.Auditor
}

// NewService returns an ingestion service on store (postgres.NewIngestStore).
func NewService(store Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = MaxErrorsDefault
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = MaxRecordBytesDefault
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = min(runtime.GOMAXPROCS(0), 4)
	}
	return &Service{store: store, catalog: cfg.Catalog, now: cfg.Now, maxErrors: cfg.MaxErrors,
		maxRecord: cfg.MaxRecordBytes, decoders: cfg.Decoders, log: cfg.Logger, validator: NewValidator(cases.DefaultCatalogue()),
		auth: cfg.Authorizer, audit: cfg.Auditor}
}

// Datasets lists the datasets that can be imported.
func Datasets() []string { return []string{cases.Dataset} }

// provider returns the department that provides dataset, NOT_FOUND when it
// cannot be imported.
func (s *Service) provider(dataset string) (string, error) {
	if dataset != cases.Dataset {
		return "", apperr.New(apperr.NotFound, "dataset %q cannot be imported; importable datasets: %s", dataset, strings.Join(Datasets(), ", "))
	}
	if s.catalog != nil {
		if ds, ok := s.catalog.Dataset(dataset); ok {
			return ds.Provider, nil
		}
	}
	return cases.OwnerDept, nil
}

// authorize returns who writes dataset, with the rows of it the caller may
// see: only the provider department's admins, officers and systems may
// write. UNAUTHENTICATED without credentials,
// FORBIDDEN for anyone else, NOT_FOUND for a dataset that cannot be
// imported.
func (s *Service) authorize(ctx context.Context, dataset string) (Writer, error) {
	provider, err := s.provider(dataset)
	if err != nil {
		return Writer{}, err
	}
	p := access.PrincipalFrom(ctx)
	if p.Kind == access.KindAnonymous {
		return Writer{}, apperr.New(apperr.Unauthenticated, "sign in to write %s", dataset)
	}
	if !p.WritesFor(provider) {
		return Writer{}, apperr.New(apperr.Forbidden, "only %s (its admins, officers and systems) may write %s", provider, dataset)
	}
	w := Writer{SourceDept: p.Dept, OwnerDept: provider, Actor: p.Actor(), ActorDept: p.Dept, Now: s.now().UTC()}
	if s.auth != nil {
		d, err := s.auth.Decide(ctx, dataset)
		if err != nil {
			return Writer{}, fmt.Errorf("decide %s: %w", dataset, err)
		}
		w.Scope = d.Rows
	}
	return w, nil
}

// Options adjust one bulk import.
type Options struct {
	// Mode is AllOrNothing (the default) or SkipInvalid.
	Mode Mode
	// Gzip says the stream is gzip-compressed.
	Gzip bool
	// MaxBytes, when positive, refuses a stream longer than this many
	// bytes after decompression (ErrTooLarge; nothing is written). The
	// caller bounds the compressed bytes itself, its reader failing with a
	// LimitError past the bound.
	MaxBytes int64
	// DryRun validates and merges, reports what would change, and rolls
	// everything back.
	DryRun bool
	// Spool copies the whole stream to a temporary file (in SpoolDir, the
	// system's when empty) before the import touches the database, so that
	// a slow client never holds a database connection: set it whenever r
	// is a network stream. The file is removed when Import returns.
	Spool    bool
	SpoolDir string
	// Progress, when set, is called with the number of bytes read from r
	// so far (compressed bytes when Gzip), about every ProgressEveryDefault
	// bytes and once at the end. It is called from one goroutine at a time,
	// not necessarily the caller's.
	Progress func(bytesRead int64)
}

// Report is the outcome of a bulk import.
type Report struct {
	Dataset string `json:"dataset"`
	Format  Format `json:"format"`
	Mode    Mode   `json:"mode"`
	DryRun  bool   `json:"dryRun,omitempty"`
	// Committed says whether the valid rows were written.
	Committed bool `json:"committed"`
	// Rows counts the records read, valid or not.
	Rows      int64 `json:"rows"`
	Inserted  int64 `json:"inserted"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	Rejected  int64 `json:"rejected"`
	// Errors lists the first rejected rows by line (at most the service's
	// MaxErrors); ErrorsTruncated says more were rejected than listed.
	Errors          []RowError `json:"errors"`
	ErrorsTruncated bool       `json:"errorsTruncated"`
	// Bytes counts the bytes read from the stream (before decompression).
	Bytes      int64   `json:"bytes"`
	DurationMS float64 `json:"durationMs"`
	// Phases breaks the duration down.
	Phases Phases `json:"phases"`
	// Message says in a sentence what happened.
	Message string `json:"message"`
}

// RowError is why one row was rejected.
type RowError struct {
	// Line is the line of the file the row starts on (1 is the first line;
	// a CSV header is line 1).
	Line int64 `json:"line"`
	// ExternalID is the row's externalId when it could be read.
	ExternalID string `json:"externalId,omitempty"`
	// Field names the offending field ("" when the row as a whole is bad).
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Reason)
}

// ErrTooLarge is in the chain of the error Import returns when the stream
// exceeds Options.MaxBytes or the caller's bound (the HTTP handler answers
// 413).
var ErrTooLarge = errors.New("ingest: the file exceeds the size limit")

// Import reads a bulk file of dataset records from r and writes the valid
// ones, in one transaction. The caller must be an admin, officer or system
// of the dataset's provider department (FORBIDDEN otherwise; nothing is
// read). Rejected rows are listed in the report; in AllOrNothing mode any
// rejected row means nothing is written (Report.Committed is false). The
// error is reserved for failures of the whole file — BAD_USER_INPUT for a
// stream that cannot be read (a CSV header naming unknown columns, gzip
// data that is corrupt or cut off), ErrTooLarge, NOT_FOUND for a dataset
// that cannot be imported — and internal errors; nothing is written then.
func (s *Service) Import(ctx context.Context, dataset string, format Format, r io.Reader, opts Options) (*Report, error) {
	start := time.Now()
	w, err := s.authorize(ctx, dataset)
	if err != nil {
		return nil, err
	}
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	if format != NDJSON && format != CSV {
		return nil, apperr.Invalid("format", "unknown format %q: use %s or %s", format, NDJSON, CSV)
	}
	if opts.Spool {
		f, err := spool(r, opts.SpoolDir)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
		r = f
	}
	in, err := newInput(r, opts)
	if err != nil {
		return nil, err
	}
	rows := &caseRows{v: s.validator, now: w.Now, errs: newRejections(s.maxErrors)}
	defer rows.close()
	switch {
	case format == NDJSON && s.decoders > 1:
		rows.par = newParallelNDJSON(in.r, s.maxRecord, s.decoders, s.validator, w.Now)
	case format == NDJSON:
		rows.rd = newNDJSONReader(in.r, s.maxRecord)
	default:
		rows.rd = newCSVReader(in.r, s.maxRecord)
	}
	res, err := s.store.ImportCases(ctx, &CaseImport{
		Writer: w, Rows: rows, MaxErrors: s.maxErrors,
		Decide: func(storeRejected int64) (bool, bool) {
			if mode == AllOrNothing && rows.errs.total+storeRejected > 0 {
				return false, false
			}
			return true, !opts.DryRun
		},
	})
	if rerr := rows.Err(); rerr != nil {
		// The store's error only echoes the stream's (the COPY was aborted).
		return nil, streamError(rerr)
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", dataset, err)
	}
	rows.close() // nothing may read the input past here
	in.finish()
	rep := &Report{Dataset: dataset, Format: format, Mode: mode, DryRun: opts.DryRun, Committed: res.Committed,
		Rows: rows.read, Inserted: res.Inserted, Updated: res.Updated, Bytes: in.counted.n}
	rep.Rejected = rows.errs.total + res.RejectedTotal
	rep.Errors = mergeErrors(rows.errs.list, res.Rejected, s.maxErrors)
	rep.ErrorsTruncated = int64(len(rep.Errors)) < rep.Rejected
	if res.Merged {
		rep.Unchanged = res.Staged - res.RejectedTotal - res.Inserted - res.Updated
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	rep.Phases = res.Phases
	rep.Message = rep.summary()
	return rep, nil
}

func (r *Report) summary() string {
	switch {
	case r.Rejected > 0 && r.Mode == AllOrNothing:
		return fmt.Sprintf("%d of %d rows were rejected; nothing was written (mode %s): fix them and send the file again, or use mode %s",
			r.Rejected, r.Rows, AllOrNothing, SkipInvalid)
	case r.DryRun:
		return fmt.Sprintf("dry run, nothing was written: %d rows would be inserted, %d updated, %d left unchanged, %d rejected",
			r.Inserted, r.Updated, r.Unchanged, r.Rejected)
	default:
		return fmt.Sprintf("%d rows inserted, %d updated, %d unchanged, %d rejected", r.Inserted, r.Updated, r.Unchanged, r.Rejected)
	}
}

// mergeErrors merges two lists sorted by line, keeping the first max.
func mergeErrors(a, b []RowError, max int) []RowError {
	out := make([]RowError, 0, min(len(a)+len(b), max))
	for len(out) < max && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || (len(a) > 0 && a[0].Line <= b[0].Line) {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// rejections keeps the first max rejected rows and counts them all: the
// report's memory stays flat however bad the file.
type rejections struct {
	list  []RowError
	total int64
	max   int
}

func newRejections(max int) *rejections { return &rejections{max: max} }

func (r *rejections) add(e RowError) {
	r.total++
	if len(r.list) < r.max {
		r.list = append(r.list, e)
	}
}
