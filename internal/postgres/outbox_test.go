package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/google/uuid"
)

// TestOutboxInsertNotifies: a statement that adds outbox rows notifies the
// relays' channel at commit, with the schema as payload, whatever wrote the
// rows; one that adds none stays silent. Notifications are told apart by
// the sending backend, so other tests' writes do not interfere.
func TestOutboxInsertNotifies(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	listener, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Release()
	if _, err := listener.Exec(ctx, "LISTEN "+postgres.OutboxChannel); err != nil {
		t.Fatal(err)
	}
	defer listener.Exec(context.Background(), "UNLISTEN *") //nolint:errcheck // the connection goes back to the pool

	writer, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Release()
	pid := writer.Conn().PgConn().PID()
	marker := "marker-" + uuid.NewString()
	id := uuid.Must(uuid.NewV7())
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DELETE FROM outbox WHERE event_id = $1", id) })

	// An INSERT … SELECT that adds nothing, then a marker, in one
	// transaction; then a row added by a plain INSERT, as a bulk merge or a
	// scheduled transition writes them.
	for _, stmts := range [][]string{
		{`INSERT INTO outbox (event_id, dataset, record_id, op) SELECT gen_random_uuid(), 'test', 'r', 'UPDATED' WHERE false`,
			`SELECT pg_notify('` + postgres.OutboxChannel + `', '` + marker + `')`},
		{`INSERT INTO outbox (event_id, dataset, record_id, op) VALUES ('` + id.String() + `', 'test', 'r', 'UPDATED')`},
	} {
		tx, err := writer.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var schema string
	if err := writer.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}

	var got []string
	for len(got) < 2 {
		n, err := listener.Conn().WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		if n.PID == pid {
			got = append(got, n.Payload)
		}
	}
	if got[0] != marker || got[1] != schema {
		t.Fatalf("notifications %q, want the marker alone from the empty insert, then %q from the row", got, schema)
	}
}
