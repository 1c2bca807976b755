package seed

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ParkingGrid is a unit grid of the jurisdiction tree, where lots are
// placed.
type ParkingGrid struct {
	Code   string // e.g. hailing.chengzhong.pozijie.g03
	NameZh string // e.g. 坡子街社区第3网格
	Lat    float64
	Lng    float64
}

// The district added 800+ parking spaces (docs/demo-data.md): in the demo,
// public car parks and on-street bays that opened since ParkingNewSince hold
// ParkingNewSpacesMin to ParkingNewSpacesMax spaces together; every other lot
// opened before it.
const (
	ParkingNewSpacesMin = 800
	ParkingNewSpacesMax = 900
)

// ParkingNewSince is when the new spaces start counting: 1 January 2023 in
// Taizhou, the start of the period the district's figures cover.
var ParkingNewSince = time.Date(2023, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// Demo box: the district centre ± 0.08° (docs/demo-data.md).
const (
	parkingLat, parkingLng, parkingSpan = 32.49, 119.92, 0.08
)

// ParkingLots returns n realistic lots of Hailing District placed near the given
// grids' centroids, the same for the same seed and grids, each with the
// date it opened (the new spaces since ParkingNewSince: see opened): a fifth are
// government lots, 42.5 % of which share spaces off-peak on Taizhou's rules
// (weekdays 18:30–07:30, rest days all day, no movement 22:00–06:00, cars of
// at most 7 seats), so the opening rate is about the reported 42 %; the rest
// are public car parks, on-street bays, commercial and residential lots. It
// returns nil without grids.
func ParkingLots(seed int64, grids []ParkingGrid, n int) []parking.Lot {
	if len(grids) == 0 || n <= 0 {
		return nil
	}
	g := newParkingGen(seed, grids)
	gov := int(math.Round(float64(n) * 0.2))
	shared := int(math.Round(float64(gov) * 0.425))
	public := int(math.Round(float64(n) * 0.25))
	onStreet := int(math.Round(float64(n) * 0.225))
	commercial := int(math.Round(float64(n) * 0.175))
	residential := max(n-gov-public-onStreet-commercial, 0)
	out := make([]parking.Lot, 0, n)
	for i := range gov {
		out = append(out, g.government(i < shared))
	}
	for range public {
		out = append(out, g.public())
	}
	for range onStreet {
		out = append(out, g.onStreet())
	}
	for range commercial {
		out = append(out, g.commercial())
	}
	for range residential {
		out = append(out, g.residential())
	}
	out = out[:min(n, len(out))]
	// Interleave kinds so the external ids do not reveal them, then number.
	g.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	g.opened(out)
	for i := range out {
		out[i].ExternalID = fmt.Sprintf("TP-PK-%05d", i+1)
		out[i].ID = g.uuidAt(out[i].CreatedAt)
	}
	return out
}

type parkingGen struct {
	rng      *rand.Rand
	grids    []ParkingGrid
	byStreet map[string][]int // street suffix → grid indexes
	central  []int            // grids of the six urban streets
	used     map[string]int   // names already given
}

func newParkingGen(seed int64, grids []ParkingGrid) *parkingGen {
	g := &parkingGen{rng: rand.New(rand.NewPCG(uint64(seed), 0x7061726b696e67)), // "parking"
		grids: grids, byStreet: map[string][]int{}, used: map[string]int{}}
	for i, gr := range grids {
		st := streetOf(gr.Code)
		g.byStreet[st] = append(g.byStreet[st], i)
		if !slices.Contains(parkingTowns, st) {
			g.central = append(g.central, i)
		}
	}
	if len(g.central) == 0 {
		g.central = make([]int, len(grids))
		for i := range grids {
			g.central[i] = i
		}
	}
	return g
}

var parkingTowns = []string{"jiulong", "gangyang", "suchen"}

// parkingStreets are the streets and towns of docs/demo-data.md and their
// main roads.
var parkingStreets = map[string]struct {
	zh    string
	roads []string
}{
	"chengdong":  {"城东街道", []string{"东进东路", "迎春东路", "东风路", "凤凰路", "梅兰东路", "青年北路"}},
	"chengxi":    {"城西街道", []string{"济川路", "迎春西路", "东进西路", "凤凰西路", "梅兰西路", "鼓楼北路"}},
	"chengzhong": {"城中街道", []string{"坡子街", "五一路", "鼓楼南路", "人民东路", "人民西路", "海陵北路", "府前路", "青年南路"}},
	"chengnan":   {"城南街道", []string{"南通路", "海陵南路", "周山河街", "春晖路", "江洲南路", "永定路"}},
	"chengbei":   {"城北街道", []string{"海陵北路", "鼓楼北路", "青年北路", "东风北路", "泰山路"}},
	"jingtailu":  {"京泰路街道", []string{"京泰路", "江洲北路", "通扬路", "东进西路", "济川北路"}},
	"jiulong":    {"九龙镇", []string{"九龙路", "凤凰西路"}},
	"gangyang":   {"罡杨镇", []string{"罡杨路", "海陵北路"}},
	"suchen":     {"苏陈镇", []string{"苏陈路", "东风北路"}},
}

// parkingGovUnits run government lots: the bureaus with a department code own
// their lot's record; the others' records belong to the street or town
// office where they lie.
var parkingGovUnits = []struct{ name, dept string }{
	{"海陵区人民政府机关", ""}, {"海陵区城市管理局", "urban-management"}, {"海陵区住房和城乡建设局", "housing"},
	{"海陵区自然资源和规划局", "planning"}, {"海陵区公安交警大队", "traffic-police"}, {"海陵区水利局", "water"},
	{"海陵区生态环境局", "environment"}, {"海陵区市场监督管理局", "market-regulation"}, {"海陵区人民法院", ""},
	{"海陵区人民检察院", ""}, {"国家税务总局泰州市海陵区税务局", ""}, {"海陵区教育局", ""}, {"海陵区实验小学", ""},
	{"泰州市第二中学附属初中", ""}, {"海陵区人民医院", ""}, {"海陵区图书馆", ""}, {"海陵区文化馆", ""},
	{"海陵区行政审批局", ""}, {"海陵区财政局", ""}, {"海陵区民政局", ""}, {"海陵区卫生健康委员会", ""},
	{"海陵区人力资源和社会保障局", ""}, {"海陵区档案馆", ""}, {"海陵区疾病预防控制中心", ""}, {"海陵区机关事务管理局", ""},
	{"海陵区退役军人事务局", ""}, {"海陵区应急管理局", ""}, {"海陵区政务服务中心", ""},
}

var parkingPublicNames = []string{"坡子街公共停车场", "凤城河景区停车场", "望海楼停车场", "梅兰芳纪念馆停车场", "稻河古街区停车场",
	"老街停车场", "泰州公园停车场", "天德湖公园停车场", "鼓楼路公共停车场", "五一路地下停车场", "人民公园停车场",
	"光孝寺停车场", "崇儒祠停车场", "周山河街区停车场", "泰州火车站停车场", "泰州汽车客运站停车场", "海陵区体育馆停车场",
	"泰州市图书馆停车场", "桃园景区停车场", "柳园停车场", "凤城河东岸停车场", "海陵区人民医院西侧公共停车场"}

var parkingCommercialNames = []struct{ name, operator string }{
	{"泰州万达广场停车场", "泰州万达广场商业管理有限公司"}, {"泰州印象城停车场", "泰州印象城商业管理有限公司"},
	{"金鹰国际购物中心停车场", "泰州金鹰国际购物中心有限公司"}, {"华润苏果超市停车场", "华润苏果超市有限公司泰州分公司"},
	{"坡子街商业广场地下停车场", "泰州坡子街商业管理有限公司"}, {"海陵宝龙广场停车场", "泰州宝龙商业物业管理有限公司"},
	{"泰州国际博览中心停车场", "泰州国际博览中心有限公司"}, {"百汇广场停车场", "泰州百汇商贸有限公司"},
	{"凤城河畔酒店停车场", "泰州凤城河畔酒店有限公司"}, {"泰州大润发停车场", "康成投资（中国）有限公司泰州分公司"},
	{"世纪联华超市停车场", "泰州世纪联华超市有限公司"}, {"海陵科技大厦停车场", "泰州海陵科技大厦物业管理有限公司"},
}

var parkingResidentialStems = []string{"花园", "新村", "苑", "小区", "家园", "雅苑", "名邸", "华庭"}

func (g *parkingGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// unique returns name, numbered (二号、三号…) when it was given before.
func (g *parkingGen) unique(name string) string {
	g.used[name]++
	if k := g.used[name]; k > 1 {
		return fmt.Sprintf("%s（%d号）", name, k)
	}
	return name
}

// place fills a lot's jurisdiction, location and address from a grid.
func (g *parkingGen) place(l *parking.Lot, gi int) {
	gr := g.grids[gi]
	l.JurisdictionCode = gr.Code
	// Within about 150 m of the centroid, inside the district box.
	l.Lat = clamp(gr.Lat+(g.rng.Float64()-0.5)*0.0027, parkingLat-parkingSpan, parkingLat+parkingSpan)
	l.Lng = clamp(gr.Lng+(g.rng.Float64()-0.5)*0.0032, parkingLng-parkingSpan, parkingLng+parkingSpan)
	l.Lat = math.Round(l.Lat*1e6) / 1e6
	l.Lng = math.Round(l.Lng*1e6) / 1e6
	st := parkingStreets[streetOf(gr.Code)]
	road := "海陵路"
	if len(st.roads) > 0 {
		road = g.pick(st.roads)
	}
	l.Address = fmt.Sprintf("泰州市海陵区%s%d号", road, 1+g.rng.IntN(388))
}

func (g *parkingGen) centralGrid() int { return g.central[g.rng.IntN(len(g.central))] }
func (g *parkingGen) anyGrid() int     { return g.rng.IntN(len(g.grids)) }

// stamp sets creation and update times between 2021 and 2025.
func (g *parkingGen) stamp(l *parking.Lot) {
	base := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	l.CreatedAt = base.Add(time.Duration(g.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).Truncate(time.Second)
	l.UpdatedAt = l.CreatedAt.Add(time.Duration(g.rng.Int64N(int64(180 * 24 * time.Hour)))).Truncate(time.Second)
	l.Version = 1
	l.SourceDept = parking.ProviderDept
}

// opened dates the lots: public car parks and on-street bays, in the
// shuffled order, open after ParkingNewSince while their spaces add up to
// ParkingNewSpacesMin (a lot that would take the sum past ParkingNewSpacesMax is
// skipped); their records are made the day they open. Every other lot
// opened between 1998 and the end of 2022, and no later than its record.
func (g *parkingGen) opened(lots []parking.Lot) {
	added := 0
	for i := range lots {
		l := &lots[i]
		newLot := added < ParkingNewSpacesMin && (l.Kind == parking.KindPublic || l.Kind == parking.KindOnStreet) &&
			added+l.TotalSpaces <= ParkingNewSpacesMax
		if newLot {
			added += l.TotalSpaces
			// A working-day morning between March 2023 and October 2025.
			day := ParkingNewSince.AddDate(0, 2, g.rng.IntN(975))
			for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
				day = day.AddDate(0, 0, 1)
			}
			at := day.Add(9*time.Hour + time.Duration(g.rng.IntN(120))*time.Minute).UTC()
			l.OpenedAt = &at
			l.CreatedAt = at.Add(-time.Duration(g.rng.IntN(72)) * time.Hour)
			l.UpdatedAt = at.Add(time.Duration(g.rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Second)
			continue
		}
		first := time.Date(1998, 1, 1, 0, 0, 0, 0, time.UTC)
		last := minTime(l.CreatedAt, ParkingNewSince.Add(-time.Hour))
		at := first.Add(time.Duration(g.rng.Int64N(int64(last.Sub(first))))).Truncate(24 * time.Hour)
		l.OpenedAt = &at
	}
}

func (g *parkingGen) contact(l *parking.Lot, title string) {
	l.ContactName = g.pick(parkingSurnames) + title
	if g.rng.IntN(2) == 0 {
		l.ContactPhone = landline(g.rng)
	} else {
		l.ContactPhone = mobile(g.rng, "3589")
	}
}

// uuidAt returns a UUIDv7 for instant t with random bits from the seed, so
// ids sort by creation time and repeat with the seed.
func (g *parkingGen) uuidAt(t time.Time) uuid.UUID {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return uuidV7(uint64(t.UnixMilli()), uint16(a), b)
}

func (g *parkingGen) government(shared bool) parking.Lot {
	unit := parkingGovUnits[g.rng.IntN(len(parkingGovUnits))]
	gi := g.centralGrid()
	if unit.dept == "" && g.rng.IntN(4) == 0 {
		gi = g.anyGrid()
	}
	street := streetOf(g.grids[gi].Code)
	owner := unit.dept
	operator := unit.name
	if owner == "" {
		owner = parkingStreetDept(street)
	}
	if g.rng.IntN(5) == 0 { // street and town offices run their own lots
		operator = parkingStreets[street].zh + "办事处"
		if slices.Contains(parkingTowns, street) {
			operator = parkingStreets[street].zh + "人民政府"
		}
		owner = parkingStreetDept(street)
	}
	l := parking.Lot{Kind: parking.KindGovernmentShared, IsGovernment: true, Operator: operator, OwnerDept: owner,
		Name: g.unique(operator + "停车场"), TotalSpaces: 30 + g.rng.IntN(171)}
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "师傅")
	if !shared {
		l.BookingRule = "内部停车场，暂未纳入错时共享，不对外开放"
		return l
	}
	l.SharedSpaces = max(10, l.TotalSpaces*(30+g.rng.IntN(41))/100)
	l.Windows = parking.StandardSharedWindows()
	switch g.rng.IntN(10) {
	case 0: // a later evening start where staff work late
		l.Windows.Weekday = []parking.Range{parking.MustRange("19:00-07:30")}
	case 1: // daytime only at weekends (a school that locks up at night)
		l.Windows.RestDayAllDay = false
		l.Windows.RestDay = []parking.Range{parking.MustRange("07:00-21:00")}
	}
	l.MaxSeats = 7
	l.BookingRule = g.pick([]string{
		"无需预约，错时共享时段凭车牌识别入场，工作日7:30前驶离",
		"通过“泰州停车”APP预约，预约保留30分钟，工作日7:30前驶离",
		"无需预约，按现场指引停放，22:00至次日6:00禁止进出",
	})
	l.FeeRule = g.pick([]string{"错时共享时段免费", "首2小时免费，超出后每小时1元，夜间封顶5元", "错时共享时段按次收费，每次5元"})
	return l
}

func parkingStreetDept(street string) string {
	if slices.Contains(parkingTowns, street) {
		return "town-" + street
	}
	return "street-" + street
}

func (g *parkingGen) public() parking.Lot {
	gi := g.centralGrid()
	if g.rng.IntN(6) == 0 {
		gi = g.anyGrid()
	}
	name := g.pick(parkingPublicNames)
	if g.rng.IntN(3) == 0 {
		st := parkingStreets[streetOf(g.grids[gi].Code)]
		if len(st.roads) > 0 {
			name = g.pick(st.roads) + "公共停车场"
		}
	}
	owner, operator := "urban-management", "泰州市海陵区城市管理局"
	if g.rng.IntN(4) == 0 {
		owner, operator = parking.ProviderDept, "泰州市海陵区静态交通管理有限公司"
	}
	l := parking.Lot{Kind: parking.KindPublic, Name: g.unique(name), OwnerDept: owner, Operator: operator,
		TotalSpaces: 40 + g.rng.IntN(461)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(4) == 0 {
		l.Windows.Hours = []parking.Range{parking.MustRange("06:00-23:00")}
	}
	l.BookingRule = "无需预约"
	l.FeeRule = g.pick([]string{"首30分钟免费，之后每小时2元，24小时封顶20元", "每小时3元，夜间（20:00-次日8:00）每小时1元", "免费开放"})
	return l
}

func (g *parkingGen) onStreet() parking.Lot {
	gi := g.centralGrid()
	st := parkingStreets[streetOf(g.grids[gi].Code)]
	road := "海陵路"
	if len(st.roads) > 0 {
		road = g.pick(st.roads)
	}
	l := parking.Lot{Kind: parking.KindOnStreet, Name: g.unique(fmt.Sprintf("%s路内停车泊位（第%d段）", road, 1+g.rng.IntN(6))),
		OwnerDept: parking.ProviderDept, Operator: "海陵区公安交警大队", TotalSpaces: 8 + g.rng.IntN(53)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	if g.rng.IntN(2) == 0 {
		l.Windows.Hours = []parking.Range{parking.MustRange("07:00-22:00")}
	}
	l.BookingRule = "无需预约，按泊位线停放"
	l.FeeRule = "7:00-21:00首15分钟免费，之后每小时2元；其他时段免费"
	l.ContactName = "交警大队停车管理科"
	l.ContactPhone = "0523-86882122"
	return l
}

func (g *parkingGen) commercial() parking.Lot {
	c := parkingCommercialNames[g.rng.IntN(len(parkingCommercialNames))]
	gi := g.centralGrid()
	l := parking.Lot{Kind: parking.KindCommercial, Name: g.unique(c.name), OwnerDept: parking.ProviderDept, Operator: c.operator,
		TotalSpaces: 150 + g.rng.IntN(1351)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(2) == 0 {
		l.Windows.Hours = []parking.Range{parking.MustRange("08:00-23:00")}
	}
	l.BookingRule = "无需预约"
	l.FeeRule = g.pick([]string{"购物满100元免费停车2小时，之后每小时3元", "首小时免费，之后每小时4元，24小时封顶30元"})
	return l
}

func (g *parkingGen) residential() parking.Lot {
	gi := g.anyGrid()
	gr := g.grids[gi]
	community, _, _ := strings.Cut(gr.NameZh, "第")
	community = strings.TrimSuffix(strings.TrimSuffix(community, "社区"), "村")
	if community == "" {
		community = "凤城"
	}
	stem := g.pick(parkingResidentialStems)
	l := parking.Lot{Kind: parking.KindResidential, Name: g.unique(community + stem + "停车场"), OwnerDept: "housing",
		Operator: community + stem + "物业服务有限公司", TotalSpaces: 60 + g.rng.IntN(541)}
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(5) < 2 { // a shared-parking pilot: daytime spaces for outsiders
		l.SharedSpaces = max(5, l.TotalSpaces/10)
		l.Windows.Hours = []parking.Range{parking.MustRange("08:00-18:00")}
		l.BookingRule = "外来车辆需通过物业预约，18:00前驶离"
		l.FeeRule = "每小时2元，白天封顶10元"
	} else {
		l.BookingRule = "仅限业主车辆"
		l.FeeRule = "业主月租"
	}
	return l
}

// ParkingGrids reads the unit grids with a centroid, by code: where
// ParkingLots places lots.
func ParkingGrids(ctx context.Context, db postgres.DB) ([]ParkingGrid, error) {
	rows, err := db.Query(ctx, `SELECT code, name_zh, lat, lng FROM jurisdictions
		WHERE level = 'GRID' AND lat IS NOT NULL AND lng IS NOT NULL ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("query grids: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ParkingGrid, error) {
		var g ParkingGrid
		err := r.Scan(&g.Code, &g.NameZh, &g.Lat, &g.Lng)
		return g, err
	})
}

// SeedParking loads ParkingLots(seed, grids, n) lots placed on the
// database's grids and returns how many it wrote. The jurisdictions and
// departments must be there already; existing lots with the same ids or
// external ids fail the load with CONFLICT.
func SeedParking(ctx context.Context, db postgres.DB, seed int64, n int) (int64, error) {
	grids, err := ParkingGrids(ctx, db)
	if err != nil {
		return 0, err
	}
	if len(grids) == 0 {
		return 0, fmt.Errorf("seed parking: no grids with a centroid; load the jurisdictions first")
	}
	return postgres.NewParkingStore(db).InsertLots(ctx, ParkingLots(seed, grids, n))
}
