package ingest

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/google/uuid"
)

// CaseRecord is one case as a department system sends it: a line of an
// NDJSON file, a row of a CSV file, or a single upsert. Its field names in
// files are the json tags' (CSV header names are the same).
type CaseRecord struct {
	// ExternalID is the case's id in the sender's system (required): with
	// the sender's department it identifies the case.
	ExternalID  string
	Kind        cases.Kind
	MinorCode   string
	Source      cases.Source
	Description string
	Address     string
	// Lat and Lng locate the case; NaN means the field was missing.
	Lat, Lng float64
	// Jurisdiction is optional: when empty the case is filed under the
	// grid nearest the point.
	Jurisdiction  string
	ReporterName  string
	ReporterPhone string
	// ReportedAt is optional (zero when missing): a new case is then
	// reported now, an existing one keeps its report time.
	ReportedAt time.Time
	PhotoURLs  []string
}

// CaseFields are the field names of a case record, as NDJSON keys and CSV
// header names.
var CaseFields = []string{"externalId", "kind", "minorCode", "source", "description", "address", "lat", "lng",
	"jurisdiction", "reporterName", "reporterPhone", "reportedAt", "photoUrls"}

// requiredCaseFields must be present as CSV columns.
var requiredCaseFields = []string{"externalId", "kind", "minorCode", "source", "description", "lat", "lng"}

// CaseRow is a validated case record ready to be written.
type CaseRow struct {
	CaseRecord
	// Line is where the row starts in its file (0 for a single upsert).
	Line int64
	// ID is the id the case gets if it is new (UUIDv7, so that new cases
	// are appended to the primary key's index rather than scattered).
	ID uuid.UUID
	// MajorCode is the major class of Kind and MinorCode.
	MajorCode string
}

// District bounds, as in the case service: a case must lie inside Hailing
// District (with margin).
const (
	minLat, maxLat = 32.30, 32.70
	minLng, maxLng = 119.70, 120.15
)

// Limits beyond the case service's own rules.
const (
	maxExternalID = 100
)

// The case service's patterns. Validation runs once per row of files of
// millions of rows, so it matches them by hand (isPhone, isJurisdictionCode);
// the tests check both agree.
var (
	jurisdictionPattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
	phonePattern        = regexp.MustCompile(`^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$`)
)

// isPhone matches phonePattern: a mobile number (1, then 3–9, then 9
// digits) or a landline (0, a 2–3 digit area code, an optional dash, 7–8
// digits).
func isPhone(s string) bool {
	if len(s) == 11 && s[0] == '1' && s[1] >= '3' && s[1] <= '9' && digits(s[2:]) {
		return true
	}
	if len(s) == 0 || s[0] != '0' {
		return false
	}
	for area := 2; area <= 3; area++ {
		if len(s) < 1+area || !digits(s[1:1+area]) {
			continue
		}
		rest := s[1+area:]
		if len(rest) > 0 && rest[0] == '-' {
			rest = rest[1:]
		}
		if (len(rest) == 7 || len(rest) == 8) && digits(rest) {
			return true
		}
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isJurisdictionCode matches jurisdictionPattern: labels of a–z, 0–9 and _
// joined by single dots.
func isJurisdictionCode(s string) bool {
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
			label++
		case c == '.' && label > 0:
			label = 0
		default:
			return false
		}
	}
	return label > 0
}

// Validator checks case records with the rules cases.Service.Report applies
// to a reported case (the same limits, fields and messages), plus what a
// record sent by a system needs: an externalId, finite coordinates, text
// PostgreSQL can store (valid UTF-8 without NUL bytes) and a plausible
// report time.
//
// The case service keeps its rules unexported; until it exports them, this
// duplicates them (minimal logic, same order) and the tests pin both.
type Validator struct {
	classes *cases.Catalogue
	sources map[cases.Source]bool
}

// NewValidator returns a validator over the class catalogue.
func NewValidator(classes *cases.Catalogue) *Validator {
	v := &Validator{classes: classes, sources: make(map[cases.Source]bool)}
	for _, s := range cases.Sources() {
		v.sources[s] = true
	}
	return v
}

// Validate normalizes rec in place (trims text, upper-cases kind and
// source, moves the report time to UTC microseconds) and checks it at
// instant now. It returns the record's class, or BAD_USER_INPUT naming the
// field.
func (v *Validator) Validate(rec *CaseRecord, now time.Time) (cases.Class, error) {
	field, reason := v.check(rec, now)
	if field != "" {
		return cases.Class{}, apperr.Invalid(field, "%s", reason)
	}
	cl, _ := v.classes.Lookup(rec.Kind, rec.MinorCode)
	return cl, nil
}

// ValidateCase is Validate with the built-in class catalogue.
func ValidateCase(rec *CaseRecord, now time.Time) (cases.Class, error) {
	return NewValidator(cases.DefaultCatalogue()).Validate(rec, now)
}

