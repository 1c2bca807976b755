package cases

import (
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
)

// ReportRules are the rules a reported case's fields obey. Service.Report
// applies them, and bulk ingest applies them to every record a department
// system sends, so a case is held to one set of rules and messages however
// it arrives.
type ReportRules struct {
	// Classes is the class catalogue the case's class must be in.
	Classes *Catalogue
	// StreetLevel refuses a jurisdiction that names the whole district
	// (a code without a dot) along with the other fields. The case service
	// leaves that to the store, after it has looked the code up, so that an
	// unknown code is named unknown; bulk ingest must refuse such a row
	// before it is copied, as the store would fail the whole file.
	StreetLevel bool
}

// Check trims in's text fields and checks them in a fixed order, reporting
// the first problem as BAD_USER_INPUT naming the field, and returns the
// case's class. Whether the jurisdiction exists and the report time are
// the caller's to check. Nothing is allocated unless in is refused.
func (r ReportRules) Check(in *ReportInput) (Class, error) {
	in.Description = strings.TrimSpace(in.Description)
	in.Address = strings.TrimSpace(in.Address)
	in.ReporterName = strings.TrimSpace(in.ReporterName)
	in.ReporterPhone = strings.TrimSpace(in.ReporterPhone)
	if in.Description == "" {
		return Class{}, apperr.Invalid("description", "describe the problem: the description must not be empty")
	}
	if err := rules.MaxText("description", "the description", in.Description, rules.MaxDescription); err != nil {
		return Class{}, err
	}
	if err := rules.Address("address", in.Address); err != nil {
		return Class{}, err
	}
	if err := rules.Location("location", in.Lat, in.Lng); err != nil {
		return Class{}, err
	}
	if err := rules.Phone("reporterPhone", in.ReporterPhone); err != nil {
		return Class{}, err
	}
	if err := rules.MaxText("reporterName", "the name", in.ReporterName, rules.MaxContactName); err != nil {
		return Class{}, err
	}
	if err := rules.PhotoCount("photoUrls", len(in.PhotoURLs)); err != nil {
		return Class{}, err
	}
	if err := rules.OptionalJurisdiction("jurisdiction", in.Jurisdiction); err != nil {
		return Class{}, err
	}
	if r.StreetLevel && in.Jurisdiction != "" && !strings.Contains(in.Jurisdiction, ".") {
		return Class{}, apperr.Invalid("jurisdiction", "a case must lie in a street or town, not the whole district")
	}
	if err := rules.PhotoURLs("photoUrls", in.PhotoURLs); err != nil {
		return Class{}, err
	}
	if !in.Source.Valid() {
		return Class{}, apperr.Invalid("source", "unknown source %q", in.Source)
	}
	cl, ok := r.Classes.Lookup(in.Kind, in.MinorCode)
	if !ok {
		return Class{}, apperr.Invalid("class", "unknown %s class code %q; see the caseClasses query for the catalogue", strings.ToLower(string(in.Kind)), in.MinorCode)
	}
	return cl, nil
}
