package evaluation

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/rules"
)

// Dim is a dimension indicators can be grouped by.
type Dim string

// Dimensions.
const (
	DimStreet     Dim = "STREET"     // street or town
	DimCommunity  Dim = "COMMUNITY"  // community or village
	DimDepartment Dim = "DEPARTMENT" // the department a case was dispatched to
	DimCaseClass  Dim = "CASE_CLASS" // kind + major class
	// DimReporterGroup is who raised the case, by its source (ReporterGroupOf).
	DimReporterGroup Dim = "REPORTER_GROUP"
)

// Dims lists every dimension.
func Dims() []Dim {
	return []Dim{DimStreet, DimCommunity, DimDepartment, DimCaseClass, DimReporterGroup}
}

// Reporter groups: who raised a case, by its source. Cases record the
// channel, not the person: supervisors and grid staff report through the
// inspector patrol (信息采集监督员), residents through the citizen app and the
// 12345 hotline.
const (
	ReporterSupervisor = "SUPERVISOR" // INSPECTOR_PATROL
	ReporterCitizen    = "CITIZEN"    // CITIZEN_REPORT, HOTLINE_12345
	ReporterAutomated  = "AUTOMATED"  // DRONE_PATROL, VIDEO_ANALYTICS
	ReporterDepartment = "DEPARTMENT" // ENFORCEMENT_TERMINAL, ASSIGNED_BY_SUPERIOR
	ReporterMedia      = "MEDIA"      // MEDIA
)

// reporterGroups maps every source to its reporter group.
var reporterGroups = map[cases.Source]string{
	cases.SourceInspectorPatrol: ReporterSupervisor,
	cases.SourceCitizenReport:   ReporterCitizen, cases.SourceHotline12345: ReporterCitizen,
	cases.SourceDronePatrol: ReporterAutomated, cases.SourceVideoAnalytics: ReporterAutomated,
	cases.SourceEnforcementTerminal: ReporterDepartment, cases.SourceAssignedBySuperior: ReporterDepartment,
	cases.SourceMedia: ReporterMedia,
}

// ReporterGroupOf returns the reporter group of a source (MEDIA for a
// source it does not know: none reaches the rollups, sources are
// validated on the way in).
func ReporterGroupOf(s cases.Source) string {
	if g, ok := reporterGroups[s]; ok {
		return g
	}
	return ReporterMedia
}

// ReporterGroupSQL is ReporterGroupOf as a SQL expression over a source
// column, so the store groups the rollups the same way.
func ReporterGroupSQL(col string) string {
	srcs := make([]string, 0, len(reporterGroups))
	for s := range reporterGroups {
		srcs = append(srcs, string(s))
	}
	slices.Sort(srcs)
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, s := range srcs {
		fmt.Fprintf(&b, " WHEN '%s' THEN '%s'", s, reporterGroups[cases.Source(s)])
	}
	b.WriteString(" ELSE '" + ReporterMedia + "' END")
	return b.String()
}

// Filter narrows indicators. Zero fields do not filter.
type Filter struct {
	// Jurisdiction is a subtree root: the district, a street or a community
	// code (indicators are kept down to the community).
	Jurisdiction string
	Kind         cases.Kind
	// MajorCode needs Kind (major codes repeat across kinds).
	MajorCode    string
	Sources      []cases.Source
	HandlingDept string
}

// caseSpecific reports whether the filter names something only cases have,
// so the other datasets' figures cannot follow it. These are also the
// filters that narrow a cell below its period and jurisdiction, which
// small-cell suppression checks the complement of (see Wide). A new Filter
// field must be listed here (TestFilterNarrowing fails otherwise).
func (f Filter) caseSpecific() bool {
	return f.Kind != "" || f.MajorCode != "" || len(f.Sources) > 0 || f.HandlingDept != ""
}

// Wide returns the filter without its narrowing parts (everything but the
// jurisdiction): the filter of a query's wide read (CellQuery.Wide).
func (f Filter) Wide() Filter { return Filter{Jurisdiction: f.Jurisdiction} }

// Query asks for indicators: one row per period from the period containing
// From to the last period starting before To (periods after the current one
// are not reported), per combination of the GroupBy dimensions.
type Query struct {
	Period  Period
	From    time.Time
	To      time.Time
	GroupBy []Dim
	Filter  Filter
}

// Group is the values of the grouped dimensions of a row ("" for those not
// grouped by).
type Group struct {
	Street     string
	Community  string
	Department string
	Kind       string
	MajorCode  string
	// ReporterGroup is ReporterGroupOf the cases' source.
	ReporterGroup string
}

// Figure is one indicator value with what it was computed from.
type Figure struct {
	Name string
	// Value is nil when the figure is undefined (a zero denominator, a
	// dataset that does not exist yet) or suppressed.
	Value       *float64
	Numerator   int64
	Denominator int64
	Formula     string
	// Suppressed is set when the figure rests on too few cases to show the
	// caller (public callers: 1 to suppressBelow−1 cases, or as few removed
	// by a narrowing filter; see doc.go, "Small cells"): Value, Numerator
	// and Denominator are then empty.
	Suppressed bool
}

