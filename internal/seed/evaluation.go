package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/postgres"
)

// EvaluationOrg is the evaluation organisation of the demo district: the
// development login's evaluator persona belongs to it.
const EvaluationOrg = "demo-assessors"

// SeedEvaluationOrg registers the demo evaluation organisation with a
// contract over every snapshot dataset of the whole district, running from
// a month before now to eleven months after.
func SeedEvaluationOrg(ctx context.Context, db postgres.DB, now time.Time) error {
	o := evaluation.Organisation{Code: EvaluationOrg, Name: "海陵城市治理第三方评估中心（演示）", ContractNo: "HLPG-DEMO-01",
		From: now.AddDate(0, -1, 0).UTC().Truncate(time.Hour), To: now.AddDate(0, 11, 0).UTC().Truncate(time.Hour),
		Datasets: evaluation.SnapshotDatasets(), Jurisdictions: []string{"hailing"}, RegisteredBy: "datahub seed"}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("seed evaluation organisation: %w", err)
	}
	if err := postgres.NewEvaluationStore(db).RegisterOrganisation(ctx, &o); err != nil {
		return fmt.Errorf("seed evaluation organisation: %w", err)
	}
	return nil
}
