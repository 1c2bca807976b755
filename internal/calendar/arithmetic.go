package calendar

import (
	"math"
	"slices"
	"time"
)

// fullDay is the clock offset of the end of a local day.
const fullDay = 24 * time.Hour

// AddWorkingHours returns the instant at which d of working time, counted
// from start, has elapsed. Time outside the windows and on rest days does
// not count, so a start outside working time begins counting at the next
// window.
//
// For d > 0 the result is the earliest such instant: when the count runs
// out exactly at the end of a window, the result is that end (12:00, not
// 13:30), so WorkingDuration(start, result) == d always holds.
//
// For d < 0 the count runs backwards and the result is the latest instant t
// with WorkingDuration(t, start) == -d (13:30, not 12:00). math.MinInt64 is
// treated as -math.MaxInt64.
//
// d == 0 returns start unchanged. Otherwise the result is in start's
// location. The cost is at most one step per calendar day and only one step
// per week across weeks without holidays or make-up days, so even spans of
// centuries are cheap.
func (c *Calendar) AddWorkingHours(start time.Time, d time.Duration) time.Time {
	switch {
	case d == 0:
		return start
	case d > 0:
		return c.forward(start, d).In(start.Location())
	case d == math.MinInt64:
		d = -math.MaxInt64
	}
	return c.backward(start, -d).In(start.Location())
}

// AddWorkingDays returns AddWorkingHours(start, n × WorkdayLength()): n
// working days of working time. For a start inside working time this is
// the same clock time n working days later (Tuesday 10:00 + 1 = Wednesday
// 10:00; Friday 10:00 + 1 = next working day 10:00, across weekends,
// holidays and make-up days).
//
// Edge cases follow from counting working time, as deadlines do:
//   - n == 0 returns start unchanged.
//   - A start before the first window, after the last window or on a rest
//     day begins counting at the next window, and the count ends at the
//     close of a working day: Monday 07:00 + 1 = Monday 17:30, Monday 18:00
//   - 1 = Tuesday 17:30, Saturday + 1 = Monday 17:30 (if those are working
//     days).
//   - A start in the lunch break begins at 13:30 and ends at the end of the
//     morning: Monday 12:30 + 1 = Tuesday 12:00.
//   - A start exactly at the end of a window behaves like a start at the
//     next window: Monday 12:00 + 1 = Tuesday 12:00.
//   - n < 0 counts backwards, mirroring the above: Tuesday 10:00 - 1 =
//     Monday 10:00, Tuesday 07:00 - 1 = Monday 08:30.
//   - |n| is clamped so that n × WorkdayLength() fits in a time.Duration
//     (about 1.2 million working days with the default windows).
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	limit := int64(math.MaxInt64 / c.dayLen)
	k := max(-limit, min(int64(n), limit))
	return c.AddWorkingHours(start, time.Duration(k)*c.dayLen)
}

// WorkingDuration returns the working time between from and to: the part of
// [from, to) that lies inside working windows of working days. It is
// negative when to is before from, and saturates at the limits of
// time.Duration for spans of more than a thousand years.
func (c *Calendar) WorkingDuration(from, to time.Time) time.Duration {
	if to.Before(from) {
		return -c.WorkingDuration(to, from)
	}
	d1, c1 := c.local(from)
	d2, c2 := c.local(to)
	if d1 == d2 {
		if !c.working(d1) {
			return 0
		}
		return c.workBetween(c1, c2)
	}
	var total time.Duration
	if c.working(d1) {
		total = c.workBetween(c1, fullDay)
	}
	days := c.countWorking(d1+1, d2-1)
	if days > int64(math.MaxInt64/c.dayLen) {
		return math.MaxInt64
	}
	total = satAdd(total, time.Duration(days)*c.dayLen)
	if c.working(d2) {
		total = satAdd(total, c.workBetween(0, c2))
	}
	return total
}

