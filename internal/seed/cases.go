package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/google/uuid"
)

// shanghai is China Standard Time. China has no daylight saving time, so a
// fixed zone gives the same local clock as Asia/Shanghai without tzdata.
var shanghai = time.FixedZone("CST", 8*3600)

// citizenPool is how many distinct citizen-app users report cases; the
// draw is skewed so that some citizens report many cases.
const citizenPool = 20_000

// Probabilities of the side paths (per case; see simulate).
const (
	pReturn       = 0.015 // dispatched to the wrong department, returned, re-dispatched
	pBacklog      = 0.014 // parked as backlog (挂账) …
	pBacklogRedo  = 0.30  // … and later re-dispatched after all
	pDefer        = 0.015 // deadline extended (缓办/延期)
	pStuck        = 0.010 // handling drags on for months (overdue pending)
	pRework       = 0.004 // verification fails once
	pRating       = 0.36  // share of closed citizen/hotline cases rated
	pPhotoDefault = 0.6
)

// hourWeight is the relative report volume per local hour: a morning and an
// afternoon peak during office and patrol hours, little at night.
var hourWeight = [24]float64{0.2, 0.1, 0.08, 0.08, 0.12, 0.4, 1.2, 3, 6, 8, 8, 6.5, 3.5, 4, 7, 7.5, 7, 4.5, 2.5, 2, 1.6, 1.2, 0.7, 0.4}

// sourceWeight is the base source mix: inspectors' patrols first, then the
// 12345 hotline, the citizen app, video analytics, drones, enforcement
// terminals, assignments from above and the media.
var sourceWeight = []weighted{
	{string(cases.SourceInspectorPatrol), 44},
	{string(cases.SourceHotline12345), 20},
	{string(cases.SourceCitizenReport), 13},
	{string(cases.SourceVideoAnalytics), 8},
	{string(cases.SourceDronePatrol), 6},
	{string(cases.SourceEnforcementTerminal), 6},
	{string(cases.SourceAssignedBySuperior), 2},
	{string(cases.SourceMedia), 1},
}

// onTimeRate is the share of dispatched cases each kind of department
// handles before the deadline (before the class adjustments).
var onTimeRate = map[string]float64{
	"urban-management": 0.94, "planning": 0.86, "housing": 0.88, "traffic-police": 0.95,
	"water": 0.91, "environment": 0.90, "market-regulation": 0.93, streetDeptToken: 0.95,
}

type classInfo struct {
	cases.Class
	text       classText
	sourceCum  []float64 // cumulative source weights adjusted for the class
	construct  bool      // construction-type class: defers and backlogs more often
	droneClass bool
}

type day struct {
	start, end time.Time // the part of the local day inside [from, now)
	hourW      [24]float64
	count      int
}

// request is an approved deferral or backlog request (case_requests).
type request struct {
	kind          cases.RequestKind
	extraDays     int
	reason        string
	requestedBy   string
	requestedDept string
	requestedAt   time.Time
	caseDeadline  time.Time
	decidedBy     string
	decidedAt     time.Time
}

type event struct {
	action   cases.Action
	from, to cases.Status
	actor    string
	dept     string
	note     string
	at       time.Time
}

// caseRow is one generated case with its timeline, cut at Now.
// compoundClasses are the event classes a case about a residential
// compound falls under: exposed refuse, piled spoil, dumped construction
// waste, illegal construction, laundry hung out.
var compoundClasses = map[string]bool{"0101": true, "0103": true, "0104": true, "0302": true, "0504": true}

type caseRow struct {
	id            uuid.UUID
	propertyID    *uuid.UUID
	no            string
	class         *classInfo
	source        cases.Source
	status        cases.Status
	desc, addr    string
	lat, lng      float64
	grid          *node
	handlingDept  string
	reporterName  string
	reporterPhone string
	citizenID     string
	citizen       int
	photos        []string
	reported      time.Time
	registered    time.Time // zero = NULL
	dispatched    time.Time
	deadline      time.Time
	handled       time.Time
	closed        time.Time
	rework        int
	deferrals     int
	returns       int
	// firstHandled and firstDeadline are the first handling and the
	// deadline it was judged against (kept across a rework).
	firstHandled  time.Time
	firstDeadline time.Time
	// requests are the deferral and backlog requests the command centre
	// approved (the handling department asked before the deadline).
	requests      []request
	rating        int
	ratingComment string
	ratedAt       time.Time
	sourceDept    string
	externalID    string
	updated       time.Time
	version       int
	events        []event
	cut           bool // an event fell after Now: the timeline stops there
}

