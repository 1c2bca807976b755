// Package violation is the enforcement domain of illegal construction,
// street occupation, illegal parking, illegal advertising and dumping: the
// violation type and its kind catalogue, the lifecycle state machine from
// discovery through the order to rectify (责令限期改正) to demolition,
// legalization or penalty, validation of the personal fields (resident ID
// number, plate), and the service every transport calls. It imports no
// infrastructure: storage comes in through the Store interface and the
// planning-permit register through the PermitChecker interface.
package violation

import (
	"time"

	"github.com/google/uuid"
)

// Dataset is the catalog name of violations.
const Dataset = "violations"

// Departments that own violations (the catalog's provider is urban
// management; illegal parking belongs to the traffic police).
const (
	DeptUrbanManagement = "urban-management"
	DeptTrafficPolice   = "traffic-police"
)

// Kind is the kind of a violation.
type Kind string

// Violation kinds.
const (
	KindIllegalConstruction Kind = "ILLEGAL_CONSTRUCTION" // 违法建设
	KindStreetOccupation    Kind = "STREET_OCCUPATION"    // 占道经营 / 店外经营
	KindIllegalParking      Kind = "ILLEGAL_PARKING"      // 乱停乱放
	KindIllegalAdvertising  Kind = "ILLEGAL_ADVERTISING"  // 违规广告、乱贴乱画
	KindDumping             Kind = "DUMPING"              // 乱倒垃圾、建筑垃圾
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{KindIllegalConstruction, KindStreetOccupation, KindIllegalParking, KindIllegalAdvertising, KindDumping}
}

// Subtype refines a kind. Kinds without subtypes take the empty subtype.
type Subtype string

// Violation subtypes.
const (
	SubtypeRooftopAddition        Subtype = "ROOFTOP_ADDITION"         // 顶层搭建
	SubtypeVillaExtension         Subtype = "VILLA_EXTENSION"          // 别墅扩建
	SubtypeFactoryShed            Subtype = "FACTORY_SHED"             // 厂房搭棚
	SubtypeGreenSpaceEncroachment Subtype = "GREEN_SPACE_ENCROACHMENT" // 侵占绿化
	SubtypeDoorWindowAlteration   Subtype = "DOOR_WINDOW_ALTERATION"   // 改门改窗
	SubtypeShopfrontOverflow      Subtype = "SHOPFRONT_OVERFLOW"       // 店外经营
	SubtypeStreetVending          Subtype = "STREET_VENDING"           // 占道经营（流动摊贩）
	SubtypeConstructionWaste      Subtype = "CONSTRUCTION_WASTE"       // 乱倒建筑垃圾
	SubtypeDomesticWaste          Subtype = "DOMESTIC_WASTE"           // 乱倒生活垃圾
)

var subtypes = map[Kind][]Subtype{
	KindIllegalConstruction: {SubtypeRooftopAddition, SubtypeVillaExtension, SubtypeFactoryShed,
		SubtypeGreenSpaceEncroachment, SubtypeDoorWindowAlteration},
	KindStreetOccupation: {SubtypeShopfrontOverflow, SubtypeStreetVending},
	KindDumping:          {SubtypeConstructionWaste, SubtypeDomesticWaste},
}

// Subtypes returns the subtypes of kind k (none for illegal parking and
// illegal advertising).
func (k Kind) Subtypes() []Subtype { return append([]Subtype(nil), subtypes[k]...) }

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds() {
		if v == k {
			return true
		}
	}
	return false
}

// Construction reports whether violations of kind k are structures: they
// must state their area and may be checked against planning permits.
func (k Kind) Construction() bool { return k == KindIllegalConstruction }

// OwnerDept returns the department that owns and handles violations of
// kind k: the traffic police for illegal parking, urban management for the
// rest.
func (k Kind) OwnerDept() string {
	if k == KindIllegalParking {
		return DeptTrafficPolice
	}
	return DeptUrbanManagement
}

// NoticeDaysDefault returns the working days an order to rectify gives by
// default: 15 for illegal construction (the local catalogue's "15 working
// days to demolish"), 1 for street occupation and advertising, 2 for dumping
// (as the case class 乱倒建筑垃圾) and 0 — immediately — for illegal
// parking.
func (k Kind) NoticeDaysDefault() int {
	switch k {
	case KindIllegalConstruction:
		return 15
	case KindStreetOccupation, KindIllegalAdvertising:
		return 1
	case KindDumping:
		return 2
	default:
		return 0
	}
}

// NameZh returns the Chinese name of k.
func (k Kind) NameZh() string {
	return map[Kind]string{
		KindIllegalConstruction: "违法建设", KindStreetOccupation: "占道经营",
		KindIllegalParking: "乱停乱放", KindIllegalAdvertising: "违规广告", KindDumping: "乱倒垃圾",
	}[k]
}

