package audit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults for Options.
const (
	BatchSizeDefault      = 500
	FlushIntervalDefault  = 200 * time.Millisecond
	BufferSizeDefault     = 10_000
	MaxBlockDefault       = 2 * time.Second
	RetryMinDefault       = 100 * time.Millisecond
	RetryMaxDefault       = 10 * time.Second
	AttemptTimeoutDefault = 15 * time.Second
	FlushLingerDefault    = time.Millisecond
)

// lingerWindow: Flush requests closer together than this many
// Options.FlushLinger are load, and wait for company. The window is wider
// than the linger itself because responses that shared a commit come back
// together: their next requests' flushes arrive in a bunch a few
// milliseconds later, not at once.
const lingerWindow = 10

// lockKey is the pg_advisory_xact_lock key that serialises chain appends
// across hub instances: "auditlog" in ASCII.
const lockKey int64 = 0x61756469746c6f67

// Options configure a Writer. Zero (or negative) values take the defaults.
type Options struct {
	// BatchSize is the most records written in one transaction; a batch is
	// written as soon as it is full.
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill.
	FlushInterval time.Duration
	// FlushLinger is group commit for Flush under load: a Flush that comes
	// within lingerWindow lingers of the previous one waits up to
	// FlushLinger for others to join it, and one transaction commits them
	// all. A lone
	// Flush writes at once. Under load this trades at most FlushLinger of
	// latency for far fewer commits (each costs the database a statement,
	// a commit and a WAL flush). Zero takes the default; a negative value
	// turns it off.
	FlushLinger time.Duration
	// BufferSize is how many records may wait in memory. When it is full,
	// Log blocks (backpressure) for up to MaxBlock.
	BufferSize int
	MaxBlock   time.Duration
	// RetryMin and RetryMax bound the exponential backoff between failed
	// write attempts; AttemptTimeout bounds one attempt.
	RetryMin       time.Duration
	RetryMax       time.Duration
	AttemptTimeout time.Duration
	// Logger receives write failures; nil discards them.
	Logger *slog.Logger
	// Key, at least MinKeyBytes long, makes every hash an HMAC (ComputeMAC)
	// that nobody without it can recompute. Without a key the writer
	// chains with plain SHA-256 (ComputeHash), which anyone who can write
	// the table can recompute; the hub always passes one.
	Key []byte
}

// Errors returned by Log. Both are SERVICE_UNAVAILABLE: a caller that cannot
// record a read must not serve it.
var (
	ErrClosed = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the audit trail is shutting down, please retry"}
	ErrBusy   = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the audit trail is overloaded, please retry"}
)

// ErrFailing is what Flush returns while the writer's last attempt failed
// (the database is down or refusing the table): a caller waiting for its
// record to be committed learns at once, instead of when its own deadline
// ends. The record stays queued and is written once the database is back.
var ErrFailing = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the audit trail cannot be written at the moment, please retry"}

// Stats are the Writer's counters, ready to export as metrics. All counts
// are since NewWriter.
type Stats struct {
	Logged      uint64 // records accepted by Log
	Written     uint64 // records committed to audit_log
	Pending     uint64 // accepted and not (yet) committed
	Blocked     uint64 // Log calls that had to wait because the buffer was full
	Rejected    uint64 // Log calls refused (ErrBusy or context done) after waiting; the caller got the error
	FlushErrors uint64 // failed write attempts (each retried)
	Refused     uint64 // records the database refused for their content, stored stripped with a marker (logged in full at ERROR)
	Commits     uint64 // transactions that committed records
	Flushes     uint64 // Flush requests served
	Lingered    uint64 // Flush requests that waited for others to join them (see Options.FlushLinger)
	Lost        uint64 // records still unwritten when Close's context expired (logged in full at ERROR)
}

