package calendar

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// local parses "2006-01-02 15:04" (or with seconds) as Asia/Shanghai wall
// time and returns the instant in UTC, as callers store it.
func local(tb testing.TB, s string) time.Time {
	tb.Helper()
	loc, err := time.LoadLocation(LocationName)
	if err != nil {
		tb.Fatalf("load location: %v", err)
	}
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04:05.999999999"
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t.UTC()
}

// fmtLocal formats an instant as Shanghai wall time for failure messages.
func fmtLocal(t time.Time) string {
	loc, err := time.LoadLocation(LocationName)
	if err != nil {
		return t.String()
	}
	return t.In(loc).Format("2006-01-02 15:04:05.999999999 Mon")
}

func TestIsWorkingDay(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		name    string
		at      string
		working bool
	}{
		{"ordinary Monday", "2025-03-03 10:00", true},
		{"ordinary Saturday", "2025-03-08 10:00", false},
		{"National Day 2025 first day", "2025-10-01 10:00", false},
		{"National Day 2025 last day (Wednesday)", "2025-10-08 10:00", false},
		{"after National Day 2025", "2025-10-09 10:00", true},
		{"make-up Sunday before National Day 2025", "2025-09-28 10:00", true},
		{"make-up Saturday after National Day 2025", "2025-10-11 10:00", true},
		{"Sunday after the make-up Saturday", "2025-10-12 10:00", false},
		{"Spring Festival 2025 eve (Tuesday)", "2025-01-28 10:00", false},
		{"Spring Festival 2024 eve was a working Friday", "2024-02-09 10:00", true},
		{"make-up Saturday 2026-02-14", "2026-02-14 10:00", true},
		{"Spring Festival 2026 ends Monday 02-23", "2026-02-23 10:00", false},
		{"back to work 2026-02-24", "2026-02-24 10:00", true},
		{"New Year 2023 Monday 01-02", "2023-01-02 10:00", false},
		{"Labour Day 2023 make-up Sunday 04-23", "2023-04-23 10:00", true},
		{"2027 provisional: Spring Festival in-lieu Wednesday", "2027-02-10 10:00", false},
		{"2027 provisional: Thursday after Spring Festival", "2027-02-11 10:00", true},
		{"2028: outside the data, only weekends rest (Monday)", "2028-01-03 10:00", true},
		{"local midnight starts National Day", "2025-10-01 00:00", false},
		{"last nanosecond before National Day", "2025-09-30 23:59:59.999999999", true},
		{"first instant after National Day", "2025-10-09 00:00", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := local(t, tt.at)
			if got := c.IsWorkingDay(at); got != tt.working {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.at, got, tt.working)
			}
			if got := c.IsRestDay(at); got == tt.working {
				t.Errorf("IsRestDay(%s) = %v, want %v", tt.at, got, !tt.working)
			}
		})
	}
}

func TestIsWorkingDayUsesShanghaiDate(t *testing.T) {
	t.Parallel()
	c := Default()
	// 2025-09-30T16:30Z is 2025-10-01 00:30 in Shanghai: National Day,
	// although the UTC date is still a working Tuesday.
	at := time.Date(2025, 9, 30, 16, 30, 0, 0, time.UTC)
	if c.IsWorkingDay(at) {
		t.Errorf("IsWorkingDay(%v) = true, want false (Shanghai date is 2025-10-01)", at)
	}
}