// generator produces cases in report-time order, deterministically from the
// seed. It holds O(days + grids) state, never the cases themselves: a second
// generator with the same configuration replays the same cases (that is how
// case_events are produced after cases, see Run).
type generator struct {
	// compound names the compound a case is about (Options.Compound).
	compound func(community string, lat, lng float64) *uuid.UUID
	seed     uint64
	now      time.Time
	from     time.Time
	total    int
	cal      Calendar

	// Randomness comes in three streams so that the events pass (which
	// replays the cases) can skip the text: main draws the report times and
	// one seed per case; from that seed, rng drives the case's class, place,
	// source and lifecycle, and txt its description, address, coordinates,
	// reporter and photos.
	main     *rand.Rand
	rng      *rand.Rand
	txt      *rand.Rand
	rngSrc   rand.PCG
	txtSrc   rand.PCG
	withText bool

	tree    *tree
	classes []classInfo
	classW  []float64

	days     []day
	dayIdx   int
	dayTimes []int64 // unix seconds of the current day's reports, sorted
	dayPos   int
	n        int // cases produced so far

	inspectors  [][]string // per street
	dispatchers []string
	handlers    map[string][]string // per department

	sb strings.Builder
	c  caseRow
}

// newGenerator returns a generator of total cases reported in [from, now).
// withText false leaves out what only the cases table needs (description,
// address, coordinates, reporter, photos) and yields the same cases and
// timelines otherwise.
func newGenerator(seed int64, total int, from, now time.Time, cal Calendar, withText bool) *generator {
	g := &generator{
		seed: uint64(seed), now: now, from: from, total: total, cal: cal, withText: withText,
		main: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		tree: buildTree(),
	}
	g.rng = rand.New(&g.rngSrc)
	g.txt = rand.New(&g.txtSrc)
	var cum float64
	for _, cl := range cases.DefaultCatalogue().All() {
		ci := classInfo{Class: cl, text: classTexts[classKey{cl.Kind, cl.MinorCode}]}
		if len(ci.text.details) == 0 {
			ci.text = classText{depts: ws(streetDeptToken, 1), details: []string{cl.MinorName}}
		}
		ci.construct = cl.Kind == cases.KindEvent && cl.MajorCode == "03"
		ci.droneClass = ci.construct || (cl.Kind == cases.KindEvent && (cl.MinorCode == "0103" || cl.MinorCode == "0104"))
		var sc float64
		for _, s := range sourceWeight {
			w := s.w
			switch cases.Source(s.v) {
			case cases.SourceDronePatrol:
				if ci.droneClass {
					w *= 5
				} else if cl.Kind == cases.KindComponent {
					w *= 0.3
				}
			case cases.SourceVideoAnalytics:
				if cl.Kind == cases.KindEvent && cl.MajorCode == "05" {
					w *= 2.5
				} else if cl.Kind == cases.KindComponent {
					w *= 0.3
				}
			case cases.SourceHotline12345:
				if ci.construct || (cl.Kind == cases.KindEvent && cl.MajorCode == "04") || cl.MinorName == "路灯损坏" {
					w *= 2
				}
			}
			sc += w
			ci.sourceCum = append(ci.sourceCum, sc)
		}
		w := cl.Weight
		if w <= 0 {
			w = 1
		}
		cum += float64(w)
		g.classes = append(g.classes, ci)
		g.classW = append(g.classW, cum)
	}
	for _, st := range g.tree.streets {
		var list []string
		for k := 1; k <= 8; k++ {
			list = append(list, fmt.Sprintf("inspector-%03d@urban-management", st.idx*8+k))
		}
		g.inspectors = append(g.inspectors, list)
	}
	for k := 1; k <= 12; k++ {
		g.dispatchers = append(g.dispatchers, fmt.Sprintf("dispatcher-%02d@urban-management", k))
	}
	g.handlers = map[string][]string{}
	for _, d := range Departments() {
		prefix := "handler"
		if d.Kind != "BUREAU" {
			prefix = "officer"
		}
		for k := 1; k <= 10; k++ {
			g.handlers[d.Code] = append(g.handlers[d.Code], fmt.Sprintf("%s-%02d@%s", prefix, k, d.Code))
		}
	}
	g.planDays()
	return g
}

