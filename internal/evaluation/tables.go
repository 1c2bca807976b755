package evaluation

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/violation"
)

// Table is one table of a snapshot besides its rows: a dimension table that
// names the codes the rows use, or the data dictionary. Tables are small
// (hundreds of rows) and frozen with the snapshot: they are rendered when
// it is created and stored with it, so a later change to the catalogues
// cannot alter an old assessment.
type Table struct {
	Name    string   `json:"name"`
	About   string   `json:"about"`
	AboutZH string   `json:"aboutZh"`
	Columns []Column `json:"columns"`
	rows    [][]value
}

// TableManifest is a table's entry in a manifest.
type TableManifest struct {
	Name    string   `json:"name"`
	About   string   `json:"about"`
	AboutZH string   `json:"aboutZh"`
	Columns []Column `json:"columns"`
	Rows    int64    `json:"rows"`
	// Files maps a file name (jurisdictions.csv…) to its checksum.
	Files map[string]Rendering `json:"files"`
}

// JurisdictionInfo is a jurisdiction as the dimension table publishes it.
type JurisdictionInfo struct {
	Code, Level, Parent, NameZH, NameEN, AdminCode string
	Lat, Lng                                       *float64
	AreaKm2                                        *float64
}

// DepartmentInfo is a department as the dimension table publishes it.
type DepartmentInfo struct {
	Code, NameZH, NameEN, Kind, Jurisdiction string
}

// TableRows is the row count of a table.
func (t *Table) TableRows() int64 { return int64(len(t.rows)) }

// BOM is the UTF-8 byte order mark: Excel reads a CSV file as UTF-8 only
// when it starts with one.
const BOM = "\uFEFF"

// Files renders the table as NDJSON and CSV (with and without BOM) and
// Parquet and returns the file contents by name with the manifest entry.
func (t *Table) Files() (map[string][]byte, TableManifest, error) {
	var nd, cs []byte
	cs = append(cs, csvHeader(t.Columns)...)
	cs = append(cs, '\n')
	for _, r := range t.rows {
		nd = append(renderNDJSON(nd, t.Columns, r), '\n')
		cs = append(renderCSV(cs, r), '\n')
	}
	var pq bytes.Buffer
	pw := NewParquetWriter(&pq, t.Name, t.Columns)
	for _, r := range t.rows {
		if err := pw.add(r); err != nil {
			return nil, TableManifest{}, err
		}
	}
	if err := pw.Close(); err != nil {
		return nil, TableManifest{}, err
	}
	files := map[string][]byte{t.Name + ".ndjson": nd, t.Name + ".csv": cs, t.Name + ".parquet": pq.Bytes()}
	tm := TableManifest{Name: t.Name, About: t.About, AboutZH: t.AboutZH, Columns: t.Columns, Rows: t.TableRows(),
		Files: map[string]Rendering{}}
	for name, b := range files {
		tm.Files[name] = renderingOf(b)
	}
	tm.Files[t.Name+".csv?bom=1"] = renderingOf(append([]byte(BOM), cs...))
	return files, tm, nil
}

func renderingOf(b []byte) Rendering {
	h := sha256.Sum256(b)
	return Rendering{SHA256: hex.EncodeToString(h[:]), Bytes: int64(len(b))}
}

func str(s string) value { return value{kind: 's', s: s} }

func optStr(s string) value {
	if s == "" {
		return value{}
	}
	return str(s)
}

func optNum(f *float64) value {
	if f == nil {
		return value{}
	}
	return value{kind: 'n', s: strconv.FormatFloat(*f, 'f', -1, 64)}
}

func codeCol(about, zh string) Column { return col("code", "string", "", about, zh, anonNone) }

var (
	nameZH = col("name_zh", "string", "", "name in Chinese", "中文名称", anonNone)
	nameEN = col("name_en", "string", "", "name in English", "英文名称", anonNone)
)

