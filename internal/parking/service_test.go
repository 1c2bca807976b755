package parking_test

import (
	"github.com/fengcheng/datahub/internal/apperr"
)

// The service's tests against the real database (Near's batching, input
// validation, upsert rules) live in internal/postgres/parking_service_test.go.

func apperrAs(err error) (*apperr.Error, bool) { return apperr.As(err) }
