package app

import (
	"context"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
)

// permitRegister answers violations' permit questions from planning's
// building permits. The field rule (planning's conditional "permit" group)
// is applied by the violation service before it asks.
type permitRegister struct{ store *postgres.PropertyStore }

func (p permitRegister) CheckPermit(ctx context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (violation.PermitCheck, error) {
	pc, err := p.store.CheckPermit(ctx, propertyID, subtype, areaM2)
	if err != nil {
		return violation.PermitCheck{}, err
	}
	return violation.PermitCheck{HasPermit: pc.HasPermit, Covers: pc.Covers, PermitNo: pc.PermitNo, Note: pc.Note}, nil
}