// DimensionTables builds the tables that name every code a snapshot of
// cases uses: jurisdictions, departments, case classes and the
// enumerations (kinds, sources, statuses), then the data dictionary of
// every column of every table, the snapshot's own columns first.
func DimensionTables(dataset string, snapshotCols []Column, js []JurisdictionInfo, ds []DepartmentInfo, classes []cases.Class) []*Table {
	jt := &Table{Name: "jurisdictions", About: "jurisdictions: district, streets and towns, communities and villages, grids",
		AboutZH: "行政区划：区、街道/镇、社区/村、网格",
		Columns: []Column{
			codeCol("dotted path code, used by street_code and community_code", "区划代码（点分路径），对应 street_code、community_code"),
			col("level", "string", "", "DISTRICT, STREET, TOWN, COMMUNITY or GRID", "层级：区、街道、镇、社区、网格", anonNone),
			col("parent_code", "string", "", "code of the enclosing jurisdiction", "上级区划代码", anonNone),
			nameZH, nameEN,
			col("admin_code", "string", "", "national administrative division code, where known", "国家行政区划代码（如有）", anonNone),
			col("lat", "number", "degrees (WGS-84)", "latitude of the jurisdiction's reference point, where known", "区划参考点纬度（如有）", anonNone),
			col("lng", "number", "degrees (WGS-84)", "longitude of the jurisdiction's reference point, where known", "区划参考点经度（如有）", anonNone),
			col("area_km2", "number", "km²", "land area, where known", "面积（平方公里，如有）", anonNone),
		}}
	for _, j := range js {
		jt.rows = append(jt.rows, []value{str(j.Code), str(j.Level), optStr(j.Parent), str(j.NameZH), str(j.NameEN),
			optStr(j.AdminCode), optNum(j.Lat), optNum(j.Lng), optNum(j.AreaKm2)})
	}
	dt := &Table{Name: "departments", About: "departments cases are dispatched to", AboutZH: "处置部门",
		Columns: []Column{
			codeCol("department code, used by handling_dept", "部门代码，对应 handling_dept"), nameZH, nameEN,
			col("kind", "string", "", "BUREAU, STREET, TOWN or UNIT", "部门类别：委办局、街道、镇、单位", anonNone),
			col("jurisdiction_code", "string", "", "jurisdiction the department serves (table jurisdictions)", "所辖区划代码", anonNone),
		}}
	for _, d := range ds {
		dt.rows = append(dt.rows, []value{str(d.Code), str(d.NameZH), str(d.NameEN), str(d.Kind), str(d.Jurisdiction)})
	}
	ct := &Table{Name: "case_classes", About: "case classes (GB/T 30428.2) with their handling deadlines",
		AboutZH: "案件分类（GB/T 30428.2）及处置时限",
		Columns: []Column{
			col("kind", "string", "", "COMPONENT or EVENT: minor codes repeat across kinds", "部件或事件：小类代码在两类中可重复", anonNone),
			col("major_code", "string", "", "major class code", "大类代码", anonNone),
			col("major_name_zh", "string", "", "major class name in Chinese", "大类名称", anonNone),
			col("minor_code", "string", "", "minor class code", "小类代码", anonNone),
			col("minor_name_zh", "string", "", "minor class name in Chinese", "小类名称", anonNone),
			col("major_name_en", "string", "", "major class name in English", "大类英文名称", anonNone),
			col("minor_name_en", "string", "", "minor class name in English", "小类英文名称", anonNone),
			col("deadline_hours", "integer", "hours", "handling deadline in hours: working hours, clock hours for an emergency class (null when given in days)", "处置时限（小时：工作小时，紧急类为自然小时；按天计时为空）", anonNone),
			col("deadline_days", "integer", "working days", "handling deadline in working days (null when given in hours)", "处置时限（工作日，按小时计时为空）", anonNone),
			col("emergency", "boolean", "", "an emergency class, handled around the clock: its deadline counts nights and holidays", "是否紧急类（全天候处置，时限含夜间和节假日）", anonNone),
		}}
	for _, c := range classes {
		h, d := value{}, value{}
		if c.Limit.Hours > 0 {
			h = value{kind: 'i', i: int64(c.Limit.Hours)}
		} else {
			d = value{kind: 'i', i: int64(c.Limit.Days)}
		}
		ct.rows = append(ct.rows, []value{str(string(c.Kind)), str(c.MajorCode), str(c.MajorName), str(c.MinorCode), str(c.MinorName),
			str(c.MajorNameEn()), str(c.MinorNameEn()), h, d,
			{kind: 'b', b: c.Emergency}})
	}
	enum := func(name, about, zh string, labels [][3]string) *Table {
		t := &Table{Name: name, About: about, AboutZH: zh, Columns: []Column{codeCol("code as it appears in the rows", "代码（与数据表一致）"), nameZH, nameEN}}
		for _, l := range labels {
			t.rows = append(t.rows, []value{str(l[0]), str(l[1]), str(l[2])})
		}
		return t
	}
	tables := []*Table{jt, dt, ct,
		enum("kinds", "case kinds", "案件类型", [][3]string{
			{string(cases.KindComponent), "部件", "component (public facility)"}, {string(cases.KindEvent), "事件", "event"}}),
		enum("sources", "how a case reached the platform", "案件来源", sourceLabels()),
		enum("statuses", "case lifecycle statuses", "案件状态", statusLabels()),
		// The other datasets' codes, for assessments that join cases to
		// violations, parking lots or compounds by their published lists.
		enum("violation_kinds", "kinds of violation", "违法违规类型", labelled(violation.Kinds(), map[violation.Kind][2]string{
			violation.KindIllegalConstruction: {"违法建设", "illegal construction"},
			violation.KindStreetOccupation:    {"占道经营", "street occupation"},
			violation.KindIllegalParking:      {"乱停乱放", "illegal parking"},
			violation.KindIllegalAdvertising:  {"违规广告", "illegal advertising"},
			violation.KindDumping:             {"乱倒垃圾", "dumping and construction waste"},
		})),
		enum("violation_statuses", "violation lifecycle statuses", "违法违规处置状态", labelled(violation.Statuses(), map[violation.Status][2]string{
			violation.StatusDiscovered:       {"已发现", "discovered"},
			violation.StatusNoticeIssued:     {"已下达限期改正通知", "notice to rectify issued"},
			violation.StatusRectificationDue: {"逾期未改正", "rectification overdue"},
			violation.StatusDemolished:       {"已拆除", "demolished"},
			violation.StatusLegalized:        {"已补办手续", "legalized"},
			violation.StatusPenalized:        {"已处罚", "penalized"},
			violation.StatusClosed:           {"已结案", "closed"},
		})),
		enum("parking_lot_kinds", "kinds of parking lot", "停车场类型", labelled(parking.Kinds(), map[parking.Kind][2]string{
			parking.KindPublic:           {"公共停车场", "public car park"},
			parking.KindOnStreet:         {"路内泊位", "on-street bays"},
			parking.KindGovernmentShared: {"机关单位错时共享", "government lot shared off-peak"},
			parking.KindResidential:      {"小区停车场", "residential compound"},
			parking.KindCommercial:       {"商业停车场", "commercial"},
		})),
		enum("renovation_statuses", "old-community renovation statuses", "老旧小区改造状态", labelled(property.RenovationStatuses(), map[property.RenovationStatus][2]string{
			property.RenovationNone:       {"未列入改造", "not scheduled"},
			property.RenovationPlanned:    {"已列入计划", "planned"},
			property.RenovationInProgress: {"改造中", "in progress"},
			property.RenovationDone:       {"已完成", "done"},
		})),
	}
	dict := &Table{Name: "dictionary", About: "data dictionary: every column of every table", AboutZH: "数据字典：每张表的每一列",
		Columns: []Column{
			col("table", "string", "", "table the column belongs to (the snapshot's dataset: its rows)", "所属表（与快照数据集同名者为快照数据表）", anonNone),
			col("column", "string", "", "column name", "列名", anonNone),
			col("type", "string", "", "string, integer, number, boolean or timestamp", "数据类型", anonNone),
			col("unit", "string", "", "unit of a number", "单位", anonNone),
			col("about_en", "string", "", "meaning in English", "英文说明", anonNone),
			col("about_zh", "string", "", "meaning in Chinese", "中文说明", anonNone),
			col("anonymization", "string", "", "how the value was anonymized or generalized", "匿名化或泛化方式", anonNone),
		}}
	add := func(table string, cols []Column) {
		for _, c := range cols {
			dict.rows = append(dict.rows, []value{str(table), str(c.Name), str(c.Type), optStr(c.Unit), str(c.About), optStr(c.AboutZH), optStr(c.Anonymization)})
		}
	}
	add(dataset, snapshotCols)
	for _, t := range tables {
		add(t.Name, t.Columns)
	}
	add(dict.Name, dict.Columns)
	return append(tables, dict)
}

