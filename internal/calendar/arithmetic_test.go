package calendar

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const (
	hour    = time.Hour
	minute  = time.Minute
	workday = 7*time.Hour + 30*time.Minute
)

func TestAddWorkingHours(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		name  string
		start string // Shanghai wall time
		d     time.Duration
		want  string
	}{
		{"inside a window", "2025-03-03 09:00", 2 * hour, "2025-03-03 11:00"},
		{"across the lunch break", "2025-03-03 11:00", 2 * hour, "2025-03-03 14:30"},
		{"start in the lunch break", "2025-03-03 12:30", hour, "2025-03-03 14:30"},
		{"start at the end of the morning", "2025-03-03 12:00", hour, "2025-03-03 14:30"},
		{"start before the first window", "2025-03-03 07:00", hour, "2025-03-03 09:30"},
		{"start after the last window", "2025-03-03 18:00", hour, "2025-03-04 09:30"},
		{"exactly the morning ends at 12:00, not 13:30", "2025-03-03 08:30", 3*hour + 30*minute, "2025-03-03 12:00"},
		{"exactly one day ends at 17:30", "2025-03-03 08:30", workday, "2025-03-03 17:30"},
		{"one nanosecond more spills into the next day", "2025-03-03 08:30", workday + 1, "2025-03-04 08:30:00.000000001"},
		{"one nanosecond", "2025-03-03 09:00", 1, "2025-03-03 09:00:00.000000001"},
		{"zero inside a window", "2025-03-03 09:00", 0, "2025-03-03 09:00"},
		{"zero on a rest day returns start", "2025-03-08 10:00", 0, "2025-03-08 10:00"},
		{"across a weekend", "2025-03-07 16:30", 2 * hour, "2025-03-10 09:30"},
		{"start on a Saturday", "2025-03-08 10:00", hour, "2025-03-10 09:30"},
		{"across National Day 2025 (Oct 1-8)", "2025-09-30 16:30", 2 * hour, "2025-10-09 09:30"},
		{"into the make-up Saturday 2025-10-11", "2025-10-10 17:00", hour, "2025-10-11 09:00"},
		{"Saturday into the make-up Sunday 2025-09-28", "2025-09-27 10:00", hour, "2025-09-28 09:30"},
		{"across Spring Festival 2025 (Jan 28-Feb 4)", "2025-01-27 17:00", hour, "2025-02-05 09:00"},
		{"across New Year 2026 into the make-up Sunday", "2025-12-31 17:00", hour, "2026-01-04 09:00"},
		{"start on a holiday", "2025-10-03 10:00", hour, "2025-10-09 09:30"},
		{"two weeks", "2025-03-03 09:00", 10 * workday, "2025-03-17 09:00"},
		{"three weeks across National Day", "2025-09-22 10:00", 15 * workday, "2025-10-17 10:00"},
		{"nine weeks across New Year 2026", "2025-11-03 09:00", 45 * workday, "2026-01-06 09:00"},
		{"whole working year 2025 (248 days)", "2025-01-01 00:00", 248 * workday, "2025-12-31 17:30"},
		{"backwards across National Day", "2025-10-09 09:00", -hour, "2025-09-30 17:00"},
		{"backwards to a window start", "2025-03-03 09:30", -hour, "2025-03-03 08:30"},
		{"backwards lands on 13:30, not 12:00", "2025-03-03 14:30", -hour, "2025-03-03 13:30"},
		{"backwards across lunch", "2025-03-03 14:30", -(hour + 30*minute), "2025-03-03 11:30"},
		{"backwards from before office hours", "2025-03-10 07:00", -hour, "2025-03-07 16:30"},
		{"backwards one day from the make-up Saturday", "2025-10-11 10:00", -workday, "2025-10-10 10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := local(t, tt.start)
			got := c.AddWorkingHours(start, tt.d)
			if want := local(t, tt.want); !got.Equal(want) {
				t.Errorf("AddWorkingHours(%s, %v) = %s, want %s", tt.start, tt.d, fmtLocal(got), tt.want)
			}
			if got.Location() != start.Location() {
				t.Errorf("result location = %v, want start's %v", got.Location(), start.Location())
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		name  string
		start string
		n     int
		want  string
	}{
		{"next day, same clock time", "2025-03-04 10:00", 1, "2025-03-05 10:00"},
		{"Friday to Monday", "2025-03-07 10:00", 1, "2025-03-10 10:00"},
		{"over National Day", "2025-09-30 10:00", 1, "2025-10-09 10:00"},
		{"onto the make-up Saturday", "2025-10-10 10:00", 1, "2025-10-11 10:00"},
		{"onto the make-up Sunday", "2025-09-26 10:00", 1, "2025-09-28 10:00"},
		{"over Qingming 2025", "2025-04-03 10:00", 5, "2025-04-11 10:00"},
		{"15 working days (illegal construction)", "2025-09-22 10:00", 15, "2025-10-17 10:00"},
		{"before office hours: end of the same day", "2025-03-03 07:00", 1, "2025-03-03 17:30"},
		{"at 08:30: end of the same day", "2025-03-03 08:30", 1, "2025-03-03 17:30"},
		{"lunch break: end of the next morning", "2025-03-03 12:30", 1, "2025-03-04 12:00"},
		{"at 12:00: end of the next morning", "2025-03-03 12:00", 1, "2025-03-04 12:00"},
		{"after office hours: end of the next day", "2025-03-03 18:00", 1, "2025-03-04 17:30"},
		{"Saturday: end of Monday", "2025-03-08 10:00", 1, "2025-03-10 17:30"},
		{"zero", "2025-03-08 10:00", 0, "2025-03-08 10:00"},
		{"minus one", "2025-03-04 10:00", -1, "2025-03-03 10:00"},
		{"minus one before office hours", "2025-03-04 07:00", -1, "2025-03-03 08:30"},
		{"minus one over National Day", "2025-10-09 10:00", -1, "2025-09-30 10:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.AddWorkingDays(local(t, tt.start), tt.n)
			if want := local(t, tt.want); !got.Equal(want) {
				t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tt.start, tt.n, fmtLocal(got), tt.want)
			}
		})
	}
}

