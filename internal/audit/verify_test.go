package audit

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The trigger refuses UPDATE, DELETE and TRUNCATE, even of no rows.
func TestAppendOnly(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	seed(t, pool, 3)
	for _, sql := range []string{
		"UPDATE audit_log SET subject = 'x' WHERE seq = 2",
		"UPDATE audit_log SET subject = 'x' WHERE false",
		"DELETE FROM audit_log WHERE seq = 3",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := pool.Exec(ctxT(t), sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Fatalf("%s: %v, want insufficient_privilege", sql, err)
			}
		})
	}
	verifyOK(t, pool, 3)
}

func TestVerifyEmpty(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	verifyOK(t, pool, 0)
}

// Each kind of tampering is found, at the right seq. The table holds 20
// records; tampering runs with the trigger disabled, as a superuser could.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	const n = 20
	tests := []struct {
		name      string
		sql       []string
		forge     func(t *testing.T, pool *pgxpool.Pool) // tampering that needs Go (hashes)
		seq       int64
		kind      ProblemKind
		count     int // problems expected in all; 0: do not check
		remaining int64
	}{
		{name: "field changed", sql: []string{"UPDATE audit_log SET subject = 'someone-else' WHERE seq = 7"},
			seq: 7, kind: Changed, count: 1, remaining: n},
		{name: "row count changed", sql: []string{"UPDATE audit_log SET row_count = row_count + 1 WHERE seq = 12"},
			seq: 12, kind: Changed, count: 1, remaining: n},
		{name: "array element changed", sql: []string{"UPDATE audit_log SET field_groups = '{basic}' WHERE seq = 20"},
			seq: 20, kind: Changed, count: 1, remaining: n},
		{name: "time changed by a microsecond", sql: []string{"UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 1"},
			seq: 1, kind: Changed, count: 1, remaining: n},
		{name: "hash changed", sql: []string{"UPDATE audit_log SET hash = sha256('x') WHERE seq = 9"},
			seq: 9, kind: Changed, count: 1, remaining: n},
		{name: "prev_hash changed", sql: []string{"UPDATE audit_log SET prev_hash = (SELECT hash FROM audit_log WHERE seq = 5) WHERE seq = 7"},
			seq: 7, kind: Changed, count: 1, remaining: n},
		{name: "rewritten with recomputed hash", forge: rewrite(7),
			seq: 7, kind: Changed, count: 1, remaining: n},
		{name: "row deleted", sql: []string{"DELETE FROM audit_log WHERE seq = 7"},
			seq: 7, kind: Missing, count: 1, remaining: n - 1},
		{name: "rows deleted", sql: []string{"DELETE FROM audit_log WHERE seq BETWEEN 7 AND 9"},
			seq: 7, kind: Missing, count: 1, remaining: n - 3},
		{name: "first row deleted", sql: []string{"DELETE FROM audit_log WHERE seq = 1"},
			seq: 1, kind: Missing, count: 1, remaining: n - 1},
		{name: "row deleted and the rest renumbered", sql: []string{
			"DELETE FROM audit_log WHERE seq = 7",
			"UPDATE audit_log SET seq = seq + 1000000 WHERE seq > 7",
			"UPDATE audit_log SET seq = seq - 1000001 WHERE seq > 1000000",
		}, seq: 7, kind: Missing, count: 1, remaining: n - 1},
		{name: "renumbered without deletion", sql: []string{
			"UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= 15",
			"UPDATE audit_log SET seq = seq - 1000000 + 5 WHERE seq > 1000000",
		}, seq: 20, kind: Changed, count: 1, remaining: n},
		{name: "forged row inserted with a valid hash", forge: insertForged(7, true),
			seq: 7, kind: Inserted, count: 1, remaining: n + 1},
		{name: "forged row inserted with a bad hash", forge: insertForged(7, false),
			seq: 7, kind: Inserted, count: 1, remaining: n + 1},
		{name: "forged row inserted second", forge: insertForged(2, true),
			seq: 2, kind: Inserted, count: 1, remaining: n + 1},
		{name: "two rows swapped", sql: []string{
			"UPDATE audit_log SET seq = 1000000 WHERE seq = 7",
			"UPDATE audit_log SET seq = 7 WHERE seq = 8",
			"UPDATE audit_log SET seq = 8 WHERE seq = 1000000",
		}, seq: 7, remaining: n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pool, _ := newSchema(t, true)
			seed(t, pool, n)
			ctx := ctxT(t)
			// The trigger would refuse all of this; a superuser can switch it off.
			mustExec(t, pool, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
			for _, sql := range tt.sql {
				mustExec(t, pool, sql)
			}
			if tt.forge != nil {
				tt.forge(t, pool)
			}
			mustExec(t, pool, "ALTER TABLE audit_log ENABLE TRIGGER ALL")

			rep, err := Verify(ctx, pool, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || len(rep.Problems) == 0 {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			p := rep.Problems[0]
			if p.Seq != tt.seq || (tt.kind != "" && p.Kind != tt.kind) {
				t.Fatalf("first problem %+v, want seq %d kind %q (all: %+v)", p, tt.seq, tt.kind, rep.Problems)
			}
			if tt.count > 0 && rep.ProblemCount != tt.count {
				t.Fatalf("%d problems, want %d: %+v", rep.ProblemCount, tt.count, rep.Problems)
			}
			if rep.Checked != tt.remaining {
				t.Fatalf("checked %d, want %d", rep.Checked, tt.remaining)
			}
			if p.Detail == "" {
				t.Fatal("problem without detail")
			}
		})
	}
}

// A chain broken everywhere lists MaxProblems problems and counts them all.
func TestVerifyCapsProblems(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	seed(t, pool, MaxProblems+50)
	mustExec(t, pool, "ALTER TABLE audit_log DISABLE TRIGGER ALL")
	mustExec(t, pool, "UPDATE audit_log SET dept = 'forged'")
	mustExec(t, pool, "ALTER TABLE audit_log ENABLE TRIGGER ALL")
	rep, err := Verify(ctxT(t), pool, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Problems) != MaxProblems || rep.ProblemCount != MaxProblems+50 {
		t.Fatalf("listed %d, counted %d", len(rep.Problems), rep.ProblemCount)
	}
}

// rewrite changes record seq's dataset and recomputes its hash, as someone
// who knows the algorithm would.
func rewrite(seq int64) func(*testing.T, *pgxpool.Pool) {
	return func(t *testing.T, pool *pgxpool.Pool) {
		r := readRecord(t, pool, seq)
		r.Dataset = "parking"
		mustExec(t, pool, "UPDATE audit_log SET dataset = $1, hash = $2 WHERE seq = $3",
			r.Dataset, ComputeHash(r.PrevHash, r), seq)
	}
}

// insertForged renumbers records seq.. up by one and puts a forged record
// at seq, chained to seq-1 with a valid hash or with garbage.
func insertForged(seq int64, validHash bool) func(*testing.T, *pgxpool.Pool) {
	return func(t *testing.T, pool *pgxpool.Pool) {
		prev := readRecord(t, pool, seq-1)
		mustExec(t, pool, "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= $1", seq)
		mustExec(t, pool, "UPDATE audit_log SET seq = seq - 1000000 + 1 WHERE seq > 1000000")
		f := sample(99)
		f.Subject = "nobody-read-this"
		f.Seq, f.At, f.PrevHash = seq, prev.At, prev.Hash
		f.Hash = ComputeHash(f.PrevHash, f)
		if !validHash {
			f.Hash = bytes.Repeat([]byte{7}, HashSize)
		}
		mustExec(t, pool, "INSERT INTO audit_log ("+selectColumns+") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)", f.values()...)
	}
}

func readRecord(t *testing.T, pool *pgxpool.Pool, seq int64) Record {
	t.Helper()
	var r Record
	if err := scanRecord(pool.QueryRow(ctxT(t), "SELECT "+selectColumns+" FROM audit_log WHERE seq = $1", seq), &r); err != nil {
		t.Fatalf("read %d: %v", seq, err)
	}
	return r
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Distinct records never encode alike: every field is length-prefixed.
func TestComputeHashUnambiguous(t *testing.T) {
	t.Parallel()
	base := sample(1)
	prev := genesisHash()
	tests := []struct {
		name string
		a, b func(*Record)
	}{
		{"field boundary", func(r *Record) { r.Subject, r.Dept = "ab", "c" }, func(r *Record) { r.Subject, r.Dept = "a", "bc" }},
		{"list boundary", func(r *Record) { r.Roles = []string{"a,b"} }, func(r *Record) { r.Roles = []string{"a", "b"} }},
		{"empty element", func(r *Record) { r.Roles = []string{} }, func(r *Record) { r.Roles = []string{""} }},
		{"list into next field", func(r *Record) { r.FieldGroups, r.Operation = []string{"x"}, "" }, func(r *Record) { r.FieldGroups, r.Operation = nil, "x" }},
		{"seq", func(r *Record) { r.Seq = 1 }, func(r *Record) { r.Seq = 2 }},
		{"row count", func(r *Record) { r.RowCount = 1 }, func(r *Record) { r.RowCount = -1 }},
		{"microsecond", func(r *Record) {}, func(r *Record) { r.At = r.At.Add(time.Microsecond) }},
		{"batch", func(r *Record) {}, func(r *Record) { r.BatchID[0] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base, base
			tt.a(&a)
			tt.b(&b)
			if bytes.Equal(ComputeHash(prev, a), ComputeHash(prev, b)) {
				t.Fatal("two different records hash alike")
			}
		})
	}
	// What PostgreSQL cannot keep does not count: time zone and nanoseconds.
	a, b := base, base
	b.At = a.At.In(time.FixedZone("CST", 8*3600)).Add(999 * time.Nanosecond)
	if !bytes.Equal(ComputeHash(prev, a), ComputeHash(prev, b)) {
		t.Fatal("time zone or sub-microsecond digits changed the hash")
	}
}