// Writer writes audit records in the background. Log enqueues; one
// goroutine writes batches and retries failures until they succeed, so an
// accepted record is never dropped while the process runs; Close writes
// whatever is pending. A Writer is safe for concurrent use. Several Writers
// (in one or several processes) may share a database.
type Writer struct {
	pool *pgxpool.Pool
	opts Options
	log  *slog.Logger

	// mu guards closed. Log holds it for reading while it enqueues, so once
	// Close has set closed under the write lock no record can slip into ch
	// after the final drain.
	mu     sync.RWMutex
	closed bool
	ch     chan Record

	flushReq chan chan struct{}
	// failMu guards failing, a channel that is closed while the last write
	// attempt failed and replaced by an open one after the next success, so
	// Flush can wait for its reply or the first failure, whichever is first.
	failMu  sync.Mutex
	failing chan struct{}
	stop    chan struct{} // closed by Close: drain, write everything, exit
	done    chan struct{} // closed when run returns
	// abortCtx is cancelled when Close's context expires: stop retrying.
	abortCtx context.Context
	abort    context.CancelFunc

	logged, written, blocked, rejected, flushErrors, refused, lost, commits, flushes, lingered atomic.Uint64

	// head is the chain head as this writer last wrote or read it, for the
	// one-statement append (see appendAt). Only the run goroutine uses it.
	head chainHead
}

// chainHead is the last record of the chain: its seq and hash.
type chainHead struct {
	known bool
	seq   int64
	hash  []byte
}

