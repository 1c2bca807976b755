package ingest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
)

// csvReader reads RFC 4180 CSV (UTF-8, comma-separated, quoted fields may
// hold commas, quotes doubled, and line breaks) whose first record is a
// header naming the columns. It is its own parser rather than encoding/csv
// because it must bound the memory one record may take (a quote never
// closed would otherwise swallow the rest of the file), resume after a
// malformed record, and know the line each record starts on.
type csvReader struct {
	br      *bufio.Reader
	max     int
	line    int64 // physical lines consumed
	buf     []byte
	ends    []int
	fields  []string
	started bool
	eof     bool
	columns []int // column index → index in CaseFields
	photos  []string
}

// Field indexes in CaseFields.
const (
	colExternalID = iota
	colKind
	colMinorCode
	colSource
	colDescription
	colAddress
	colLat
	colLng
	colJurisdiction
	colReporterName
	colReporterPhone
	colReportedAt
	colPhotoURLs
)

func newCSVReader(r io.Reader, maxRecord int) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, readBufferSize), max: maxRecord}
}

// Parser states.
const (
	csvFieldStart = iota
	csvUnquoted
	csvQuoted
	csvQuoteInQuoted // a quote inside a quoted field: its end or the first of a doubled quote
)

// readRecord reads the next record into r.fields and returns the line it
// starts on. io.EOF at the end; a *RowError for a malformed record (the
// reader resumes at the next physical line); anything else is fatal.
func (r *csvReader) readRecord() (int64, error) {
	if r.eof {
		return r.line, io.EOF
	}
	if !r.started {
		r.started = true
		if b, _ := r.br.Peek(len(utf8BOM)); string(b) == string(utf8BOM) {
			_, _ = r.br.Discard(len(utf8BOM))
		}
	}
	for {
		start, blank, err := r.scan()
		if err != nil {
			return start, err
		}
		if blank {
			continue // a blank line is no record
		}
		s := string(r.buf) // one allocation per record; fields are slices of it
		r.fields = r.fields[:0]
		prev := 0
		for _, e := range r.ends {
			r.fields = append(r.fields, s[prev:e])
			prev = e
		}
		return start, nil
	}
}

// scan parses one record into r.buf (the fields' bytes, concatenated) and
// r.ends (where each field ends); blank says the record is a blank line.
func (r *csvReader) scan() (start int64, blank bool, err error) { //nolint:gocognit // a byte-level state machine over quoted fields
	r.buf, r.ends = r.buf[:0], r.ends[:0]
	sawQuote := false
	start = r.line + 1
	state := csvFieldStart
	problem := ""
	size := 0
	endField := func() { r.ends = append(r.ends, len(r.buf)) }
	isBlank := func() bool { return !sawQuote && len(r.ends) == 1 && r.ends[0] == 0 }
	for {
		b, rerr := r.br.ReadSlice('\n')
		complete := rerr == nil
		switch {
		case complete, errors.Is(rerr, bufio.ErrBufferFull):
		case rerr == io.EOF:
			r.eof = true
		default:
			return start, false, rerr
		}
		if complete {
			r.line++
		}
		if problem == "" {
			size += len(b)
			if size > r.max {
				if state == csvQuoted {
					return start, false, apperr.Invalid("body", "line %d: a record is longer than %d bytes; is a quote not closed? Nothing was imported", start, r.max)
				}
				problem = fmt.Sprintf("the line is longer than %d bytes", r.max)
			}
		}
		for i := 0; i < len(b) && problem == ""; i++ {
			c := b[i]
			switch state {
			case csvFieldStart:
				switch c {
				case '"':
					state, sawQuote = csvQuoted, true
				case ',':
					endField()
				case '\n':
					endField()
					return start, isBlank(), nil
				default:
					r.buf = append(r.buf, c)
					state = csvUnquoted
				}
			case csvUnquoted:
				switch c {
				case ',':
					endField()
					state = csvFieldStart
				case '\n':
					if n := len(r.buf); n > 0 && r.buf[n-1] == '\r' {
						r.buf = r.buf[:n-1]
					}
					endField()
					return start, isBlank(), nil
				case '"':
					problem = "a quote inside an unquoted field: quote the whole field and double the quotes inside"
				default:
					r.buf = append(r.buf, c)
				}
			case csvQuoted:
				switch c {
				case '"':
					state = csvQuoteInQuoted
				case '\n':
					// A line break inside a quoted field is data; CRLF
					// becomes LF, as encoding/csv does.
					if n := len(r.buf); n > 0 && r.buf[n-1] == '\r' {
						r.buf = r.buf[:n-1]
					}
					r.buf = append(r.buf, '\n')
				default:
					r.buf = append(r.buf, c)
				}
			case csvQuoteInQuoted:
				switch c {
				case '"':
					r.buf = append(r.buf, '"')
					state = csvQuoted
				case ',':
					endField()
					state = csvFieldStart
				case '\n':
					endField()
					return start, false, nil
				case '\r': // before the line break of CRLF
				default:
					problem = "a character after the closing quote of a field: quote the whole field and double the quotes inside"
				}
			}
		}
		if problem != "" && (complete || r.eof) {
			return start, false, &RowError{Line: start, Reason: problem}
		}
		if !r.eof {
			continue
		}
		// The end of the file ends the last record.
		switch {
		case state == csvQuoted:
			return start, false, &RowError{Line: start, Reason: "a quoted field is not closed before the end of the file (is the file cut off?)"}
		case state == csvFieldStart && len(r.ends) == 0 && size == 0:
			return start, false, io.EOF
		}
		if n := len(r.buf); state == csvUnquoted && n > 0 && r.buf[n-1] == '\r' {
			r.buf = r.buf[:n-1]
		}
		endField()
		if start > r.line {
			r.line = start // the last line had no line break
		}
		return start, isBlank(), nil
	}
}

