package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/jackc/pgx/v5"
)

// Publish implements evaluation.PublicationStore. Versions of one period are
// numbered in a transaction holding a lock on the period, so two publishers
// get consecutive versions rather than a conflict.
func (s *EvaluationStore) Publish(ctx context.Context, p *evaluation.Publication) error {
	exact, err := json.Marshal(p.Exact)
	if err != nil {
		return fmt.Errorf("encode published rows: %w", err)
	}
	public, err := json.Marshal(p.Public)
	if err != nil {
		return fmt.Errorf("encode published rows: %w", err)
	}
	return InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('indicator_publications'), hashtext($1 || $2::text))",
			string(p.Period), p.Start.Date()); err != nil {
			return translate(fmt.Errorf("lock period: %w", err))
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) + 1 FROM indicator_publications
			WHERE period = $1 AND period_start = $2`, string(p.Period), p.Start.Date()).Scan(&p.Version); err != nil {
			return translate(fmt.Errorf("next publication version: %w", err))
		}
		if p.Version > 1 && p.Reason == "" {
			return apperr.Invalid("reason", "the period was published meanwhile (version %d); a correction needs a reason", p.Version-1)
		}
		_, err := tx.Exec(ctx, `INSERT INTO indicator_publications (id, period, period_start, version, reason, published_by,
			published_dept, published_at, weights_version, rules_version, exact, public, checksum)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.ID, string(p.Period), p.Start.Date(), p.Version, p.Reason, p.PublishedBy, p.PublishedDept, p.PublishedAt,
			p.WeightsVersion, p.RulesVersion, exact, public, p.Checksum)
		return translate(wrap("insert publication", err))
	})
}

const publicationColumns = `id, period, period_start, version, reason, published_by, published_dept, published_at,
	weights_version, rules_version, checksum`

func scanPublication(row pgx.Row, extra ...any) (*evaluation.Publication, error) {
	var p evaluation.Publication
	var start time.Time
	dest := append([]any{&p.ID, &p.Period, &start, &p.Version, &p.Reason, &p.PublishedBy, &p.PublishedDept, &p.PublishedAt,
		&p.WeightsVersion, &p.RulesVersion, &p.Checksum}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	p.Start = evaluation.MonthFromDate(start)
	return &p, nil
}

// Publications implements evaluation.PublicationStore.
func (s *EvaluationStore) Publications(ctx context.Context, period evaluation.Period, start evaluation.Month) ([]*evaluation.Publication, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+publicationColumns+` FROM indicator_publications
		WHERE period = $1 AND period_start = $2 ORDER BY version DESC`, string(period), start.Date())
	if err != nil {
		return nil, translate(fmt.Errorf("query publications: %w", err))
	}
	defer rows.Close()
	var out []*evaluation.Publication
	for rows.Next() {
		p, err := scanPublication(rows)
		if err != nil {
			return nil, fmt.Errorf("scan publication: %w", err)
		}
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

// Publication implements evaluation.PublicationStore.
func (s *EvaluationStore) Publication(ctx context.Context, period evaluation.Period, start evaluation.Month, version int) (*evaluation.Publication, error) {
	var exact, public []byte
	p, err := scanPublication(s.pool.QueryRow(ctx, "SELECT "+publicationColumns+`, exact, public FROM indicator_publications
		WHERE period = $1 AND period_start = $2 AND ($3 = 0 OR version = $3) ORDER BY version DESC LIMIT 1`,
		string(period), start.Date(), version), &exact, &public)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no published %s indicators for %s", period, start)
	}
	if err != nil {
		return nil, translate(fmt.Errorf("get publication: %w", err))
	}
	if err := json.Unmarshal(exact, &p.Exact); err != nil {
		return nil, fmt.Errorf("decode published rows: %w", err)
	}
	if err := json.Unmarshal(public, &p.Public); err != nil {
		return nil, fmt.Errorf("decode published rows: %w", err)
	}
	return p, nil
}
