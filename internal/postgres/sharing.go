package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/sharing"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SharingStore keeps data-sharing requests. It implements sharing.Store.
type SharingStore struct{ pool *pgxpool.Pool }

// NewSharingStore returns a request store on pool.
func NewSharingStore(pool *pgxpool.Pool) *SharingStore { return &SharingStore{pool: pool} }

var _ sharing.Store = (*SharingStore)(nil)

const requestColumns = `id, requester_dept, requested_by, provider_dept, dataset, field_groups, jurisdiction, purpose,
	until, status, coalesce(decided_by, ''), decided_at, coalesce(reason, ''), created_at, updated_at`

func scanRequest(row pgx.Row) (*sharing.Request, error) {
	var r sharing.Request
	err := row.Scan(&r.ID, &r.RequesterDept, &r.RequestedBy, &r.ProviderDept, &r.Dataset, &r.FieldGroups,
		&r.Jurisdiction, &r.Purpose, &r.Until, &r.Status, &r.DecidedBy, &r.DecidedAt, &r.Reason, &r.CreatedAt, &r.UpdatedAt)
	return &r, err
}

// Create implements sharing.Store.
func (s *SharingStore) Create(ctx context.Context, r *sharing.Request) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO access_requests (id, requester_dept, requested_by, provider_dept, dataset,
		field_groups, jurisdiction, purpose, until, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
		r.ID, r.RequesterDept, r.RequestedBy, r.ProviderDept, r.Dataset, r.FieldGroups, r.Jurisdiction, r.Purpose,
		r.Until, r.Status, r.CreatedAt)
	return translate(err)
}

// Get implements sharing.Store.
func (s *SharingStore) Get(ctx context.Context, id uuid.UUID) (*sharing.Request, error) {
	r, err := scanRequest(s.pool.QueryRow(ctx, "SELECT "+requestColumns+" FROM access_requests WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "access request %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get access request: %w", err))
	}
	return r, nil
}

func (s *SharingStore) list(ctx context.Context, sql string, args ...any) ([]*sharing.Request, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("list access requests: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sharing.Request, error) { return scanRequest(r) })
}

// List implements sharing.Store.
func (s *SharingStore) List(ctx context.Context, dept string, dir sharing.Direction, statuses []sharing.Status) ([]*sharing.Request, error) {
	col := "requester_dept"
	if dir == sharing.Incoming {
		col = "provider_dept"
	}
	st := make([]string, len(statuses))
	for i, v := range statuses {
		st[i] = string(v)
	}
	return s.list(ctx, "SELECT "+requestColumns+" FROM access_requests WHERE "+col+` = $1
		AND (cardinality($2::text[]) = 0 OR status = ANY($2)) ORDER BY created_at DESC, id DESC LIMIT 500`, dept, st)
}

// Decide implements sharing.Store.
func (s *SharingStore) Decide(ctx context.Context, r *sharing.Request, from sharing.Status) error {
	tag, err := s.pool.Exec(ctx, `UPDATE access_requests SET status = $2, decided_by = nullif($3, ''), decided_at = $4,
		reason = nullif($5, ''), updated_at = $6 WHERE id = $1 AND status = $7`,
		r.ID, r.Status, r.DecidedBy, r.DecidedAt, r.Reason, r.UpdatedAt, from)
	if err != nil {
		return translate(fmt.Errorf("decide access request: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return apperr.New(apperr.Conflict, "the request was decided by someone else meanwhile; reload it")
	}
	return nil
}

// Expire implements sharing.Store.
func (s *SharingStore) Expire(ctx context.Context, now time.Time) ([]*sharing.Request, error) {
	return s.list(ctx, `UPDATE access_requests SET status = 'EXPIRED', updated_at = $1
		WHERE status = 'APPROVED' AND until <= $1 RETURNING `+requestColumns, now)
}

// JurisdictionExists implements sharing.Store.
func (s *SharingStore) JurisdictionExists(ctx context.Context, code string) (bool, error) {
	return exists(ctx, s.pool, "SELECT EXISTS (SELECT 1 FROM jurisdictions WHERE code = $1)", code)
}
