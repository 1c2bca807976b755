package evaluation

import (
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
)

// Snapshot datasets besides cases.
const (
	SnapshotViolations   = "violations"
	SnapshotParkingLots  = "parking_lots"
	SnapshotAvailability = "parking_availability"
	SnapshotInspections  = "inspections"
)

// datasetSpec is what a snapshot dataset declares: its schema and its
// quasi-identifiers.
type datasetSpec struct {
	name    string
	columns func(Profile) []Column
	// quasi names the quasi-identifier columns; empty for records of public
	// facilities, which say noQuasi why.
	quasi   []string
	noQuasi string
	// filters are the SnapshotFilter fields the dataset honours besides
	// jurisdiction and the period.
	kindAndSources bool
}

var snapshotSpecs = []datasetSpec{
	{name: cases.Dataset, columns: caseColumns, kindAndSources: true,
		quasi: []string{"community_code (or lat/lng)", "kind + minor_code", "hour of reported_at"}},
	{name: SnapshotViolations, columns: violationColumns,
		quasi: []string{"community_code (or lat/lng)", "kind + subtype", "hour of discovered_at"}},
	{name: SnapshotParkingLots, columns: lotColumns,
		noQuasi: "parking lots are public facilities: no row describes a person"},
	{name: SnapshotAvailability, columns: availabilityColumns,
		noQuasi: "free-space counts of public facilities: no row describes a person"},
	{name: SnapshotInspections, columns: inspectionColumns,
		noQuasi: "double-random inspections of residential compounds are published (双随机、一公开); inspectors appear only as pseudonyms"},
}

func snapshotDataset(name string) (datasetSpec, bool) {
	for _, d := range snapshotSpecs {
		if d.name == name {
			return d, true
		}
	}
	return datasetSpec{}, false
}

// SnapshotDatasets are the datasets a snapshot can freeze.
func SnapshotDatasets() []string {
	out := make([]string, len(snapshotSpecs))
	for i, d := range snapshotSpecs {
		out[i] = d.name
	}
	return out
}

const (
	anonPseudonym = "pseudonymized: keyed HMAC, key never leaves the server"
	anonScrubbed  = "scrubbed: personal data patterns replaced by [removed]"
	anonFacility  = "none: a public facility's record"
)

func refCol(name, what, zh string) Column {
	return col(name, "string", "", "pseudonym of the "+what+": first 16 bytes of HMAC-SHA256 of its id under a key unique to this snapshot (hex)",
		zh+"假名标识：以本快照专用密钥做 HMAC-SHA256 后取前 16 字节（十六进制）", anonPseudonym)
}

func locationCols(p Profile) []Column {
	cols := []Column{
		col("street_code", "string", "", "street or town (table jurisdictions)", "街道或镇（见 jurisdictions 表）", anonNone),
		col("community_code", "string", "", "community or village: the location generalized (table jurisdictions)", "社区或村：位置泛化到社区（见 jurisdictions 表）",
			"generalized: exact location, address and grid replaced by the community"),
	}
	if p.Coordinates {
		cols = append(cols,
			col("lat", "number", "degrees (WGS-84)", "latitude rounded to 0.001° (about 100 m)", "纬度，保留到 0.001°（约 100 米）", "generalized: rounded to 0.001°"),
			col("lng", "number", "degrees (WGS-84)", "longitude rounded to 0.001°", "经度，保留到 0.001°", "generalized: rounded to 0.001°"))
	}
	return cols
}

// SourceViolation is a violation as the snapshot reads it.
type SourceViolation struct {
	ID                                          uuid.UUID
	Kind, Subtype, Channel, Status, Outcome     string
	Description                                 string
	Lat, Lng                                    float64
	Street, Community, OwnerDept                string
	PartyName                                   string
	AreaM2, DemolishedAreaM2                    *float64
	DiscoveredAt                                time.Time
	NoticeIssuedAt, Deadline, ResolvedAt, Close *time.Time
	FromCase                                    bool
}

