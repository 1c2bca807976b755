package cases_test

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
)

// Emergencies run around the clock: a road collapse reported on a holiday
// night is due two clock hours later, while a class on working time waits
// for the next working day.
func TestEmergencyDeadlinesCountClockTime(t *testing.T) {
	cal := calendar.Default()
	cat := cases.DefaultCatalogue()
	shanghai := time.FixedZone("CST", 8*3600)
	// 2025-10-01 is National Day: a holiday, and 23:00 is outside office hours.
	at := time.Date(2025, 10, 1, 23, 0, 0, 0, shanghai)

	collapse, ok := cat.Lookup(cases.KindEvent, "0401")
	if !ok || !collapse.Emergency {
		t.Fatalf("路面塌陷 must be an emergency class: %+v", collapse)
	}
	if got, want := collapse.Deadline(cal, at), at.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("emergency deadline %s, want %s (two clock hours)", got, want)
	}

	dirty, ok := cat.Lookup(cases.KindEvent, "0102") // 道路不洁, 5 working hours
	if !ok || dirty.Emergency {
		t.Fatalf("道路不洁 is not an emergency class: %+v", dirty)
	}
	got := dirty.Deadline(cal, at)
	if want := cal.AddWorkingHours(at, 5*time.Hour); !got.Equal(want) {
		t.Errorf("working-time deadline %s, want %s", got, want)
	}
	if !got.After(at.Add(48 * time.Hour)) {
		t.Errorf("a working-time deadline from a National Day night must fall after the holiday, got %s", got)
	}

	var emergencies []string
	for _, c := range cat.All() {
		if c.Emergency {
			emergencies = append(emergencies, c.MinorName)
			if c.Limit.Hours == 0 {
				t.Errorf("emergency class %s has a limit in days", c.MinorName)
			}
		}
	}
	if len(emergencies) != 4 {
		t.Errorf("emergency classes %v, want 井盖破损, 行道树倒伏, 路面塌陷, 道路积水", emergencies)
	}
}

// Every class is named in English too (the snapshots' case_classes table).
func TestEveryClassHasEnglishNames(t *testing.T) {
	for _, c := range cases.DefaultCatalogue().All() {
		if c.MajorNameEn() == "" || c.MinorNameEn() == "" {
			t.Errorf("%s %s %s has no English name", c.Kind, c.MinorCode, c.MinorName)
		}
	}
}

// The verification limit (核实, 核查) is 2 working hours, and 1 clock hour
// for emergencies; the closure deadline is the handling deadline plus it.
func TestVerificationLimitAndClosureDeadline(t *testing.T) {
	cal := calendar.Default()
	cat := cases.DefaultCatalogue()
	shanghai := time.FixedZone("CST", 8*3600)
	vending, _ := cat.Lookup(cases.KindEvent, "0501") // 店外经营
	// Friday 2025-05-16 16:30: one working hour left that day, the second
	// on Monday morning.
	fri := time.Date(2025, 5, 16, 16, 30, 0, 0, shanghai)
	if got, want := vending.ClosureDeadline(cal, fri), time.Date(2025, 5, 19, 9, 30, 0, 0, shanghai); !got.Equal(want) {
		t.Errorf("closure deadline %s, want %s", got, want)
	}
	collapse, _ := cat.Lookup(cases.KindEvent, "0401") // 路面塌陷
	sat := time.Date(2025, 5, 17, 23, 30, 0, 0, shanghai)
	if got, want := collapse.VerifyBy(cal, sat), sat.Add(time.Hour); !got.Equal(want) {
		t.Errorf("emergency verification due %s, want %s (one clock hour)", got, want)
	}
	for _, c := range cat.All() {
		if l := c.VerifyLimit(); l.Hours == 0 || l.Days != 0 || l.Hours > 2 {
			t.Errorf("%s %s: verification limit %+v, want a few hours", c.Kind, c.MinorName, l)
		}
	}
}
