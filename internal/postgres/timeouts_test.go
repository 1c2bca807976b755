package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
)

// A rebuild's transactions outlive the pool's statement timeout, which is
// sized for requests: unboundTimeouts lifts it for the transaction only.
func TestUnboundTimeouts(t *testing.T) {
	setup(t)
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: env.DatabaseURL, MaxConns: 2, StatementTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `SELECT pg_sleep(0.2)`); err == nil {
		t.Fatal("a 200 ms statement passed the pool's 50 ms timeout: the test proves nothing")
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if err := postgres.UnboundTimeouts(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_sleep(0.2)`); err != nil {
		t.Fatalf("after unboundTimeouts: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// SET LOCAL: the connection has its timeout back.
	if _, err := pool.Exec(ctx, `SELECT pg_sleep(0.2)`); err == nil {
		t.Fatal("the timeout stayed lifted after the transaction")
	}
}