func TestAddWorkingDaysClamps(t *testing.T) {
	t.Parallel()
	c := Default()
	start := local(t, "2025-03-03 10:00")
	for _, n := range []int{math.MaxInt, math.MinInt} {
		got := c.AddWorkingDays(start, n)
		if n > 0 && !got.After(start) || n < 0 && !got.Before(start) {
			t.Errorf("AddWorkingDays(start, %d) = %s, want a result on the %s side of start", n, fmtLocal(got), map[bool]string{true: "later", false: "earlier"}[n > 0])
		}
	}
}

func TestWorkingDuration(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		name     string
		from, to string
		want     time.Duration
	}{
		{"inside a window", "2025-03-03 09:00", "2025-03-03 11:00", 2 * hour},
		{"across the lunch break", "2025-03-03 11:00", "2025-03-03 14:30", 2 * hour},
		{"inside the lunch break", "2025-03-03 12:10", "2025-03-03 12:50", 0},
		{"whole day midnight to midnight", "2025-03-03 00:00", "2025-03-04 00:00", workday},
		{"before to after office hours", "2025-03-03 07:00", "2025-03-03 18:00", workday},
		{"reversed is negative", "2025-03-03 14:30", "2025-03-03 11:00", -2 * hour},
		{"equal instants", "2025-03-03 10:00", "2025-03-03 10:00", 0},
		{"across a weekend", "2025-03-07 16:30", "2025-03-10 09:30", 2 * hour},
		{"weekend only", "2025-03-08 00:00", "2025-03-10 00:00", 0},
		{"across National Day", "2025-09-30 16:30", "2025-10-09 09:30", 2 * hour},
		{"National Day only", "2025-10-01 00:00", "2025-10-09 00:00", 0},
		{"September 2025: 23 working days", "2025-09-01 00:00", "2025-10-01 00:00", 23 * workday},
		{"October 2025: 18 working days", "2025-10-01 00:00", "2025-11-01 00:00", 18 * workday},
		{"year 2025: 248 working days", "2025-01-01 00:00", "2026-01-01 00:00", 248 * workday},
		{"year 2028 (no data): 260 weekdays", "2028-01-01 00:00", "2029-01-01 00:00", 260 * workday},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := c.WorkingDuration(local(t, tt.from), local(t, tt.to)); got != tt.want {
				t.Errorf("WorkingDuration(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestWorkingDurationSaturates(t *testing.T) {
	t.Parallel()
	c := Default()
	from := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := c.WorkingDuration(from, to); got != math.MaxInt64 {
		t.Errorf("WorkingDuration over 10,000 years = %v, want math.MaxInt64", got)
	}
	if got := c.WorkingDuration(to, from); got != -math.MaxInt64 {
		t.Errorf("reversed = %v, want -math.MaxInt64", got)
	}
}

// TestZoneOfInputIsIrrelevant checks that only the instant matters: inputs
// in zones with daylight saving time, across their transitions, give the
// same answers as in UTC, and results come back in the caller's zone.
func TestZoneOfInputIsIrrelevant(t *testing.T) {
	t.Parallel()
	c := Default()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		start time.Time
		d     time.Duration
		want  string // Shanghai wall time
	}{
		// US DST began 2025-03-09 02:00; 20:00 EDT is Monday 08:00 in Shanghai.
		{"New York after spring forward", time.Date(2025, 3, 9, 20, 0, 0, 0, ny), hour, "2025-03-10 09:30"},
		// Berlin fell back 2025-10-26 03:00 -> 02:00; Friday 10:00 CEST is 16:00 in Shanghai.
		{"Berlin across fall back", time.Date(2025, 10, 24, 10, 0, 0, 0, berlin), 2 * hour, "2025-10-27 09:00"},
		// China itself observed DST 1986-1991; in 1988 clocks sprang forward
		// on Sunday 04-17 at 02:00, outside working time.
		{"Shanghai 1988 across its spring forward", local(t, "1988-04-15 17:00"), hour, "1988-04-18 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddWorkingHours(tt.start, tt.d)
			if want := local(t, tt.want); !got.Equal(want) {
				t.Errorf("AddWorkingHours(%v, %v) = %s, want %s", tt.start, tt.d, fmtLocal(got), tt.want)
			}
			if got.Location() != tt.start.Location() {
				t.Errorf("result location = %v, want %v", got.Location(), tt.start.Location())
			}
			if utc := c.AddWorkingHours(tt.start.UTC(), tt.d); !utc.Equal(got) {
				t.Errorf("UTC input gives %v, zoned input %v", utc, got)
			}
			if wd := c.WorkingDuration(tt.start, got); wd != tt.d {
				t.Errorf("WorkingDuration(start, result) = %v, want %v", wd, tt.d)
			}
		})
	}
}

