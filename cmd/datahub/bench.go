package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/loadbench"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// benchDatabaseDefault is the load benchmark's own database, apart from
// the demo one: it holds a million cases and the benchmark writes to it.
const benchDatabaseDefault = "postgres://postgres@127.0.0.1:5432/datahub_bench?sslmode=disable"

// bench builds the benchmark database once, starts this binary's hub as
// shipped on a free loopback port, and drives the named scenarios.
func (m *Main) bench(ctx context.Context, args []string) error {
	fs := m.flagSet("bench")
	dbURL := fs.String("database-url", cmp.Or(m.Getenv("BENCH_DATABASE_URL"), benchDatabaseDefault), "the benchmark's database (BENCH_DATABASE_URL); created and seeded when missing")
	redisURL := fs.String("redis-url", cmp.Or(m.Getenv("REDIS_URL"), "redis://127.0.0.1:6379/0"), "Redis (REDIS_URL)")
	nCases := fs.Int("cases", 1_000_000, "cases to seed into a new benchmark database")
	duration := fs.Duration("duration", 15*time.Second, "measured time of each run")
	warmup := fs.Duration("warmup", 3*time.Second, "unmeasured time before each run")
	soak := fs.Duration("soak", 5*time.Minute, "how long S6 holds 70% of its peak")
	conns := fs.Int("connections", 32, "closed-loop concurrency")
	rate := fs.Int("rate", 500, "S1's open-loop arrival rate, requests/s (0: skip)")
	scenarios := fs.String("scenarios", strings.Join(loadbench.Scenarios, ","), "scenarios to run, comma-separated")
	importRows := fs.Int("import-rows", 100_000, "rows of S7's bulk file")
	out := fs.String("out", "", "also write the table to this file")
	hubEnv := fs.String("hub-env", "", "extra hub environment, e.g. GOGC=200,GOMEMLIMIT=250MiB (comma-separated)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if err := ensureDatabase(ctx, *dbURL); err != nil {
		return err
	}
	if err := m.Run(ctx, []string{"migrate", "--database-url", *dbURL}); err != nil {
		return err
	}
	if err := m.Run(ctx, []string{"seed", "--if-empty", "--cases", strconv.Itoa(*nCases), "--database-url", *dbURL}); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: *dbURL, MaxConns: 8, StatementTimeout: 30 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := m.settleIndicators(ctx, pool); err != nil {
		return err
	}
	if err := m.vacuumChurned(ctx, pool); err != nil {
		return err
	}
	hub, err := m.startHub(ctx, *dbURL, *redisURL, *hubEnv)
	if err != nil {
		return err
	}
	defer hub.stop()
	fmt.Fprintf(m.Stderr, "bench: hub pid %d on %s (log %s)\n", hub.cmd.Process.Pid, hub.url, hub.logPath)
	rows, err := loadbench.Run(ctx, loadbench.Options{
		HubURL: hub.url, Pool: pool, DevSecret: hub.devSecret, MetricsToken: hub.metricsToken,
		RSS: hub.peakRSS, CurrentRSS: hub.rss, Duration: *duration, Warmup: *warmup, Soak: *soak, Connections: *conns, Rate: *rate,
		Scenarios: splitList(*scenarios), ImportRows: *importRows, Log: m.Stderr,
	})
	if len(rows) > 0 {
		_ = loadbench.WriteTable(m.Stdout, rows)
		if *out != "" {
			f, ferr := os.Create(*out)
			if ferr != nil {
				return errors.Join(err, ferr)
			}
			werr := loadbench.WriteTable(f, rows)
			err = errors.Join(err, werr, f.Close())
		}
	}
	return err
}

