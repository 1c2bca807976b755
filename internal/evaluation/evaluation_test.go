package evaluation

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
)

func TestPeriods(t *testing.T) {
	loc := calendar.Default().Location()
	// 31 March 23:30 in Shanghai is still March, though it is 15:30 UTC.
	m := MonthOf(time.Date(2025, 3, 31, 15, 30, 0, 0, time.UTC), loc)
	if m.String() != "2025-03" {
		t.Errorf("month = %s", m)
	}
	if MonthOf(time.Date(2025, 3, 31, 16, 0, 0, 0, time.UTC), loc).String() != "2025-04" {
		t.Error("1 April 00:00 local is April")
	}
	for _, c := range []struct {
		p           Period
		start, last string
	}{{PeriodMonth, "2025-05", "2025-05"}, {PeriodQuarter, "2025-04", "2025-06"}, {PeriodYear, "2025-01", "2025-12"}} {
		may := MonthFromDate(time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC))
		if got := c.p.Start(may).String(); got != c.start {
			t.Errorf("%s start = %s, want %s", c.p, got, c.start)
		}
		if got := c.p.Last(may).String(); got != c.last {
			t.Errorf("%s last = %s, want %s", c.p, got, c.last)
		}
	}
	if end := periodEnd(MonthFromDate(time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)), 1, loc); !end.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, loc)) {
		t.Errorf("end of Q4 = %v", end)
	}
}

func TestValidateClampsToCurrentPeriod(t *testing.T) {
	loc := calendar.Default().Location()
	now := time.Date(2025, 6, 20, 12, 0, 0, 0, loc)
	q := Query{Period: PeriodMonth, From: time.Date(2025, 4, 15, 0, 0, 0, 0, loc), To: time.Date(2026, 1, 1, 0, 0, 0, 0, loc)}
	from, to, err := q.validate(now, loc)
	if err != nil || from.String() != "2025-04" || to.String() != "2025-07" {
		t.Errorf("from %s to %s err %v; want 2025-04 .. 2025-07 (exclusive)", from, to, err)
	}
	// To is exclusive: a period starting exactly at To is not included.
	q = Query{Period: PeriodQuarter, From: time.Date(2025, 1, 1, 0, 0, 0, 0, loc), To: time.Date(2025, 4, 1, 0, 0, 0, 0, loc)}
	if from, to, err = q.validate(now, loc); err != nil || from.String() != "2025-01" || to.String() != "2025-04" {
		t.Errorf("Q1: %s..%s %v", from, to, err)
	}
}

func TestP90(t *testing.T) {
	h := make([]int64, HistBuckets)
	if _, _, ok := p90Hours(h); ok {
		t.Error("p90 of nothing")
	}
	// Ten cases: nine of ≤ 1 h, one of 40 h: rank 9 → 1 h.
	h[1], h[histBucket(40*3600)] = 9, 1
	if v, rank, _ := p90Hours(h); v != 1 || rank != 9 {
		t.Errorf("p90 = %v (rank %d)", v, rank)
	}
	h[1] = 8
	h[histBucket(2*3600)] = 1
	if v, _, _ := p90Hours(h); v != 2 {
		t.Errorf("p90 = %v, want 2", v)
	}
	if histBucket(10*3600) != 7 || histBucket(10*3600+1) != 8 || histBucket(1000*3600) != HistBuckets-1 {
		t.Error("bucket edges are inclusive upper bounds")
	}
	if len(HistEdgesHours)+1 != HistBuckets || len(CounterColumns) != NumCounters {
		t.Error("counter layout")
	}
}

func TestScrub(t *testing.T) {
	in := "王小明说：电话13912345678、0523-86881234，身份证32120219900101123X，车牌苏M12345和苏A·B2C3D，门牌12号；" +
		"又打139 1234 5678、139-1234-5678、+86 138 0000 1111、0523 86881235"
	got := Scrub(in, "王小明")
	for _, bad := range []string{"王小明", "13912345678", "86881234", "32120219900101123X", "苏M12345", "苏A·B2C3D",
		"1234 5678", "1234-5678", "0000 1111", "86881235"} {
		if strings.Contains(got, bad) {
			t.Errorf("scrubbed text %q still holds %q", got, bad)
		}
	}
	// House numbers go too; the words around them stay.
	if strings.Contains(got, "12号") || !strings.Contains(got, "门牌") || !strings.Contains(got, "又打") {
		t.Errorf("scrubbed text %q: want the house number removed and the words kept", got)
	}
}