// NewWriter starts a Writer on pool. Call Close before the process exits,
// or pending records are lost.
func NewWriter(pool *pgxpool.Pool, opts Options) *Writer {
	opts = opts.withDefaults()
	w := &Writer{
		pool:     pool,
		opts:     opts,
		log:      opts.Logger,
		ch:       make(chan Record, opts.BufferSize),
		flushReq: make(chan chan struct{}),
		failing:  make(chan struct{}),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.abortCtx, w.abort = context.WithCancel(context.Background())
	go w.run()
	return w
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = BatchSizeDefault
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = FlushIntervalDefault
	}
	if o.FlushLinger == 0 {
		o.FlushLinger = FlushLingerDefault
	}
	if o.BufferSize <= 0 {
		o.BufferSize = BufferSizeDefault
	}
	if o.MaxBlock <= 0 {
		o.MaxBlock = MaxBlockDefault
	}
	if o.RetryMin <= 0 {
		o.RetryMin = RetryMinDefault
	}
	if o.RetryMax <= 0 {
		o.RetryMax = RetryMaxDefault
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = AttemptTimeoutDefault
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Log enqueues r and returns without waiting for I/O. Seq, BatchID,
// PrevHash and Hash are ignored; a zero At means now. Strings are made valid
// UTF-8 without NUL bytes (PostgreSQL text accepts nothing else) and bounded
// (see MaxTextBytes): much of a record is chosen by the client — the
// operation name, the request id, the subject, a grant's purpose — and
// nothing it sends may make the record unstorable. A record the database
// refuses all the same is stored stripped (see Stats.Refused) rather than
// holding up the records behind it.
//
// If the buffer is full (the database is slow or down), Log blocks until
// there is room, for at most MaxBlock, rather than drop the record; it then
// returns ErrBusy, or ctx's error if ctx ends first. After Close it returns
// ErrClosed. In every error case the record was not accepted and the caller
// should refuse the read it describes. Stats counts the waits and refusals.
func (w *Writer) Log(ctx context.Context, r Record) error {
	r, err := normalize(r)
	if err != nil {
		return err
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return ErrClosed
	}
	select {
	case w.ch <- r:
		w.logged.Add(1)
		return nil
	default:
	}
	w.blocked.Add(1)
	timer := time.NewTimer(w.opts.MaxBlock)
	defer timer.Stop()
	select {
	case w.ch <- r:
		w.logged.Add(1)
		return nil
	case <-ctx.Done():
		w.rejected.Add(1)
		return fmt.Errorf("audit log: %w", ctx.Err())
	case <-timer.C:
		w.rejected.Add(1)
		w.log.Warn("audit buffer full, record refused", "buffer", w.opts.BufferSize, "waited", w.opts.MaxBlock)
		return ErrBusy
	}
}

func normalize(r Record) (Record, error) {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	if y := r.At.Year(); y < 1 || y > 9999 {
		return r, apperr.Invalid("at", "audit time %s is out of range", r.At)
	}
	r.Seq, r.BatchID, r.PrevHash, r.Hash = 0, [16]byte{}, nil, nil
	r.Subject = cleanText(r.Subject, MaxTextBytes)
	r.Dept = cleanText(r.Dept, MaxTextBytes)
	r.Roles = cleanList(r.Roles)
	r.Purpose = cleanText(r.Purpose, MaxLongTextBytes)
	r.GrantID = cleanText(r.GrantID, MaxLongTextBytes)
	r.Dataset = cleanText(r.Dataset, MaxTextBytes)
	r.FieldGroups = cleanList(r.FieldGroups)
	r.Operation = cleanText(r.Operation, MaxTextBytes)
	r.RequestID = cleanText(r.RequestID, MaxTextBytes)
	return r, nil
}

// Bounds on a record's text, in bytes of UTF-8. The short fields are indexed
// for the auditors' filters, and a btree entry cannot exceed about 2,700
// bytes; the long ones (a grant's purpose, the grants a read was made
// under) are not indexed but are bounded all the same, so one record stays
// small whatever a client sends. Lists keep at most MaxListItems elements
// of at most MaxTextBytes each.
const (
	MaxTextBytes     = 256
	MaxLongTextBytes = 2048
	MaxListItems     = 64
)

// truncatedMark ends a value that was cut to its bound, so an auditor can
// tell a truncated value from a complete one.
const truncatedMark = "…[truncated]"

// cleanText makes s storable: valid UTF-8 without NUL, at most limit bytes
// (cut on a character boundary and marked).
func cleanText(s string, limit int) string {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= limit {
		return s
	}
	cut := limit - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}

// cleanList copies ss (the caller may reuse its slice), bounded like
// cleanText, and never returns nil: a nil slice would be stored as NULL.
func cleanList(ss []string) []string {
	n := min(len(ss), MaxListItems)
	out := make([]string, n)
	for i, s := range ss[:n] {
		out[i] = cleanText(s, MaxTextBytes)
	}
	if len(ss) > n {
		out[n-1] = fmt.Sprintf("…[%d more]", len(ss)-n+1)
	}
	return out
}

// Flush waits until every record accepted before the call is committed, or
// ctx ends, or a write attempt fails (ErrFailing, at once if the last one
// did). Records keep being written in the background in every case.
func (w *Writer) Flush(ctx context.Context) error {
	failing := w.failingCh()
	reply := make(chan struct{})
	select {
	case w.flushReq <- reply:
	case <-w.done:
		return ErrClosed
	case <-failing:
		return ErrFailing
	case <-ctx.Done():
		return fmt.Errorf("audit flush: %w", ctx.Err())
	}
	select {
	case <-reply:
		return nil
	case <-failing:
		return ErrFailing
	case <-ctx.Done():
		return fmt.Errorf("audit flush: %w", ctx.Err())
	}
}

func (w *Writer) failingCh() chan struct{} {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	return w.failing
}

// setFailing records the outcome of a write attempt for Flush.
func (w *Writer) setFailing(failed bool) {
	w.failMu.Lock()
	defer w.failMu.Unlock()
	select {
	case <-w.failing: // closed: failing
		if !failed {
			w.failing = make(chan struct{})
		}
	default:
		if failed {
			close(w.failing)
		}
	}
}

// Close stops accepting records, writes everything pending and stops the
// background goroutine. If ctx ends first, Close stops retrying, logs every
// unwritten record in full at ERROR level (so an operator can re-enter it),
// counts it in Stats.Lost and returns an error. Close may be called more
// than once.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	first := !w.closed
	w.closed = true
	w.mu.Unlock()
	if first {
		close(w.stop)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		w.abort()
		<-w.done
	}
	w.abort() // release the context's resources
	if n := w.lost.Load(); n > 0 {
		return fmt.Errorf("audit close: %d records could not be written before the deadline; each is logged in full", n)
	}
	return nil
}

// Stats returns the Writer's counters.
func (w *Writer) Stats() Stats {
	s := Stats{
		Logged:      w.logged.Load(),
		Written:     w.written.Load(),
		Blocked:     w.blocked.Load(),
		Rejected:    w.rejected.Load(),
		FlushErrors: w.flushErrors.Load(),
		Refused:     w.refused.Load(),
		Commits:     w.commits.Load(),
		Flushes:     w.flushes.Load(),
		Lingered:    w.lingered.Load(),
		Lost:        w.lost.Load(),
	}
	if done := s.Written + s.Lost; s.Logged > done {
		s.Pending = s.Logged - done
	}
	return s
}

// batch is a set of records written in one transaction. It keeps its id
// across retries, and the last seq seen before the first attempt, so a retry
// can find out whether an attempt whose commit failed ambiguously did land.
type batch struct {
	id       [16]byte
	records  []Record
	seenSeq  int64 // -1 until an attempt has read the chain head
	attempts int
}

func (w *Writer) newBatch(records []Record) *batch {
	b := &batch{records: records, seenSeq: -1}
	_, _ = crand.Read(b.id[:])
	b.id[6] = b.id[6]&0x0f | 0x40 // UUID version 4
	b.id[8] = b.id[8]&0x3f | 0x80 // RFC 4122 variant
	return b
}

func (w *Writer) run() {
	defer close(w.done)
	buf := make([]Record, 0, w.opts.BatchSize)
	timer := time.NewTimer(w.opts.FlushInterval)
	timer.Stop()
	// write writes buf (if any) and resets it. It returns false only when
	// Close gave up.
	write := func() bool {
		timer.Stop()
		if len(buf) == 0 {
			return true
		}
		b := w.newBatch(buf)
		ok := w.write(b)
		if ok {
			buf = make([]Record, 0, w.opts.BatchSize)
		} else {
			buf = b.records // what is still unwritten
		}
		return ok
	}
	// drain moves up to limit queued records (all if limit < 0) into
	// batches and writes them. Flush passes what is queued when it asks, so
	// a steady stream of new records cannot keep it waiting.
	drain := func(limit int) bool {
		for ; limit != 0; limit-- {
			select {
			case r := <-w.ch:
				buf = append(buf, r)
				if len(buf) >= w.opts.BatchSize && !write() {
					return false
				}
			default:
				return write()
			}
		}
		return write()
	}
	// lastFlush is when the previous Flush request came: another within
	// lingerWindow lingers means load, and is worth waiting for company.
	var lastFlush time.Time
	// A write fails for good only once Close has given up (and Log can no
	// longer enqueue): then log what is left and stop.
	for {
		ok := true
		select {
		case r := <-w.ch:
			if len(buf) == 0 {
				timer.Reset(w.opts.FlushInterval)
			}
			buf = append(buf, r)
			if len(buf) >= w.opts.BatchSize {
				ok = write()
			}
		case <-timer.C:
			ok = write()
		case reply := <-w.flushReq:
			replies := []chan struct{}{reply}
			now := time.Now()
			if linger := w.opts.FlushLinger; linger > 0 && now.Sub(lastFlush) < lingerWindow*linger {
				replies = w.gatherFlushes(replies, linger)
			}
			lastFlush = now
			// Each request's records were queued before it asked.
			ok = drain(len(w.ch))
			// Counted before the replies go: a caller's Stats after its
			// Flush must include it.
			w.flushes.Add(uint64(len(replies)))
			for _, r := range replies {
				close(r)
			}
		case <-w.stop:
			// closed is set, so nothing can be enqueued after this drain.
			ok = drain(-1)
			if ok {
				return
			}
		}
		if !ok {
			w.giveUp(buf)
			return
		}
	}
}

// gatherFlushes adds the Flush requests that come within linger (or until
// Close) to replies.
func (w *Writer) gatherFlushes(replies []chan struct{}, linger time.Duration) []chan struct{} {
	w.lingered.Add(1)
	t := time.NewTimer(linger)
	defer t.Stop()
	for {
		select {
		case r := <-w.flushReq:
			replies = append(replies, r)
		case <-t.C:
			return replies
		case <-w.stop:
			return replies // the stop case drains and writes everything next
		}
	}
}

// write writes b, retrying with exponential backoff until it succeeds. It
// returns false only if Close's context expired first; b.records then
// holds the records still unwritten.
//
// A batch the database refuses for its content (refusedForContent) is not
// retried as it is: that would fail forever and block every record behind
// it. It is split and written record by record, and a record refused on its
// own is stored stripped (see strip).
func (w *Writer) write(b *batch) bool {
	backoff := w.opts.RetryMin
	for {
		ctx, cancel := context.WithTimeout(w.abortCtx, w.opts.AttemptTimeout)
		err := w.insert(ctx, b)
		cancel()
		if err == nil {
			w.written.Add(uint64(len(b.records)))
			w.commits.Add(1)
			w.setFailing(false)
			return true
		}
		w.flushErrors.Add(1)
		if w.abortCtx.Err() != nil {
			return false
		}
		if code, ok := refusedForContent(err); ok {
			// The server refused a statement, so the transaction did not
			// commit: writing its records again cannot duplicate them.
			if len(b.records) > 1 {
				return w.writeEach(b)
			}
			if stripped, ok := w.strip(b.records[0], code, err); ok {
				b.records[0] = stripped
				backoff = w.opts.RetryMin
				continue
			}
		}
		w.setFailing(true)
		w.log.Error("audit write failed, retrying", "records", len(b.records), "attempt", b.attempts, "retry_in", backoff, "err", err)
		// Full jitter keeps several instances from retrying in lockstep.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-w.abortCtx.Done():
			return false
		}
		backoff = min(2*backoff, w.opts.RetryMax)
	}
}