// planDays splits [from, now) into local days and gives each its number of
// reports: weekdays busier than rest days, a mild summer peak and a rising
// trend. Counts are cumulative roundings, so they add up to total exactly.
func (g *generator) planDays() {
	span := g.now.Sub(g.from).Seconds()
	y, m, d := g.from.In(shanghai).Date()
	dayStart := time.Date(y, m, d, 0, 0, 0, 0, shanghai)
	var weights []float64
	var sum float64
	for dayStart.Before(g.now) {
		dayEnd := dayStart.AddDate(0, 0, 1)
		dd := day{start: maxTime(dayStart, g.from), end: minTime(dayEnd, g.now)}
		var hw float64
		for h := range 24 {
			hs := dayStart.Add(time.Duration(h) * time.Hour)
			he := hs.Add(time.Hour)
			ov := minTime(he, dd.end).Sub(maxTime(hs, dd.start))
			if ov > 0 {
				dd.hourW[h] = hourWeight[h] * ov.Hours()
				hw += dd.hourW[h]
			}
		}
		f := 1.0
		if !g.cal.IsWorkingDay(dayStart.Add(12 * time.Hour)) {
			f = 0.5
		}
		t := dayStart.Sub(g.from).Seconds() / span
		trend := 0.88 + 0.24*t
		season := 1 + 0.12*math.Sin(2*math.Pi*float64(dayStart.YearDay()-105)/365)
		w := hw * f * trend * season
		weights = append(weights, w)
		sum += w
		g.days = append(g.days, dd)
		dayStart = dayEnd
	}
	var cum float64
	prev := 0
	for i, w := range weights {
		cum += w
		upto := int(math.Round(float64(g.total) * cum / sum))
		if i == len(weights)-1 {
			upto = g.total
		}
		g.days[i].count = upto - prev
		prev = upto
	}
}

// next generates the next case into g.c; false after the last one.
func (g *generator) next() bool {
	for g.dayPos >= len(g.dayTimes) {
		if g.dayIdx >= len(g.days) {
			return false
		}
		g.fillDay(&g.days[g.dayIdx])
		g.dayIdx++
	}
	reported := time.Unix(g.dayTimes[g.dayPos], 0).UTC()
	g.dayPos++
	g.n++
	g.makeCase(reported)
	return true
}

func (g *generator) fillDay(d *day) {
	g.dayTimes = g.dayTimes[:0]
	g.dayPos = 0
	var cum [24]float64
	var s float64
	for h := range 24 {
		s += d.hourW[h]
		cum[h] = s
	}
	y, m, dd := d.start.In(shanghai).Date()
	midnight := time.Date(y, m, dd, 0, 0, 0, 0, shanghai)
	for range d.count {
		x := g.main.Float64() * s
		h := 0
		for h < 23 && cum[h] <= x {
			h++
		}
		hs := maxTime(midnight.Add(time.Duration(h)*time.Hour), d.start).Unix()
		he := minTime(midnight.Add(time.Duration(h+1)*time.Hour), d.end).Unix()
		t := hs
		if he > hs {
			t = hs + g.main.Int64N(he-hs)
		}
		g.dayTimes = append(g.dayTimes, t)
	}
	slices.Sort(g.dayTimes)
}

func (g *generator) pick(cum []float64) int {
	x := g.rng.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	if i >= len(cum) {
		i = len(cum) - 1
	}
	// BinarySearch finds the first cum >= x; equal means x fell on the
	// boundary, which belongs to the next bucket.
	if cum[i] == x && i+1 < len(cum) {
		i++
	}
	return i
}

func (g *generator) pickW(list []weighted) string {
	var s float64
	for _, w := range list {
		s += w.w
	}
	x := g.rng.Float64() * s
	for _, w := range list {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return list[len(list)-1].v
}

func (g *generator) of(list []string) string { return of(g.rng, list) }

func (g *generator) chance(p float64) bool { return chance(g.rng, p) }

func of(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// dur returns a duration uniformly in [lo, hi).
func (g *generator) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)))
}

// expDur returns an exponentially distributed duration with the given mean.
func (g *generator) expDur(mean time.Duration) time.Duration {
	return time.Duration(g.rng.ExpFloat64() * float64(mean))
}

