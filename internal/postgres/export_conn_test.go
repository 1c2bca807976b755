package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestExportLinesHoldNoConnection: while an export hands lines to the
// client (which may read as slowly as it likes), it holds no database
// connection: on a pool of one, the writer can still query.
func TestExportLinesHoldNoConnection(t *testing.T) {
	pool := setup(t)
	street := insertBulkCases(t, pool, 250)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow))
	m, err := svc.CreateSnapshot(evaluatorCtx(), "cases", evaluation.SnapshotFilter{Jurisdiction: street}, evaluation.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(env.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	one, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	store := postgres.NewEvaluationStore(one)
	lines := 0
	err = store.Lines(context.Background(), m.ID, evaluation.FormatNDJSON, 1, 100, func([]byte) error {
		lines++
		if lines%100 != 1 {
			return nil
		}
		// A slow client: the writer waits; meanwhile others need the pool.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := one.Exec(ctx, `SELECT 1`)
		return err
	})
	if err != nil || lines != int(m.Rows) {
		t.Fatalf("%d of %d lines: %v (the line writer waited for a connection the export held)", lines, m.Rows, err)
	}
}
