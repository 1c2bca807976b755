package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ProblemKind says what Verify found wrong at a record.
type ProblemKind string

// Problem kinds.
const (
	// Changed: the record's content, seq, prev_hash or hash was altered; or
	// the record was rewritten with a freshly computed hash, which shows at
	// the next record (whose prev_hash still names the original).
	Changed ProblemKind = "changed"
	// Missing: records were deleted; Seq is where the gap starts.
	Missing ProblemKind = "missing"
	// Inserted: the record is not part of the chain (the record after it
	// links to the one before it), typically forged and slipped in by
	// renumbering the records after it.
	Inserted ProblemKind = "inserted"
	// Broken: the chain is inconsistent in a way none of the above explains.
	Broken ProblemKind = "broken"
	// Truncated: a checkpoint or recorded head names a record beyond the
	// chain's end: the newest records were removed.
	Truncated ProblemKind = "truncated"
	// Rewritten: the record a checkpoint or recorded head names carries
	// another hash now: the chain was rebuilt up to there (the rebuilt
	// records may verify among themselves).
	Rewritten ProblemKind = "rewritten"
	// BadCheckpoint: a checkpoint's signature does not verify under the
	// key; it was forged or altered, and is not used.
	BadCheckpoint ProblemKind = "bad-checkpoint"
)

// VerifyOptions say what to verify the chain against.
type VerifyOptions struct {
	// Key is the hub's audit key (AUDIT_HMAC_KEY). Records written with it
	// verify only with it. Without it only unkeyed (legacy) records verify.
	Key []byte
	// Checkpoints are signed heads exported by the hub (Checkpointer);
	// each must be signed with Key.
	Checkpoints []Checkpoint
	// Heads are heads an operator recorded earlier (a previous report):
	// trusted as given, unsigned.
	Heads []Checkpoint
}

// Problem is one place where the chain does not hold. Seq is the record's
// seq as stored now.
type Problem struct {
	Seq    int64
	Kind   ProblemKind
	Detail string
}

// Report is the outcome of Verify.
type Report struct {
	// OK is true when every record is intact and linked to the one before.
	OK bool
	// Checked is the number of records read.
	Checked int64
	// LastSeq and LastHash are the chain head. A hash chain cannot show that
	// its newest records were removed, or records appended by someone who
	// can compute hashes: record the head somewhere else (a report, another
	// system) and compare it with a later run to cover that.
	LastSeq  int64
	LastHash []byte
	// Legacy counts records hashed without a key (written before the chain
	// was keyed). They verify only as the chain's first records: after the
	// first keyed record, an unkeyed one is reported as Changed. Only a
	// checkpoint covering them proves they were not rebuilt.
	Legacy int64
	// CheckpointsMatched counts checkpoints and heads the chain agrees with.
	CheckpointsMatched int
	// Problems lists the first MaxProblems problems in seq order;
	// ProblemCount counts them all.
	Problems     []Problem
	ProblemCount int
}

// MaxProblems caps Report.Problems.
const MaxProblems = 100

