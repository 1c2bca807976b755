package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Jurisdiction levels as stored in jurisdictions.level.
const (
	LevelDistrict  = "DISTRICT"
	LevelStreet    = "STREET"
	LevelTown      = "TOWN"
	LevelCommunity = "COMMUNITY"
	LevelGrid      = "GRID"
)

// District facts (docs/demo-data.md).
const (
	DistrictCode      = "hailing"
	DistrictAdminCode = "321202"
	DistrictLat       = 32.49
	DistrictLng       = 119.92
	// DistrictSpan bounds every generated coordinate: centre ± DistrictSpan
	// degrees in both directions.
	DistrictSpan = 0.08
)

// Jurisdiction is one node of the seeded jurisdiction tree.
type Jurisdiction struct {
	Code       string // dotted path, e.g. hailing.chengdong.fenghuang.g03
	ParentCode string // empty for the district
	Level      string // DISTRICT, STREET, TOWN, COMMUNITY or GRID
	NameZh     string
	NameEn     string
	AdminCode  string // official-style code; empty for grids
	Lat, Lng   float64
	// AreaKm2 is the land area: the district's is known (about 300 km²);
	// the parts' are generated, each level summing to its parent's.
	AreaKm2 float64
}

// Department is one seeded department.
type Department struct {
	Code             string
	NameZh           string
	NameEn           string
	Kind             string // BUREAU, STREET or TOWN
	JurisdictionCode string
}

// streetDef is one street or town of docs/demo-data.md with the seed's
// own choices: where it lies relative to the district centre, how busy it is
// (share of cases) and its communities.
type streetDef struct {
	suffix, nameZh, pinyin string
	town                   bool
	adminSuffix            string
	dLat, dLng             float64 // centroid offset from the district centre
	weight                 float64 // relative case volume
	roads                  []string
	communities            []communityDef
}

type communityDef struct {
	stem, pinyin string
	village      bool   // 村 rather than 社区
	adminSuffix  string // fixed 3-digit code; empty = next free one
}

func comm(stem, pinyin string) communityDef { return communityDef{stem: stem, pinyin: pinyin} }
func vill(stem, pinyin string) communityDef {
	return communityDef{stem: stem, pinyin: pinyin, village: true}
}

