package evaluation

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/xuri/excelize/v2"
)

// Suppressed is what a workbook shows in a suppressed cell's value,
// numerator and denominator: text, never 0, so nobody sums it as zero.
const Suppressed = "suppressed"

// figureGroups are the workbook's sheets: one per group of figures.
var figureGroups = []struct{ sheet, about string }{
	{"handling", "case handling: registered, dispatched, handling, closure, rework (per case and per failed verification) and overdue rates"},
	{"handling_time", "working hours from dispatch to handling"},
	{"citizens", "citizen satisfaction, rating coverage and participation"},
	{"reporting", "reports (上报数), valid and declined reports, on-time verification (核实) and on-time checks (核查)"},
	{"dispatch", "dispatch accuracy and returns, deferral and backlog rates"},
	{"density", "problems registered per unit grid and per km²"},
	{"other_datasets", "violations, shared parking, inspections"},
	{"composite", "the composite score"},
}

func figureGroup(name string) string {
	switch name {
	case FigAvgHandlingHours, FigP90HandlingHours:
		return "handling_time"
	case FigSatisfaction, FigRatingCoverage, FigParticipation:
		return "citizens"
	case FigReports, FigValidReportRate, FigDeclinedReportRate, FigOnTimeVerifyRate, FigOnTimeCheckRate:
		return "reporting"
	case FigReturnRate, FigDispatchAccuracy, FigDeferralRate, FigBacklogRate:
		return "dispatch"
	case FigProblemsPerGrid, FigProblemsPerKm2:
		return "density"
	case FigViolationsFound, FigConstructionFound, FigViolationsDemolish, FigDemolishedArea, FigViolationsRemoved,
		FigSharedParkingRate, FigInspectionPassRate:
		return "other_datasets"
	case FigComposite:
		return "composite"
	}
	return "handling"
}

// MaxWorkbookRows bounds the rows of one indicators workbook (by
// EstimatedRows): a year of months for every community and department
// fits, a decade of months for every community and case class does not.
const MaxWorkbookRows = 30_000

