package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/jackc/pgx/v5"
)

// DirectoryStore reads jurisdictions and departments.
type DirectoryStore struct{ pool DB }

// NewDirectoryStore returns a directory store on pool.
func NewDirectoryStore(pool DB) *DirectoryStore { return &DirectoryStore{pool: pool} }

var _ directory.Store = (*DirectoryStore)(nil)

const jurisdictionColumns = `code, level, coalesce(parent_code, ''), name_zh, name_en, coalesce(admin_code, ''), lat, lng, area_km2`

func (s *DirectoryStore) jurisdictions(ctx context.Context, sql string, args ...any) ([]*directory.Jurisdiction, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("query jurisdictions: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*directory.Jurisdiction, error) {
		var j directory.Jurisdiction
		err := r.Scan(&j.Code, &j.Level, &j.ParentCode, &j.NameZh, &j.NameEn, &j.AdminCode, &j.Lat, &j.Lng, &j.AreaKm2)
		return &j, err
	})
}

// AllJurisdictions implements directory.Store (parents before children).
func (s *DirectoryStore) AllJurisdictions(ctx context.Context) ([]*directory.Jurisdiction, error) {
	return s.jurisdictions(ctx, "SELECT "+jurisdictionColumns+" FROM jurisdictions ORDER BY path")
}

// Subtree implements directory.Store.
func (s *DirectoryStore) Subtree(ctx context.Context, root string, level directory.Level) ([]*directory.Jurisdiction, error) {
	return s.jurisdictions(ctx, "SELECT "+jurisdictionColumns+` FROM jurisdictions
		WHERE path <@ $1::ltree AND ($2 = '' OR level = $2) ORDER BY path`, root, string(level))
}

func (s *DirectoryStore) departments(ctx context.Context, sql string, args ...any) ([]*directory.Department, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(fmt.Errorf("query departments: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*directory.Department, error) {
		var d directory.Department
		err := r.Scan(&d.Code, &d.NameZh, &d.NameEn, &d.Kind, &d.JurisdictionCode)
		return &d, err
	})
}

// AllDepartments implements directory.Store.
func (s *DirectoryStore) AllDepartments(ctx context.Context) ([]*directory.Department, error) {
	return s.departments(ctx, "SELECT code, name_zh, name_en, kind, jurisdiction_code FROM departments ORDER BY kind, code")
}

// Locate implements directory.Store: the grid whose centroid is nearest the
// point (grids are small, so nearest centroid is the containing grid to the
// precision the demo needs).
func (s *DirectoryStore) Locate(ctx context.Context, lat, lng float64) (string, error) {
	var code string
	err := s.pool.QueryRow(ctx, `SELECT code FROM jurisdictions WHERE level = 'GRID' AND lat IS NOT NULL
		ORDER BY (lat - $1) * (lat - $1) + ((lng - $2) * cos(radians($1))) * ((lng - $2) * cos(radians($1))) LIMIT 1`,
		lat, lng).Scan(&code)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", apperr.Invalid("location", "no grid is known near this point")
	}
	if err != nil {
		return "", translate(fmt.Errorf("locate point: %w", err))
	}
	return code, nil
}

// JurisdictionExists implements directory.Store.
func (s *DirectoryStore) JurisdictionExists(ctx context.Context, code string) (bool, error) {
	return exists(ctx, s.pool, "SELECT EXISTS (SELECT 1 FROM jurisdictions WHERE code = $1)", code)
}

// DepartmentExists implements directory.Store.
func (s *DirectoryStore) DepartmentExists(ctx context.Context, code string) (bool, error) {
	return exists(ctx, s.pool, "SELECT EXISTS (SELECT 1 FROM departments WHERE code = $1)", code)
}
