package calendar

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// defaultFile is the embedded calendar of official PRC public holidays and
// make-up working days. A string, not a []byte, so it cannot be mutated.
//
//go:embed holidays.json
var defaultFile string

// maxPeriodDays bounds one holiday entry's from–to range. Official periods
// are at most nine days; a longer range is almost always a mistyped year.
// Operators who really need a longer closure can list several entries.
const maxPeriodDays = 31

// Default returns the calendar of official PRC public holidays and make-up
// working days for 2023–2027 (embedded holidays.json) with the default
// windows. Outside those years only weekends are rest days.
//
// 2023–2026 follow the State Council announcements (国办发明电). The 2027
// arrangement had not been published when the file was written, so 2027
// holds only what the law fixes: the statutory days of the 2024 revision of
// the national holiday regulation, plus a weekday off for each statutory day
// that falls on a weekend, and no make-up working days. The real
// announcement will add bridging days and make-up Saturdays/Sundays;
// operators should switch to Load with an updated file once it is out.
//
// Default parses the embedded file on every call; build it once and share
// it.
func Default() *Calendar {
	c, err := parse([]byte(defaultFile))
	if err != nil {
		// The file is part of the binary and covered by tests.
		panic(fmt.Sprintf("calendar: embedded holidays.json: %v", err))
	}
	return c
}

// DefaultFile returns the contents of the embedded holidays.json, as a
// starting point for an operator's own file.
func DefaultFile() []byte { return []byte(defaultFile) }

// Load reads a calendar file (the format of holidays.json, see Parse) from
// path. Errors name the path and, for content errors, the line and entry at
// fault.
func Load(path string) (*Calendar, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: load %s: %w", path, err)
	}
	c, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("calendar: load %s: %w", path, err)
	}
	return c, nil
}

// Parse builds a calendar from the JSON file format:
//
//	{
//	  "comment": "free text, ignored",
//	  "windows": [{"start": "08:30", "end": "12:00"}, {"start": "13:30", "end": "17:30"}],
//	  "holidays": [
//	    {"name": "2025 National Day and Mid-Autumn", "from": "2025-10-01", "to": "2025-10-08",
//	     "work": ["2025-09-28", "2025-10-11"], "note": "free text, ignored"}
//	  ]
//	}
//
// "windows" is optional (default 08:30–12:00 and 13:30–17:30); times are
// "HH:MM" local time, "24:00" allowed as an end. Each holiday entry is one
// item of an announcement: "name" (required), the dates off "from" … "to"
// inclusive ("to" defaults to "from"; at most 31 days), and the weekend
// dates that become make-up working days ("work", optional). Dates are
// "YYYY-MM-DD". Unknown fields are rejected so that typos do not pass
// silently. Errors wrap ErrInvalid and give the line and entry at fault.
func Parse(data []byte) (*Calendar, error) {
	c, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("calendar: parse: %w", err)
	}
	return c, nil
}

type fileCalendar struct {
	Comment  string        `json:"comment"`
	Windows  []fileWindow  `json:"windows"`
	Holidays []fileHoliday `json:"holidays"`
}

type fileWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type fileHoliday struct {
	Name string   `json:"name"`
	From string   `json:"from"`
	To   string   `json:"to"`
	Work []string `json:"work"`
	Note string   `json:"note"`
}

