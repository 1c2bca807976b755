package property

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"context"

	"github.com/google/uuid"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
)

// PermitScope is what a planning permit (建设工程规划许可) allows.
type PermitScope string

// Permit scopes.
const (
	// ScopeNewResidential is the compound's original construction (新建住宅).
	// It never covers a structure added later.
	ScopeNewResidential PermitScope = "NEW_RESIDENTIAL"
	// ScopeAddition allows adding floors or rooftop structures (加建).
	ScopeAddition PermitScope = "ADDITION"
	// ScopeExtension allows extending a building's footprint (扩建).
	ScopeExtension PermitScope = "EXTENSION"
	// ScopeAlteration allows altering façades, doors and windows (改建).
	ScopeAlteration PermitScope = "ALTERATION"
	// ScopeAncillary allows ancillary structures: sheds, garages, stores
	// (附属设施).
	ScopeAncillary PermitScope = "ANCILLARY"
)

// PermitScopes lists every permit scope.
func PermitScopes() []PermitScope {
	return []PermitScope{ScopeNewResidential, ScopeAddition, ScopeExtension, ScopeAlteration, ScopeAncillary}
}

// Valid reports whether s is a known scope.
func (s PermitScope) Valid() bool { return slices.Contains(PermitScopes(), s) }

// Permit is a planning permit on a compound, provided by planning (field
// group "permits", conditional).
type Permit struct {
	ID         uuid.UUID
	PermitNo   string
	PropertyID uuid.UUID
	IssuedOn   time.Time // a date (UTC midnight)
	Scope      PermitScope
	// Structure describes the building or structure the permit is for,
	// e.g. "3号楼顶层加建阳光房".
	Structure   string
	FloorAreaM2 float64
	// Valid is false once the permit was revoked or lapsed.
	Valid      bool
	OwnerDept  string
	SourceDept string
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
}

// Illegal-construction subtypes (违法建设) a permit check understands. The
// check normalises case, spaces and hyphens, so "rooftop-addition" works too.
const (
	SubtypeRooftopAddition        = "ROOFTOP_ADDITION"         // 顶层搭建
	SubtypeVillaExtension         = "VILLA_EXTENSION"          // 别墅扩建
	SubtypeFactoryShed            = "FACTORY_SHED"             // 厂房搭建
	SubtypeGreenSpaceEncroachment = "GREEN_SPACE_ENCROACHMENT" // 侵占绿化
	SubtypeDoorWindowAlteration   = "DOOR_WINDOW_ALTERATION"   // 改门改窗
)

// permitScopesFor maps a subtype to the scopes that may authorise such a
// structure. Green-space encroachment is absent: no permit can allow it.
var permitScopesFor = map[string][]PermitScope{
	SubtypeRooftopAddition:      {ScopeAddition},
	SubtypeVillaExtension:       {ScopeExtension, ScopeAddition},
	SubtypeFactoryShed:          {ScopeAncillary},
	SubtypeDoorWindowAlteration: {ScopeAlteration},
}

// arealess subtypes are not judged by floor area (a door is not measured in
// square metres).
var arealess = map[string]bool{SubtypeDoorWindowAlteration: true}

// PermitCheck is the answer to "does this structure have a planning
// permit?" shown to an enforcement officer beside a violation.
type PermitCheck struct {
	// HasPermit is true when the compound holds at least one valid permit.
	HasPermit bool
	// PermitNo is the permit that covers the structure, or else the most
	// relevant one (same scope but too small, or the latest valid one).
	PermitNo string
	// Covers is true when a valid permit of a fitting scope covers the
	// structure's area.
	Covers bool
	Note   string
}

// NormalizeSubtype returns a subtype in the form of the Subtype constants.
func NormalizeSubtype(s string) string {
	return strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
}

