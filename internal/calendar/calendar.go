// Package calendar is the working-time and holiday calendar of the hub.
//
// Case deadlines in the digital urban-management catalogue are counted in
// working hours and working days ("dirty road: 5 working hours", "illegal
// construction: 15 working days"), and shared parking opens on rest days.
// Both need the same answers: is this date a working day, and when does a
// given amount of working time, counted from an instant, run out.
//
// All rules are in Asia/Shanghai local time. A working day is a Monday to
// Friday that is not a holiday, or a Saturday or Sunday that the State
// Council made an official make-up working day (调休). On a working day,
// working time is the union of the configured windows, by default 08:30–12:00
// and 13:30–17:30. Inputs and outputs are instants (time.Time) in any
// location; callers usually store them in UTC.
//
// A Calendar is immutable after construction and safe for concurrent use.
package calendar

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai must resolve on hosts without system tzdata.
)

// LocationName is the time zone in which all calendar rules are evaluated.
const LocationName = "Asia/Shanghai"

// ErrInvalid is wrapped by every error that reports an invalid Config or
// calendar file, so callers can tell bad configuration from I/O failures.
var ErrInvalid = errors.New("invalid calendar configuration")

// Window is one working period of a working day, as offsets from local
// midnight: Start inclusive, End exclusive. End may be 24h.
type Window struct {
	Start time.Duration
	End   time.Duration
}

// String formats the window as "08:30-12:00" (seconds are shown when set).
func (w Window) String() string {
	return formatClock(w.Start) + "-" + formatClock(w.End)
}

// DefaultWindows returns the standard office hours of Hailing District
// government departments: 08:30–12:00 and 13:30–17:30 (7.5 working hours).
func DefaultWindows() []Window {
	return []Window{
		{Start: 8*time.Hour + 30*time.Minute, End: 12 * time.Hour},
		{Start: 13*time.Hour + 30*time.Minute, End: 17*time.Hour + 30*time.Minute},
	}
}

// Date is a civil date (no time, no zone).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a date in the form "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("parse date %q: want YYYY-MM-DD: %w", s, ErrInvalid)
	}
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}, nil
}

// String formats the date as "2006-01-02".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// valid reports whether d names a real date (not 2025-02-30).
func (d Date) valid() bool {
	y, m, dd := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Date()
	return y == d.Year && m == d.Month && dd == d.Day
}

// Config describes a calendar. The zero Config is a calendar of plain
// Monday–Friday working weeks with the default windows.
type Config struct {
	// Holidays are dates off work: public holidays and the weekdays moved
	// into them (e.g. 2025-10-01 … 2025-10-08). Weekend dates may be listed;
	// they are rest days anyway.
	Holidays []Date
	// ExtraWorkdays are Saturdays or Sundays that are official make-up
	// working days (调休), e.g. 2025-09-28. Any other weekday is rejected,
	// because it is always a typo: weekdays are working days already.
	ExtraWorkdays []Date
	// Windows are the working periods of every working day, in ascending
	// order and non-overlapping (touching is allowed). Empty means
	// DefaultWindows.
	Windows []Window
}

// Calendar answers working-day and working-time questions. Create it with
// New, Default, Load or Parse; the zero value is not usable.
type Calendar struct {
	loc     *time.Location
	windows []Window
	// dayLen is the working time of one working day, the sum of windows.
	dayLen time.Duration
	// status holds the dates whose status differs from, or is stated on top
	// of, the weekday rule: true for make-up working days, false for
	// holidays.
	status map[dayNum]bool
	// special is the sorted key set of status. Spans of whole weeks free of
	// special dates always hold exactly five working days, which lets the
	// arithmetic skip them without looking at each day.
	special []dayNum
}

// New validates cfg and builds a Calendar in Asia/Shanghai time. Errors wrap
// ErrInvalid and name the offending window or date.
func New(cfg Config) (*Calendar, error) {
	loc, err := time.LoadLocation(LocationName)
	if err != nil {
		return nil, fmt.Errorf("calendar: load location %s: %w", LocationName, err)
	}
	windows := cfg.Windows
	if len(windows) == 0 {
		windows = DefaultWindows()
	}
	if err := validateWindows(windows); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	c := &Calendar{
		loc:     loc,
		windows: slices.Clone(windows),
		status:  make(map[dayNum]bool, len(cfg.Holidays)+len(cfg.ExtraWorkdays)),
	}
	for _, w := range windows {
		c.dayLen += w.End - w.Start
	}
	for _, d := range cfg.Holidays {
		if !d.valid() {
			return nil, fmt.Errorf("calendar: holiday %s: no such date: %w", d, ErrInvalid)
		}
		c.status[dayOf(d)] = false
	}
	for _, d := range cfg.ExtraWorkdays {
		if !d.valid() {
			return nil, fmt.Errorf("calendar: extra workday %s: no such date: %w", d, ErrInvalid)
		}
		n := dayOf(d)
		if wd := n.weekday(); wd != time.Saturday && wd != time.Sunday {
			return nil, fmt.Errorf("calendar: extra workday %s is a %s; only a Saturday or Sunday can be a make-up working day: %w", d, wd, ErrInvalid)
		}
		if working, ok := c.status[n]; ok && !working {
			return nil, fmt.Errorf("calendar: %s is both a holiday and an extra workday: %w", d, ErrInvalid)
		}
		c.status[n] = true
	}
	c.special = make([]dayNum, 0, len(c.status))
	for n := range c.status {
		c.special = append(c.special, n)
	}
	slices.Sort(c.special)
	return c, nil
}

