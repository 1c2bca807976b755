package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// OutboxChannel is the PostgreSQL notification channel the outbox's
// trigger signals and the relays listen on (internal/events uses the same
// name; TestOutboxInsertNotifies holds the trigger to it).
const OutboxChannel = "datahub_outbox"

// Change is one change to a shared record, written to the outbox in the
// same transaction as the change itself.
type Change struct {
	Dataset      string
	RecordID     string
	Op           string // CREATED, UPDATED, TRANSITION
	Jurisdiction string
	OwnerDept    string
	HandlingDept string
	CitizenID    string
	Version      int
	// Payload is a small summary (status, action); subscribers read the
	// record itself through their own access scope.
	Payload map[string]any
}

// writeChange appends c to the outbox inside tx.
func writeChange(ctx context.Context, tx pgx.Tx, c Change) error {
	payload, err := json.Marshal(c.Payload)
	if err != nil {
		return fmt.Errorf("outbox payload: %w", err)
	}
	if c.Payload == nil {
		payload = []byte("{}")
	}
	// The outbox's trigger wakes the relays at commit (migration 00240).
	_, err = tx.Exec(ctx, `INSERT INTO outbox (event_id, dataset, record_id, op, jurisdiction, owner_dept,
		handling_dept, citizen_id, version, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		uuid.Must(uuid.NewV7()), c.Dataset, c.RecordID, c.Op, c.Jurisdiction, c.OwnerDept, c.HandlingDept, c.CitizenID,
		c.Version, payload)
	if err != nil {
		return translate(fmt.Errorf("write outbox: %w", err))
	}
	return nil
}

// bulkEventID is the SQL expression of the event ids of a statement that
// writes many outbox rows, with prefix the parameter bound to
// newBulkEventPrefix(): a UUIDv7 drawn for the statement whose last four
// bytes count its rows (RFC 9562's dedicated counter). Ids stay time
// ordered, like writeChange's: gen_random_uuid() scattered a 100,000-row
// import over the whole unique index of event ids, 0.6 s of its merge. The
// twelve bytes kept hold the time, the generator's sub-millisecond
// sequence and 30 random bits, so two statements cannot share a prefix in
// practice, and the unique index would refuse (not merge) one that did.
func bulkEventID(prefix string) string {
	return "(" + prefix + " || lpad(to_hex(row_number() OVER ()), 8, '0'))::uuid"
}

// newBulkEventPrefix returns the first twelve bytes of a new UUIDv7, in hex.
func newBulkEventPrefix() string {
	id := uuid.Must(uuid.NewV7())
	return hex.EncodeToString(id[:12])
}