// streets: central streets are busier than the outer towns. Communities are
// plausible names (the real list is not in the reference); community pinyin
// is the ltree label, unique within its street. The tree does not depend on
// Options.Seed: codes like hailing.chengdong.fenghuang.g03 are stable for
// docs, examples and tests.
var streets = []streetDef{
	{"chengdong", "城东街道", "Chengdong", false, "001", 0.002, 0.024, 16,
		[]string{"东进东路", "迎春东路", "东风路", "凤凰路", "梅兰东路", "青年北路"},
		[]communityDef{comm("凤凰", "fenghuang"), comm("迎春", "yingchun"), comm("东进", "dongjin"), comm("梅兰", "meilan"),
			comm("春晖", "chunhui"), comm("翠竹", "cuizhu"), comm("东风", "dongfeng"), comm("鲍坝", "baoba"), comm("明珠", "mingzhu"),
			comm("东郊", "dongjiao"), comm("新桥", "xinqiao"), comm("锦绣", "jinxiu"), comm("春和", "chunhe")}},
	{"chengxi", "城西街道", "Chengxi", false, "002", 0.000, -0.024, 14,
		[]string{"济川路", "迎春西路", "东进西路", "凤凰西路", "梅兰西路", "鼓楼北路"},
		[]communityDef{comm("济川", "jichuan"), comm("西郊", "xijiao"), comm("扬桥", "yangqiao"), comm("百花", "baihua"),
			comm("光明", "guangming"), comm("西园", "xiyuan"), comm("桃园", "taoyuan"), comm("莲花", "lianhua"), comm("西城", "xicheng"),
			comm("滨河", "binhe"), comm("银杏", "yinxing"), comm("乔园", "qiaoyuan")}},
	{"chengzhong", "城中街道", "Chengzhong", false, "003", 0.000, 0.000, 18,
		[]string{"坡子街", "五一路", "鼓楼南路", "人民东路", "人民西路", "海陵北路", "府前路", "税务东街", "青年南路"},
		[]communityDef{comm("五一", "wuyi"), comm("坡子街", "pozijie"), comm("鼓楼", "gulou"), comm("府前", "fuqian"),
			comm("八字桥", "baziqiao"), comm("税务桥", "shuiwuqiao"), comm("西仓", "xicang"), comm("大林桥", "dalinqiao"),
			comm("稻河", "daohe"), comm("东城河", "dongchenghe"), comm("人民", "renmin"), comm("草河", "caohe"), comm("北门", "beimen")}},
	{"chengnan", "城南街道", "Chengnan", false, "004", -0.024, 0.002, 13,
		[]string{"南通路", "海陵南路", "周山河街", "春晖路", "江洲南路", "永定路", "青年南路"},
		[]communityDef{comm("南园", "nanyuan"), comm("周山河", "zhoushanhe"), comm("永定", "yongding"), comm("南郊", "nanjiao"),
			comm("天德湖", "tiandehu"), comm("海光", "haiguang"), comm("红旗", "hongqi"), comm("凤栖", "fengqi"), comm("梅园", "meiyuan"),
			comm("春江", "chunjiang"), comm("泰和", "taihe")}},
	{"chengbei", "城北街道", "Chengbei", false, "005", 0.024, 0.004, 11,
		[]string{"海陵北路", "鼓楼北路", "青年北路", "东风北路", "泰山路"},
		[]communityDef{comm("北郊", "beijiao"), comm("渔行", "yuhang"), comm("城北", "chengbei"), comm("鸿福", "hongfu"),
			comm("兴泰", "xingtai"), comm("泰山", "taishan"), comm("蔡庄", "caizhuang"), comm("北园", "beiyuan"), comm("新城", "xincheng"),
			comm("塘湾", "tangwan")}},
	{"jingtailu", "京泰路街道", "Jingtailu", false, "006", 0.032, -0.018, 12,
		[]string{"京泰路", "江洲北路", "通扬路", "东进西路", "济川北路"},
		[]communityDef{comm("京泰", "jingtai"), comm("海鹰", "haiying"), comm("江洲", "jiangzhou"), comm("扬子", "yangzi"),
			comm("新村", "xincun"), comm("东方", "dongfang"), comm("通扬", "tongyang"), comm("兴隆", "xinglong"), comm("金港", "jingang"),
			comm("长江", "changjiang")}},
	{"jiulong", "九龙镇", "Jiulong", true, "100", -0.012, -0.056, 7,
		[]string{"九龙路", "凤凰西路"},
		[]communityDef{comm("九龙", "jiulong"), comm("龙湖", "longhu"), vill("民主", "minzhu"), vill("团结", "tuanjie"),
			vill("王庄", "wangzhuang"), vill("李庄", "lizhuang"), vill("沙墩", "shadun"), vill("双桥", "shuangqiao"),
			vill("永丰", "yongfeng"), vill("高桥", "gaoqiao")}},
	{"gangyang", "罡杨镇", "Gangyang", true, "101", 0.056, 0.008, 5,
		[]string{"罡杨路", "海陵北路"},
		[]communityDef{comm("罡杨", "gangyang"), comm("丰乐", "fengle"), vill("港口", "gangkou"), vill("周庄", "zhouzhuang"),
			vill("胜利", "shengli"), vill("前进", "qianjin"), vill("联合", "lianhe"), vill("友谊", "youyi"), vill("新河", "xinhe")}},
	{"suchen", "苏陈镇", "Suchen", true, "102", 0.042, 0.056, 4,
		[]string{"苏陈路", "东风北路"},
		[]communityDef{{stem: "镇东", pinyin: "zhendong", adminSuffix: "009"}, comm("苏陈", "suchen"), vill("陈庄", "chenzhuang"),
			vill("许庄", "xuzhuang"), vill("三星", "sanxing"), vill("光荣", "guangrong"), vill("幸福", "xingfu"),
			vill("杨庄", "yangzhuang"), vill("朱庄", "zhuzhuang")}},
}

// bureaus are the district departments (kind BUREAU, jurisdiction hailing).
var bureaus = []Department{
	{"urban-management", "城市管理局", "Urban Management Bureau", "BUREAU", DistrictCode},
	{"planning", "自然资源和规划局", "Natural Resources and Planning Bureau", "BUREAU", DistrictCode},
	{"housing", "住房和城乡建设局", "Housing and Urban-Rural Development Bureau", "BUREAU", DistrictCode},
	{"traffic-police", "公安交警大队", "Traffic Police Brigade", "BUREAU", DistrictCode},
	{"water", "水利局", "Water Resources Bureau", "BUREAU", DistrictCode},
	{"environment", "生态环境局", "Ecology and Environment Bureau", "BUREAU", DistrictCode},
	{"market-regulation", "市场监督管理局", "Market Regulation Bureau", "BUREAU", DistrictCode},
}

