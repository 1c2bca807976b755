package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const caseRequestColumns = `r.id, r.case_id, r.kind, r.extra_days, r.reason, r.status, r.requested_by, r.requested_dept,
	r.requested_at, r.case_deadline, coalesce(r.decided_by, ''), r.decided_at, r.decision_note`

func scanCaseRequest(row pgx.Row) (*cases.Request, error) {
	var r cases.Request
	err := row.Scan(&r.ID, &r.CaseID, &r.Kind, &r.ExtraDays, &r.Reason, &r.Status, &r.RequestedBy, &r.RequestedDept,
		&r.RequestedAt, &r.CaseDeadline, &r.DecidedBy, &r.DecidedAt, &r.DecisionNote)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// SaveRequest implements cases.RequestStore.
func (s *CaseStore) SaveRequest(ctx context.Context, r *cases.Request, isNew bool, c *cases.Case, prevVersion int, ev *cases.Event) error {
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if c != nil {
			if err := updateCase(ctx, tx, c, prevVersion, *ev); err != nil {
				return err
			}
		}
		if isNew {
			_, err := tx.Exec(ctx, `INSERT INTO case_requests (id, case_id, kind, extra_days, reason, status, requested_by,
				requested_dept, requested_at, case_deadline, decided_by, decided_at, decision_note)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, ''), $12, $13)`,
				r.ID, r.CaseID, r.Kind, r.ExtraDays, r.Reason, r.Status, r.RequestedBy, r.RequestedDept, r.RequestedAt,
				r.CaseDeadline, r.DecidedBy, r.DecidedAt, r.DecisionNote)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return apperr.New(apperr.Conflict, "the case already has a pending deferral or backlog request; wait for the command centre's decision")
			}
			return translate(wrap("insert case request", err))
		}
		tag, err := tx.Exec(ctx, `UPDATE case_requests SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5
			WHERE id = $1 AND status = 'PENDING'`, r.ID, r.Status, r.DecidedBy, r.DecidedAt, r.DecisionNote)
		if err != nil {
			return translate(fmt.Errorf("decide case request %s: %w", r.ID, err))
		}
		if tag.RowsAffected() == 0 {
			return apperr.New(apperr.Conflict, "the request was decided by someone else meanwhile; reload it")
		}
		return nil
	})
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Request implements cases.RequestStore: the request's case must lie in
// scope.
func (s *CaseStore) Request(ctx context.Context, scope access.RowScope, id uuid.UUID) (*cases.Request, error) {
	w := newWhere()
	w.add("r.id = @id", "id", id)
	w.addScope(scope, caseScope.as("c"))
	r, err := scanCaseRequest(s.pool.QueryRow(ctx, "SELECT "+caseRequestColumns+
		" FROM case_requests r JOIN cases c ON c.id = r.case_id WHERE "+w.sql(), w.args))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "request %s not found", id)
	}
	return r, translate(wrap("get case request", err))
}

// Requests implements cases.RequestStore.
func (s *CaseStore) Requests(ctx context.Context, caseIDs []uuid.UUID) (map[uuid.UUID][]*cases.Request, error) {
	out := make(map[uuid.UUID][]*cases.Request, len(caseIDs))
	if len(caseIDs) == 0 {
		return out, nil
	}
	list, err := s.requests(ctx, "SELECT "+caseRequestColumns+
		" FROM case_requests r WHERE r.case_id = ANY(@ids) ORDER BY r.case_id, r.requested_at, r.id", pgx.NamedArgs{"ids": caseIDs})
	for _, r := range list {
		out[r.CaseID] = append(out[r.CaseID], r)
	}
	return out, err
}

// PendingRequests implements cases.RequestStore.
func (s *CaseStore) PendingRequests(ctx context.Context, scope access.RowScope, limit int) ([]*cases.Request, error) {
	w := newWhere()
	w.add("r.status = 'PENDING'")
	w.addScope(scope, caseScope.as("c"))
	w.args["limit"] = limit
	return s.requests(ctx, "SELECT "+caseRequestColumns+" FROM case_requests r JOIN cases c ON c.id = r.case_id WHERE "+
		w.sql()+" ORDER BY r.requested_at, r.id LIMIT @limit", w.args)
}

func (s *CaseStore) requests(ctx context.Context, sql string, args pgx.NamedArgs) ([]*cases.Request, error) {
	rows, err := s.pool.Query(ctx, sql, args)
	if err != nil {
		return nil, translate(fmt.Errorf("query case requests: %w", err))
	}
	defer rows.Close()
	var out []*cases.Request
	for rows.Next() {
		r, err := scanCaseRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("scan case request: %w", err)
		}
		out = append(out, r)
	}
	return out, translate(rows.Err())
}