func TestRenderRoundTrips(t *testing.T) {
	cal := calendar.Default()
	a := NewAnonymizer(bytes.Repeat([]byte{7}, 32), Profile{KeepText: true, Coordinates: true}, cal)
	d := time.Date(2025, 4, 15, 2, 0, 0, 0, time.UTC)
	h := d.Add(26 * time.Hour)
	r := 3
	c := &SourceCase{ID: uuid.New(), Kind: "EVENT", MajorCode: "05", MinorCode: "0501", Source: "HOTLINE_12345", Status: "CLOSED",
		Description: "引号\"逗号,换行\n制表\t控制\x01 unicode\u2028 invalid\xff", Lat: 32.49151, Lng: 119.92049,
		Street: "hailing.x", Community: "hailing.x.y", ReportedAt: d.Add(-17 * time.Minute), RegisteredAt: &d, DispatchedAt: &d, HandledAt: &h, Rating: &r}
	nd, cv := a.Render(c, nil, nil)
	var obj map[string]any
	if err := json.Unmarshal(nd, &obj); err != nil {
		t.Fatalf("ndjson %s: %v", nd, err)
	}
	if obj["description"] != "引号\"逗号,换行\n制表\t控制\x01 unicode\u2028 invalid\ufffd" || obj["lat"] != 32.492 || obj["lng"] != 119.92 ||
		obj["reported_at"] != "2025-04-15T01:00:00Z" || obj["citizen_raised"] != true || obj["closed_at"] != nil ||
		obj["handling_work_hours"] != 9.5 /* Tue 10:00 → Wed 12:00: 2 + 4 + 3.5 */ || obj["rating"] != 3.0 || obj["case_ref"] != Pseudonym(a.key, c.ID) {
		t.Errorf("ndjson: %s", nd)
	}
	// Keys come in schema order.
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(nd))
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v any
		_ = dec.Decode(&v)
	}
	for i, col := range a.Columns() {
		if keys[i] != col.Name {
			t.Fatalf("key %d = %s, schema %s", i, keys[i], col.Name)
		}
	}
	rec, err := csv.NewReader(strings.NewReader(string(cv) + "\n")).Read()
	if err != nil {
		t.Fatalf("csv %q: %v", cv, err)
	}
	if len(rec) != len(a.Columns()) {
		t.Fatalf("csv has %d fields, schema %d", len(rec), len(a.Columns()))
	}
	for i, col := range a.Columns() {
		want := obj[col.Name]
		var s string
		switch v := want.(type) {
		case nil:
		case string:
			s = v
		default:
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if col.Name == "description" {
			s = strings.ReplaceAll(s, "\r", "")
		}
		if rec[i] != s {
			t.Errorf("csv %s = %q, ndjson %q", col.Name, rec[i], s)
		}
	}
	// Another key, another pseudonym; same key, same.
	once, again := Pseudonym([]byte("k1"), c.ID), Pseudonym([]byte("k1"), c.ID)
	if once == Pseudonym([]byte("k2"), c.ID) || once != again {
		t.Error("pseudonyms")
	}
}

func TestContributeIsExactlyUndone(t *testing.T) {
	r := NewRules(calendar.Default())
	loc := r.Location()
	at := func(s string) *time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, loc)
		return &v
	}
	f := r.Facts(CaseState{Street: "s", Community: "c", Dept: "d", Kind: "EVENT", Major: "05", Source: "CITIZEN_REPORT",
		Status: "CLOSED", RegisteredAt: at("2025-04-14 09:00"), DispatchedAt: at("2025-04-14 09:30"), Deadline: at("2025-05-15 09:30"),
		HandledAt: at("2025-06-14 11:30"), ClosedAt: at("2025-07-14 15:00"), ReworkCount: 1, Rating: ptr(4)}, MonthOf(*at("2025-09-01 00:00"), loc))
	sum := map[Key]*Counters{}
	add := func(k Key, c Counter, v int64) {
		if sum[k] == nil {
			sum[k] = new(Counters)
		}
		sum[k][c] += v
	}
	r.Contribute(&f, 1, add)
	if len(sum) < 4 {
		t.Fatalf("contributed to %d months", len(sum))
	}
	// Open at the end of April, May and June (closed in July).
	var open int64
	for _, c := range sum {
		open += c[COpenEOM]
	}
	if open != 3 {
		t.Errorf("open at %d month ends, want 3", open)
	}
	r.Contribute(&f, -1, add)
	for k, c := range sum {
		if !c.Zero() {
			t.Errorf("%v not undone: %v", k, c)
		}
	}
	if r.Sensitive(&f) {
		t.Error("a case closed before the horizon month is not sensitive")
	}
}

