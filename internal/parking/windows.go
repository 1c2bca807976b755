package parking

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Clock is a time of day in Asia/Shanghai local time, in minutes after
// midnight: 0 (00:00) to 1440 (24:00, the end of the day).
type Clock int

// Clock bounds.
const (
	Midnight Clock = 0
	EndOfDay Clock = 24 * 60
)

// At returns the clock hh:mm.
func At(hh, mm int) Clock { return Clock(hh*60 + mm) }

// String formats the clock as "07:30" ("24:00" for the end of the day).
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

func parseClock(s string) (Clock, bool) {
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return At(h, m), true
}

// Range is a daily window [From, To) in local time. To before From means
// the window crosses midnight: 18:30–07:30 covers the evening from 18:30 and
// the early morning until 07:30. 00:00–24:00 is the whole day.
type Range struct {
	From Clock
	To   Clock
}

// AllDay is the whole day, 00:00–24:00.
var AllDay = Range{From: Midnight, To: EndOfDay}

// ParseRange parses "18:30-07:30" (an en dash or "~" also separates).
func ParseRange(s string) (Range, error) {
	norm := strings.NewReplacer("–", "-", "—", "-", "~", "-", "～", "-").Replace(strings.TrimSpace(s))
	a, b, ok := strings.Cut(norm, "-")
	from, ok1 := parseClock(a)
	to, ok2 := parseClock(b)
	if !ok || !ok1 || !ok2 {
		return Range{}, fmt.Errorf("%q is not a time window such as 18:30-07:30", s)
	}
	r := Range{From: from, To: to}
	if err := r.validate(); err != nil {
		return Range{}, fmt.Errorf("%q: %w", s, err)
	}
	return r, nil
}

// MustRange parses a range or panics (literals in code and tests).
func MustRange(s string) Range {
	r, err := ParseRange(s)
	if err != nil {
		panic(err)
	}
	return r
}

func (r Range) validate() error {
	switch {
	case r.From < Midnight || r.From >= EndOfDay:
		return fmt.Errorf("a window starts between 00:00 and 23:59")
	case r.To <= Midnight || r.To > EndOfDay:
		return fmt.Errorf("a window ends between 00:01 and 24:00")
	case r.From == r.To:
		return fmt.Errorf("a window must not be empty; write 00:00-24:00 for the whole day")
	}
	return nil
}

// String formats the range as "18:30-07:30".
func (r Range) String() string { return r.From.String() + "-" + r.To.String() }

// Crosses reports whether the window crosses midnight.
func (r Range) Crosses() bool { return r.To < r.From }

// Contains reports whether the time of day c lies in the window, read on a
// single day: a crossing window covers [From, 24:00) and [00:00, To).
func (r Range) Contains(c Clock) bool {
	if r.Crosses() {
		return c >= r.From || c < r.To
	}
	return c >= r.From && c < r.To
}

// tail reports whether c lies in the after-midnight part of a crossing
// window that began the day before.
func (r Range) tail(c Clock) bool { return r.Crosses() && c < r.To }

// Windows are a lot's opening rules, all in Asia/Shanghai local time.
//
// A GOVERNMENT_SHARED lot is open to the public on working days inside
// Weekday, and on rest days (weekends and public holidays, but not the
// make-up working days) all day when RestDayAllDay or else inside RestDay.
// Every other kind is open inside Hours every day, or always when Hours is
// empty. NoMovement is a daily window in which no vehicle may enter or
// leave (22:00–06:00 in Taizhou's scheme).
type Windows struct {
	Hours         []Range
	Weekday       []Range
	RestDayAllDay bool
	RestDay       []Range
	NoMovement    *Range
}

// Equal reports whether w and o are the same rules.
func (w Windows) Equal(o Windows) bool {
	eqNM := (w.NoMovement == nil) == (o.NoMovement == nil) && (w.NoMovement == nil || *w.NoMovement == *o.NoMovement)
	return eqNM && w.RestDayAllDay == o.RestDayAllDay &&
		slices.Equal(w.Hours, o.Hours) && slices.Equal(w.Weekday, o.Weekday) && slices.Equal(w.RestDay, o.RestDay)
}

// StandardSharedWindows are the rules of Taizhou's off-peak sharing scheme
// (2021): on working days from one hour after office hours (17:30) to one
// hour before they start (08:30), all day on rest days, no entry or exit
// 22:00–06:00.
func StandardSharedWindows() Windows {
	nm := MustRange("22:00-06:00")
	return Windows{Weekday: []Range{MustRange("18:30-07:30")}, RestDayAllDay: true, NoMovement: &nm}
}

// Calendar tells working days from rest days, in Asia/Shanghai.
type Calendar interface {
	// IsRestDay reports whether the local date of t is a weekend day or a
	// public holiday that is not a make-up working day.
	IsRestDay(t time.Time) bool
	// Location is the zone the rules are read in (Asia/Shanghai).
	Location() *time.Location
}

// OpenStatus is whether a lot is open to the public at an instant.
type OpenStatus struct {
	// Open: a member of the public may park there at that instant.
	Open bool
	// CanMove: vehicles may enter and leave at that instant (the lot is
	// open and the instant lies outside the no-movement window).
	CanMove bool
}

// OpenToPublic reports whether lot is open to the public at instant at,
// under the holiday calendar cal.
//
// Windows crossing midnight are read per local day: on a working day the
// standard window 18:30–07:30 covers 00:00–07:30 and 18:30–24:00 of that
// day, so the night before a working day (after a Sunday or a holiday as
// much as after another working day) is open until 07:30, and a Friday
// evening runs on into Saturday, which is a rest day. In addition, the
// after-midnight part of a crossing window of the previous day stays open
// even when today's rules are narrower (a Friday night ending on a Saturday
// whose rest-day windows start later), so cars parked for the night are
// never shut in.
func OpenToPublic(lot *Lot, at time.Time, cal Calendar) OpenStatus {
	loc := at.In(cal.Location())
	c := Clock(loc.Hour()*60 + loc.Minute())
	if !openAt(lot, loc, c, cal) {
		return OpenStatus{}
	}
	nm := lot.Windows.NoMovement
	return OpenStatus{Open: true, CanMove: nm == nil || !nm.Contains(c)}
}

// openAt applies lot's rules at local time loc, whose clock is c.
func openAt(lot *Lot, loc time.Time, c Clock, cal Calendar) bool {
	w := &lot.Windows
	switch lot.Kind {
	case KindGovernmentShared:
		if lot.SharedSpaces <= 0 {
			return false
		}
		if sharedDay(w, cal.IsRestDay(loc), c, false) {
			return true
		}
		// Noon of the previous local date: clear of any DST shift.
		prev := time.Date(loc.Year(), loc.Month(), loc.Day()-1, 12, 0, 0, 0, loc.Location())
		return sharedDay(w, cal.IsRestDay(prev), c, true)
	case KindResidential:
		if lot.SharedSpaces <= 0 {
			return false
		}
	}
	if len(w.Hours) == 0 {
		return true
	}
	return anyContains(w.Hours, c, false)
}

// sharedDay applies the rules of a day of the given type to clock c; tail
// asks only about windows that crossed midnight into the next day.
func sharedDay(w *Windows, rest bool, c Clock, tail bool) bool {
	if rest {
		if w.RestDayAllDay {
			return !tail
		}
		return anyContains(w.RestDay, c, tail)
	}
	return anyContains(w.Weekday, c, tail)
}

func anyContains(rs []Range, c Clock, tail bool) bool {
	for _, r := range rs {
		if (tail && r.tail(c)) || (!tail && r.Contains(c)) {
			return true
		}
	}
	return false
}