func TestIsWorkingTime(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		at   string
		want bool
	}{
		{"2025-03-03 08:29", false},
		{"2025-03-03 08:30", true},
		{"2025-03-03 11:59", true},
		{"2025-03-03 12:00", false},
		{"2025-03-03 13:00", false},
		{"2025-03-03 13:30", true},
		{"2025-03-03 17:29", true},
		{"2025-03-03 17:30", false},
		{"2025-03-08 10:00", false}, // Saturday
		{"2025-10-11 10:00", true},  // make-up Saturday
		{"2025-10-02 10:00", false}, // National Day
	}
	for _, tt := range tests {
		t.Run(tt.at, func(t *testing.T) {
			if got := c.IsWorkingTime(local(t, tt.at)); got != tt.want {
				t.Errorf("IsWorkingTime(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	h := func(hh, mm int) time.Duration { return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute }
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"zero config", Config{}, false},
		{"custom single window", Config{Windows: []Window{{h(9, 0), h(17, 0)}}}, false},
		{"touching windows", Config{Windows: []Window{{h(8, 0), h(12, 0)}, {h(12, 0), h(16, 0)}}}, false},
		{"whole day", Config{Windows: []Window{{0, h(24, 0)}}}, false},
		{"holiday on a weekend is fine", Config{Holidays: []Date{{2025, time.October, 4}}}, false},
		{"extra workday on Sunday", Config{ExtraWorkdays: []Date{{2025, time.September, 28}}}, false},
		{"end before start", Config{Windows: []Window{{h(12, 0), h(8, 30)}}}, true},
		{"empty window", Config{Windows: []Window{{h(8, 0), h(8, 0)}}}, true},
		{"negative start", Config{Windows: []Window{{-time.Minute, h(8, 0)}}}, true},
		{"past midnight", Config{Windows: []Window{{h(20, 0), h(24, 1)}}}, true},
		{"overlapping", Config{Windows: []Window{{h(8, 30), h(12, 0)}, {h(11, 0), h(17, 0)}}}, true},
		{"out of order", Config{Windows: []Window{{h(13, 30), h(17, 30)}, {h(8, 30), h(12, 0)}}}, true},
		{"no such holiday date", Config{Holidays: []Date{{2025, time.February, 30}}}, true},
		{"no such extra date", Config{ExtraWorkdays: []Date{{2025, time.Month(13), 1}}}, true},
		{"extra workday on a Wednesday", Config{ExtraWorkdays: []Date{{2025, time.October, 8}}}, true},
		{"both holiday and extra workday", Config{
			Holidays:      []Date{{2025, time.September, 28}},
			ExtraWorkdays: []Date{{2025, time.September, 28}},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New() = %v, want error", c)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("New() error %q does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
		})
	}
}

func TestNewCustomCalendar(t *testing.T) {
	t.Parallel()
	c, err := New(Config{
		Windows:       []Window{{Start: 9 * time.Hour, End: 17 * time.Hour}},
		Holidays:      []Date{{2030, time.March, 6}}, // a Wednesday
		ExtraWorkdays: []Date{{2030, time.March, 9}}, // a Saturday
	})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	if got := c.WorkdayLength(); got != 8*time.Hour {
		t.Errorf("WorkdayLength() = %v, want 8h", got)
	}
	tests := []struct {
		start string
		d     time.Duration
		want  string
	}{
		{"2030-03-05 16:00", 2 * time.Hour, "2030-03-07 10:00"}, // skips the Wednesday holiday
		{"2030-03-08 16:00", 2 * time.Hour, "2030-03-09 10:00"}, // the Saturday works
		{"2030-03-09 16:00", 2 * time.Hour, "2030-03-11 10:00"}, // the Sunday rests
		{"2030-03-05 12:30", 30 * time.Minute, "2030-03-05 13:00"},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			got := c.AddWorkingHours(local(t, tt.start), tt.d)
			if want := local(t, tt.want); !got.Equal(want) {
				t.Errorf("AddWorkingHours(%s, %v) = %s, want %s", tt.start, tt.d, fmtLocal(got), tt.want)
			}
		})
	}
}

func TestWindowsIsACopy(t *testing.T) {
	t.Parallel()
	c := Default()
	ws := c.Windows()
	ws[0].Start = 0
	if got := c.Windows()[0].Start; got != 8*time.Hour+30*time.Minute {
		t.Errorf("Windows()[0].Start after mutating a copy = %v, want 8h30m", got)
	}
	if got := c.WorkdayLength(); got != 7*time.Hour+30*time.Minute {
		t.Errorf("WorkdayLength() = %v, want 7h30m", got)
	}
	if got := c.Location().String(); got != LocationName {
		t.Errorf("Location() = %q, want %q", got, LocationName)
	}
}

func TestDateParseAndString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Date
		wantErr bool
	}{
		{"2025-10-01", Date{2025, time.October, 1}, false},
		{"2024-02-29", Date{2024, time.February, 29}, false},
		{"2025-02-29", Date{}, true},
		{"2025-1-1", Date{}, true},
		{"", Date{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDate(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseDate(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestDayNum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d       Date
		n       dayNum
		weekday time.Weekday
	}{
		{Date{1970, time.January, 1}, 0, time.Thursday},
		{Date{1969, time.December, 31}, -1, time.Wednesday},
		{Date{1900, time.January, 1}, -25567, time.Monday},
		{Date{2025, time.October, 1}, 20362, time.Wednesday},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := dayOf(tt.d); got != tt.n {
				t.Errorf("dayOf(%v) = %d, want %d", tt.d, got, tt.n)
			}
			if got := tt.n.date(); got != tt.d {
				t.Errorf("date(%d) = %v, want %v", tt.n, got, tt.d)
			}
			if got := tt.n.weekday(); got != tt.weekday {
				t.Errorf("weekday(%d) = %v, want %v", tt.n, got, tt.weekday)
			}
		})
	}
}

// TestConcurrentUse lets the race detector check that a shared Calendar is
// only read.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := Default()
	start := local(t, "2025-09-22 10:00")
	want := c.AddWorkingDays(start, 15)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := c.AddWorkingDays(start, 15); !got.Equal(want) {
					t.Errorf("AddWorkingDays concurrently = %v, want %v", got, want)
					return
				}
				_ = c.WorkingDuration(start, want)
				_ = c.IsWorkingDay(start)
			}
		})
	}
	wg.Wait()
}
