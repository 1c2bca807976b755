package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/jackc/pgx/v5"
)

// PropertyGrid is a unit grid GenerateProperties places compounds in.
type PropertyGrid struct {
	Code          string // e.g. hailing.chengdong.dongjin.g03
	CommunityName string // e.g. 东进社区 or 民主村
	Lat, Lng      float64
}

// Demo sizes (docs/demo-data.md: 113 old compounds renovated; about
// 480,000 residents).
const (
	// PropertyResidents and PropertyPersonsPerHousehold size the compounds: the
	// register covers the district's housing, so its households times the
	// household size come to about the district's population (about
	// 184,600 households; the draw lands within a few per cent of it).
	PropertyResidents           = 480_000
	PropertyPersonsPerHousehold = 2.6
	PropertyCompounds           = 600
	PropertyRenovated           = 113
	PropertyInspectors          = 40
	propertyCompanies           = 45
	propertyConflicts           = 16
	propertyInProgress          = 34
	propertyPlanned             = 28
)

// PropertyRounds are the past rounds the demo holds, drawn and published: two
// a year (the double-random rules ask for at least two), each drawn on the
// first working day from the 2nd of its first month, published on the
// first working day from the 25th of its last, with a 10 % sample and two
// inspectors per target.
var PropertyRounds = []string{"2024-H1", "2024-H2", "2025-H1", "2025-H2"}

const (
	propertyRatio     = 0.10
	propertyPerTarget = 2
)

// GenerateProperties builds the demo dataset from a seed and the grids (in any
// order: they are sorted by code first); cal places the rounds' draws,
// inspections, results and publication on working days (Monday to Friday
// when nil). The same seed, grids and calendar give the same dataset, ids
// included: every random choice comes from one PCG stream in a fixed order,
// and nothing reads the clock.
func GenerateProperties(seed int64, grids []PropertyGrid, cal property.WorkingDays) (*postgres.PropertyRegister, error) {
	if len(grids) == 0 {
		return nil, errors.New("no grids: load the jurisdiction tree first")
	}
	// A nil cal reaches property's day arithmetic, which takes it as Monday
	// to Friday.
	g := &propertyGen{rng: rand.New(rand.NewPCG(uint64(seed), 0x70726f7065727479)), names: map[string]bool{}, cal: cal}
	g.d.InspectorsCreatedAt = time.Date(2023, 12, 1, 1, 0, 0, 0, time.UTC) // before the first round
	g.grids = slices.Clone(grids)
	slices.SortFunc(g.grids, func(a, b PropertyGrid) int { return strings.Compare(a.Code, b.Code) })
	g.companies()
	g.compounds()
	g.renovations()
	g.permits()
	g.inspectors()
	if err := g.rounds(); err != nil {
		return nil, err
	}
	return &g.d, nil
}

type propertyCompany struct{ name, code string }

type propertyGen struct {
	rng       *rand.Rand
	grids     []PropertyGrid
	gridCum   []float64
	names     map[string]bool
	companys  []propertyCompany
	permitSeq int
	cal       property.WorkingDays
	d         postgres.PropertyRegister
}

func (g *propertyGen) of(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *propertyGen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *propertyGen) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// propertyStreetWeights share compounds out: the old town is dense, the towns are
// mostly villages.
var propertyStreetWeights = map[string]float64{
	"chengzhong": 18, "chengdong": 16, "chengxi": 14, "chengnan": 13, "jingtailu": 12, "chengbei": 11,
	"jiulong": 5, "gangyang": 3, "suchen": 3,
}

