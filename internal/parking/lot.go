// Package parking is the parking domain: lots (public, on-street, off-peak
// shared government lots, residential, commercial), their opening and
// sharing windows, the "open to the public now?" rule on the holiday
// calendar, live availability, the nearest open lots to a point, the
// off-peak sharing opening rate, and the service every transport calls. It
// imports no infrastructure: storage, the live counters and the calendar
// come in through interfaces.
package parking

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Dataset is the catalog name of parking.
const Dataset = "parking"

// ProviderDept is the department that provides the parking registry: the
// traffic police brigade. It may write every lot; other departments only the
// lots they own.
const ProviderDept = "traffic-police"

// Kind is what sort of lot it is.
type Kind string

// Lot kinds.
const (
	KindPublic   Kind = "PUBLIC"    // public car park (公共停车场)
	KindOnStreet Kind = "ON_STREET" // on-street bays (路内泊位)
	// KindGovernmentShared is a government or institution lot in the
	// off-peak sharing scheme (机关事业单位错时共享停车场): open to the public
	// outside office hours, with its shared spaces.
	KindGovernmentShared Kind = "GOVERNMENT_SHARED"
	KindResidential      Kind = "RESIDENTIAL" // residential compound (小区)
	KindCommercial       Kind = "COMMERCIAL"  // mall, hotel, office building
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{KindPublic, KindOnStreet, KindGovernmentShared, KindResidential, KindCommercial}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Lot is one parking lot.
type Lot struct {
	ID      uuid.UUID
	Name    string
	Kind    Kind
	Address string
	Lat     float64
	Lng     float64
	// JurisdictionCode is the lowest jurisdiction known, usually the grid.
	JurisdictionCode string
	// OwnerDept is the department that provides the record: the traffic
	// police, urban management, or the department that runs a government
	// lot.
	OwnerDept string
	// Operator is the name of the unit that runs the lot (a bureau, a
	// school, a hospital, a property company).
	Operator string
	// IsGovernment marks the own lot of a government body or public
	// institution (机关事业单位): the register the off-peak sharing opening
	// rate is measured against. Every GOVERNMENT_SHARED lot is one; a
	// government lot that shares nothing is filed as GOVERNMENT_SHARED with
	// no shared spaces (closed to the public), and one filed under another
	// kind (a hospital's paying car park) follows that kind's rules and
	// counts as not shared.
	IsGovernment bool
	TotalSpaces  int
	// SharedSpaces are the spaces open to the public: for a
	// GOVERNMENT_SHARED lot during its windows; for a residential compound
	// those it lets to outsiders. Zero for a government or residential lot
	// means it is not open to the public at all.
	SharedSpaces int
	Windows      Windows
	// MaxSeats limits the vehicles admitted (7: cars of at most 7 seats);
	// 0 means no limit.
	MaxSeats     int
	BookingRule  string
	FeeRule      string
	ContactName  string
	ContactPhone string
	SourceDept   string
	ExternalID   string
	// OpenedAt is when the lot's spaces opened to parking (nil when not
	// recorded): how the spaces a district added over a period are counted
	// (Service.AddedSpaces). CreatedAt is only when the record was made.
	OpenedAt  *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int
}

// RowJurisdiction is the jurisdiction the lot's field groups are judged in
// (partial grants, and the audit of what a read disclosed).
func (l *Lot) RowJurisdiction() string { return l.JurisdictionCode }

// IsEntity marks Lot as a federation entity for the GraphQL layer.
func (Lot) IsEntity() {}

// sameContent reports whether l and o carry the same data (identity,
// provenance, timestamps and version aside): an upsert of identical content
// changes nothing.
func (l *Lot) sameContent(o *Lot) bool {
	return l.Name == o.Name && l.Kind == o.Kind && l.Address == o.Address && l.Lat == o.Lat && l.Lng == o.Lng &&
		l.JurisdictionCode == o.JurisdictionCode && l.OwnerDept == o.OwnerDept && l.Operator == o.Operator &&
		l.IsGovernment == o.IsGovernment && l.TotalSpaces == o.TotalSpaces && l.SharedSpaces == o.SharedSpaces &&
		l.Windows.Equal(o.Windows) && l.MaxSeats == o.MaxSeats && l.BookingRule == o.BookingRule &&
		l.FeeRule == o.FeeRule && l.ContactName == o.ContactName && l.ContactPhone == o.ContactPhone
}

// Availability is a lot's live count of free spaces as last reported by
// the lot's system, and when.
type Availability struct {
	Free int
	At   time.Time
}

// Nearby is a lot found near a point.
type Nearby struct {
	Lot *Lot
	// DistanceMeters is the great-circle distance from the point (on the
	// sphere of the WGS 84 mean radius, as PostGIS computes it).
	DistanceMeters float64
	// Status is whether the lot is open at the time asked for (or at the
	// time of the query when none was given).
	Status OpenStatus
}

// OpenToPublic reports whether the public may park at the time asked for.
func (n *Nearby) OpenToPublic() bool { return n.Status.Open }

// CanMove reports whether a parked car may leave at the time asked for.
func (n *Nearby) CanMove() bool { return n.Status.CanMove }

// Added counts the lots whose spaces opened in a period and their spaces.
type Added struct {
	Lots   int
	Spaces int
}

// Rate is the off-peak sharing opening rate of government lots (错时共享开放率).
type Rate struct {
	// Open counts GOVERNMENT_SHARED lots that share at least one space.
	Open int
	// Total counts every government lot, shared or not.
	Total int
	// SharedSpaces sums the shared spaces of the open lots.
	SharedSpaces int
	// Rate is Open / Total, 0 when there are no government lots.
	Rate float64
}
