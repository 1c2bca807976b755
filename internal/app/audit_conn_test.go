package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/audit"
	"github.com/jackc/pgx/v5/pgxpool"
)

// An audited response waits for its record's commit, so that commit must
// not queue for a connection behind the requests' reads: with every
// connection of the hub's pool taken, the audit writer still commits.
func TestAuditCommitsWhileThePoolIsTaken(t *testing.T) {
	h := newHubEnv(t, map[string]string{"DB_MAX_CONNS": "2"})
	ctx := context.Background()

	held := make([]*pgxpool.Conn, 0, 2)
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range 2 {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := h.app.Pool.Acquire(actx)
		cancel()
		if err != nil {
			t.Fatalf("take the pool's connections: %v", err)
		}
		held = append(held, c)
	}
	if s := h.app.Pool.Stat(); s.AcquiredConns() != s.MaxConns() {
		t.Fatalf("pool not exhausted: %d of %d connections taken", s.AcquiredConns(), s.MaxConns())
	}

	const requestID = "audit-conn-test"
	if err := h.app.Audit.Log(ctx, audit.Record{Subject: "tester", Dept: "water", Roles: []string{"viewer"},
		Dataset: "cases", FieldGroups: []string{}, RowCount: 1, Operation: "AuditConn", RequestID: requestID}); err != nil {
		t.Fatalf("log: %v", err)
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.app.Audit.Flush(fctx); err != nil {
		t.Fatalf("flush with the pool taken: %v", err)
	}

	// The record is in the log, read on one of the held connections.
	var n int
	if err := held[0].QueryRow(ctx, "SELECT count(*) FROM audit_log WHERE request_id = $1", requestID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d audit rows for the request, want 1", n)
	}
}