func validateWindows(ws []Window) error {
	for i, w := range ws {
		switch {
		case w.Start < 0 || w.End > 24*time.Hour:
			return fmt.Errorf("window %d (%s): outside 00:00-24:00: %w", i, w, ErrInvalid)
		case w.Start >= w.End:
			return fmt.Errorf("window %d (%s): start not before end: %w", i, w, ErrInvalid)
		case i > 0 && w.Start < ws[i-1].End:
			return fmt.Errorf("window %d (%s): overlaps or precedes window %d (%s); list windows in ascending order without overlap: %w", i, w, i-1, ws[i-1], ErrInvalid)
		}
	}
	return nil
}

// Location returns the time zone of the calendar's rules (Asia/Shanghai).
func (c *Calendar) Location() *time.Location { return c.loc }

// Windows returns a copy of the working windows of a working day.
func (c *Calendar) Windows() []Window { return slices.Clone(c.windows) }

// WorkdayLength returns the working time of one working day (7h30m with the
// default windows); AddWorkingDays counts in multiples of it.
func (c *Calendar) WorkdayLength() time.Duration { return c.dayLen }

// IsWorkingDay reports whether t falls, in local time, on a working day:
// a Monday to Friday that is not a holiday, or a make-up working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	n, _ := c.local(t)
	return c.working(n)
}

// IsRestDay reports whether t falls, in local time, on a rest day: a
// weekend day or holiday that is not a make-up working day. It is the
// negation of IsWorkingDay.
func (c *Calendar) IsRestDay(t time.Time) bool { return !c.IsWorkingDay(t) }

// IsWorkingTime reports whether t lies inside a working window of a working
// day. Windows are half-open: 12:00 itself is not working time.
func (c *Calendar) IsWorkingTime(t time.Time) bool {
	n, clock := c.local(t)
	if !c.working(n) {
		return false
	}
	for _, w := range c.windows {
		if clock >= w.Start && clock < w.End {
			return true
		}
	}
	return false
}

// working reports whether local date n is a working day.
func (c *Calendar) working(n dayNum) bool {
	if w, ok := c.status[n]; ok {
		return w
	}
	wd := n.weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// local returns t's local date and its wall-clock offset from midnight.
func (c *Calendar) local(t time.Time) (dayNum, time.Duration) {
	lt := t.In(c.loc)
	y, m, d := lt.Date()
	h, mi, s := lt.Clock()
	clock := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(lt.Nanosecond())
	return dayOf(Date{Year: y, Month: m, Day: d}), clock
}

// instant returns the instant at wall-clock offset clock on local date n.
// Building it from wall-clock fields (rather than midnight plus a duration)
// keeps 08:30 at 08:30 even on a day with a zone transition.
func (c *Calendar) instant(n dayNum, clock time.Duration) time.Time {
	d := n.date()
	h := clock / time.Hour
	clock -= h * time.Hour
	m := clock / time.Minute
	clock -= m * time.Minute
	s := clock / time.Second
	clock -= s * time.Second
	return time.Date(d.Year, d.Month, d.Day, int(h), int(m), int(s), int(clock), c.loc)
}

// dayNum is a local date as days since 1970-01-01. Plain integers make
// date arithmetic and map keys cheap.
type dayNum int64

func dayOf(d Date) dayNum {
	secs := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix()
	return dayNum(floorDiv(secs, 86400))
}

func (n dayNum) date() Date {
	y, m, d := time.Unix(int64(n)*86400, 0).UTC().Date()
	return Date{Year: y, Month: m, Day: d}
}

func (n dayNum) weekday() time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(floorMod(int64(n)+int64(time.Thursday), 7))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func formatClock(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	h := d / time.Hour
	m := (d % time.Hour) / time.Minute
	s := d % time.Minute
	var b strings.Builder
	fmt.Fprintf(&b, "%s%02d:%02d", neg, h, m)
	if s != 0 {
		fmt.Fprintf(&b, ":%02d", s/time.Second)
		if ns := s % time.Second; ns != 0 {
			fmt.Fprintf(&b, ".%09d", ns)
		}
	}
	return b.String()
}
