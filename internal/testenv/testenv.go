// Package testenv gives each test package its own freshly created and
// migrated PostgreSQL database and its own Redis key prefix, so packages run
// in parallel without seeing each other's data. Tests talk to the real
// services: nothing here is a mock.
//
// Under -short (the fast tier, `make unit`) nothing is created: Main runs
// the tests without a database, and Pool, Redis and Schema skip the test
// that asks for them.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Defaults for the services, overridable with DATAHUB_TEST_ADMIN_URL and
// DATAHUB_TEST_REDIS_URL.
const (
	AdminURLDefault = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	RedisURLDefault = "redis://127.0.0.1:6379/0"
)

// Env is one test package's share of the services.
type Env struct {
	DatabaseURL string
	RedisURL    string
	// RedisPrefix namespaces every key and channel this package touches.
	RedisPrefix string
	dbName      string
}

// Service URLs of the Env under -short: port 1 refuses every connection.
const (
	unreachableDatabaseURL = "postgres://postgres@127.0.0.1:1/needs-postgres-not-in-short?sslmode=disable&connect_timeout=1"
	unreachableRedisURL    = "redis://127.0.0.1:1/0"
)

// ShortSkip is the reason a test that needs the services is skipped under
// -short.
const ShortSkip = "needs PostgreSQL; not in -short"

// Short reports whether the tests run under -short (the fast tier, which
// needs no service). It parses the test flags when TestMain has not yet.
func Short() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	return testing.Short()
}

// SkipShort skips tb under -short: for a test that reaches PostgreSQL or
// Redis other than through Pool, Redis or Schema (a URL of Env, a server
// it starts).
func SkipShort(tb testing.TB) {
	tb.Helper()
	if Short() {
		tb.Skip(ShortSkip)
	}
}

// Main creates the package's database, migrates it, runs the tests and drops
// the database. Use it from TestMain: os.Exit(testenv.Main(m, &env)). Under
// -short it creates nothing and only runs the tests (see SkipShort).
func Main(m *testing.M, env *Env) int {
	if Short() {
		// Nothing answers here: a test that reaches for the services
		// without SkipShort fails at once instead of finding a database
		// through the client libraries' defaults.
		*env = Env{DatabaseURL: unreachableDatabaseURL, RedisURL: unreachableRedisURL, RedisPrefix: "dh_short:"}
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	e, err := create(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	*env = *e
	code := m.Run()
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := drop(ctx, e.dbName); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: drop:", err)
	}
	return code
}

func adminURL() string {
	if v := os.Getenv("DATAHUB_TEST_ADMIN_URL"); v != "" {
		return v
	}
	return AdminURLDefault
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func create(ctx context.Context) (*Env, error) {
	name := "dh_test_" + randomSuffix()
	admin, err := pgx.Connect(ctx, adminURL())
	if err != nil {
		return nil, fmt.Errorf("connect admin: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL())
	if err != nil {
		return nil, fmt.Errorf("parse admin url: %w", err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: dbURL, MaxConns: 2, MinConns: 1})
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		return nil, err
	}
	redisURL := os.Getenv("DATAHUB_TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = RedisURLDefault
	}
	return &Env{DatabaseURL: dbURL, RedisURL: redisURL, RedisPrefix: name + ":", dbName: name}, nil
}

func drop(ctx context.Context, name string) error {
	admin, err := pgx.Connect(ctx, adminURL())
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// Pool opens a pool on the package database, closed when the test ends.
func (e *Env) Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	SkipShort(tb)
	pool, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: e.DatabaseURL, MaxConns: 8})
	if err != nil {
		tb.Fatalf("open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Redis opens a client on the test Redis, closed when the test ends, and
// removes the package's keys under the prefix at cleanup.
func (e *Env) Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	SkipShort(tb)
	opt, err := redis.ParseURL(e.RedisURL)
	if err != nil {
		tb.Fatalf("parse redis url: %v", err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis ping: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Schema creates a fresh, empty schema for a test that must commit or use
// LISTEN/NOTIFY without disturbing other tests, dropped at cleanup. It
// returns a pool whose search_path starts with that schema.
func (e *Env) Schema(tb testing.TB) (*pgxpool.Pool, string) {
	tb.Helper()
	SkipShort(tb)
	ctx := context.Background()
	name := "t_" + randomSuffix()
	base := e.Pool(tb)
	if _, err := base.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() { _, _ = base.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE") })
	u, _ := url.Parse(e.DatabaseURL)
	q := u.Query()
	q.Set("search_path", name+",public")
	u.RawQuery = q.Encode()
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: u.String(), MaxConns: 8})
	if err != nil {
		tb.Fatalf("open schema pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool, name
}