func parse(data []byte) (*Calendar, error) {
	var f fileCalendar
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, decodeError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: unexpected data after the top-level object: %w",
			lineOf(data, dec.InputOffset()), ErrInvalid)
	}
	winLines := elementLines(data, "windows")
	holLines := elementLines(data, "holidays")

	var cfg Config
	for i, fw := range f.Windows {
		w, err := parseWindow(fw)
		if err != nil {
			return nil, fmt.Errorf("windows[%d]%s: %w", i, lineSuffix(winLines, i), err)
		}
		cfg.Windows = append(cfg.Windows, w)
	}
	if err := validateWindows(cfg.Windows); err != nil {
		return nil, err
	}

	// Which entry claimed each date, to name both entries in a conflict.
	offBy := make(map[dayNum]int)
	workBy := make(map[dayNum]int)
	for i, h := range f.Holidays {
		where := fmt.Sprintf("holidays[%d] %q%s", i, h.Name, lineSuffix(holLines, i))
		if strings.TrimSpace(h.Name) == "" {
			return nil, fmt.Errorf("%s: name is required: %w", where, ErrInvalid)
		}
		if h.From == "" {
			return nil, fmt.Errorf("%s: from is required: %w", where, ErrInvalid)
		}
		from, err := ParseDate(h.From)
		if err != nil {
			return nil, fmt.Errorf("%s: from: %w", where, err)
		}
		to := from
		if h.To != "" {
			if to, err = ParseDate(h.To); err != nil {
				return nil, fmt.Errorf("%s: to: %w", where, err)
			}
		}
		first, last := dayOf(from), dayOf(to)
		switch {
		case last < first:
			return nil, fmt.Errorf("%s: to %s is before from %s: %w", where, to, from, ErrInvalid)
		case last-first >= maxPeriodDays:
			return nil, fmt.Errorf("%s: %s to %s is %d days, more than %d; check the year: %w",
				where, from, to, last-first+1, maxPeriodDays, ErrInvalid)
		}
		for n := first; n <= last; n++ {
			if j, ok := workBy[n]; ok {
				return nil, fmt.Errorf("%s: %s is off here but a make-up working day in holidays[%d] %q: %w",
					where, n.date(), j, f.Holidays[j].Name, ErrInvalid)
			}
			offBy[n] = i
			cfg.Holidays = append(cfg.Holidays, n.date())
		}
		for _, s := range h.Work {
			d, err := ParseDate(s)
			if err != nil {
				return nil, fmt.Errorf("%s: work: %w", where, err)
			}
			n := dayOf(d)
			if wd := n.weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, fmt.Errorf("%s: work %s is a %s; only a Saturday or Sunday can be a make-up working day: %w",
					where, d, wd, ErrInvalid)
			}
			if j, ok := offBy[n]; ok {
				return nil, fmt.Errorf("%s: work %s is a day off in holidays[%d] %q: %w",
					where, d, j, f.Holidays[j].Name, ErrInvalid)
			}
			workBy[n] = i
			cfg.ExtraWorkdays = append(cfg.ExtraWorkdays, d)
		}
	}
	c, err := New(cfg)
	if err != nil {
		// Unreachable for entries checked above; kept for defence in depth.
		return nil, err
	}
	return c, nil
}

func parseWindow(fw fileWindow) (Window, error) {
	start, err := parseClock(fw.Start)
	if err != nil {
		return Window{}, fmt.Errorf("start: %w", err)
	}
	end, err := parseClock(fw.End)
	if err != nil {
		return Window{}, fmt.Errorf("end: %w", err)
	}
	return Window{Start: start, End: end}, nil
}

// parseClock parses "HH:MM" between 00:00 and 24:00.
func parseClock(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q: want HH:MM between 00:00 and 24:00: %w", s, ErrInvalid)
	if len(s) != 5 || s[2] != ':' || strings.Trim(s[:2]+s[3:], "0123456789") != "" {
		return 0, bad
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, bad
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// decodeError turns a JSON decoding error into one that names the line and
// column at fault.
func decodeError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return fmt.Errorf("line %d column %d: %v: %w", line, col, err, ErrInvalid)
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		return fmt.Errorf("line %d column %d: %v: %w", line, col, err, ErrInvalid)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("empty file: %w", ErrInvalid)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("line %d: unexpected end of file: %w", lineOf(data, int64(len(data))), ErrInvalid)
	}
	// encoding/json reports unknown fields without an offset; find the key.
	const prefix = `json: unknown field "`
	if msg := err.Error(); strings.HasPrefix(msg, prefix) {
		name := strings.TrimSuffix(strings.TrimPrefix(msg, prefix), `"`)
		key := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `"\s*:`)
		if loc := key.FindIndex(data); loc != nil {
			return fmt.Errorf("line %d: unknown field %q: %w", lineOf(data, int64(loc[0])), name, ErrInvalid)
		}
		return fmt.Errorf("unknown field %q: %w", name, ErrInvalid)
	}
	return fmt.Errorf("%v: %w", err, ErrInvalid)
}

// elementLines returns the line on which each element of the top-level
// array named key starts, or nil if it cannot tell. It runs on data that
// already decoded, so errors only mean "no line numbers".
func elementLines(data []byte, key string) []int {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		// encoding/json matches field names case-insensitively; so do we.
		if k, _ := t.(string); !strings.EqualFold(k, key) {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil
		}
		var lines []int
		for dec.More() {
			// InputOffset is just past the previous token; the element
			// starts after any whitespace and separating comma.
			off := dec.InputOffset()
			for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
				off++
			}
			lines = append(lines, lineOf(data, off))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil
			}
		}
		return lines
	}
	return nil
}

func lineSuffix(lines []int, i int) string {
	if i < len(lines) {
		return fmt.Sprintf(" (line %d)", lines[i])
	}
	return ""
}

func lineOf(data []byte, offset int64) int {
	line, _ := position(data, offset)
	return line
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	offset = max(0, min(offset, int64(len(data))))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
