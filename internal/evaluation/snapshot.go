package evaluation

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/csvcell"
	"github.com/google/uuid"
)

// Format is an export rendering of a snapshot.
type Format string

// Formats.
const (
	FormatNDJSON Format = "ndjson" // one JSON object per line, keys in schema order
	FormatCSV    Format = "csv"    // RFC 4180, header line first, "\n" line ends
	// FormatCSVBOM is the CSV rendering after a UTF-8 byte order mark, for
	// Excel (?bom=1).
	FormatCSVBOM Format = "csv+bom"
	// FormatXLSX is a workbook: the rows, every dimension table and the
	// dictionary, one sheet each.
	FormatXLSX Format = "xlsx"
	// FormatParquet is the rows as Parquet, with typed columns.
	FormatParquet Format = "parquet"
)

// ParseFormat validates a format name (the file extension).
func ParseFormat(s string) (Format, error) {
	switch Format(strings.ToLower(s)) {
	case FormatNDJSON:
		return FormatNDJSON, nil
	case FormatCSV:
		return FormatCSV, nil
	case FormatXLSX:
		return FormatXLSX, nil
	case FormatParquet:
		return FormatParquet, nil
	}
	return "", apperr.Invalid("format", "unknown format %q: use ndjson, csv, xlsx or parquet", s)
}

// SnapshotFilter selects the records of a snapshot. Zero fields do not
// filter.
type SnapshotFilter struct {
	// Jurisdiction is a subtree root (any level).
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// ReportedFrom and ReportedTo bound reported_at (from inclusive, to
	// exclusive).
	ReportedFrom *time.Time     `json:"reportedFrom,omitempty"`
	ReportedTo   *time.Time     `json:"reportedTo,omitempty"`
	Kind         cases.Kind     `json:"kind,omitempty"`
	Sources      []cases.Source `json:"sources,omitempty"`
}

// Profile says how far a snapshot is anonymised beyond the fixed rules
// (direct identifiers dropped, ids pseudonymised, locations generalised to
// the community, times truncated to the hour). The zero Profile is the
// strictest and the default.
type Profile struct {
	// KeepText keeps the free text (description, rating comment), with
	// phone numbers, ID numbers, plates and the reporter's name removed.
	KeepText bool `json:"keepText"`
	// Coordinates adds the location rounded to 0.001° (about 100 m) to the
	// community.
	Coordinates bool `json:"coordinates"`
}

// Column is one column of a snapshot's schema: its entry in the data
// dictionary.
type Column struct {
	Name string `json:"name"`
	// Type is string, integer, number, boolean or timestamp (RFC 3339 UTC,
	// truncated to the hour).
	Type string `json:"type"`
	// Unit of a number ("working hours", "m²", "degrees"); empty otherwise.
	Unit string `json:"unit,omitempty"`
	// About says what the column holds and how it was derived (English).
	About string `json:"about"`
	// AboutZH is About in Chinese.
	AboutZH string `json:"aboutZh,omitempty"`
	// Anonymization says how the value was anonymized or generalized
	// ("none" when it is published as recorded).
	Anonymization string `json:"anonymization,omitempty"`
}

func col(name, typ, unit, about, aboutZH, anon string) Column {
	return Column{Name: name, Type: typ, Unit: unit, About: about, AboutZH: aboutZH, Anonymization: anon}
}

// Rendering is one format's content in a manifest.
type Rendering struct {
	SHA256 string `json:"sha256"` // hex SHA-256 of the exact bytes served
	Bytes  int64  `json:"bytes"`
}