// TestRoundTrip checks WorkingDuration(start, AddWorkingHours(start, d)) == d
// forwards and backwards over a grid of awkward starts and durations,
// including spans of centuries.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := Default()
	starts := []string{
		"2025-03-03 07:00", "2025-03-03 08:30", "2025-03-03 10:17:03.5", "2025-03-03 12:00",
		"2025-03-03 12:45", "2025-03-03 13:30", "2025-03-03 17:30", "2025-03-03 23:59:59.999999999",
		"2025-03-08 10:00", "2025-09-28 11:00", "2025-10-05 10:00", "2025-10-11 17:29",
		"2022-12-31 10:00", "2027-12-31 16:00", "1988-04-10 10:00", "2150-06-15 09:00",
	}
	durations := []time.Duration{
		1, time.Second, minute, 3*hour + 30*minute, workday, workday + 1, 37*hour + 30*minute,
		100 * hour, 1000 * hour, 10000*hour + 7, 200 * 250 * workday,
	}
	for _, s := range starts {
		start := local(t, s)
		prev := start
		for _, d := range durations {
			end := c.AddWorkingHours(start, d)
			if got := c.WorkingDuration(start, end); got != d {
				t.Errorf("WorkingDuration(%s, AddWorkingHours(%s, %v) = %s) = %v", s, s, d, fmtLocal(end), got)
			}
			if end.Before(prev) {
				t.Errorf("AddWorkingHours(%s, %v) = %s, earlier than for a shorter duration (%s)", s, d, fmtLocal(end), fmtLocal(prev))
			}
			prev = end
			begin := c.AddWorkingHours(start, -d)
			if got := c.WorkingDuration(begin, start); got != d {
				t.Errorf("WorkingDuration(AddWorkingHours(%s, -%v) = %s, %s) = %v", s, d, fmtLocal(begin), s, got)
			}
		}
	}
}