// settleIndicators brings the indicator rollups up to date before the hub
// starts: a database seeded by an older version, or one an earlier run's S7
// left case changes queued in, would otherwise have the hub rebuild or fold
// them in the background while it is measured.
func (m *Main) settleIndicators(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := app.RefreshIndicators(ctx, pool, nil, m.logger("warn"))
	if err != nil {
		return fmt.Errorf("indicators: %w", err)
	}
	if st.Rebuilt || st.Cases > 0 {
		fmt.Fprintf(m.Stderr, "bench: indicators brought up to date (%d cases, rebuilt %t) in %s\n", st.Cases, st.Rebuilt, st.Duration.Round(time.Millisecond))
	}
	return nil
}

// churnedTables are the tables earlier runs leave dead rows in: S6's
// transitions and S7's imports update and add cases, events and outbox
// rows, and the indicators' queue is filled and emptied.
var churnedTables = []string{"case_eval_dirty", "outbox", "case_eval_facts", "case_rollup_monthly",
	"case_rollup_community", "case_rollup_class", "cases", "case_events"}

// vacuumChurned vacuums what earlier runs churned, so every run starts
// from the state autovacuum keeps a database in (a server may run without
// it: a queue emptied by the last run then cost the first indicators read
// 100-200 ms walking its dead rows).
func (m *Main) vacuumChurned(ctx context.Context, pool *pgxpool.Pool) error {
	start := time.Now()
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(churnedTables, ", ")); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	fmt.Fprintf(m.Stderr, "bench: vacuumed %s in %s\n", strings.Join(churnedTables, ", "), time.Since(start).Round(time.Millisecond))
	return nil
}

// benchHub is the hub process the benchmark drives.
type benchHub struct {
	cmd          *exec.Cmd
	url          string
	logPath      string
	devSecret    []byte
	metricsToken string
	done         chan struct{}
}

func (m *Main) startHub(ctx context.Context, dbURL, redisURL, extraEnv string) (*benchHub, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	h := &benchHub{url: "http://" + addr, metricsToken: hex.EncodeToString(tok), done: make(chan struct{})}
	env := []string{
		"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "REDIS_PREFIX=bench:", "LISTEN_ADDR=" + addr,
		"DATAHUB_MODE=development", "METRICS_TOKEN=" + h.metricsToken, "LOG_LEVEL=warn",
		// The limiter stays on (its cost is part of every request); the
		// limits are raised so that one benchmark key is not throttled.
		"RATE_LIMIT_CITIZEN=100000000/1m", "RATE_LIMIT_APIKEY=100000000/1m", "RATE_LIMIT_ANONYMOUS=100000000/1m",
	}
	env = append(env, splitList(extraEnv)...)
	cfg, err := config.Load(envLookup(append(os.Environ(), env...)))
	if err != nil {
		return nil, fmt.Errorf("hub configuration: %w", err)
	}
	h.devSecret = cfg.DevSecret()
	logFile, err := os.CreateTemp("", "datahub-bench-hub-*.log")
	if err != nil {
		return nil, err
	}
	h.logPath = logFile.Name()
	h.cmd = exec.CommandContext(ctx, self, "serve")
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.Stdout, h.cmd.Stderr = logFile, logFile
	if err := h.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start hub: %w", err)
	}
	go func() { _ = h.cmd.Wait(); _ = logFile.Close(); close(h.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(h.url + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		select {
		case <-h.done:
			return nil, fmt.Errorf("the hub exited at start; see %s", h.logPath)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("the hub was not ready within a minute; see %s", h.logPath)
		}
	}
}

func (h *benchHub) stop() {
	_ = h.cmd.Process.Signal(os.Interrupt)
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}

func (h *benchHub) peakRSS() uint64 { return h.status("VmHWM:") }
func (h *benchHub) rss() uint64     { return h.status("VmRSS:") }

// status reads a kB figure of the hub's /proc status (0 where there is
// none, e.g. not on Linux).
func (h *benchHub) status(field string) uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(h.cmd.Process.Pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ensureDatabase creates the database dbURL names when it is missing.
func ensureDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return fmt.Errorf("database url %q names no database", dbURL)
	}
	admin := *u
	admin.Path = "/postgres"
	c, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to create the benchmark database: %w", err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func envLookup(env []string) func(string) string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