// readHeader reads the header and maps its columns.
func (r *csvReader) readHeader() error {
	line, err := r.readRecord()
	if err != nil {
		var re *RowError
		if errors.As(err, &re) {
			return apperr.Invalid("header", "the header (line %d) cannot be read: %s", line, re.Reason)
		}
		return err
	}
	r.columns = make([]int, len(r.fields))
	seen := make(map[int]bool)
	for i, name := range r.fields {
		name = strings.TrimSpace(name)
		col := -1
		for j, f := range CaseFields {
			if strings.EqualFold(name, f) {
				col = j
			}
		}
		switch {
		case col < 0:
			return apperr.Invalid(clip(name), "unknown column %q in the header (line %d); the columns are %s",
				clip(name), line, strings.Join(CaseFields, ", "))
		case seen[col]:
			return apperr.Invalid(CaseFields[col], "the header (line %d) names column %s twice", line, CaseFields[col])
		}
		seen[col] = true
		r.columns[i] = col
	}
	for _, f := range requiredCaseFields {
		for j, g := range CaseFields {
			if f == g && !seen[j] {
				return apperr.Invalid(f, "the header (line %d) has no %s column; it is required", line, f)
			}
		}
	}
	return nil
}

func (r *csvReader) next(rec *CaseRecord) (int64, error) {
	if r.columns == nil {
		if err := r.readHeader(); err != nil {
			if err == io.EOF {
				r.columns = []int{}
			}
			return r.line, err
		}
	}
	line, err := r.readRecord()
	if err != nil {
		return line, err
	}
	if len(r.fields) != len(r.columns) {
		return line, &RowError{Line: line, Reason: fmt.Sprintf("the row has %d fields; the header names %d columns", len(r.fields), len(r.columns))}
	}
	*rec = CaseRecord{Lat: math.NaN(), Lng: math.NaN(), PhotoURLs: r.photos[:0]}
	fail := func(field, reason string) error {
		return &RowError{Line: line, ExternalID: printableID(rec.ExternalID), Field: field, Reason: reason}
	}
	// externalId first, so that the other fields' problems can name it.
	for i, col := range r.columns {
		if col == colExternalID {
			rec.ExternalID = r.fields[i]
		}
	}
	for i, col := range r.columns {
		v := r.fields[i]
		switch col {
		case colKind:
			rec.Kind = cases.Kind(v)
		case colMinorCode:
			rec.MinorCode = v
		case colSource:
			rec.Source = cases.Source(v)
		case colDescription:
			rec.Description = v
		case colAddress:
			rec.Address = v
		case colLat, colLng:
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return line, fail(CaseFields[col], fmt.Sprintf("%q is not a number", clip(v)))
			}
			if col == colLat {
				rec.Lat = f
			} else {
				rec.Lng = f
			}
		case colJurisdiction:
			rec.Jurisdiction = v
		case colReporterName:
			rec.ReporterName = v
		case colReporterPhone:
			rec.ReporterPhone = v
		case colReportedAt:
			if v = strings.TrimSpace(v); v != "" {
				t, ok := parseTime(v)
				if !ok {
					return line, fail("reportedAt", fmt.Sprintf("%q is not an RFC 3339 time such as 2024-05-01T08:30:00+08:00", clip(v)))
				}
				if t.IsZero() {
					// The zero time stands for "not given" in a record.
					return line, fail("reportedAt", recordtime.BeforeDistrict(t))
				}
				rec.ReportedAt = t
			}
		case colPhotoURLs:
			for u := range strings.SplitSeq(v, "|") {
				if u = strings.TrimSpace(u); u != "" {
					rec.PhotoURLs = append(rec.PhotoURLs, u)
				}
			}
		}
	}
	r.photos = rec.PhotoURLs
	return line, nil
}
