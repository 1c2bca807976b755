package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostileOperationCannotStopAuditing replays the attack on the audit
// writer end to end: one audited read under an operation name far too long
// for PostgreSQL's index, then ordinary audited reads. Every read is served,
// and every record — the hostile one truncated — reaches audit_log through
// the hub's own writer.
func TestHostileOperationCannotStopAuditing(t *testing.T) {
	h := newHub(t)
	water := h.token("water", "viewer") // cases are urban-management's: every read is audited
	hostile := "Q" + strings.Repeat("x", 40_000)
	read := func(op string) {
		t.Helper()
		r := h.do(water, `query `+op+` { cases(first: 2) { edges { node { id } } } }`, nil)
		if len(r.Errors) > 0 || r.Status != 200 {
			t.Fatalf("%.20s…: HTTP %d %+v", op, r.Status, r.Errors)
		}
	}
	read(hostile)
	const n = 20
	for i := range n {
		read(fmt.Sprintf("AfterHostile%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.app.Audit.Flush(ctx); err != nil {
		t.Fatalf("audit flush behind the hostile record: %v (stats %+v)", err, h.app.Audit.Stats())
	}
	var after, truncated int
	if err := h.app.Pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE operation LIKE 'AfterHostile%'),
		count(*) FILTER (WHERE operation LIKE 'Qxxxx%' AND octet_length(operation) <= 256 AND operation LIKE '%truncated]')
		FROM audit_log WHERE dept = 'water'`).Scan(&after, &truncated); err != nil {
		t.Fatal(err)
	}
	if after != n || truncated != 1 {
		t.Fatalf("audit_log holds %d of the %d reads after the hostile one and %d truncated hostile record(s), want 1", after, n, truncated)
	}
	if r := h.do(water, `{ cases(first: 1) { edges { node { id } } } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("audited read after the attack: %+v", r.Errors)
	}
}
