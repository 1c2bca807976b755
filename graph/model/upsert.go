package model

// UpsertOutcome is what an upsert did; the datasets' own outcome types
// convert to it by value.
type UpsertOutcome string