// TestAgainstMinuteOracle compares the day- and week-skipping arithmetic
// with a slow, obviously correct minute-by-minute count.
func TestAgainstMinuteOracle(t *testing.T) {
	t.Parallel()
	c := Default()
	rng := rand.New(rand.NewPCG(2025, 10))
	base := local(t, "2025-09-01 00:00")
	cases := 40
	if testing.Short() {
		cases = 5
	}
	for range cases {
		start := base.Add(time.Duration(rng.IntN(120*24*60)) * minute)
		d := time.Duration(1+rng.IntN(60*60)) * minute // up to 60 h: spans weeks
		want := start
		for left := d; left > 0; want = want.Add(minute) {
			if c.IsWorkingTime(want) {
				left -= minute
			}
		}
		if got := c.AddWorkingHours(start, d); !got.Equal(want) {
			t.Errorf("AddWorkingHours(%s, %v) = %s, oracle %s", fmtLocal(start), d, fmtLocal(got), fmtLocal(want))
		}
		wantBack := start
		for left := d; left > 0; {
			wantBack = wantBack.Add(-minute)
			if c.IsWorkingTime(wantBack) {
				left -= minute
			}
		}
		if got := c.AddWorkingHours(start, -d); !got.Equal(wantBack) {
			t.Errorf("AddWorkingHours(%s, -%v) = %s, oracle %s", fmtLocal(start), d, fmtLocal(got), fmtLocal(wantBack))
		}
		to := start.Add(time.Duration(rng.IntN(30*24*60)) * minute)
		var wantDur time.Duration
		for m := start; m.Before(to); m = m.Add(minute) {
			if c.IsWorkingTime(m) {
				wantDur += minute
			}
		}
		if got := c.WorkingDuration(start, to); got != wantDur {
			t.Errorf("WorkingDuration(%s, %s) = %v, oracle %v", fmtLocal(start), fmtLocal(to), got, wantDur)
		}
	}
}

func FuzzAddWorkingHours(f *testing.F) {
	c := Default()
	const (
		lo   = -2208988800 // 1900-01-01T00:00:00Z
		span = 9467280000  // 300 years of seconds
	)
	f.Add(int64(1759194000), int64(0), int64(2*hour), int64(3*hour))           // 2025-09-30 09:00 +08, over National Day
	f.Add(int64(1760144400), int64(0), int64(workday), int64(15*workday))      // make-up Saturday 2025-10-11 09:00 +08
	f.Add(int64(1741485600), int64(500), int64(-hour), int64(0))               // Sunday 2025-03-09 10:00 +08, backwards
	f.Add(int64(1767168000), int64(999999999), int64(1), int64(math.MaxInt64)) // 2025-12-31 16:00 +08, huge span
	f.Add(int64(0), int64(0), int64(math.MinInt64+1), int64(-1))
	f.Fuzz(func(t *testing.T, sec, nsec, d1, d2 int64) {
		if d1 == math.MinInt64 || d2 == math.MinInt64 {
			t.Skip("math.MinInt64 is documented as -math.MaxInt64")
		}
		start := time.Unix(lo+floorMod(sec, span), floorMod(nsec, 1e9)).UTC()
		a, b := time.Duration(min(d1, d2)), time.Duration(max(d1, d2))
		ra, rb := c.AddWorkingHours(start, a), c.AddWorkingHours(start, b)
		if ra.After(rb) {
			t.Fatalf("not monotonic from %s: +%v = %s after +%v = %s", fmtLocal(start), a, fmtLocal(ra), b, fmtLocal(rb))
		}
		for _, r := range []struct {
			d   time.Duration
			end time.Time
		}{{a, ra}, {b, rb}} {
			if r.d >= 0 && r.end.Before(start) || r.d < 0 && r.end.After(start) {
				t.Fatalf("AddWorkingHours(%s, %v) = %s moves the wrong way", fmtLocal(start), r.d, fmtLocal(r.end))
			}
			if got := c.WorkingDuration(start, r.end); got != r.d {
				t.Fatalf("WorkingDuration(%s, AddWorkingHours(start, %v) = %s) = %v", fmtLocal(start), r.d, fmtLocal(r.end), got)
			}
		}
	})
}

func BenchmarkAddWorkingDays(b *testing.B) {
	c := Default()
	start := local(b, "2025-09-22 10:00")
	for b.Loop() {
		c.AddWorkingDays(start, 15)
	}
}

func BenchmarkAddWorkingHoursTenYears(b *testing.B) {
	c := Default()
	start := local(b, "2023-01-01 10:00")
	d := 10 * 250 * workday
	for b.Loop() {
		c.AddWorkingHours(start, d)
	}
}

func BenchmarkWorkingDuration(b *testing.B) {
	c := Default()
	from, to := local(b, "2023-01-01 10:00"), local(b, "2027-12-31 10:00")
	for b.Loop() {
		c.WorkingDuration(from, to)
	}
}
