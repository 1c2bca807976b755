// Package cases is the digital urban-management case domain: the case type,
// its classification catalogue, its lifecycle state machine and deadline
// rules, validation, and the service every transport calls. It imports no
// infrastructure: storage comes in through the Store interface.
package cases

import (
	"time"

	"github.com/google/uuid"
)

// Dataset is the catalog name of cases.
const Dataset = "cases"

// OwnerDept is the department that provides case data: the urban-management
// command centre.
const OwnerDept = "urban-management"

// Source is how a case reached the platform.
type Source string

// Case sources.
const (
	SourceInspectorPatrol     Source = "INSPECTOR_PATROL"
	SourceDronePatrol         Source = "DRONE_PATROL"
	SourceVideoAnalytics      Source = "VIDEO_ANALYTICS"
	SourceEnforcementTerminal Source = "ENFORCEMENT_TERMINAL"
	SourceCitizenReport       Source = "CITIZEN_REPORT"
	SourceHotline12345        Source = "HOTLINE_12345"
	SourceAssignedBySuperior  Source = "ASSIGNED_BY_SUPERIOR"
	SourceMedia               Source = "MEDIA"
)

// Sources lists every source.
func Sources() []Source {
	return []Source{SourceInspectorPatrol, SourceDronePatrol, SourceVideoAnalytics, SourceEnforcementTerminal,
		SourceCitizenReport, SourceHotline12345, SourceAssignedBySuperior, SourceMedia}
}

// Valid reports whether src is one of Sources (without building the list:
// it runs for every row of a bulk file).
func (src Source) Valid() bool {
	switch src {
	case SourceInspectorPatrol, SourceDronePatrol, SourceVideoAnalytics, SourceEnforcementTerminal,
		SourceCitizenReport, SourceHotline12345, SourceAssignedBySuperior, SourceMedia:
		return true
	}
	return false
}

// Case is one digital urban-management case.
type Case struct {
	ID               uuid.UUID
	CaseNo           string
	OwnerDept        string
	Kind             Kind
	MajorCode        string
	MinorCode        string
	Source           Source
	Status           Status
	Description      string
	Address          string
	Lat, Lng         float64
	JurisdictionCode string
	HandlingDept     string     // empty until dispatched
	PropertyID       *uuid.UUID // the residential compound the case is about, if any
	ReporterName     string
	ReporterPhone    string
	CitizenID        string
	PhotoURLs        []string
	ReportedAt       time.Time
	RegisteredAt     *time.Time
	DispatchedAt     *time.Time
	Deadline         *time.Time
	HandledAt        *time.Time
	ClosedAt         *time.Time
	ReworkCount      int
	DeferCount       int
	// ReturnCount is how often the case was returned by the department it
	// was dispatched to (退回: not its responsibility).
	ReturnCount int
	// FirstHandledAt and FirstDeadline are the first handling feedback and
	// the deadline it was judged against: a rework sets a fresh deadline and
	// the row keeps the last handling, but a case handled late the first
	// time stays late (internal/evaluation, "Indicator definitions").
	FirstHandledAt *time.Time
	FirstDeadline  *time.Time
	Rating         *Rating
	SourceDept     string
	ExternalID     string
	// CitizenKey is the citizen app's idempotency key of a citizen's own
	// report (unique per citizen, apart from every external id); empty
	// otherwise. It is written, never read back.
	CitizenKey string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int
}

// Rating is the reporter's satisfaction with a closed case.
type Rating struct {
	Stars   int
	Comment string
	At      time.Time
}

// Overdue reports whether the case missed its deadline: handled after it,
// or still unhandled past it at now.
func (c *Case) Overdue(now time.Time) bool {
	if c.Deadline == nil {
		return false
	}
	if c.HandledAt != nil && c.Status != StatusRework {
		return c.HandledAt.After(*c.Deadline)
	}
	if !c.Status.Open() {
		return false
	}
	return now.After(*c.Deadline)
}

// Event is one entry of a case's timeline.
type Event struct {
	ID         int64
	CaseID     uuid.UUID
	Action     Action
	FromStatus Status
	ToStatus   Status
	Actor      string
	ActorDept  string
	Note       string
	At         time.Time
}

// RowJurisdiction is the jurisdiction the case's field groups are judged in
// (partial grants, and the audit of what a read disclosed).
func (c *Case) RowJurisdiction() string { return c.JurisdictionCode }

// IsEntity marks Case as a federation entity for the GraphQL layer.
func (Case) IsEntity() {}
