package property

import (
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Result is the outcome of one inspection.
type Result string

// Inspection results.
const (
	ResultPass    Result = "PASS"    // 合格
	ResultRectify Result = "RECTIFY" // 责令整改: passes once the findings are put right
	ResultFail    Result = "FAIL"    // 不合格
)

// Valid reports whether r is a known result.
func (r Result) Valid() bool { return r == ResultPass || r == ResultRectify || r == ResultFail }

// Inspector is one entry of the register of inspectors (执法检查人员名录库).
type Inspector struct {
	ID     string
	Name   string
	Dept   string
	Active bool
}

// Inspection is one drawn target of a round with its inspectors and, once
// recorded, its result.
type Inspection struct {
	ID         uuid.UUID
	Round      string
	Rank       int // position in the draw, from 1
	PropertyID uuid.UUID
	// InspectorIDs are the drawn inspectors, sorted. Empty in public
	// listings (anonymous callers): inspectors' identities are not
	// published, the results are.
	InspectorIDs []string
	ScheduledOn  time.Time // a date (UTC midnight)
	// Result is empty until recorded.
	Result     Result
	Findings   string
	RecordedAt *time.Time
	// Published mirrors the round: results of a published round are public.
	Published bool
	Version   int
}

// Round is one double-random inspection round: how it was drawn (seed,
// ratio, inspectors per target and the SHA-256 of each register snapshot,
// enough to replay it) and whether its results are published.
type Round struct {
	Round       string
	PeriodStart time.Time // first day of the period (UTC midnight)
	Dept        string
	Seed        int64
	Ratio       float64
	PerTarget   int
	// RegisterSize is the number of targets in the register when drawn;
	// Drawn how many were drawn.
	RegisterSize  int
	Drawn         int
	PreviousRound string // the latest round recusal looked back at; "" for the first
	// PreviousRounds are all the rounds recusal looked back over, newest
	// first (empty for the first round).
	PreviousRounds []string
	TargetsHash    string
	InspectorsHash string
	DrawnAt        time.Time
	// DrawnBy is the actor who drew; empty in public listings.
	DrawnBy     string
	Published   bool
	PublishedAt *time.Time
}

// roundPattern accepts half-years (2025-H1), quarters (2025-Q3) and months
// (2025-07): the rules ask for at least two rounds a year, and a district
// may hold more.
var roundPattern = regexp.MustCompile(`^(20\d\d)-(H[12]|Q[1-4]|0[1-9]|1[0-2])$`)

// ParseRound returns the first day and the length in months of a round's
// period; ok is false for a malformed round name.
func ParseRound(round string) (start time.Time, months int, ok bool) {
	m := roundPattern.FindStringSubmatch(round)
	if m == nil {
		return time.Time{}, 0, false
	}
	year, _ := strconv.Atoi(m[1])
	var month int
	switch p := m[2]; p[0] {
	case 'H':
		month, months = 1+6*int(p[1]-'1'), 6
	case 'Q':
		month, months = 1+3*int(p[1]-'1'), 3
	default:
		month, _ = strconv.Atoi(p)
		months = 1
	}
	return time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC), months, true
}

// WorkingDays tells working days from rest days; *calendar.Calendar
// implements it (weekends, public holidays and make-up working days).
type WorkingDays interface {
	IsWorkingDay(t time.Time) bool
}

// weekdays is the fallback calendar: Monday to Friday, no holidays.
type weekdays struct{}

func (weekdays) IsWorkingDay(t time.Time) bool {
	wd := t.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// NextWorkingDay returns day itself when it is a working day of cal, else
// the first working day after it (Monday to Friday when cal is nil). day
// is a date at UTC midnight, which falls on the same date in Taizhou.
func NextWorkingDay(cal WorkingDays, day time.Time) time.Time {
	if cal == nil {
		cal = weekdays{}
	}
	// A fortnight without a working day does not exist (the longest
	// holiday, Spring Festival, is 8–9 days); the bound only guards a broken
	// calendar.
	for i := 0; i < 31 && !cal.IsWorkingDay(day); i++ {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// ScheduleDates spreads n inspections over the working days of a round's
// period, in draw order: a date on a rest day (weekend, public holiday)
// moves to the next working day of cal (Monday to Friday when cal is nil),
// a make-up working Saturday stays. The first week is left for notifying the
// targets and the last fortnight for rectification checks before results
// are published. It is deterministic, so a replayed draw gets the same
// dates.
func ScheduleDates(round string, n int, cal WorkingDays) []time.Time {
	start, months, ok := ParseRound(round)
	if !ok || n == 0 {
		return nil
	}
	const lead, tail = 7, 14
	days := int(start.AddDate(0, months, 0).Sub(start).Hours()/24) - lead - tail
	out := make([]time.Time, n)
	for i := range out {
		out[i] = NextWorkingDay(cal, start.AddDate(0, 0, lead+i*days/n))
	}
	return out
}