func (g *generator) makeCase(reported time.Time) {
	c := &g.c
	*c = caseRow{events: c.events[:0], photos: c.photos[:0], requests: c.requests[:0]}
	c.reported = reported
	cs := g.main.Uint64()
	g.rngSrc.Seed(cs, 1)
	g.txtSrc.Seed(cs, 2)
	c.class = &g.classes[g.pick(g.classW)]
	c.grid = g.tree.grids[g.pick(g.tree.gridCum)]
	c.source = cases.Source(sourceWeight[g.pick(c.class.sourceCum)].v)
	// The citizen app and drones grew over the period.
	age := g.now.Sub(reported).Seconds() / g.now.Sub(g.from).Seconds() // 1 = oldest
	if (c.source == cases.SourceCitizenReport || c.source == cases.SourceDronePatrol) && g.chance(0.35*age) {
		c.source = cases.SourceInspectorPatrol
	}
	c.id = g.uuidAt(reported)
	c.no = caseNo(reported, g.n)
	st := c.grid.street
	c.sourceDept = cases.OwnerDept
	switch c.source {
	case cases.SourceEnforcementTerminal:
		c.sourceDept = st.dept
		c.externalID = "ZF" + c.no[2:]
	case cases.SourceVideoAnalytics:
		if c.class.Kind == cases.KindEvent && c.class.MinorCode == "0503" {
			c.sourceDept = "traffic-police"
		}
		c.externalID = "AI" + c.no[2:]
	case cases.SourceDronePatrol:
		c.externalID = "UAV" + c.no[2:]
	case cases.SourceHotline12345:
		c.externalID = "12345-" + c.no[2:]
	case cases.SourceCitizenReport:
		c.citizen = int(citizenPool * math.Pow(g.rng.Float64(), 1.5))
		c.citizenID = citizenID(c.citizen)
	}
	g.simulate()
	if g.withText {
		g.addText()
	}
}

// addText fills in what only the cases table needs, from the txt stream.
func (g *generator) addText() {
	c := &g.c
	sigma := 0.0012
	if c.grid.village {
		sigma = 0.0025
	}
	c.lat = clampLat(c.grid.Lat + g.txt.NormFloat64()*sigma)
	c.lng = clampLng(c.grid.Lng + g.txt.NormFloat64()*sigma)
	if g.compound != nil && c.class.Kind == cases.KindEvent && compoundClasses[c.class.MinorCode] && c.grid.community != nil {
		c.propertyID = g.compound(c.grid.community.Code, c.lat, c.lng)
	}
	g.describe()
	switch c.source {
	case cases.SourceHotline12345:
		c.reporterPhone = mobileDigits(g.txt, caseMobilePrefixes)
		if g.txt.IntN(10) != 0 { // some callers give no name
			c.reporterName = caseNames.nameTenths(g.txt)
		}
	case cases.SourceCitizenReport:
		// A citizen's name and phone follow from the citizen, not the case.
		pr := rand.New(rand.NewPCG(g.seed^0xc1712e4, uint64(c.citizen)))
		c.reporterName = caseNames.nameTenths(pr)
		c.reporterPhone = mobileDigits(pr, caseMobilePrefixes)
	}
	pPhoto := pPhotoDefault
	switch c.source {
	case cases.SourceDronePatrol, cases.SourceVideoAnalytics:
		pPhoto = 0.95
	case cases.SourceCitizenReport:
		pPhoto = 0.75
	case cases.SourceHotline12345, cases.SourceMedia, cases.SourceAssignedBySuperior:
		pPhoto = 0.05
	}
	if g.txt.Float64() < pPhoto {
		base := "https://img.fengcheng.example/cases/" + c.id.String()
		c.photos = append(c.photos, base+".jpg")
		for k := 2; k <= 3 && g.txt.Float64() < 0.35; k++ {
			c.photos = append(c.photos, base+"-"+strconv.Itoa(k)+".jpg")
		}
	}
}

// citizenAppActor is the timeline actor of what citizens do through the
// app: the app's key, not the citizen.
const citizenAppActor = "citizen-app@urban-management"

func citizenID(idx int) string {
	s := strconv.Itoa(idx + 1)
	return "cit-" + strings.Repeat("0", max(0, 6-len(s))) + s
}

// uuidAt returns a version-7 UUID: the report time in milliseconds followed
// by random bits from the seeded stream, so ids sort roughly by report time
// (kind to the primary-key index) and are reproducible.
func (g *generator) uuidAt(t time.Time) uuid.UUID {
	ms := uint64(t.UnixMilli()) + uint64(g.rng.IntN(1000))
	return uuidV7Stream(g.rng, ms)
}

