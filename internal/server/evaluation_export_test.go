package server

import "testing"

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		h               string
		start, end      int64
		ok, satisfiable bool
	}{
		{"bytes=0-", 0, 100, true, true},
		{"bytes=10-", 10, 100, true, true},
		{"bytes=10-19", 10, 20, true, true},
		{"bytes=10-1000", 10, 100, true, true},
		{"bytes=-30", 70, 100, true, true},
		{"bytes=-300", 0, 100, true, true},
		{"bytes=100-", 0, 0, true, false},
		{"bytes=-0", 0, 0, true, false},
		{"bytes=20-10", 0, 0, false, false},
		{"bytes=1-2,5-6", 0, 0, false, false},
		{"items=1-2", 0, 0, false, false},
		{"bytes=x-", 0, 0, false, false},
		{"bytes=-", 0, 0, false, false},
	} {
		s, e, ok, sat := parseRange(c.h, 100)
		if s != c.start || e != c.end || ok != c.ok || sat != c.satisfiable {
			t.Errorf("%q: %d-%d ok=%v sat=%v, want %d-%d ok=%v sat=%v", c.h, s, e, ok, sat, c.start, c.end, c.ok, c.satisfiable)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=-5", "bytes=3-9", "bytes=1-2,3-4", "bytes= 7 - 9 "} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, total int64) {
		if total < 0 {
			total = -total
		}
		if total < 0 {
			return
		}
		s, e, ok, sat := parseRange(h, total)
		if ok && sat && (s < 0 || e > total || s >= e) {
			t.Fatalf("%q of %d: [%d, %d)", h, total, s, e)
		}
	})
}
