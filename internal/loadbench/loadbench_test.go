package loadbench_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/loadbench"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// TestRunEveryScenario drives every scenario for a moment against a small
// hub, so the benchmark cannot rot: each must succeed without a single
// failed request, and the table must name them all.
func TestRunEveryScenario(t *testing.T) {
	ctx := context.Background()
	pool := env.Pool(t)
	now := time.Now()
	if _, err := seed.All(ctx, pool, seed.Options{Seed: 3, Cases: 3000, Now: now, Calendar: calendar.Default()}, nil); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if _, err := app.RebuildIndicators(ctx, pool, nil, log); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"DATABASE_URL": env.DatabaseURL, "REDIS_URL": env.RedisURL, "REDIS_PREFIX": env.RedisPrefix,
			"METRICS_TOKEN": "bench-metrics-token-0123", "RATE_LIMIT_APIKEY": "off", "RATE_LIMIT_CITIZEN": "off"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })

	var progress bytes.Buffer
	rows, err := loadbench.Run(ctx, loadbench.Options{
		HubURL: srv.URL, Pool: pool, DevSecret: cfg.DevSecret(), MetricsToken: "bench-metrics-token-0123",
		Duration: 300 * time.Millisecond, Soak: 300 * time.Millisecond, Connections: 4, Rate: 20, ImportRows: 300, Log: &progress,
		// The hub runs in this process: its memory stands in for a resident set.
		CurrentRSS: func() uint64 { var m runtime.MemStats; runtime.ReadMemStats(&m); return m.Sys },
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var table strings.Builder
	if err := loadbench.WriteTable(&table, rows); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())
	for _, s := range loadbench.Scenarios {
		if !strings.Contains(table.String(), "| "+s+" |") {
			t.Errorf("the table has no %s row", s)
		}
	}
	for _, r := range rows {
		if r.Errors > 0 || r.Requests == 0 || r.RPS <= 0 {
			t.Errorf("%s %s: %d requests, %d errors, %.0f/s: %s", r.Scenario, r.Mode, r.Requests, r.Errors, r.RPS, r.Note)
		}
		if r.Statements < 0 {
			t.Errorf("%s %s: statements per request unknown (is datahub_db_statements_total exported?)", r.Scenario, r.Mode)
		}
		if r.Scenario == "S6" && strings.HasPrefix(r.Mode, "open") && !strings.Contains(r.Note, "RSS peak") {
			t.Errorf("S6's soak reports no memory: %q", r.Note)
		}
		if (r.Scenario == "S1" && r.Mode == "closed 4" || r.Scenario == "S3" || r.Scenario == "S7") && r.Floor <= 0 {
			t.Errorf("%s has no floor", r.Scenario)
		}
	}
}
