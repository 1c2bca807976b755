package parking

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Grid is a unit grid of the jurisdiction tree, where demo lots are placed.
type Grid struct {
	Code   string // e.g. hailing.chengzhong.pozijie.g03
	NameZh string // e.g. 坡子街社区第3网格
	Lat    float64
	Lng    float64
}

// DemoLots is the size of the standard demo registry.
const DemoLots = 200

// The district added 800+ parking spaces (docs/demo-data.md): in the demo,
// public car parks and on-street bays that opened since DemoNewSince hold
// DemoNewSpacesMin to DemoNewSpacesMax spaces together; every other lot
// opened before it.
const (
	DemoNewSpacesMin = 800
	DemoNewSpacesMax = 900
)

// DemoNewSince is when the new spaces start counting: 1 January 2023 in
// Taizhou, the start of the period the district's figures cover.
var DemoNewSince = time.Date(2023, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// Demo box: the district centre ± 0.08° (docs/demo-data.md).
const (
	demoLat, demoLng, demoSpan = 32.49, 119.92, 0.08
)

// Demo returns the standard demo registry: DemoLots lots (see DemoN).
func Demo(seed int64, grids []Grid) []Lot { return DemoN(seed, grids, DemoLots) }

// DemoN returns n realistic lots of Hailing District placed near the given
// grids' centroids, the same for the same seed and grids, each with the
// date it opened (the new spaces since DemoNewSince: see opened): a fifth are
// government lots, 42.5 % of which share spaces off-peak on Taizhou's rules
// (weekdays 18:30–07:30, rest days all day, no movement 22:00–06:00, cars of
// at most 7 seats), so the opening rate is about the reported 42 %; the rest
// are public car parks, on-street bays, commercial and residential lots. It
// returns nil without grids.
func DemoN(seed int64, grids []Grid, n int) []Lot {
	if len(grids) == 0 || n <= 0 {
		return nil
	}
	g := newDemoGen(seed, grids)
	gov := int(math.Round(float64(n) * 0.2))
	shared := int(math.Round(float64(gov) * 0.425))
	public := int(math.Round(float64(n) * 0.25))
	onStreet := int(math.Round(float64(n) * 0.225))
	commercial := int(math.Round(float64(n) * 0.175))
	residential := max(n-gov-public-onStreet-commercial, 0)
	out := make([]Lot, 0, n)
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

type demoGen struct {
	rng      *rand.Rand
	grids    []Grid
	byStreet map[string][]int // street suffix → grid indexes
	central  []int            // grids of the six urban streets
	used     map[string]int   // names already given
}

func newDemoGen(seed int64, grids []Grid) *demoGen {
	g := &demoGen{rng: rand.New(rand.NewPCG(uint64(seed), 0x7061726b696e67)), // "parking"
		grids: grids, byStreet: map[string][]int{}, used: map[string]int{}}
	for i, gr := range grids {
		st := streetOf(gr.Code)
		g.byStreet[st] = append(g.byStreet[st], i)
		if !slices.Contains(towns, st) {
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

func streetOf(code string) string {
	parts := strings.Split(code, ".")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

var towns = []string{"jiulong", "gangyang", "suchen"}

// streetNames are the streets and towns of docs/demo-data.md and their
// main roads.
var streetNames = map[string]struct {
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

// govUnits run government lots: the bureaus with a department code own
// their lot's record; the others' records belong to the street or town
// office where they lie.
var govUnits = []struct{ name, dept string }{
	{"海陵区人民政府机关", ""}, {"海陵区城市管理局", "urban-management"}, {"海陵区住房和城乡建设局", "housing"},
	{"海陵区自然资源和规划局", "planning"}, {"海陵区公安交警大队", "traffic-police"}, {"海陵区水利局", "water"},
	{"海陵区生态环境局", "environment"}, {"海陵区市场监督管理局", "market-regulation"}, {"海陵区人民法院", ""},
	{"海陵区人民检察院", ""}, {"国家税务总局泰州市海陵区税务局", ""}, {"海陵区教育局", ""}, {"海陵区实验小学", ""},
	{"泰州市第二中学附属初中", ""}, {"海陵区人民医院", ""}, {"海陵区图书馆", ""}, {"海陵区文化馆", ""},
	{"海陵区行政审批局", ""}, {"海陵区财政局", ""}, {"海陵区民政局", ""}, {"海陵区卫生健康委员会", ""},
	{"海陵区人力资源和社会保障局", ""}, {"海陵区档案馆", ""}, {"海陵区疾病预防控制中心", ""}, {"海陵区机关事务管理局", ""},
	{"海陵区退役军人事务局", ""}, {"海陵区应急管理局", ""}, {"海陵区政务服务中心", ""},
}

var publicNames = []string{"坡子街公共停车场", "凤城河景区停车场", "望海楼停车场", "梅兰芳纪念馆停车场", "稻河古街区停车场",
	"老街停车场", "泰州公园停车场", "天德湖公园停车场", "鼓楼路公共停车场", "五一路地下停车场", "人民公园停车场",
	"光孝寺停车场", "崇儒祠停车场", "周山河街区停车场", "泰州火车站停车场", "泰州汽车客运站停车场", "海陵区体育馆停车场",
	"泰州市图书馆停车场", "桃园景区停车场", "柳园停车场", "凤城河东岸停车场", "海陵区人民医院西侧公共停车场"}

var commercialNames = []struct{ name, operator string }{
	{"泰州万达广场停车场", "泰州万达广场商业管理有限公司"}, {"泰州印象城停车场", "泰州印象城商业管理有限公司"},
	{"金鹰国际购物中心停车场", "泰州金鹰国际购物中心有限公司"}, {"华润苏果超市停车场", "华润苏果超市有限公司泰州分公司"},
	{"坡子街商业广场地下停车场", "泰州坡子街商业管理有限公司"}, {"海陵宝龙广场停车场", "泰州宝龙商业物业管理有限公司"},
	{"泰州国际博览中心停车场", "泰州国际博览中心有限公司"}, {"百汇广场停车场", "泰州百汇商贸有限公司"},
	{"凤城河畔酒店停车场", "泰州凤城河畔酒店有限公司"}, {"泰州大润发停车场", "康成投资（中国）有限公司泰州分公司"},
	{"世纪联华超市停车场", "泰州世纪联华超市有限公司"}, {"海陵科技大厦停车场", "泰州海陵科技大厦物业管理有限公司"},
}

var residentialStems = []string{"花园", "新村", "苑", "小区", "家园", "雅苑", "名邸", "华庭"}

var surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙", "朱", "马", "胡", "郭", "何", "高", "林", "钱"}

func (g *demoGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// unique returns name, numbered (二号、三号…) when it was given before.
func (g *demoGen) unique(name string) string {
	g.used[name]++
	if k := g.used[name]; k > 1 {
		return fmt.Sprintf("%s（%d号）", name, k)
	}
	return name
}

// place fills a lot's jurisdiction, location and address from a grid.
func (g *demoGen) place(l *Lot, gi int) {
	gr := g.grids[gi]
	l.JurisdictionCode = gr.Code
	// Within about 150 m of the centroid, inside the district box.
	l.Lat = clamp(gr.Lat+(g.rng.Float64()-0.5)*0.0027, demoLat-demoSpan, demoLat+demoSpan)
	l.Lng = clamp(gr.Lng+(g.rng.Float64()-0.5)*0.0032, demoLng-demoSpan, demoLng+demoSpan)
	l.Lat = math.Round(l.Lat*1e6) / 1e6
	l.Lng = math.Round(l.Lng*1e6) / 1e6
	st := streetNames[streetOf(gr.Code)]
	road := "海陵路"
	if len(st.roads) > 0 {
		road = g.pick(st.roads)
	}
	l.Address = fmt.Sprintf("泰州市海陵区%s%d号", road, 1+g.rng.IntN(388))
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func (g *demoGen) centralGrid() int { return g.central[g.rng.IntN(len(g.central))] }
func (g *demoGen) anyGrid() int     { return g.rng.IntN(len(g.grids)) }

// stamp sets creation and update times between 2021 and 2025.
func (g *demoGen) stamp(l *Lot) {
	base := time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)
	l.CreatedAt = base.Add(time.Duration(g.rng.Int64N(int64(4 * 365 * 24 * time.Hour)))).Truncate(time.Second)
	l.UpdatedAt = l.CreatedAt.Add(time.Duration(g.rng.Int64N(int64(180 * 24 * time.Hour)))).Truncate(time.Second)
	l.Version = 1
	l.SourceDept = ProviderDept
}

// opened dates the lots: public car parks and on-street bays, in the
// shuffled order, open after DemoNewSince while their spaces add up to
// DemoNewSpacesMin (a lot that would take the sum past DemoNewSpacesMax is
// skipped); their records are made the day they open. Every other lot
// opened between 1998 and the end of 2022, and no later than its record.
func (g *demoGen) opened(lots []Lot) {
	added := 0
	for i := range lots {
		l := &lots[i]
		newLot := added < DemoNewSpacesMin && (l.Kind == KindPublic || l.Kind == KindOnStreet) &&
			added+l.TotalSpaces <= DemoNewSpacesMax
		if newLot {
			added += l.TotalSpaces
			// A working-day morning between March 2023 and October 2025.
			day := DemoNewSince.AddDate(0, 2, g.rng.IntN(975))
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
		last := minTime(l.CreatedAt, DemoNewSince.Add(-time.Hour))
		at := first.Add(time.Duration(g.rng.Int64N(int64(last.Sub(first))))).Truncate(24 * time.Hour)
		l.OpenedAt = &at
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (g *demoGen) contact(l *Lot, title string) {
	l.ContactName = g.pick(surnames) + title
	if g.rng.IntN(2) == 0 {
		l.ContactPhone = fmt.Sprintf("0523-8%07d", g.rng.IntN(10_000_000))
	} else {
		l.ContactPhone = fmt.Sprintf("1%d%09d", []int{3, 5, 8, 9}[g.rng.IntN(4)], g.rng.IntN(1_000_000_000))
	}
}

// uuidAt returns a UUIDv7 for instant t with random bits from the seed, so
// ids sort by creation time and repeat with the seed.
func (g *demoGen) uuidAt(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	binary.BigEndian.PutUint64(u[0:8], ms<<16|g.rng.Uint64()&0xffff)
	binary.BigEndian.PutUint64(u[8:16], g.rng.Uint64())
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u
}

func (g *demoGen) government(shared bool) Lot {
	unit := govUnits[g.rng.IntN(len(govUnits))]
	gi := g.centralGrid()
	if unit.dept == "" && g.rng.IntN(4) == 0 {
		gi = g.anyGrid()
	}
	street := streetOf(g.grids[gi].Code)
	owner := unit.dept
	operator := unit.name
	if owner == "" {
		owner = streetDept(street)
	}
	if g.rng.IntN(5) == 0 { // street and town offices run their own lots
		operator = streetNames[street].zh + "办事处"
		if slices.Contains(towns, street) {
			operator = streetNames[street].zh + "人民政府"
		}
		owner = streetDept(street)
	}
	l := Lot{Kind: KindGovernmentShared, IsGovernment: true, Operator: operator, OwnerDept: owner,
		Name: g.unique(operator + "停车场"), TotalSpaces: 30 + g.rng.IntN(171)}
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "师傅")
	if !shared {
		l.BookingRule = "内部停车场，暂未纳入错时共享，不对外开放"
		return l
	}
	l.SharedSpaces = max(10, l.TotalSpaces*(30+g.rng.IntN(41))/100)
	l.Windows = StandardSharedWindows()
	switch g.rng.IntN(10) {
	case 0: // a later evening start where staff work late
		l.Windows.Weekday = []Range{MustRange("19:00-07:30")}
	case 1: // daytime only at weekends (a school that locks up at night)
		l.Windows.RestDayAllDay = false
		l.Windows.RestDay = []Range{MustRange("07:00-21:00")}
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

func streetDept(street string) string {
	if slices.Contains(towns, street) {
		return "town-" + street
	}
	return "street-" + street
}

func (g *demoGen) public() Lot {
	gi := g.centralGrid()
	if g.rng.IntN(6) == 0 {
		gi = g.anyGrid()
	}
	name := g.pick(publicNames)
	if g.rng.IntN(3) == 0 {
		st := streetNames[streetOf(g.grids[gi].Code)]
		if len(st.roads) > 0 {
			name = g.pick(st.roads) + "公共停车场"
		}
	}
	owner, operator := "urban-management", "泰州市海陵区城市管理局"
	if g.rng.IntN(4) == 0 {
		owner, operator = ProviderDept, "泰州市海陵区静态交通管理有限公司"
	}
	l := Lot{Kind: KindPublic, Name: g.unique(name), OwnerDept: owner, Operator: operator,
		TotalSpaces: 40 + g.rng.IntN(461)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(4) == 0 {
		l.Windows.Hours = []Range{MustRange("06:00-23:00")}
	}
	l.BookingRule = "无需预约"
	l.FeeRule = g.pick([]string{"首30分钟免费，之后每小时2元，24小时封顶20元", "每小时3元，夜间（20:00-次日8:00）每小时1元", "免费开放"})
	return l
}

func (g *demoGen) onStreet() Lot {
	gi := g.centralGrid()
	st := streetNames[streetOf(g.grids[gi].Code)]
	road := "海陵路"
	if len(st.roads) > 0 {
		road = g.pick(st.roads)
	}
	l := Lot{Kind: KindOnStreet, Name: g.unique(fmt.Sprintf("%s路内停车泊位（第%d段）", road, 1+g.rng.IntN(6))),
		OwnerDept: ProviderDept, Operator: "海陵区公安交警大队", TotalSpaces: 8 + g.rng.IntN(53)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	if g.rng.IntN(2) == 0 {
		l.Windows.Hours = []Range{MustRange("07:00-22:00")}
	}
	l.BookingRule = "无需预约，按泊位线停放"
	l.FeeRule = "7:00-21:00首15分钟免费，之后每小时2元；其他时段免费"
	l.ContactName = "交警大队停车管理科"
	l.ContactPhone = "0523-86882122"
	return l
}

func (g *demoGen) commercial() Lot {
	c := commercialNames[g.rng.IntN(len(commercialNames))]
	gi := g.centralGrid()
	l := Lot{Kind: KindCommercial, Name: g.unique(c.name), OwnerDept: ProviderDept, Operator: c.operator,
		TotalSpaces: 150 + g.rng.IntN(1351)}
	l.SharedSpaces = l.TotalSpaces
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(2) == 0 {
		l.Windows.Hours = []Range{MustRange("08:00-23:00")}
	}
	l.BookingRule = "无需预约"
	l.FeeRule = g.pick([]string{"购物满100元免费停车2小时，之后每小时3元", "首小时免费，之后每小时4元，24小时封顶30元"})
	return l
}

func (g *demoGen) residential() Lot {
	gi := g.anyGrid()
	gr := g.grids[gi]
	community, _, _ := strings.Cut(gr.NameZh, "第")
	community = strings.TrimSuffix(strings.TrimSuffix(community, "社区"), "村")
	if community == "" {
		community = "凤城"
	}
	stem := g.pick(residentialStems)
	l := Lot{Kind: KindResidential, Name: g.unique(community + stem + "停车场"), OwnerDept: "housing",
		Operator: community + stem + "物业服务有限公司", TotalSpaces: 60 + g.rng.IntN(541)}
	g.place(&l, gi)
	g.stamp(&l)
	g.contact(&l, "经理")
	if g.rng.IntN(5) < 2 { // a shared-parking pilot: daytime spaces for outsiders
		l.SharedSpaces = max(5, l.TotalSpaces/10)
		l.Windows.Hours = []Range{MustRange("08:00-18:00")}
		l.BookingRule = "外来车辆需通过物业预约，18:00前驶离"
		l.FeeRule = "每小时2元，白天封顶10元"
	} else {
		l.BookingRule = "仅限业主车辆"
		l.FeeRule = "业主月租"
	}
	return l
}
