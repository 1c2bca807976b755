package seed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ParkingLotsDefault is the number of demo parking lots.
const ParkingLotsDefault = 200

// AllStats counts what All loaded.
type AllStats struct {
	Stats
	Properties    int64
	ParkingLots   int64
	Violations    ViolationStats
	LinkedCases   int64
	OtherDatasets time.Duration
}

// All loads the whole demo district: the directory and cases (Run), then
// housing's compounds (households for about 480,000 residents), planning's
// permits and four double-random rounds on working days, parking lots with
// their opening dates (800+ spaces opened since 2023), enforcement's
// violations (illegal-parking records as many as the 乱停乱放 cases), and
// links the cases about a compound to it. The same Seed and Now give the
// same data (docs/demo-data.md; district_test.go checks each fact).
func All(ctx context.Context, pool *pgxpool.Pool, opts Options, progress func(stage string, done, total int)) (AllStats, error) {
	var out AllStats
	near, err := compoundLocator(opts.Seed, opts.Calendar)
	if err != nil {
		return out, err
	}
	opts.Compound = near
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
	if err := SeedProperties(ctx, pool, opts.Seed, opts.Calendar); err != nil {
		return out, fmt.Errorf("seed properties: %w", err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM properties").Scan(&out.Properties); err != nil {
		return out, fmt.Errorf("count properties: %w", err)
	}
	if out.ParkingLots, err = SeedParking(ctx, pool, opts.Seed, ParkingLotsDefault); err != nil {
		return out, fmt.Errorf("seed parking: %w", err)
	}
	cal, ok := opts.Calendar.(violation.Calendar)
	if !ok {
		return out, fmt.Errorf("seed violations: the calendar cannot add working days")
	}
	if out.Violations, err = SeedViolations(ctx, pool, opts.Seed, now, cal); err != nil {
		return out, fmt.Errorf("seed violations: %w", err)
	}
	if err := SeedEvaluationOrg(ctx, pool, now); err != nil {
		return out, err
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM cases WHERE property_id IS NOT NULL").Scan(&out.LinkedCases); err != nil {
		return out, fmt.Errorf("count linked cases: %w", err)
	}
	out.OtherDatasets = time.Since(began)
	if progress != nil {
		progress("other datasets", 4, 4)
	}
	// A table just loaded has no visibility map and stale statistics:
	// every count would read the heap (index-only scans need the map) and
	// the planner would guess. Autovacuum gets there eventually; the first
	// requests should not wait for it (a nested page's counts went from
	// 400 ms to 17 ms at a million cases).
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return out, fmt.Errorf("vacuum after seeding: %w", err)
	}
	return out, nil
}

// compoundLocator returns the function that names the compound a case is
// about: the nearest demo compound of the case's community within about
// 250 m. The compounds are the ones SeedProperties loads for the same
// seed: both generate them from the same grids with GenerateProperties.
func compoundLocator(seed int64, cal Calendar) (func(community string, lat, lng float64) *uuid.UUID, error) {
	tree := Jurisdictions()
	names := make(map[string]string, len(tree))
	for _, j := range tree {
		names[j.Code] = j.NameZh
	}
	var grids []PropertyGrid
	for _, j := range tree {
		if j.Level == LevelGrid {
			grids = append(grids, PropertyGrid{Code: j.Code, CommunityName: names[j.ParentCode], Lat: j.Lat, Lng: j.Lng})
		}
	}
	demo, err := GenerateProperties(seed, grids, cal)
	if err != nil {
		return nil, fmt.Errorf("demo compounds: %w", err)
	}
	type spot struct {
		id       uuid.UUID
		lat, lng float64
	}
	byCommunity := map[string][]spot{}
	for _, p := range demo.Properties {
		community := p.JurisdictionCode[:strings.LastIndex(p.JurisdictionCode, ".")]
		byCommunity[community] = append(byCommunity[community], spot{p.ID, p.Lat, p.Lng})
	}
	const maxDist2 = 0.0000051 // (degrees of latitude)², about 250 m
	return func(community string, lat, lng float64) *uuid.UUID {
		var best *uuid.UUID
		bestD := maxDist2
		for i, s := range byCommunity[community] {
			d := (s.lat-lat)*(s.lat-lat) + ((s.lng-lng)*0.84)*((s.lng-lng)*0.84)
			if d < bestD {
				bestD, best = d, &byCommunity[community][i].id
			}
		}
		return best
	}, nil
}
