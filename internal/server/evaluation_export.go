package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/google/uuid"
)

// ExportHandler serves evaluation snapshots over HTTP to principals who may
// read them (the request context must carry the principal: mount it behind
// the hub's authentication, at the path prefix "/datasets/", without
// stripping it):
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
// Internal errors are logged to log (slog.Default when nil).
func ExportHandler(svc *evaluation.Service, log *slog.Logger) http.Handler {
	e := &exporter{svc: svc, log: log}
	if e.log == nil {
		e.log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /datasets/{file}", e.serveSnapshot)
	mux.HandleFunc("GET /datasets/{id}/{file}", e.serveTable)
	return mux
}

// IndicatorsHandler serves GET /indicators.xlsx?period=MONTH&from=…&to=…
// &groupBy=STREET,CASE_CLASS (from and to as RFC 3339 or YYYY-MM-DD,
// dates in Asia/Shanghai; optional jurisdiction, kind, majorCode, source
// (repeatable) and handlingDept filters) to the principal in the request
// context, under the same rules as the indicators query. Internal errors
// are logged to log (slog.Default when nil).
func IndicatorsHandler(svc *evaluation.Service, log *slog.Logger) http.Handler {
	e := &exporter{svc: svc, log: log}
	if e.log == nil {
		e.log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseIndicatorQuery(r, svc.Location())
		if err == nil {
			var buf strings.Builder
			if err = svc.IndicatorsWorkbook(r.Context(), q, &buf); err == nil {
				w.Header().Set("Content-Type", exportContentType("xlsx"))
				w.Header().Set("Content-Disposition", `attachment; filename="indicators.xlsx"`)
				w.Header().Set("Cache-Control", "no-store")
				w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
				_, _ = io.WriteString(w, buf.String())
				return
			}
		}
		e.writeError(w, r, err)
	})
}

// exporter serves the evaluation service's downloads.
type exporter struct {
	svc *evaluation.Service
	log *slog.Logger
}

// downloadStatus maps coded errors to the HTTP statuses of the routes
// beside GraphQL (exports and bulk imports).
var downloadStatus = map[apperr.Code]int{
	apperr.Unauthenticated:    http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.BadUserInput:       http.StatusBadRequest,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.ServiceUnavailable: http.StatusServiceUnavailable,
}

func (x *exporter) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	status := downloadStatus[apperr.CodeOf(err)]
	if !ok || status == 0 {
		x.log.ErrorContext(r.Context(), "evaluation export", "err", err, "path", r.URL.Path)
		e, status = apperr.New(apperr.Internal, "internal error"), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}

func (x *exporter) serveSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	id, err := uuid.Parse(name)
	if err != nil {
		x.writeError(w, r, apperr.New(apperr.NotFound, "no dataset %q: paths are /datasets/{id}.ndjson or /datasets/{id}.csv", file))
		return
	}
	if ext == "" {
		m, err := x.svc.Snapshot(ctx, id)
		if err != nil {
			x.writeError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, max-age=31536000, immutable")
		_ = json.NewEncoder(w).Encode(m)
		return
	}
	f, err := evaluation.ParseFormat(ext)
	if err != nil {
		x.writeError(w, r, apperr.New(apperr.NotFound, "no dataset %q: use the .ndjson, .csv, .xlsx or .parquet extension", file))
		return
	}
	if f == evaluation.FormatCSV && r.URL.Query().Get("bom") == "1" {
		f = evaluation.FormatCSVBOM
	}
	dl, err := x.svc.OpenDownload(ctx, id, f)
	if err != nil {
		x.writeError(w, r, err)
		return
	}
	m, rend := dl.Manifest, dl.Rendering()
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
	hd.Set("Content-Type", exportContentType(ext))
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
		if err := dl.Audit(ctx); err != nil {
			x.writeError(w, r, err)
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
	_, err = dl.WriteRange(ctx, bw, start, end)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		x.abort(r, m.ID, err)
	}
}

func exportContentType(ext string) string {
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
// Excel), with http.ServeContent, which answers Range and If-Range. Each
// download is audited like a snapshot's.
func (x *exporter) serveTable(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := uuid.Parse(r.PathValue("id"))
	file := r.PathValue("file")
	table, ext, _ := strings.Cut(file, ".")
	if err != nil || (ext != "csv" && ext != "ndjson" && ext != "parquet") {
		x.writeError(w, r, apperr.New(apperr.NotFound, "no table %q: paths are /datasets/{id}/{table}.ndjson, .csv or .parquet", file))
		return
	}
	dl, body, rend, err := x.svc.OpenTable(ctx, id, table, ext, r.URL.Query().Get("bom") == "1")
	if err != nil {
		x.writeError(w, r, err)
		return
	}
	if r.Method != http.MethodHead {
		if err := dl.Audit(ctx); err != nil {
			x.writeError(w, r, err)
			return
		}
	}
	m := dl.Manifest
	hd := w.Header()
	hd.Set("ETag", `"sha256-`+rend.SHA256+`"`)
	hd.Set("X-Content-SHA256", rend.SHA256)
	hd.Set("Cache-Control", "private, max-age=31536000, immutable")
	hd.Set("Content-Type", exportContentType(ext))
	hd.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="snapshot-%s-%s"`, m.ID, file))
	http.ServeContent(w, r, "", m.CreatedAt, bytes.NewReader(body))
}

// abort ends a response whose headers are out: the status and length are
// promised, so the only honest signal left is to cut the connection (the
// client sees a short body and can resume with Range).
func (x *exporter) abort(r *http.Request, id uuid.UUID, err error) {
	if r.Context().Err() == nil {
		x.log.ErrorContext(r.Context(), "evaluation export aborted", "snapshot", id, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// flushEvery is how often an export's response is flushed.
const flushEvery = 1 << 20

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
	if err == nil && f.pending >= flushEvery {
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

// parseIndicatorQuery reads an indicators query from the request's query
// string; dates without a time are local to loc.
func parseIndicatorQuery(r *http.Request, loc *time.Location) (evaluation.Query, error) {
	v := r.URL.Query()
	var q evaluation.Query
	p, err := evaluation.ParsePeriod(strings.ToUpper(v.Get("period")))
	if err != nil {
		return q, err
	}
	q.Period = p
	parseTime := func(field string) (time.Time, error) {
		raw := v.Get(field)
		if t, err := time.Parse(time.RFC3339, raw); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, raw, loc); err == nil {
			return t, nil
		}
		return time.Time{}, apperr.Invalid(field, "%s %q is not a date (2025-01-01) or an RFC 3339 time", field, raw)
	}
	if q.From, err = parseTime("from"); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to"); err != nil {
		return q, err
	}
	for _, g := range strings.Split(v.Get("groupBy"), ",") {
		if g = strings.ToUpper(strings.TrimSpace(g)); g != "" {
			q.GroupBy = append(q.GroupBy, evaluation.Dim(g))
		}
	}
	q.Filter = evaluation.Filter{Jurisdiction: v.Get("jurisdiction"), Kind: cases.Kind(v.Get("kind")), MajorCode: v.Get("majorCode"),
		HandlingDept: v.Get("handlingDept")}
	for _, src := range v["source"] {
		q.Filter.Sources = append(q.Filter.Sources, cases.Source(src))
	}
	return q, nil
}