// writeEach writes b's records one batch each (see write).
func (w *Writer) writeEach(b *batch) bool {
	for i := range b.records {
		one := w.newBatch(b.records[i : i+1 : i+1])
		if !w.write(one) {
			b.records = append(one.records, b.records[i+1:]...)
			return false
		}
	}
	return true
}

// refusedOperation starts the operation of a record stored stripped.
const refusedOperation = "audit: record refused by the database"

// strip returns what can be kept of r, which the database refused on its
// own with SQLSTATE code: who read what and how much, without the texts a
// client chose; then, if that was refused too, only the marker and the
// time. It logs r in full (bounded by normalize) and counts it. ok is false
// when r is already bare: the refusal then cannot be the record's fault.
func (w *Writer) strip(r Record, code string, err error) (Record, bool) {
	marker := refusedOperation + " (SQLSTATE " + code + ")"
	if r.Operation == marker && r.Subject == "" && r.Dataset == "" {
		return r, false
	}
	out := Record{At: r.At, RowCount: r.RowCount, Operation: marker, Roles: []string{}, FieldGroups: []string{}}
	if r.Operation != marker {
		w.refused.Add(1)
		w.log.Error("audit record refused by the database; storing it stripped",
			"sqlstate", code, "err", err,
			"at", r.At, "subject", r.Subject, "dept", r.Dept, "roles", r.Roles,
			"purpose", r.Purpose, "grant_id", r.GrantID, "dataset", r.Dataset,
			"field_groups", r.FieldGroups, "row_count", r.RowCount,
			"operation", r.Operation, "request_id", r.RequestID)
		out.Subject, out.Dept, out.Roles = r.Subject, r.Dept, r.Roles
		out.Dataset, out.FieldGroups, out.GrantID = r.Dataset, r.FieldGroups, r.GrantID
	}
	return out, true
}

