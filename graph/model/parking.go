package model

// SharingWindows are a lot's windows as "HH:MM-HH:MM" strings.
type SharingWindows struct {
	Hours         []string `json:"hours"`
	Weekday       []string `json:"weekday"`
	RestDayAllDay bool     `json:"restDayAllDay"`
	RestDay       []string `json:"restDay"`
	NoMovement    *string  `json:"noMovement,omitempty"`
}

// LotContact is whom to call about a lot.
type LotContact struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}
