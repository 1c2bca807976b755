package audit

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// MinKeyBytes is the shortest key the chain accepts.
const MinKeyBytes = 32

// macTag starts every keyed encoding: a keyed hash can never be mistaken
// for an unkeyed one of the same record.
const macTag = "datahub.audit.v2"

// ComputeMAC returns HMAC-SHA256(key, prev || Encode(r)), the hash a record
// carries when the chain is keyed: Encode is ComputeHash's, starting with
// "datahub.audit.v2" instead of "datahub.audit.v1". Without the key nobody
// can compute it, so whoever rewrites records in the database cannot make
// them verify again.
func ComputeMAC(key, prev []byte, r Record) []byte {
	var buf [512]byte
	m := hmac.New(sha256.New, key)
	m.Write(prev)
	m.Write(encodeTagged(buf[:0], macTag, &r))
	return m.Sum(nil)
}

// Checkpoint is a signed statement that the chain's record Seq had Hash at
// time At. The hub exports one periodically to places outside the database
// (a file, Redis); Verify compares the chain with them, which shows what a
// chain cannot show about itself: that its newest records were removed, or
// that it was rebuilt from the start.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash []byte    `json:"hash"`
	At   time.Time `json:"at"`
	// MAC is HMAC-SHA256 under the chain's key of "datahub.audit.checkpoint.v1",
	// Seq, Hash and At (as in ComputeHash's encoding). Empty for a head an
	// operator recorded (VerifyOptions.Heads), which is trusted as given.
	MAC []byte `json:"mac,omitempty"`
}

const checkpointTag = "datahub.audit.checkpoint.v1"

func (c Checkpoint) mac(key []byte) []byte {
	b := appendString(nil, checkpointTag)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = appendString(b, string(c.Hash))
	b = appendString(b, c.At.UTC().Truncate(time.Microsecond).Format(timeLayout))
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil)
}

// SignCheckpoint returns the checkpoint of record seq with hash at time at.
func SignCheckpoint(key []byte, seq int64, hash []byte, at time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, At: at.UTC().Truncate(time.Microsecond)}
	c.MAC = c.mac(key)
	return c
}

// Valid reports whether c was signed with key.
func (c Checkpoint) Valid(key []byte) bool {
	return len(key) > 0 && hmac.Equal(c.MAC, c.mac(key))
}

// Head returns the chain head as stored now: seq 0 and the genesis hash for
// an empty trail.
func Head(ctx context.Context, pool *pgxpool.Pool) (int64, []byte, error) {
	seq, hash := int64(0), genesisHash()
	err := pool.QueryRow(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("audit head: %w", err)
	}
	return seq, hash, nil
}

// CheckpointSink keeps checkpoints somewhere the database's administrators
// cannot rewrite along with the chain.
type CheckpointSink interface {
	SaveCheckpoint(ctx context.Context, c Checkpoint) error
}

// Checkpointer signs the chain head and hands it to its sinks.
type Checkpointer struct {
	Pool  *pgxpool.Pool
	Key   []byte
	Sinks []CheckpointSink
	Log   *slog.Logger
	Now   func() time.Time

	last int64 // seq of the last checkpoint taken; 0 before the first
}

// Once signs the current head and saves it in every sink, unless the head
// has not moved since the last checkpoint this Checkpointer took. Every
// sink is tried; the first error is returned.
func (c *Checkpointer) Once(ctx context.Context) error {
	seq, hash, err := Head(ctx, c.Pool)
	if err != nil {
		return err
	}
	if seq == c.last && c.last != 0 {
		return nil
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	cp := SignCheckpoint(c.Key, seq, hash, now())
	var first error
	for _, s := range c.Sinks {
		if err := s.SaveCheckpoint(ctx, cp); err != nil && first == nil {
			first = fmt.Errorf("audit checkpoint %d: %w", seq, err)
		}
	}
	if first == nil {
		c.last = seq
	}
	return first
}

// Run takes a checkpoint every interval until ctx ends, and a last one
// then (with a short deadline of its own).
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.Once(ctx); err != nil && ctx.Err() == nil && c.Log != nil {
				c.Log.Error("audit checkpoint", "err", err)
			}
		}
	}
}

// FileSink appends checkpoints to a file, one JSON object a line. Give it
// a path the database's administrators cannot write (another host, a WORM
// mount, a log shipper).
type FileSink struct{ Path string }

// SaveCheckpoint implements CheckpointSink.
func (f FileSink) SaveCheckpoint(_ context.Context, c Checkpoint) error {
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	fh, err := os.OpenFile(f.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("open checkpoint file: %w", err)
	}
	if _, err := fh.Write(append(line, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("write checkpoint file: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("sync checkpoint file: %w", err)
	}
	return fh.Close()
}

// ReadCheckpoints reads checkpoints written by FileSink (one JSON object a
// line; blank lines skipped).
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("checkpoint line %d: %w", n, err)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}
