// Package audit records who read what: every read of another department's
// data or of personal data becomes one append-only, hash-chained row in
// audit_log.
//
// Writer takes records off the request path and writes them in batches;
// Verify recomputes the chain and says where it was broken; Query lets
// auditors page through the trail; Checkpointer signs the chain head and
// exports it outside the database.
//
// The chain: rows are numbered 1, 2, 3, … without gaps, and
//
//	hash(n) = HMAC-SHA256(key, hash(n-1) || Encode(row n))   with hash(0) = 32 zero bytes
//
// where Encode is the canonical encoding documented on ComputeHash (tagged
// "datahub.audit.v2", see ComputeMAC) and key is the hub's audit key
// (AUDIT_HMAC_KEY). Records written before the chain was keyed carry
// SHA-256(hash(n-1) || Encode(row n)) tagged "datahub.audit.v1" and verify
// only as the chain's first records. Several hub instances may write at
// once: each batch is numbered and chained inside one transaction holding a
// transaction-level advisory lock, so the chain is a single total order
// across instances.
//
// What the chain proves, to whoever holds the key: every record up to the
// head is as written, in order, none removed or inserted between others —
// also against someone who can write the table (a trigger refuses UPDATE
// and DELETE, but a superuser can disable it), since without the key no
// altered record verifies again. With the signed checkpoints (exported
// every AUDIT_CHECKPOINT_INTERVAL to Redis and AUDIT_CHECKPOINT_FILE) or a
// head recorded by an operator, it also proves that the newest records were
// not removed and that the chain was not rebuilt, up to the latest
// checkpoint.
//
// What it does not prove: that a read which was never logged happened (the
// chain covers what reached the writer); that records written after the
// latest checkpoint were not removed (keep checkpoints frequent and off the
// database host); anything against someone who holds the key (the hub's
// host, whoever reads its configuration), who can rebuild the chain and
// sign new checkpoints, though not alter checkpoints already kept
// elsewhere; and legacy unkeyed records are only as good as the first
// checkpoint that covers them. Key rotation is not supported: changing the
// key makes the records written under the old one unverifiable.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Record is one audit entry. The caller fills the content fields; Seq,
// BatchID, PrevHash and Hash are assigned when the record is written.
type Record struct {
	// Seq is the record's position in the chain, starting at 1.
	Seq int64
	// At is when the read happened, stored in UTC with microsecond precision
	// (PostgreSQL's); Log truncates it and fills in the current time if zero.
	At time.Time
	// Subject, Dept and Roles describe the principal who read.
	Subject string
	Dept    string
	Roles   []string
	// Purpose and GrantID say why the principal was allowed to read: the
	// declared purpose and, for conditional or personal data, the grants
	// that covered at least one of the rows read (a grant limited to
	// another jurisdiction is not named).
	Purpose string
	GrantID string
	// Dataset and FieldGroups say what was read: the groups shown unmasked
	// in at least one of the rows read; RowCount how many rows.
	Dataset     string
	FieldGroups []string
	RowCount    int
	// Operation is the GraphQL operation name (or export, subscription…);
	// RequestID ties the record to the request's logs and traces.
	Operation string
	RequestID string

	// BatchID identifies the transaction that wrote the record (writer
	// bookkeeping for idempotent retries; covered by the hash all the same).
	BatchID [16]byte
	// PrevHash is the Hash of record Seq-1 (32 zero bytes for Seq 1).
	PrevHash []byte
	// Hash is ComputeHash(PrevHash, record).
	Hash []byte
}

// HashSize is the length of PrevHash and Hash.
const HashSize = sha256.Size

// encodingTag starts every encoding, so a future format cannot be confused
// with this one.
const encodingTag = "datahub.audit.v1"

// timeLayout has a fixed number of fractional digits: 2026-01-02T03:04:05.000000Z.
// A variable-precision layout (RFC3339Nano drops trailing zeros) would still
// be unambiguous, but a fixed one is easier to reimplement elsewhere.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ComputeHash returns SHA-256(prev || Encode(r)), the hash the record must
// carry when prev is the hash of the record before it. Encode is, in order:
//
//	string  "datahub.audit.v1"
//	uint64  Seq
//	string  At in UTC as 2006-01-02T15:04:05.000000Z (microseconds, truncated)
//	string  Subject, string Dept, list Roles
//	string  Purpose, string GrantID, string Dataset, list FieldGroups
//	int64   RowCount
//	string  Operation, string RequestID
//	16 raw bytes BatchID
//
// where integers are big-endian, a string is its byte length as a big-endian
// uint32 followed by its UTF-8 bytes, and a list is its element count as a
// big-endian uint32 followed by each element as a string. Every field is
// length-prefixed, so no two different records encode alike. PrevHash and
// Hash of r are ignored.
func ComputeHash(prev []byte, r Record) []byte {
	var buf [512]byte
	h := sha256.New()
	h.Write(prev)
	h.Write(encode(buf[:0], &r))
	return h.Sum(nil)
}

func encode(b []byte, r *Record) []byte { return encodeTagged(b, encodingTag, r) }

func encodeTagged(b []byte, tag string, r *Record) []byte {
	b = appendString(b, tag)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = appendString(b, r.At.UTC().Truncate(time.Microsecond).Format(timeLayout))
	b = appendString(b, r.Subject)
	b = appendString(b, r.Dept)
	b = appendList(b, r.Roles)
	b = appendString(b, r.Purpose)
	b = appendString(b, r.GrantID)
	b = appendString(b, r.Dataset)
	b = appendList(b, r.FieldGroups)
	b = binary.BigEndian.AppendUint64(b, uint64(int64(r.RowCount)))
	b = appendString(b, r.Operation)
	b = appendString(b, r.RequestID)
	return append(b, r.BatchID[:]...)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendList(b []byte, ss []string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// genesisHash is the PrevHash of record 1.
func genesisHash() []byte { return make([]byte, HashSize) }

// columns is audit_log's column list in the order rows are written and read.
var columns = []string{
	"seq", "at", "subject", "dept", "roles", "purpose", "grant_id", "dataset",
	"field_groups", "row_count", "operation", "request_id", "batch_id", "prev_hash", "hash",
}

const selectColumns = `seq, at, subject, dept, roles, purpose, grant_id, dataset,
	field_groups, row_count, operation, request_id, batch_id, prev_hash, hash`

// scanner is pgx.Row / pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanRecord(s scanner, r *Record) error {
	var rowCount int64
	if err := s.Scan(&r.Seq, &r.At, &r.Subject, &r.Dept, &r.Roles, &r.Purpose, &r.GrantID,
		&r.Dataset, &r.FieldGroups, &rowCount, &r.Operation, &r.RequestID, &r.BatchID,
		&r.PrevHash, &r.Hash); err != nil {
		return err
	}
	r.At = r.At.UTC()
	r.RowCount = int(rowCount)
	return nil
}

func (r *Record) values() []any {
	return []any{r.Seq, r.At, r.Subject, r.Dept, r.Roles, r.Purpose, r.GrantID, r.Dataset,
		r.FieldGroups, int64(r.RowCount), r.Operation, r.RequestID, r.BatchID, r.PrevHash, r.Hash}
}