// caseNo formats HL<year>-<7-digit n>, the year of the local report date.
func caseNo(t time.Time, n int) string {
	var b [16]byte
	out := append(b[:0], "HL"...)
	out = strconv.AppendInt(out, int64(t.In(shanghai).Year()), 10)
	out = append(out, '-')
	s := strconv.Itoa(n)
	for range 7 - len(s) {
		out = append(out, '0')
	}
	out = append(out, s...)
	return string(out)
}

// describe writes the description and address of g.c from its class, place
// and source.
func (g *generator) describe() {
	c := &g.c
	st := c.grid.street
	sb := &g.sb
	sb.Reset()
	sb.WriteString(of(g.txt, reportPrefix[c.source]))
	addr := "泰州市海陵区"
	switch {
	case c.grid.village:
		grp := strconv.Itoa(1 + g.txt.IntN(12))
		sb.WriteString(c.grid.stem)
		sb.WriteString("村")
		sb.WriteString(grp)
		sb.WriteString(of(g.txt, villageSpots))
		addr += st.def.nameZh + c.grid.stem + "村" + grp + "组"
	case chance(g.txt, 0.25):
		sp := of(g.txt, communitySpots)
		sb.WriteString(c.grid.stem)
		if sp == "小区" || sp == "小区内" || sp == "小区门口" {
			if strings.HasSuffix(c.grid.stem, "村") {
				sb.WriteString("小区")
			} else {
				sb.WriteString("新村")
			}
			sb.WriteString(strconv.Itoa(1 + g.txt.IntN(40)))
			sb.WriteString("幢")
			if sp == "小区门口" {
				sb.WriteString("附近")
			} else {
				sb.WriteString("楼下")
			}
		} else {
			sb.WriteString("社区")
			sb.WriteString(sp)
		}
		addr += st.def.nameZh + c.grid.stem + "社区"
	case chance(g.txt, 0.15):
		r1 := of(g.txt, st.def.roads)
		r2 := of(g.txt, streets[(st.idx+1+g.txt.IntN(2))%len(streets)].roads)
		if r1 == r2 {
			r2 = of(g.txt, st.def.roads)
		}
		if r1 == r2 {
			sb.WriteString(r1)
			sb.WriteString(of(g.txt, spots))
			addr += r1
		} else {
			sb.WriteString(r1)
			sb.WriteString("与")
			sb.WriteString(r2)
			sb.WriteString("交叉口")
			addr += r1 + "与" + r2 + "交叉口"
		}
	default:
		road := of(g.txt, st.def.roads)
		num := strconv.Itoa(1 + g.txt.IntN(399))
		sb.WriteString(road)
		sb.WriteString(num)
		sb.WriteString("号")
		sb.WriteString(of(g.txt, spots))
		addr += road + num + "号"
	}
	sb.WriteString("，")
	detail := of(g.txt, c.class.text.details)
	if i := strings.IndexByte(detail, '#'); i >= 0 {
		sb.WriteString(detail[:i])
		sb.WriteString(strconv.Itoa(2 + g.txt.IntN(18)))
		sb.WriteString(detail[i+1:])
	} else {
		sb.WriteString(detail)
	}
	// A detail that already says what it affects gets no second remark.
	if suffix := of(g.txt, descSuffix); !strings.Contains(detail, "影响") || !strings.Contains(suffix, "影响") {
		sb.WriteString(suffix)
	}
	c.desc = sb.String()
	c.addr = addr
}

// emit records one timeline event and applies it to the case the way the
// case service does, unless it falls after Now: then the timeline is cut
// there and every later event is dropped, which leaves recent cases open in
// whatever stage they have reached.
func (g *generator) emit(a cases.Action, to cases.Status, actor, dept, note string, at time.Time) {
	c := &g.c
	if c.cut {
		return
	}
	if at.After(g.now) {
		c.cut = true
		return
	}
	var from cases.Status
	if n := len(c.events); n > 0 {
		from = c.status
		if prev := c.events[n-1].at; !at.After(prev) {
			at = prev.Add(time.Minute)
			if g.officeAction(a) {
				at = g.atWork(prev, time.Minute)
			}
			if at.After(g.now) {
				c.cut = true
				return
			}
		}
	}
	c.events = append(c.events, event{action: a, from: from, to: to, actor: actor, dept: dept, note: note, at: at})
	c.status = to
	c.updated = at
	c.version = len(c.events)
	switch a {
	case cases.ActionRegister:
		c.registered = at
	case cases.ActionHandle:
		c.handled = at
		if c.firstHandled.IsZero() {
			c.firstHandled, c.firstDeadline = at, c.deadline
		}
	case cases.ActionReturn:
		c.returns++
	case cases.ActionVerify:
		c.closed = at
	}
}

