package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/seed"
)

func (m *Main) seed(ctx context.Context, args []string) error {
	fs := m.flagSet("seed")
	n := fs.Int("cases", seed.CasesDefault, "number of cases")
	rs := fs.Int64("seed", 20230101, "random seed: the same seed and --now give the same data")
	years := fs.Int("years", 0, "years of history (default 3)")
	now := fs.String("now", "", "end of the period, RFC 3339 (default: now)")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when the database already holds data")
	reset := fs.Bool("reset", false, "truncate the seeded tables first")
	pool, err := m.openPool(ctx, fs, args)
	if err != nil {
		return err
	}
	defer pool.Close()
	if *ifEmpty {
		done, err := seed.IsSeeded(ctx, pool)
		if err != nil {
			return err
		}
		if done {
			fmt.Fprintln(m.Stdout, "demo data already present; nothing to do")
			return nil
		}
	}
	opts := seed.Options{Seed: *rs, Cases: *n, Years: *years, Calendar: calendar.Default(), Reset: *reset}
	if *now != "" {
		if opts.Now, err = time.Parse(time.RFC3339, *now); err != nil {
			return fmt.Errorf("--now: %w", err)
		}
	}
	last := time.Time{}
	st, err := seed.All(ctx, pool, opts, func(stage string, done, total int) {
		if time.Since(last) < 500*time.Millisecond && done != total {
			return
		}
		last = time.Now()
		if total > 0 {
			fmt.Fprintf(m.Stderr, "\rseed: %-14s %9d / %d (%3.0f%%)", stage, done, total, 100*float64(done)/float64(total))
		}
	})
	fmt.Fprintln(m.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "seeded %d jurisdictions, %d departments, %d cases (%d timeline events), %d compounds, %d parking lots, %d violations; %d cases linked to compounds; in %s\n",
		st.Jurisdictions, st.Departments, st.Cases, st.Events, st.Properties, st.ParkingLots, st.Violations.Violations, st.LinkedCases, (st.Duration + st.OtherDatasets).Round(time.Millisecond))
	// The indicators are built here, once, rather than by the first hub to
	// start: at a million cases that takes a minute of the server's CPU,
	// which a hub would otherwise spend while it serves.
	ind, err := app.RebuildIndicators(ctx, pool, nil, m.logger("warn"))
	if err != nil {
		return fmt.Errorf("indicators: %w", err)
	}
	fmt.Fprintf(m.Stdout, "indicators built from %d cases in %s\n", ind.Cases, ind.Duration.Round(time.Millisecond))
	return nil
}