// labelled pairs each code of an enumeration with its Chinese and English
// names; a code added later without names is listed under its own code, so
// no code the rows may hold is missing from its table.
func labelled[T ~string](codes []T, names map[T][2]string) [][3]string {
	out := make([][3]string, 0, len(codes))
	for _, c := range codes {
		l, ok := names[c]
		if !ok {
			l = [2]string{string(c), string(c)}
		}
		out = append(out, [3]string{string(c), l[0], l[1]})
	}
	return out
}

func sourceLabels() [][3]string {
	zh := map[cases.Source][2]string{
		cases.SourceInspectorPatrol:     {"监督员巡查", "inspector patrol"},
		cases.SourceDronePatrol:         {"无人机巡查", "drone patrol"},
		cases.SourceVideoAnalytics:      {"视频智能分析", "video analytics"},
		cases.SourceEnforcementTerminal: {"执法终端", "enforcement terminal"},
		cases.SourceCitizenReport:       {"市民上报", "citizen report (app)"},
		cases.SourceHotline12345:        {"12345 热线", "12345 hotline"},
		cases.SourceAssignedBySuperior:  {"上级交办", "assigned by a superior"},
		cases.SourceMedia:               {"媒体曝光", "media"},
	}
	return labelled(cases.Sources(), zh)
}

