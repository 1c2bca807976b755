package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/ingest"
)

// IngestHandler serves POST /ingest/{dataset}: a bulk file in the body,
// Content-Type application/x-ndjson or text/csv (UTF-8), optionally
// Content-Encoding: gzip, at most maxBytes bytes before and after
// decompression (413 otherwise). Query parameters: mode=all-or-nothing (the
// default) or mode=skip-invalid; dryRun=true to validate and roll back.
//
// The caller is the principal the server's authentication middleware put
// in the request context (access.PrincipalFrom). The answer is the import
// Report as JSON: 200 when the file was taken (rejected rows, in
// skip-invalid mode, are listed in it), 422 when rows were rejected in
// all-or-nothing mode and nothing was written. Failures of the whole file
// get the hub's error shape {"errors":[{"message":…,"extensions":{"code":…}}]}
// with 400, 401, 403, 404, 413, 415 or 500.
//
// Internal errors are logged to log (slog.Default when nil).
func IngestHandler(svc *ingest.Service, maxBytes int64, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeIngestError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "send the file with POST"))
			return
		}
		dataset := r.PathValue("dataset")
		if dataset == "" {
			dataset = path.Base(r.URL.Path)
		}
		format, ferr := contentFormat(r.Header.Get("Content-Type"))
		if ferr != nil {
			writeIngestError(w, http.StatusUnsupportedMediaType, ferr)
			return
		}
		gz, gerr := contentGzip(r.Header.Get("Content-Encoding"))
		if gerr != nil {
			writeIngestError(w, http.StatusUnsupportedMediaType, gerr)
			return
		}
		q := r.URL.Query()
		mode, err := ingest.ParseMode(q.Get("mode"))
		if err != nil {
			writeIngestFailure(w, r, log, err)
			return
		}
		dry := false
		if v := q.Get("dryRun"); v != "" {
			if dry, err = strconv.ParseBool(v); err != nil {
				writeIngestError(w, http.StatusBadRequest, apperr.Invalid("dryRun", "dryRun is true or false, not %q", v))
				return
			}
		}
		if maxBytes > 0 && r.ContentLength > maxBytes {
			writeIngestError(w, http.StatusRequestEntityTooLarge, tooLargeError(maxBytes))
			return
		}
		var body io.Reader = r.Body
		if maxBytes > 0 {
			body = maxBytesBody{http.MaxBytesReader(w, r.Body, maxBytes)}
		}
		rep, err := svc.Import(r.Context(), dataset, format, body, ingest.Options{Mode: mode, Gzip: gz, MaxBytes: maxBytes, DryRun: dry,
			// The client may be slow: no database connection waits for it.
			Spool: true})
		if err != nil {
			writeIngestFailure(w, r, log, err)
			return
		}
		status := http.StatusOK
		if rep.Rejected > 0 && rep.Mode == ingest.AllOrNothing {
			status = http.StatusUnprocessableEntity
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// maxBytesBody reports the request body's limit as the importer's own, so
// that an import over it fails as too large (413).
type maxBytesBody struct{ r io.Reader }

func (b maxBytesBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = &ingest.LimitError{Limit: mbe.Limit}
	}
	return n, err
}

// contentFormat maps a Content-Type to a format.
func contentFormat(ct string) (ingest.Format, *apperr.Error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return "", apperr.Invalid("Content-Type", "files must be UTF-8, not %s", cs)
		}
		switch mt {
		case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
			return ingest.NDJSON, nil
		case "text/csv":
			return ingest.CSV, nil
		}
	}
	return "", apperr.Invalid("Content-Type", "send the file as application/x-ndjson or text/csv, not %q", ct)
}

// contentGzip parses a Content-Encoding.
func contentGzip(ce string) (bool, *apperr.Error) {
	switch strings.ToLower(strings.TrimSpace(ce)) {
	case "", "identity":
		return false, nil
	case "gzip", "x-gzip":
		return true, nil
	}
	return false, apperr.Invalid("Content-Encoding", "the only content encoding accepted is gzip, not %q", ce)
}

func tooLargeError(limit int64) *apperr.Error {
	ae, _ := apperr.As(ingest.TooLarge(limit))
	return ae
}

// writeIngestFailure answers an error of a whole import. Uncoded errors are
// internal: logged, and shown as "internal error".
func writeIngestFailure(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae, ok := apperr.As(err)
	if !ok && r.Context().Err() != nil {
		// The client hung up (or the request timed out): the rollback is
		// done, and nobody is left to answer.
		log.InfoContext(r.Context(), "ingest: request ended before the import", "err", err, "path", r.URL.Path)
		writeIngestError(w, http.StatusServiceUnavailable, apperr.New(apperr.ServiceUnavailable, "the request was cancelled; nothing was imported"))
		return
	}
	if !ok {
		log.ErrorContext(r.Context(), "ingest: internal error", "err", err, "path", r.URL.Path,
			"principal", access.PrincipalFrom(r.Context()).Actor())
		writeIngestError(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error"))
		return
	}
	status, ok := downloadStatus[ae.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if errors.Is(err, ingest.ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	writeIngestError(w, status, ae)
}

// writeIngestError writes the hub's JSON error shape.
func writeIngestError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}
