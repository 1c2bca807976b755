package model

// Reporter is a case's reporter. Jurisdiction is the case's, so field rules
// that a grant raises only in part of the district apply per row.
type Reporter struct {
	Name         *string `json:"name,omitempty"`
	Phone        *string `json:"phone,omitempty"`
	Jurisdiction string  `json:"-"`
}

// RowJurisdiction implements the directive's per-row jurisdiction lookup.
func (r *Reporter) RowJurisdiction() string { return r.Jurisdiction }
