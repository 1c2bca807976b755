package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

var testKey = bytes.Repeat([]byte("k"), MinKeyBytes)

// seedKeyed writes n sample records (numbered from, from+1, …) through a
// keyed Writer.
func seedKeyed(tb testing.TB, pool *pgxpool.Pool, from, n int) {
	tb.Helper()
	ctx := ctxT(tb)
	w := NewWriter(pool, Options{Key: testKey})
	for i := range n {
		if err := w.Log(ctx, sample(from+i)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		tb.Fatal(err)
	}
}

func checkpointNow(t *testing.T, pool *pgxpool.Pool) Checkpoint {
	t.Helper()
	seq, hash, err := Head(ctxT(t), pool)
	if err != nil {
		t.Fatal(err)
	}
	return SignCheckpoint(testKey, seq, hash, time.Now())
}

// verifyKeyed verifies with the key and checkpoints and returns the first
// problem (zero if none).
func verifyKeyed(t *testing.T, pool *pgxpool.Pool, o VerifyOptions) (Report, Problem) {
	t.Helper()
	o.Key = testKey
	rep, err := Verify(ctxT(t), pool, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) == 0 {
		return rep, Problem{}
	}
	return rep, rep.Problems[0]
}

// Someone who can write the table but does not hold the key cannot rewrite
// records and recompute their hashes, from any point of the chain and in
// either algorithm: the first rewritten record is reported.
func TestKeyedChainResistsRecomputedRewrite(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	seedKeyed(t, pool, 0, 20)
	if rep, p := verifyKeyed(t, pool, VerifyOptions{}); !rep.OK || rep.Legacy != 0 {
		t.Fatalf("intact keyed chain: %+v %+v", rep, p)
	}
	// Rewrite records 12..20 and recompute the chain after them, with
	// the documented unkeyed algorithm (or a guessed key).
	mustExec(t, pool, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
	prev := readRecord(t, pool, 11).Hash
	for seq := int64(12); seq <= 20; seq++ {
		r := readRecord(t, pool, seq)
		r.Subject, r.PrevHash = "someone-else", prev
		if seq%2 == 0 {
			r.Hash = ComputeHash(prev, r)
		} else {
			r.Hash = ComputeMAC([]byte("guessed-key-guessed-key-guessed-k"), prev, r)
		}
		mustExec(t, pool, "UPDATE audit_log SET subject = $1, prev_hash = $2, hash = $3 WHERE seq = $4", r.Subject, r.PrevHash, r.Hash, seq)
		prev = r.Hash
	}
	mustExec(t, pool, "ALTER TABLE audit_log ENABLE TRIGGER ALL")
	if rep, p := verifyKeyed(t, pool, VerifyOptions{}); rep.OK || p.Seq != 12 || p.Kind != Changed {
		t.Fatalf("rewrite from seq 12 not reported there: %+v", rep.Problems)
	}
}

// A chain rebuilt from its first record, unkeyed (as legacy records are),
// verifies among itself; a checkpoint shows it was rewritten. Removing the
// newest records leaves an intact chain; a checkpoint or a recorded head
// shows the truncation. Each is reported as what it is.
func TestCheckpointsRevealTruncationAndRebuild(t *testing.T) {
	t.Parallel()
	t.Run("truncated", func(t *testing.T) {
		t.Parallel()
		pool, _ := newSchema(t, true)
		seedKeyed(t, pool, 0, 30)
		cp := checkpointNow(t, pool)
		mustExec(t, pool, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
		mustExec(t, pool, "DELETE FROM audit_log WHERE seq > 25")
		mustExec(t, pool, "ALTER TABLE audit_log ENABLE TRIGGER ALL")
		if rep, _ := verifyKeyed(t, pool, VerifyOptions{}); !rep.OK {
			t.Fatalf("without checkpoints a truncated chain is intact in itself: %+v", rep.Problems)
		}
		rep, p := verifyKeyed(t, pool, VerifyOptions{Checkpoints: []Checkpoint{cp}})
		if rep.OK || p.Kind != Truncated || p.Seq != 26 || rep.ProblemCount != 1 {
			t.Fatalf("truncation with a checkpoint: %+v", rep.Problems)
		}
		head := Checkpoint{Seq: cp.Seq, Hash: cp.Hash, At: cp.At}
		if rep, p := verifyKeyed(t, pool, VerifyOptions{Heads: []Checkpoint{head}}); rep.OK || p.Kind != Truncated {
			t.Fatalf("truncation with a recorded head: %+v", rep.Problems)
		}
	})
	t.Run("rebuilt", func(t *testing.T) {
		t.Parallel()
		pool, _ := newSchema(t, true)
		seedKeyed(t, pool, 0, 30)
		cp := checkpointNow(t, pool)
		mustExec(t, pool, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
		prev := genesisHash()
		for seq := int64(1); seq <= 30; seq++ {
			r := readRecord(t, pool, seq)
			r.Dataset, r.PrevHash = "parking", prev
			r.Hash = ComputeHash(prev, r)
			mustExec(t, pool, "UPDATE audit_log SET dataset = $1, prev_hash = $2, hash = $3 WHERE seq = $4", r.Dataset, r.PrevHash, r.Hash, seq)
			prev = r.Hash
		}
		mustExec(t, pool, "ALTER TABLE audit_log ENABLE TRIGGER ALL")
		if rep, _ := verifyKeyed(t, pool, VerifyOptions{}); !rep.OK || rep.Legacy != 30 {
			t.Fatalf("a rebuilt unkeyed chain verifies in itself, all legacy: %+v", rep)
		}
		rep, p := verifyKeyed(t, pool, VerifyOptions{Checkpoints: []Checkpoint{cp}})
		if rep.OK || p.Kind != Rewritten || p.Seq != 30 {
			t.Fatalf("rebuild with a checkpoint: %+v", rep.Problems)
		}
	})
	t.Run("forged checkpoint", func(t *testing.T) {
		t.Parallel()
		pool, _ := newSchema(t, true)
		seedKeyed(t, pool, 0, 5)
		cp := checkpointNow(t, pool)
		cp.Seq = 2
		rep, p := verifyKeyed(t, pool, VerifyOptions{Checkpoints: []Checkpoint{cp}})
		if rep.OK || p.Kind != BadCheckpoint {
			t.Fatalf("altered checkpoint: %+v", rep.Problems)
		}
	})
}

// Records written before the chain was keyed still verify, as its first
// records; keyed ones follow them. A file sink's checkpoints read back and
// match.
func TestLegacyRecordsThenKeyed(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	seed(t, pool, 10) // unkeyed, as before the upgrade
	seedKeyed(t, pool, 10, 10)
	path := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	cpr := &Checkpointer{Pool: pool, Key: testKey, Sinks: []CheckpointSink{FileSink{Path: path}}}
	if err := cpr.Once(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cps, err := ReadCheckpoints(f)
	if err != nil || len(cps) != 1 || cps[0].Seq != 20 {
		t.Fatalf("checkpoints %+v, %v", cps, err)
	}
	rep, p := verifyKeyed(t, pool, VerifyOptions{Checkpoints: cps})
	if !rep.OK || rep.Legacy != 10 || rep.Checked != 20 || rep.CheckpointsMatched != 1 {
		t.Fatalf("legacy then keyed: %+v %+v", rep, p)
	}
	// An unkeyed record after keyed ones is not accepted.
	seed(t, pool, 1)
	if rep, p := verifyKeyed(t, pool, VerifyOptions{}); rep.OK || p.Seq != 21 || p.Kind != Changed {
		t.Fatalf("unkeyed after keyed: %+v", rep.Problems)
	}
}
