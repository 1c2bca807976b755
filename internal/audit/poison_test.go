package audit

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/testenv"
)

// A record made of attacker-sized text (the GraphQL operation name, a
// request id, a purpose, a subject…) is bounded before it is hashed: the
// database stores it, and the records queued behind it are not held up.
// Before the bound, PostgreSQL refused the operation's index row and the
// writer retried the batch forever while the buffer filled.
func TestHostileRecordCannotJamWriter(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	w := NewWriter(pool, Options{BatchSize: 50, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	t.Cleanup(func() { closeSoon(w) })
	huge := strings.Repeat("序", 40_000) // 120 kB: far past a btree row
	hostile := sample(0)
	hostile.Operation = huge
	hostile.Subject = huge
	hostile.Dept = huge
	hostile.Dataset = huge
	hostile.RequestID = huge
	hostile.Purpose = huge
	hostile.GrantID = huge
	hostile.Roles = make([]string, 5000)
	hostile.FieldGroups = make([]string, 5000)
	for i := range hostile.Roles {
		hostile.Roles[i], hostile.FieldGroups[i] = huge[:3000], huge[:3000]
	}
	ctx := ctxT(t)
	const n = 300
	for i := range n {
		r := sample(i)
		if i == n/2 {
			r = hostile
		}
		if err := w.Log(ctx, r); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatalf("flush behind a hostile record: %v (stats %+v)", err, w.Stats())
	}
	if got := countRows(t, pool); got != n {
		t.Fatalf("stored %d records, want %d", got, n)
	}
	verifyOK(t, pool, n)
	var op, subject, purpose string
	var roles int
	if err := pool.QueryRow(ctx, `SELECT operation, subject, purpose, cardinality(roles) FROM audit_log
		WHERE octet_length(operation) > 100`).Scan(&op, &subject, &purpose, &roles); err != nil {
		t.Fatalf("hostile record: %v", err)
	}
	for name, s := range map[string]string{"operation": op, "subject": subject, "purpose": purpose} {
		limit := MaxTextBytes
		if name == "purpose" {
			limit = MaxLongTextBytes
		}
		if len(s) > limit || !utf8.ValidString(s) || !strings.HasSuffix(s, truncatedMark) {
			t.Fatalf("%s stored as %d bytes (valid UTF-8 %v), want at most %d ending in %q",
				name, len(s), utf8.ValidString(s), limit, truncatedMark)
		}
	}
	if roles > MaxListItems {
		t.Fatalf("stored %d roles, want at most %d", roles, MaxListItems)
	}
}

// A record the database refuses for its content is isolated: the rest of
// its batch is written, the refused one is stored stripped with a marker,
// counted and logged, and the chain verifies. The refusal is planted with a
// CHECK constraint, standing for any limit a future column or index adds.
func TestRefusedRecordIsIsolated(t *testing.T) {
	t.Parallel()
	pool, _ := newSchema(t, true)
	ctx := ctxT(t)
	if _, err := pool.Exec(ctx, `ALTER TABLE audit_log ADD CONSTRAINT no_poison CHECK (request_id <> 'poison')`); err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	w := NewWriter(pool, Options{BatchSize: 100, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Cleanup(func() { closeSoon(w) })
	const n = 250
	for i := range n {
		r := sample(i)
		if i == 120 {
			r.RequestID = "poison"
		}
		if err := w.Log(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatalf("flush behind a refused record: %v (stats %+v)", err, w.Stats())
	}
	if got := countRows(t, pool); got != n {
		t.Fatalf("stored %d records, want %d", got, n)
	}
	verifyOK(t, pool, n)
	if s := w.Stats(); s.Refused != 1 || s.Written != n || s.Pending != 0 {
		t.Fatalf("stats: %+v, want 1 refused and %d written", s, n)
	}
	var op, subject, dataset string
	var rows int
	if err := pool.QueryRow(ctx, `SELECT operation, subject, dataset, row_count FROM audit_log
		WHERE operation LIKE $1`, refusedOperation+"%").Scan(&op, &subject, &dataset, &rows); err != nil {
		t.Fatalf("the refused record's marker: %v", err)
	}
	if want := sample(120); subject != want.Subject || dataset != want.Dataset || rows != want.RowCount {
		t.Fatalf("marker keeps %q %q %d, want who, what and how many of %+v", subject, dataset, rows, want)
	}
	if !strings.Contains(logs.String(), "audit record refused by the database") || !strings.Contains(logs.String(), "poison") {
		t.Fatalf("refusal not logged with the record:\n%s", logs.String())
	}
}

// closeSoon closes w at cleanup without hanging a test whose writer is stuck.
func closeSoon(w *Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = w.Close(ctx)
}
