package model

import (
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
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

// NewIndicatorRows converts rows for the schema.
func NewIndicatorRows(rows []evaluation.Row) []*IndicatorRow {
	out := make([]*IndicatorRow, len(rows))
	for i := range rows {
		out[i] = newIndicatorRow(&rows[i])
	}
	return out
}

func newIndicatorRow(r *evaluation.Row) *IndicatorRow {
	g := r.Group
	row := &IndicatorRow{PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, Street: nonEmpty(g.Street),
		Community: nonEmpty(g.Community), Department: nonEmpty(g.Department), MajorCode: nonEmpty(g.MajorCode),
		ReporterGroup: nonEmpty(g.ReporterGroup), Figures: make([]*Figure, len(r.Figures))}
	if g.Kind != "" {
		k := cases.Kind(g.Kind)
		row.Kind = &k
	}
	// One allocation for the row's figures and one for their counts.
	figs := make([]Figure, len(r.Figures))
	counts := make([]int, 2*len(r.Figures))
	for i, f := range r.Figures {
		figs[i] = Figure{Name: f.Name, Value: f.Value, Formula: f.Formula, Suppressed: f.Suppressed}
		if !f.Suppressed {
			counts[2*i], counts[2*i+1] = int(f.Numerator), int(f.Denominator)
			figs[i].Numerator, figs[i].Denominator = &counts[2*i], &counts[2*i+1]
		}
		row.Figures[i] = &figs[i]
	}
	return row
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

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
