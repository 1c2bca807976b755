package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
)

// readBufferSize is the read buffer of both readers; longer lines are
// assembled up to the record limit.
const readBufferSize = 64 << 10

var utf8BOM = []byte("\xEF\xBB\xBF")

// ndjsonReader reads one JSON object per line. Each line is decoded on its
// own, so a broken line costs that line only and the reader resumes at the
// next one; memory is bounded by the longest line it accepts.
type ndjsonReader struct {
	br   *bufio.Reader
	max  int
	line int64
	long []byte // a line longer than the read buffer, assembled
	lr   bytes.Reader
	dec  *jsontext.Decoder
	opts jsonv2.Options
	wire caseJSON
}

// caseJSON is a case record on the wire. Lat and Lng are preset to NaN
// before each line: a missing coordinate stays NaN (JSON has no NaN).
type caseJSON struct {
	ExternalID    string   `json:"externalId"`
	Kind          string   `json:"kind"`
	MinorCode     string   `json:"minorCode"`
	Source        string   `json:"source"`
	Description   string   `json:"description"`
	Address       string   `json:"address"`
	Lat           float64  `json:"lat"`
	Lng           float64  `json:"lng"`
	Jurisdiction  string   `json:"jurisdiction"`
	ReporterName  string   `json:"reporterName"`
	ReporterPhone string   `json:"reporterPhone"`
	ReportedAt    string   `json:"reportedAt"`
	PhotoURLs     []string `json:"photoUrls"`
}

func newNDJSONReader(r io.Reader, maxLine int) *ndjsonReader {
	rd := newNDJSONDecoder()
	rd.br, rd.max = bufio.NewReaderSize(r, readBufferSize), maxLine
	return rd
}

// newNDJSONDecoder returns a reader that only decodes lines handed to it
// (decode), with no input of its own.
func newNDJSONDecoder() *ndjsonReader {
	rd := &ndjsonReader{opts: jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.RejectUnknownMembers(true))}
	rd.dec = jsontext.NewDecoder(&rd.lr)
	return rd
}

// readLine returns the next line without its line break: io.EOF at the
// end, a *RowError for a line longer than the limit (skipped without
// being held in memory).
func (r *ndjsonReader) readLine() ([]byte, error) {
	r.long = r.long[:0]
	tooLong := false
	for {
		b, err := r.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if len(r.long)+len(b) > r.max {
				tooLong = true
			} else {
				r.long = append(r.long, b...)
			}
			continue
		case err == io.EOF:
			if len(b) == 0 && len(r.long) == 0 && !tooLong {
				return nil, io.EOF
			}
		case err != nil:
			return nil, err
		}
		r.line++
		if tooLong || len(r.long)+len(b) > r.max {
			return nil, &RowError{Line: r.line, Reason: fmt.Sprintf("the line is longer than %d bytes", r.max)}
		}
		if len(r.long) > 0 {
			r.long = append(r.long, b...)
			b = r.long
		}
		return bytes.TrimSuffix(b, []byte("\n")), nil
	}
}

func (r *ndjsonReader) next(rec *CaseRecord) (int64, error) {
	b, err := r.nextRecordLine()
	if err != nil {
		return r.line, err
	}
	return r.line, r.decode(b, rec)
}

// nextRecordLine returns the next line that holds a record, trimmed (and
// without the file's BOM): blank lines (a trailing one, say) are no
// records. Errors are readLine's.
func (r *ndjsonReader) nextRecordLine() ([]byte, error) {
	for {
		b, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if r.line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			return b, nil
		}
	}
}

func (r *ndjsonReader) decode(b []byte, rec *CaseRecord) error {
	photos := r.wire.PhotoURLs[:0]
	r.wire = caseJSON{Lat: math.NaN(), Lng: math.NaN(), PhotoURLs: photos}
	w := &r.wire
	r.lr.Reset(b)
	r.dec.Reset(&r.lr, r.opts)
	if err := jsonv2.UnmarshalDecode(r.dec, w); err != nil {
		field, reason := jsonProblem(b, err)
		return &RowError{Line: r.line, ExternalID: printableID(w.ExternalID), Field: field, Reason: reason}
	}
	if rest := bytes.TrimSpace(b[r.dec.InputOffset():]); len(rest) > 0 {
		return &RowError{Line: r.line, ExternalID: printableID(w.ExternalID), Reason: "more than one JSON value on the line: put each record on a line of its own"}
	}
	var at time.Time
	if w.ReportedAt != "" {
		var ok bool
		if at, ok = parseTime(w.ReportedAt); !ok {
			return &RowError{Line: r.line, ExternalID: printableID(w.ExternalID), Field: "reportedAt",
				Reason: fmt.Sprintf("%q is not an RFC 3339 time such as 2024-05-01T08:30:00+08:00", clip(w.ReportedAt))}
		}
		if at.IsZero() {
			// The zero time stands for "not given" in a record: refuse it here.
			return &RowError{Line: r.line, ExternalID: printableID(w.ExternalID), Field: "reportedAt", Reason: recordtime.BeforeDistrict(at)}
		}
	}
	*rec = CaseRecord{
		ExternalID: w.ExternalID, Kind: cases.Kind(w.Kind), MinorCode: w.MinorCode, Source: cases.Source(w.Source),
		Description: w.Description, Address: w.Address, Lat: w.Lat, Lng: w.Lng, Jurisdiction: w.Jurisdiction,
		ReporterName: w.ReporterName, ReporterPhone: w.ReporterPhone, ReportedAt: at, PhotoURLs: w.PhotoURLs,
	}
	return nil
}

// jsonProblem says which field of line b is wrong and why. The decoder
// reports its errors as encoding/json does (DefaultOptionsV1).
func jsonProblem(b []byte, err error) (field, reason string) {
	var se *jsonv1.SyntaxError
	var te *jsonv1.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && se.Offset >= int64(len(b)), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "", "the JSON object is cut off"
	case se != nil:
		return "", fmt.Sprintf("not valid JSON: %v (at byte %d of the line)", se, se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return "", fmt.Sprintf("expected a JSON object, got %s", te.Value)
		}
		return te.Field, fmt.Sprintf("expected %s, got %s", jsonKind(te.Type), te.Value)
	}
	// The decoder has no type for unknown fields; its message is stable.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			name = n
		}
		return clip(name), "unknown field; the fields are " + strings.Join(CaseFields, ", ")
	}
	return "", err.Error()
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array of strings"
	}
	return t.String()
}

// clip shortens what a report echoes of the sender's data.
func clip(s string) string {
	const n = 60
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
