package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
)

func validRecord() CaseRecord {
	return CaseRecord{
		ExternalID: "ext-1", Kind: cases.KindEvent, MinorCode: "0501", Source: cases.SourceHotline12345,
		Description: "青年路口店外经营占道", Address: "青年路 18 号", Lat: 32.49, Lng: 119.92,
		ReporterName: "王小明", ReporterPhone: "13812345678", PhotoURLs: []string{"https://img.example.cn/1.jpg"},
	}
}

var now = time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *CaseRecord)
		field  string // "" when valid
	}{
		{"valid", func(r *CaseRecord) {}, ""},
		{"lower-case kind and source, spaces", func(r *CaseRecord) { r.Kind, r.Source, r.ExternalID = " event", "hotline_12345 ", " ext-1 " }, ""},
		{"no externalId", func(r *CaseRecord) { r.ExternalID = "  " }, "externalId"},
		{"externalId too long", func(r *CaseRecord) { r.ExternalID = strings.Repeat("x", 101) }, "externalId"},
		{"externalId with a control character", func(r *CaseRecord) { r.ExternalID = "a\tb" }, "externalId"},
		{"empty description", func(r *CaseRecord) { r.Description = " \n " }, "description"},
		{"description too long", func(r *CaseRecord) { r.Description = strings.Repeat("长", 2001) }, "description"},
		{"NUL in the description", func(r *CaseRecord) { r.Description = "a\x00b" }, "description"},
		{"invalid UTF-8 in the address", func(r *CaseRecord) { r.Address = "a\xffb" }, "address"},
		{"address too long", func(r *CaseRecord) { r.Address = strings.Repeat("路", 201) }, "address"},
		{"missing latitude", func(r *CaseRecord) { r.Lat = math.NaN() }, "lat"},
		{"missing longitude", func(r *CaseRecord) { r.Lng = math.NaN() }, "lng"},
		{"outside the district", func(r *CaseRecord) { r.Lat = 31.2 }, "location"},
		{"infinite", func(r *CaseRecord) { r.Lng = math.Inf(1) }, "location"},
		{"bad phone", func(r *CaseRecord) { r.ReporterPhone = "12345" }, "reporterPhone"},
		{"landline", func(r *CaseRecord) { r.ReporterPhone = "0523-86881234" }, ""},
		{"name too long", func(r *CaseRecord) { r.ReporterName = strings.Repeat("王", 51) }, "reporterName"},
		{"ten photos", func(r *CaseRecord) { r.PhotoURLs = make([]string, 10) }, "photoUrls"},
		{"bad photo URL", func(r *CaseRecord) { r.PhotoURLs = []string{"ftp://x/y.jpg"} }, "photoUrls[0]"},
		{"bad jurisdiction", func(r *CaseRecord) { r.Jurisdiction = "Hailing/Chengdong" }, "jurisdiction"},
		{"the whole district", func(r *CaseRecord) { r.Jurisdiction = "hailing" }, "jurisdiction"},
		{"unknown source", func(r *CaseRecord) { r.Source = "PIGEON" }, "source"},
		{"unknown class code", func(r *CaseRecord) { r.MinorCode = "9999" }, "class"},
		{"class of the other kind", func(r *CaseRecord) { r.Kind, r.MinorCode = cases.KindComponent, "0504" }, "class"},
		{"future report", func(r *CaseRecord) { r.ReportedAt = now.Add(time.Hour) }, "reportedAt"},
		{"slightly fast clock", func(r *CaseRecord) { r.ReportedAt = now.Add(time.Minute) }, ""},
		{"zero-ish date", func(r *CaseRecord) { r.ReportedAt = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC) }, "reportedAt"},
		{"before the district", func(r *CaseRecord) { r.ReportedAt = time.Date(1996, 12, 31, 15, 59, 59, 0, time.UTC) }, "reportedAt"},
		{"the district's first day", func(r *CaseRecord) { r.ReportedAt = time.Date(1996, 12, 31, 16, 0, 0, 0, time.UTC) }, ""},
	}
	v := NewValidator(cases.DefaultCatalogue())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := validRecord()
			tt.change(&rec)
			cl, err := v.Validate(&rec, now)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if cl.MajorCode == "" || rec.ExternalID != strings.TrimSpace(rec.ExternalID) || rec.Kind != cases.KindEvent {
					t.Fatalf("not normalized: %+v, class %+v", rec, cl)
				}
				return
			}
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.BadUserInput || ae.Field != tt.field {
				t.Fatalf("err = %v, want BAD_USER_INPUT on %s", err, tt.field)
			}
		})
	}
}

func TestFormatFromNameAndParseMode(t *testing.T) {
	for name, want := range map[string]struct {
		f  Format
		gz bool
		ok bool
	}{
		"cases.ndjson": {NDJSON, false, true}, "Cases.JSONL.gz": {NDJSON, true, true}, "x.csv": {CSV, false, true},
		"x.csv.gz": {CSV, true, true}, "x.json": {"", false, false}, "x.gz": {"", true, false},
	} {
		f, gz, ok := FormatFromName(name)
		if f != want.f || gz != want.gz || ok != want.ok {
			t.Errorf("%s: %s %v %v", name, f, gz, ok)
		}
	}
	for in, want := range map[string]Mode{"": AllOrNothing, "all-or-nothing": AllOrNothing, "skip-invalid": SkipInvalid} {
		if m, err := ParseMode(in); err != nil || m != want {
			t.Errorf("ParseMode(%q) = %s, %v", in, m, err)
		}
	}
	if _, err := ParseMode("some"); !apperr.Is(err, apperr.BadUserInput) {
		t.Errorf("ParseMode(some): %v", err)
	}
}
