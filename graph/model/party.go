package model

// Party is a violation's responsible party. Jurisdiction is the
// violation's, for field rules raised by a grant in part of the district.
type Party struct {
	Name         *string `json:"name,omitempty"`
	IDNumber     *string `json:"idNumber,omitempty"`
	Phone        *string `json:"phone,omitempty"`
	Jurisdiction string  `json:"-"`
}

// RowJurisdiction implements the directive's per-row jurisdiction lookup.
func (p *Party) RowJurisdiction() string { return p.Jurisdiction }
