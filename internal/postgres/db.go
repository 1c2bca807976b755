// Package postgres holds the hub's PostgreSQL plumbing and stores: the pool,
// migrations, transactions, error translation and one store per dataset.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig sizes the pool. Zero values take the defaults below.
type PoolConfig struct {
	URL              string
	MaxConns         int32
	MinConns         int32
	StatementTimeout time.Duration
	// Tracer, when set, sees every statement (metrics and tests use it).
	Tracer pgx.QueryTracer
}

// Defaults for PoolConfig.
const (
	MaxConnsDefault         = 20
	MinConnsDefault         = 2
	StatementTimeoutDefault = 10 * time.Second
)

// Open connects a pool and checks that the server answers.
func Open(ctx context.Context, cfg PoolConfig) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pc.MaxConns = orDefault(cfg.MaxConns, MaxConnsDefault)
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
	if cfg.Tracer != nil {
		pc.ConnConfig.Tracer = cfg.Tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// InTx runs fn in a transaction, committing only if fn returns nil.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return translate(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	if err := fn(tx); err != nil {
		return err
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

// queryAll runs sql and scans every row with scan. what names the rows in
// error messages.
func queryAll[T any](ctx context.Context, pool *pgxpool.Pool, what, sql string, args pgx.NamedArgs,
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