func streetOf(code string) string {
	parts := strings.Split(code, ".")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

var propertyStreetRoads = map[string][]string{
	"chengdong":  {"东进东路", "迎春东路", "东风路", "凤凰路", "梅兰东路", "青年北路"},
	"chengxi":    {"济川路", "迎春西路", "东进西路", "凤凰西路", "梅兰西路", "鼓楼北路"},
	"chengzhong": {"坡子街", "五一路", "鼓楼南路", "人民东路", "人民西路", "海陵北路", "府前路", "税务东街", "青年南路"},
	"chengnan":   {"南通路", "海陵南路", "周山河街", "春晖路", "江洲南路", "永定路"},
	"chengbei":   {"海陵北路", "鼓楼北路", "青年北路", "东风北路", "泰山路"},
	"jingtailu":  {"京泰路", "江洲北路", "通扬路", "东进西路", "济川北路"},
	"jiulong":    {"九龙路", "凤凰西路"},
	"gangyang":   {"罡杨路", "海陵北路"},
	"suchen":     {"苏陈路", "东风北路"},
}

var propertyTownNames = map[string]string{"jiulong": "九龙镇", "gangyang": "罡杨镇", "suchen": "苏陈镇"}

var (
	propertyStems = []string{"凤凰", "鼓楼", "春晖", "梅兰", "稻河", "泰和", "望海", "天德", "锦绣", "翠竹", "银杏", "紫藤",
		"金色", "阳光", "星河", "明珠", "凤城", "济川", "滨河", "御景", "朝阳", "东湖", "西园", "南苑", "华侨", "香榭", "玉兰",
		"桂花", "丽都", "世纪", "嘉禾", "和平", "幸福", "五一", "东方", "长江", "海光", "迎春", "东进", "府前", "永定", "光明",
		"百花", "莲花", "桃园", "青年", "人民", "新华", "凤栖", "溪桥", "碧水", "兰亭", "君悦", "海陵", "泰山", "江洲", "通扬"}
	oldSuffixes = []string{"新村", "小区", "新村", "小区", "公寓", "东村", "西村", "南村", "北村", "里"}
	newSuffixes = []string{"花园", "家园", "华府", "名邸", "雅苑", "花苑", "嘉园", "公馆", "华庭", "铭苑", "水岸", "花城",
		"壹号院", "学府"}
	oldUnits = []string{"供电局", "粮食局", "纺织厂", "电厂", "机床厂", "二中", "人民医院", "税务局", "邮电局", "农机厂",
		"棉纺厂", "造船厂", "建设银行", "交通局", "市政公司", "食品厂"}
	renovationScopes = []string{"屋面防水", "外墙保温", "雨污分流", "道路黑化", "加装电梯", "增设停车位", "安防监控", "绿化提升",
		"管线入地", "充电设施", "适老化改造", "消防设施更新", "二次供水改造", "楼道照明"}
)

// creditCodeChars is the alphabet of unified social credit codes (GB
// 32100: digits and capitals without I, O, S, V, Z).
const creditCodeChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// orgCode returns a 9-character organisation code (GB 11714): 8 characters
// (old style digits, or the "MA" codes issued since 2015) and the check
// character.
func (g *propertyGen) orgCode() string {
	b := make([]byte, 0, 9)
	if g.chance(0.6) {
		b = append(b, 'M', 'A')
		for range 6 {
			b = append(b, creditCodeChars[g.rng.IntN(len(creditCodeChars))])
		}
	} else {
		b = append(b, byte('1'+g.rng.IntN(9)))
		for range 7 {
			b = append(b, byte('0'+g.rng.IntN(10)))
		}
	}
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range b {
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		b = append(b, 'X')
	case 11:
		b = append(b, '0')
	default:
		b = append(b, byte('0'+c))
	}
	return string(b)
}

func (g *propertyGen) companies() {
	seen := map[string]bool{}
	prefixes := []string{"泰州市", "泰州", "江苏"}
	suffixes := []string{"物业管理有限公司", "物业服务有限公司", "物业管理服务有限公司"}
	for len(g.companys) < propertyCompanies {
		name := g.of(prefixes) + g.of(propertyStems) + g.of(suffixes)
		if seen[name] {
			continue
		}
		seen[name] = true
		admin := "321202" // Hailing
		if g.chance(0.25) {
			admin = "321200" // registered with the city
		}
		body := "91" + admin + g.orgCode()
		check, _ := property.CreditCodeCheck(body)
		g.companys = append(g.companys, propertyCompany{name: name, code: body + string(check)})
	}
}

func (g *propertyGen) pickGrid() PropertyGrid {
	if g.gridCum == nil {
		counts := map[string]int{}
		for _, gr := range g.grids {
			counts[streetOf(gr.Code)]++
		}
		total := 0.0
		for _, gr := range g.grids {
			st := streetOf(gr.Code)
			w, ok := propertyStreetWeights[st]
			if !ok {
				w = 4
			}
			total += w / float64(counts[st])
			g.gridCum = append(g.gridCum, total)
		}
	}
	x := g.rng.Float64() * g.gridCum[len(g.gridCum)-1]
	return g.grids[min(sort.SearchFloat64s(g.gridCum, x), len(g.grids)-1)]
}

func communityStem(name string) string {
	return strings.TrimSuffix(strings.TrimSuffix(name, "社区"), "村")
}

func (g *propertyGen) compoundName(gr PropertyGrid, old bool) string {
	village := strings.HasSuffix(gr.CommunityName, "村")
	for try := 0; ; try++ {
		var name string
		switch x := g.rng.Float64(); {
		case old && village:
			name = gr.CommunityName + g.of([]string{"安置小区", "新村", "集中居住区"})
		case old && x < 0.40:
			name = g.of(propertyStems) + g.of(oldSuffixes)
		case old && x < 0.62:
			name = fmt.Sprintf("%s%d号院", gr.CommunityName, g.between(1, 12))
		case old && x < 0.80:
			name = g.of(oldUnits) + g.of([]string{"宿舍", "家属区", "宿舍区"})
		case old:
			name = communityStem(gr.CommunityName) + g.of(oldSuffixes)
		case x < 0.75:
			name = g.of(propertyStems) + g.of(newSuffixes)
		default:
			name = communityStem(gr.CommunityName) + g.of(newSuffixes)
		}
		if try > 4 {
			name += []string{"二期", "三期", "四期", "五期"}[min(try-5, 3)]
			if try > 8 {
				name = fmt.Sprintf("%s%d", name, try)
			}
		}
		if !g.names[name] {
			g.names[name] = true
			return name
		}
	}
}

// District box the generated coordinates stay inside (docs/demo-data.md).
const (
	propertyLatLo, propertyLatHi = 32.412, 32.568
	propertyLngLo, propertyLngHi = 119.842, 119.998
)

func (g *propertyGen) compounds() {
	for i := range PropertyCompounds {
		gr := g.pickGrid()
		old := g.chance(0.45)
		year := 2001 + g.rng.IntN(23)
		if old {
			year = 1980 + g.rng.IntN(21)
		}
		st := streetOf(gr.Code)
		roads := propertyStreetRoads[st]
		if len(roads) == 0 {
			roads = []string{"海陵北路"}
		}
		addr := "泰州市海陵区" + propertyTownNames[st] + fmt.Sprintf("%s%d号", g.of(roads), g.between(1, 400))
		// Sized so the register houses the district (PropertyResidents): old
		// compounds are a few six-storey walk-ups of 12–36 flats each
		// (about 190 households), newer ones 3–16 taller blocks of 24–60
		// (about 400); 45 % old, 55 % newer, 600 compounds: about 184,000
		// households.
		buildings := g.between(3, 16)
		perBuilding := g.between(24, 60)
		if old {
			buildings, perBuilding = g.between(2, 14), g.between(12, 36)
		}
		p := &property.Property{
			ID: uuidV4(g.rng), OwnerDept: property.OwnerDept, Name: g.compoundName(gr, old), Address: addr,
			Lat:              clamp(gr.Lat+g.rng.NormFloat64()*0.0012, propertyLatLo, propertyLatHi),
			Lng:              clamp(gr.Lng+g.rng.NormFloat64()*0.0012, propertyLngLo, propertyLngHi),
			JurisdictionCode: gr.Code, BuildYear: year, Buildings: buildings, Households: buildings * perBuilding,
			Renovation: property.Renovation{Status: property.RenovationNone},
			SourceDept: property.OwnerDept, ExternalID: fmt.Sprintf("HS-XQ-%04d", i+1), Version: 1,
		}
		managed := 0.95
		if old {
			managed = 0.55
		}
		if g.chance(managed) {
			// A few large companies run many projects.
			u := g.rng.Float64()
			c := g.companys[int(u*u*float64(len(g.companys)))]
			p.Management = &property.Management{Company: c.name, CreditCode: c.code, ContactName: propertyNames.name(g.rng), ContactPhone: mobile(g.rng, "35789")}
		}
		switch {
		case g.chance(0.07): // a compound in trouble
			p.Complaints = 12 + g.rng.IntN(40)
		case old:
			p.Complaints = g.rng.IntN(5) + g.rng.IntN(4)
		default:
			p.Complaints = g.rng.IntN(4) + g.rng.IntN(3)
		}
		// The register was built in 2023, before the first demo round drew
		// from it.
		created := time.Date(2023, 1, 2, 1, 0, 0, 0, time.UTC).Add(time.Duration(g.rng.IntN(360*24*60)) * time.Minute)
		p.CreatedAt, p.UpdatedAt = created, created
		g.d.Properties = append(g.d.Properties, p)
	}
}

func clamp(x, lo, hi float64) float64 { return max(lo, min(hi, x)) }

// renovations marks PropertyRenovated compounds built up to 2000 DONE and a few
// more IN_PROGRESS or PLANNED, with a scope and a budget.
func (g *propertyGen) renovations() {
	var old []*property.Property
	for _, p := range g.d.Properties {
		if p.BuildYear <= 2000 {
			old = append(old, p)
		}
	}
	g.rng.Shuffle(len(old), func(i, j int) { old[i], old[j] = old[j], old[i] })
	for i, p := range old {
		var year int
		switch {
		case i < PropertyRenovated:
			p.Renovation.Status, year = property.RenovationDone, 2019+g.rng.IntN(6)
		case i < PropertyRenovated+propertyInProgress:
			p.Renovation.Status, year = property.RenovationInProgress, 2025
		case i < PropertyRenovated+propertyInProgress+propertyPlanned:
			p.Renovation.Status, year = property.RenovationPlanned, 2026
		default:
			continue
		}
		p.Renovation.Year = &year
		items := slices.Clone(renovationScopes)
		g.rng.Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
		p.Renovation.Scope = strings.Join(items[:g.between(3, 6)], "、")
		// 1,500–4,200 yuan per household, rounded to a thousand yuan.
		yuan := int64(p.Households) * int64(g.between(1500, 4200)) / 1000 * 1000
		fen := yuan * 100
		p.Renovation.BudgetFen = &fen
	}
}

func (g *propertyGen) permitNo(year int) string {
	g.permitSeq++
	return fmt.Sprintf("建字第321202%d%05d号", year, g.permitSeq)
}

func (g *propertyGen) addPermit(p *property.Property, scope property.PermitScope, on time.Time, structure string, area float64, valid bool) {
	at := on.Add(9 * time.Hour)
	g.d.Permits = append(g.d.Permits, property.Permit{
		ID: uuidV4(g.rng), PermitNo: g.permitNo(on.Year()), PropertyID: p.ID, IssuedOn: on, Scope: scope,
		Structure: structure, FloorAreaM2: area, Valid: valid,
		OwnerDept: property.PermitDept, SourceDept: property.PermitDept, ExternalID: fmt.Sprintf("PLN-%06d", g.permitSeq),
		CreatedAt: at, UpdatedAt: at, Version: 1,
	})
}

func (g *propertyGen) date(year int) time.Time {
	return time.Date(year, time.Month(g.between(1, 12)), g.between(1, 28), 0, 0, 0, 0, time.UTC)
}

// permits gives most compounds built since 1990 (when the planning-permit
// regime began) their original permit, older ones rarely (records lost),
// and some compounds later additions, extensions, alterations or ancillary
// buildings, a few of them revoked.
func (g *propertyGen) permits() {
	for _, p := range g.d.Properties {
		pOrig := 0.74
		if p.BuildYear < 1990 {
			pOrig = 0.22
		}
		if g.chance(pOrig) {
			area := float64(p.Households * g.between(70, 115))
			g.addPermit(p, property.ScopeNewResidential, g.date(max(p.BuildYear-1, 1980)),
				fmt.Sprintf("住宅楼%d幢及配套用房", p.Buildings), area, true)
		}
		if !g.chance(0.16) {
			continue
		}
		year := max(p.BuildYear+1, 2005) + g.rng.IntN(5)
		year = min(year, 2024)
		valid := !g.chance(0.12)
		building := g.between(1, p.Buildings)
		switch g.rng.IntN(4) {
		case 0:
			g.addPermit(p, property.ScopeAddition, g.date(year), fmt.Sprintf("%d号楼顶层加建阳光房", building), float64(g.between(20, 80)), valid)
		case 1:
			g.addPermit(p, property.ScopeExtension, g.date(year), fmt.Sprintf("%d号楼底层扩建", building), float64(g.between(15, 60)), valid)
		case 2:
			g.addPermit(p, property.ScopeAlteration, g.date(year), fmt.Sprintf("%d号楼沿街商铺改门改窗", building), 0, valid)
		default:
			g.addPermit(p, property.ScopeAncillary, g.date(year), g.of([]string{"非机动车棚", "配电房", "垃圾分类用房", "物业用房"}),
				float64(g.between(30, 120)), valid)
		}
	}
}

func (g *propertyGen) inspectors() {
	seen := map[string]bool{}
	inactive := map[int]bool{g.rng.IntN(PropertyInspectors): true, g.rng.IntN(PropertyInspectors): true}
	for i := range PropertyInspectors {
		name := propertyNames.name(g.rng)
		for seen[name] {
			name = propertyNames.name(g.rng)
		}
		seen[name] = true
		g.d.Inspectors = append(g.d.Inspectors, property.Inspector{ID: fmt.Sprintf("HS-INS-%03d", i+1), Name: name, Dept: property.OwnerDept, Active: !inactive[i]})
	}
	var targets []*property.Property
	for _, p := range g.d.Properties {
		if p.IsTarget() {
			targets = append(targets, p)
		}
	}
	reasons := []string{"本人居住在该小区", "配偶在该物业公司任职", "近亲属在该物业公司任职", "曾在该物业公司任职未满三年",
		"与该项目负责人存在利害关系"}
	pairs := map[property.Conflict]bool{}
	for len(g.d.Conflicts) < propertyConflicts && len(targets) > 0 {
		c := property.Conflict{InspectorID: g.d.Inspectors[g.rng.IntN(len(g.d.Inspectors))].ID, PropertyID: targets[g.rng.IntN(len(targets))].ID}
		if pairs[c] {
			continue
		}
		pairs[c] = true
		g.d.Conflicts = append(g.d.Conflicts, postgres.DeclaredConflict{InspectorID: c.InspectorID, PropertyID: c.PropertyID,
			Reason: g.of(reasons), DeclaredAt: time.Date(2023, 12, g.between(1, 28), 2, 0, 0, 0, time.UTC)})
	}
}

var (
	rectifyFindings = []string{"消防通道堆放杂物", "电梯维保记录不全", "公共区域照明损坏未及时维修", "垃圾分类投放点管理不到位",
		"物业服务收费未按规定公示", "二次供水水箱清洗记录缺失", "监控设备部分损坏", "绿化养护不到位"}
	failFindings = []string{"未按合同约定提供秩序维护服务", "消防设施长期瘫痪未报修", "擅自占用共有部位经营", "物业服务人员严重不足"}
	passFindings = []string{"", "", "物业服务规范，台账齐全", "各项服务基本到位"}
)

// rounds draws the demo's past rounds with the real property.Draw from the generated
// registers, records results and publishes them.
func (g *propertyGen) rounds() error {
	reg := property.Registers{}
	for _, p := range g.d.Properties {
		if p.IsTarget() {
			reg.Targets = append(reg.Targets, property.Target{PropertyID: p.ID, Complaints: p.Complaints})
		}
	}
	for _, in := range g.d.Inspectors {
		if in.Active {
			reg.Inspectors = append(reg.Inspectors, in.ID)
		}
	}
	active := map[string]bool{}
	for _, id := range reg.Inspectors {
		active[id] = true
	}
	for _, c := range g.d.Conflicts {
		if active[c.InspectorID] {
			reg.Conflicts = append(reg.Conflicts, property.Conflict{InspectorID: c.InspectorID, PropertyID: c.PropertyID})
		}
	}
	var past [][]property.Assignment // assignments of the rounds drawn so far, newest first
	for i, round := range PropertyRounds {
		// Recusal looks back over the last property.RecusalRoundsDefault rounds, as
		// a live draw does by default.
		reg.PreviousRounds, reg.Previous = nil, nil
		for k := range min(len(past), property.RecusalRoundsDefault) {
			reg.PreviousRounds = append(reg.PreviousRounds, PropertyRounds[i-1-k])
			reg.Previous = append(reg.Previous, past[k]...)
		}
		start, months, _ := property.ParseRound(round)
		// Drawn before the first inspections (a week into the period, see
		// ScheduleDates), at 10:00 in Taizhou.
		drawn := property.NextWorkingDay(g.cal, start.AddDate(0, 0, 1)).Add(2 * time.Hour)
		res, err := property.Draw(reg, g.rng.Int64(), propertyRatio, propertyPerTarget)
		if err != nil {
			return fmt.Errorf("draw %s: %w", round, err)
		}
		r, list := property.RoundFromDraw(round, property.OwnerDept, res, drawn, "seed@"+property.OwnerDept, g.cal)
		published := property.NextWorkingDay(g.cal, start.AddDate(0, months-1, 24)).Add(8 * time.Hour) // 16:00
		r.Published, r.PublishedAt = true, &published
		for i := range list {
			in := &list[i]
			in.ID = uuidV4(g.rng)
			switch x := g.rng.Float64(); {
			case x < 0.68:
				in.Result, in.Findings = property.ResultPass, g.of(passFindings)
			case x < 0.92:
				in.Result, in.Findings = property.ResultRectify, g.of(rectifyFindings)+"，责令15日内整改"
			default:
				in.Result, in.Findings = property.ResultFail, g.of(failFindings)+"，记入信用档案"
			}
			// Recorded in office hours (09:00–12:00 or 14:00–17:00 in
			// Taizhou) of a working day within a few days of the visit.
			day := property.NextWorkingDay(g.cal, in.ScheduledOn.AddDate(0, 0, g.between(0, 3)))
			hour := []int{1, 2, 3, 6, 7, 8}[g.rng.IntN(6)] // UTC: 09, 10, 11, 14, 15, 16 o'clock local
			at := day.Add(time.Duration(hour)*time.Hour + time.Duration(g.rng.IntN(60))*time.Minute)
			in.RecordedAt, in.Published, in.Version = &at, true, 2
		}
		g.d.Rounds = append(g.d.Rounds, postgres.DrawnRound{Round: r, Targets: reg.EncodeTargets(), Inspectors: reg.EncodeInspectors(), Inspections: list})
		var done []property.Assignment
		for _, in := range list {
			for _, id := range in.InspectorIDs {
				done = append(done, property.Assignment{PropertyID: in.PropertyID, InspectorID: id})
			}
		}
		past = append([][]property.Assignment{done}, past...)
	}
	return nil
}

// ErrPropertiesSeeded is returned (wrapped) by SeedProperties when the
// property tables already hold data.
var ErrPropertiesSeeded = errors.New("the property tables already hold data")

// SeedProperties fills the property tables with deterministic demo data for
// Hailing District, in one transaction: about 600 residential compounds
// spread over the grids of the jurisdictions table (central streets denser
// than the towns; build years 1980–2023), property-management companies
// with valid unified social credit codes, old-community renovation (113
// compounds built up to 2000 DONE, some IN_PROGRESS and PLANNED with
// budgets), planning permits on about 60 % of compounds, 40 housing
// inspectors with a few declared conflicts of interest, and four past
// rounds of double-random inspections (PropertyRounds: two a year, 2024-H1
// to 2025-H2, recusal looking back over two rounds) drawn with
// property.Draw from the generated registers — so ReplayDraw verifies them —
// scheduled, recorded and published on working days of cal, with results.
// The same seed, calendar and jurisdiction tree give identical rows (ids
// included). The jurisdictions and the housing and planning departments
// must exist; ErrPropertiesSeeded when the tables already hold data.
func SeedProperties(ctx context.Context, db postgres.DB, seed int64, cal property.WorkingDays) error {
	return postgres.InTx(ctx, db, func(tx pgx.Tx) error {
		// Concurrent seeders queue here; the second then finds the data.
		if _, err := tx.Exec(ctx, `LOCK TABLE properties, inspectors, inspection_rounds IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("seed properties: lock: %w", err)
		}
		var busy bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM properties) OR EXISTS (SELECT 1 FROM inspectors)
			OR EXISTS (SELECT 1 FROM inspection_rounds)`).Scan(&busy); err != nil {
			return fmt.Errorf("seed properties: check: %w", err)
		}
		if busy {
			return fmt.Errorf("seed properties: %w", ErrPropertiesSeeded)
		}
		grids, err := propertyGrids(ctx, tx)
		if err != nil {
			return err
		}
		d, err := GenerateProperties(seed, grids, cal)
		if err != nil {
			return fmt.Errorf("seed properties: %w", err)
		}
		return postgres.CopyPropertyRegister(ctx, tx, d)
	})
}

// propertyGrids reads the unit grids with a centroid and their community's
// name, by code.
func propertyGrids(ctx context.Context, tx pgx.Tx) ([]PropertyGrid, error) {
	rows, err := tx.Query(ctx, `SELECT g.code, c.name_zh, g.lat, g.lng FROM jurisdictions g
		JOIN jurisdictions c ON c.code = g.parent_code
		WHERE g.level = 'GRID' AND g.lat IS NOT NULL AND g.lng IS NOT NULL ORDER BY g.code`)
	if err != nil {
		return nil, fmt.Errorf("seed properties: read grids: %w", err)
	}
	grids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PropertyGrid, error) {
		var g PropertyGrid
		err := r.Scan(&g.Code, &g.CommunityName, &g.Lat, &g.Lng)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("seed properties: read grids: %w", err)
	}
	return grids, nil
}