func violationColumns(p Profile) []Column {
	cols := []Column{
		refCol("violation_ref", "violation", "违法违规记录"),
		col("kind", "string", "", "kind of violation (table violation_kinds)", "违法违规类型（见 violation_kinds 表）", anonNone),
		col("subtype", "string", "", "subtype of the kind (ROOFTOP_ADDITION…), where the kind has them", "细类（如 ROOFTOP_ADDITION），如有", anonNone),
		col("channel", "string", "", "how it was found: DRONE, PATROL, CASE, REPORT or ENFORCEMENT_TERMINAL", "发现渠道", anonNone),
		col("status", "string", "", "status when the snapshot was taken (table violation_statuses)", "快照生成时的处置状态（见 violation_statuses 表）", anonNone),
		col("outcome", "string", "", "how it ended: DEMOLISHED, LEGALIZED, PENALIZED or UNFOUNDED (null while open)", "处置结果：拆除、补办、处罚或不成立（未结为空）", anonNone),
		col("from_case", "boolean", "", "raised from a case of the platform", "是否由平台案件转来", anonNone),
	}
	cols = append(cols, locationCols(p)...)
	cols = append(cols,
		col("owner_dept", "string", "", "department that owns the record (table departments)", "记录所属部门（见 departments 表）", anonNone),
		col("area_m2", "number", "m²", "area of the illegal construction", "违法建设面积", anonNone),
		col("demolished_area_m2", "number", "m²", "area demolished", "已拆除面积", anonNone),
		col("discovered_at", "timestamp", "", "when it was discovered", "发现时间", anonHour),
		col("notice_issued_at", "timestamp", "", "when the notice to rectify was issued", "下达限期改正通知时间", anonHour),
		col("deadline", "timestamp", "", "rectification deadline", "限期改正期限", anonHour),
		col("resolved_at", "timestamp", "", "when it was resolved (demolished, legalized or penalized)", "处置完成时间", anonHour),
		col("closed_at", "timestamp", "", "when the file was closed", "结案时间", anonHour),
		col("rectified_on_time", "boolean", "", "resolved_at ≤ deadline (null unless resolved with a deadline)", "是否在期限内整改（无期限或未整改为空）", anonExact),
	)
	if p.KeepText {
		cols = append(cols, col("description", "string", "", "free text with phone numbers, ID numbers, plates, house numbers and the party's name removed",
			"描述，已删除电话、身份证号、车牌、门牌号和当事人姓名", anonScrubbed))
	}
	return cols
}

func (v *SourceViolation) quasi() Quasi {
	return Quasi{Street: v.Street, Community: v.Community, Class: v.Kind + "/" + v.Subtype, Major: v.Kind, Kind: v.Kind,
		At: v.DiscoveredAt, Lat: v.Lat, Lng: v.Lng}
}

func (v *SourceViolation) values(a *Anonymizer) []value {
	vals := make([]value, 0, len(a.cols))
	vals = append(vals, str(Pseudonym(a.key, v.ID)), str(v.Kind), a.minor(v.Subtype), str(v.Channel), str(v.Status), optStr(v.Outcome),
		value{kind: 'b', b: v.FromCase}, str(v.Street), a.community(v.Community))
	if a.profile.Coordinates {
		vals = append(vals, a.coords(v.Lat, v.Lng)...)
	}
	vals = append(vals, str(v.OwnerDept), optNum(v.AreaM2), optNum(v.DemolishedAreaM2), a.hour(&v.DiscoveredAt), a.hour(v.NoticeIssuedAt),
		a.hour(v.Deadline), a.hour(v.ResolvedAt), a.hour(v.Close), onTime(v.ResolvedAt, v.Deadline))
	if a.profile.KeepText {
		vals = append(vals, optStr(Scrub(v.Description, v.PartyName)))
	}
	return vals
}

// SourceLot is a parking lot as the snapshot reads it. Its contact is
// dropped; the rest describes a public facility and is published.
type SourceLot struct {
	ID                              uuid.UUID
	Name, Kind                      string
	Government                      bool
	Lat, Lng                        float64
	Street, Jurisdiction, OwnerDept string
	TotalSpaces, SharedSpaces       int
	WeekdayWindows, RestDayWindows  []string
	RestDayAllDay                   bool
	NoMovement                      string
	MaxSeats                        *int
	BookingRule, FeeRule            string
	CreatedAt                       time.Time
}

