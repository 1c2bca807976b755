package model

import (
	"time"

	"github.com/fengcheng/datahub/internal/cases"
)

// IndicatorRow is an evaluation.Row as the schema shows it. Its fields are
// plain data filled in before marshalling, so the executor writes a year
// of rows without a resolver call (and a goroutine) for each field of
// each of their figures; only figure(name:) is resolved.
type IndicatorRow struct {
	PeriodStart   time.Time
	PeriodEnd     time.Time
	Street        *string
	Community     *string
	Department    *string
	Kind          *cases.Kind
	MajorCode     *string
	ReporterGroup *string
	Figures       []*Figure
}

// Figure is an evaluation.Figure as the schema shows it: numerator and
// denominator are null when the figure is suppressed.
type Figure struct {
	Name        string
	Value       *float64
	Numerator   *int
	Denominator *int
	Formula     string
	Suppressed  bool
}

// Figure returns the figure of that name.
func (r *IndicatorRow) Figure(name string) (*Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}
