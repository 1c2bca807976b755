package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkImportCases imports a generated NDJSON file of new cases end to
// end (read, validate, COPY, checks, locate, merge with events and outbox,
// commit) and reports rows/s, the peak heap in use while it ran, the time
// of each phase and the CPU the import and the database spent per row; then
// sends the same file again (every row unchanged) and reports resend-rows/s.
// DATAHUB_BENCH_IMPORT_ROWS sets the file's size (100,000 rows by default).
// A third of the rows leave their jurisdiction to be located.
func BenchmarkImportCases(b *testing.B) {
	n := benchRows(b)
	pool := setup(b)
	svc := newService(b, pool, ingest.Config{})
	ctx := umSystem()
	var rows, peak, peakLive uint64
	var elapsed time.Duration
	var phases ingest.Phases
	var goCPU, dbCPU, resent time.Duration
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "cases.ndjson")
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		rng := rand.New(rand.NewPCG(7, 7))
		prefix := "bench-" + uuid.NewString()[:8]
		for i := range n {
			genCase(w, prefix, i, rng)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if _, err := f.Seek(0, 0); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		stop := watchHeap()
		dbBefore := backendCPU(b, pool)
		goBefore := processCPU()
		b.StartTimer()
		start := time.Now()
		rep, err := svc.Import(ctx, "cases", ingest.NDJSON, f, ingest.Options{})
		elapsed += time.Since(start)
		b.StopTimer()
		goCPU += processCPU() - goBefore
		dbCPU += cpuSince(backendCPU(b, pool), dbBefore)
		inuse, live := stop()
		peak, peakLive = max(peak, inuse), max(peakLive, live)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Committed || rep.Inserted != int64(n) {
			b.Fatalf("report: %s (first errors %v)", rep.Message, rep.Errors[:min(len(rep.Errors), 3)])
		}
		rows += uint64(n)
		// The same file again: every row unchanged, nothing written.
		if _, err := f.Seek(0, 0); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		again, err := svc.Import(ctx, "cases", ingest.NDJSON, f, ingest.Options{})
		resent += time.Since(start)
		if err != nil || again.Unchanged != int64(n) {
			b.Fatalf("resend: %v %v", err, again)
		}
		phases.Copy += rep.Phases.Copy
		phases.Check += rep.Phases.Check
		phases.Merge += rep.Phases.Merge
		phases.Commit += rep.Phases.Commit
		_ = f.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/resent.Seconds(), "resend-rows/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-heap-MiB")
	b.ReportMetric(float64(vmHWM())/(1<<20), "peak-rss-MiB")
	perRun := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(perRun(phases.Copy), "copy-s")
	b.ReportMetric(perRun(phases.Check), "check-s")
	b.ReportMetric(perRun(phases.Merge), "merge-s")
	b.ReportMetric(perRun(phases.Commit), "commit-s")
	// CPU per row, which other work on the machine does not inflate: the
	// import's own (reading, validating, encoding) and the database's.
	b.ReportMetric(float64(goCPU.Microseconds())/float64(rows), "go-cpu-µs/row")
	b.ReportMetric(float64(dbCPU.Microseconds())/float64(rows), "db-cpu-µs/row")
}

// benchRows returns DATAHUB_BENCH_IMPORT_ROWS, the rows of one benchmark
// run (100,000 when unset).
func benchRows(b *testing.B) int {
	v := os.Getenv("DATAHUB_BENCH_IMPORT_ROWS")
	if v == "" {
		return 100_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("DATAHUB_BENCH_IMPORT_ROWS=%q: want a positive number", v)
	}
	return n
}

// watchHeap samples the heap until the returned function is called, which
// returns the peaks of the heap in use (objects and free space in spans,
// the HeapInuse of runtime.MemStats) and of the live heap (what the last
// garbage collection kept).
func watchHeap() func() (uint64, uint64) {
	var mu sync.Mutex
	var inuse, live uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/gc/heap/live:bytes"}}
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		inuse = max(inuse, sample[0].Value.Uint64()+sample[1].Value.Uint64())
		live = max(live, sample[2].Value.Uint64())
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return inuse, live
	}
}

// vmHWM returns the process's peak resident set size (Linux), or 0.
func vmHWM() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// processCPU returns the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU returns the CPU time each server process of the test database
// has used, when the server runs on this machine (else nothing).
func backendCPU(b *testing.B, pool *pgxpool.Pool) map[int]time.Duration {
	var pids []int
	if err := pool.QueryRow(context.Background(), "SELECT array_agg(pid) FROM pg_stat_activity WHERE datname = current_database()").Scan(&pids); err != nil {
		b.Fatal(err)
	}
	out := make(map[int]time.Duration)
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command (which may hold spaces): utime and stime
		// are the 14th and 15th of the line, in clock ticks (100 Hz).
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}

func cpuSince(after, before map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, t := range after {
		d += t - before[pid]
	}
	return d
}