// CheckPermit decides from a compound's permits whether a structure of an
// illegal-construction subtype with the given area (m², 0 when unknown) is
// covered. A permit covers when it is valid, its scope fits the subtype, and
// (for measured subtypes) its floor area is at least the structure's. Among
// several covering permits the latest wins. It is a pure function: the
// violations service calls it with permits it was allowed to read.
func CheckPermit(permits []Permit, subtype string, areaM2 float64) PermitCheck {
	ps := slices.Clone(permits)
	// Latest first, then by number: the answer does not depend on the order
	// the permits were loaded in.
	slices.SortFunc(ps, func(a, b Permit) int {
		if c := b.IssuedOn.Compare(a.IssuedOn); c != 0 {
			return c
		}
		return strings.Compare(a.PermitNo, b.PermitNo)
	})
	var res PermitCheck
	var latestValid *Permit
	for i := range ps {
		if ps[i].Valid {
			res.HasPermit = true
			if latestValid == nil {
				latestValid = &ps[i]
			}
		}
	}
	sub := NormalizeSubtype(subtype)
	scopes, known := permitScopesFor[sub]
	switch {
	case sub == SubtypeGreenSpaceEncroachment:
		res.Note = "encroaching on green space cannot be permitted; no permit covers it"
		return res
	case !known:
		res.Note = fmt.Sprintf("%q is not an illegal-construction subtype a planning permit can cover", subtype)
		return res
	case len(ps) == 0:
		res.Note = "no planning permit is recorded for this compound"
		return res
	}
	var tooSmall, revoked *Permit
	for i := range ps {
		p := &ps[i]
		if !slices.Contains(scopes, p.Scope) {
			continue
		}
		if !p.Valid {
			if revoked == nil {
				revoked = p
			}
			continue
		}
		if !arealess[sub] && areaM2 > 0 && p.FloorAreaM2 < areaM2 {
			if tooSmall == nil {
				tooSmall = p
			}
			continue
		}
		res.Covers = true
		res.PermitNo = p.PermitNo
		if arealess[sub] || areaM2 <= 0 {
			res.Note = fmt.Sprintf("permit %s (%s, issued %s) covers this structure", p.PermitNo, p.Scope, p.IssuedOn.Format(time.DateOnly))
		} else {
			res.Note = fmt.Sprintf("permit %s (%s, issued %s) covers %.1f m² of the permitted %.1f m²",
				p.PermitNo, p.Scope, p.IssuedOn.Format(time.DateOnly), areaM2, p.FloorAreaM2)
		}
		return res
	}
	switch {
	case tooSmall != nil:
		res.PermitNo = tooSmall.PermitNo
		res.Note = fmt.Sprintf("permit %s (%s) allows %.1f m², the structure measures %.1f m²: the excess is not permitted",
			tooSmall.PermitNo, tooSmall.Scope, tooSmall.FloorAreaM2, areaM2)
	case revoked != nil:
		res.PermitNo = revoked.PermitNo
		res.Note = fmt.Sprintf("permit %s (%s) is no longer valid (revoked or lapsed)", revoked.PermitNo, revoked.Scope)
	case latestValid != nil:
		res.PermitNo = latestValid.PermitNo
		res.Note = fmt.Sprintf("the compound's permits (latest %s, %s) do not allow this kind of structure; it needs a permit of scope %s",
			latestValid.PermitNo, latestValid.Scope, joinScopes(scopes))
	default:
		res.Note = "the compound's permits are all revoked or lapsed"
	}
	return res
}

func joinScopes(s []PermitScope) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return strings.Join(out, " or ")
}

// Permits returns the planning permits of the visible compounds among
// propertyIDs (one statement for a whole loader batch), latest first.
// Permits are planning's conditional data: FORBIDDEN when the caller has no
// access to the "permits" group at all; with a grant limited to part of the
// district, only compounds there get their permits. Compounds without
// permits are absent from the map.
func (s *Service) Permits(ctx context.Context, propertyIDs []uuid.UUID) (map[uuid.UUID][]Permit, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	pa, partial := d.Partial[GroupPermits]
	if d.Field(GroupPermits) == access.FieldDenied && (!partial || pa.Access == access.FieldDenied) {
		return nil, apperr.New(apperr.Forbidden, "building permits are planning's conditional data: request a data-sharing grant for properties/permits")
	}
	out, err := s.store.Permits(ctx, d.Rows, propertyIDs)
	if err != nil {
		return nil, err
	}
	// where holds the compounds' jurisdictions when they matter: to keep,
	// under a partial grant, only the compounds it covers, and to audit the
	// grants the permits returned were read under.
	var where map[uuid.UUID]string
	if len(out) > 0 && (partial || len(d.GrantIDs) > 0) {
		ids := make([]uuid.UUID, 0, len(out))
		for id := range out {
			ids = append(ids, id)
		}
		props, err := s.store.GetMany(ctx, d.Rows, ids)
		if err != nil {
			return nil, err
		}
		where = make(map[uuid.UUID]string, len(props))
		for _, p := range props {
			where[p.ID] = p.RowJurisdiction()
		}
	}
	if d.Field(GroupPermits) == access.FieldDenied {
		// Only a partial grant: keep the compounds it covers.
		for id := range out {
			if j, ok := where[id]; !ok || d.FieldAt(GroupPermits, j) == access.FieldDenied {
				delete(out, id)
			}
		}
	}
	var js []string
	for id, l := range out {
		for range l {
			js = append(js, where[id])
		}
	}
	if err := s.audited(ctx, d, js); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckPermit answers, for a structure of an illegal-construction subtype
// and area on a compound, whether a planning permit covers it (see the
// package function CheckPermit). Same access rules as Permits.
func (s *Service) CheckPermit(ctx context.Context, propertyID uuid.UUID, subtype string, areaM2 float64) (PermitCheck, error) {
	m, err := s.Permits(ctx, []uuid.UUID{propertyID})
	if err != nil {
		return PermitCheck{}, err
	}
	return CheckPermit(m[propertyID], subtype, areaM2), nil
}