// refusedForContent reports whether err is PostgreSQL refusing the data
// itself — a data exception (class 22), a violated constraint (23) or a
// program limit such as an index row too large (54) — rather than the
// database being unreachable or busy, and returns the SQLSTATE.
func refusedForContent(err error) (string, bool) {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) != 5 {
		return "", false
	}
	switch pg.Code[:2] {
	case "22", "23", "54":
		return pg.Code, true
	}
	return "", false
}

// insert appends b to the chain in one transaction: in one statement when
// the writer knows the head and the chain has not moved since (appendAt),
// else by locking the chain and reading its head first.
func (w *Writer) insert(ctx context.Context, b *batch) error {
	if b.seenSeq < 0 && w.head.known {
		head := w.head
		w.head.known = false // until this attempt is known to have landed
		b.attempts++
		b.seenSeq = head.seq // a retry checks whether this attempt landed
		ok, err := w.appendAt(ctx, b, head)
		if err != nil || ok {
			return err
		}
		// The chain moved (another instance wrote): lock and read it. The
		// attempt wrote nothing and its transaction is over, so there is no
		// earlier attempt to look for.
		b.seenSeq = -1
	}
	return w.insertLocked(ctx, b)
}

// insertLocked appends b under the chain lock, after reading the head.
func (w *Writer) insertLocked(ctx context.Context, b *batch) error {
	b.attempts++
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	// Held until commit: the chain head cannot move under us, whichever
	// instance or Writer holds the next batch.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	lastSeq, lastHash := int64(0), genesisHash()
	err = tx.QueryRow(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&lastSeq, &lastHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read chain head: %w", err)
	}
	if b.seenSeq >= 0 {
		// An earlier attempt may have committed even though we saw an error
		// (connection lost during COMMIT). Its transaction has ended, since we
		// now hold the lock it held; if it landed, its rows follow seenSeq.
		var landed bool
		// Bounded on both sides: with one bound, the generic plan of this
		// statement scanned the whole log (1.8 million rows, 100-200 ms,
		// holding the chain lock); with two it walks the primary key over
		// the rows written since.
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM audit_log WHERE seq > $1 AND seq <= $2 AND batch_id = $3)",
			b.seenSeq, lastSeq, b.id).Scan(&landed); err != nil {
			return fmt.Errorf("check earlier attempt: %w", err)
		}
		if landed {
			w.head.known = false // where the chain ends now: the next write reads it
			return nil
		}
	} else {
		b.seenSeq = lastSeq
	}
	w.chain(b, lastSeq, lastHash)
	rows := make([][]any, len(b.records))
	for i := range b.records {
		rows[i] = b.records[i].values()
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, columns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy %d records: %w", len(rows), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.landed(b)
	return nil
}

