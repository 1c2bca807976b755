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
	RegisterSize   int
	Drawn          int
	PreviousRound  string // the round recusal looked back at; "" for the first
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

// ScheduleDates spreads n inspections over the working weeks of a round's
// period (weekends move to Monday), in draw order: the first week is left
// for notifying the targets and the last fortnight for rectification checks
// before results are published. It is deterministic, so a replayed draw gets
// the same dates.
func ScheduleDates(round string, n int) []time.Time {
	start, months, ok := ParseRound(round)
	if !ok || n == 0 {
		return nil
	}
	const lead, tail = 7, 14
	days := int(start.AddDate(0, months, 0).Sub(start).Hours()/24) - lead - tail
	out := make([]time.Time, n)
	for i := range out {
		d := start.AddDate(0, 0, lead+i*days/n)
		switch d.Weekday() {
		case time.Saturday:
			d = d.AddDate(0, 0, 2)
		case time.Sunday:
			d = d.AddDate(0, 0, 1)
		}
		out[i] = d
	}
	return out
}
