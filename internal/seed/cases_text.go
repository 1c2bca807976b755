package seed

import "github.com/fengcheng/datahub/internal/cases"

// Text material for descriptions, addresses, names and comments. Every list
// is indexed by the generator's random stream, so changing a list changes
// the seeded data (but keeps it deterministic).

// classText holds, per class, the handling departments it is plausibly
// dispatched to and the problem details a report describes. "street" stands
// for the street or town office of the case's street.
type classText struct {
	depts   []weighted // handling departments
	details []string   // "#" is replaced by a small quantity
}

type weighted struct {
	v string
	w float64
}

const streetDeptToken = "street"

func ws(pairs ...any) []weighted {
	out := make([]weighted, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, weighted{pairs[i].(string), float64(pairs[i+1].(int))})
	}
	return out
}

type classKey struct {
	kind  cases.Kind
	minor string
}

var classTexts = map[classKey]classText{
	// Components.
	{cases.KindComponent, "0101"}: {ws("housing", 5, "water", 3, streetDeptToken, 2),
		[]string{"井盖破损，存在安全隐患", "雨水井盖缺失，已用锥桶临时围挡", "污水井盖松动，车辆经过有异响", "井盖下沉约#厘米，影响通行", "检查井盖板断裂"}},
	{cases.KindComponent, "0102"}: {ws("urban-management", 7, streetDeptToken, 3),
		[]string{"路灯夜间不亮", "连续#盏路灯不亮", "路灯灯杆倾斜", "路灯白天常亮", "路灯检修门缺失，电线外露"}},
	{cases.KindComponent, "0103"}: {ws("water", 7, streetDeptToken, 3),
		[]string{"消防栓漏水", "消防栓被车辆撞倒", "消防栓锈蚀，闷盖缺失"}},
	{cases.KindComponent, "0201"}: {ws("traffic-police", 7, "housing", 3),
		[]string{"交通护栏被撞倒约#米", "道路隔离护栏缺失", "护栏变形侵占车道"}},
	{cases.KindComponent, "0202"}: {ws("housing", 7, streetDeptToken, 3),
		[]string{"路面坑洼，面积约#平方米", "人行道板松动破损", "沥青路面开裂", "路缘石破损", "盲道砖缺失"}},
	{cases.KindComponent, "0203"}: {ws("traffic-police", 1),
		[]string{"交通标志牌倾斜", "指示牌被树枝遮挡", "限速标志缺失", "标线磨损不清"}},
	{cases.KindComponent, "0301"}: {ws("urban-management", 4, streetDeptToken, 6),
		[]string{"垃圾箱破损", "果皮箱盖缺失", "分类垃圾桶损坏", "垃圾箱被移位倾倒"}},
	{cases.KindComponent, "0302"}: {ws("urban-management", 5, streetDeptToken, 5),
		[]string{"公厕水龙头损坏", "公厕冲水设施故障", "公厕照明损坏", "公厕门锁损坏"}},
	{cases.KindComponent, "0401"}: {ws("urban-management", 6, streetDeptToken, 4),
		[]string{"行道树倾倒，压占非机动车道", "大风致行道树折断", "树枝断裂悬挂，存在安全隐患"}},
	{cases.KindComponent, "0402"}: {ws("urban-management", 5, streetDeptToken, 5),
		[]string{"绿地护栏损坏约#米", "绿化带围栏缺失", "绿地护栏倒伏"}},
	{cases.KindComponent, "0501"}: {ws("housing", 1),
		[]string{"公房外墙面砖脱落", "公房屋面漏水", "公房楼道扶手损坏", "公房雨棚破损"}},
	{cases.KindComponent, "0601"}: {ws(streetDeptToken, 6, "housing", 4),
		[]string{"公共座椅损坏", "宣传栏破损", "健身器材损坏", "公交站亭玻璃破碎"}},
	// Events.
	{cases.KindEvent, "0101"}: {ws(streetDeptToken, 8, "urban-management", 2),
		[]string{"生活垃圾堆放未及时清运", "垃圾桶满溢，周边有异味", "路边暴露垃圾约#袋", "绿化带内有暴露垃圾", "河坡上堆有生活垃圾"}},
	{cases.KindEvent, "0102"}: {ws(streetDeptToken, 8, "urban-management", 2),
		[]string{"路面油污未清理", "路面有散落泥土", "落叶杂物较多，路面不洁", "路面有大片污渍"}},
	{cases.KindEvent, "0103"}: {ws(streetDeptToken, 8, "urban-management", 2),
		[]string{"积存渣土约#立方米", "拆迁垃圾积存未清运", "空地积存垃圾渣土"}},
	{cases.KindEvent, "0104"}: {ws(streetDeptToken, 60, "urban-management", 25, "environment", 15),
		[]string{"夜间偷倒建筑垃圾", "装修垃圾随意倾倒约#立方米", "建筑垃圾倾倒在绿化带内"}},
	{cases.KindEvent, "0201"}: {ws(streetDeptToken, 9, "urban-management", 1),
		[]string{"墙面张贴小广告", "电线杆上喷涂办证小广告", "楼道内乱贴小广告", "配电箱上张贴小广告#处"}},
	{cases.KindEvent, "0202"}: {ws("urban-management", 6, streetDeptToken, 3, "market-regulation", 1),
		[]string{"店招破损，存在坠落隐患", "未经审批设置户外广告牌", "广告横幅私拉乱挂", "楼顶广告牌锈蚀松动"}},
	{cases.KindEvent, "0301"}: {ws("environment", 5, "housing", 5),
		[]string{"夜间施工噪声扰民", "工地凌晨作业，影响居民休息", "装修噪声扰民"}},
	// Illegal construction goes to those who enforce: the urban-management
	// bureau's enforcement teams and the street and town offices (whose
	// comprehensive enforcement bureaus demolish). Planning issues permits
	// and housing runs the registry; neither demolishes.
	{cases.KindEvent, "0302"}: {ws("urban-management", 5, streetDeptToken, 5),
		[]string{"楼顶私自搭建彩钢瓦房约#平方米", "一楼住户私自扩建院墙", "占用绿地搭建棚屋", "擅自改门改窗", "沿街私自搭建雨棚"}},
	{cases.KindEvent, "0303"}: {ws("environment", 5, "housing", 5),
		[]string{"工地未覆盖防尘网，扬尘严重", "渣土车未密闭运输", "工地出入口未冲洗车辆", "裸土未覆盖"}},
	{cases.KindEvent, "0401"}: {ws("housing", 6, "water", 4),
		[]string{"路面塌陷约#平方米，已设警示", "路面出现空洞", "人行道塌陷"}},
	{cases.KindEvent, "0402"}: {ws("water", 8, "housing", 2),
		[]string{"降雨后道路积水约#厘米", "雨水口堵塞造成积水", "下穿通道积水"}},
	{cases.KindEvent, "0501"}: {ws(streetDeptToken, 17, "market-regulation", 1, "urban-management", 2),
		[]string{"店铺跨门经营，占用人行道", "餐饮店外摆桌椅#张", "商户店外堆放货物", "汽修店占道维修车辆"}},
	{cases.KindEvent, "0502"}: {ws(streetDeptToken, 17, "market-regulation", 1, "urban-management", 2),
		[]string{"流动摊贩占道经营", "早市摊点占用非机动车道", "水果摊占道经营", "夜市摊点占道经营约#处"}},
	{cases.KindEvent, "0503"}: {ws("traffic-police", 85, streetDeptToken, 15),
		[]string{"机动车占用人行道停放", "非机动车乱停乱放，堵塞盲道", "共享单车堆积约#辆", "车辆占用消防通道", "僵尸车长期占用车位"}},
	{cases.KindEvent, "0504"}: {ws(streetDeptToken, 1),
		[]string{"沿街晾晒衣物", "在行道树上拉绳晾挂", "护栏上晾晒被褥"}},
	{cases.KindEvent, "0601"}: {ws(streetDeptToken, 7, "urban-management", 3),
		[]string{"私设地锁占用公共车位", "流浪犬聚集", "公共区域堆放杂物", "私拉电线给电动车充电"}},
}