// check returns the offending field and why, or "" when rec is valid. It
// allocates only to describe a problem.
func (v *Validator) check(rec *CaseRecord, now time.Time) (field, reason string) {
	rec.ExternalID = strings.TrimSpace(rec.ExternalID)
	rec.Description = strings.TrimSpace(rec.Description)
	rec.Address = strings.TrimSpace(rec.Address)
	rec.ReporterName = strings.TrimSpace(rec.ReporterName)
	rec.ReporterPhone = strings.TrimSpace(rec.ReporterPhone)
	rec.Jurisdiction = strings.TrimSpace(rec.Jurisdiction)
	rec.MinorCode = strings.TrimSpace(rec.MinorCode)
	rec.Kind = cases.Kind(upper(strings.TrimSpace(string(rec.Kind))))
	rec.Source = cases.Source(upper(strings.TrimSpace(string(rec.Source))))
	if rec.PhotoURLs == nil {
		rec.PhotoURLs = []string{}
	}
	if !rec.ReportedAt.IsZero() {
		rec.ReportedAt = rec.ReportedAt.UTC().Truncate(time.Microsecond)
	}

	// Text PostgreSQL cannot store would fail the whole COPY, not one row.
	for _, f := range [...]struct {
		name string
		val  string
	}{{"externalId", rec.ExternalID}, {"kind", string(rec.Kind)}, {"minorCode", rec.MinorCode}, {"source", string(rec.Source)},
		{"description", rec.Description}, {"address", rec.Address}, {"jurisdiction", rec.Jurisdiction},
		{"reporterName", rec.ReporterName}, {"reporterPhone", rec.ReporterPhone}} {
		if !storable(f.val) {
			return f.name, "not valid UTF-8 text (or contains a NUL character)"
		}
	}
	switch {
	case rec.ExternalID == "":
		return "externalId", "give the case's id in your system (externalId): it is required"
	case utf8.RuneCountInString(rec.ExternalID) > maxExternalID || strings.ContainsFunc(rec.ExternalID, unicode.IsControl):
		return "externalId", fmt.Sprintf("the externalId must be 1 to %d printable characters", maxExternalID)
	}
	// The case service's rules, in its order.
	switch {
	case rec.Description == "":
		return "description", "describe the problem: the description must not be empty"
	case utf8.RuneCountInString(rec.Description) > 2000:
		return "description", "the description is limited to 2000 characters"
	case utf8.RuneCountInString(rec.Address) > 200:
		return "address", "the address is limited to 200 characters"
	case math.IsNaN(rec.Lat):
		return "lat", "give the latitude (lat)"
	case math.IsNaN(rec.Lng):
		return "lng", "give the longitude (lng)"
	case !(rec.Lat >= minLat && rec.Lat <= maxLat && rec.Lng >= minLng && rec.Lng <= maxLng): // also rejects ±Inf
		return "location", fmt.Sprintf("(%.5f, %.5f) is not inside Hailing District (latitude %.2f–%.2f, longitude %.2f–%.2f)",
			rec.Lat, rec.Lng, minLat, maxLat, minLng, maxLng)
	case rec.ReporterPhone != "" && !isPhone(rec.ReporterPhone):
		return "reporterPhone", fmt.Sprintf("%q is not a mobile number (11 digits) or a landline such as 0523-86881234", rec.ReporterPhone)
	case utf8.RuneCountInString(rec.ReporterName) > 50:
		return "reporterName", "the name is limited to 50 characters"
	case len(rec.PhotoURLs) > 9:
		return "photoUrls", "at most 9 photos"
	case rec.Jurisdiction != "" && !isJurisdictionCode(rec.Jurisdiction):
		return "jurisdiction", fmt.Sprintf("%q is not a jurisdiction code such as hailing.chengdong", rec.Jurisdiction)
	case rec.Jurisdiction != "" && !strings.Contains(rec.Jurisdiction, "."):
		return "jurisdiction", "a case must lie in a street or town, not the whole district"
	}
	for i, u := range rec.PhotoURLs {
		if !utf8.ValidString(u) {
			return fmt.Sprintf("photoUrls[%d]", i), "not valid UTF-8 text"
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || len(u) > 500 {
			return fmt.Sprintf("photoUrls[%d]", i), fmt.Sprintf("%q is not an http(s) URL", u)
		}
	}
	if !v.sources[rec.Source] {
		return "source", fmt.Sprintf("unknown source %q", rec.Source)
	}
	if _, ok := v.classes.Lookup(rec.Kind, rec.MinorCode); !ok {
		return "class", fmt.Sprintf("unknown %s class code %q; see the caseClasses query for the catalogue", strings.ToLower(string(rec.Kind)), rec.MinorCode)
	}
	if !rec.ReportedAt.IsZero() {
		if p := recordtime.Problem(rec.ReportedAt, now); p != "" {
			return "reportedAt", p
		}
	}
	return "", ""
}

// storable reports whether PostgreSQL can store s as text.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// upper upper-cases ASCII letters without allocating when s already is.
func upper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'a' <= c && c <= 'z' {
			return strings.ToUpper(s)
		}
	}
	return s
}

// parseTime parses an RFC 3339 report time.
func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func invalidVersion(v int) error {
	return apperr.Invalid("version", "a version is a positive number (or 0 to create only), not %d", v)
}