// Manifest describes a frozen snapshot. It never changes.
type Manifest struct {
	ID      uuid.UUID      `json:"id"`
	Dataset string         `json:"dataset"`
	Filter  SnapshotFilter `json:"filter"`
	Profile Profile        `json:"profile"`
	Columns []Column       `json:"columns"`
	Rows    int64          `json:"rows"`
	NDJSON  Rendering      `json:"ndjson"`
	CSV     Rendering      `json:"csv"`
	// CSVBOM is the CSV rendering preceded by a UTF-8 byte order mark.
	CSVBOM Rendering `json:"csvBom"`
	// XLSX is the workbook; nil when the rows exceed Excel's sheet limit
	// or the snapshot predates workbooks.
	XLSX *Rendering `json:"xlsx,omitempty"`
	// Parquet is the rows as Parquet; nil when the snapshot predates it.
	Parquet *Rendering `json:"parquet,omitempty"`
	// Tables are the dimension tables and the data dictionary frozen with
	// the snapshot, with their columns described and their files' checksums.
	Tables        []TableManifest `json:"tables,omitempty"`
	PolicyVersion string          `json:"policyVersion"`
	RulesVersion  int             `json:"rulesVersion"`
	CreatedBy     string          `json:"createdBy"`
	CreatedAt     time.Time       `json:"createdAt"`
	// Organisation is the evaluation organisation the snapshot was made for
	// and its contract; nil when the district's own staff made it.
	Organisation *OrgRef `json:"organisation,omitempty"`
	// KAnonymity says what was generalized so that every combination of
	// the quasi-identifiers holds at least K rows; nil for snapshots made
	// before it.
	KAnonymity *KAnonymity `json:"kAnonymity,omitempty"`
}

// Rendering returns the manifest's entry for a format.
func (m *Manifest) Rendering(f Format) Rendering {
	switch f {
	case FormatCSV:
		return m.CSV
	case FormatCSVBOM:
		return m.CSVBOM
	case FormatXLSX:
		if m.XLSX != nil {
			return *m.XLSX
		}
		return Rendering{}
	case FormatParquet:
		if m.Parquet != nil {
			return *m.Parquet
		}
		return Rendering{}
	}
	return m.NDJSON
}

// Table returns the manifest entry of a frozen table.
func (m *Manifest) Table(name string) (TableManifest, bool) {
	for _, t := range m.Tables {
		if t.Name == name {
			return t, true
		}
	}
	return TableManifest{}, false
}

// CSVHeader returns the CSV header line (without its newline).
func (m *Manifest) CSVHeader() string { return csvHeader(m.Columns) }