// beforeDeadline returns an instant between from and until (exclusive),
// drawn from the generator: when a department asks for a deferral or a
// backlog.
func (g *generator) beforeDeadline(from, until time.Time) time.Time {
	span := until.Sub(from)
	if span <= 2*time.Minute {
		return from
	}
	return from.Add(time.Duration(float64(span-time.Minute) * (0.2 + 0.7*g.rng.Float64())).Truncate(time.Second))
}

// approved records the request behind the DEFER or BACKLOG event just
// emitted: asked by the handling department at asked, against deadline,
// approved by that event's dispatcher.
func (g *generator) approved(kind cases.RequestKind, days int, dept string, asked, deadline time.Time) {
	c := &g.c
	if c.cut || len(c.events) == 0 {
		return
	}
	ev := c.events[len(c.events)-1]
	if asked.After(ev.at) {
		asked = ev.at
	}
	c.requests = append(c.requests, request{kind: kind, extraDays: days, reason: ev.note,
		requestedBy: g.of(g.handlers[dept]), requestedDept: dept, requestedAt: asked, caseDeadline: deadline,
		decidedBy: ev.actor, decidedAt: ev.at})
}

func (g *generator) deadlineFrom(t time.Time) time.Time {
	return g.c.class.Deadline(g.cal, t).UTC()
}

// dispatch emits DISPATCH to dept at t and returns the deadline.
func (g *generator) dispatch(dept string, t time.Time) time.Time {
	c := &g.c
	dl := g.deadlineFrom(t)
	g.emit(cases.ActionDispatch, cases.StatusDispatched, g.of(g.dispatchers), cases.OwnerDept, "→ "+dept, t)
	if !c.cut {
		c.handlingDept = dept
		c.dispatched = c.events[len(c.events)-1].at
		c.deadline = dl
		c.handled = time.Time{}
	}
	return dl
}

func (g *generator) handlingDept() string {
	d := g.pickW(g.c.class.text.depts)
	if d == streetDeptToken {
		return g.c.grid.street.dept
	}
	return d
}

func onTimeKey(dept string) string {
	if strings.HasPrefix(dept, "street-") || strings.HasPrefix(dept, "town-") {
		return streetDeptToken
	}
	return dept
}

// officeAction reports whether action a of the current case happens in
// working hours: departments handle and inspectors verify (close) in office
// hours, except for emergency classes, which run around the clock.
func (g *generator) officeAction(a cases.Action) bool {
	return !g.c.class.Emergency && (a == cases.ActionHandle || a == cases.ActionVerify)
}

// atWork returns the instant d of working time after t, in whole seconds
// and inside a working window: AddWorkingHours stops exactly at a window's
// close (12:00, 17:30), which is not working time itself.
func (g *generator) atWork(t time.Time, d time.Duration) time.Time {
	w := g.cal.AddWorkingHours(t, max(d, time.Second)).UTC().Truncate(time.Second)
	for !g.cal.IsWorkingTime(w) {
		w = g.cal.AddWorkingHours(w, time.Minute).UTC().Truncate(time.Second)
	}
	return w
}

// after returns the instant d after t: in clock time for an emergency
// class, else in working time (see officeAction).
func (g *generator) after(t time.Time, d time.Duration) time.Time {
	if g.c.class.Emergency {
		return t.Add(d).Truncate(time.Second)
	}
	return g.atWork(t, d)
}

// handleAt returns when handling is submitted: before the deadline when
// onTime (mostly well before), otherwise some time after it. Emergency
// classes count clock time, the others working time, so their handling
// always falls in office hours.
func (g *generator) handleAt(start, deadline time.Time, onTime bool) time.Time {
	span := deadline.Sub(start)
	if !g.c.class.Emergency {
		span = g.cal.WorkingDuration(start, deadline)
	}
	if span < time.Minute {
		span = time.Minute
	}
	if onTime {
		u := 0.04 + 0.9*math.Pow(g.rng.Float64(), 1.4)
		return g.after(start, time.Duration(float64(span)*u))
	}
	return g.after(deadline, 10*time.Minute+g.expDur(span/2+3*time.Hour))
}

