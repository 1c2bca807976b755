package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ParkingLotsDefault is the number of demo parking lots.
const ParkingLotsDefault = 200

// AllStats counts what All loaded.
type AllStats struct {
	Stats
	Properties    int64
	ParkingLots   int64
	Violations    postgres.DemoStats
	LinkedCases   int64
	OtherDatasets time.Duration
}

// All loads the whole demo district: the directory and cases (Run), then
// housing's compounds and planning's permits, parking lots, enforcement's
// violations, and links the cases about a compound to it. The same Seed
// and Now give the same data.
func All(ctx context.Context, pool *pgxpool.Pool, opts Options, progress func(stage string, done, total int)) (AllStats, error) {
	var out AllStats
	st, err := Run(ctx, pool, opts, progress)
	if err != nil {
		return out, err
	}
	out.Stats = st
	began := time.Now()
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if progress != nil {
		progress("other datasets", 0, 4)
	}
	if err := postgres.SeedDemo(ctx, pool, opts.Seed); err != nil {
		return out, fmt.Errorf("seed properties: %w", err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM properties").Scan(&out.Properties); err != nil {
		return out, fmt.Errorf("count properties: %w", err)
	}
	if out.ParkingLots, err = postgres.SeedParkingDemo(ctx, pool, opts.Seed, ParkingLotsDefault); err != nil {
		return out, fmt.Errorf("seed parking: %w", err)
	}
	cal, ok := opts.Calendar.(violation.Calendar)
	if !ok {
		return out, fmt.Errorf("seed violations: the calendar cannot add working days")
	}
	if out.Violations, err = postgres.SeedViolationsDemo(ctx, pool, opts.Seed, now, cal); err != nil {
		return out, fmt.Errorf("seed violations: %w", err)
	}
	if out.LinkedCases, err = linkCasesToProperties(ctx, pool); err != nil {
		return out, err
	}
	out.OtherDatasets = time.Since(began)
	if progress != nil {
		progress("other datasets", 4, 4)
	}
	return out, nil
}

// linkCasesToProperties names the compound of the cases that are about
// one: refuse, construction and laundry cases within about 250 m of a
// compound of their community.
func linkCasesToProperties(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	tag, err := pool.Exec(ctx, `WITH pick AS (
			SELECT c.id AS case_id, p.id AS property_id
			FROM cases c
			CROSS JOIN LATERAL (
				SELECT p.id, p.lat, p.lng FROM properties p WHERE p.community_code = c.community_code
				ORDER BY (p.lat - c.lat) ^ 2 + ((p.lng - c.lng) * 0.84) ^ 2 LIMIT 1) p
			WHERE c.kind = 'EVENT' AND c.minor_code IN ('0101', '0103', '0104', '0302', '0504')
			  AND (p.lat - c.lat) ^ 2 + ((p.lng - c.lng) * 0.84) ^ 2 < 0.0000051)
		UPDATE cases SET property_id = pick.property_id FROM pick WHERE cases.id = pick.case_id`)
	if err != nil {
		return 0, fmt.Errorf("link cases to compounds: %w", err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE cases"); err != nil {
		return 0, fmt.Errorf("analyze cases: %w", err)
	}
	return tag.RowsAffected(), nil
}
