// Package directory is the district's administrative directory: the
// jurisdiction tree (district → street/town → community → grid) and the
// departments. Both are public reference data.
package directory

import (
	"context"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
)

// Level is a jurisdiction's place in the tree.
type Level string

// Jurisdiction levels.
const (
	LevelDistrict  Level = "DISTRICT"
	LevelStreet    Level = "STREET"
	LevelTown      Level = "TOWN"
	LevelCommunity Level = "COMMUNITY"
	LevelGrid      Level = "GRID"
)

// Jurisdiction is one node of the tree. Code is the dotted path from the
// district, e.g. hailing.chengdong.fenghuang.g03.
type Jurisdiction struct {
	Code       string
	Level      Level
	ParentCode string
	NameZh     string
	NameEn     string
	AdminCode  string
	Lat, Lng   *float64
}

// Department is a provider or user of shared data.
type Department struct {
	Code             string
	NameZh           string
	NameEn           string
	Kind             string
	JurisdictionCode string
}

// Store reads the directory.
type Store interface {
	Jurisdictions(ctx context.Context, codes []string) ([]*Jurisdiction, error)
	Children(ctx context.Context, parents []string) (map[string][]*Jurisdiction, error)
	Subtree(ctx context.Context, root string, level Level) ([]*Jurisdiction, error)
	Departments(ctx context.Context, codes []string) ([]*Department, error)
	AllDepartments(ctx context.Context) ([]*Department, error)
}

// Service answers directory questions.
type Service struct{ store Store }

// NewService returns a directory service.
func NewService(store Store) *Service { return &Service{store: store} }

// Jurisdiction returns one jurisdiction or NOT_FOUND.
func (s *Service) Jurisdiction(ctx context.Context, code string) (*Jurisdiction, error) {
	list, err := s.store.Jurisdictions(ctx, []string{code})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, apperr.New(apperr.NotFound, "jurisdiction %q not found", code)
	}
	return list[0], nil
}

// Jurisdictions returns the jurisdictions among codes (loaders, entities).
func (s *Service) Jurisdictions(ctx context.Context, codes []string) ([]*Jurisdiction, error) {
	return s.store.Jurisdictions(ctx, codes)
}

// Children returns the direct children of each parent.
func (s *Service) Children(ctx context.Context, parents []string) (map[string][]*Jurisdiction, error) {
	return s.store.Children(ctx, parents)
}

// Subtree lists the jurisdictions under root (inclusive) at one level, or
// all levels when level is empty.
func (s *Service) Subtree(ctx context.Context, root string, level Level) ([]*Jurisdiction, error) {
	if root == "" {
		root = "hailing"
	}
	if strings.ContainsAny(root, " ;'\"") {
		return nil, apperr.Invalid("root", "%q is not a jurisdiction code", root)
	}
	return s.store.Subtree(ctx, root, level)
}

// Department returns one department or NOT_FOUND.
func (s *Service) Department(ctx context.Context, code string) (*Department, error) {
	list, err := s.store.Departments(ctx, []string{code})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, apperr.New(apperr.NotFound, "department %q not found", code)
	}
	return list[0], nil
}

// Departments returns the departments among codes.
func (s *Service) Departments(ctx context.Context, codes []string) ([]*Department, error) {
	return s.store.Departments(ctx, codes)
}

// AllDepartments lists every department by code.
func (s *Service) AllDepartments(ctx context.Context) ([]*Department, error) {
	return s.store.AllDepartments(ctx)
}

// IsEntity marks Jurisdiction as a federation entity for the GraphQL layer.
func (Jurisdiction) IsEntity() {}

// IsEntity marks Department as a federation entity for the GraphQL layer.
func (Department) IsEntity() {}