// TestFilterNarrowing: every filter field but the jurisdiction narrows the
// cases below period and jurisdiction, so it must make the filter
// case-specific (and trigger the complement check) and be dropped by Wide.
// A field added to Filter without updating caseSpecific fails here.
func TestFilterNarrowing(t *testing.T) {
	full := Filter{Jurisdiction: "hailing.chengxi", Kind: cases.KindEvent, MajorCode: "05",
		Sources: []cases.Source{cases.SourceHotline12345}, HandlingDept: "housing"}
	rv := reflect.ValueOf(full)
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if rv.Field(i).IsZero() {
			t.Fatalf("the test's filter leaves %s empty: set it", name)
		}
		var one Filter
		reflect.ValueOf(&one).Elem().Field(i).Set(rv.Field(i))
		if got := one.caseSpecific(); got != (name != "Jurisdiction") {
			t.Errorf("a filter on %s alone: caseSpecific = %v", name, got)
		}
	}
	if w := full.Wide(); !reflect.DeepEqual(w, Filter{Jurisdiction: full.Jurisdiction}) || w.caseSpecific() {
		t.Errorf("Wide() = %+v, want the jurisdiction alone", w)
	}
}

// TestSmallCellsRule: a figure is hidden when a base it is judged on, or
// that base's complement, counts 1 to k−1 cases; zero is fine; a negative
// complement cannot be judged and hides; k = 0 (staff) hides nothing.
func TestSmallCellsRule(t *testing.T) {
	comp := func(n int64) *bases { var b bases; b[bRated] = n; return &b }
	for _, c := range []struct {
		name   string
		k      int
		own    int64
		comp   *bases
		hidden bool
	}{
		{"no complement, large", 5, 6, nil, false},
		{"no complement, small", 5, 4, nil, true},
		{"no complement, zero", 5, 0, nil, false},
		{"complement 1", 5, 5, comp(1), true},
		{"complement 4", 5, 5, comp(4), true},
		{"complement 0", 5, 6, comp(0), false},
		{"complement 5", 5, 5, comp(5), false},
		{"own 0, complement 3", 5, 0, comp(3), true},
		{"negative complement", 5, 6, comp(-1), true},
		{"staff", 0, 1, comp(1), false},
	} {
		sc := smallCells{k: c.k, comp: c.comp}
		sc.own[bRated] = c.own
		if got := sc.hides(bRated); got != c.hidden {
			t.Errorf("%s: hides = %v, want %v", c.name, got, c.hidden)
		}
	}
	// A figure judged on two bases (rating coverage: closed and rated) is
	// hidden when either is small.
	sc := smallCells{k: 5}
	sc.own[bClosed], sc.own[bRated] = 8, 1
	if !sc.hides(bClosed, bRated) {
		t.Error("1 rated of 8 closed: rating coverage shown")
	}
}

