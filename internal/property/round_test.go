package property_test

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/property"
)

func TestParseRoundAndSchedule(t *testing.T) {
	tests := []struct {
		round  string
		start  string
		months int
	}{
		{"2025-H1", "2025-01-01", 6}, {"2025-H2", "2025-07-01", 6}, {"2026-Q3", "2026-07-01", 3}, {"2026-11", "2026-11-01", 1},
	}
	for _, tc := range tests {
		start, months, ok := property.ParseRound(tc.round)
		if !ok || start.Format(time.DateOnly) != tc.start || months != tc.months {
			t.Errorf("ParseRound(%s) = %v %d %v", tc.round, start, months, ok)
		}
	}
	for _, bad := range []string{"", "2025", "2025-H3", "2025-Q5", "2025-13", "1999-H1", "2025-h1", "2025-H1 "} {
		if _, _, ok := property.ParseRound(bad); ok {
			t.Errorf("ParseRound(%q) accepted", bad)
		}
	}
	dates := property.ScheduleDates("2026-H1", 60, nil)
	for i, d := range dates {
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || d.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) ||
			!d.Before(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) || (i > 0 && d.Before(dates[i-1])) {
			t.Fatalf("date %d: %s", i, d.Format(time.DateOnly))
		}
	}
	// With the holiday calendar: no inspection in the National Day week
	// of 2025 (1–8 October), and a make-up working Saturday (11 October)
	// is a working day.
	cal := calendar.Default()
	dates = property.ScheduleDates("2025-H2", 150, cal)
	saturday := false
	for i, d := range dates {
		if !cal.IsWorkingDay(d) || (i > 0 && d.Before(dates[i-1])) || !d.Before(time.Date(2025, 12, 18, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("date %d: %s is a rest day or out of order", i, d.Format(time.DateOnly))
		}
		if d.Month() == time.October && d.Day() <= 8 {
			t.Fatalf("date %d: %s falls in the National Day holiday", i, d.Format(time.DateOnly))
		}
		saturday = saturday || d.Format(time.DateOnly) == "2025-10-11"
	}
	if !saturday {
		t.Error("the make-up working Saturday 2025-10-11 was skipped")
	}
	if got := property.NextWorkingDay(cal, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)); got.Format(time.DateOnly) != "2025-10-09" {
		t.Errorf("first working day from 2025-10-01: %s, want 2025-10-09", got.Format(time.DateOnly))
	}
}