// IndicatorsWorkbook writes the indicators of q as an XLSX workbook: an
// "about" sheet (query, policy and weights versions, suppression rule), one
// sheet per figure group with each figure's value, numerator and
// denominator side by side, suppressed cells marked "suppressed" (never 0),
// and a "definitions" sheet with every formula. The versions are also in
// every sheet's printed header. Permissions and errors are those of
// Indicators.
func (s *Service) IndicatorsWorkbook(ctx context.Context, q Query, w io.Writer) error {
	// The workbook is built in memory: bound it before anything is read,
	// as the GraphQL cost limit bounds the indicators query.
	first, end, err := q.validate(s.now(), s.loc)
	if err != nil {
		return err
	}
	if n := EstimatedRows(int(end-first)/q.Period.Months(), q.GroupBy); n > MaxWorkbookRows {
		e := apperr.Invalid("groupBy", "this workbook would hold about %d rows, more than the %d one workbook may: ask for fewer periods or dimensions, or narrow the filter",
			n, MaxWorkbookRows)
		e.Extra = map[string]any{"maxRows": MaxWorkbookRows}
		return e
	}
	rows, err := s.Indicators(ctx, q)
	if err != nil {
		return err
	}
	weights := "none"
	if s.weights != nil {
		weights = s.weights.Version
	}
	f := excelize.NewFile()
	defer f.Close() //nolint:errcheck // in-memory workbook
	header := fmt.Sprintf("&Lpolicy %s&Rweights %s", s.policyVersion, weights)
	if err := f.SetSheetName("Sheet1", "about"); err != nil {
		return fmt.Errorf("indicators workbook: %w", err)
	}
	groupBy := make([]string, len(q.GroupBy))
	for i, d := range q.GroupBy {
		groupBy[i] = string(d)
	}
	about := [][2]any{
		{"period", string(q.Period)}, {"from (" + s.loc.String() + ")", q.From.In(s.loc).Format(time.DateTime)},
		{"to (" + s.loc.String() + ")", q.To.In(s.loc).Format(time.DateTime)}, {"group by", strings.Join(groupBy, ",")},
		{"filter: jurisdiction", q.Filter.Jurisdiction}, {"filter: kind", string(q.Filter.Kind)}, {"filter: major code", q.Filter.MajorCode},
		{"filter: handling department", q.Filter.HandlingDept},
		{"policy version", s.policyVersion}, {"weights version", weights}, {"rules version", strconv.Itoa(RulesVersion)},
		{"generated at (UTC)", s.now().UTC().Format(time.RFC3339)},
		{"suppressed", fmt.Sprintf("a cell marked %q rests on 1–%d cases and is withheld (value, numerator and denominator); an empty value is undefined (zero denominator)", Suppressed, s.suppressBelow-1)},
		{"period_start, period_end", "first instant of the period and first instant after it, local time in " + s.loc.String()},
	}
	for i, kv := range about {
		if err := f.SetSheetRow("about", "A"+strconv.Itoa(i+1), &[]any{kv[0], kv[1]}); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
	}
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm")})
	if err != nil {
		return fmt.Errorf("indicators workbook: %w", err)
	}
	excelTime := func(t time.Time) excelize.Cell {
		l := t.In(s.loc)
		wall := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
		return excelize.Cell{StyleID: date, Value: wall.Sub(excelEpoch).Hours() / 24}
	}
	names := FigureNames()
	for _, g := range figureGroups {
		if _, err := f.NewSheet(g.sheet); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
		if err := f.SetHeaderFooter(g.sheet, &excelize.HeaderFooterOptions{OddHeader: header}); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
		sw, err := f.NewStreamWriter(g.sheet)
		if err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
		hd := []any{"period_start (" + s.loc.String() + ")", "period_end (" + s.loc.String() + ")", "street_code", "community_code", "handling_dept", "kind", "major_code", "reporter_group"}
		var figs []string
		for _, n := range names {
			if figureGroup(n) == g.sheet {
				figs = append(figs, n)
				hd = append(hd, n, n+"_numerator", n+"_denominator")
			}
		}
		if err := sw.SetRow("A1", hd); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
		for i, r := range rows {
			cells := []any{excelTime(r.PeriodStart), excelTime(r.PeriodEnd), r.Group.Street, r.Group.Community, r.Group.Department, r.Group.Kind, r.Group.MajorCode, r.Group.ReporterGroup}
			for _, n := range figs {
				fig, _ := r.Figure(n)
				switch {
				case fig.Suppressed:
					cells = append(cells, Suppressed, Suppressed, Suppressed)
				case fig.Value == nil:
					cells = append(cells, nil, fig.Numerator, fig.Denominator)
				default:
					cells = append(cells, *fig.Value, fig.Numerator, fig.Denominator)
				}
			}
			if err := sw.SetRow("A"+strconv.Itoa(i+2), cells); err != nil {
				return fmt.Errorf("indicators workbook: %w", err)
			}
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
	}
	if _, err := f.NewSheet("definitions"); err != nil {
		return fmt.Errorf("indicators workbook: %w", err)
	}
	if err := f.SetSheetRow("definitions", "A1", &[]any{"figure", "sheet", "formula"}); err != nil {
		return fmt.Errorf("indicators workbook: %w", err)
	}
	for i, n := range names {
		formula := Formula(n)
		if n == FigComposite && s.weights != nil {
			formula = s.weights.Formula(RowArea) + "; department rows: " + s.weights.Formula(RowDepartment)
		}
		if err := f.SetSheetRow("definitions", "A"+strconv.Itoa(i+2), &[]any{n, figureGroup(n), formula}); err != nil {
			return fmt.Errorf("indicators workbook: %w", err)
		}
	}
	if err := f.SetDocProps(&excelize.DocProperties{Title: "Fengcheng evaluation indicators",
		Description: "policy " + s.policyVersion + "; weights " + weights}); err != nil {
		return fmt.Errorf("indicators workbook: %w", err)
	}
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("indicators workbook: write: %w", err)
	}
	return nil
}
