package loadbench

import (
	"testing"
	"time"
)

func TestEndPeaksCompareTheSawtoothsTops(t *testing.T) {
	const m = 1 << 20
	// A collector's sawtooth that never grows: single readings at the two
	// ends (160 → 190) would suggest a leak, the peaks do not.
	var flat []rssSample
	for i := range 50 {
		flat = append(flat, rssSample{at: time.Duration(i) * time.Second, rss: uint64(160+10*(i%4)) * m})
	}
	if got := describeRSS(flat); got != "RSS peak 190 MiB over the first 9.8s, 190 MiB over the last (flat)" {
		t.Fatalf("flat sawtooth: %q", got)
	}
	first, last, _, ok := endPeaks(flat)
	if !ok || first != 190*m || last != 190*m {
		t.Fatalf("endPeaks = %d, %d, %v", first/m, last/m, ok)
	}

	// The same sawtooth on a rising floor is a leak.
	var rising []rssSample
	for i, s := range flat {
		rising = append(rising, rssSample{at: s.at, rss: s.rss + uint64(i)*m})
	}
	if got := describeRSS(rising); got != "RSS peak 197 MiB over the first 9.8s, 237 MiB over the last (growing)" {
		t.Fatalf("rising sawtooth: %q", got)
	}

	if got := describeRSS(flat[:1]); got != "" {
		t.Fatalf("one sample: %q", got)
	}
}
