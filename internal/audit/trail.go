package audit

import (
	"context"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Dataset is the catalog name of the audit trail.
const Dataset = "audit"

// Decider answers what the caller may do with a dataset.
type Decider interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// Trail lets auditors read the audit log.
type Trail struct {
	pool   *pgxpool.Pool
	access Decider
}

// NewTrail returns the auditors' view of the log.
func NewTrail(pool *pgxpool.Pool, d Decider) *Trail { return &Trail{pool: pool, access: d} }

// List returns audit records, newest first. Only principals whose policy
// lets them read the audit dataset (auditors) may; others get FORBIDDEN.
func (t *Trail) List(ctx context.Context, f Filter, first int, after string) ([]Record, string, error) {
	d, err := t.access.Decide(ctx, Dataset)
	if err != nil {
		return nil, "", err
	}
	if d.Rows.Empty() {
		return nil, "", apperr.New(apperr.Forbidden, "only auditors may read the audit trail")
	}
	return Query(ctx, t.pool, f, first, after)
}