func lotColumns(Profile) []Column {
	return []Column{
		col("lot_id", "string", "", "the lot's id in the hub (a facility: joins parking_availability)", "停车场编号（设施，可与 parking_availability 关联）", anonFacility),
		col("name", "string", "", "name of the lot", "停车场名称", anonFacility),
		col("kind", "string", "", "kind of lot (table parking_lot_kinds)", "停车场类型（见 parking_lot_kinds 表）", anonNone),
		col("is_government", "boolean", "", "run by a government unit (counts in the shared-parking opening rate)", "是否机关单位停车场（计入错时共享开放率）", anonNone),
		col("street_code", "string", "", "street or town (table jurisdictions)", "街道或镇（见 jurisdictions 表）", anonNone),
		col("jurisdiction_code", "string", "", "jurisdiction the lot lies in (table jurisdictions)", "所在区划（见 jurisdictions 表）", anonFacility),
		col("lat", "number", "degrees (WGS-84)", "latitude", "纬度", anonFacility),
		col("lng", "number", "degrees (WGS-84)", "longitude", "经度", anonFacility),
		col("owner_dept", "string", "", "department that owns the record (table departments)", "记录所属部门（见 departments 表）", anonNone),
		col("total_spaces", "integer", "spaces", "parking spaces", "泊位总数", anonNone),
		col("shared_spaces", "integer", "spaces", "spaces shared with the public off-peak", "错时共享泊位数", anonNone),
		col("weekday_windows", "string", "", "sharing windows on working days, HH:MM-HH:MM separated by ';' (a window may cross midnight)", "工作日共享时段（HH:MM-HH:MM，以 ; 分隔，可跨零点）", anonNone),
		col("rest_day_all_day", "boolean", "", "open to the public all day on rest days and holidays", "休息日、节假日是否全天开放", anonNone),
		col("rest_day_windows", "string", "", "sharing windows on rest days when not all day", "休息日共享时段（非全天时）", anonNone),
		col("no_movement", "string", "", "window in which shared vehicles may not enter or leave", "共享车辆禁止进出时段", anonNone),
		col("max_seats", "integer", "seats", "largest vehicle admitted (seats)", "准入车辆最大座位数", anonNone),
		col("booking_rule", "string", "", "booking rule as published", "预约规则", anonFacility),
		col("fee_rule", "string", "", "fee rule as published", "收费规则", anonFacility),
		col("created_at", "timestamp", "", "when the lot was registered in the hub (new spaces show from here)", "录入时间（新增泊位自此可见）", anonHour),
	}
}

func (l *SourceLot) quasi() Quasi {
	return Quasi{Street: l.Street, Class: l.Kind, Major: l.Kind, At: l.CreatedAt}
}

func (l *SourceLot) values(a *Anonymizer) []value {
	exact := func(f float64) value { return value{kind: 'n', s: strconv.FormatFloat(f, 'f', -1, 64)} }
	var seats value
	if l.MaxSeats != nil {
		seats = value{kind: 'i', i: int64(*l.MaxSeats)}
	}
	return []value{str(l.ID.String()), str(l.Name), str(l.Kind), {kind: 'b', b: l.Government}, str(l.Street), str(l.Jurisdiction),
		exact(l.Lat), exact(l.Lng), str(l.OwnerDept), {kind: 'i', i: int64(l.TotalSpaces)}, {kind: 'i', i: int64(l.SharedSpaces)},
		optStr(strings.Join(l.WeekdayWindows, ";")), {kind: 'b', b: l.RestDayAllDay}, optStr(strings.Join(l.RestDayWindows, ";")),
		optStr(l.NoMovement), seats, optStr(l.BookingRule), optStr(l.FeeRule), a.hour(&l.CreatedAt)}
}

// SourceAvailability is one sample of a lot's free spaces.
type SourceAvailability struct {
	LotID            uuid.UUID
	Street, LotKind  string
	At               time.Time
	Free, TotalSpace int
}

func availabilityColumns(Profile) []Column {
	return []Column{
		col("lot_id", "string", "", "the lot (table parking_lots of a parking_lots snapshot, or the hub's lot id)", "停车场编号", anonFacility),
		col("lot_kind", "string", "", "kind of lot (table parking_lot_kinds)", "停车场类型", anonNone),
		col("street_code", "string", "", "street or town of the lot", "所在街道或镇", anonNone),
		col("at", "timestamp", "", "when the free spaces were sampled (to the second)", "采样时间（精确到秒）", anonFacility),
		col("free", "integer", "spaces", "free spaces at that time", "空余泊位数", anonNone),
		col("total_spaces", "integer", "spaces", "the lot's spaces when the snapshot was taken", "快照时的泊位总数", anonNone),
	}
}

