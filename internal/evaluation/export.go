package evaluation

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// ExportOption tunes Export.
type ExportOption func(*exportOptions)

type exportOptions struct {
	progress func(done, total int64)
}

// WithProgress calls fn with the bytes written so far and the bytes to
// write (from the offset to the end), about every megabyte and once at the
// end.
func WithProgress(fn func(done, total int64)) ExportOption {
	return func(o *exportOptions) { o.progress = fn }
}

// progressEvery is how often progress is reported and HTTP responses are
// flushed.
const progressEvery = 1 << 20

// Export writes a snapshot's rendering to w from byte offset on (0 for the
// whole file) and returns the bytes written. The content is exactly the
// bytes the manifest's checksum covers: an export resumed at the offset
// where an interrupted one stopped completes it byte for byte. Memory stays
// constant: rows are read in keyset batches and written as they arrive.
//
// Only principals who may read snapshots may export (UNAUTHENTICATED or
// FORBIDDEN otherwise); NOT_FOUND for an unknown snapshot; BAD_USER_INPUT
// for an offset beyond the end. A full export also verifies the content
// against the manifest checksum and fails if they differ.
func (s *Service) Export(ctx context.Context, id uuid.UUID, f Format, w io.Writer, offset int64, opts ...ExportOption) (int64, error) {
	var o exportOptions
	for _, opt := range opts {
		opt(&o)
	}
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		return 0, err
	}
	m, err := s.store.Snapshot(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := s.mayDownload(ctx, m); err != nil {
		return 0, err
	}
	if err := m.offers(f); err != nil {
		return 0, err
	}
	total := m.Rendering(f).Bytes
	if offset < 0 || offset > total {
		return 0, apperr.Invalid("offset", "offset %d lies outside the %d bytes of the %s file", offset, total, f)
	}
	if err := s.audited(ctx, d, m); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	n, err := s.stream(ctx, m, f, bw, offset, total, o)
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: write: %w", err)
	}
	return n, nil
}

// audited records an export before any byte leaves: a read that cannot be
// traced is refused. Every request is recorded, ranges too (a resumed
// download appears twice; a reader cannot dodge the trail with ranges).
//
// The record names the snapshot and, for an evaluator, its organisation
// and contract (in the purpose), so the trail says who assessed what under
// which contract.
func (s *Service) audited(ctx context.Context, d *access.Decision, m *Manifest) error {
	if s.audit == nil {
		return nil
	}
	dd := *d
	dd.Purpose = AuditPurpose(m)
	if err := s.audit.Read(ctx, &dd, int(m.Rows)); err != nil {
		return fmt.Errorf("audit export of snapshot %s: %w", m.ID, err)
	}
	return nil
}

// AuditPurpose is the purpose an audit record of a snapshot states: the
// snapshot, its dataset and, when made for an organisation, the
// organisation's code, name and contract.
func AuditPurpose(m *Manifest) string {
	p := "assessment snapshot " + m.ID.String() + " (" + m.Dataset + ")"
	if o := m.Organisation; o != nil {
		p += " for organisation " + o.Code + " (" + o.Name + "), contract " + o.ContractNo
	}
	return p
}

var errRangeDone = errors.New("range written")

