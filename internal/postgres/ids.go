package postgres

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// OrderedID is the SQL expression of the ids of a statement that writes
// many rows: prefix, a parameter bound to NewOrderedIDPrefix(), followed
// by n, the row's number in the statement, in the last four bytes (RFC
// 9562's dedicated counter). The ids are UUIDv7s, time ordered like those
// the hub draws one at a time, so an index takes a statement's rows in one
// place: random ids (gen_random_uuid) spread a 100,000-row import over the
// whole unique index of event ids, about 0.6 s of its merge. The twelve
// bytes of the prefix hold the time, the generator's sub-millisecond
// sequence and 30 random bits, so two statements do not share one in
// practice, and a unique index would refuse (never merge) a statement
// that did.
func OrderedID(prefix, n string) string {
	return "(" + prefix + " || lpad(to_hex(" + n + "), 8, '0'))::uuid"
}

// NewOrderedIDPrefix returns the first twelve bytes of a new UUIDv7 in
// hex, the prefix of one statement's OrderedIDs.
func NewOrderedIDPrefix() string {
	id := uuid.Must(uuid.NewV7())
	return hex.EncodeToString(id[:12])
}