// simulate walks the case through its lifecycle, emitting events.
func (g *generator) simulate() {
	c := &g.c
	cl := c.class
	st := c.grid.street
	sec := func(d time.Duration) time.Duration { return d.Truncate(time.Second) }

	// REPORT.
	var reporter, note string
	switch c.source {
	case cases.SourceInspectorPatrol:
		reporter = g.of(g.inspectors[st.idx])
	case cases.SourceDronePatrol:
		reporter = "drone-platform@urban-management"
	case cases.SourceVideoAnalytics:
		reporter = "video-ai@" + c.sourceDept
	case cases.SourceEnforcementTerminal:
		reporter = g.of(g.handlers[st.dept])
	case cases.SourceCitizenReport:
		// As the hub records it: the citizen app acts, and the citizen's
		// id stays in the case's citizen column (own-reports scope), never
		// in a timeline every department reads.
		reporter = citizenAppActor
	case cases.SourceHotline12345:
		reporter = "hotline-12345@urban-management"
		note = "12345工单 " + c.externalID
	case cases.SourceAssignedBySuperior:
		reporter = "city-command@urban-management"
		note = "泰州市数字城管中心交办"
	default:
		reporter = g.of(g.dispatchers)
	}
	reporterDept := c.sourceDept
	if c.source == cases.SourceCitizenReport {
		reporterDept = cases.OwnerDept
	}
	t := c.reported
	g.emit(cases.ActionReport, cases.StatusReported, reporter, reporterDept, note, t)

	// Accept or decline. Citizens' reports are more often duplicates or
	// outside the remit.
	pDecline := 0.008
	var regDelay time.Duration
	switch c.source {
	case cases.SourceCitizenReport, cases.SourceHotline12345:
		pDecline = 0.05
		regDelay = 10*time.Minute + g.expDur(70*time.Minute)
	case cases.SourceMedia:
		pDecline = 0.03
		regDelay = 20*time.Minute + g.expDur(2*time.Hour)
	default:
		regDelay = 2*time.Minute + g.expDur(15*time.Minute)
	}
	t = t.Add(sec(regDelay))
	if g.chance(pDecline) {
		g.emit(cases.ActionDecline, cases.StatusNotRegistered, g.of(g.dispatchers), cases.OwnerDept, g.of(declineNotes), t)
		return
	}
	g.emit(cases.ActionRegister, cases.StatusRegistered, g.of(g.dispatchers), cases.OwnerDept, "", t)

	// DISPATCH; the deadline clock starts.
	t = t.Add(sec(2*time.Minute + g.expDur(12*time.Minute)))
	dept := g.handlingDept()
	deadline := g.dispatch(dept, t)

	if g.chance(pReturn) {
		t = t.Add(sec(30*time.Minute + g.expDur(4*time.Hour)))
		g.emit(cases.ActionReturn, cases.StatusReturned, g.of(g.handlers[dept]), dept, g.of(returnNotes), t)
		other := g.handlingDept()
		for range 4 {
			if other != dept {
				break
			}
			other = g.handlingDept()
		}
		if other == dept {
			other = st.dept
			if dept == st.dept {
				other = cases.OwnerDept
			}
		}
		dept = other
		t = t.Add(sec(10*time.Minute + g.expDur(2*time.Hour)))
		deadline = g.dispatch(dept, t)
	}

	pb := pBacklog
	if cl.construct {
		pb *= 3
	}
	if g.chance(pb) {
		// Asked for and approved before the deadline: a late case stays late.
		asked := g.beforeDeadline(t, deadline)
		t = asked.Add(sec(g.dur(10*time.Minute, 2*time.Hour)))
		if t.After(deadline) {
			t = asked.Add(time.Minute)
		}
		g.emit(cases.ActionBacklog, cases.StatusBacklog, g.of(g.dispatchers), cases.OwnerDept, g.of(backlogNotes), t)
		g.approved(cases.RequestBacklog, 0, dept, asked, deadline)
		if !g.chance(pBacklogRedo) {
			return
		}
		t = t.Add(sec(g.dur(30*24*time.Hour, 200*24*time.Hour)))
		deadline = g.dispatch(dept, t)
	}

	start := t
	pd := pDefer
	if cl.construct {
		pd = 0.08
		if cl.MinorName == "违法建设" {
			pd = 0.15
		}
	}
	if g.chance(pd) {
		t = t.Add(sec(time.Duration(float64(deadline.Sub(t)) * (0.3 + 0.5*g.rng.Float64()))))
		if !t.After(start) {
			t = start.Add(time.Minute)
		}
		base := maxTime(deadline, t)
		days := 3 + g.rng.IntN(8)
		before := deadline
		deadline = g.cal.AddWorkingDays(base, days).UTC()
		g.emit(cases.ActionDefer, cases.StatusDeferred, g.of(g.dispatchers), cases.OwnerDept, g.of(deferNotes), t)
		g.approved(cases.RequestDefer, days, dept, g.beforeDeadline(start, t), before)
		if !c.cut {
			c.deadline = deadline
			c.deferrals++
		}
	}

	// HANDLE, on time or late, or (rarely) months late.
	p := onTimeRate[onTimeKey(dept)]
	if cl.Limit.Hours > 0 {
		p -= 0.04
	}
	// Handling improved over the period.
	p += 0.03 * (1 - g.now.Sub(c.reported).Seconds()/g.now.Sub(g.from).Seconds())
	var h time.Time
	if g.chance(pStuck) {
		h = g.after(deadline.Add(sec(g.dur(20*24*time.Hour, 250*24*time.Hour))), g.dur(time.Minute, 4*time.Hour))
	} else {
		h = g.handleAt(t, deadline, g.chance(p))
	}
	if !h.After(t) {
		h = g.after(t, time.Minute)
	}
	t = h
	g.emit(cases.ActionHandle, cases.StatusHandled, g.of(g.handlers[dept]), dept, g.of(handleNotes), t)

	// VERIFY on site, rarely failing once (rework with a fresh deadline);
	// in office hours unless the class is an emergency.
	t = g.after(t, 15*time.Minute+g.expDur(2*time.Hour))
	inspector := g.of(g.inspectors[st.idx])
	if g.chance(pRework) {
		g.emit(cases.ActionRework, cases.StatusRework, inspector, cases.OwnerDept, g.of(reworkNotes), t)
		deadline = g.deadlineFrom(t)
		if !c.cut {
			c.rework++
			c.deadline = deadline
			c.handled = time.Time{}
		}
		t = g.handleAt(t, deadline, g.chance(0.8))
		g.emit(cases.ActionHandle, cases.StatusHandled, g.of(g.handlers[dept]), dept, g.of(handleNotes), t)
		t = g.after(t, 15*time.Minute+g.expDur(2*time.Hour))
	}
	g.emit(cases.ActionVerify, cases.StatusClosed, inspector, cases.OwnerDept, g.of(verifyNotes), t)

	// RATE: a share of citizens and hotline callers rate the closed case.
	if (c.source == cases.SourceCitizenReport || c.source == cases.SourceHotline12345) && g.chance(pRating) {
		t = t.Add(sec(time.Hour + g.expDur(30*time.Hour)))
		stars, comment := g.rating()
		rater, raterDept := citizenAppActor, cases.OwnerDept
		if c.source == cases.SourceHotline12345 {
			rater = "hotline-12345@urban-management" // follow-up call (回访)
		}
		rn := strconv.Itoa(stars) + "★"
		if comment != "" {
			rn += " " + comment
		}
		g.emit(cases.ActionRate, cases.StatusClosed, rater, raterDept, rn, t)
		if !c.cut {
			c.rating, c.ratingComment, c.ratedAt = stars, comment, t
		}
	}
}

// rating draws 1–5 stars skewed to satisfied, with a comment sometimes.
func (g *generator) rating() (int, string) {
	x := g.rng.Float64()
	var stars int
	switch {
	case x < 0.62:
		stars = 5
	case x < 0.84:
		stars = 4
	case x < 0.93:
		stars = 3
	case x < 0.97:
		stars = 2
	default:
		stars = 1
	}
	if !g.chance(0.4) {
		return stars, ""
	}
	switch {
	case stars >= 4:
		return stars, g.of(positiveComments)
	case stars == 3:
		return stars, g.of(neutralComments)
	default:
		return stars, g.of(negativeComments)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