// reportPrefix starts the description by source.
var reportPrefix = map[cases.Source][]string{
	cases.SourceInspectorPatrol:     {"", "", "监督员巡查发现：", "巡查发现"},
	cases.SourceDronePatrol:         {"无人机巡查发现：", "无人机航拍发现"},
	cases.SourceVideoAnalytics:      {"视频智能识别：", "视频监控发现"},
	cases.SourceEnforcementTerminal: {"执法队员巡查发现", "执法终端上报："},
	cases.SourceCitizenReport:       {"市民通过APP反映：", "市民随手拍：", ""},
	cases.SourceHotline12345:        {"市民来电反映：", "12345热线转办：市民反映", "来电人反映"},
	cases.SourceAssignedBySuperior:  {"上级交办：", "市数字城管中心交办："},
	cases.SourceMedia:               {"媒体曝光：", "网络媒体反映："},
}

var descSuffix = []string{"", "", "", "。", "，请尽快处理。", "，影响市容。", "，影响通行。", "，群众反映强烈。", "，已多次出现。"}

var spots = []string{"门前", "附近", "路口", "东侧人行道", "西侧人行道", "南侧", "北侧", "公交站台旁", "小区门口",
	"菜场周边", "学校门口", "绿化带旁", "桥下", "非机动车道", "停车场出入口", "沿街商铺前"}

var communitySpots = []string{"小区", "小区内", "小区门口", "菜场", "广场", "游园"}

var villageSpots = []string{"组", "组村道旁", "组河边", "村部附近"}

var declineNotes = []string{"重复上报，已合并至在办案件", "不属于数字城管受理范围", "经核实问题不存在", "信息不全，无法定位", "已自行整改到位"}

var returnNotes = []string{"不属于本单位职责范围，请重新派遣", "产权不属本单位，退回指挥中心", "经核实属其他部门管辖"}

var handleNotes = []string{"已处置完毕", "已整改到位", "已清理", "已修复", "已现场劝离并整改", "已责令当事人整改完毕", "已安排人员处理完毕"}

var verifyNotes = []string{"核查通过", "现场核实已处置", "经核查问题已解决", ""}

var reworkNotes = []string{"现场核查未整改到位", "核查发现问题仍然存在", "处置不彻底，返工"}

var deferNotes = []string{"需协调产权单位，申请延期", "涉及施工排期，申请延期", "需采购材料，申请延期", "当事人申请整改期限"}

var backlogNotes = []string{"涉及历史遗留问题，暂无法解决，挂账处理", "需纳入改造计划，挂账", "权属不清，暂缓处置，挂账"}

var positiveComments = []string{"处理及时，点赞！", "问题已解决，谢谢", "效率很高", "工作人员态度很好", "很满意", "反映后第二天就处理了", "辛苦了"}

var neutralComments = []string{"处理得有点慢，不过解决了", "基本解决", "希望以后多巡查"}

var negativeComments = []string{"处理不彻底，过两天又出现了", "没有人联系我", "问题没有根本解决", "拖了很久"}
