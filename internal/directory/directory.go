// Package directory is the district's administrative directory: the
// jurisdiction tree (district → street/town → community → grid) and the
// departments. Both are public reference data.
package directory

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/rules"
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
	// AreaKm2 is the land area, where the directory's source gives it.
	AreaKm2 *float64
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
	AllJurisdictions(ctx context.Context) ([]*Jurisdiction, error)
	Subtree(ctx context.Context, root string, level Level) ([]*Jurisdiction, error)
	AllDepartments(ctx context.Context) ([]*Department, error)
	// Locate returns the grid containing (nearest) a point; BAD_USER_INPUT
	// on field "location" when the directory holds no grid near it.
	Locate(ctx context.Context, lat, lng float64) (string, error)
	// JurisdictionExists and DepartmentExists ask the stored directory,
	// not a copy of it.
	JurisdictionExists(ctx context.Context, code string) (bool, error)
	DepartmentExists(ctx context.Context, code string) (bool, error)
}

// Lookup is what the datasets ask of the directory when they validate a
// write or a list filter. Every dataset service takes one (the Service
// below), so a code is checked the same way everywhere.
type Lookup interface {
	// Locate returns the grid containing (nearest) a point.
	Locate(ctx context.Context, lat, lng float64) (string, error)
	// JurisdictionExists reports whether a jurisdiction code exists.
	JurisdictionExists(ctx context.Context, code string) (bool, error)
	// DepartmentExists reports whether a department code exists.
	DepartmentExists(ctx context.Context, code string) (bool, error)
}

var _ Lookup = (*Service)(nil)

// RefreshDefault is how long the in-memory directory is trusted. The tree
// and the departments change a few times a year; reading them from memory
// takes every nested jurisdiction and department field off the database.
const RefreshDefault = 5 * time.Minute

// Service answers directory questions from an in-memory copy of the
// directory, reloaded when older than the refresh interval.
type Service struct {
	store   Store
	refresh time.Duration

	mu       sync.Mutex
	snap     *snapshot
	loadedAt time.Time
}

type snapshot struct {
	jurisdictions map[string]*Jurisdiction
	children      map[string][]*Jurisdiction
	departments   map[string]*Department
	deptList      []*Department
}

// NewService returns a directory service.
func NewService(store Store) *Service { return &Service{store: store, refresh: RefreshDefault} }

// load returns the current snapshot, reading the store when it is stale.
func (s *Service) load(ctx context.Context) (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil && time.Since(s.loadedAt) < s.refresh {
		return s.snap, nil
	}
	js, err := s.store.AllJurisdictions(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := s.store.AllDepartments(ctx)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{jurisdictions: make(map[string]*Jurisdiction, len(js)), children: map[string][]*Jurisdiction{},
		departments: make(map[string]*Department, len(ds)), deptList: ds}
	for _, j := range js {
		snap.jurisdictions[j.Code] = j
		if j.ParentCode != "" {
			snap.children[j.ParentCode] = append(snap.children[j.ParentCode], j)
		}
	}
	for _, d := range ds {
		snap.departments[d.Code] = d
	}
	s.snap, s.loadedAt = snap, time.Now()
	return snap, nil
}

// JurisdictionExists reports whether code names a jurisdiction. A code in
// the in-memory tree is answered with no database round trip (every list
// filter asks); any other is asked of the store, so a jurisdiction added
// since the last reload is known at once.
func (s *Service) JurisdictionExists(ctx context.Context, code string) (bool, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return false, err
	}
	if _, ok := snap.jurisdictions[code]; ok {
		return true, nil
	}
	ok, err := s.store.JurisdictionExists(ctx, code)
	if err != nil {
		return false, fmt.Errorf("jurisdiction %s: %w", code, err)
	}
	return ok, nil
}

// DepartmentExists reports whether code names a department, from memory
// first and from the store for a code memory does not hold.
func (s *Service) DepartmentExists(ctx context.Context, code string) (bool, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return false, err
	}
	if _, ok := snap.departments[code]; ok {
		return true, nil
	}
	ok, err := s.store.DepartmentExists(ctx, code)
	if err != nil {
		return false, fmt.Errorf("department %s: %w", code, err)
	}
	return ok, nil
}

// Locate returns the grid containing (nearest) a point.
func (s *Service) Locate(ctx context.Context, lat, lng float64) (string, error) {
	return s.store.Locate(ctx, lat, lng)
}

// Jurisdiction returns one jurisdiction or NOT_FOUND.
func (s *Service) Jurisdiction(ctx context.Context, code string) (*Jurisdiction, error) {
	list, err := s.Jurisdictions(ctx, []string{code})
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
	snap, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Jurisdiction, 0, len(codes))
	for _, c := range codes {
		if j, ok := snap.jurisdictions[c]; ok {
			out = append(out, j)
		}
	}
	return out, nil
}

// Children returns the direct children of each parent, by code.
func (s *Service) Children(ctx context.Context, parents []string) (map[string][]*Jurisdiction, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]*Jurisdiction, len(parents))
	for _, p := range parents {
		out[p] = snap.children[p]
	}
	return out, nil
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
	list, err := s.Departments(ctx, []string{code})
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
	snap, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Department, 0, len(codes))
	for _, c := range codes {
		if d, ok := snap.departments[c]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// DepartmentArea returns the root of the jurisdiction subtree department
// code serves (the district for a bureau, its own street or town for a
// street office or town government) and true, or false when the directory
// holds no such department.
func (s *Service) DepartmentArea(ctx context.Context, code string) (string, bool, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return "", false, err
	}
	d, ok := snap.departments[code]
	if !ok {
		return "", false, nil
	}
	return d.JurisdictionCode, true, nil
}

// AllDepartments lists every department.
func (s *Service) AllDepartments(ctx context.Context) ([]*Department, error) {
	snap, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return snap.deptList, nil
}

// IsEntity marks Jurisdiction as a federation entity for the GraphQL layer.
func (Jurisdiction) IsEntity() {}

// IsEntity marks Department as a federation entity for the GraphQL layer.
func (Department) IsEntity() {}

// CheckFilter validates the jurisdiction a list filter names (none is
// fine): BAD_USER_INPUT on field when it is malformed or names no
// jurisdiction (exists says), which would otherwise match nothing and read
// like an empty result. A jurisdiction that exists but lies outside the
// caller's scope passes: it matches no visible row, as any scope holding
// nothing does.
func CheckFilter(ctx context.Context, field, code string, exists func(context.Context, string) (bool, error)) error {
	if code == "" {
		return nil
	}
	if err := rules.Jurisdiction(field, code); err != nil {
		return err
	}
	ok, err := exists(ctx, code)
	if err != nil {
		return fmt.Errorf("check %s %s: %w", field, code, err)
	}
	if !ok {
		return apperr.Invalid(field, "unknown jurisdiction %q: use a code of the jurisdiction tree such as hailing.chengdong", code)
	}
	return nil
}

// Place returns the jurisdiction of a record at (lat, lng): code checked
// when the writer named one (BAD_USER_INPUT on field "jurisdiction" when it
// is unknown), else the grid located from the point. what names the record
// in a wrapped error ("report", "lot").
func Place(ctx context.Context, l Lookup, what, code string, lat, lng float64) (string, error) {
	if code == "" {
		located, err := l.Locate(ctx, lat, lng)
		if err != nil {
			return "", fmt.Errorf("locate %s: %w", what, err)
		}
		return located, nil
	}
	ok, err := l.JurisdictionExists(ctx, code)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", apperr.Invalid("jurisdiction", "unknown jurisdiction %q", code)
	}
	return code, nil
}
