package seed

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/rules"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Demo data figures (docs/demo-data.md: "523 illegal structures
// demolished, over 37,000 m²"). ViolationRecords are the records of every kind
// but illegal parking, whose records follow the 乱停乱放 cases (see
// SeedViolations).
const (
	ViolationRecords           = 1250
	ViolationsDemolished       = 523
	ViolationsDemolishedAreaM2 = 37_200
	ViolationYears             = 3
)

// ErrViolationsSeeded is returned by SeedViolations when the demo
// violations are already loaded.
var ErrViolationsSeeded = errors.New("the demo violations are already loaded")

// ViolationStats describes a SeedViolations run.
type ViolationStats struct {
	Violations int
	// IllegalParking counts the illegal-parking records; ParkingCases the
	// 乱停乱放 cases of the period they were sized by.
	IllegalParking   int
	ParkingCases     int
	Events           int
	Open             int
	Demolished       int     // illegal construction with outcome DEMOLISHED
	DemolishedAreaM2 float64 // their demolished area
	LinkedCases      int
	LinkedProperties int
}

// SeedViolations loads ViolationRecords realistic violations discovered
// over the ViolationYears before now and as many illegal-parking records as the
// database holds registered 乱停乱放 cases (0503) in that period — the
// traffic police's tickets from those cases and from their own patrols,
// which on the whole about balance the cases about bicycles or cars gone
// when officers arrive — with their timelines, in one transaction using
// COPY. The same seed, now and database contents (jurisdictions,
// departments, cases, properties) give identical rows, ids included.
//
// Exactly ViolationsDemolished illegal structures end demolished (most files
// closed), together ViolationsDemolishedAreaM2 m² (about 71 m² each); the other
// records are in every stage, recent ones still open and a few stuck past
// their deadline. Parties carry valid-format fake resident ID numbers of
// the district (321202…) and mobile numbers; illegal parking carries 苏M
// plates. About 30 % are linked to a case of the matching class (违法建设
// 0302, 店外经营 0501, 占道经营 0502, 乱停乱放 0503, advertising 0201/0202,
// dumping 0104/0101) in the same street, discovered after it through the
// CASE channel. Illegal structures in residential compounds are linked to a
// property of their street when a properties table with id and
// jurisdiction_code exists; otherwise property_id stays NULL.
//
// It refuses a database that already holds the demo rows
// (ErrViolationsSeeded) and one without jurisdictions.
func SeedViolations(ctx context.Context, db postgres.DB, seed int64, now time.Time, cal violation.Calendar) (ViolationStats, error) {
	if cal == nil {
		return ViolationStats{}, errors.New("seed violations: a calendar is required")
	}
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Microsecond)
	var st ViolationStats
	err := postgres.InTx(ctx, db, func(tx pgx.Tx) error {
		var seeded bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM violations WHERE external_id LIKE 'demo-%')`).Scan(&seeded); err != nil {
			return fmt.Errorf("check violations: %w", err)
		}
		if seeded {
			return ErrViolationsSeeded
		}
		g, err := loadViolationInputs(ctx, tx, seed, now, cal)
		if err != nil {
			return err
		}
		rows := g.generate()
		var start int64
		if err := tx.QueryRow(ctx, `SELECT nextval('violation_no_seq')`).Scan(&start); err != nil {
			return fmt.Errorf("reserve record numbers: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT setval('violation_no_seq', $1)`, start+int64(len(rows))-1); err != nil {
			return fmt.Errorf("reserve record numbers: %w", err)
		}
		st = numberViolations(rows, start, g.zone)
		st.ParkingCases = g.parkingCases
		vs := make([]*violation.Violation, len(rows))
		var events []violation.Event
		for i, r := range rows {
			vs[i] = &r.v
			events = append(events, r.events...)
		}
		if err := postgres.CopyViolations(ctx, tx, vs, events); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `ANALYZE violations, violation_events`); err != nil {
			return fmt.Errorf("analyze violations: %w", err)
		}
		return nil
	})
	if err != nil {
		return ViolationStats{}, err
	}
	return st, nil
}

// violStreet is a street or town with its grids, as the generator places
// violations.
type violStreet struct {
	code, nameZh, dept string
	weightBuild        float64 // relative share of illegal construction
	weightStreet       float64 // relative share of the other kinds
	grids              []violGrid
}

type violGrid struct {
	code, community string
	lat, lng        float64
}

type violCase struct {
	id           uuid.UUID
	jurisdiction string
	lat, lng     float64
	reported     time.Time
	used         bool
}

type violCaseKey struct{ street, minor string }

// violRow is one generated violation with its timeline.
type violRow struct {
	v      violation.Violation
	events []violation.Event
	// The plan, before it is cut at now. Zero times never happen.
	notice, deadline, markDue, resolveAt, closeAt time.Time
	days                                          int
	outcome                                       violation.Outcome
	reporter, reporterDept, officer               string
	demolish                                      bool // one of the ViolationsDemolished structures
	rawDemArea                                    float64
}

