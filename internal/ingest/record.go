package ingest

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/recordtime"
	"github.com/fengcheng/datahub/internal/rules"
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

// maxExternalID bounds a record's externalId.
const maxExternalID = rules.MaxExternalID

// Validator checks case records with the rules of a reported case
// (cases.ReportRules: the same limits, fields and messages), plus what a
// record sent by a system needs: an externalId, coordinates, text
// PostgreSQL can store (valid UTF-8 without NUL bytes), a jurisdiction
// below the district and a plausible report time.
type Validator struct {
	rules cases.ReportRules
}

// NewValidator returns a validator over the class catalogue.
func NewValidator(classes *cases.Catalogue) *Validator {
	return &Validator{rules: cases.ReportRules{Classes: classes, StreetLevel: true}}
}

// Validate normalizes rec in place (trims text, upper-cases kind and
// source, moves the report time to UTC microseconds) and checks it at
// instant now. It returns the record's class, or BAD_USER_INPUT naming the
// field.
func (v *Validator) Validate(rec *CaseRecord, now time.Time) (cases.Class, error) {
	cl, field, reason := v.check(rec, now)
	if field != "" {
		return cases.Class{}, apperr.Invalid(field, "%s", reason)
	}
	return cl, nil
}

// ValidateCase is Validate with the built-in class catalogue.
func ValidateCase(rec *CaseRecord, now time.Time) (cases.Class, error) {
	return NewValidator(cases.DefaultCatalogue()).Validate(rec, now)
}

// check returns rec's class, or the offending field and why. It allocates
// only to describe a problem.
func (v *Validator) check(rec *CaseRecord, now time.Time) (cl cases.Class, field, reason string) {
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
			return cases.Class{}, f.name, "not valid UTF-8 text (or contains a NUL character)"
		}
	}
	switch {
	case rec.ExternalID == "":
		return cases.Class{}, "externalId", "give the case's id in your system (externalId): it is required"
	case !rules.PrintableID(rec.ExternalID):
		return cases.Class{}, "externalId", fmt.Sprintf("the externalId must be 1 to %d printable characters", maxExternalID)
	}
	in := cases.ReportInput{Kind: rec.Kind, MinorCode: rec.MinorCode, Source: rec.Source, Description: rec.Description,
		Address: rec.Address, Lat: rec.Lat, Lng: rec.Lng, Jurisdiction: rec.Jurisdiction, ReporterName: rec.ReporterName,
		ReporterPhone: rec.ReporterPhone, PhotoURLs: rec.PhotoURLs}
	cl, err := v.rules.Check(&in)
	if err != nil {
		ae, _ := apperr.As(err)
		// A missing coordinate is NaN in a record: name it rather than
		// the location (the case rules check the location right after
		// the address, where a record's coordinates were checked).
		switch {
		case ae.Field == "location" && math.IsNaN(rec.Lat):
			return cases.Class{}, "lat", "give the latitude (lat)"
		case ae.Field == "location" && math.IsNaN(rec.Lng):
			return cases.Class{}, "lng", "give the longitude (lng)"
		}
		return cases.Class{}, ae.Field, ae.Message
	}
	if !rec.ReportedAt.IsZero() {
		if p := recordtime.Problem(rec.ReportedAt, now); p != "" {
			return cases.Class{}, "reportedAt", p
		}
	}
	return cl, "", ""
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