// stream writes bytes [start, end) of a rendering to w.
//
// Byte offsets are deterministic because the stored lines are the exact
// bytes of the rendering: the CSV header (CSV only), then each row's line
// and "\n" in seq order. Checkpoints (every 1,000 rows) give the offset of a
// row, so a range starts at most 1,000 rows before its first byte and skips
// the bytes before it.
func (s *Service) stream(ctx context.Context, m *Manifest, f Format, w io.Writer, start, end int64, o exportOptions) (int64, error) {
	var (
		pos, written int64
		nextReport   = int64(progressEvery)
		h            hash.Hash
	)
	if start == 0 && end == m.Rendering(f).Bytes {
		h = sha256.New()
	}
	emit := func(b []byte) error {
		if h != nil {
			h.Write(b)
		}
		lo, hi := start-pos, end-pos
		pos += int64(len(b))
		if lo < 0 {
			lo = 0
		}
		if hi > int64(len(b)) {
			hi = int64(len(b))
		}
		if lo < hi {
			n, err := w.Write(b[lo:hi])
			written += int64(n)
			if err != nil {
				return fmt.Errorf("export: write: %w", err)
			}
			if o.progress != nil && written >= nextReport {
				o.progress(written, end-start)
				nextReport += progressEvery
			}
		}
		if pos >= end {
			return errRangeDone
		}
		return nil
	}
	if end <= start {
		return 0, nil
	}
	switch f {
	case FormatXLSX:
		return s.streamFile(ctx, m.ID, XLSXFile, f, emit, start, h, &written, &pos, m.Rendering(f).SHA256, o, end)
	case FormatParquet:
		return s.streamFile(ctx, m.ID, ParquetFileOf(m.Dataset), f, emit, start, h, &written, &pos, m.Rendering(f).SHA256, o, end)
	case FormatCSVBOM:
		if err := emit([]byte(BOM)); err != nil {
			return written, ignoreDone(err)
		}
	}
	lines := f
	if f == FormatCSVBOM {
		lines = FormatCSV
	}
	from := int64(1)
	if lines == FormatCSV {
		if err := emit([]byte(m.CSVHeader() + "\n")); err != nil {
			return written, ignoreDone(err)
		}
	}
	if h == nil && start > pos {
		// Checkpoints hold offsets in the rendering without the BOM.
		shift := pos - int64(len(m.CSVHeader())+1)
		if lines != FormatCSV {
			shift = 0
		}
		seq, at, err := s.store.Checkpoint(ctx, m.ID, lines, start-shift)
		if err != nil {
			return written, fmt.Errorf("export: checkpoint: %w", err)
		}
		if at+shift > pos {
			from, pos = seq, at+shift
		}
	}
	nl := []byte{'\n'}
	err := s.store.Lines(ctx, m.ID, lines, from, s.batch, func(line []byte) error {
		if err := emit(line); err != nil {
			return err
		}
		return emit(nl)
	})
	if err != nil && !errors.Is(err, errRangeDone) {
		return written, err
	}
	if pos < end {
		return written, fmt.Errorf("export: snapshot %s %s ends at byte %d, its manifest says %d", m.ID, f, pos, end)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != m.Rendering(f).SHA256 {
			return written, fmt.Errorf("export: snapshot %s %s content has SHA-256 %s, its manifest says %s", m.ID, f, sum, m.Rendering(f).SHA256)
		}
	}
	if o.progress != nil {
		o.progress(written, end-start)
	}
	return written, nil
}

// XLSXFile is the stored name of a snapshot's workbook.
const XLSXFile = "snapshot.xlsx"

// FileChunk is the size of the chunks stored files are kept in: a range
// starts reading at the chunk that holds its first byte.
const FileChunk = 1 << 20

// streamFile writes a stored file through emit, starting at the chunk that
// holds byte start, and checks a whole file against its checksum.
func (s *Service) streamFile(ctx context.Context, id uuid.UUID, name string, f Format, emit func([]byte) error, start int64,
	h hash.Hash, written, pos *int64, want string, o exportOptions, end int64) (int64, error) {
	first := start / FileChunk
	*pos = first * FileChunk
	err := s.store.File(ctx, id, name, first, emit)
	if err != nil && !errors.Is(err, errRangeDone) {
		return *written, err
	}
	if *pos < end {
		return *written, fmt.Errorf("export: snapshot %s %s ends at byte %d, its manifest says %d", id, f, *pos, end)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
			return *written, fmt.Errorf("export: snapshot %s %s content has SHA-256 %s, its manifest says %s", id, f, sum, want)
		}
	}
	if o.progress != nil {
		o.progress(*written, end-start)
	}
	return *written, nil
}

func ignoreDone(err error) error {
	if errors.Is(err, errRangeDone) {
		return nil
	}
	return err
}

