package evaluation

import (
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Period is the length of the periods indicators are reported for. Periods
// are calendar months, quarters and years in Asia/Shanghai time.
type Period string

// Periods.
const (
	PeriodMonth   Period = "MONTH"
	PeriodQuarter Period = "QUARTER"
	PeriodYear    Period = "YEAR"
)

// Months returns how many months one period spans.
func (p Period) Months() int {
	switch p {
	case PeriodQuarter:
		return 3
	case PeriodYear:
		return 12
	default:
		return 1
	}
}

// Valid reports whether p is a known period.
func (p Period) Valid() bool { return p == PeriodMonth || p == PeriodQuarter || p == PeriodYear }

// grain is the index of p among the three periods: 0 month, 1 quarter,
// 2 year. Counters that depend on "by the end of the period" are kept once
// per grain.
func (p Period) grain() int {
	switch p {
	case PeriodQuarter:
		return 1
	case PeriodYear:
		return 2
	default:
		return 0
	}
}

// Start returns the first month of the period containing m.
func (p Period) Start(m Month) Month {
	switch p {
	case PeriodQuarter:
		return m - Month(int(m)%12%3)
	case PeriodYear:
		return m - Month(int(m)%12)
	default:
		return m
	}
}

// Last returns the last month of the period starting at or containing m.
func (p Period) Last(m Month) Month { return p.Start(m) + Month(p.Months()-1) }

// ParsePeriod validates a period name.
func ParsePeriod(s string) (Period, error) {
	p := Period(s)
	if !p.Valid() {
		return "", apperr.Invalid("period", "unknown period %q: use MONTH, QUARTER or YEAR", s)
	}
	return p, nil
}

// Month is a calendar month, counted from January of year 0 (year×12 +
// month−1). Months are judged in the evaluation time zone (Asia/Shanghai):
// a case closed at 23:30 local time on 31 March closes in March.
type Month int32

// MonthOf returns the month containing t in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	lt := t.In(loc)
	return Month(lt.Year()*12 + int(lt.Month()) - 1)
}

// MonthFromDate returns the month of a date read from SQL (its Y-M-D, any
// location).
func MonthFromDate(d time.Time) Month { return Month(d.Year()*12 + int(d.Month()) - 1) }

// Year returns the month's year.
func (m Month) Year() int { return int(m) / 12 }

// Mon returns the month of the year.
func (m Month) Mon() time.Month { return time.Month(int(m)%12 + 1) }

// Date returns the month's first day as a UTC midnight (the SQL date the
// rollups key on).
func (m Month) Date() time.Time { return time.Date(m.Year(), m.Mon(), 1, 0, 0, 0, 0, time.UTC) }

// Start returns the instant the month begins in loc.
func (m Month) Start(loc *time.Location) time.Time {
	return time.Date(m.Year(), m.Mon(), 1, 0, 0, 0, 0, loc)
}

// String formats the month as 2025-06.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year(), int(m.Mon())) }

// periodEnd returns the instant the period of grain g containing m ends.
func periodEnd(m Month, g int, loc *time.Location) time.Time {
	var last Month
	switch g {
	case 1:
		last = PeriodQuarter.Last(m)
	case 2:
		last = PeriodYear.Last(m)
	default:
		last = m
	}
	return (last + 1).Start(loc)
}
