package apperr

import "fmt"

// KeyTakenFormat is the refusal of a record sent under an external id the
// sender's department has used already, with one %s for the key. It is the
// one answer whether the record under the key is within the sender's row
// scope or not: a key is shared by the whole department, and a creation it
// blocks must tell a field worker no more than that the key is not free
// (not where the record lies, its status or version), nor differ from the
// answer about the worker's own records. Bulk imports put it in the report
// of the row (SQL format() takes the same %s).
const KeyTakenFormat = `the external id "%s" is already in use in your department: send a new record under another external id, or resend one of your records with upsert`

// KeyTaken is the CONFLICT of KeyTakenFormat for key.
func KeyTaken(key string) *Error {
	return New(Conflict, KeyTakenFormat, key)
}

// KeyTakenReason is KeyTakenFormat for key, for a row of a bulk report.
func KeyTakenReason(key string) string { return fmt.Sprintf(KeyTakenFormat, key) }
