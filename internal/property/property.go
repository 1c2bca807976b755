// Package property is the residential-compound domain (住宅小区、物业), owned
// by housing: compounds with their property-management company and
// old-community renovation, the planning permits planning holds on them
// (规划许可), and the double-random inspections of property-management
// projects (双随机、一公开) with their reproducible draw. It imports no
// infrastructure: storage comes in through the Store interface.
package property

import (
	"time"

	"github.com/google/uuid"
)

// Dataset is the catalog name of properties.
const Dataset = "properties"

// OwnerDept is the department that provides property data: housing.
const OwnerDept = "housing"

// PermitDept is the department that provides building permits: planning.
const PermitDept = "planning"

// Field groups of the properties dataset (policies/catalog.yaml).
const (
	GroupPublic      = "public"
	GroupCore        = "core"
	GroupManagement  = "management"
	GroupPermits     = "permits"
	GroupInspections = "inspections"
)

// Property is one residential compound.
type Property struct {
	ID               uuid.UUID
	OwnerDept        string
	Name             string
	Address          string
	Lat, Lng         float64
	JurisdictionCode string
	BuildYear        int
	Buildings        int
	Households       int
	// Management is the property-management company; nil for a compound
	// without one (self-managed or looked after by the community). Only
	// compounds with a company are property-management projects, the
	// targets of double-random inspections.
	Management *Management
	Renovation Renovation
	// Complaints is the number of complaints about the compound's property
	// management over the last twelve months (12345 hotline and housing's
	// own desk), kept by housing. It weights the inspection draw.
	Complaints int
	SourceDept string
	ExternalID string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
}

// Management is a property-management company serving a compound. The
// contact is personal data (field group "management").
type Management struct {
	Company string
	// CreditCode is the company's unified social credit code (统一社会信用代码,
	// GB 32100-2015), checked by ValidateCreditCode.
	CreditCode   string
	ContactName  string
	ContactPhone string
}

// RenovationStatus is the state of a compound's old-community renovation
// (老旧小区改造).
type RenovationStatus string

// Renovation statuses.
const (
	RenovationNone       RenovationStatus = "NONE"
	RenovationPlanned    RenovationStatus = "PLANNED"
	RenovationInProgress RenovationStatus = "IN_PROGRESS"
	RenovationDone       RenovationStatus = "DONE"
)

// RenovationStatuses lists every renovation status.
func RenovationStatuses() []RenovationStatus {
	return []RenovationStatus{RenovationNone, RenovationPlanned, RenovationInProgress, RenovationDone}
}

// Valid reports whether s is a known status.
func (s RenovationStatus) Valid() bool {
	switch s {
	case RenovationNone, RenovationPlanned, RenovationInProgress, RenovationDone:
		return true
	}
	return false
}

// Renovation is a compound's old-community renovation. Year is the year it
// is planned for, started or finished (by Status); BudgetFen is in fen
// (1/100 yuan) so money never passes through floating point.
type Renovation struct {
	Status    RenovationStatus
	Year      *int
	Scope     string
	BudgetFen *int64
}

// RowJurisdiction is the jurisdiction a field group of p is judged in (the
// GraphQL access directive uses it for partial grants).
func (p *Property) RowJurisdiction() string { return p.JurisdictionCode }

// IsEntity marks Property as a federation entity for the GraphQL layer.
func (Property) IsEntity() {}

// IsTarget reports whether p is a property-management project: a compound
// with a management company, in the register of inspection targets.
func (p *Property) IsTarget() bool { return p.Management != nil }

// SameContent reports whether p and q carry the same data, ignoring identity
// and bookkeeping (id, owner, source, timestamps, version). An upsert whose
// content is the same as the stored row writes nothing.
func (p *Property) SameContent(q *Property) bool {
	return p.Name == q.Name && p.Address == q.Address && p.Lat == q.Lat && p.Lng == q.Lng &&
		p.JurisdictionCode == q.JurisdictionCode && p.BuildYear == q.BuildYear &&
		p.Buildings == q.Buildings && p.Households == q.Households && p.Complaints == q.Complaints &&
		sameManagement(p.Management, q.Management) && sameRenovation(p.Renovation, q.Renovation)
}

func sameManagement(a, b *Management) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func sameRenovation(a, b Renovation) bool {
	return a.Status == b.Status && a.Scope == b.Scope && eqPtr(a.Year, b.Year) && eqPtr(a.BudgetFen, b.BudgetFen)
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