// ExportHandler serves snapshots over HTTP to principals who may read them
// (the request context must carry the principal: mount it behind the hub's
// authentication, at the path prefix "/datasets/", without stripping it):
//
//	GET|HEAD /datasets/{id}.ndjson   NDJSON rendering
//	GET|HEAD /datasets/{id}.csv      CSV rendering
//	GET      /datasets/{id}          the manifest (JSON)
//
// Responses carry Content-Length, ETag (the rendering's SHA-256), Digest
// (RFC 3230, sha-256 in base64), Repr-Digest (RFC 9530), X-Content-SHA256
// (hex), Accept-Ranges and Last-Modified. A single byte range (bytes=N-,
// bytes=N-M, bytes=-N) is served as 206 Partial Content, so an interrupted
// download resumes where it stopped; If-Range with a stale ETag gets the
// whole file; several ranges get the whole file too (allowed by RFC 9110).
// Bodies are streamed in constant memory and flushed about every megabyte.
func ExportHandler(svc *Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /datasets/{file}", func(w http.ResponseWriter, r *http.Request) { svc.serveHTTP(w, r) })
	mux.HandleFunc("GET /datasets/{id}/{file}", func(w http.ResponseWriter, r *http.Request) { svc.serveTable(w, r) })
	return mux
}

// httpStatus maps coded errors to HTTP statuses.
var httpStatus = map[apperr.Code]int{
	apperr.Unauthenticated:    http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.BadUserInput:       http.StatusBadRequest,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.ServiceUnavailable: http.StatusServiceUnavailable,
}

func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	status := httpStatus[apperr.CodeOf(err)]
	if !ok || status == 0 {
		s.log.ErrorContext(r.Context(), "evaluation export", "err", err, "path", r.URL.Path)
		e, status = apperr.New(apperr.Internal, "internal error"), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	id, err := uuid.Parse(name)
	if err != nil {
		s.writeError(w, r, apperr.New(apperr.NotFound, "no dataset %q: paths are /datasets/{id}.ndjson or /datasets/{id}.csv", file))
		return
	}
	if ext == "" {
		m, err := s.Snapshot(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
		_ = json.NewEncoder(w).Encode(m)
		return
	}
	f, err := ParseFormat(ext)
	if err != nil {
		s.writeError(w, r, apperr.New(apperr.NotFound, "no dataset %q: use the .ndjson, .csv, .xlsx or .parquet extension", file))
		return
	}
	if f == FormatCSV && r.URL.Query().Get("bom") == "1" {
		f = FormatCSVBOM
	}
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.store.Snapshot(ctx, id)
	if err == nil {
		err = s.mayDownload(ctx, m)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := m.offers(f); err != nil {
		s.writeError(w, r, err)
		return
	}
	rend := m.Rendering(f)
	sum, _ := hex.DecodeString(rend.SHA256)
	etag := `"sha256-` + rend.SHA256 + `"`
	hd := w.Header()
	hd.Set("ETag", etag)
	hd.Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sum))
	hd.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	hd.Set("X-Content-SHA256", rend.SHA256)
	hd.Set("X-Snapshot-Rows", strconv.FormatInt(m.Rows, 10))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Last-Modified", m.CreatedAt.UTC().Format(http.TimeFormat))
	hd.Set("Cache-Control", "private, max-age=31536000, immutable")
	hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="snapshot-%s.%s"`, m.ID, ext))
	hd.Set("Content-Type", contentType(ext))
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	total := rend.Bytes
	start, end, partial := int64(0), total, false
	if rh := r.Header.Get("Range"); rh != "" && (r.Header.Get("If-Range") == "" || r.Header.Get("If-Range") == etag) {
		a, b, ok, satisfiable := parseRange(rh, total)
		if ok && !satisfiable {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", total))
			hd.Set("Content-Type", "application/json")
			hd.Del("Content-Disposition")
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
				"message":    fmt.Sprintf("range %q lies outside the %d bytes of the file", rh, total),
				"extensions": map[string]any{"code": string(apperr.BadUserInput)}}}})
			return
		}
		if ok {
			start, end, partial = a, b, true
		}
	}
	if r.Method != http.MethodHead {
		if err := s.audited(ctx, d, m); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	hd.Set("Content-Length", strconv.FormatInt(end-start, 10))
	if partial {
		hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, total))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		return
	}
	fw := &flushWriter{w: w, rc: http.NewResponseController(w)}
	bw := bufio.NewWriterSize(fw, 64<<10)
	_, err = s.stream(ctx, m, f, bw, start, end, exportOptions{})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		s.abort(r, m.ID, err)
	}
}

// offers returns NOT_FOUND for a binary rendering the snapshot lacks.
func (m *Manifest) offers(f Format) error {
	switch {
	case f == FormatXLSX && m.XLSX == nil:
		return apperr.New(apperr.NotFound, "snapshot %s has no workbook (too many rows for Excel, or made before workbooks): use csv", m.ID)
	case f == FormatCSVBOM && m.CSVBOM.SHA256 == "":
		return apperr.New(apperr.NotFound, "snapshot %s was made before CSV with BOM: use csv", m.ID)
	case f == FormatParquet && m.Parquet == nil:
		return apperr.New(apperr.NotFound, "snapshot %s was made before Parquet files: use csv", m.ID)
	}
	return nil
}

func contentType(ext string) string {
	switch ext {
	case "parquet":
		return "application/vnd.apache.parquet"
	case "csv":
		return "text/csv; charset=utf-8; header=present"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/x-ndjson; charset=utf-8"
}

// serveTable serves a table frozen with a snapshot (a dimension table or
// the dictionary) at /datasets/{id}/{table}.ndjson|.csv (?bom=1 for
// Excel). Tables are small: each is read whole and served with
// http.ServeContent, which answers Range and If-Range. Each download is
// audited like a snapshot's.
func (s *Service) serveTable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := uuid.Parse(r.PathValue("id"))
	file := r.PathValue("file")
	table, ext, _ := strings.Cut(file, ".")
	if err != nil || (ext != "csv" && ext != "ndjson" && ext != "parquet") {
		s.writeError(w, r, apperr.New(apperr.NotFound, "no table %q: paths are /datasets/{id}/{table}.ndjson, .csv or .parquet", file))
		return
	}
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.store.Snapshot(ctx, id)
	if err == nil {
		err = s.mayDownload(ctx, m)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, ok := m.Table(table)
	if !ok {
		s.writeError(w, r, apperr.New(apperr.NotFound, "snapshot %s has no table %q", id, table))
		return
	}
	key := table + "." + ext
	var body []byte
	if ext == "csv" && r.URL.Query().Get("bom") == "1" {
		key += "?bom=1"
		body = []byte(BOM)
	}
	rend := t.Files[key]
	err = s.store.File(ctx, id, table+"."+ext, 0, func(b []byte) error { body = append(body, b...); return nil })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if got := renderingOf(body); got != rend {
		s.writeError(w, r, fmt.Errorf("snapshot %s table %s: content %+v, manifest %+v", id, key, got, rend))
		return
	}
	if r.Method != http.MethodHead {
		if err := s.audited(ctx, d, m); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	hd := w.Header()
	hd.Set("ETag", `"sha256-`+rend.SHA256+`"`)
	hd.Set("X-Content-SHA256", rend.SHA256)
	hd.Set("Cache-Control", "private, max-age=31536000, immutable")
	hd.Set("Content-Type", contentType(ext))
	hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="snapshot-%s-%s"`, m.ID, file))
	http.ServeContent(w, r, "", m.CreatedAt, bytes.NewReader(body))
}

