// Package events carries changes to shared records from the transactional
// outbox to subscribers on every hub instance (docs/design.md, Events):
//
//	store tx ──INSERT outbox──▶ PostgreSQL ──Relay──XADD──▶ Redis stream <prefix>events
//	                                                          │ XREAD (every instance)
//	                                                          ▼
//	                                               Broker ──scope filter──▶ subscribers
//
// # Delivery guarantees
//
// At least once, with the outbox event id (Event.ID) as the key for dropping
// repeats. A row is marked published only after Redis acknowledged it, in
// the transaction that claimed it; a crash or a Redis failure in between
// leaves it unpublished and it is published again later. Rows written while
// Redis or every relay is down are published when both are back.
//
// The relay publishes to a Redis Stream rather than with PUBLISH because a
// stream keeps its entries: a broker that lost its connection continues
// from the last entry it read and misses nothing published meanwhile. The
// stream is capped (MAXLEN ~ RelayConfig.MaxLen, 100,000 by default), so an
// instance cut off for longer than the stream holds loses the oldest events
// it missed.
//
// A Redis that comes back without the stream (restarted without
// persistence, a failover to a replica that had not received the last
// writes, the key deleted) is detected by both sides, which keep a
// checkpoint, an entry they know was in the stream, and check every
// CheckInterval and after every error that it still is:
//   - the relay marks the rows published since shortly (ReplayWindow)
//     before its checkpoint unpublished again, so events brokers had not yet
//     read when the stream was lost are published once more;
//   - a broker reads the new stream from its beginning ("0-0"). Continuing
//     from its last id would be wrong: entry ids are times, and the new
//     stream's ids may be lower than the last id of the old one (another
//     machine's clock after a failover, an explicit id), so XREAD would skip
//     them. Reading from the start of a stream that holds at most the
//     entries since the loss repeats a few events at worst.
//
// Brokers drop repeats they have seen among the last DedupWindow events, so
// most repeats never reach subscribers; subscribers must still tolerate
// them.
//
// # Order
//
// Only one relay publishes at a time (a transaction-level advisory lock
// held from claiming a batch to committing it; the others wait their
// turn), and each publishes rows in outbox id order, so two changes to the same record, whose outbox rows are
// written in commit order because the record's row lock serialises them,
// reach every subscriber in that order. Changes to different records
// committed in another order than their ids were taken may arrive out of
// id order: Seq is not a cursor. After a stream loss, replayed events may
// arrive after newer ones; compare Version to drop stale states.
//
// # Scope
//
// Every event carries the record's scope columns (jurisdiction, owner and
// handling department, citizen id), and a broker hands an event only to
// subscribers whose row scope for its dataset admits it (ScopeAllows): a
// subscriber never learns that a record outside its scope changed. Field
// rules are the GraphQL layer's: Payload is a small summary and the record
// itself is read through the subscriber's own access decision.
package events

import (
	"errors"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// PrefixDefault namespaces the hub's Redis keys when no prefix is configured.
const PrefixDefault = "datahub:"

// StreamKey returns the Redis stream the relay writes and brokers read.
func StreamKey(prefix string) string { return prefix + "events" }

// AvailabilityChannel returns the Redis pub/sub channel live parking
// availability is published on (see Availability).
func AvailabilityChannel(prefix string) string { return prefix + "parking:availability" }

// Errors carried by the last Event a subscription receives before its
// channel is closed.
var (
	// ErrSlowSubscriber ends a subscription whose buffer filled up: the
	// broker never waits for one subscriber, so one that falls a buffer's
	// length behind is dropped. It missed events; it should resubscribe
	// and read the current state again.
	ErrSlowSubscriber = errors.New("events: subscriber fell behind and was dropped")
	// ErrClosed ends every subscription when the broker stops, and is all a
	// subscription made after that receives.
	ErrClosed = errors.New("events: broker stopped")
	// ErrUnavailable ends every subscription when the broker loses Redis,
	// and is all a subscription made while it cannot reach Redis receives:
	// it would otherwise wait for events that cannot come. It carries the
	// SERVICE_UNAVAILABLE code; subscribe again once Redis is back.
	ErrUnavailable = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "live updates are unavailable right now; subscribe again shortly"}
)

// Event is one change to a shared record, as written to the outbox.
type Event struct {
	// ID identifies the change; a repeat carries the same ID.
	ID uuid.UUID `json:"id"`
	// Seq is the outbox row id. It grows with the time the change was
	// written, not the time it committed: use it to correlate, not as a
	// cursor.
	Seq      int64  `json:"seq"`
	Dataset  string `json:"dataset"`
	RecordID string `json:"recordId"`
	// Op is CREATED, UPDATED or TRANSITION.
	Op string `json:"op"`
	// Version is the record's version after the change.
	Version      int    `json:"version"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	OwnerDept    string `json:"ownerDept,omitempty"`
	HandlingDept string `json:"handlingDept,omitempty"`
	CitizenID    string `json:"citizenId,omitempty"`
	// Payload is a small summary (status, action). The map is shared by
	// every subscriber that receives the event: read it, never modify it.
	Payload   map[string]any `json:"payload,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	// StreamID is the Redis stream entry the event was read from.
	StreamID string `json:"-"`
	// Err is set only on the last event of a subscription, which carries
	// nothing else: ErrSlowSubscriber, ErrClosed or ErrUnavailable. The
	// channel is closed
	// right after it.
	Err error `json:"-"`
}

// ScopeAllows reports whether a subscriber with row scope s may hear of e.
// It is the in-memory twin of the SQL predicate the stores compile from a
// RowScope (postgres addScope): All admits everything, the zero scope
// nothing, and otherwise e is admitted when any condition holds:
//   - its jurisdiction lies in one of the subtrees (equal to the root or
//     below it: "hailing.chengdong" admits "hailing.chengdong.g01", not
//     "hailing.chengdongx");
//   - its owner or its handling department is listed;
//   - its citizen id equals the scope's.
//
// Empty strings never match: an event without a handling department is
// not admitted by a scope listing "", and an empty subtree root admits
// nothing (in SQL the empty ltree would admit every row; the access engine
// never produces one, and failing closed is the safe reading).
func ScopeAllows(s access.RowScope, e Event) bool {
	if s.All {
		return true
	}
	if e.Jurisdiction != "" {
		for _, root := range s.Jurisdictions {
			if root != "" && under(e.Jurisdiction, root) {
				return true
			}
		}
	}
	for _, d := range s.Depts {
		if d != "" && (d == e.OwnerDept || d == e.HandlingDept) {
			return true
		}
	}
	return s.CitizenID != "" && s.CitizenID == e.CitizenID
}

// under reports whether jurisdiction j lies in the subtree rooted at root.
func under(j, root string) bool {
	return j == root || strings.HasPrefix(j, root+".")
}

// Availability is one live reading of a parking lot's free spaces, as
// published on AvailabilityChannel. Parking availability is public: it is
// not filtered by scope.
type Availability struct {
	LotID string    `json:"lotId"`
	Free  int       `json:"free"`
	At    time.Time `json:"at"`
}
