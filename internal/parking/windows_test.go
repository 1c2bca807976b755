package parking_test

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/parking"
)

var shanghai = calendar.Default().Location()

// local returns the instant of a Shanghai wall-clock time, given as
// "2006-01-02 15:04", in UTC (the zone of the input must not matter).
func local(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func TestOpenToPublic(t *testing.T) {
	cal := calendar.Default()
	standard := &parking.Lot{Kind: parking.KindGovernmentShared, IsGovernment: true, TotalSpaces: 80, SharedSpaces: 40,
		Windows: parking.StandardSharedWindows()}
	// Rest days only 08:00–20:00: a Friday night still runs into Saturday.
	narrowRest := &parking.Lot{Kind: parking.KindGovernmentShared, IsGovernment: true, TotalSpaces: 50, SharedSpaces: 20,
		Windows: parking.Windows{Weekday: []parking.Range{parking.MustRange("18:30-07:30")}, RestDay: []parking.Range{parking.MustRange("08:00-20:00")}}}
	notShared := &parking.Lot{Kind: parking.KindGovernmentShared, IsGovernment: true, TotalSpaces: 50,
		Windows: parking.StandardSharedWindows()}
	public := &parking.Lot{Kind: parking.KindPublic, TotalSpaces: 200, SharedSpaces: 200}
	mall := &parking.Lot{Kind: parking.KindCommercial, TotalSpaces: 500, Windows: parking.Windows{Hours: []parking.Range{parking.MustRange("08:00-22:00")}}}
	nightBays := &parking.Lot{Kind: parking.KindOnStreet, TotalSpaces: 20, Windows: parking.Windows{Hours: []parking.Range{parking.MustRange("19:00-07:00")}}}
	residents := &parking.Lot{Kind: parking.KindResidential, TotalSpaces: 300}
	pilot := &parking.Lot{Kind: parking.KindResidential, TotalSpaces: 300, SharedSpaces: 30, Windows: parking.Windows{Hours: []parking.Range{parking.MustRange("08:00-18:00")}}}

	const (
		closed   = 0
		open     = 1 // open, may enter and leave
		openStay = 2 // open, no movement
	)
	tests := []struct {
		name string
		lot  *parking.Lot
		at   string
		want int
	}{
		// Tuesday 2025-06-10, an ordinary working day.
		{"working day noon", standard, "2025-06-10 12:00", closed},
		{"one minute before the evening window", standard, "2025-06-10 18:29", closed},
		{"evening window opens", standard, "2025-06-10 18:30", open},
		{"last minute before no-movement", standard, "2025-06-10 21:59", open},
		{"no-movement starts", standard, "2025-06-10 22:00", openStay},
		{"across midnight", standard, "2025-06-11 00:00", openStay},
		{"small hours", standard, "2025-06-11 02:00", openStay},
		{"no-movement ends", standard, "2025-06-11 06:00", open},
		{"last minute of the morning", standard, "2025-06-11 07:29", open},
		{"morning window closes", standard, "2025-06-11 07:30", closed},
		// Weekend 2025-06-14/15.
		{"Friday night into Saturday", standard, "2025-06-14 01:00", openStay},
		{"Saturday noon", standard, "2025-06-14 12:00", open},
		{"Saturday night, no movement", standard, "2025-06-14 23:00", openStay},
		{"Sunday noon", standard, "2025-06-15 12:00", open},
		{"Monday small hours after Sunday", standard, "2025-06-16 03:00", openStay},
		{"Monday 07:00", standard, "2025-06-16 07:00", open},
		{"Monday 09:00", standard, "2025-06-16 09:00", closed},
		// National Day and Mid-Autumn 2025: 10-01..10-08 off; Sunday 09-28
		// and Saturday 10-11 are make-up working days.
		{"make-up Sunday noon is a working day", standard, "2025-09-28 12:00", closed},
		{"make-up Sunday evening", standard, "2025-09-28 19:00", open},
		{"Saturday 09-27 is a rest day", standard, "2025-09-27 12:00", open},
		{"National Day noon (Wednesday)", standard, "2025-10-01 12:00", open},
		{"holiday Monday 10-06 noon", standard, "2025-10-06 12:00", open},
		{"last holiday 10-08 noon", standard, "2025-10-08 12:00", open},
		{"first working day after the holiday, 05:00", standard, "2025-10-09 05:00", openStay},
		{"first working day after the holiday, noon", standard, "2025-10-09 12:00", closed},
		{"make-up Saturday 10-11 noon", standard, "2025-10-11 12:00", closed},
		{"Sunday 10-12 noon", standard, "2025-10-12 12:00", open},
		// Narrow rest-day windows.
		{"narrow: Friday night tail on Saturday", narrowRest, "2025-06-14 03:00", open},
		{"narrow: Saturday after the tail, before 08:00", narrowRest, "2025-06-14 07:45", closed},
		{"narrow: Saturday daytime", narrowRest, "2025-06-14 12:00", open},
		{"narrow: Saturday evening", narrowRest, "2025-06-14 21:00", closed},
		{"narrow: Sunday small hours (Saturday did not cross)", narrowRest, "2025-06-15 03:00", closed},
		{"narrow: Monday small hours", narrowRest, "2025-06-16 03:00", open},
		{"narrow: holiday evening", narrowRest, "2025-10-03 20:30", closed},
		// Not shared, other kinds.
		{"government lot sharing nothing, Saturday", notShared, "2025-06-14 12:00", closed},
		{"public lot, working-day noon", public, "2025-06-10 12:00", open},
		{"public lot, 03:00", public, "2025-06-11 03:00", open},
		{"mall before opening", mall, "2025-06-10 07:59", closed},
		{"mall opens", mall, "2025-06-10 08:00", open},
		{"mall last minute", mall, "2025-06-10 21:59", open},
		{"mall closed", mall, "2025-06-10 22:00", closed},
		{"mall on a holiday", mall, "2025-10-01 12:00", open},
		{"night bays in the evening", nightBays, "2025-06-10 19:30", open},
		{"night bays at 03:00", nightBays, "2025-06-11 03:00", open},
		{"night bays at noon", nightBays, "2025-06-11 12:00", closed},
		{"residents only", residents, "2025-06-14 12:00", closed},
		{"residential pilot, daytime", pilot, "2025-06-10 12:00", open},
		{"residential pilot, night", pilot, "2025-06-10 20:00", closed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := local(t, tc.at)
			got := parking.OpenToPublic(tc.lot, at, cal)
			want := parking.OpenStatus{Open: tc.want != closed, CanMove: tc.want == open}
			if got != want {
				t.Fatalf("OpenToPublic(%s) = %+v, want %+v", tc.at, got, want)
			}
			// The zone of the instant does not matter.
			if again := parking.OpenToPublic(tc.lot, at.In(time.FixedZone("UTC-7", -7*3600)), cal); again != got {
				t.Fatalf("zone changed the answer: %+v vs %+v", again, got)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		crosses bool
		bad     bool
	}{
		{in: "18:30-07:30", want: "18:30-07:30", crosses: true},
		{in: "18:30–07:30", want: "18:30-07:30", crosses: true},
		{in: " 8:00 ~ 18:00 ", want: "08:00-18:00"},
		{in: "00:00-24:00", want: "00:00-24:00"},
		{in: "22:00-06:00", want: "22:00-06:00", crosses: true},
		{in: "08:00-08:00", bad: true},
		{in: "24:00-06:00", bad: true},
		{in: "08:00-00:00", bad: true},
		{in: "25:00-06:00", bad: true},
		{in: "08:60-09:00", bad: true},
		{in: "8-9", bad: true},
		{in: "", bad: true},
	}
	for _, tc := range tests {
		r, err := parking.ParseRange(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseRange(%q) = %v, want an error", tc.in, r)
			}
			continue
		}
		if err != nil || r.String() != tc.want || r.Crosses() != tc.crosses {
			t.Errorf("ParseRange(%q) = %v (crosses %v), %v; want %s (crosses %v)", tc.in, r, r.Crosses(), err, tc.want, tc.crosses)
		}
	}
	if !parking.AllDay.Contains(0) || !parking.AllDay.Contains(parking.At(23, 59)) {
		t.Error("AllDay does not cover the whole day")
	}
}

func TestValidateWindows(t *testing.T) {
	nm := parking.MustRange("22:00-06:00")
	tests := []struct {
		name  string
		kind  parking.Kind
		w     parking.Windows
		field string // "" = valid
	}{
		{"standard shared", parking.KindGovernmentShared, parking.StandardSharedWindows(), ""},
		{"public always open", parking.KindPublic, parking.Windows{}, ""},
		{"public with hours", parking.KindPublic, parking.Windows{Hours: []parking.Range{parking.MustRange("06:00-23:00")}, NoMovement: &nm}, ""},
		{"shared lot with daily hours", parking.KindGovernmentShared, parking.Windows{Hours: []parking.Range{parking.AllDay}}, "windows.hours"},
		{"public lot with weekday windows", parking.KindPublic, parking.Windows{Weekday: []parking.Range{parking.AllDay}}, "windows.weekday"},
		{"all day and windows", parking.KindGovernmentShared, parking.Windows{RestDayAllDay: true, RestDay: []parking.Range{parking.AllDay}}, "windows.restDay"},
		{"empty window", parking.KindPublic, parking.Windows{Hours: []parking.Range{{From: 60, To: 60}}}, "windows.hours[0]"},
		{"too many", parking.KindGovernmentShared, parking.Windows{Weekday: make([]parking.Range, 5)}, "windows.weekday"},
	}
	for _, tc := range tests {
		err := parking.ValidateWindows(tc.kind, tc.w)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if e, ok := apperrAs(err); !ok || e.Field != tc.field {
			t.Errorf("%s: err = %v, want BAD_USER_INPUT on %s", tc.name, err, tc.field)
		}
	}
}
