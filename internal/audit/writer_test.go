package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Two Writers on two pools (two hub instances), each fed by several
// goroutines, produce one gapless chain holding every record exactly once.
func TestWritersConcurrent(t *testing.T) {
	t.Parallel()
	pool, schema := newSchema(t, true)
	// Two pools on one schema: two hub instances.
	pools := []*pgxpool.Pool{pool, openSchema(t, schema)}
	const (
		goroutines = 6
		perG       = 700
	)
	ctx := ctxT(t)
	var writers []*Writer
	for _, p := range pools {
		// Small batches and a short interval interleave the writers' batches.
		writers = append(writers, NewWriter(p, Options{BatchSize: 37, FlushInterval: 2 * time.Millisecond}))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(writers)*goroutines)
	for wi, w := range writers {
		for g := range goroutines {
			wg.Go(func() {
				for i := range perG {
					r := sample(i)
					r.RequestID = fmt.Sprintf("w%d-g%d-%d", wi, g, i)
					if err := w.Log(ctx, r); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("log: %v", err)
	}
	for _, w := range writers {
		if err := w.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		if s := w.Stats(); s.Logged != goroutines*perG || s.Written != s.Logged || s.Pending != 0 {
			t.Fatalf("stats: %+v", s)
		}
	}
	total := len(writers) * goroutines * perG
	verifyOK(t, pool, int64(total))
	var distinct, batches int
	if err := pool.QueryRow(ctx, "SELECT count(DISTINCT request_id), count(DISTINCT batch_id) FROM audit_log").Scan(&distinct, &batches); err != nil {
		t.Fatal(err)
	}
	if distinct != total {
		t.Fatalf("distinct request ids %d, want %d", distinct, total)
	}
	if batches < 2 {
		t.Fatalf("only %d batches: the writers did not interleave", batches)
	}
}

// Close writes everything still queued.
func TestCloseFlushesPending(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	w := NewWriter(pool, Options{})
	const n = 10_000
	for i := range n {
		if err := w.Log(ctx, sample(i)); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := countRows(t, pool); got != n {
		t.Fatalf("stored %d records, want %d", got, n)
	}
	verifyOK(t, pool, n)
	if err := w.Log(ctx, sample(0)); !errors.Is(err, ErrClosed) || apperr.CodeOf(err) != apperr.ServiceUnavailable {
		t.Fatalf("log after close: %v, want ErrClosed", err)
	}
	if err := w.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v, want ErrClosed", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// Flush waits for everything logged before it.
func TestFlush(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	// An interval far longer than the test: only Flush can write.
	w := NewWriter(pool, Options{FlushInterval: time.Hour})
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	for i := range 3 {
		if err := w.Log(ctx, sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, pool); got != 3 {
		t.Fatalf("stored %d, want 3", got)
	}
}

// Flushes that come close together share one commit (group commit); a
// lone flush, the first or one after a quiet spell, writes at once.
func TestFlushGroupCommit(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	const linger = 100 * time.Millisecond
	w := NewWriter(pool, Options{FlushInterval: time.Hour, FlushLinger: linger})
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	logFlush := func(i int) error {
		if err := w.Log(ctx, sample(i)); err != nil {
			return err
		}
		return w.Flush(ctx)
	}
	batches := func() int {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(DISTINCT batch_id) FROM audit_log").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	if err := logFlush(0); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Lingered != 0 || s.Flushes != 1 {
		t.Fatalf("the first flush waited for company: %+v", s)
	}
	// Eight requests right after: the first of them waits, the others
	// join it, and one transaction commits all eight records.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 1; i <= 8; i++ {
		wg.Go(func() { errs <- logFlush(i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if s := w.Stats(); s.Lingered != 1 || s.Flushes != 9 || s.Written != 9 {
		t.Fatalf("stats after the burst: %+v", s)
	}
	if n := batches(); n != 2 {
		t.Fatalf("%d transactions for a lone flush and a burst, want 2", n)
	}
	// After a quiet spell longer than the window, a flush writes at once.
	time.Sleep(lingerWindow*linger + 50*time.Millisecond)
	if err := logFlush(9); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Lingered != 1 || s.Flushes != 10 {
		t.Fatalf("a flush after a quiet spell waited: %+v", s)
	}
	verifyOK(t, pool, 10)
}

// A failing database delays records but loses none: the writer retries
// until the table exists.
func TestRetryKeepsRecords(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, false) // no audit_log yet: every write fails
	ctx := ctxT(t)
	var logs testenv.SyncBuffer
	w := NewWriter(pool, Options{
		BatchSize: 10, FlushInterval: time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	const n = 50
	for i := range n {
		if err := w.Log(ctx, sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return w.Stats().FlushErrors >= 3 })
	if s := w.Stats(); s.Written != 0 || s.Pending != n {
		t.Fatalf("stats while failing: %+v", s)
	}
	if !strings.Contains(logs.String(), "audit write failed") {
		t.Fatalf("failure not logged: %q", logs.String())
	}
	// While the writer is failing, Flush says so at once rather than
	// holding its caller until the caller's deadline.
	start := time.Now()
	if err := w.Flush(ctx); !errors.Is(err, ErrFailing) {
		t.Fatalf("Flush while failing: %v, want ErrFailing", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Flush while failing took %s", took)
	}
	createTable(t, pool)
	// The next retry succeeds; from then on Flush succeeds again.
	waitFor(t, func() bool { return w.Flush(ctx) == nil })
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, pool, n)
}

// A Flush already waiting when the database starts failing is woken by
// the first failed attempt: it does not wait for the database to return.
func TestFlushWokenByFailure(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, false)
	ctx := ctxT(t)
	// The first attempt is made only when Flush asks (hour-long interval),
	// so Flush is waiting when it fails.
	w := NewWriter(pool, Options{FlushInterval: time.Hour, RetryMin: time.Hour, RetryMax: time.Hour})
	defer func() {
		// The table never exists: Close gives up at its deadline.
		cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = w.Close(cctx)
	}()
	if err := w.Log(ctx, sample(1)); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Flush(fctx); !errors.Is(err, ErrFailing) {
		t.Fatalf("Flush when the attempt fails: %v, want ErrFailing", err)
	}
	if s := w.Stats(); s.Pending != 1 || s.FlushErrors != 1 {
		t.Fatalf("the record must stay queued for the next retry: %+v", s)
	}
}

// A full buffer makes Log wait, then refuse with ErrBusy; it never drops a
// record it accepted.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, false)
	ctx := ctxT(t)
	w := NewWriter(pool, Options{
		BatchSize: 2, BufferSize: 3, FlushInterval: time.Millisecond,
		MaxBlock: 20 * time.Millisecond, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
	})
	var busy error
	for i := 0; i < 100 && busy == nil; i++ {
		busy = w.Log(ctx, sample(i))
	}
	if !errors.Is(busy, ErrBusy) {
		t.Fatalf("log with a full buffer: %v, want ErrBusy", busy)
	}
	// A cancelled context ends the wait too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.Log(cctx, sample(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("log with cancelled context: %v", err)
	}
	s := w.Stats()
	if s.Blocked < 2 || s.Rejected != 2 || s.Logged == 0 {
		t.Fatalf("stats: %+v", s)
	}
	createTable(t, pool)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, pool); uint64(got) != s.Logged {
		t.Fatalf("stored %d, accepted %d", got, s.Logged)
	}
	verifyOK(t, pool, int64(s.Logged))
}

// When Close's deadline passes with the database down, every unwritten
// record is logged in full and counted.
func TestCloseDeadline(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, false)
	var logs testenv.SyncBuffer
	w := NewWriter(pool, Options{
		BatchSize: 2, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for i := range 5 {
		if err := w.Log(ctxT(t), sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err == nil || !strings.Contains(err.Error(), "5 records") {
		t.Fatalf("close: %v", err)
	}
	if s := w.Stats(); s.Lost != 5 || s.Pending != 0 {
		t.Fatalf("stats: %+v", s)
	}
	if got := strings.Count(logs.String(), "audit record NOT written"); got != 5 {
		t.Fatalf("logged %d lost records, want 5:\n%s", got, logs.String())
	}
	for i := range 5 {
		if id := sample(i).RequestID; !strings.Contains(logs.String(), id) {
			t.Fatalf("lost record %s not in the log", id)
		}
	}
}

// A retry after an ambiguous commit (the batch landed, the client saw an
// error) does not write the batch twice.
func TestRetryAfterAmbiguousCommit(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	w := NewWriter(pool, Options{})
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	b := w.newBatch([]Record{mustNormalize(t, sample(1)), mustNormalize(t, sample(2))})
	if err := w.insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := w.insert(ctx, b); err != nil { // the retry
		t.Fatal(err)
	}
	if got := countRows(t, pool); got != 2 {
		t.Fatalf("stored %d, want 2", got)
	}
	// A fresh batch still goes in.
	if err := w.insert(ctx, w.newBatch([]Record{mustNormalize(t, sample(3))})); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, pool, 3)
}

// What PostgreSQL cannot store (NUL, invalid UTF-8, nanoseconds) is
// normalised before hashing, so the stored record verifies.
func TestNormalizeRoundTrip(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	w := NewWriter(pool, Options{})
	r := sample(1)
	r.At = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CST", 8*3600))
	r.Subject = "bad\x00subject\xff"
	r.Roles = nil
	if err := w.Log(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := w.Log(ctx, Record{Subject: "zero time"}); err != nil {
		t.Fatal(err)
	}
	bad := sample(2)
	bad.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := w.Log(ctx, bad); apperr.CodeOf(err) != apperr.BadUserInput {
		t.Fatalf("out-of-range time: %v", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, pool, 2)
	got, _, err := Query(ctx, pool, Filter{}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	first := got[1]
	if want := time.Date(2026, 5, 5, 23, 8, 9, 123456000, time.UTC); !first.At.Equal(want) || first.At.Location() != time.UTC {
		t.Fatalf("at %v, want %v", first.At, want)
	}
	if first.Subject != "bad\uFFFDsubject\uFFFD" || first.Roles == nil || len(first.Roles) != 0 {
		t.Fatalf("subject %q roles %#v", first.Subject, first.Roles)
	}
	if got[0].At.IsZero() || time.Since(got[0].At) > time.Minute {
		t.Fatalf("zero At not set to now: %v", got[0].At)
	}
}

func mustNormalize(t *testing.T, r Record) Record {
	t.Helper()
	r, err := normalize(r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFor polls cond (the writer exposes counters, not events) for up to
// ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// Once a writer knows the chain's head, a flush is one statement; when
// another writer has moved the head meanwhile, it reads the head again and
// the chain stays whole. Values that travel as JSON in that statement
// (times, empty lists, non-ASCII text, hashes) are stored as hashed.
func TestAppendInOneStatement(t *testing.T) {
	t.Parallel()
	_, schema := newSchema(t, true)
	u, err := url.Parse(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	var stmts postgres.StatementCounter
	pool, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: u.String(), MaxConns: 4, Statements: &stmts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx := ctxT(t)
	w := NewWriter(pool, Options{FlushInterval: time.Hour, Key: []byte("0123456789abcdef0123456789abcdef")})
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	other := NewWriter(openSchema(t, schema), Options{FlushInterval: time.Hour, Key: []byte("0123456789abcdef0123456789abcdef")})
	t.Cleanup(func() { _ = other.Close(context.Background()) })

	flush := func(w *Writer, rs ...Record) uint64 {
		t.Helper()
		before := stmts.Count()
		for _, r := range rs {
			if err := w.Log(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return stmts.Count() - before
	}
	odd := sample(4)
	odd.At = time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)
	odd.Roles, odd.FieldGroups = []string{}, []string{`a "quoted", {braced} \ group`, "人员"}
	odd.Purpose, odd.Subject = "核查\t违法建设\n第二行", `O'Brien "\x"`
	flush(w, sample(1), sample(2)) // reads the head
	if n := flush(w, sample(3), odd, sample(5)); n != 1 {
		t.Errorf("flush with the head known: %d statements, want 1", n)
	}
	flush(other, sample(6))
	// The refused append, then begin, lock, head, copy and commit: the head
	// is read again, and nothing looks for the refused append in the log
	// (it wrote nothing; that search cost a scan of the log under the
	// chain lock each time another instance had written).
	if n := flush(w, sample(7)); n != 6 {
		t.Errorf("flush after another writer: %d statements, want 6", n)
	}
	if n := flush(w, sample(8)); n != 1 {
		t.Errorf("flush with the head known again: %d statements, want 1", n)
	}
	rep, err := Verify(ctx, pool, VerifyOptions{Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Checked != 8 {
		t.Fatalf("verify: %+v", rep)
	}
	var got Record
	if err := scanRecord(pool.QueryRow(ctx, "SELECT "+selectColumns+" FROM audit_log WHERE seq = 4"), &got); err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(odd.At) || got.Subject != odd.Subject || got.Purpose != odd.Purpose ||
		len(got.Roles) != 0 || len(got.FieldGroups) != 2 || got.FieldGroups[0] != odd.FieldGroups[0] || got.FieldGroups[1] != "人员" {
		t.Fatalf("stored %+v, logged %+v", got, odd)
	}
}
