package ingest

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
)

// Handler serves POST /ingest/{dataset}: a bulk file in the body,
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
func Handler(svc *Service, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "send the file with POST"))
			return
		}
		dataset := r.PathValue("dataset")
		if dataset == "" {
			dataset = path.Base(r.URL.Path)
		}
		format, ferr := contentFormat(r.Header.Get("Content-Type"))
		if ferr != nil {
			writeError(w, http.StatusUnsupportedMediaType, ferr)
			return
		}
		gz, gerr := contentGzip(r.Header.Get("Content-Encoding"))
		if gerr != nil {
			writeError(w, http.StatusUnsupportedMediaType, gerr)
			return
		}
		q := r.URL.Query()
		mode, err := ParseMode(q.Get("mode"))
		if err != nil {
			svc.writeFailure(w, r, err)
			return
		}
		dry := false
		if v := q.Get("dryRun"); v != "" {
			if dry, err = strconv.ParseBool(v); err != nil {
				writeError(w, http.StatusBadRequest, apperr.Invalid("dryRun", "dryRun is true or false, not %q", v))
				return
			}
		}
		if maxBytes > 0 && r.ContentLength > maxBytes {
			writeError(w, http.StatusRequestEntityTooLarge, tooLargeError(maxBytes))
			return
		}
		body := r.Body
		if maxBytes > 0 {
			body = http.MaxBytesReader(w, r.Body, maxBytes)
		}
		rep, err := svc.Import(r.Context(), dataset, format, body, Options{Mode: mode, Gzip: gz, MaxBytes: maxBytes, DryRun: dry,
			// The client may be slow: no database connection waits for it.
			Spool: true})
		if err != nil {
			svc.writeFailure(w, r, err)
			return
		}
		status := http.StatusOK
		if rep.Rejected > 0 && rep.Mode == AllOrNothing {
			status = http.StatusUnprocessableEntity
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// contentFormat maps a Content-Type to a format.
func contentFormat(ct string) (Format, *apperr.Error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return "", apperr.Invalid("Content-Type", "files must be UTF-8, not %s", cs)
		}
		switch mt {
		case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
			return NDJSON, nil
		case "text/csv":
			return CSV, nil
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
	ae, _ := apperr.As(tooLarge(limit))
	return ae
}

// statusOf maps error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.Unauthenticated:    http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.BadUserInput:       http.StatusBadRequest,
	apperr.NotFound:           http.StatusNotFound,
	apperr.Conflict:           http.StatusConflict,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.ServiceUnavailable: http.StatusServiceUnavailable,
}

// writeFailure answers an error of a whole import. Uncoded errors are
// internal: logged, and shown as "internal error".
func (s *Service) writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	ae, ok := apperr.As(err)
	if !ok && r.Context().Err() != nil {
		// The client hung up (or the request timed out): the rollback is
		// done, and nobody is left to answer.
		s.log.InfoContext(r.Context(), "ingest: request ended before the import", "err", err, "path", r.URL.Path)
		writeError(w, http.StatusServiceUnavailable, apperr.New(apperr.ServiceUnavailable, "the request was cancelled; nothing was imported"))
		return
	}
	if !ok {
		s.log.ErrorContext(r.Context(), "ingest: internal error", "err", err, "path", r.URL.Path,
			"principal", access.PrincipalFrom(r.Context()).Actor())
		writeError(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error"))
		return
	}
	status, ok := statusOf[ae.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if errors.Is(err, ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	writeError(w, status, ae)
}

// writeError writes the hub's JSON error shape.
func writeError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": e.Message, "extensions": e.Extensions()}},
	})
}