// Verify reads the whole trail in seq order, in one read-only snapshot and
// constant memory, recomputes every hash and checks every link. It returns
// an error only if the trail could not be read; tampering is reported in
// Report. Several writers may keep appending meanwhile: the snapshot sees a
// consistent prefix of the chain.
//
// Against opts' checkpoints and heads it also reports Truncated (the chain
// ends before a checkpointed record) and Rewritten (a checkpointed record
// carries another hash now).
func Verify(ctx context.Context, pool *pgxpool.Pool, opts VerifyOptions) (Report, error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return Report{}, fmt.Errorf("audit verify: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	// The pool's statement timeout suits requests, not a scan of the whole
	// trail.
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return Report{}, fmt.Errorf("audit verify: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT "+selectColumns+" FROM audit_log ORDER BY seq")
	if err != nil {
		return Report{}, fmt.Errorf("audit verify: query: %w", err)
	}
	defer rows.Close()
	v := newVerifier()
	v.setOptions(opts)
	for rows.Next() {
		var r Record
		if err := scanRecord(rows, &r); err != nil {
			return Report{}, fmt.Errorf("audit verify: scan after seq %d: %w", v.rep.LastSeq, err)
		}
		v.check(&r)
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("audit verify: read after seq %d: %w", v.rep.LastSeq, err)
	}
	return v.finish(), nil
}

// windowSize is how many recent records the verifier remembers: a run of up
// to windowSize-1 inserted records is recognised as such.
const windowSize = 32

// maxShift bounds the search for a record's original seq when records
// before it were deleted and the rest renumbered.
const maxShift = 1000

// link is a record as the verifier remembers it.
type link struct {
	seq     int64 // as stored
	orig    int64 // the seq its hash was computed with (best guess if altered)
	hash    []byte
	changed int // index in Problems of a Changed problem about it, or -1
}

type verifier struct {
	rep Report
	key []byte
	// keyed is set once a record verified with the key: no unkeyed record
	// may follow.
	keyed     bool
	lastKeyed bool // whether the last successful hashesAs was keyed
	// marks are checkpoints and heads by seq, removed when checked.
	marks  map[int64][]Checkpoint
	window []link // most recent last; starts with the genesis
	// pending blames the previous record for a rewrite; it is confirmed
	// unless the next record shows that the current one was inserted.
	pending *Problem
}

func newVerifier() *verifier {
	return &verifier{window: []link{{hash: genesisHash(), changed: -1}}}
}

func (v *verifier) add(p Problem) int {
	v.rep.ProblemCount++
	if len(v.rep.Problems) >= MaxProblems {
		return -1
	}
	v.rep.Problems = append(v.rep.Problems, p)
	return len(v.rep.Problems) - 1
}

func (v *verifier) setOptions(o VerifyOptions) {
	v.key = o.Key
	v.marks = map[int64][]Checkpoint{}
	for _, c := range o.Checkpoints {
		if !c.Valid(o.Key) {
			v.add(Problem{c.Seq, BadCheckpoint, fmt.Sprintf(
				"the checkpoint of seq %d taken %s is not signed with this key: ignored", c.Seq, c.At.Format(time.RFC3339))})
			continue
		}
		v.marks[c.Seq] = append(v.marks[c.Seq], c)
	}
	for _, c := range o.Heads {
		c.MAC = nil
		v.marks[c.Seq] = append(v.marks[c.Seq], c)
	}
}

// hashesAs reports whether r's stored hash is right for r numbered seq:
// keyed, or unkeyed while no keyed record has been seen.
func (v *verifier) hashesAs(r *Record, seq int64) bool {
	c := *r
	c.Seq = seq
	if len(v.key) > 0 && hmac.Equal(ComputeMAC(v.key, r.PrevHash, c), r.Hash) {
		v.lastKeyed = true
		return true
	}
	if !v.keyed && bytes.Equal(ComputeHash(r.PrevHash, c), r.Hash) {
		v.lastKeyed = false
		return true
	}
	return false
}

// checkMarks compares r with the checkpoints and heads of its seq.
func (v *verifier) checkMarks(r *Record) {
	for _, c := range v.marks[r.Seq] {
		if bytes.Equal(c.Hash, r.Hash) {
			v.rep.CheckpointsMatched++
			continue
		}
		v.add(Problem{r.Seq, Rewritten, fmt.Sprintf("%s of %s recorded hash %x for seq %d; it is %x now",
			markName(c), c.At.Format(time.RFC3339), c.Hash, r.Seq, r.Hash)})
	}
	delete(v.marks, r.Seq)
}

func markName(c Checkpoint) string {
	if len(c.MAC) == 0 {
		return "the recorded head"
	}
	return "the signed checkpoint"
}

func (v *verifier) check(r *Record) {
	v.rep.Checked++
	n := len(v.window)
	last := v.window[n-1]
	lastShift := last.seq - last.orig

	// Which remembered record does r link to?
	li := -1
	if bytes.Equal(r.PrevHash, last.hash) {
		li = n - 1
	} else {
		for i := n - 2; i >= 0; i-- {
			if bytes.Equal(r.PrevHash, v.window[i].hash) {
				li = i
				break
			}
		}
	}
	// Is r's content intact, and with which seq was it hashed? Try its
	// stored seq, the seq it had before a renumbering seen earlier, and the
	// seq that follows the record it links to.
	var orig int64
	intact := false
	tried := make([]int64, 0, 3)
	try := func(c int64) bool {
		for _, t := range tried {
			if t == c {
				return false
			}
		}
		tried = append(tried, c)
		if c > 0 && v.hashesAs(r, c) {
			orig, intact = c, true
		}
		return intact
	}
	_ = try(r.Seq) || try(r.Seq-lastShift) || (li >= 0 && try(v.window[li].orig+1))
	if !intact && li < 0 && v.rep.ProblemCount < MaxProblems {
		// Records before r were deleted and the rest renumbered: find the
		// seq r was written with. Bounded by the problem cap, so a trail
		// full of garbage does not cost maxShift hashes a record.
		for d := int64(1); d <= maxShift && !intact; d++ {
			_ = try(r.Seq+d) || try(r.Seq-d)
		}
	}
	if v.pending != nil {
		// The previous record claimed a predecessor we could not find and
		// we blamed the one before it; if r (intact) links past the previous
		// record, that record was inserted and the blame was misplaced.
		if !intact || li < 0 || li == n-1 {
			v.add(*v.pending)
		}
		v.pending = nil
	}
	changed := -1
	if !intact {
		if li >= 0 {
			orig = v.window[li].orig + 1
		} else {
			orig = r.Seq - lastShift
		}
		changed = v.add(Problem{r.Seq, Changed,
			"the stored hash does not match the record: its content, seq, prev_hash or hash was altered, or it was hashed without the hub's key"})
	} else if v.lastKeyed {
		v.keyed = true
	} else {
		v.rep.Legacy++
	}

	switch {
	case !intact:
		// Already reported; what r says about its predecessor (prev_hash)
		// cannot be trusted, so draw no conclusions from it.
		li = -1
	case li == n-1: // linked to the record before it, as it should be
		if last.changed >= 0 {
			break
		}
		if orig != last.orig+1 {
			v.add(Problem{r.Seq, Broken, fmt.Sprintf(
				"hashed as seq %d but follows the record hashed as seq %d", orig, last.orig)})
		} else if r.Seq != last.seq+1 {
			v.add(Problem{r.Seq, Changed, fmt.Sprintf(
				"renumbered: written as seq %d, directly after seq %d", orig, last.seq)})
		}
	case li >= 0: // links past the records after window[li]: those were inserted
		for _, k := range v.window[li+1:] {
			p := Problem{k.seq, Inserted, fmt.Sprintf(
				"not part of the chain: seq %d links to seq %d before it", r.Seq, v.window[li].seq)}
			if k.changed >= 0 {
				v.rep.Problems[k.changed] = p
			} else {
				v.add(p)
			}
		}
	default: // links to nothing we know
		if last.changed >= 0 {
			break // already reported
		}
		switch gap := orig - last.orig - 1; {
		case gap > 0:
			v.add(Problem{last.seq + 1, Missing, fmt.Sprintf(
				"%d record(s) missing after seq %d (written as seq %d..%d)", gap, last.seq, last.orig+1, orig-1)})
		case gap == 0:
			v.pending = &Problem{last.seq, Changed, fmt.Sprintf(
				"rewritten with a recomputed hash: seq %d still links to its original hash", r.Seq)}
		default:
			v.add(Problem{r.Seq, Broken, fmt.Sprintf(
				"hashed as seq %d but follows the record hashed as seq %d", orig, last.orig)})
		}
	}

	if li >= 0 {
		v.window = v.window[:li+1]
	}
	if len(v.window) == windowSize {
		copy(v.window, v.window[1:])
		v.window = v.window[:windowSize-1]
	}
	v.window = append(v.window, link{seq: r.Seq, orig: orig, hash: r.Hash, changed: changed})
	v.rep.LastSeq, v.rep.LastHash = r.Seq, r.Hash
	if len(v.marks) > 0 {
		v.checkMarks(r)
	}
}

func (v *verifier) finish() Report {
	if v.pending != nil {
		v.add(*v.pending)
		v.pending = nil
	}
	// Checkpoints left are of records not found: beyond the end (the
	// newest records were removed), or inside a gap already reported.
	var beyond *Checkpoint
	var inside []int64
	for seq, cs := range v.marks {
		for i := range cs {
			if seq > v.rep.LastSeq {
				if beyond == nil || seq > beyond.Seq {
					beyond = &cs[i]
				}
			} else if seq > 0 {
				inside = append(inside, seq)
			}
		}
	}
	slices.Sort(inside)
	for _, seq := range slices.Compact(inside) {
		v.add(Problem{seq, Missing, fmt.Sprintf("seq %d, which a checkpoint recorded, is not in the chain", seq)})
	}
	if beyond != nil {
		v.add(Problem{v.rep.LastSeq + 1, Truncated, fmt.Sprintf(
			"the chain ends at seq %d, but %s of %s saw seq %d: records %d..%d were removed",
			v.rep.LastSeq, markName(*beyond), beyond.At.Format(time.RFC3339), beyond.Seq, v.rep.LastSeq+1, beyond.Seq)})
	}
	if v.rep.LastHash == nil {
		v.rep.LastHash = genesisHash()
	}
	v.rep.OK = v.rep.ProblemCount == 0
	return v.rep
}
