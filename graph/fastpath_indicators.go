package graph

import (
	"context"
	"time"

	"github.com/fengcheng/datahub/graph/model"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/vektah/gqlparser/v2/ast"
)

// The fast path of indicators (see FastPath). A year of months for every
// street is about a hundred rows of some twenty figures each: the executor
// spent most of such an answer's CPU on a field context and a goroutine per
// figure, and the answer itself is a loop over what the service returns.
// figure(name:) takes an argument: a query selecting it goes to the
// executor.

var (
	figureFields = fastFields{"__typename": nil, "name": nil, "value": nil, "numerator": nil, "denominator": nil,
		"formula": nil, "suppressed": nil}
	indicatorRowFields = fastFields{"__typename": nil, "periodStart": nil, "periodEnd": nil, "street": nil,
		"community": nil, "department": nil, "kind": nil, "majorCode": nil, "reporterGroup": nil, "figures": figureFields}
)

// fastIndicatorArgs reads indicators' arguments as the executor coerces
// them (a list argument takes a single value too); anything else goes to
// the executor, which reports it.
func fastIndicatorArgs(f *ast.Field, vars map[string]any) (evaluation.Query, bool) {
	var (
		period   string
		from, to time.Time
		groupBy  []evaluation.Dim
		filter   *model.IndicatorFilter
		has      int
	)
	for name, v := range f.ArgumentMap(vars) {
		ok := true
		var err error
		switch name {
		case "period":
			period, ok = v.(string)
			has |= 1
		case "from":
			from, err = model.UnmarshalDateTime(v)
			has |= 2
		case "to":
			to, err = model.UnmarshalDateTime(v)
			has |= 4
		case "groupBy":
			if v != nil {
				groupBy, ok = fastEnums[evaluation.Dim](v)
			}
		case "filter":
			if v != nil {
				filter = &model.IndicatorFilter{}
				m, isMap := v.(map[string]any)
				ok = isMap && fastIndicatorFilter(m, filter)
			}
		default:
			return evaluation.Query{}, false
		}
		if err != nil || !ok {
			return evaluation.Query{}, false
		}
	}
	if has != 7 {
		return evaluation.Query{}, false
	}
	return indicatorQuery(evaluation.Period(period), from, to, groupBy, filter), true
}

// fastIndicatorFilter reads an IndicatorFilter's members as fastFilter
// reads a CaseFilter's; an unknown member goes to the executor.
func fastIndicatorFilter(m map[string]any, f *model.IndicatorFilter) bool {
	for k, v := range m {
		if v == nil {
			continue
		}
		var ok bool
		switch k {
		case "jurisdiction":
			f.Jurisdiction, ok = fastString(v)
		case "majorCode":
			f.MajorCode, ok = fastString(v)
		case "handlingDept":
			f.HandlingDept, ok = fastString(v)
		case "kind":
			var s *string
			if s, ok = fastString(v); ok {
				k := cases.Kind(*s)
				f.Kind = &k
			}
		case "source":
			f.Source, ok = fastEnums[cases.Source](v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// fastIndicators computes the rows; false hands the query to the executor.
func (r *Resolver) fastIndicators(ctx context.Context, w *fastWriter, root *ast.Field, vars map[string]any) (fastValue, bool) {
	q, ok := fastIndicatorArgs(root, vars)
	if !ok {
		return nil, false
	}
	rows, err := r.EvaluationService.Indicators(ctx, q)
	if err != nil {
		return nil, false // the executor meets the same error and reports it
	}
	w.buf.Grow(256 + len(rows)*2048)
	return func(w *fastWriter, set ast.SelectionSet) bool {
		w.buf.WriteByte('[')
		for i := range rows {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if !w.indicatorRow(set, &rows[i]) {
				return false
			}
		}
		w.buf.WriteByte(']')
		return true
	}, true
}

// indicatorRow writes one row as indicatorRow converts it for the executor.
func (w *fastWriter) indicatorRow(set ast.SelectionSet, row *evaluation.Row) bool {
	g := &row.Group
	return w.object(set, "IndicatorRow", func(f *ast.Field) bool {
		switch f.Name {
		case "periodStart":
			w.datetime(row.PeriodStart)
		case "periodEnd":
			w.datetime(row.PeriodEnd)
		case "street":
			w.strOrNull(g.Street)
		case "community":
			w.strOrNull(g.Community)
		case "department":
			w.strOrNull(g.Department)
		case "kind":
			w.strOrNull(g.Kind)
		case "majorCode":
			w.strOrNull(g.MajorCode)
		case "reporterGroup":
			w.strOrNull(g.ReporterGroup)
		case "figures":
			w.buf.WriteByte('[')
			for i := range row.Figures {
				if i > 0 {
					w.buf.WriteByte(',')
				}
				if !w.figure(f.SelectionSet, &row.Figures[i]) {
					return false
				}
			}
			w.buf.WriteByte(']')
		}
		return true
	})
}

// figure writes one figure; numerator and denominator are null when it is
// suppressed.
func (w *fastWriter) figure(set ast.SelectionSet, fig *evaluation.Figure) bool {
	return w.object(set, "Figure", func(f *ast.Field) bool {
		switch f.Name {
		case "name":
			w.str(fig.Name)
		case "value":
			return w.optFloat(fig.Value)
		case "numerator":
			w.countOrNull(fig.Numerator, fig.Suppressed)
		case "denominator":
			w.countOrNull(fig.Denominator, fig.Suppressed)
		case "formula":
			w.str(fig.Formula)
		case "suppressed":
			w.boolean(fig.Suppressed)
		}
		return true
	})
}

// countOrNull writes a figure's count as an Int, or null when hidden.
func (w *fastWriter) countOrNull(n int64, hidden bool) {
	if hidden {
		w.null()
		return
	}
	w.integer(int(n))
}
