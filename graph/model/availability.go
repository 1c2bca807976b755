package model

import (
	"time"

	"github.com/google/uuid"
)

// AvailabilityUpdate is a live free-space report for one lot.
type AvailabilityUpdate struct {
	LotID uuid.UUID `json:"-"`
	Free  int       `json:"free"`
	At    time.Time `json:"at"`
}