// TestComplementPeriods: the period rule on a hand-made year of one group
// (registered counts): a lone hidden month takes its smallest non-zero
// sibling with it; a lone hidden quarter takes another quarter, which then
// takes one of its months; a current quarter with one month reported so far
// hides the quarter with the month. No equation keeps exactly one hidden
// cell.
func TestComplementPeriods(t *testing.T) {
	y := Month(2025 * 12)
	var tables [3]periodTable
	for i := range tables {
		tables[i].accs = map[rowKey]*rowAcc{}
		tables[i].bases = map[rowKey]*bases{}
		tables[i].hidden = map[rowKey]*hiddenBases{}
	}
	set := func(grain int, m Month, n int64, hidden bool) {
		k := rowKey{m, Group{}}
		var b bases
		var h hiddenBases
		b[bRegistered], h[bRegistered] = n, hidden
		tables[grain].accs[k], tables[grain].bases[k], tables[grain].hidden[k] = &rowAcc{}, &b, &h
	}
	// Months Jan..Oct reported (October is current). Q1: 3, 9, 0 (January
	// small). Q2: 20, 30, 40. Q3: 1, 0, 3 (the quarter, 4, small too).
	months := []int64{3, 9, 0, 20, 30, 40, 1, 0, 3, 7}
	for i, n := range months {
		set(0, y+Month(i), n, n > 0 && n < 5)
	}
	quarters := []int64{12, 90, 4, 7}
	for i, n := range quarters {
		set(1, y+Month(3*i), n, n > 0 && n < 5)
	}
	set(2, y, 113, false)
	complementPeriods(&tables, y, y+10)
	hid := func(grain int, m Month) bool { return tables[grain].hidden[rowKey{m, Group{}}][bRegistered] }
	// Q1: January hidden → February (9; March is 0) too.
	if !hid(0, y+1) || hid(0, y+2) || hid(1, y) {
		t.Errorf("Q1: Feb %v Mar %v Q1 %v; want Feb hidden only", hid(0, y+1), hid(0, y+2), hid(1, y))
	}
	// Q3 (4) hidden → among Q1, Q2 and Q4 (current: October only) the
	// smallest non-zero is Q4 (7), whose only month goes with it.
	if !hid(1, y+9) || !hid(0, y+9) || hid(1, y+3) || hid(2, y) {
		t.Errorf("year: Q4 %v Oct %v Q2 %v year %v; want Q4 and October hidden", hid(1, y+9), hid(0, y+9), hid(1, y+3), hid(2, y))
	}
	// No equation keeps a lone hidden cell.
	for q := y; q < y+12; q += 3 {
		n := 0
		for _, c := range []struct {
			g int
			m Month
		}{{1, q}, {0, q}, {0, q + 1}, {0, q + 2}} {
			if tables[c.g].hidden[rowKey{c.m, Group{}}] != nil && hid(c.g, c.m) {
				n++
			}
		}
		if n == 1 {
			t.Errorf("quarter %s: one hidden cell", q)
		}
	}
}

// TestReworkDoesNotResetPunctuality: a case handled late the first time
// is neither handled nor closed on time, however punctual its handling
// after the rework; closure is judged against the closure deadline (the
// handling deadline + 2 working hours for 店外经营).
func TestReworkDoesNotResetPunctuality(t *testing.T) {
	r := NewRules(calendar.Default())
	loc := r.Location()
	at := func(s string) *time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, loc)
		return &v
	}
	base := CaseState{Street: "s", Community: "c", Dept: "d", Kind: "EVENT", Major: "05", Minor: "0501", Source: "INSPECTOR_PATROL",
		Status: "CLOSED", ReportedAt: at("2025-05-12 08:50"), RegisteredAt: at("2025-05-12 09:00"), DispatchedAt: at("2025-05-12 09:00"),
		Deadline: at("2025-05-14 11:00"), HandledAt: at("2025-05-14 10:00"), ClosedAt: at("2025-05-14 10:30"), ReworkCount: 1}
	onTime := func(s CaseState) (handled, closed int64) {
		f := r.Facts(s, MonthOf(*at("2025-06-20 12:00"), loc))
		r.Contribute(&f, 1, func(_ Key, c Counter, v int64) {
			switch c {
			case CHandledOnTime:
				handled += v
			case CClosedOnTime:
				closed += v
			}
		})
		return handled, closed
	}
	late := base
	late.FirstHandledAt, late.FirstDeadline = at("2025-05-13 10:00"), at("2025-05-13 09:00")
	if h, c := onTime(late); h != 0 || c != 0 {
		t.Errorf("first handling late: on time %d handled, %d closed; want 0, 0", h, c)
	}
	punctual := base
	punctual.FirstHandledAt, punctual.FirstDeadline = at("2025-05-12 15:00"), at("2025-05-13 09:00")
	if h, c := onTime(punctual); h != 1 || c != 1 {
		t.Errorf("first handling on time: on time %d handled, %d closed; want 1, 1", h, c)
	}
	// Closed an hour after the handling deadline: within the 2 working
	// hours of verification (on time), then after them (late).
	closure := base
	closure.ReworkCount, closure.ClosedAt = 0, at("2025-05-14 12:00")
	if _, c := onTime(closure); c != 1 {
		t.Errorf("closed within the closure deadline: %d on time, want 1", c)
	}
	closure.ClosedAt = at("2025-05-14 14:31")
	if _, c := onTime(closure); c != 0 {
		t.Errorf("closed after the closure deadline (14:30): %d on time, want 0", c)
	}
}
