package loadbench

import (
	"context"
	"fmt"
	"time"
)

// rssSample is the hub's resident set at an offset into a run.
type rssSample struct {
	at  time.Duration
	rss uint64
}

// sampleRSS reads the hub's resident set every interval until the returned
// stop is called, which gives back the samples. With GOGC=400 the heap
// swings by tens of MiB between collections, so one reading at each end of
// a soak says more about where the sawtooth was than about a leak; the
// samples let the soak compare the peaks of its two ends instead.
func sampleRSS(ctx context.Context, read func() uint64, every time.Duration) (stop func() []rssSample) {
	ctx, cancel := context.WithCancel(ctx)
	// Only the sampling goroutine appends until done is closed; stop reads
	// after that.
	var samples []rssSample
	done := make(chan struct{})
	start := time.Now()
	record := func() {
		if v := read(); v > 0 {
			samples = append(samples, rssSample{at: time.Since(start), rss: v})
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		record()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				record()
			}
		}
	}()
	return func() []rssSample {
		cancel()
		<-done
		record()
		return samples
	}
}

// endPeaks returns the highest resident set in the first and in the last
// fifth of the samples' span; ok is false when either end has no sample.
func endPeaks(samples []rssSample) (first, last uint64, window time.Duration, ok bool) {
	if len(samples) < 2 {
		return 0, 0, 0, false
	}
	begin, end := samples[0].at, samples[len(samples)-1].at
	window = (end - begin) / 5
	var inFirst, inLast bool
	for _, s := range samples {
		if s.at <= begin+window {
			first, inFirst = max(first, s.rss), true
		}
		if s.at >= end-window {
			last, inLast = max(last, s.rss), true
		}
	}
	return first, last, window, inFirst && inLast
}

// describeRSS is the soak's memory note: the two ends' peaks, and whether
// the last stays within a tenth of the first (flat).
func describeRSS(samples []rssSample) string {
	first, last, window, ok := endPeaks(samples)
	if !ok {
		return ""
	}
	verdict := "flat"
	if float64(last) > 1.1*float64(first) {
		verdict = "growing"
	}
	unit := time.Second
	if window < 10*time.Second {
		unit = time.Millisecond
	}
	return fmt.Sprintf("RSS peak %s over the first %s, %s over the last (%s)",
		mib(first), window.Round(unit), mib(last), verdict)
}

// rssEvery spreads about 300 samples over a soak, at most one a second.
func rssEvery(soak time.Duration) time.Duration {
	return min(max(soak/300, 10*time.Millisecond), time.Second)
}