// abort ends a response whose headers are out: the status and length are
// promised, so the only honest signal left is to cut the connection (the
// client sees a short body and can resume with Range).
func (s *Service) abort(r *http.Request, id uuid.UUID, err error) {
	if r.Context().Err() == nil {
		s.log.ErrorContext(r.Context(), "evaluation export aborted", "snapshot", id, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// flushWriter flushes the response about every megabyte, so a slow client
// gets a steady stream and the server holds no more than that.
type flushWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	pending int
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.pending += n
	if err == nil && f.pending >= progressEvery {
		f.pending = 0
		if ferr := f.rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
			return n, ferr
		}
	}
	return n, err
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// parseRange parses a single byte range against a representation of total
// bytes and returns [start, end). ok is false when the header is not one
// byte range (malformed, another unit, several ranges: the whole file is
// served); satisfiable is false when it is one but lies outside the file.
func parseRange(h string, total int64) (start, end int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "" && b == "":
		return 0, 0, false, false
	case a == "": // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || total == 0 {
			return 0, 0, true, false
		}
		if n > total {
			n = total
		}
		return total - n, total, true, true
	default:
		first, err := strconv.ParseInt(a, 10, 64)
		if err != nil || first < 0 {
			return 0, 0, false, false
		}
		last := total - 1
		if b != "" {
			l, err := strconv.ParseInt(b, 10, 64)
			if err != nil || l < first {
				return 0, 0, false, false
			}
			if l < last {
				last = l
			}
		}
		if first >= total {
			return 0, 0, true, false
		}
		return first, last + 1, true, true
	}
}
