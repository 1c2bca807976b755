package audit

import (
	"context"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/page"
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
	key    []byte
}

// NewTrail returns the auditors' view of the log.
func NewTrail(pool *pgxpool.Pool, d Decider) *Trail { return &Trail{pool: pool, access: d} }

// WithKey sets the audit key VerifyChain checks the records' HMACs with.
func (t *Trail) WithKey(key []byte) *Trail { t.key = key; return t }

// VerifyChain verifies the whole chain now with the hub's key, for
// auditors only (see Verify; checkpoints are checked by datahub audit
// verify, which reads them from where they are kept).
func (t *Trail) VerifyChain(ctx context.Context) (Report, error) {
	if err := t.auditorOnly(ctx); err != nil {
		return Report{}, err
	}
	return Verify(ctx, t.pool, VerifyOptions{Key: t.key})
}

func (t *Trail) auditorOnly(ctx context.Context) error {
	d, err := t.access.Decide(ctx, Dataset)
	if err != nil {
		return err
	}
	if d.Rows.Empty() {
		return apperr.New(apperr.Forbidden, "only auditors may read the audit trail")
	}
	return nil
}

// List returns audit records, newest first. Only principals whose policy
// lets them read the audit dataset (auditors) may; others get FORBIDDEN.
func (t *Trail) List(ctx context.Context, f Filter, first int, after string) ([]Record, string, error) {
	if err := t.auditorOnly(ctx); err != nil {
		return nil, "", err
	}
	return Query(ctx, t.pool, f, first, after)
}

// ListPage is List with every Relay argument (see QueryPage).
func (t *Trail) ListPage(ctx context.Context, f Filter, a page.Args) (*Page, error) {
	if err := t.auditorOnly(ctx); err != nil {
		return nil, err
	}
	return QueryPage(ctx, t.pool, f, a)
}