// Departments returns every seeded department: the seven district bureaus
// followed by one office per street (street-<suffix>, kind STREET) or town
// (town-<suffix>, kind TOWN), in a stable order.
func Departments() []Department {
	out := make([]Department, 0, len(bureaus)+len(streets))
	out = append(out, bureaus...)
	for _, s := range streets {
		out = append(out, streetDept(s))
	}
	return out
}

// StreetDepartment returns the code of the street or town office that
// handles cases in the street or town with the given code suffix (e.g.
// "chengdong" → "street-chengdong", "jiulong" → "town-jiulong"), and false
// for an unknown suffix.
func StreetDepartment(suffix string) (string, bool) {
	for _, s := range streets {
		if s.suffix == suffix {
			return streetDept(s).Code, true
		}
	}
	return "", false
}

func streetDept(s streetDef) Department {
	if s.town {
		return Department{"town-" + s.suffix, s.nameZh + "人民政府", s.pinyin + " Town Government", "TOWN", DistrictCode + "." + s.suffix}
	}
	return Department{"street-" + s.suffix, s.nameZh + "办事处", s.pinyin + " Street Office", "STREET", DistrictCode + "." + s.suffix}
}

// Jurisdictions returns the whole jurisdiction tree, parents before
// children: the district, its 9 streets and towns, their communities and
// villages, and the unit grids. It does not depend on any seed.
func Jurisdictions() []Jurisdiction {
	t := buildTree()
	out := make([]Jurisdiction, len(t.nodes))
	for i, n := range t.nodes {
		out[i] = n.Jurisdiction
	}
	return out
}

// node is a jurisdiction with what the case generator needs to know about it.
type node struct {
	Jurisdiction
	street    *streetNode
	community *node
	stem      string // community name without 社区/村
	village   bool
}

type streetNode struct {
	def  *streetDef
	node *node
	dept string // street-<suffix> or town-<suffix>
	idx  int
}

type tree struct {
	nodes   []*node
	streets []*streetNode
	grids   []*node
	// gridCum is the cumulative case weight of grids (street weight shared
	// among its communities and grids with some unevenness).
	gridCum []float64
}

// DistrictAreaKm2 is Hailing District's land area, about 300 km².
const DistrictAreaKm2 = 300

// assignAreas shares the district's area among its streets and towns, and
// theirs among their communities and grids (towns and villages are larger
// than urban streets and communities). The parts' areas are demo values:
// the real ones come with the directory's source. Its own random stream
// keeps the rest of the tree as it was.
func (t *tree) assignAreas() {
	rng := rand.New(rand.NewPCG(treeSeed, 2))
	children := map[string][]*node{}
	for _, n := range t.nodes[1:] {
		children[n.ParentCode] = append(children[n.ParentCode], n)
	}
	t.nodes[0].AreaKm2 = DistrictAreaKm2
	for _, n := range t.nodes { // parents before children
		kids := children[n.Code]
		weights := make([]float64, len(kids))
		var sum float64
		for i, k := range kids {
			weights[i] = 0.5 + rng.Float64()
			switch {
			case k.Level == LevelTown:
				weights[i] *= 8
			case k.Level == LevelCommunity && k.village:
				weights[i] *= 3
			}
			sum += weights[i]
		}
		for i, k := range kids {
			k.AreaKm2 = math.Round(n.AreaKm2*weights[i]/sum*1000) / 1000
		}
	}
}

// treeSeed fixes the grid counts, centroids and busyness of the tree.
const treeSeed = 0x6861696c696e67 // "hailing"