func (v *SourceAvailability) quasi() Quasi {
	return Quasi{Street: v.Street, Class: v.LotKind, Major: v.LotKind, Kind: v.LotKind, At: v.At}
}

func (v *SourceAvailability) values(*Anonymizer) []value {
	return []value{str(v.LotID.String()), str(v.LotKind), str(v.Street), str(v.At.UTC().Truncate(time.Second).Format(time.RFC3339)),
		{kind: 'i', i: int64(v.Free)}, {kind: 'i', i: int64(v.TotalSpace)}}
}

// SourceInspection is one inspection of a double-random round.
type SourceInspection struct {
	ID                uuid.UUID
	Round, RoundDept  string
	PeriodStart       time.Time
	Rank              int
	PropertyID        uuid.UUID
	Street, Community string
	Inspectors        []string
	InspectorNames    []string
	ScheduledOn       time.Time
	Result, Findings  string
	RecordedAt        *time.Time
	RoundPublished    bool
}

func inspectionColumns(p Profile) []Column {
	cols := []Column{
		col("round", "string", "", "the round (2025-H1…)", "抽查批次", anonNone),
		col("round_dept", "string", "", "department that drew the round (table departments)", "组织抽查的部门", anonNone),
		col("period_start", "timestamp", "", "first day of the round's period", "批次起始日", anonNone),
		col("round_published", "boolean", "", "the round's results are published", "结果是否已公开", anonNone),
		col("rank", "integer", "", "order in which the target was drawn", "抽取顺序", anonNone),
		col("property_id", "string", "", "the compound inspected (a published target of the round)", "被检查小区编号（公开的抽查对象）", "none: targets of a round are published"),
		col("street_code", "string", "", "street or town of the compound", "所在街道或镇", anonNone),
		col("community_code", "string", "", "community of the compound", "所在社区", anonNone),
		col("inspector_refs", "string", "", "inspectors, as pseudonyms separated by ';' (HMAC-SHA256 of their register id under the snapshot's key): the same inspector has the same pseudonym throughout the snapshot", "检查人员假名（以 ; 分隔），同一快照内同一人假名相同", anonPseudonym),
		col("inspectors", "integer", "people", "number of inspectors", "检查人数", anonNone),
		col("scheduled_on", "timestamp", "", "day the inspection was scheduled", "计划检查日", anonNone),
		col("result", "string", "", "PASS, RECTIFY or FAIL (null until recorded)", "检查结果：合格、整改、不合格（未录入为空）", anonNone),
		col("recorded_at", "timestamp", "", "when the result was recorded", "结果录入时间", anonHour),
	}
	if p.KeepText {
		cols = append(cols, col("findings", "string", "", "findings with phone numbers, ID numbers, plates, house numbers and inspectors' names removed",
			"检查发现，已删除电话、身份证号、车牌、门牌号和检查人员姓名", anonScrubbed))
	}
	return cols
}

func (in *SourceInspection) quasi() Quasi {
	return Quasi{Street: in.Street, Community: in.Community, Class: in.Result, Major: in.Result, Kind: in.Result, At: in.ScheduledOn}
}

func (in *SourceInspection) values(a *Anonymizer) []value {
	refs := make([]string, len(in.Inspectors))
	for i, id := range in.Inspectors {
		refs[i] = PseudonymOf(a.key, "inspector:"+id)
	}
	day := func(t time.Time) value { return str(t.UTC().Format(time.RFC3339)) }
	vals := []value{str(in.Round), str(in.RoundDept), day(in.PeriodStart), {kind: 'b', b: in.RoundPublished}, {kind: 'i', i: int64(in.Rank)},
		str(in.PropertyID.String()), str(in.Street), optStr(in.Community), str(strings.Join(refs, ";")),
		{kind: 'i', i: int64(len(in.Inspectors))}, day(in.ScheduledOn), optStr(in.Result), a.hour(in.RecordedAt)}
	if a.profile.KeepText {
		vals = append(vals, optStr(Scrub(in.Findings, in.InspectorNames...)))
	}
	return vals
}
