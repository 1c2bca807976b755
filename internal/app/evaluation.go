package app

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/policies"
	"github.com/jackc/pgx/v5/pgxpool"
)

// newEvaluation builds the evaluation service: weights and the policy
// version come from the policy files, so a figure always says which
// weights and rules produced it.
func newEvaluation(pool *pgxpool.Pool, pfs fs.FS, catalog *access.Catalog, decider Decider, auditor evaluation.Auditor,
	cal *calendar.Calendar, now func() time.Time, log *slog.Logger) (*evaluation.Service, error) {
	weights, err := policy.LoadWeights(pfs)
	if err != nil {
		return nil, fmt.Errorf("evaluation weights: %w", err)
	}
	version, err := evaluation.PolicyVersion(pfs)
	if err != nil {
		return nil, fmt.Errorf("policy version: %w", err)
	}
	return evaluation.NewService(evaluation.Config{Store: postgres.NewEvaluationStore(pool), Authorizer: decider,
		Calendar: cal, Weights: weights, Catalog: catalog, Auditor: auditor, PolicyVersion: version, Now: now, Logger: log})
}

// RebuildIndicators recomputes the evaluation rollups from the cases, as
// needed after a bulk load such as `datahub seed`. now is the clock the hub
// will run with (nil: time.Now).
func RebuildIndicators(ctx context.Context, pool *pgxpool.Pool, now func() time.Time, log *slog.Logger) (evaluation.RefreshStats, error) {
	svc, err := offlineEvaluation(pool, now, log)
	if err != nil {
		return evaluation.RefreshStats{}, err
	}
	return svc.Rebuild(ctx)
}

// RefreshIndicators brings the evaluation rollups up to date as a hub would
// at start: a rebuild when they were built by other rules or never, else
// the queued case changes folded in. It returns once nothing is pending, so
// that work measured or served next does not share the machine with it.
func RefreshIndicators(ctx context.Context, pool *pgxpool.Pool, now func() time.Time, log *slog.Logger) (evaluation.RefreshStats, error) {
	svc, err := offlineEvaluation(pool, now, log)
	if err != nil {
		return evaluation.RefreshStats{}, err
	}
	return svc.Refresh(ctx)
}

// offlineEvaluation is the evaluation service without a running hub: the
// shipped policies, no auditor.
func offlineEvaluation(pool *pgxpool.Pool, now func() time.Time, log *slog.Logger) (*evaluation.Service, error) {
	eng, err := policy.NewEngine(policy.EngineConfig{FS: policies.FS, Logger: log})
	if err != nil {
		return nil, err
	}
	return newEvaluation(pool, policies.FS, eng.Catalog(), eng, nil, calendar.Default(), now, log)
}

// refreshInterval is how often an instance folds changed cases into the
// indicator rollups (Indicators also folds pending changes before reading).
const refreshInterval = 30 * time.Second

func (a *App) refreshIndicators(ctx context.Context) error {
	t := time.NewTicker(refreshInterval)
	defer t.Stop()
	// At start, at once: after a bulk load the rollups are due a rebuild.
	if st, err := a.Resolver.EvaluationService.Refresh(ctx); err != nil {
		a.Logger.Warn("refresh indicators", "err", err)
	} else if st.Rebuilt {
		a.Logger.Info("indicator rollups rebuilt", "took", st.Duration.String())
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := a.Resolver.EvaluationService.Refresh(ctx); err != nil {
				a.Logger.Warn("refresh indicators", "err", err)
			}
		}
	}
}