func buildTree() *tree {
	rng := rand.New(rand.NewPCG(treeSeed, 1))
	t := &tree{}
	district := &node{Jurisdiction: Jurisdiction{Code: DistrictCode, Level: LevelDistrict, NameZh: "海陵区",
		NameEn: "Hailing District", AdminCode: DistrictAdminCode, Lat: DistrictLat, Lng: DistrictLng}}
	t.nodes = append(t.nodes, district)
	var total float64
	for si := range streets {
		sd := &streets[si]
		level, en := LevelStreet, sd.pinyin+" Street"
		if sd.town {
			level, en = LevelTown, sd.pinyin+" Town"
		}
		sn := &node{Jurisdiction: Jurisdiction{Code: DistrictCode + "." + sd.suffix, ParentCode: DistrictCode, Level: level,
			NameZh: sd.nameZh, NameEn: en, AdminCode: DistrictAdminCode + sd.adminSuffix,
			Lat: clampLat(DistrictLat + sd.dLat), Lng: clampLng(DistrictLng + sd.dLng)}}
		st := &streetNode{def: sd, node: sn, dept: streetDept(*sd).Code, idx: si}
		sn.street = st
		t.streets = append(t.streets, st)
		t.nodes = append(t.nodes, sn)

		spread, gridSpread := 0.009, 0.0025
		if sd.town {
			spread, gridSpread = 0.018, 0.005
		}
		used := map[string]bool{}
		for _, cd := range sd.communities {
			if cd.adminSuffix != "" {
				used[cd.adminSuffix] = true
			}
		}
		nextComm, nextVillage := 1, 200
		// Community weights vary (a busy old-town community versus a quiet
		// new one); they sum to the street's weight.
		cw := make([]float64, len(sd.communities))
		var csum float64
		for i := range cw {
			cw[i] = 0.4 + rng.Float64()
			csum += cw[i]
		}
		for ci, cd := range sd.communities {
			admin := cd.adminSuffix
			if admin == "" {
				for {
					n := &nextComm
					if cd.village {
						n = &nextVillage
					}
					admin = fmt.Sprintf("%03d", *n)
					*n++
					if !used[admin] {
						break
					}
				}
			}
			suffixZh, suffixEn := "社区", " Community"
			if cd.village {
				suffixZh, suffixEn = "村", " Village"
			}
			cn := &node{Jurisdiction: Jurisdiction{Code: sn.Code + "." + cd.pinyin, ParentCode: sn.Code, Level: LevelCommunity,
				NameZh: cd.stem + suffixZh, NameEn: pinyinTitle(cd.pinyin) + suffixEn,
				AdminCode: sn.AdminCode + admin,
				Lat:       clampLat(sn.Lat + spread*rng.NormFloat64()*0.6),
				Lng:       clampLng(sn.Lng + spread*rng.NormFloat64()*0.6)},
				street: st, stem: cd.stem, village: cd.village}
			cn.community = cn
			t.nodes = append(t.nodes, cn)
			lo, hi := 7, 12
			if cd.village {
				lo, hi = 5, 8
			} else if sd.town {
				lo, hi = 5, 10
			}
			ng := lo + rng.IntN(hi-lo+1)
			gw := make([]float64, ng)
			var gsum float64
			for i := range gw {
				gw[i] = 0.3 + rng.Float64()
				gsum += gw[i]
			}
			for g := 1; g <= ng; g++ {
				gn := &node{Jurisdiction: Jurisdiction{Code: fmt.Sprintf("%s.g%02d", cn.Code, g), ParentCode: cn.Code, Level: LevelGrid,
					NameZh: fmt.Sprintf("%s第%d网格", cn.NameZh, g), NameEn: fmt.Sprintf("%s Grid %d", cn.NameEn, g),
					Lat: clampLat(cn.Lat + gridSpread*rng.NormFloat64()*0.7),
					Lng: clampLng(cn.Lng + gridSpread*rng.NormFloat64()*0.7)},
					street: st, community: cn, stem: cd.stem, village: cd.village}
				t.nodes = append(t.nodes, gn)
				t.grids = append(t.grids, gn)
				total += sd.weight * cw[ci] / csum * gw[g-1] / gsum
				t.gridCum = append(t.gridCum, total)
			}
		}
	}
	t.assignAreas()
	return t
}

func pinyinTitle(p string) string {
	if p == "" {
		return p
	}
	return string(p[0]-'a'+'A') + p[1:]
}

// Generated coordinates stay a little inside the district box.
const boxMargin = 0.002

func clampLat(x float64) float64 {
	return math.Max(DistrictLat-DistrictSpan+boxMargin, math.Min(DistrictLat+DistrictSpan-boxMargin, x))
}

func clampLng(x float64) float64 {
	return math.Max(DistrictLng-DistrictSpan+boxMargin, math.Min(DistrictLng+DistrictSpan-boxMargin, x))
}
