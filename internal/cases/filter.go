package cases

import (
	"slices"
	"strings"
	"time"
)

// Matches reports whether c passes f at now, the same test the store runs
// in SQL (subscriptions filter single changed records with it).
func (f Filter) Matches(c *Case, now time.Time) bool {
	switch {
	case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, c.Status),
		f.Open != nil && *f.Open != c.Status.Open(),
		f.Kind != "" && f.Kind != c.Kind,
		f.MajorCode != "" && f.MajorCode != c.MajorCode,
		f.MinorCode != "" && f.MinorCode != c.MinorCode,
		len(f.Sources) > 0 && !slices.Contains(f.Sources, c.Source),
		f.Jurisdiction != "" && c.JurisdictionCode != f.Jurisdiction && !strings.HasPrefix(c.JurisdictionCode, f.Jurisdiction+"."),
		f.HandlingDept != "" && f.HandlingDept != c.HandlingDept,
		f.Overdue != nil && *f.Overdue != c.Overdue(now),
		f.ReportedFrom != nil && c.ReportedAt.Before(*f.ReportedFrom),
		f.ReportedTo != nil && !c.ReportedAt.Before(*f.ReportedTo),
		f.ClosedFrom != nil && (c.ClosedAt == nil || c.ClosedAt.Before(*f.ClosedFrom)),
		f.ClosedTo != nil && (c.ClosedAt == nil || !c.ClosedAt.Before(*f.ClosedTo)),
		f.Text != "" && !strings.Contains(strings.ToLower(c.Description), strings.ToLower(f.Text)),
		f.CitizenID != "" && f.CitizenID != c.CitizenID:
		return false
	}
	return true
}