// chain numbers b's records after the head (lastSeq, lastHash) and hashes
// each onto the one before.
func (w *Writer) chain(b *batch, lastSeq int64, lastHash []byte) {
	prev := lastHash
	for i := range b.records {
		r := &b.records[i]
		r.Seq = lastSeq + int64(i) + 1
		r.BatchID = b.id
		r.PrevHash = prev
		if len(w.opts.Key) > 0 {
			r.Hash = ComputeMAC(w.opts.Key, prev, *r)
		} else {
			r.Hash = ComputeHash(prev, *r)
		}
		prev = r.Hash
	}
}

// landed records the head after b, which was committed.
func (w *Writer) landed(b *batch) {
	last := b.records[len(b.records)-1]
	w.head = chainHead{known: true, seq: last.Seq, hash: last.Hash}
}

// appendSQL appends a batch after the head the writer expects, in one
// statement (its own transaction): it takes the chain lock like every
// other append, and inserts nothing unless the head is still the expected
// one. Its snapshot may predate a batch committed while it waited for the
// lock; such a batch holds the seqs this one would take, so the primary
// key refuses it (appendAt reads that as "the chain moved") and no fork
// can be written.
const appendSQL = `INSERT INTO audit_log (` + selectColumns + `)
SELECT ` + selectColumns + ` FROM jsonb_populate_recordset(NULL::audit_log, @rows::jsonb)
WHERE (SELECT 1 FROM pg_advisory_xact_lock(@lock)) = 1
  AND coalesce((SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1), 0) = @head_seq
  AND coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), @genesis) = @head_hash`