// KindOf returns the kind a subtype belongs to.
func KindOf(s Subtype) (Kind, bool) {
	for k, list := range subtypes {
		for _, v := range list {
			if v == s {
				return k, true
			}
		}
	}
	return "", false
}

// NameZh returns the Chinese name of s.
func (s Subtype) NameZh() string {
	return map[Subtype]string{
		SubtypeRooftopAddition: "顶层搭建", SubtypeVillaExtension: "别墅扩建", SubtypeFactoryShed: "厂房搭棚",
		SubtypeGreenSpaceEncroachment: "侵占绿化", SubtypeDoorWindowAlteration: "改门改窗",
		SubtypeShopfrontOverflow: "店外经营", SubtypeStreetVending: "流动摊贩",
		SubtypeConstructionWaste: "乱倒建筑垃圾", SubtypeDomesticWaste: "乱倒生活垃圾",
	}[s]
}

// Channel is how a violation was discovered.
type Channel string

// Discovery channels.
const (
	ChannelDrone               Channel = "DRONE"                // 无人机巡查
	ChannelPatrol              Channel = "PATROL"               // 巡查
	ChannelCase                Channel = "CASE"                 // from a digital urban-management case
	ChannelReport              Channel = "REPORT"               // citizen report, hotline
	ChannelEnforcementTerminal Channel = "ENFORCEMENT_TERMINAL" // 执法终端
)

// Channels lists every channel.
func Channels() []Channel {
	return []Channel{ChannelDrone, ChannelPatrol, ChannelCase, ChannelReport, ChannelEnforcementTerminal}
}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	for _, v := range Channels() {
		if v == c {
			return true
		}
	}
	return false
}

// Outcome is how a violation ended. It stays set after the file is closed,
// so "demolished" counts do not depend on whether the file was closed yet.
type Outcome string

// Outcomes.
const (
	OutcomeDemolished Outcome = "DEMOLISHED" // the structure, stall, sign or waste was removed (拆除、清除)
	OutcomeLegalized  Outcome = "LEGALIZED"  // permits obtained afterwards (补办手续)
	OutcomePenalized  Outcome = "PENALIZED"  // an administrative penalty was imposed
	OutcomeUnfounded  Outcome = "UNFOUNDED"  // closed on discovery: no violation
)

// Party is the person or business responsible. All three fields are
// personal data (field group "party").
type Party struct {
	Name     string
	IDNumber string // 18-character resident ID number
	Phone    string
}

// Empty reports whether no party is recorded.
func (p Party) Empty() bool { return p.Name == "" && p.IDNumber == "" && p.Phone == "" }

// Violation is one recorded violation.
type Violation struct {
	ID        uuid.UUID
	RecordNo  string // WF<year>-<n>, the year of discovery
	OwnerDept string
	Kind      Kind
	Subtype   Subtype // empty for kinds without subtypes
	Channel   Channel
	Status    Status
	Outcome   Outcome // empty while open
	// Description and Address describe the violation and where it is.
	Description string
	Address     string
	// AreaM2 is the floor or ground area in m²; always set for illegal
	// construction, optional otherwise.
	AreaM2 *float64
	// DemolishedAreaM2 is the area actually removed (set on DEMOLISH).
	DemolishedAreaM2 *float64
	Lat, Lng         float64
	JurisdictionCode string
	Party            Party
	Plate            string // illegal parking only (field group "plate")
	// PropertyID links a residential compound. There is no foreign key: the
	// property registry is another dataset and may be loaded later.
	PropertyID *uuid.UUID
	CaseID     *uuid.UUID
	// Stage timestamps.
	DiscoveredAt   time.Time
	NoticeIssuedAt *time.Time
	Deadline       *time.Time // rectification due (set by ISSUE_NOTICE)
	DueAt          *time.Time // when the missed deadline was recorded (MARK_DUE)
	ResolvedAt     *time.Time // demolished, legalized or penalized
	ClosedAt       *time.Time
	SourceDept     string
	ExternalID     string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Version        int
}

// Overdue reports whether the violation still stands past its
// rectification deadline at now. It matches the store's overdue filter.
func (v *Violation) Overdue(now time.Time) bool {
	return v.Status.Open() && v.Deadline != nil && now.After(*v.Deadline)
}

// Event is one entry of a violation's timeline.
type Event struct {
	ID          int64
	ViolationID uuid.UUID
	Action      Action
	FromStatus  Status // empty for the first event
	ToStatus    Status
	Actor       string
	ActorDept   string
	Note        string
	At          time.Time
}

// PermitCheck is the planning register's answer for a structure: whether
// the property has a planning permit and whether it covers this structure.
type PermitCheck struct {
	HasPermit bool
	Covers    bool
	PermitNo  string
	Note      string
}

// RowJurisdiction is the jurisdiction the violation's field groups are
// judged in (partial grants, and the audit of what a read disclosed).
func (v *Violation) RowJurisdiction() string { return v.JurisdictionCode }

// IsEntity marks Violation as a federation entity for the GraphQL layer.
func (Violation) IsEntity() {}
