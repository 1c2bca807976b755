// Package postgres holds the hub's PostgreSQL plumbing and stores: the pool,
// migrations, transactions, error translation and one store per dataset.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig sizes the pool. Zero values take the defaults below.
type PoolConfig struct {
	URL              string
	MaxConns         int32
	MinConns         int32
	StatementTimeout time.Duration
	// Tracer, when set, sees every statement (tests use it).
	Tracer pgx.QueryTracer
	// Statements, when set, counts every statement (metrics use it).
	Statements *StatementCounter
	// Spans, when set, records statements as OpenTelemetry spans
	// (telemetry.Postgres); unset, tracing costs nothing.
	Spans pgx.QueryTracer
}

// Defaults for PoolConfig (MaxConns: DefaultMaxConns).
const (
	MinConnsDefault         = 2
	StatementTimeoutDefault = 10 * time.Second
	ConnectTimeoutDefault   = 5 * time.Second
)

// DefaultMaxConns is the pool size when none is configured: four
// connections per core the hub may use (GOMAXPROCS), at least 8. A request
// holds a connection only while its statements run, so a few per core keep
// the hub's cores busy; more only contend inside PostgreSQL: 32 requests on
// 20 connections measured S1 and S2 a sixth and a tenth slower than on 8
// (2 cores, PostgreSQL on the same machine). Four 2-core instances then
// keep an 8-core database at four active connections per core.
func DefaultMaxConns() int32 { return maxConnsFor(runtime.GOMAXPROCS(0)) }

func maxConnsFor(procs int) int32 { return int32(max(8, 4*procs)) }

// DB is what the stores run statements on: a *pgxpool.Pool, or a router
// that sends read-only operations to replicas (internal/postgres/replica).
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Begin(ctx context.Context) (pgx.Tx, error)
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	Acquire(ctx context.Context) (*pgxpool.Conn, error)
}

var _ DB = (*pgxpool.Pool)(nil)

// Open connects a pool and checks that the server answers.
func Open(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pool, err := NewPool(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// NewPool builds a pool without connecting: a replica that is down at
// start joins once it answers.
func NewPool(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pc.MaxConns = orDefault(cfg.MaxConns, DefaultMaxConns())
	if pc.ConnConfig.ConnectTimeout == 0 {
		// An unreachable server must fail a request quickly, not hold it
		// until the request timeout.
		pc.ConnConfig.ConnectTimeout = ConnectTimeoutDefault
	}
	pc.MinConns = orDefault(cfg.MinConns, MinConnsDefault)
	timeout := cfg.StatementTimeout
	if timeout == 0 {
		timeout = StatementTimeoutDefault
	}
	// A statement that runs away holds a connection and locks; the server
	// cancels it rather than letting one request starve the pool.
	pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(timeout.Milliseconds())
	pc.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint((2 * timeout).Milliseconds())
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "datahub"
	pc.ConnConfig.Tracer = cfg.tracer()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	return pool, nil
}

// tracer combines the configured tracers; a single one is used as is, with
// no multitracer between it and the pool.
func (cfg PoolConfig) tracer() pgx.QueryTracer {
	var ts []pgx.QueryTracer
	if cfg.Tracer != nil {
		ts = append(ts, cfg.Tracer)
	}
	if cfg.Statements != nil {
		ts = append(ts, cfg.Statements)
	}
	if cfg.Spans != nil {
		ts = append(ts, cfg.Spans)
	}
	switch len(ts) {
	case 0:
		return nil
	case 1:
		return ts[0]
	}
	return multitracer.New(ts...)
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// InTx runs fn in a transaction, committing only if fn returns nil.
func InTx(ctx context.Context, pool DB, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := fn(tx); err != nil {
		return translate(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// translate maps driver errors a caller can act on to coded errors and
// leaves the rest (internal) untouched.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	if Unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return fmt.Errorf("%w: %w", apperr.New(apperr.Conflict, "the record already exists"), err)
		case "40001", "40P01":
			return fmt.Errorf("%w: %w", apperr.New(apperr.Conflict, "concurrent update, please retry"), err)
		case "22021", "22P05":
			// Text PostgreSQL cannot store (a NUL byte, or bytes that are
			// not UTF-8): the caller's input.
			return fmt.Errorf("%w: %w", apperr.New(apperr.BadUserInput, "text must be UTF-8 without NUL characters"), err)
		case "57014":
			return fmt.Errorf("%w: %w", apperr.New(apperr.ServiceUnavailable, "the query took too long"), err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", apperr.New(apperr.ServiceUnavailable, "the request took too long"), err)
	}
	return err
}

// ErrUnavailable is what a caller sees when the database cannot be reached
// or is restarting: SERVICE_UNAVAILABLE, so that clients retry rather than
// report a bug.
var ErrUnavailable = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "the database is unavailable, please retry"}

// Unavailable reports whether err means the database could not be reached
// or dropped the connection (it is down, restarting, or out of
// connections), as opposed to refusing the statement. Nothing is
// half-applied in that case: a transaction whose connection is lost is
// rolled back by the server.
func Unavailable(err error) bool {
	// The caller's own deadline or cancellation is not the database's
	// fault (and context.DeadlineExceeded is a net.Error).
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exceptions; 57P01-03: the server is shutting
		// down or starting; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") ||
			pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// A connection the server closed under a statement surfaces as EOF, or
	// as pgconn's "conn closed" once pgx has noticed.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}

// queryAll runs sql and scans every row with scan. what names the rows in
// error messages.
func queryAll[T any](ctx context.Context, pool DB, what, sql string, args pgx.NamedArgs,
	scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := pool.Query(ctx, sql, args)
	if err != nil {
		return nil, translate(fmt.Errorf("query %s: %w", what, err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("read %s: %w", what, err))
	}
	return out, nil
}