// forward implements AddWorkingHours for d > 0.
func (c *Calendar) forward(start time.Time, d time.Duration) time.Time {
	n, clock := c.local(start)
	if c.working(n) {
		avail := c.workBetween(clock, fullDay)
		if d <= avail {
			return c.instant(n, c.forwardIn(clock, d))
		}
		d -= avail
	}
	week := 5 * c.dayLen
	for n++; ; n++ {
		if d > week {
			// Skip whole weeks, leaving d > 0 so the count ends on a later
			// day, but never past the next special date.
			k := int64((d - 1) / week)
			if i, _ := slices.BinarySearch(c.special, n); i < len(c.special) {
				k = min(k, int64(c.special[i]-n)/7)
			}
			n += dayNum(7 * k)
			d -= time.Duration(k) * week
		}
		if !c.working(n) {
			continue
		}
		if d <= c.dayLen {
			return c.instant(n, c.forwardIn(0, d))
		}
		d -= c.dayLen
	}
}

// backward implements AddWorkingHours for d < 0; d here is the positive
// amount to count back.
func (c *Calendar) backward(start time.Time, d time.Duration) time.Time {
	n, clock := c.local(start)
	if c.working(n) {
		avail := c.workBetween(0, clock)
		if d <= avail {
			return c.instant(n, c.backwardIn(clock, d))
		}
		d -= avail
	}
	week := 5 * c.dayLen
	for n--; ; n-- {
		if d > week {
			k := int64((d - 1) / week)
			// The last special date at or before n bounds the skip.
			i, found := slices.BinarySearch(c.special, n)
			if found {
				i++
			}
			if i > 0 {
				k = min(k, int64(n-c.special[i-1])/7)
			}
			n -= dayNum(7 * k)
			d -= time.Duration(k) * week
		}
		if !c.working(n) {
			continue
		}
		if d <= c.dayLen {
			return c.instant(n, c.backwardIn(fullDay, d))
		}
		d -= c.dayLen
	}
}

// workBetween returns the working time between clock offsets a and b of a
// working day.
func (c *Calendar) workBetween(a, b time.Duration) time.Duration {
	var sum time.Duration
	for _, w := range c.windows {
		if s, e := max(w.Start, a), min(w.End, b); e > s {
			sum += e - s
		}
	}
	return sum
}

// forwardIn returns the clock offset at which x of working time counted
// from offset from runs out on a working day. The caller guarantees
// 0 < x <= workBetween(from, fullDay).
func (c *Calendar) forwardIn(from, x time.Duration) time.Duration {
	for _, w := range c.windows {
		s := max(w.Start, from)
		if s >= w.End {
			continue
		}
		if avail := w.End - s; x > avail {
			x -= avail
			continue
		}
		return s + x
	}
	panic("calendar: forwardIn: working time exhausted") // caller broke the guarantee
}

// backwardIn returns the clock offset at which x of working time counted
// back from offset to runs out on a working day. The caller guarantees
// 0 < x <= workBetween(0, to).
func (c *Calendar) backwardIn(to, x time.Duration) time.Duration {
	for i := len(c.windows) - 1; i >= 0; i-- {
		w := c.windows[i]
		e := min(w.End, to)
		if e <= w.Start {
			continue
		}
		if avail := e - w.Start; x > avail {
			x -= avail
			continue
		}
		return e - x
	}
	panic("calendar: backwardIn: working time exhausted") // caller broke the guarantee
}

// countWorking returns the number of working days in [a, b], in time
// proportional to the number of special dates in the range.
func (c *Calendar) countWorking(a, b dayNum) int64 {
	if b < a {
		return 0
	}
	span := int64(b-a) + 1
	count := span / 7 * 5
	for n := a + dayNum(span/7*7); n <= b; n++ {
		if wd := n.weekday(); wd != time.Saturday && wd != time.Sunday {
			count++
		}
	}
	i, _ := slices.BinarySearch(c.special, a)
	for ; i < len(c.special) && c.special[i] <= b; i++ {
		n := c.special[i]
		wd := n.weekday()
		weekday := wd != time.Saturday && wd != time.Sunday
		switch working := c.status[n]; {
		case working && !weekday:
			count++
		case !working && weekday:
			count--
		}
	}
	return count
}

// satAdd adds two non-negative durations, saturating at math.MaxInt64.
func satAdd(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
