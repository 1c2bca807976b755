package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/policy/casbinpg"
	"github.com/fengcheng/datahub/internal/sharing"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SharingStore keeps data-sharing requests and, in the same transactions,
// the Casbin lines of the grants they stand for. It implements
// sharing.Store.
type SharingStore struct {
	pool   DB
	policy *casbinpg.Adapter
}

// NewSharingStore returns a request store on pool writing grant lines
// through policy (on the same database).
func NewSharingStore(pool DB, policy *casbinpg.Adapter) *SharingStore {
	return &SharingStore{pool: pool, policy: policy}
}

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

// Decide implements sharing.Store. The request's row is locked (SELECT …
// FOR UPDATE) from the read decide sees to the commit, so two decisions on
// one request run one after the other and the second sees the first's
// outcome; the grant's lines are written in the same transaction, so a
// request's status and its policy never disagree, whatever interleaves.
func (s *SharingStore) Decide(ctx context.Context, id uuid.UUID, decide func(r *sharing.Request) error) (*sharing.Request, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, translate(fmt.Errorf("decide access request: begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	r, err := scanRequest(tx.QueryRow(ctx, "SELECT "+requestColumns+" FROM access_requests WHERE id = $1 FOR UPDATE", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "access request %s not found", id)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("decide access request: lock: %w", err))
	}
	from := r.Status
	if err := decide(r); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE access_requests SET status = $2, decided_by = nullif($3, ''), decided_at = $4,
		reason = nullif($5, ''), updated_at = $6 WHERE id = $1`,
		r.ID, r.Status, r.DecidedBy, r.DecidedAt, r.Reason, r.UpdatedAt); err != nil {
		return nil, translate(fmt.Errorf("decide access request: update: %w", err))
	}
	// The policy follows the status: lines while APPROVED, none otherwise.
	switch {
	case r.Status == sharing.StatusApproved && from != sharing.StatusApproved:
		err = s.policy.AddPoliciesTx(ctx, tx, access.GrantPType, r.Grant().Rules())
	case r.Status != sharing.StatusApproved:
		_, err = s.policy.RemoveFilteredPolicyTx(ctx, tx, access.GrantPType, access.GrantIDField, r.ID.String())
	}
	if err != nil {
		return nil, translate(fmt.Errorf("decide access request: policy: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, translate(fmt.Errorf("decide access request: commit: %w", err))
	}
	return r, nil
}

// Expire implements sharing.Store: the records and their lines change in
// one transaction.
func (s *SharingStore) Expire(ctx context.Context, now time.Time) ([]*sharing.Request, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, translate(fmt.Errorf("expire access requests: begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rollback after commit is a no-op
	rows, err := tx.Query(ctx, `UPDATE access_requests SET status = 'EXPIRED', updated_at = $1
		WHERE status = 'APPROVED' AND until <= $1 RETURNING `+requestColumns, now)
	if err != nil {
		return nil, translate(fmt.Errorf("expire access requests: %w", err))
	}
	expired, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*sharing.Request, error) { return scanRequest(r) })
	if err != nil {
		return nil, translate(fmt.Errorf("expire access requests: %w", err))
	}
	for _, r := range expired {
		if _, err := s.policy.RemoveFilteredPolicyTx(ctx, tx, access.GrantPType, access.GrantIDField, r.ID.String()); err != nil {
			return nil, translate(fmt.Errorf("expire access request %s: policy: %w", r.ID, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, translate(fmt.Errorf("expire access requests: commit: %w", err))
	}
	return expired, nil
}

// Reconcile implements sharing.Store. A line names its request by the
// grant id field; lines of a request that is not APPROVED (or of none at
// all) are removed. Each request is read under a share lock, so a decision
// in flight finishes first and its outcome counts.
func (s *SharingStore) Reconcile(ctx context.Context) (int, error) {
	col := fmt.Sprintf("v%d", access.GrantIDField)
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.policy.Table()+` c WHERE c.ptype = $1 AND NOT EXISTS (
		SELECT 1 FROM access_requests r WHERE r.id::text = c.`+col+` AND r.status = 'APPROVED' FOR SHARE)`, access.GrantPType)
	if err != nil {
		return 0, translate(fmt.Errorf("reconcile grant lines: %w", err))
	}
	return int(tag.RowsAffected()), nil
}