func csvHeader(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// SourceCase is a case as the snapshot reads it, personal data included;
// it never leaves the server.
type SourceCase struct {
	ID                                     uuid.UUID
	CaseNo                                 string
	Kind, MajorCode, MinorCode             string
	Source, Status                         string
	Description, Address                   string
	Lat, Lng                               float64
	JurisdictionCode, Street, Community    string
	HandlingDept                           string
	ReporterName, ReporterPhone, CitizenID string
	PhotoURLs                              []string
	ReportedAt                             time.Time
	RegisteredAt, DispatchedAt, Deadline   *time.Time
	HandledAt, ClosedAt                    *time.Time
	ReworkCount, DeferCount                int
	// FirstHandledAt and FirstDeadline: the first handling and the
	// deadline it was judged against (a rework does not reset punctuality).
	FirstHandledAt, FirstDeadline *time.Time
	Rating                        *int
	RatingComment                 string
	ExternalID                    string
}

// Anonymizer turns source records into snapshot rows under one snapshot's
// key, profile and generalization. What it drops, keeps and derives is the
// schema: see Columns.
type Anonymizer struct {
	dataset string
	key     []byte
	profile Profile
	cal     WorkingTime
	loc     *time.Location
	gen     Generalization
	// suppressed are the keys (under gen) of the combinations Plan
	// withheld.
	suppressed map[string]bool
	cols       []Column
	last       []value // the row Render rendered last, for the binary formats
}

// NewAnonymizer returns an anonymizer for a snapshot of cases with a
// 32-byte key.
func NewAnonymizer(key []byte, p Profile, cal WorkingTime) *Anonymizer {
	a, _ := NewDatasetAnonymizer(cases.Dataset, key, p, cal)
	return a
}

// NewDatasetAnonymizer returns an anonymizer for a snapshot of dataset
// (one of SnapshotDatasets); BAD_USER_INPUT for another.
func NewDatasetAnonymizer(dataset string, key []byte, p Profile, cal WorkingTime) (*Anonymizer, error) {
	d, ok := snapshotDataset(dataset)
	if !ok {
		return nil, apperr.Invalid("dataset", "unknown dataset %q: snapshots can be made of %s", dataset, strings.Join(SnapshotDatasets(), ", "))
	}
	// Until Plan says otherwise, nothing is generalized.
	a := &Anonymizer{dataset: dataset, key: key, profile: p, cal: cal, loc: time.UTC, gen: Generalization{Coordinates: p.Coordinates}}
	if cal != nil {
		a.loc = cal.Location()
	}
	a.cols = d.columns(p)
	return a, nil
}

// Dataset returns the dataset the anonymizer renders.
func (a *Anonymizer) Dataset() string { return a.dataset }

// Columns returns the schema.
func (a *Anonymizer) Columns() []Column { return a.cols }

const (
	anonNone  = "none: published as recorded"
	anonHour  = "generalized: truncated to the hour (UTC)"
	anonExact = "derived from the exact times before they were truncated"
)

func caseColumns(p Profile) []Column {
	cols := []Column{
		col("case_ref", "string", "", "pseudonym of the case: first 16 bytes of HMAC-SHA256 of the case id under a key unique to this snapshot (hex)",
			"案件假名标识：以本快照专用密钥对案件编号做 HMAC-SHA256 后取前 16 字节（十六进制）", "pseudonymized: keyed HMAC, key never leaves the server"),
		col("kind", "string", "", "COMPONENT or EVENT (table kinds)", "案件类型：部件或事件（见 kinds 表）", anonNone),
		col("major_code", "string", "", "major class code (table case_classes)", "大类代码（见 case_classes 表）", anonNone),
		col("minor_code", "string", "", "minor class code (table case_classes, with kind)", "小类代码（与 kind 一起对应 case_classes 表）", anonNone),
		col("source", "string", "", "how the case reached the platform (table sources)", "案件来源（见 sources 表）", anonNone),
		col("citizen_raised", "boolean", "", "source is CITIZEN_REPORT or HOTLINE_12345", "是否由市民上报（市民上报或 12345 热线）", anonNone),
		col("status", "string", "", "lifecycle status when the snapshot was taken (table statuses)", "快照生成时的案件状态（见 statuses 表）", anonNone),
		col("street_code", "string", "", "street or town (table jurisdictions)", "街道或镇（见 jurisdictions 表）", anonNone),
		col("community_code", "string", "", "community or village: the location generalized (table jurisdictions)", "社区或村：位置泛化到社区（见 jurisdictions 表）",
			"generalized: exact location, address and grid replaced by the community"),
	}
	if p.Coordinates {
		cols = append(cols,
			col("lat", "number", "degrees (WGS-84)", "latitude rounded to 0.001° (about 100 m)", "纬度，保留到 0.001°（约 100 米）", "generalized: rounded to 0.001°"),
			col("lng", "number", "degrees (WGS-84)", "longitude rounded to 0.001°", "经度，保留到 0.001°", "generalized: rounded to 0.001°"))
	}
	cols = append(cols,
		col("handling_dept", "string", "", "department the case was dispatched to (table departments)", "处置部门（见 departments 表）", anonNone),
		col("reported_at", "timestamp", "", "when the case was reported", "上报时间", anonHour),
		col("registered_at", "timestamp", "", "when the case was registered (立案)", "立案时间", anonHour),
		col("dispatched_at", "timestamp", "", "when the case was dispatched (派遣)", "派遣时间", anonHour),
		col("deadline", "timestamp", "", "final deadline (extended by deferrals, reset by rework)", "最终处置时限（缓办延长、返工重置）", anonHour),
		col("handled_at", "timestamp", "", "last handling", "最后一次处置时间", anonHour),
		col("closed_at", "timestamp", "", "when the case was closed (结案)", "结案时间", anonHour),
		col("handled_on_time", "boolean", "", "handled_at ≤ deadline and the first handling by its own deadline (a rework does not reset punctuality; null unless handled with a deadline)", "是否按期处置（首次处置超期即为超期；无时限或未处置时为空）", anonExact),
		col("closed_on_time", "boolean", "", "closed_at ≤ closure deadline (deadline + the class's verification limit) and the first handling not late (null unless closed with a deadline)", "是否按期结案（以结案时限=处置时限+核查时限判断，首次处置超期即为超期；无时限或未结案时为空）", anonExact),
		col("handling_work_hours", "number", "working hours", "working hours from dispatch to handling (2 decimals)", "派遣至处置的工作时长（小时，两位小数）", anonExact),
		col("rework_count", "integer", "times", "times verification failed", "核查不通过（返工）次数", anonNone),
		col("defer_count", "integer", "times", "times the deadline was extended", "延期次数", anonNone),
		col("rating", "integer", "stars (1–5)", "reporter's satisfaction, 1–5", "上报人满意度评价，1–5 星", "reporter identity removed"),
	)
	if p.KeepText {
		cols = append(cols,
			col("description", "string", "", "free text with phone numbers, ID numbers, plates and the reporter's name removed", "案件描述，已删除电话、身份证号、车牌和上报人姓名",
				"scrubbed: personal data patterns replaced by [removed]"),
			col("rating_comment", "string", "", "free text, scrubbed like description", "评价留言，处理方式同描述", "scrubbed: personal data patterns replaced by [removed]"))
	}
	return cols
}

// Pseudonym returns the pseudonym of a record id under key.
func Pseudonym(key []byte, id uuid.UUID) string {
	m := hmac.New(sha256.New, key)
	m.Write(id[:])
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// PseudonymOf returns the pseudonym of a textual id (an inspector's
// register id) under key.
func PseudonymOf(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// value is one cell of a snapshot row.
type value struct {
	kind byte // 0 null, 's' string, 'i' integer, 'n' number (already formatted), 'b' boolean
	s    string
	i    int64
	b    bool
}

// Render appends the NDJSON line and the CSV line of r (without newlines)
// to nd and csv and returns them.
func (a *Anonymizer) Render(r Record, nd, csv []byte) ([]byte, []byte) {
	vals := r.values(a)
	a.last = vals
	return renderNDJSON(nd, a.cols, vals), renderCSV(csv, vals)
}

// hour renders a time as the profile and generalization allow: truncated
// to the hour, or to the part of day when the hour was generalized.
func (a *Anonymizer) hour(t *time.Time) value {
	if t == nil {
		return value{}
	}
	if a.gen.Day {
		l := t.In(a.loc)
		return str(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, a.loc).UTC().Format(time.RFC3339))
	}
	if a.gen.PartOfDay {
		return str(partOfDay(*t, a.loc).UTC().Format(time.RFC3339))
	}
	return str(t.UTC().Truncate(time.Hour).Format(time.RFC3339))
}

// community renders a community code unless it was generalized to the
// street.
func (a *Anonymizer) community(code string) value {
	if a.gen.Street {
		return value{}
	}
	return optStr(code)
}

// minor renders a minor class code unless it was generalized to the major
// class.
func (a *Anonymizer) minor(code string) value {
	if a.gen.Major {
		return value{}
	}
	return optStr(code)
}

// major renders a major class code unless it was generalized to the kind.
func (a *Anonymizer) major(code string) value {
	if a.gen.KindOnly {
		return value{}
	}
	return optStr(code)
}

// coords renders rounded coordinates unless the location was generalized
// beyond them.
func (a *Anonymizer) coords(lat, lng float64) []value {
	if a.gen.Location() != LocationCoordinates {
		return []value{{}, {}}
	}
	return []value{coord(lat), coord(lng)}
}

func onTime(t, deadline *time.Time) value {
	if t == nil || deadline == nil {
		return value{}
	}
	return value{kind: 'b', b: !t.After(*deadline)}
}

// firstLate reports whether the first handling came after its deadline: a
// late first handling stays late whatever a rework's handling did.
func (c *SourceCase) firstLate() bool {
	return c.FirstHandledAt != nil && c.FirstDeadline != nil && c.FirstHandledAt.After(*c.FirstDeadline)
}

// handledOnTime is the indicators' rule: the last handling by the
// deadline and the first by its own.
func (c *SourceCase) handledOnTime() value {
	v := onTime(c.HandledAt, c.Deadline)
	if v.kind == 'b' && c.firstLate() {
		v.b = false
	}
	return v
}

// closedOnTime is the indicators' rule: closed by the closure deadline (the
// handling deadline plus the class's verification limit), the first
// handling not late.
func (c *SourceCase) closedOnTime(cal WorkingTime) value {
	if c.ClosedAt == nil || c.Deadline == nil {
		return value{}
	}
	closeBy := *c.Deadline
	if cl, ok := cases.DefaultCatalogue().Lookup(cases.Kind(c.Kind), c.MinorCode); ok && cal != nil {
		closeBy = cl.ClosureDeadline(cal, *c.Deadline)
	}
	return value{kind: 'b', b: !c.ClosedAt.After(closeBy) && !c.firstLate()}
}

func (c *SourceCase) quasi() Quasi {
	return Quasi{Street: c.Street, Community: c.Community, Class: c.Kind + "/" + c.MinorCode, Major: c.Kind + "/" + c.MajorCode,
		Kind: c.Kind, At: c.ReportedAt, Lat: c.Lat, Lng: c.Lng}
}

func (c *SourceCase) values(a *Anonymizer) []value {
	vals := make([]value, 0, len(a.cols))
	vals = append(vals, str(Pseudonym(a.key, c.ID)), str(c.Kind), a.major(c.MajorCode), a.minor(c.MinorCode), str(c.Source),
		value{kind: 'b', b: citizenSource(c.Source)}, str(c.Status), str(c.Street), a.community(c.Community))
	if a.profile.Coordinates {
		vals = append(vals, a.coords(c.Lat, c.Lng)...)
	}
	vals = append(vals, optStr(c.HandlingDept), a.hour(&c.ReportedAt), a.hour(c.RegisteredAt), a.hour(c.DispatchedAt),
		a.hour(c.Deadline), a.hour(c.HandledAt), a.hour(c.ClosedAt), c.handledOnTime(), c.closedOnTime(a.cal))
	if c.DispatchedAt != nil && c.HandledAt != nil && a.cal != nil {
		h := a.cal.WorkingDuration(*c.DispatchedAt, *c.HandledAt).Hours()
		if h < 0 {
			h = 0
		}
		vals = append(vals, value{kind: 'n', s: strconv.FormatFloat(math.Round(h*100)/100, 'f', -1, 64)})
	} else {
		vals = append(vals, value{})
	}
	vals = append(vals, value{kind: 'i', i: int64(c.ReworkCount)}, value{kind: 'i', i: int64(c.DeferCount)})
	if c.Rating != nil {
		vals = append(vals, value{kind: 'i', i: int64(*c.Rating)})
	} else {
		vals = append(vals, value{})
	}
	if a.profile.KeepText {
		vals = append(vals, optStr(Scrub(c.Description, c.ReporterName)), optStr(Scrub(c.RatingComment, c.ReporterName)))
	}
	return vals
}

func coord(v float64) value {
	return value{kind: 'n', s: strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)}
}

func renderNDJSON(b []byte, cols []Column, vals []value) []byte {
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, cols[i].Name)
		b = append(b, ':')
		switch v.kind {
		case 's':
			b = appendJSONString(b, v.s)
		case 'i':
			b = strconv.AppendInt(b, v.i, 10)
		case 'n':
			b = append(b, v.s...)
		case 'b':
			b = strconv.AppendBool(b, v.b)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func renderCSV(b []byte, vals []value) []byte {
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		switch v.kind {
		case 's':
			// Text only: numbers such as -3.5 must stay numbers.
			b = appendCSVField(b, csvcell.Text(v.s))
		case 'i':
			b = strconv.AppendInt(b, v.i, 10)
		case 'n':
			b = append(b, v.s...)
		case 'b':
			b = strconv.AppendBool(b, v.b)
		}
	}
	return b
}

// appendCSVField quotes a field when it holds a comma, a quote, a line
// break or leading/trailing space (RFC 4180; quotes doubled).
func appendCSVField(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD") // as the NDJSON rendering does
	}
	if s == "" || !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: the escapes of
// encoding/json without HTML escaping, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// PolicyVersion returns "sha256:" and the hex SHA-256 of the policy files
// (every regular file of fsys, in name order, each as its name, a NUL, its
// length and its bytes), so a manifest names exactly the rules it was made
// under.
func PolicyVersion(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(len(data))))
		h.Write([]byte{0})
		h.Write(data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