// appendAt appends b after head in one statement. ok is false, with no
// error, when the chain has moved past head: nothing was written.
func (w *Writer) appendAt(ctx context.Context, b *batch, head chainHead) (ok bool, err error) {
	w.chain(b, head.seq, head.hash)
	rows := make([]jsonRecord, len(b.records))
	for i := range b.records {
		rows[i] = jsonOf(&b.records[i])
	}
	tag, err := w.pool.Exec(ctx, appendSQL, pgx.NamedArgs{"rows": rows, "lock": lockKey,
		"head_seq": head.seq, "head_hash": head.hash, "genesis": genesisHash()})
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" && pg.TableName == "audit_log" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("append %d records: %w", len(rows), err)
	}
	if tag.RowsAffected() != int64(len(rows)) {
		return false, nil
	}
	w.landed(b)
	return true, nil
}

// jsonRecord is a record as jsonb_populate_recordset reads it into an
// audit_log row: bytea in hex, the time in RFC 3339 with microseconds.
type jsonRecord struct {
	Seq         int64    `json:"seq"`
	At          string   `json:"at"`
	Subject     string   `json:"subject"`
	Dept        string   `json:"dept"`
	Roles       []string `json:"roles"`
	Purpose     string   `json:"purpose"`
	GrantID     string   `json:"grant_id"`
	Dataset     string   `json:"dataset"`
	FieldGroups []string `json:"field_groups"`
	RowCount    int64    `json:"row_count"`
	Operation   string   `json:"operation"`
	RequestID   string   `json:"request_id"`
	BatchID     string   `json:"batch_id"`
	PrevHash    string   `json:"prev_hash"`
	Hash        string   `json:"hash"`
}

func jsonOf(r *Record) jsonRecord {
	return jsonRecord{Seq: r.Seq, At: r.At.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), Subject: r.Subject, Dept: r.Dept,
		Roles: r.Roles, Purpose: r.Purpose, GrantID: r.GrantID, Dataset: r.Dataset, FieldGroups: r.FieldGroups,
		RowCount: int64(r.RowCount), Operation: r.Operation, RequestID: r.RequestID,
		BatchID: uuidText(r.BatchID), PrevHash: `\x` + hex.EncodeToString(r.PrevHash), Hash: `\x` + hex.EncodeToString(r.Hash)}
}

func uuidText(id [16]byte) string {
	h := hex.EncodeToString(id[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// giveUp logs records that could not be written before Close's deadline, in
// full, so they survive in the logs: buf, then anything still queued (drain
// stops at the first batch that failed).
func (w *Writer) giveUp(buf []Record) {
	for _, r := range buf {
		w.logLost(r)
	}
	for {
		select {
		case r := <-w.ch:
			w.logLost(r)
		default:
			return
		}
	}
}

func (w *Writer) logLost(r Record) {
	w.lost.Add(1)
	w.log.Error("audit record NOT written",
		"at", r.At, "subject", r.Subject, "dept", r.Dept, "roles", r.Roles,
		"purpose", r.Purpose, "grant_id", r.GrantID, "dataset", r.Dataset,
		"field_groups", r.FieldGroups, "row_count", r.RowCount,
		"operation", r.Operation, "request_id", r.RequestID)
}
