package ingest

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
)

// readAll reads every record of a file: the records read (by line) and the
// row errors, or the error that ended the stream.
func readAll(t *testing.T, rd recordReader) (map[int64]CaseRecord, []RowError, error) {
	t.Helper()
	recs := make(map[int64]CaseRecord)
	var errs []RowError
	for i := 0; i < 1_000_000; i++ {
		var rec CaseRecord
		line, err := rd.next(&rec)
		var re *RowError
		switch {
		case err == io.EOF:
			return recs, errs, nil
		case errors.As(err, &re):
			errs = append(errs, *re)
		case err != nil:
			return recs, errs, err
		default:
			if _, dup := recs[line]; dup {
				t.Fatalf("two records on line %d", line)
			}
			rec.PhotoURLs = append([]string(nil), rec.PhotoURLs...)
			recs[line] = rec
		}
	}
	t.Fatal("the reader never ends")
	return nil, nil, nil
}

func TestCSVReader(t *testing.T) {
	const header = "externalId,kind,minorCode,source,description,lat,lng,photoUrls\n"
	tests := []struct {
		name  string
		in    string
		want  map[int64]CaseRecord // only the fields given are compared
		errs  []RowError
		fatal string // the field of a fatal error
	}{
		{name: "plain", in: header + "a,EVENT,0501,DRONE_PATROL,占道经营,32.5,119.9,\n",
			want: map[int64]CaseRecord{2: {ExternalID: "a", Description: "占道经营", Lat: 32.5, Lng: 119.9}}},
		{name: "quoted commas, quotes, line breaks and Chinese",
			in: header + "b,EVENT,0501,DRONE_PATROL,\"青年路, 18号 \"\"老王\"\"\n门口\r\n占道\",32.5,119.9,\"https://a.cn/1.jpg | https://a.cn/2.jpg\"\r\nc,EVENT,0501,DRONE_PATROL,x,32.5,119.9,\n",
			want: map[int64]CaseRecord{
				2: {ExternalID: "b", Description: "青年路, 18号 \"老王\"\n门口\n占道", PhotoURLs: []string{"https://a.cn/1.jpg", "https://a.cn/2.jpg"}},
				5: {ExternalID: "c", Description: "x"},
			}},
		{name: "BOM, CRLF, blank lines, no final line break",
			in:   "\xEF\xBB\xBF" + strings.ReplaceAll(header, "\n", "\r\n") + "\r\n\r\nd,EVENT,0501,DRONE_PATROL,y,32.5,119.9,",
			want: map[int64]CaseRecord{4: {ExternalID: "d", Description: "y"}}},
		{name: "missing coordinates are NaN", in: header + "e,EVENT,0501,DRONE_PATROL,z,,,\n",
			want: map[int64]CaseRecord{2: {ExternalID: "e", Description: "z", Lat: math.NaN(), Lng: math.NaN()}}},
		{name: "bare quote: the line is rejected, the next one read",
			in:   header + "f,EVENT,0501,DRONE_PATROL,say \"hi\",32.5,119.9,\ng,EVENT,0501,DRONE_PATROL,ok,32.5,119.9,\n",
			want: map[int64]CaseRecord{3: {ExternalID: "g", Description: "ok"}},
			errs: []RowError{{Line: 2, Reason: "a quote inside an unquoted field: quote the whole field and double the quotes inside"}}},
		{name: "field count", in: header + "h,EVENT,0501\n",
			errs: []RowError{{Line: 2, Reason: "the row has 3 fields; the header names 8 columns"}}},
		{name: "bad number and time", in: "externalId,lat,lng,reportedAt,kind,minorCode,source,description\ni,north,119.9,,EVENT,0501,DRONE_PATROL,x\nj,32.5,119.9,yesterday,EVENT,0501,DRONE_PATROL,x\nk,NaN,119.9,,EVENT,0501,DRONE_PATROL,x\n",
			errs: []RowError{
				{Line: 2, ExternalID: "i", Field: "lat", Reason: `"north" is not a number`},
				{Line: 3, ExternalID: "j", Field: "reportedAt", Reason: `"yesterday" is not an RFC 3339 time such as 2024-05-01T08:30:00+08:00`},
				{Line: 4, ExternalID: "k", Field: "lat", Reason: `"NaN" is not a number`},
			}},
		{name: "quote not closed at the end of the file",
			in:   header + "l,EVENT,0501,DRONE_PATROL,ok,32.5,119.9,\nm,EVENT,0501,DRONE_PATROL,\"cut off here",
			want: map[int64]CaseRecord{2: {ExternalID: "l"}},
			errs: []RowError{{Line: 3, Reason: "a quoted field is not closed before the end of the file (is the file cut off?)"}}},
		{name: "character after a closing quote", in: header + "n,EVENT,0501,DRONE_PATROL,\"a\"b,32.5,119.9,\n",
			errs: []RowError{{Line: 2, Reason: "a character after the closing quote of a field: quote the whole field and double the quotes inside"}}},
		{name: "empty file", in: ""},
		{name: "header only", in: header},
		{name: "unknown column", in: "externalId,kind,minorCode,source,description,lat,lng,colour\n", fatal: "colour"},
		{name: "duplicate column", in: "externalId,kind,minorCode,source,description,lat,lng,LAT\n", fatal: "lat"},
		{name: "missing required column", in: "externalId,kind,minorCode,source,lat,lng\n", fatal: "description"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs, err := readAll(t, newCSVReader(strings.NewReader(tt.in), 1<<10))
			if tt.fatal != "" {
				ae, ok := apperr.As(err)
				if !ok || ae.Field != tt.fatal {
					t.Fatalf("err = %v, want a BAD_USER_INPUT for %s", err, tt.fatal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compareRecords(t, recs, tt.want)
			compareErrors(t, errs, tt.errs)
		})
	}
}

func TestCSVRecordLimit(t *testing.T) {
	const header = "externalId,kind,minorCode,source,description,lat,lng\n"
	long := strings.Repeat("x", 2000)
	// An unquoted long line costs that line only.
	recs, errs, err := readAll(t, newCSVReader(strings.NewReader(header+"a,EVENT,0501,DRONE_PATROL,"+long+",32.5,119.9\nb,EVENT,0501,DRONE_PATROL,x,32.5,119.9\n"), 1<<10))
	if err != nil || len(recs) != 1 || len(errs) != 1 || errs[0].Line != 2 {
		t.Fatalf("recs %v errs %v err %v", recs, errs, err)
	}
	// A quote left open swallows lines until the limit: the file is refused.
	_, _, err = readAll(t, newCSVReader(strings.NewReader(header+"a,EVENT,0501,DRONE_PATROL,\"open"+strings.Repeat("\nmore", 500)), 1<<10))
	if !apperr.Is(err, apperr.BadUserInput) {
		t.Fatalf("err = %v, want BAD_USER_INPUT", err)
	}
}

func TestNDJSONReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[int64]CaseRecord
		errs []RowError
	}{
		{name: "records, blank lines, BOM, CRLF, no final line break",
			in: "\xEF\xBB\xBF" + `{"externalId":"a","description":"占道","lat":32.5,"lng":119.9,"photoUrls":["https://a.cn/1.jpg"]}` + "\r\n\n  \n" + `{"externalId":"b","reportedAt":"2025-03-01T08:00:00+08:00"}`,
			want: map[int64]CaseRecord{
				1: {ExternalID: "a", Description: "占道", Lat: 32.5, Lng: 119.9, PhotoURLs: []string{"https://a.cn/1.jpg"}},
				4: {ExternalID: "b", Lat: math.NaN(), Lng: math.NaN(), ReportedAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
			}},
		{name: "broken lines are rejected, the next ones read",
			in: `{"externalId":"c",` + "\n" + `not json` + "\n" + `{"externalId":"d","lat":"32.5"}` + "\n" + `{"externalId":"e","colour":"red"}` + "\n" +
				`[1,2]` + "\n" + `{"externalId":"f"} {"externalId":"g"}` + "\n" + `{"externalId":"h","reportedAt":"soon"}` + "\n" + `{"externalId":"i"}` + "\n",
			want: map[int64]CaseRecord{8: {ExternalID: "i", Lat: math.NaN(), Lng: math.NaN()}},
			errs: []RowError{
				{Line: 1, Reason: "the JSON object is cut off"},
				{Line: 2, Reason: "not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 2 of the line)"},
				{Line: 3, ExternalID: "d", Field: "lat", Reason: "expected a number, got string"},
				{Line: 4, ExternalID: "e", Field: "colour", Reason: "unknown field; the fields are " + strings.Join(CaseFields, ", ")},
				{Line: 5, Reason: "expected a JSON object, got array"},
				{Line: 6, ExternalID: "f", Reason: "more than one JSON value on the line: put each record on a line of its own"},
				{Line: 7, ExternalID: "h", Field: "reportedAt", Reason: `"soon" is not an RFC 3339 time such as 2024-05-01T08:30:00+08:00`},
			}},
		{name: "a line longer than the limit costs that line only",
			in:   `{"externalId":"j","description":"` + strings.Repeat("长", 200_000) + `"}` + "\n" + `{"externalId":"k"}` + "\n",
			want: map[int64]CaseRecord{2: {ExternalID: "k", Lat: math.NaN(), Lng: math.NaN()}},
			errs: []RowError{{Line: 1, Reason: "the line is longer than 65536 bytes"}}},
		{name: "a cut-off last line", in: `{"externalId":"l"}` + "\n" + `{"externalId":"m","descr`,
			want: map[int64]CaseRecord{1: {ExternalID: "l", Lat: math.NaN(), Lng: math.NaN()}},
			errs: []RowError{{Line: 2, Reason: "the JSON object is cut off"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs, err := readAll(t, newNDJSONReader(strings.NewReader(tt.in), 1<<16))
			if err != nil {
				t.Fatal(err)
			}
			compareRecords(t, recs, tt.want)
			compareErrors(t, errs, tt.errs)
		})
	}
}

func compareRecords(t *testing.T, got, want map[int64]CaseRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got records on lines %v, want %d records", keys(got), len(want))
	}
	for line, w := range want {
		g, ok := got[line]
		if !ok {
			t.Fatalf("no record on line %d (records on %v)", line, keys(got))
		}
		if w.ExternalID != "" && g.ExternalID != w.ExternalID {
			t.Errorf("line %d: externalId %q, want %q", line, g.ExternalID, w.ExternalID)
		}
		if w.Description != "" && g.Description != w.Description {
			t.Errorf("line %d: description %q, want %q", line, g.Description, w.Description)
		}
		if w.Lat != 0 && !sameFloat(g.Lat, w.Lat) || w.Lng != 0 && !sameFloat(g.Lng, w.Lng) {
			t.Errorf("line %d: (%v, %v), want (%v, %v)", line, g.Lat, g.Lng, w.Lat, w.Lng)
		}
		if w.PhotoURLs != nil && strings.Join(g.PhotoURLs, " ") != strings.Join(w.PhotoURLs, " ") {
			t.Errorf("line %d: photos %q, want %q", line, g.PhotoURLs, w.PhotoURLs)
		}
		if !w.ReportedAt.IsZero() && !g.ReportedAt.Equal(w.ReportedAt) {
			t.Errorf("line %d: reported at %v, want %v", line, g.ReportedAt, w.ReportedAt)
		}
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func compareErrors(t *testing.T, got, want []RowError) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("row errors %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row error %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func keys(m map[int64]CaseRecord) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestInputLimits(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100)
	for _, tt := range []struct {
		max     int64
		tooLong bool
	}{{99, true}, {100, false}, {101, false}} {
		in, err := newInput(bytes.NewReader(data), Options{MaxBytes: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(in.r)
		if got := errors.Is(streamError(err), ErrTooLarge); (err != nil) != tt.tooLong || got != tt.tooLong {
			t.Errorf("limit %d: err %v", tt.max, err)
		}
	}
}
