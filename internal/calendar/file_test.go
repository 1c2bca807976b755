package calendar

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultParses(t *testing.T) {
	t.Parallel()
	c, err := Parse(DefaultFile())
	if err != nil {
		t.Fatalf("Parse(embedded holidays.json) error = %v", err)
	}
	if got := c.WorkdayLength(); got != workday {
		t.Errorf("WorkdayLength() = %v, want %v", got, workday)
	}
}

// TestDefaultYears counts each year's working days in the embedded data
// against totals worked out by hand from the announcements: weekdays, minus
// holidays on weekdays, plus make-up weekend days.
func TestDefaultYears(t *testing.T) {
	t.Parallel()
	c := Default()
	tests := []struct {
		year     int
		weekdays int // Monday to Friday in the year
		offWeek  int // holidays falling on a weekday
		makeUp   int // make-up weekend working days
	}{
		// 2023-01-02; 01-23..27; 04-05; 05-01..03; 06-22,23; 09-29, 10-02..06.
		{2023, 260, 1 + 5 + 1 + 3 + 2 + 6, 2 + 2 + 1 + 2},
		// 01-01; 02-12..16; 04-04,05; 05-01..03; 06-10; 09-16,17; 10-01..04,07.
		{2024, 262, 1 + 5 + 2 + 3 + 1 + 2 + 5, 2 + 1 + 2 + 1 + 2},
		// 01-01; 01-28..31, 02-03,04; 04-04; 05-01,02,05; 06-02; 10-01..03,06..08.
		{2025, 261, 1 + 6 + 1 + 3 + 1 + 6, 2 + 1 + 2},
		// 01-01,02; 02-16..20,23; 04-06; 05-01,04,05; 06-19; 09-25; 10-01,02,05..07.
		{2026, 261, 2 + 6 + 1 + 3 + 1 + 1 + 5, 1 + 2 + 1 + 2},
		// Provisional: 01-01; 02-05,08..10; 04-05; 05-03,04; 06-09; 09-15; 10-01,04,05.
		{2027, 261, 1 + 4 + 1 + 2 + 1 + 1 + 3, 0},
	}
	for _, tt := range tests {
		want := tt.weekdays - tt.offWeek + tt.makeUp
		from := time.Date(tt.year, 1, 1, 0, 0, 0, 0, c.Location())
		got := c.WorkingDuration(from, from.AddDate(1, 0, 0))
		if got != time.Duration(want)*workday {
			t.Errorf("%d: %v of working time = %.1f days, want %d days", tt.year, got, float64(got)/float64(workday), want)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	const good = `{
  "comment": "test calendar",
  "windows": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
  "holidays": [
    {"name": "National Day", "from": "2025-10-01", "to": "2025-10-08", "work": ["2025-09-28", "2025-10-11"]},
    {"name": "New Year", "from": "2026-01-01", "note": "one day"}
  ]
}`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if got := c.WorkdayLength(); got != 8*hour {
		t.Errorf("WorkdayLength() = %v, want 8h", got)
	}
	checks := []struct {
		at      string
		working bool
	}{
		{"2025-10-08 10:00", false},
		{"2025-10-11 10:00", true},
		{"2026-01-01 10:00", false},
		{"2026-01-02 10:00", true},
	}
	for _, ch := range checks {
		if got := c.IsWorkingDay(local(t, ch.at)); got != ch.working {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", ch.at, got, ch.working)
		}
	}
	if got, want := c.AddWorkingHours(local(t, "2025-09-30 17:00"), 2*hour), local(t, "2025-10-09 10:00"); !got.Equal(want) {
		t.Errorf("AddWorkingHours over the custom windows = %s, want 2025-10-09 10:00", fmtLocal(got))
	}

	minimal, err := Parse([]byte(`{"holidays": []}`))
	if err != nil {
		t.Fatalf("Parse(minimal) error = %v", err)
	}
	if got := minimal.WorkdayLength(); got != workday {
		t.Errorf("minimal WorkdayLength() = %v, want default %v", got, workday)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		want []string // substrings of the error message
	}{
		{"empty", ``, []string{"empty file"}},
		{"syntax error", "{\n  \"holidays\": [\n    {\"name\": \"x\",}\n  ]\n}", []string{"line 3 column"}},
		{"truncated", "{\n  \"holidays\": [\n", []string{"unexpected end of file"}},
		{"wrong type", "{\n  \"holidays\": [\n    {\"name\": 5}\n  ]\n}", []string{"line 3 column"}},
		{"unknown field", "{\n  \"holidays\": [\n    {\"name\": \"x\",\n     \"form\": \"2025-10-01\"}\n  ]\n}", []string{"line 4", `unknown field "form"`}},
		{"trailing data", "{\"holidays\": []}\n{}", []string{"line 2", "after the top-level object"}},
		{"missing name", "{\"holidays\": [\n {\"from\": \"2025-10-01\"}\n]}", []string{"holidays[0]", "line 2", "name is required"}},
		{"missing from", "{\"holidays\": [\n {\"name\": \"x\"}\n]}", []string{"holidays[0]", "from is required"}},
		{"bad date in the second entry", "{\n  \"holidays\": [\n    {\"name\": \"ok\", \"from\": \"2025-10-01\"},\n    {\"name\": \"bad\",\n     \"from\": \"2025-02-30\"}\n  ]\n}", []string{`holidays[1] "bad" (line 4)`, `from: parse date "2025-02-30"`}},
		{"bad to", `{"holidays": [{"name": "x", "from": "2025-10-01", "to": "10/08"}]}`, []string{"to: parse date"}},
		{"to before from", `{"holidays": [{"name": "x", "from": "2025-10-08", "to": "2025-10-01"}]}`, []string{"is before from"}},
		{"year typo makes a long range", `{"holidays": [{"name": "x", "from": "2025-01-28", "to": "2026-02-04"}]}`, []string{"373 days", "check the year"}},
		{"make-up day on a weekday", `{"holidays": [{"name": "x", "from": "2025-10-01", "work": ["2025-10-09"]}]}`, []string{`work 2025-10-09 is a Thursday`}},
		{"bad make-up date", `{"holidays": [{"name": "x", "from": "2025-10-01", "work": ["2025-13-01"]}]}`, []string{"work: parse date"}},
		{"make-up day inside the same period", `{"holidays": [{"name": "x", "from": "2025-10-01", "to": "2025-10-08", "work": ["2025-10-04"]}]}`, []string{`work 2025-10-04 is a day off in holidays[0] "x"`}},
		{"conflict across entries", "{\"holidays\": [\n {\"name\": \"a\", \"from\": \"2025-10-01\", \"work\": [\"2025-09-28\"]},\n {\"name\": \"b\", \"from\": \"2025-09-27\", \"to\": \"2025-09-28\"}\n]}", []string{`holidays[1] "b" (line 3)`, `2025-09-28 is off here but a make-up working day in holidays[0] "a"`}},
		{"bad window clock", "{\"windows\": [\n {\"start\": \"8:30\", \"end\": \"12:00\"}\n], \"holidays\": []}", []string{"windows[0] (line 2)", `start: "8:30"`}},
		{"window minutes out of range", `{"windows": [{"start": "08:30", "end": "12:60"}], "holidays": []}`, []string{`end: "12:60"`}},
		{"window past 24:00", `{"windows": [{"start": "20:00", "end": "24:30"}], "holidays": []}`, []string{`end: "24:30"`}},
		{"window with a sign", `{"windows": [{"start": "+8:30", "end": "12:00"}], "holidays": []}`, []string{`start: "+8:30"`}},
		{"overlapping windows", `{"windows": [{"start": "08:30", "end": "12:00"}, {"start": "11:00", "end": "17:00"}], "holidays": []}`, []string{"window 1", "overlaps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatalf("Parse() = %v, want error", c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %q does not wrap ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, DefaultFile(), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"holidays": [{"name": "x", "from": "2025-10-01", "work": ["2025-10-09"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load(%s) error = %v", good, err)
	}
	if c.IsWorkingDay(local(t, "2025-10-03 10:00")) {
		t.Error("loaded calendar treats 2025-10-03 as a working day")
	}

	_, err = Load(bad)
	if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "holidays[0]") {
		t.Errorf("Load(bad) error = %v, want ErrInvalid naming the path and the entry", err)
	}

	missing := filepath.Join(dir, "missing.json")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist naming the path", err)
	}
}
