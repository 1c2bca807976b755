package ingest

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
)

// jurisdictionForm is the jurisdiction code pattern the jurisdictions table
// checks: an accepted row must match it.
var jurisdictionForm = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)

// The fuzz targets feed arbitrary bytes to the readers through the same
// validating row source the importer uses. They must never panic, and every
// row they let through must satisfy the invariants the database relies on
// (checkRow). The seed corpus under testdata/fuzz runs with plain go test.

func FuzzNDJSON(f *testing.F) {
	f.Add([]byte(`{"externalId":"a-1","kind":"EVENT","minorCode":"0501","source":"DRONE_PATROL","description":"占道经营","lat":32.5,"lng":119.9}` + "\n"))
	f.Add([]byte(`{"externalId":"a-2","kind":"event","minorCode":"0101","source":"hotline_12345","description":"暴露垃圾","lat":32.41,"lng":119.95,"reportedAt":"2025-03-01T08:00:00.123456789+08:00","photoUrls":["https://a.cn/1.jpg"]}`))
	f.Add([]byte("{\"externalId\":\"x\"\n[]\n\xEF\xBB\xBF{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows := fuzzRows(newNDJSONReader(bytes.NewReader(data), 4096))
		lines := bytes.Split(data, []byte("\n"))
		yielded := checkRows(t, rows, len(lines))
		if err := rows.Err(); err != nil {
			t.Fatalf("an in-memory NDJSON stream failed: %v", err)
		}
		for _, line := range yielded {
			b := bytes.TrimPrefix(lines[line-1], utf8BOM)
			if !json.Valid(bytes.TrimSpace(b)) {
				t.Fatalf("line %d is not valid JSON but was accepted: %q", line, b)
			}
		}
	})
}

func FuzzCSV(f *testing.F) {
	const header = "externalId,kind,minorCode,source,description,address,lat,lng,jurisdiction,reporterName,reporterPhone,reportedAt,photoUrls\n"
	f.Add([]byte(header + "a-1,EVENT,0501,DRONE_PATROL,占道经营,,32.5,119.9,,,,,\n"))
	f.Add([]byte(header + "a-2,EVENT,0501,DRONE_PATROL,\"青年路, \"\"18\"\"\n号\",x,32.5,119.9,hailing.chengdong,张三,13812345678,2025-03-01T08:00:00Z,https://a.cn/1.jpg|https://a.cn/2.jpg\r\n"))
	f.Add([]byte("externalId,description,lat,lng,kind,minorCode,source\n\"open"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows := fuzzRows(newCSVReader(bytes.NewReader(data), 4096))
		checkRows(t, rows, bytes.Count(data, []byte("\n"))+1)
		if err := rows.Err(); err != nil {
			// Only the file as a whole may be refused (its header, or a
			// quote left open past the record limit), as bad input.
			if !apperr.Is(err, apperr.BadUserInput) {
				t.Fatalf("the stream failed with %v", err)
			}
		}
	})
}

var fuzzNow = time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC)

func fuzzRows(rd recordReader) *caseRows {
	return &caseRows{rd: rd, v: NewValidator(cases.DefaultCatalogue()), now: fuzzNow, errs: newRejections(1 << 20)}
}

// checkRows drains rows, checks every row and rejection, and returns the
// lines of the rows yielded.
func checkRows(t *testing.T, rows *caseRows, lines int) []int64 {
	t.Helper()
	var yielded []int64
	last := int64(0)
	for rows.Next() {
		r := rows.Row()
		if r.Line <= last || r.Line > int64(lines) {
			t.Fatalf("row on line %d after line %d (the input has %d lines)", r.Line, last, lines)
		}
		last = r.Line
		checkRow(t, r)
		yielded = append(yielded, r.Line)
	}
	if got := int64(len(yielded)) + rows.errs.total; got != rows.read {
		t.Fatalf("%d rows yielded and %d rejected, but %d read", len(yielded), rows.errs.total, rows.read)
	}
	for _, e := range rows.errs.list {
		if e.Line < 1 || e.Line > int64(lines) || e.Reason == "" || !utf8.ValidString(e.Reason) || !storable(e.ExternalID) {
			t.Fatalf("bad rejection %+v (the input has %d lines)", e, lines)
		}
	}
	return yielded
}

// checkRow asserts what the staging table and the merge rely on.
func checkRow(t *testing.T, r *CaseRow) {
	t.Helper()
	for _, s := range []string{r.ExternalID, string(r.Kind), r.MinorCode, r.MajorCode, string(r.Source), r.Description,
		r.Address, r.Jurisdiction, r.ReporterName, r.ReporterPhone} {
		if !storable(s) {
			t.Fatalf("row on line %d has text PostgreSQL cannot store: %q", r.Line, s)
		}
	}
	switch {
	case r.ExternalID == "" || utf8.RuneCountInString(r.ExternalID) > maxExternalID || strings.TrimSpace(r.ExternalID) != r.ExternalID:
		t.Fatalf("bad externalId %q", r.ExternalID)
	case strings.TrimSpace(r.Description) == "" || utf8.RuneCountInString(r.Description) > 2000:
		t.Fatalf("bad description %q", r.Description)
	case math.IsNaN(r.Lat) || math.IsNaN(r.Lng) || r.Lat < rules.MinLat || r.Lat > rules.MaxLat || r.Lng < rules.MinLng || r.Lng > rules.MaxLng:
		t.Fatalf("bad location (%v, %v)", r.Lat, r.Lng)
	case r.Jurisdiction != "" && (!jurisdictionForm.MatchString(r.Jurisdiction) || !strings.Contains(r.Jurisdiction, ".")):
		t.Fatalf("bad jurisdiction %q", r.Jurisdiction)
	case len(r.PhotoURLs) > 9:
		t.Fatalf("%d photos", len(r.PhotoURLs))
	case r.ID.Version() != 7:
		t.Fatalf("id %s is not a UUIDv7", r.ID)
	}
	for _, u := range r.PhotoURLs {
		if !storable(u) || len(u) > 500 || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			t.Fatalf("bad photo URL %q", u)
		}
	}
	cl, ok := cases.DefaultCatalogue().Lookup(r.Kind, r.MinorCode)
	if !ok || cl.MajorCode != r.MajorCode {
		t.Fatalf("class %s/%s/%s is not in the catalogue", r.Kind, r.MajorCode, r.MinorCode)
	}
	if at := r.ReportedAt; !at.IsZero() {
		if at.Location() != time.UTC || at.Nanosecond()%1000 != 0 || recordtime.Problem(at, fuzzNow) != "" {
			t.Fatalf("bad report time %v", at)
		}
	}
	// Validation is idempotent: a row, validated again, stays valid.
	again := r.CaseRecord
	again.PhotoURLs = append([]string(nil), r.PhotoURLs...)
	if _, err := NewValidator(cases.DefaultCatalogue()).Validate(&again, fuzzNow); err != nil {
		t.Fatalf("an accepted row fails validation again: %v", err)
	}
}