type violGen struct {
	rng     *rand.Rand
	now     time.Time
	from    time.Time
	cal     violation.Calendar
	zone    *time.Location
	streets []*violStreet
	depts   map[string]bool
	cases   map[violCaseKey][]*violCase
	props   map[string][]uuid.UUID // street code → property ids
	// parkingCases is the number of registered 乱停乱放 cases of the
	// period: the number of illegal-parking records.
	parkingCases int
}

// Streets where illegal construction concentrates (the towns and the outer
// streets) and where street order problems do (the centre). Unknown streets
// weigh 1.
var (
	violBuildWeights  = map[string]float64{"jiulong": 3, "gangyang": 3, "suchen": 3, "chengbei": 2, "chengnan": 2, "jingtailu": 2, "chengdong": 1.5, "chengxi": 1.5, "chengzhong": 0.7}
	violStreetWeights = map[string]float64{"chengzhong": 3, "chengdong": 2.5, "chengxi": 2.5, "chengnan": 2, "chengbei": 1.5, "jingtailu": 1.5, "jiulong": 0.5, "gangyang": 0.5, "suchen": 0.5}
)

func loadViolationInputs(ctx context.Context, tx pgx.Tx, seed int64, now time.Time, cal violation.Calendar) (*violGen, error) {
	zone, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		zone = time.FixedZone("CST", 8*3600)
	}
	g := &violGen{
		rng: rand.New(rand.NewPCG(uint64(seed), 0x7669_6f6c_6174_696f)), // "violatio"
		now: now, from: now.AddDate(-ViolationYears, 0, 0), cal: cal, zone: zone,
		depts: map[string]bool{}, cases: map[violCaseKey][]*violCase{}, props: map[string][]uuid.UUID{},
	}
	rows, err := tx.Query(ctx, `SELECT code FROM departments ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("load departments: %w", err)
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("load departments: %w", err)
	}
	for _, c := range codes {
		g.depts[c] = true
	}
	if !g.depts[violation.DeptUrbanManagement] || !g.depts[violation.DeptTrafficPolice] {
		return nil, errors.New("seed violations: load the departments first (urban-management and traffic-police are missing)")
	}
	rows, err = tx.Query(ctx, `SELECT g.code, g.lat, g.lng, c.name_zh, s.code, s.name_zh, s.level
		FROM jurisdictions g JOIN jurisdictions c ON c.code = g.parent_code JOIN jurisdictions s ON s.code = c.parent_code
		WHERE g.level = 'GRID' AND g.lat IS NOT NULL AND g.lng IS NOT NULL ORDER BY g.code`)
	if err != nil {
		return nil, fmt.Errorf("load grids: %w", err)
	}
	byCode := map[string]*violStreet{}
	var gr violGrid
	var streetCode, streetName, level string
	_, err = pgx.ForEachRow(rows, []any{&gr.code, &gr.lat, &gr.lng, &gr.community, &streetCode, &streetName, &level}, func() error {
		s := byCode[streetCode]
		if s == nil {
			suffix := streetCode[strings.LastIndex(streetCode, ".")+1:]
			dept := "street-" + suffix
			if level == "TOWN" {
				dept = "town-" + suffix
			}
			if !g.depts[dept] {
				dept = ""
			}
			s = &violStreet{code: streetCode, nameZh: streetName, dept: dept,
				weightBuild: weightOr(violBuildWeights, suffix), weightStreet: weightOr(violStreetWeights, suffix)}
			byCode[streetCode] = s
			g.streets = append(g.streets, s)
		}
		s.grids = append(s.grids, gr)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load grids: %w", err)
	}
	if len(g.streets) == 0 {
		return nil, errors.New("seed violations: load the jurisdiction tree first (no grids with coordinates)")
	}
	err = tx.QueryRow(ctx, `SELECT count(*) FROM cases WHERE kind = 'EVENT' AND minor_code = '0503'
		AND reported_at >= $1 AND reported_at < $2 AND status <> 'NOT_REGISTERED'`, g.from, now).Scan(&g.parkingCases)
	if err != nil {
		return nil, fmt.Errorf("count parking cases: %w", err)
	}
	// Candidate cases: up to 400 per street and class, picked by a hash of
	// the id so they spread over the period (ids sort by report time).
	rows, err = tx.Query(ctx, `SELECT id, street_code, minor_code, jurisdiction_code, lat, lng, reported_at FROM (
			SELECT id, street_code, minor_code, jurisdiction_code, lat, lng, reported_at,
				row_number() OVER (PARTITION BY street_code, minor_code ORDER BY md5(id::text), id) AS rn
			FROM cases WHERE kind = 'EVENT' AND minor_code = ANY($1) AND reported_at >= $2 AND reported_at < $3) c
		WHERE rn <= 400 ORDER BY street_code, minor_code, md5(id::text), id`,
		[]string{"0302", "0501", "0502", "0503", "0201", "0202", "0104", "0101"}, g.from, now)
	if err != nil {
		return nil, fmt.Errorf("load cases: %w", err)
	}
	var c violCase
	var minor string
	_, err = pgx.ForEachRow(rows, []any{&c.id, &streetCode, &minor, &c.jurisdiction, &c.lat, &c.lng, &c.reported}, func() error {
		cc := c
		k := violCaseKey{streetCode, minor}
		g.cases[k] = append(g.cases[k], &cc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load cases: %w", err)
	}
	return g, g.loadProperties(ctx, tx)
}

// loadProperties reads the property registry when it exists in a shape the
// generator understands (id and jurisdiction_code columns); the registry is
// another dataset's migration, so its absence is normal.
func (g *violGen) loadProperties(ctx context.Context, tx pgx.Tx) error {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_attribute
		WHERE attrelid = to_regclass('properties') AND attname IN ('id', 'jurisdiction_code') AND NOT attisdropped`).Scan(&n)
	if err != nil {
		return fmt.Errorf("look for properties: %w", err)
	}
	if n != 2 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id::text, jurisdiction_code::text FROM properties ORDER BY id`)
	if err != nil {
		return fmt.Errorf("load properties: %w", err)
	}
	var id, code string
	_, err = pgx.ForEachRow(rows, []any{&id, &code}, func() error {
		pid, err := uuid.Parse(id)
		if err != nil {
			return nil // not a uuid key: cannot be linked
		}
		if street, ok := streetCode(code); ok {
			g.props[street] = append(g.props[street], pid)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load properties: %w", err)
	}
	return nil
}

func weightOr(m map[string]float64, k string) float64 {
	if w, ok := m[k]; ok {
		return w
	}
	return 1
}

func (g *violGen) chance(p float64) bool { return chance(g.rng, p) }

func (g *violGen) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(g.rng.Int64N(int64(hi-lo)+1))
}

func (g *violGen) pickStreet(build bool) *violStreet {
	total := 0.0
	for _, s := range g.streets {
		total += s.weight(build)
	}
	x := g.rng.Float64() * total
	for _, s := range g.streets {
		if x -= s.weight(build); x < 0 {
			return s
		}
	}
	return g.streets[len(g.streets)-1]
}

func (s *violStreet) weight(build bool) float64 {
	if build {
		return s.weightBuild
	}
	return s.weightStreet
}

// violKinds is the mix of the demo besides illegal parking (ViolationRecords
// in all): mostly illegal construction (the report's demolition campaign),
// then street order, advertising and dumping. Illegal parking follows the
// 乱停乱放 cases (violGen.parkingCases).
var violKinds = []struct {
	kind violation.Kind
	n    int
}{
	{violation.KindIllegalConstruction, 720},
	{violation.KindStreetOccupation, 330},
	{violation.KindIllegalAdvertising, 120},
	{violation.KindDumping, 80},
}

// generate makes every row: descriptive data and a planned timeline first,
// then the choice of the demolished structures among those whose demolition
// would be done by now, then the timelines cut at now, in discovery order.
func (g *violGen) generate() []*violRow {
	var rows []*violRow
	for _, k := range violKinds {
		for range k.n {
			rows = append(rows, g.describe(k.kind))
		}
	}
	for range g.parkingCases {
		rows = append(rows, g.describe(violation.KindIllegalParking))
	}
	// The demolished structures: ViolationsDemolished of the construction
	// violations whose resolution lies before now, drawn at random.
	var cand []*violRow
	for _, r := range rows {
		if r.v.Kind.Construction() && !r.resolveAt.IsZero() && r.resolveAt.Before(g.now) {
			cand = append(cand, r)
		}
	}
	g.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	var demSum float64
	for i, r := range cand {
		if i >= ViolationsDemolished {
			break
		}
		r.demolish = true
		r.rawDemArea = *r.v.AreaM2
		if g.chance(0.15) { // partly demolished
			r.rawDemArea *= 0.5 + 0.5*g.rng.Float64()
		}
		demSum += r.rawDemArea
	}
	// Scale every construction area so the demolished ones add up to the
	// reported total.
	k := 1.0
	if demSum > 0 {
		k = ViolationsDemolishedAreaM2 / demSum
	}
	for _, r := range rows {
		if !r.v.Kind.Construction() {
			continue
		}
		a := roundArea(*r.v.AreaM2 * k)
		r.v.AreaM2 = &a
		if r.demolish {
			d := min(roundArea(r.rawDemArea*k), a)
			r.v.DemolishedAreaM2 = &d
		}
	}
	for _, r := range rows {
		g.timeline(r)
	}
	sortViolations(rows)
	for i, r := range rows {
		r.v.ID = g.uuidAt(r.v.DiscoveredAt)
		r.v.ExternalID = fmt.Sprintf("demo-%05d", i+1)
		for j := range r.events {
			r.events[j].ViolationID = r.v.ID
		}
	}
	return rows
}

func roundArea(a float64) float64 {
	return max(0.5, min(float64(violation.AreaMaxM2), float64(int64(a*10+0.5))/10))
}

// sortViolations orders rows by discovery, ties in generation order.
func sortViolations(rows []*violRow) {
	slices.SortStableFunc(rows, func(a, b *violRow) int { return a.v.DiscoveredAt.Compare(b.v.DiscoveredAt) })
}

// uuidAt returns a version-7 UUID of t with random bits from the seeded
// stream, so ids sort roughly by discovery and are reproducible.
func (g *violGen) uuidAt(t time.Time) uuid.UUID { return uuidV7Stream(g.rng, uint64(t.UnixMilli())) }

// Subtype mix and typical sizes of illegal structures: median m² and the
// spread of a log-normal around it (door and window alterations are small,
// factory sheds large).
var violBuild = []struct {
	sub    violation.Subtype
	weight float64
	median float64
}{
	{violation.SubtypeRooftopAddition, 0.32, 55},
	{violation.SubtypeVillaExtension, 0.10, 95},
	{violation.SubtypeFactoryShed, 0.12, 160},
	{violation.SubtypeGreenSpaceEncroachment, 0.18, 45},
	{violation.SubtypeDoorWindowAlteration, 0.28, 12},
}

var violText = map[violation.Subtype][]string{
	violation.SubtypeRooftopAddition:        {"楼顶违法搭建彩钢板房", "屋顶加盖砖混结构房屋", "顶层平台擅自搭建阳光房"},
	violation.SubtypeVillaExtension:         {"别墅院内违法扩建", "别墅擅自加建地下室及阳光房", "别墅外扩占用公共空间"},
	violation.SubtypeFactoryShed:            {"厂区内擅自搭建钢结构棚", "厂房外违法搭建仓储棚", "厂区空地违规搭建简易房"},
	violation.SubtypeGreenSpaceEncroachment: {"侵占公共绿地搭建车棚", "毁绿搭建杂物间", "侵占小区绿化带围建菜园"},
	violation.SubtypeDoorWindowAlteration:   {"擅自破墙开门", "改窗为门开设门面", "底层住宅擅自改变门窗结构"},
	violation.SubtypeShopfrontOverflow:      {"店外经营，占用人行道摆放商品", "餐饮店占道摆放桌椅", "门店出店经营堆放货物"},
	violation.SubtypeStreetVending:          {"流动摊贩占道经营", "早市摊点占用车行道", "夜市摊位超出规定区域"},
	violation.SubtypeConstructionWaste:      {"乱倒建筑垃圾", "装修垃圾随意倾倒", "渣土车沿途抛洒倾倒"},
	violation.SubtypeDomesticWaste:          {"乱倒生活垃圾", "大件垃圾随意堆放", "河边倾倒生活垃圾"},
}

var (
	violParkingText     = []string{"机动车违停占用人行道", "违停占用消防通道", "车辆在禁停路段停放", "占用盲道停放"}
	violAdvertisingText = []string{"违规设置户外广告牌", "张贴非法小广告", "擅自悬挂横幅广告", "店招超出规定尺寸"}
)

// describe makes a violation of kind with its place, people, text and
// planned timeline.
func (g *violGen) describe(kind violation.Kind) *violRow {
	r := &violRow{}
	v := &r.v
	v.Kind, v.OwnerDept, v.Version = kind, kind.OwnerDept(), 1
	switch kind {
	case violation.KindIllegalConstruction:
		x, i := g.rng.Float64(), 0
		for ; i < len(violBuild)-1 && x >= violBuild[i].weight; i++ {
			x -= violBuild[i].weight
		}
		v.Subtype = violBuild[i].sub
		a := violBuild[i].median * math.Exp(0.6*g.rng.NormFloat64())
		v.AreaM2 = &a // scaled and rounded once the demolished set is known
	case violation.KindStreetOccupation:
		v.Subtype = violation.SubtypeShopfrontOverflow
		if g.chance(0.4) {
			v.Subtype = violation.SubtypeStreetVending
		}
		g.maybeArea(v, 0.7, 3, 30)
	case violation.KindIllegalAdvertising:
		g.maybeArea(v, 0.6, 1, 20)
	case violation.KindDumping:
		v.Subtype = violation.SubtypeConstructionWaste
		if g.chance(0.35) {
			v.Subtype = violation.SubtypeDomesticWaste
		}
		g.maybeArea(v, 0.5, 2, 80)
	}
	street := g.pickStreet(kind.Construction())
	g.place(r, street)
	g.people(r)
	g.text(r, street)
	g.plan(r)
	return r
}

func (g *violGen) maybeArea(v *violation.Violation, p, lo, hi float64) {
	if g.chance(p) {
		a := roundArea(lo + (hi-lo)*g.rng.Float64())
		v.AreaM2 = &a
	}
}

// caseMinor is the case class a violation of this kind and subtype is
// raised under.
func caseMinor(v *violation.Violation) string {
	switch v.Kind {
	case violation.KindIllegalConstruction:
		return "0302"
	case violation.KindStreetOccupation:
		if v.Subtype == violation.SubtypeStreetVending {
			return "0502"
		}
		return "0501"
	case violation.KindIllegalParking:
		return "0503"
	case violation.KindDumping:
		if v.Subtype == violation.SubtypeDomesticWaste {
			return "0101"
		}
		return "0104"
	default:
		return "0202"
	}
}

// place sets where and when: from a case of the street (about 30 %) or at a
// random grid of the street.
func (g *violGen) place(r *violRow, s *violStreet) {
	v := &r.v
	if g.chance(0.30) {
		minor := caseMinor(v)
		if v.Kind == violation.KindIllegalAdvertising && g.chance(0.6) {
			minor = "0201"
		}
		for _, c := range g.cases[violCaseKey{s.code, minor}] {
			if c.used {
				continue
			}
			c.used = true
			at := c.reported.Add(g.between(time.Hour, 72*time.Hour)).Truncate(time.Second)
			if !at.Before(g.now) {
				break
			}
			id := c.id
			v.CaseID = &id
			v.Channel = violation.ChannelCase
			v.DiscoveredAt = at
			v.JurisdictionCode, v.Lat, v.Lng = c.jurisdiction, c.lat, c.lng
			return
		}
	}
	gr := s.grids[g.rng.IntN(len(s.grids))]
	v.JurisdictionCode = gr.code
	v.Lat = math.Round(clamp(gr.lat+(g.rng.Float64()-0.5)*0.006, rules.MinLat, rules.MaxLat)*1e6) / 1e6
	v.Lng = math.Round(clamp(gr.lng+(g.rng.Float64()-0.5)*0.006, rules.MinLng, rules.MaxLng)*1e6) / 1e6
	v.DiscoveredAt = g.discoveryTime(v.Kind == violation.KindIllegalParking)
	v.Channel = g.channel(v.Kind)
	if v.Kind.Construction() && v.Subtype != violation.SubtypeFactoryShed {
		if props := g.props[s.code]; len(props) > 0 && g.chance(0.6) {
			id := props[g.rng.IntN(len(props))]
			v.PropertyID = &id
		}
	}
}

// streetCode is the street or town a jurisdiction code lies in
// (hailing.chengzhong of hailing.chengzhong.pozijie.g03), as the stores
// derive street_code.
func streetCode(code string) (string, bool) {
	parts := strings.SplitN(code, ".", 3)
	if len(parts) < 2 {
		return "", false
	}
	return parts[0] + "." + parts[1], true
}

// discoveryTime is a moment in the period, in daytime (parking until late
// evening). A share falls in the last weeks, so that the work in progress
// is as large as a running enforcement team's.
func (g *violGen) discoveryTime(parking bool) time.Time {
	from := g.from
	if g.chance(0.15) {
		from = g.now.AddDate(0, 0, -75)
	}
	days := int(g.now.Sub(from).Hours() / 24)
	lo, hi := 8, 18
	if parking {
		lo, hi = 7, 22
	}
	for {
		d := from.In(g.zone).AddDate(0, 0, g.rng.IntN(days+1))
		y, m, dd := d.Date()
		t := time.Date(y, m, dd, lo, 0, 0, 0, g.zone).Add(g.between(0, time.Duration(hi-lo)*time.Hour))
		if t.After(g.from) && t.Before(g.now) {
			return t.UTC().Truncate(time.Second)
		}
	}
}

func (g *violGen) channel(k violation.Kind) violation.Channel {
	type cw struct {
		c violation.Channel
		w float64
	}
	var list []cw
	switch k {
	case violation.KindIllegalConstruction:
		list = []cw{{violation.ChannelDrone, 0.40}, {violation.ChannelPatrol, 0.30}, {violation.ChannelReport, 0.15}, {violation.ChannelEnforcementTerminal, 0.15}}
	case violation.KindIllegalParking:
		list = []cw{{violation.ChannelEnforcementTerminal, 0.60}, {violation.ChannelPatrol, 0.25}, {violation.ChannelReport, 0.15}}
	case violation.KindDumping:
		list = []cw{{violation.ChannelPatrol, 0.40}, {violation.ChannelDrone, 0.25}, {violation.ChannelReport, 0.35}}
	default:
		list = []cw{{violation.ChannelPatrol, 0.45}, {violation.ChannelEnforcementTerminal, 0.30}, {violation.ChannelReport, 0.25}}
	}
	x := g.rng.Float64()
	for _, c := range list[:len(list)-1] {
		if x -= c.w; x < 0 {
			return c.c
		}
	}
	return list[len(list)-1].c
}

// people sets the party (or the plate) and who recorded and handles the
// violation.
func (g *violGen) people(r *violRow) {
	v := &r.v
	partyShare := map[violation.Kind]float64{violation.KindIllegalConstruction: 1, violation.KindStreetOccupation: 0.85,
		violation.KindIllegalAdvertising: 0.5, violation.KindDumping: 0.4}[v.Kind]
	if g.chance(partyShare) {
		v.Party = violation.Party{Name: violationNames.name(g.rng), IDNumber: residentID(g.rng), Phone: mobilePrefixed(g.rng, violationMobilePrefixes)}
		if g.chance(0.1) {
			v.Party.Phone = ""
		}
	}
	if v.Kind == violation.KindIllegalParking {
		v.Plate = plate(g.rng)
	}
	owner := v.OwnerDept
	r.officer = fmt.Sprintf("officer-%02d@%s", 1+g.rng.IntN(24), owner)
	street := g.streetOf(v.JurisdictionCode)
	switch v.Channel {
	case violation.ChannelDrone:
		r.reporter, r.reporterDept = "drone-platform", violation.DeptUrbanManagement
	case violation.ChannelCase:
		r.reporter, r.reporterDept = "command-centre", violation.DeptUrbanManagement
	case violation.ChannelReport:
		r.reporter, r.reporterDept = "hotline-12345", violation.DeptUrbanManagement
	case violation.ChannelEnforcementTerminal:
		r.reporter, r.reporterDept = fmt.Sprintf("terminal-%03d", 1+g.rng.IntN(60)), owner
	default:
		r.reporter, r.reporterDept = fmt.Sprintf("officer-%02d", 1+g.rng.IntN(24)), owner
		if street != nil && street.dept != "" && g.chance(0.25) {
			r.reporter, r.reporterDept = fmt.Sprintf("grid-%03d", 1+g.rng.IntN(300)), street.dept
		}
	}
	v.SourceDept = r.reporterDept
}

func (g *violGen) streetOf(code string) *violStreet {
	st, ok := streetCode(code)
	if !ok {
		return nil
	}
	for _, s := range g.streets {
		if s.code == st {
			return s
		}
	}
	return nil
}

func (g *violGen) text(r *violRow, s *violStreet) {
	v := &r.v
	var list []string
	switch v.Kind {
	case violation.KindIllegalParking:
		list = violParkingText
	case violation.KindIllegalAdvertising:
		list = violAdvertisingText
	default:
		list = violText[v.Subtype]
	}
	v.Description = list[g.rng.IntN(len(list))]
	if v.Kind.Construction() {
		v.Description += "（面积待核）"
	}
	community := ""
	if st := g.streetOf(v.JurisdictionCode); st != nil {
		for _, gr := range st.grids {
			if gr.code == v.JurisdictionCode {
				community = gr.community
				break
			}
		}
	}
	place := s.nameZh + community
	n := 1 + g.rng.IntN(60)
	switch v.Subtype {
	case violation.SubtypeRooftopAddition:
		v.Address = fmt.Sprintf("%s %d 幢顶层", place, n)
	case violation.SubtypeVillaExtension:
		v.Address = fmt.Sprintf("%s %d 号别墅", place, n)
	case violation.SubtypeFactoryShed:
		v.Address = fmt.Sprintf("%s工业集中区 %d 号厂区", place, n)
	case violation.SubtypeGreenSpaceEncroachment:
		v.Address = fmt.Sprintf("%s %d 幢楼下绿地", place, n)
	case violation.SubtypeDoorWindowAlteration:
		v.Address = fmt.Sprintf("%s %d 幢 %d 单元 1%02d 室", place, n, 1+g.rng.IntN(4), 1+g.rng.IntN(4))
	default:
		v.Address = fmt.Sprintf("%s %d 号附近", place, n*3)
	}
}

// plan draws the timeline: notice, deadline, maybe missed, resolution and
// closing, or dismissal as unfounded.
func (g *violGen) plan(r *violRow) {
	v := &r.v
	d := v.DiscoveredAt
	switch {
	case v.Kind == violation.KindIllegalParking:
		r.notice = d.Add(g.between(2*time.Minute, 15*time.Minute))
	case g.chance(0.1): // the party or the facts take a while to establish
		r.notice = g.cal.AddWorkingDays(d, 5+g.rng.IntN(20))
	case v.Kind == violation.KindIllegalConstruction:
		r.notice = g.cal.AddWorkingDays(d, 1+g.rng.IntN(4))
	case v.Kind == violation.KindDumping:
		r.notice = d.Add(g.between(time.Hour, 24*time.Hour))
	default:
		r.notice = d.Add(g.between(10*time.Minute, 2*time.Hour))
	}
	r.notice = r.notice.UTC().Truncate(time.Second)
	r.days = v.Kind.NoticeDaysDefault()
	r.deadline = g.cal.AddWorkingDays(r.notice, r.days).UTC()
	stuck, late := 0.01, 0.12
	switch v.Kind {
	case violation.KindIllegalConstruction:
		stuck, late = 0.04, 0.30
	case violation.KindIllegalParking:
		stuck, late = 0, 0
	}
	switch {
	case g.chance(stuck):
		// never resolved within the horizon: stays RECTIFICATION_DUE
	case g.chance(late):
		extra := 1 + g.rng.IntN(5)
		if v.Kind.Construction() {
			extra = 5 + g.rng.IntN(56) // forced demolition after the deadline
		}
		r.resolveAt = g.cal.AddWorkingDays(r.deadline, extra).Add(g.between(0, 3*time.Hour))
	case r.days == 0:
		r.resolveAt = r.notice.Add(g.between(time.Minute, 5*time.Minute))
	default:
		f := 0.2 + 0.75*g.rng.Float64()
		r.resolveAt = r.notice.Add(time.Duration(f * float64(r.deadline.Sub(r.notice))))
	}
	r.resolveAt = r.resolveAt.Truncate(time.Second)
	if r.days > 0 && (r.resolveAt.IsZero() || r.resolveAt.After(r.deadline.Add(time.Hour))) {
		r.markDue = r.deadline.Add(g.between(time.Minute, time.Hour)).Truncate(time.Second)
	}
	if !r.resolveAt.IsZero() {
		switch {
		case g.chance(0.12): // a fine unpaid, a file under review: closing waits
			r.closeAt = g.cal.AddWorkingDays(r.resolveAt, 15+g.rng.IntN(100))
		case v.Kind == violation.KindIllegalConstruction:
			r.closeAt = g.cal.AddWorkingDays(r.resolveAt, 1+g.rng.IntN(10))
		case v.Kind == violation.KindIllegalParking:
			r.closeAt = r.resolveAt.Add(g.between(24*time.Hour, 240*time.Hour))
		default:
			r.closeAt = r.resolveAt.Add(g.between(time.Hour, 72*time.Hour))
		}
		r.closeAt = r.closeAt.UTC().Truncate(time.Second)
	}
	if !v.Kind.Construction() {
		r.outcome = g.outcome(v.Kind)
	}
}

// outcome draws how a non-construction violation ends.
func (g *violGen) outcome(k violation.Kind) violation.Outcome {
	type ow struct {
		o violation.Outcome
		w float64
	}
	var list []ow
	switch k {
	case violation.KindIllegalParking:
		list = []ow{{violation.OutcomeUnfounded, 0.10}, {violation.OutcomePenalized, 0.90}}
	case violation.KindStreetOccupation:
		list = []ow{{violation.OutcomeUnfounded, 0.10}, {violation.OutcomeLegalized, 0.05}, {violation.OutcomePenalized, 0.35}, {violation.OutcomeDemolished, 0.50}}
	case violation.KindIllegalAdvertising:
		list = []ow{{violation.OutcomeUnfounded, 0.08}, {violation.OutcomeLegalized, 0.10}, {violation.OutcomePenalized, 0.12}, {violation.OutcomeDemolished, 0.70}}
	case violation.KindDumping:
		list = []ow{{violation.OutcomeUnfounded, 0.10}, {violation.OutcomePenalized, 0.30}, {violation.OutcomeDemolished, 0.60}}
	default:
		list = []ow{{violation.OutcomeUnfounded, 0.20}, {violation.OutcomeLegalized, 0.45}, {violation.OutcomePenalized, 0.35}}
	}
	x := g.rng.Float64()
	for _, o := range list[:len(list)-1] {
		if x -= o.w; x < 0 {
			return o.o
		}
	}
	return list[len(list)-1].o
}

// timeline turns the plan into events up to now and sets the stage fields
// and status from the last one.
func (g *violGen) timeline(r *violRow) {
	v := &r.v
	if v.Kind.Construction() {
		if r.demolish {
			r.outcome = violation.OutcomeDemolished
		} else {
			r.outcome = g.outcome(v.Kind)
		}
	}
	if v.Kind.Construction() && v.AreaM2 != nil {
		v.Description = strings.Replace(v.Description, "（面积待核）", fmt.Sprintf("，约 %.0f 平方米", *v.AreaM2), 1)
	}
	v.Status = violation.StatusDiscovered
	v.CreatedAt = v.DiscoveredAt
	v.UpdatedAt = v.DiscoveredAt
	add := func(a violation.Action, to violation.Status, actor, note string, at time.Time) bool {
		if at.IsZero() || at.After(g.now) {
			return false
		}
		name, dept, _ := strings.Cut(actor, "@")
		r.events = append(r.events, violation.Event{Action: a, FromStatus: v.Status, ToStatus: to,
			Actor: name + "@" + dept, ActorDept: dept, Note: note, At: at})
		v.Status, v.UpdatedAt = to, at
		return true
	}
	add(violation.ActionReport, violation.StatusDiscovered, r.reporter+"@"+r.reporterDept, "", v.DiscoveredAt)
	r.events[0].FromStatus = ""
	if r.outcome == violation.OutcomeUnfounded {
		at := v.DiscoveredAt.Add(g.between(2*time.Hour, 72*time.Hour)).Truncate(time.Second)
		if add(violation.ActionDismiss, violation.StatusClosed, r.officer, "现场核查不属实", at) {
			v.Outcome, v.ClosedAt = violation.OutcomeUnfounded, &at
		}
		v.DemolishedAreaM2 = nil
		return
	}
	note := fmt.Sprintf("rectify within %d working days, by %s", r.days, r.deadline.In(g.zone).Format("2006-01-02 15:04"))
	if !add(violation.ActionIssueNotice, violation.StatusNoticeIssued, r.officer, note, r.notice) {
		v.DemolishedAreaM2 = nil
		return
	}
	v.NoticeIssuedAt, v.Deadline = ptrTime(r.notice), ptrTime(r.deadline)
	if add(violation.ActionMarkDue, violation.StatusRectificationDue, violation.SweepActor+"@"+v.OwnerDept,
		"the rectification deadline passed", r.markDue) {
		v.DueAt = ptrTime(r.markDue)
	}
	year := r.resolveAt.In(g.zone).Year()
	var a violation.Action
	var to violation.Status
	switch r.outcome {
	case violation.OutcomeDemolished:
		a, to = violation.ActionDemolish, violation.StatusDemolished
		note = "已拆除"
		if v.DemolishedAreaM2 != nil {
			note = fmt.Sprintf("已拆除 %.1f 平方米", *v.DemolishedAreaM2)
		}
	case violation.OutcomeLegalized:
		a, to = violation.ActionLegalize, violation.StatusLegalized
		note = fmt.Sprintf("补办手续，泰海规许字〔%d〕第 %03d 号", year, 1+g.rng.IntN(400))
	default:
		a, to = violation.ActionPenalize, violation.StatusPenalized
		fine := []int{200, 500, 1000, 2000, 5000, 10000}[g.rng.IntN(6)]
		if v.Kind == violation.KindIllegalParking {
			fine = []int{100, 150, 200}[g.rng.IntN(3)]
		}
		note = fmt.Sprintf("泰海综执罚决字〔%d〕第 %04d 号，罚款 %d 元", year, 1+g.rng.IntN(9000), fine)
	}
	if !add(a, to, r.officer, note, r.resolveAt) {
		v.DemolishedAreaM2 = nil
		return
	}
	v.Outcome, v.ResolvedAt = r.outcome, ptrTime(r.resolveAt)
	switch {
	case r.outcome != violation.OutcomeDemolished:
		v.DemolishedAreaM2 = nil
	case !v.Kind.Construction() && v.AreaM2 != nil:
		a := *v.AreaM2 // as DEMOLISH without a measured area
		v.DemolishedAreaM2 = &a
	}
	if add(violation.ActionClose, violation.StatusClosed, r.officer, "结案", r.closeAt) {
		v.ClosedAt = ptrTime(r.closeAt)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// numberViolations numbers the rows and sums up the run.
func numberViolations(rows []*violRow, start int64, zone *time.Location) ViolationStats {
	var st ViolationStats
	for i, r := range rows {
		v := &r.v
		v.RecordNo = fmt.Sprintf("WF%d-%06d", v.DiscoveredAt.In(zone).Year(), start+int64(i))
		v.Version = len(r.events)
		st.Violations++
		st.Events += len(r.events)
		if v.Kind == violation.KindIllegalParking {
			st.IllegalParking++
		}
		if v.Status.Open() {
			st.Open++
		}
		if v.Kind.Construction() && v.Outcome == violation.OutcomeDemolished && v.DemolishedAreaM2 != nil {
			st.Demolished++
			st.DemolishedAreaM2 += *v.DemolishedAreaM2
		}
		if v.CaseID != nil {
			st.LinkedCases++
		}
		if v.PropertyID != nil {
			st.LinkedProperties++
		}
	}
	st.DemolishedAreaM2 = math.Round(st.DemolishedAreaM2*10) / 10
	return st
}