// Row is one period and group of indicators.
type Row struct {
	PeriodStart time.Time // first instant of the period (Asia/Shanghai)
	PeriodEnd   time.Time // first instant after it
	Group       Group
	Figures     []Figure
}

// Figure returns the figure of that name.
func (r *Row) Figure(name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

// Figure names, in the order rows list them.
const (
	FigRegistered         = "registered"
	FigDispatched         = "dispatched"
	FigHandlingRate       = "handling_rate"
	FigOnTimeHandlingRate = "on_time_handling_rate"
	FigClosureRate        = "closure_rate"
	FigOnTimeClosureRate  = "on_time_closure_rate"
	FigReworkRate         = "rework_rate"
	FigOverduePendingRate = "overdue_pending_rate"
	FigAvgHandlingHours   = "avg_handling_hours"
	FigP90HandlingHours   = "p90_handling_hours"
	FigSatisfaction       = "satisfaction"
	FigRatingCoverage     = "rating_coverage"
	FigParticipation      = "participation"
	FigReports            = "reports"
	FigValidReportRate    = "valid_report_rate"
	FigDeclinedReportRate = "declined_report_rate"
	FigOnTimeVerifyRate   = "on_time_verification_rate"
	FigOnTimeCheckRate    = "on_time_check_rate"
	FigReturnRate         = "return_rate"
	FigDispatchAccuracy   = "dispatch_accuracy"
	FigDeferralRate       = "deferral_rate"
	FigBacklogRate        = "backlog_rate"
	FigFailedVerification = "failed_verifications"
	FigReworkPerVerify    = "rework_per_verification"
	FigProblemsPerGrid    = "problems_per_grid"
	FigProblemsPerKm2     = "problems_per_km2"
	FigViolationsFound    = "violations_found"
	FigConstructionFound  = "illegal_construction_found"
	FigViolationsDemolish = "violations_demolished"
	FigDemolishedArea     = "demolished_area_m2"
	FigViolationsRemoved  = "violations_removed"
	FigSharedParkingRate  = "shared_parking_opening_rate"
	FigInspectionPassRate = "inspection_pass_rate"
	FigComposite          = "composite"
)

// figureKind says how a figure enters the composite score.
type figureKind int

const (
	kindCount     figureKind = iota // not scorable
	kindRate                        // scored as is
	kindInverted                    // a rate where lower is better: scored 1 − x
	kindStars                       // a mean of 1–5 stars: scored (x − 1) / 4
	kindMagnitude                   // hours, m²: not scorable
)

type figureDef struct {
	name    string
	kind    figureKind
	formula string
}

// figureDefs are the figures in row order with their formulas (see doc.go
// for the definitions of "due to handle" and "due to close").
var figureDefs = []figureDef{
	{FigRegistered, kindCount, "cases registered (立案) in the period"},
	{FigDispatched, kindCount, "cases dispatched (派遣) in the period"},
	{FigHandlingRate, kindRate, "handled in the period / due to handle in the period"},
	{FigOnTimeHandlingRate, kindRate, "handled in the period by the deadline / due to handle in the period"},
	{FigClosureRate, kindRate, "closed in the period / due to close in the period"},
	{FigOnTimeClosureRate, kindRate, "closed in the period by the deadline / due to close in the period"},
	{FigReworkRate, kindInverted, "cases due to close in the period that were reworked at least once / due to close in the period"},
	{FigOverduePendingRate, kindInverted, "open dispatched cases past their deadline and not handled by it / open dispatched cases, at the end of the period (now for the current period)"},
	{FigAvgHandlingHours, kindMagnitude, "Σ working seconds from dispatch to handling / cases handled in the period, in working hours"},
	{FigP90HandlingHours, kindMagnitude, "nearest-rank 90th percentile of working hours from dispatch to handling of cases handled in the period: upper bound of its histogram bucket (numerator: rank, denominator: cases)"},
	{FigSatisfaction, kindStars, "Σ stars / rated cases, over cases closed in the period and rated (1–5)"},
	{FigRatingCoverage, kindRate, "rated cases / cases closed in the period"},
	{FigParticipation, kindRate, "cases raised by citizens (citizen app, 12345 hotline) / cases registered in the period"},
	{FigReports, kindCount, "上报数: reports received in the period (reported_at), whatever became of them"},
	{FigValidReportRate, kindRate, "有效上报率: reports received in the period and registered / reports received in the period and decided (registered or declined)"},
	{FigDeclinedReportRate, kindInverted, "立案准确率 as declined reports / reports: reports received in the period and declined (不予立案) / reports received in the period and decided (registered or declined)"},
	{FigOnTimeVerifyRate, kindRate, "按时核实率: reports received in the period and registered or declined within the class's verification limit / reports received in the period and decided"},
	{FigOnTimeCheckRate, kindRate, "按时核查率: cases closed in the period within the class's verification limit after the last handling / cases closed in the period"},
	{FigReturnRate, kindInverted, "cases dispatched in the period (last dispatch) that the department returned at least once (退回) / cases dispatched in the period"},
	{FigDispatchAccuracy, kindRate, "派遣准确率: cases dispatched in the period never returned / cases dispatched in the period (1 − return rate)"},
	{FigDeferralRate, kindInverted, "延期率: cases dispatched in the period and deferred at least once / cases dispatched in the period"},
	{FigBacklogRate, kindInverted, "挂账率: cases dispatched in the period and now in backlog / cases dispatched in the period"},
	{FigFailedVerification, kindCount, "failed verifications (返工, each counted) of the cases closed in the period: Σ rework_count"},
	{FigReworkPerVerify, kindInverted, "failed verifications / verifications of the cases closed in the period: Σ rework_count / (closed + Σ rework_count)"},
	{FigProblemsPerGrid, kindMagnitude, "cases registered in the period / unit grids (GRID jurisdictions) in the row's jurisdiction"},
	{FigProblemsPerKm2, kindMagnitude, "cases registered in the period / the row's jurisdiction area in km² (denominator: the area in m², rounded)"},
	{FigViolationsFound, kindCount, "violations of every kind discovered in the period (violations.discovered_at)"},
	{FigConstructionFound, kindCount, "illegal constructions (kind ILLEGAL_CONSTRUCTION) discovered in the period"},
	{FigViolationsDemolish, kindCount, "illegal buildings demolished in the period: kind ILLEGAL_CONSTRUCTION, outcome DEMOLISHED, resolved_at in the period (other kinds are violations_removed)"},
	{FigDemolishedArea, kindMagnitude, "Σ m² of illegal buildings demolished in the period (demolished_area_m2, else area_m2); numerator: rounded m², denominator: violations_demolished"},
	{FigViolationsRemoved, kindCount, "street occupation, illegal advertising, dumping and parking violations removed or cleared in the period (outcome DEMOLISHED, resolved_at; not buildings)"},
	{FigSharedParkingRate, kindRate, "government lots open for off-peak sharing (kind GOVERNMENT_SHARED with shared_spaces > 0) / government lots (is_government), registered by the end of the period"},
	{FigInspectionPassRate, kindRate, "inspections recorded in the period with result PASS / inspections recorded in the period with a result"},
}

func defOf(name string) (figureDef, bool) {
	for _, d := range figureDefs {
		if d.name == name {
			return d, true
		}
	}
	return figureDef{}, false
}

// FigureNames returns every figure name, in row order (composite last).
func FigureNames() []string {
	out := make([]string, 0, len(figureDefs)+1)
	for _, d := range figureDefs {
		out = append(out, d.name)
	}
	return append(out, FigComposite)
}

// Formula returns the formula text of a figure ("" if unknown).
func Formula(name string) string {
	d, _ := defOf(name)
	return d.formula
}

// MaxPeriods bounds one query: 10 years of months.
const MaxPeriods = 120

// groupsOf is about how many groups dimension d splits a period into in the
// district (streets and towns, communities and villages, departments, case
// classes by kind and major code); a dimension it does not know counts as
// a thousand.
func groupsOf(d Dim) int {
	switch d {
	case DimStreet:
		return 10
	case DimCommunity:
		return 120
	case DimDepartment:
		return 20
	case DimCaseClass:
		return 30
	case DimReporterGroup:
		return 5
	}
	return 1000
}

// EstimatedRows is about how many rows a query answers at most: periods ×
// the groups of each dimension it is grouped by, sticking at math.MaxInt
// rather than wrapping (a dimension may be named many times before the
// query is validated). The GraphQL cost limit and the indicators workbook
// bound a query by it before anything is read.
func EstimatedRows(periods int, groupBy []Dim) int {
	rows := max(periods, 1)
	for _, d := range groupBy {
		g := groupsOf(d)
		if rows > math.MaxInt/g {
			return math.MaxInt
		}
		rows *= g
	}
	return rows
}

// PeriodCount is how many periods of p a query from from to to covers as
// the service reads it (not past the current period, at most MaxPeriods),
// and at least 1; an invalid range counts as MaxPeriods.
func PeriodCount(p Period, from, to, now time.Time, loc *time.Location) int {
	q := Query{Period: p, From: from, To: to}
	first, end, err := q.validate(now, loc)
	if err != nil {
		return MaxPeriods
	}
	return max(int(end-first)/p.Months(), 1)
}

var (
	majorPattern = regexp.MustCompile(`^[0-9]{2}$`)
)

// validate checks q and returns its first and end months (end exclusive),
// clamped to the current period.
func (q *Query) validate(now time.Time, loc *time.Location) (from, to Month, err error) {
	if !q.Period.Valid() {
		return 0, 0, apperr.Invalid("period", "unknown period %q: use MONTH, QUARTER or YEAR", q.Period)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return 0, 0, apperr.Invalid("from", "give both from and to")
	}
	if !q.To.After(q.From) {
		return 0, 0, apperr.Invalid("to", "to (%s) must be after from (%s)", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	seen := map[Dim]bool{}
	for _, d := range q.GroupBy {
		if !slices.Contains(Dims(), d) {
			return 0, 0, apperr.Invalid("groupBy", "unknown dimension %q: use STREET, COMMUNITY, DEPARTMENT, CASE_CLASS or REPORTER_GROUP", d)
		}
		if seen[d] {
			return 0, 0, apperr.Invalid("groupBy", "dimension %s is listed twice", d)
		}
		seen[d] = true
	}
	f := &q.Filter
	f.Jurisdiction = strings.TrimSpace(f.Jurisdiction)
	if f.Jurisdiction != "" {
		if err := rules.Jurisdiction("filter.jurisdiction", f.Jurisdiction); err != nil {
			return 0, 0, err
		}
		if strings.Count(f.Jurisdiction, ".") > 2 {
			return 0, 0, apperr.Invalid("filter.jurisdiction", "indicators are kept down to the community; %q is below it (use its community %s)",
				f.Jurisdiction, strings.Join(strings.Split(f.Jurisdiction, ".")[:3], "."))
		}
	}
	if f.Kind != "" && f.Kind != cases.KindComponent && f.Kind != cases.KindEvent {
		return 0, 0, apperr.Invalid("filter.kind", "unknown kind %q: use COMPONENT or EVENT", f.Kind)
	}
	if f.MajorCode != "" {
		if f.Kind == "" {
			return 0, 0, apperr.Invalid("filter.majorCode", "a major class code needs a kind: codes repeat across COMPONENT and EVENT")
		}
		if !majorPattern.MatchString(f.MajorCode) {
			return 0, 0, apperr.Invalid("filter.majorCode", "%q is not a two-digit major class code", f.MajorCode)
		}
	}
	for _, s := range f.Sources {
		if !slices.Contains(cases.Sources(), s) {
			return 0, 0, apperr.Invalid("filter.sources", "unknown source %q", s)
		}
	}
	if f.HandlingDept != "" && !rules.DeptCode(f.HandlingDept) {
		return 0, 0, apperr.Invalid("filter.handlingDept", "%q is not a department code", f.HandlingDept)
	}
	from = q.Period.Start(MonthOf(q.From, loc))
	// The last period is the one containing the instant just before To.
	to = q.Period.Start(MonthOf(q.To.Add(-time.Nanosecond), loc)) + Month(q.Period.Months())
	if cur := q.Period.Start(MonthOf(now, loc)) + Month(q.Period.Months()); to > cur {
		to = cur
	}
	if to <= from {
		return from, from, nil
	}
	if n := int(to-from) / q.Period.Months(); n > MaxPeriods {
		return 0, 0, apperr.Invalid("to", "%d periods asked for; at most %d in one query", n, MaxPeriods)
	}
	return from, to, nil
}

// CellQuery is what the store aggregates from the rollups.
type CellQuery struct {
	Period  Period
	From    Month // first month (a period start)
	To      Month // end month, exclusive (a period start)
	GroupBy []Dim
	Filter  Filter
	// Wide also asks for the same cells (period, grouping) under
	// Filter.Wide(), read in the same snapshot as the filtered ones: the
	// complements small-cell suppression checks.
	Wide bool
}

// Cell is the rollup counters of one period and group: flows summed over
// the period's months, stock counters taken from its last month.
type Cell struct {
	Period Month
	Group  Group
	Sum    Counters
}

// LiveQuery asks for the time-dependent part of the current period's
// figures, read from the ledger's open cases at Now.
type LiveQuery struct {
	GroupBy   []Dim
	Filter    Filter
	Now       time.Time
	PeriodEnd time.Time
	// Wide: as CellQuery.Wide.
	Wide bool
}

// LiveCell is the current period's correction for one group.
type LiveCell struct {
	Group Group
	// NotYetDue* count cases the rollups hold as "not handled / closed by
	// the end of the period" whose deadline has not come yet (now ≤
	// deadline < period end): they are not due yet.
	NotYetDueHandle int64
	NotYetDueClose  int64
	NotYetDueRework int64
	// Open and Overdue are the stock now: dispatched, not closed, not in
	// backlog; and of those, past the deadline and not handled by it.
	Open    int64
	Overdue int64
}

// OtherQuery asks for the facts of the other datasets' figures.
type OtherQuery struct {
	Jurisdiction string
	From, To     time.Time
	// Zone is the IANA time zone months are judged in: a store may sum
	// the facts of one month into one.
	Zone string
}

// OtherFacts are the records behind the violations, parking and inspection
// figures. A nil slice with Has* false means the table does not exist (yet).
type OtherFacts struct {
	// Areas are the district, streets and communities under (or above) the
	// query's jurisdiction, for the density figures; nil when the
	// directory was not read.
	Areas          []AreaFact
	HasViolations  bool
	Violations     []ViolationFact
	HasParking     bool
	Lots           []LotFact
	HasInspections bool
	Inspections    []InspectionFact
}

// ViolationFact is N violations of one street and community, discovered
// in one month and, when demolished, demolished in one month (N is 1 for
// a single violation). Only the months of the times count.
type ViolationFact struct {
	Street, Community string
	DiscoveredAt      time.Time
	// DemolishedAt is set when the outcome is DEMOLISHED (resolved_at):
	// a building demolished, or a stall, sign or waste removed.
	DemolishedAt *time.Time
	AreaM2       float64 // the sum of demolished_area_m2, else area_m2, else 0
	// Construction: illegal buildings (kind ILLEGAL_CONSTRUCTION), whose
	// removal is a demolition in m²; the other kinds are removals.
	Construction bool
	N            int64
}

// AreaFact is one jurisdiction's land area (nil when the directory does
// not give it) and how many unit grids lie in it.
type AreaFact struct {
	Code    string
	Level   string // DISTRICT, STREET, TOWN or COMMUNITY
	AreaKM2 *float64
	Grids   int64
}

// areaOf returns the area fact of a row: its community or street when
// grouped by them, else the query's jurisdiction (the district without
// one).
func (o *OtherFacts) areaOf(q *Query, g Group) (AreaFact, bool) {
	code := q.Filter.Jurisdiction
	switch {
	case slices.Contains(q.GroupBy, DimCommunity):
		code = g.Community
	case slices.Contains(q.GroupBy, DimStreet):
		code = g.Street
	}
	for _, a := range o.Areas {
		if (code != "" && a.Code == code) || (code == "" && !q.grouped() && a.Level == "DISTRICT") {
			return a, true
		}
	}
	return AreaFact{}, false
}

// grouped reports whether the query groups by anything.
func (q *Query) grouped() bool { return len(q.GroupBy) > 0 }

// LotFact is one government parking lot.
type LotFact struct {
	Street    string
	Community string // from the lot's jurisdiction path; "" above community level
	CreatedAt time.Time
	Shared    bool // kind GOVERNMENT_SHARED with shared spaces
}

// InspectionFact is one inspection with a recorded result.
type InspectionFact struct {
	Street, Community string
	RecordedAt        time.Time
	Pass              bool
}

// groupOf returns the group of a record given the grouped dimensions.
func groupOf(by []Dim, street, community, dept, kind, major string) Group {
	var g Group
	for _, d := range by {
		switch d {
		case DimStreet:
			g.Street = street
		case DimCommunity:
			g.Community = community
		case DimDepartment:
			g.Department = dept
		case DimCaseClass:
			g.Kind, g.MajorCode = kind, major
		}
	}
	return g
}

// wideRead is the read of a query's cells without its narrowing filters.
type wideRead struct {
	cells []Cell
	live  []LiveCell
}

type rowKey struct {
	period Month
	group  Group
}

type rowAcc struct {
	cell    Counters
	hasCell bool
	live    *LiveCell
	// wide is the same period and group without the query's narrowing
	// filters (public callers with such filters only): the complement of
	// the row is wide − this row.
	wide     *rowAcc
	vFound   int64
	vConstr  int64 // illegal constructions found
	vDemol   int64 // illegal buildings demolished
	vArea    float64
	vRemoved int64 // other violations removed or cleared
	lotsGov  int64
	lotsOpen int64
	insp     int64
	inspPass int64
	area     *AreaFact // the row's jurisdiction, for the density figures
}

// accumulate gathers the store's answers by period and group: the cells of
// p's periods in [from, to) (cells already aggregated to p), the current
// period's live part, the other datasets' facts. wide, when not nil, holds
// the same cells without the query's narrowing filters: it adds no rows,
// only the complements the small-cell rule checks.
func (s *Service) accumulate(q *Query, from, to Month, cells []Cell, live []LiveCell, other *OtherFacts,
	wide *wideRead, now time.Time) map[rowKey]*rowAcc {
	accs := map[rowKey]*rowAcc{}
	get := func(k rowKey) *rowAcc {
		a := accs[k]
		if a == nil {
			a = &rowAcc{}
			accs[k] = a
		}
		return a
	}
	cur := q.Period.Start(MonthOf(now, s.loc))
	for i := range cells {
		c := &cells[i]
		if c.Period < from || c.Period >= to {
			continue
		}
		a := get(rowKey{c.Period, c.Group})
		a.cell.Add(&c.Sum)
		a.hasCell = true
	}
	if cur >= from && cur < to {
		for i := range live {
			l := &live[i]
			a := get(rowKey{cur, l.Group})
			a.live = l
		}
	}
	if other != nil {
		s.addOther(q, from, to, other, get, now)
		for k, a := range accs {
			if af, ok := other.areaOf(q, k.group); ok {
				a.area = &af
			}
		}
	}
	if wide != nil {
		// Every row gets a wide part, empty if the wide read has none (the
		// complements are then negative and the figures hidden).
		for _, a := range accs {
			a.wide = &rowAcc{}
		}
		for i := range wide.cells {
			c := &wide.cells[i]
			if a := accs[rowKey{c.Period, c.Group}]; a != nil {
				a.wide.cell.Add(&c.Sum)
				a.wide.hasCell = true
			}
		}
		if cur >= from && cur < to {
			for i := range wide.live {
				l := &wide.live[i]
				if a := accs[rowKey{cur, l.Group}]; a != nil {
					a.wide.live = l
				}
			}
		}
	}
	return accs
}

// rows computes the figures of accumulated rows, sorted by period and
// group. hidden holds the bases each row's figures must be hidden on (nil
// for callers who see exact figures).
func (s *Service) rows(p Period, accs map[rowKey]*rowAcc, hidden map[rowKey]*hiddenBases, horizon Month,
	other *OtherFacts, now time.Time) []Row {
	loc := s.loc
	cur := p.Start(MonthOf(now, loc))
	rows := make([]Row, 0, len(accs))
	for k, a := range accs {
		r := Row{PeriodStart: k.period.Start(loc), PeriodEnd: (k.period + Month(p.Months())).Start(loc), Group: k.group}
		isCurrent := k.period == cur
		// Stock counters are known for a completed period whose last month
		// ended before the rollups' horizon; for the current period they are
		// read live.
		stockKnown := isCurrent || p.Last(k.period) < horizon
		var h hiddenBases
		if hidden != nil && hidden[k] != nil {
			h = *hidden[k]
		}
		r.Figures = s.figures(p, a, isCurrent, stockKnown, other, &h)
		r.Figures = append(r.Figures, s.composite(k.group.RowKind(), r.Figures))
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.PeriodStart.Equal(b.PeriodStart) {
			return a.PeriodStart.Before(b.PeriodStart)
		}
		ga, gb := a.Group, b.Group
		if ga.Street != gb.Street {
			return ga.Street < gb.Street
		}
		if ga.Community != gb.Community {
			return ga.Community < gb.Community
		}
		if ga.Department != gb.Department {
			return ga.Department < gb.Department
		}
		if ga.Kind != gb.Kind {
			return ga.Kind < gb.Kind
		}
		if ga.MajorCode != gb.MajorCode {
			return ga.MajorCode < gb.MajorCode
		}
		return ga.ReporterGroup < gb.ReporterGroup
	})
	return rows
}

// otherGroupable reports whether the other datasets' figures can follow the
// query's grouping: they know streets and communities only.
func otherGroupable(q *Query) bool {
	for _, d := range q.GroupBy {
		if d != DimStreet && d != DimCommunity {
			return false
		}
	}
	return !q.Filter.caseSpecific()
}

func (s *Service) addOther(q *Query, from, to Month, o *OtherFacts, get func(rowKey) *rowAcc, now time.Time) {
	loc := s.loc
	in := func(t time.Time) (Month, bool) {
		m := q.Period.Start(MonthOf(t, loc))
		return m, m >= from && m < to
	}
	for _, v := range o.Violations {
		g := groupOf(q.GroupBy, v.Street, v.Community, "", "", "")
		if p, ok := in(v.DiscoveredAt); ok {
			a := get(rowKey{p, g})
			a.vFound += v.N
			if v.Construction {
				a.vConstr += v.N
			}
		}
		if v.DemolishedAt != nil {
			if p, ok := in(*v.DemolishedAt); ok {
				a := get(rowKey{p, g})
				if v.Construction {
					a.vDemol += v.N
					a.vArea += v.AreaM2
				} else {
					a.vRemoved += v.N
				}
			}
		}
	}
	for _, i := range o.Inspections {
		g := groupOf(q.GroupBy, i.Street, i.Community, "", "", "")
		if p, ok := in(i.RecordedAt); ok {
			a := get(rowKey{p, g})
			a.insp++
			if i.Pass {
				a.inspPass++
			}
		}
	}
	n := q.Period.Months()
	for p := from; p < to; p += Month(n) {
		end := (p + Month(n)).Start(loc)
		if now.Before(end) {
			end = now
		}
		for _, l := range o.Lots {
			if !l.CreatedAt.Before(end) {
				continue
			}
			a := get(rowKey{p, groupOf(q.GroupBy, l.Street, l.Community, "", "", "")})
			a.lotsGov++
			if l.Shared {
				a.lotsOpen++
			}
		}
	}
}

// base is a case count the small-cell rule judges figures on.
type base int

const (
	bRegistered  base = iota // registered in the period
	bCitizen                 // of those, raised by citizens
	bDispatched              // dispatched in the period
	bDueHandle               // due to handle in the period
	bDueClose                // due to close in the period
	bOpen                    // open at the end of the period
	bHandled                 // handled in the period
	bClosed                  // closed in the period
	bRated                   // of those, rated
	bReported                // reports received in the period
	bDecided                 // of those, registered or declined
	bDeclined                // of those, declined
	bViolFound               // violations discovered in the period
	bViolDemol               // illegal buildings demolished in the period
	bViolConstr              // illegal constructions discovered in the period
	bViolRemoved             // other violations removed in the period
	numBases
)

// numCaseBases: the bases before it count cases and have complements
// under narrowing filters; the violation bases after it do not (their
// figures are empty under such filters).
const numCaseBases = bViolFound

// hiddenBases flags the bases a row's figures must be hidden on.
type hiddenBases [numBases]bool

// bases are a row's case counts by base.
type bases [numBases]int64

// rowBases computes the counts a row's figures are judged on.
func rowBases(p Period, a *rowAcc, current bool) bases {
	b := caseBases(p, a, current)
	b[bViolFound], b[bViolDemol], b[bViolConstr], b[bViolRemoved] = a.vFound, a.vDemol, a.vConstr, a.vRemoved
	return b
}

// caseBases computes the case counts of a row (or of its wide part).
func caseBases(p Period, a *rowAcc, current bool) bases {
	c := &a.cell
	g := Counter(p.grain())
	handleOpen := c[CHandleOpenM+g]
	closeOpen := c[CCloseOpenM+g]
	open := c[COpenEOM]
	if current {
		var live LiveCell
		if a.live != nil {
			live = *a.live
		}
		handleOpen -= live.NotYetDueHandle
		closeOpen -= live.NotYetDueClose
		open = live.Open
	}
	var b bases
	b[bRegistered], b[bCitizen], b[bDispatched] = c[CRegistered], c[CCitizen], c[CDispatched]
	b[bDueHandle] = c[CHandled] + handleOpen
	b[bDueClose] = c[CClosed] + closeOpen
	b[bOpen] = open
	b[bHandled], b[bClosed], b[bRated] = c[CHandled], c[CClosed], c[CRated]
	b[bReported], b[bDecided], b[bDeclined] = c[CReported], c[CReportDecided], c[CReportDeclined]
	return b
}

// smallCells decides which of a row's figures a caller may not see (see
// doc.go, "Small cells").
type smallCells struct {
	k   int   // suppressBelow; 0 for callers who see exact figures
	own bases // the row's counts
	// comp are the complements (wide − own) when the query had narrowing
	// filters, nil otherwise.
	comp *bases
}

// small reports whether n cases are too few to show: 1 to k−1.
func (sc *smallCells) small(n int64) bool { return n > 0 && n < int64(sc.k) }

// hides reports whether a figure judged on the given bases must be hidden:
// one of them, or its complement, counts 1 to k−1 cases. A negative
// complement means the two reads disagree (a refresh between the rollup
// and ledger reads); it cannot be judged, so it hides the figure too.
func (sc *smallCells) hides(bs ...base) bool {
	if sc.k <= 0 {
		return false
	}
	for _, b := range bs {
		if sc.small(sc.own[b]) {
			return true
		}
		if sc.comp != nil && (sc.comp[b] < 0 || sc.small(sc.comp[b])) {
			return true
		}
	}
	return false
}

// judge flags the bases on which a row's figures rest on too few cases
// for a public caller (see doc.go, "Small cells"): own counts and, when
// the row has a wide part, complements. Callers who see exact figures get
// no flags. The period rule (complementPeriods) may flag more.
func (s *Service) judge(p Period, a *rowAcc, current, public bool) hiddenBases {
	var h hiddenBases
	if !public {
		return h
	}
	sc := smallCells{k: s.suppressBelow, own: rowBases(p, a, current)}
	if a.wide != nil {
		w := caseBases(p, a.wide, current)
		for i := range w {
			if base(i) < numCaseBases {
				w[i] -= sc.own[i]
			} else {
				w[i] = 0
			}
		}
		sc.comp = &w
	}
	for b := range h {
		h[b] = sc.hides(base(b))
	}
	return h
}

// figures computes a row's figures, hiding those judged on a base h flags.
func (s *Service) figures(p Period, a *rowAcc, current, stockKnown bool, o *OtherFacts, h *hiddenBases) []Figure {
	c := &a.cell
	b := rowBases(p, a, current)
	otherOK := o != nil
	reworkOpen := c[CReworkOpenM+Counter(p.grain())]
	overdue := c[COverdueEOM]
	if current {
		if a.live != nil {
			reworkOpen -= a.live.NotYetDueRework
			overdue = a.live.Overdue
		} else {
			overdue = 0
		}
	}
	hides := func(bs ...base) bool {
		for _, x := range bs {
			if h[x] {
				return true
			}
		}
		return false
	}
	out := make([]Figure, 0, len(figureDefs)+1)
	add := func(f Figure, hidden bool) {
		if hidden {
			// Value, numerator and denominator all go: either of the
			// latter would give the value away.
			f = Figure{Name: f.Name, Formula: f.Formula, Suppressed: true}
		}
		out = append(out, f)
	}
	count := func(name string, n int64, defined, hidden bool) {
		f := Figure{Name: name, Formula: Formula(name)}
		if defined {
			f.Numerator = n
			f.Value = ptr(float64(n))
		}
		add(f, hidden)
	}
	ratio := func(name string, num, den int64, defined, hidden bool) {
		f := Figure{Name: name, Formula: Formula(name)}
		if defined {
			f.Numerator, f.Denominator = num, den
			if den > 0 {
				f.Value = ptr(float64(num) / float64(den))
			}
		}
		add(f, hidden)
	}
	count(FigRegistered, b[bRegistered], true, hides(bRegistered))
	count(FigDispatched, b[bDispatched], true, hides(bDispatched))
	ratio(FigHandlingRate, c[CHandled], b[bDueHandle], true, hides(bDueHandle))
	ratio(FigOnTimeHandlingRate, c[CHandledOnTime], b[bDueHandle], true, hides(bDueHandle))
	ratio(FigClosureRate, c[CClosed], b[bDueClose], true, hides(bDueClose))
	ratio(FigOnTimeClosureRate, c[CClosedOnTime], b[bDueClose], true, hides(bDueClose))
	ratio(FigReworkRate, c[CReworkClosed]+reworkOpen, b[bDueClose], true, hides(bDueClose))
	ratio(FigOverduePendingRate, overdue, b[bOpen], stockKnown, hides(bOpen))
	{
		f := Figure{Name: FigAvgHandlingHours, Formula: Formula(FigAvgHandlingHours), Numerator: c[CWorkSeconds], Denominator: c[CHandled]}
		if c[CHandled] > 0 {
			f.Value = ptr(round6(float64(c[CWorkSeconds]) / float64(c[CHandled]) / 3600))
		}
		add(f, hides(bHandled))
	}
	{
		f := Figure{Name: FigP90HandlingHours, Formula: Formula(FigP90HandlingHours), Denominator: c[CHandled]}
		if v, rank, ok := p90Hours(c[CHist0 : CHist0+HistBuckets]); ok {
			f.Value, f.Numerator = ptr(v), rank
		}
		add(f, hides(bHandled))
	}
	{
		f := Figure{Name: FigSatisfaction, Formula: Formula(FigSatisfaction), Numerator: c[CRatingSum], Denominator: c[CRated]}
		if c[CRated] > 0 {
			f.Value = ptr(float64(c[CRatingSum]) / float64(c[CRated]))
		}
		add(f, hides(bRated))
	}
	// Ratings and citizen reports are acts of residents: a few of them
	// point at people, and the rated count is what satisfaction is judged
	// on (a sources filter makes registered the citizen-raised count), so
	// these rates are judged on their numerator as well.
	ratio(FigRatingCoverage, b[bRated], b[bClosed], true, hides(bClosed, bRated))
	ratio(FigParticipation, b[bCitizen], b[bRegistered], true, hides(bRegistered, bCitizen))

	// Reports are acts of residents (and of supervisors, a handful per
	// street): the declined ones are judged like the citizen-raised count.
	count(FigReports, b[bReported], true, hides(bReported))
	ratio(FigValidReportRate, b[bDecided]-b[bDeclined], b[bDecided], true, hides(bDecided, bDeclined))
	ratio(FigDeclinedReportRate, b[bDeclined], b[bDecided], true, hides(bDecided, bDeclined))
	ratio(FigOnTimeVerifyRate, c[CReportVerifiedOnTime], b[bDecided], true, hides(bDecided))
	ratio(FigOnTimeCheckRate, c[CCheckedOnTime], b[bClosed], true, hides(bClosed))
	ratio(FigReturnRate, c[CDispatchReturned], b[bDispatched], true, hides(bDispatched))
	ratio(FigDispatchAccuracy, b[bDispatched]-c[CDispatchReturned], b[bDispatched], true, hides(bDispatched))
	ratio(FigDeferralRate, c[CDispatchDeferred], b[bDispatched], true, hides(bDispatched))
	ratio(FigBacklogRate, c[CDispatchBacklog], b[bDispatched], true, hides(bDispatched))
	count(FigFailedVerification, c[CReworksClosed], true, hides(bClosed))
	ratio(FigReworkPerVerify, c[CReworksClosed], c[CClosed]+c[CReworksClosed], true, hides(bClosed))
	{
		// Densities follow the jurisdiction, like the other datasets'
		// figures: empty when grouped by department or class, or filtered
		// by a case property (the directory is not read then).
		grid := Figure{Name: FigProblemsPerGrid, Formula: Formula(FigProblemsPerGrid)}
		km2 := Figure{Name: FigProblemsPerKm2, Formula: Formula(FigProblemsPerKm2)}
		if a.area != nil {
			grid.Numerator, grid.Denominator = b[bRegistered], a.area.Grids
			if a.area.Grids > 0 {
				grid.Value = ptr(round6(float64(b[bRegistered]) / float64(a.area.Grids)))
			}
			if ar := a.area.AreaKM2; ar != nil && *ar > 0 {
				km2.Numerator, km2.Denominator = b[bRegistered], int64(math.Round(*ar*1e6))
				km2.Value = ptr(round6(float64(b[bRegistered]) / *ar))
			}
		}
		add(grid, hides(bRegistered))
		add(km2, hides(bRegistered))
	}

	// The violations figures are not read under narrowing filters (they
	// are empty then), so they have no complement to check.
	vOK := otherOK && o.HasViolations
	count(FigViolationsFound, a.vFound, vOK, hides(bViolFound))
	count(FigConstructionFound, a.vConstr, vOK, hides(bViolConstr))
	count(FigViolationsDemolish, a.vDemol, vOK, hides(bViolDemol))
	{
		f := Figure{Name: FigDemolishedArea, Formula: Formula(FigDemolishedArea)}
		if vOK {
			f.Value = ptr(math.Round(a.vArea*100) / 100)
			f.Numerator, f.Denominator = int64(math.Round(a.vArea)), a.vDemol
		}
		add(f, hides(bViolDemol))
	}
	count(FigViolationsRemoved, a.vRemoved, vOK, hides(bViolRemoved))
	// Parking lots and inspection results are public registers (the
	// double-random results are published by rule): no suppression.
	ratio(FigSharedParkingRate, a.lotsOpen, a.lotsGov, otherOK && o.HasParking, false)
	ratio(FigInspectionPassRate, a.inspPass, a.insp, otherOK && o.HasInspections, false)
	return out
}

func ptr[T any](v T) *T { return &v }

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// String renders a figure for logs and test failures.
func (f Figure) String() string {
	v := "nil"
	if f.Value != nil {
		v = fmt.Sprintf("%g", *f.Value)
	}
	if f.Suppressed {
		v = "suppressed"
	}
	return fmt.Sprintf("%s=%s (%d/%d)", f.Name, v, f.Numerator, f.Denominator)
}