func statusLabels() [][3]string {
	zh := map[cases.Status][2]string{
		cases.StatusReported:      {"已上报", "reported"},
		cases.StatusRegistered:    {"已立案", "registered"},
		cases.StatusNotRegistered: {"不予立案", "not registered"},
		cases.StatusDispatched:    {"已派遣", "dispatched"},
		cases.StatusReturned:      {"已退回", "returned by the department"},
		cases.StatusHandled:       {"已处置", "handled, awaiting verification"},
		cases.StatusRework:        {"返工", "rework"},
		cases.StatusDeferred:      {"缓办", "deferred"},
		cases.StatusBacklog:       {"挂账", "backlog"},
		cases.StatusClosed:        {"已结案", "closed"},
	}
	return labelled(cases.Statuses(), zh)
}

// File is one downloadable file of a snapshot, as the manifest lists it.
type File struct {
	Name   string // file name, e.g. snapshot.xlsx, jurisdictions.csv
	Table  string // the table it holds (cases for the rows; all for the workbook)
	Format string // ndjson, csv, csv+bom, xlsx or parquet
	Path   string // relative download path, resumable with HTTP Range
	SHA256 string
	Bytes  int // int: GraphQL's Int binds to it (64 bits on the servers we build for)
}

// Files lists every downloadable file of the snapshot with its checksum:
// the rows in each format, the workbook, and each frozen table in each
// format.
func (m *Manifest) Files() []File {
	base := "/datasets/" + m.ID.String()
	out := []File{
		{m.Dataset + ".ndjson", m.Dataset, string(FormatNDJSON), base + ".ndjson", m.NDJSON.SHA256, int(m.NDJSON.Bytes)},
		{m.Dataset + ".csv", m.Dataset, string(FormatCSV), base + ".csv", m.CSV.SHA256, int(m.CSV.Bytes)},
	}
	if m.CSVBOM.SHA256 != "" {
		out = append(out, File{m.Dataset + ".csv", m.Dataset, string(FormatCSVBOM), base + ".csv?bom=1", m.CSVBOM.SHA256, int(m.CSVBOM.Bytes)})
	}
	if m.XLSX != nil {
		out = append(out, File{XLSXFile, "all", string(FormatXLSX), base + ".xlsx", m.XLSX.SHA256, int(m.XLSX.Bytes)})
	}
	if m.Parquet != nil {
		out = append(out, File{ParquetFileOf(m.Dataset), m.Dataset, string(FormatParquet), base + ".parquet", m.Parquet.SHA256, int(m.Parquet.Bytes)})
	}
	for _, t := range m.Tables {
		for _, f := range []struct{ key, format string }{{".ndjson", "ndjson"}, {".csv", "csv"}, {".csv?bom=1", "csv+bom"}, {".parquet", "parquet"}} {
			if r, ok := t.Files[t.Name+f.key]; ok {
				name, _, _ := strings.Cut(t.Name+f.key, "?")
				out = append(out, File{name, t.Name, f.format, base + "/" + t.Name + f.key, r.SHA256, int(r.Bytes)})
			}
		}
	}
	return out
}
