package ingest

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
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

// TestValidateMatchesReport pins the validator to the case service's own
// rules: for each record the case service can also be given, both accept
// it or both reject it naming the same field.
func TestValidateMatchesReport(t *testing.T) {
	svc := cases.NewService(cases.Config{Store: reportStore{}, Directory: reportStore{}, Authorizer: reporter{}, Now: func() time.Time { return now }})
	ctx := access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindUser, Subject: "u", Dept: cases.OwnerDept, Roles: []string{"officer"}})
	v := NewValidator(cases.DefaultCatalogue())
	changes := []func(r *CaseRecord){
		func(r *CaseRecord) {},
		func(r *CaseRecord) { r.Description = "  " },
		func(r *CaseRecord) { r.Description = strings.Repeat("长", 2001) },
		func(r *CaseRecord) { r.Address = strings.Repeat("路", 201) },
		func(r *CaseRecord) { r.Lat = 32.0 },
		func(r *CaseRecord) { r.Lng = 121.0 },
		func(r *CaseRecord) { r.ReporterPhone = "1381234567" },
		func(r *CaseRecord) { r.ReporterName = strings.Repeat("王", 51) },
		func(r *CaseRecord) { r.PhotoURLs = make([]string, 10) },
		func(r *CaseRecord) { r.PhotoURLs = []string{"not a url"} },
		func(r *CaseRecord) { r.Jurisdiction = "HAILING" },
		func(r *CaseRecord) { r.Source = "PIGEON" },
		func(r *CaseRecord) { r.MinorCode = "0999" },
		func(r *CaseRecord) { r.Description, r.Lat = "", 0 }, // the first problem wins in both
		func(r *CaseRecord) { r.ReportedAt = now.Add(time.Hour) },
	}
	for i, change := range changes {
		rec := validRecord()
		change(&rec)
		in := cases.ReportInput{Kind: rec.Kind, MinorCode: rec.MinorCode, Source: rec.Source, Description: rec.Description,
			Address: rec.Address, Lat: rec.Lat, Lng: rec.Lng, Jurisdiction: rec.Jurisdiction, ReporterName: rec.ReporterName,
			ReporterPhone: rec.ReporterPhone, PhotoURLs: rec.PhotoURLs, ExternalID: rec.ExternalID}
		if !rec.ReportedAt.IsZero() {
			at := rec.ReportedAt
			in.ReportedAt = &at
		}
		_, want := svc.Report(ctx, in)
		_, got := v.Validate(&rec, now)
		if fieldOf(got) != fieldOf(want) {
			t.Errorf("case %d: validator says %v, the case service %v", i, got, want)
		}
	}
}

func fieldOf(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := apperr.As(err); ok {
		return string(ae.Code) + ":" + ae.Field
	}
	return err.Error()
}

// reportStore is the part of a case store Report needs; it writes nothing.
type reportStore struct{ cases.Store }

func (reportStore) Locate(context.Context, float64, float64) (string, error) {
	return "hailing.chengdong.fenghuang.g01", nil
}
func (reportStore) JurisdictionExists(context.Context, string) (bool, error) { return true, nil }
func (reportStore) DepartmentExists(context.Context, string) (bool, error)   { return true, nil }
func (reportStore) Create(context.Context, *cases.Case, cases.Event) error   { return nil }

type reporter struct{}

func (reporter) Decide(context.Context, string) (*access.Decision, error) {
	return &access.Decision{Dataset: cases.Dataset, Rows: access.RowScope{All: true}, Actions: []string{"report"}}, nil
}

// TestMatchersMatchPatterns checks the hand-written matchers against the
// case service's regular expressions on random strings over the alphabet
// that matters.
func TestMatchersMatchPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet string, max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	fixed := []string{"13812345678", "0523-86881234", "052386881234", "02312345678", "0523-868812", "1281234567", "",
		"hailing", "hailing.chengdong", "hailing..x", ".hailing", "hailing.", "a_1.b_2", "Hailing"}
	for i := 0; i < 200_000; i++ {
		var phone, code string
		if i < len(fixed) {
			phone, code = fixed[i], fixed[i]
		} else {
			phone = gen("0123456789-1", 14)
			code = gen("ab_9.-", 8)
		}
		if isPhone(phone) != phonePattern.MatchString(phone) {
			t.Fatalf("isPhone(%q) = %v", phone, isPhone(phone))
		}
		if isJurisdictionCode(code) != jurisdictionPattern.MatchString(code) {
			t.Fatalf("isJurisdictionCode(%q) = %v", code, isJurisdictionCode(code))
		}
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
