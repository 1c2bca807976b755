package model

// PropertyManagement is a compound's management company. Jurisdiction is the
// compound's, for field rules raised by a grant in part of the district.
type PropertyManagement struct {
	Company      string  `json:"company"`
	CreditCode   string  `json:"creditCode"`
	ContactName  *string `json:"contactName,omitempty"`
	ContactPhone *string `json:"contactPhone,omitempty"`
	Jurisdiction string  `json:"-"`
}

// RowJurisdiction implements the directive's per-row jurisdiction lookup.
func (m *PropertyManagement) RowJurisdiction() string { return m.Jurisdiction }
