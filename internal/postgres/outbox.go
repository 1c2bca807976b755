package postgres

import (
	"context"
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
