package policy

import (
	"context"
	"fmt"

	"github.com/fengcheng/datahub/internal/access"
)

// DatasetView is one dataset of the catalog as a caller sees it: the
// baseline policy of every role (the policy matrix) and the caller's own
// access now, grants included.
type DatasetView struct {
	MatrixDataset
	Mine *access.Decision
}

// Describe returns every dataset of the catalog with the baseline policy
// and the decision the caller in ctx gets for it. It reveals no rows, only
// the rules, which are published with the policy files.
func (e *Engine) Describe(ctx context.Context) ([]DatasetView, error) {
	m, err := Matrix(e)
	if err != nil {
		return nil, err
	}
	out := make([]DatasetView, len(m))
	for i, ds := range m {
		d, err := e.Decide(ctx, ds.Dataset.Name)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", ds.Dataset.Name, err)
		}
		out[i] = DatasetView{MatrixDataset: ds, Mine: d}
	}
	return out, nil
}
