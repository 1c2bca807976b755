package cases

import (
	"sort"
	"time"
)

// Kind separates components (部件, public facilities) from events (事件).
type Kind string

// Case kinds.
const (
	KindComponent Kind = "COMPONENT"
	KindEvent     Kind = "EVENT"
)

// Limit is a handling deadline: Hours or Days (exactly one is set), in
// working time, or in clock time for an emergency class.
type Limit struct {
	Hours int
	Days  int
}

// Class is one minor class of the local case catalogue with its deadline.
type Class struct {
	Kind      Kind
	MajorCode string
	MajorName string
	MinorCode string
	MinorName string
	Limit     Limit
	// Weight is the class's share of cases in realistic data (seed only).
	Weight int
	// Emergency classes (a collapsed road, standing water, a fallen tree,
	// an open manhole) are handled around the clock: their limit counts
	// clock time, nights and holidays included, not working time.
	Emergency bool
}

// Deadline returns the handling deadline of a case of the class dispatched
// (or sent back for rework) at from.
func (c Class) Deadline(cal Calendar, from time.Time) time.Time {
	switch {
	case c.Emergency:
		return from.Add(c.Limit.Duration(24 * time.Hour))
	case c.Limit.Hours > 0:
		return cal.AddWorkingHours(from, time.Duration(c.Limit.Hours)*time.Hour)
	}
	return cal.AddWorkingDays(from, c.Limit.Days)
}

// VerifyLimit is the limit for an on-site check by a supervisor: verifying
// a report before it is registered (核实) and checking a handling before the
// case is closed (核查). National practice sets a few hours for both; the
// district takes 2 working hours, and 1 clock hour for emergency classes
// (their handling limits are 2–5 clock hours, so a longer check would
// double them).
func (c Class) VerifyLimit() Limit {
	if c.Emergency {
		return Limit{Hours: 1}
	}
	return Limit{Hours: 2}
}

// VerifyBy returns when a check started at from is due: VerifyLimit in
// working time, or in clock time for an emergency class.
func (c Class) VerifyBy(cal Calendar, from time.Time) time.Time {
	d := time.Duration(c.VerifyLimit().Hours) * time.Hour
	if c.Emergency {
		return from.Add(d)
	}
	return cal.AddWorkingHours(from, d)
}

// ClosureDeadline returns when a case with the handling deadline deadline
// must be closed: the handling deadline plus the verification limit (the
// supervisor checks the handling, 核查, before the command centre closes).
func (c Class) ClosureDeadline(cal Calendar, deadline time.Time) time.Time {
	return c.VerifyBy(cal, deadline)
}

// Duration returns the limit as working time given a working-day length.
func (l Limit) Duration(workingDay time.Duration) time.Duration {
	if l.Hours > 0 {
		return time.Duration(l.Hours) * time.Hour
	}
	return time.Duration(l.Days) * workingDay
}

// catalogue follows the national digital urban-management standard
// (GB/T 30428.2): components under 01–06, events under 01–06, with local
// deadlines of the kind Jiangsu cities publish. Codes are major + minor.
var catalogue = []Class{
	{KindComponent, "01", "公用设施", "0101", "井盖破损", Limit{Hours: 5}, 3, true},
	{KindComponent, "01", "公用设施", "0102", "路灯损坏", Limit{Days: 2}, 3, false},
	{KindComponent, "01", "公用设施", "0103", "消防栓损坏", Limit{Days: 1}, 1, false},
	{KindComponent, "02", "道路交通", "0201", "交通护栏损坏", Limit{Days: 2}, 2, false},
	{KindComponent, "02", "道路交通", "0202", "道路破损", Limit{Days: 5}, 3, false},
	{KindComponent, "02", "道路交通", "0203", "交通标志损坏", Limit{Days: 3}, 1, false},
	{KindComponent, "03", "市容环境", "0301", "垃圾箱破损", Limit{Days: 2}, 2, false},
	{KindComponent, "03", "市容环境", "0302", "公厕设施损坏", Limit{Days: 2}, 1, false},
	{KindComponent, "04", "园林绿化", "0401", "行道树倒伏", Limit{Hours: 5}, 1, true},
	{KindComponent, "04", "园林绿化", "0402", "绿地护栏损坏", Limit{Days: 3}, 1, false},
	{KindComponent, "05", "房屋土地", "0501", "公房破损", Limit{Days: 5}, 1, false},
	{KindComponent, "06", "其他设施", "0601", "其他设施损坏", Limit{Days: 5}, 1, false},
	{KindEvent, "01", "市容环境", "0101", "暴露垃圾", Limit{Days: 1}, 12, false},
	{KindEvent, "01", "市容环境", "0102", "道路不洁", Limit{Hours: 5}, 8, false},
	{KindEvent, "01", "市容环境", "0103", "积存垃圾渣土", Limit{Days: 4}, 4, false},
	{KindEvent, "01", "市容环境", "0104", "乱倒建筑垃圾", Limit{Days: 2}, 3, false},
	{KindEvent, "02", "宣传广告", "0201", "非法小广告", Limit{Days: 1}, 10, false},
	{KindEvent, "02", "宣传广告", "0202", "违规户外广告", Limit{Days: 5}, 4, false},
	{KindEvent, "03", "施工管理", "0301", "施工扰民", Limit{Days: 1}, 3, false},
	{KindEvent, "03", "施工管理", "0302", "违法建设", Limit{Days: 15}, 3, false},
	{KindEvent, "03", "施工管理", "0303", "工地扬尘", Limit{Days: 1}, 2, false},
	{KindEvent, "04", "突发事件", "0401", "路面塌陷", Limit{Hours: 2}, 1, true},
	{KindEvent, "04", "突发事件", "0402", "道路积水", Limit{Hours: 2}, 1, true},
	{KindEvent, "05", "街面秩序", "0501", "店外经营", Limit{Days: 1}, 14, false},
	{KindEvent, "05", "街面秩序", "0502", "占道经营", Limit{Days: 1}, 10, false},
	{KindEvent, "05", "街面秩序", "0503", "乱停乱放", Limit{Hours: 5}, 8, false},
	{KindEvent, "05", "街面秩序", "0504", "乱晾乱挂", Limit{Days: 1}, 3, false},
	{KindEvent, "06", "其他事件", "0601", "其他事件", Limit{Days: 5}, 1, false},
}

// MajorNameEn is the major class's name in English.
func (c Class) MajorNameEn() string { return majorNamesEn[c.Kind][c.MajorCode] }

// MinorNameEn is the minor class's name in English.
func (c Class) MinorNameEn() string { return minorNamesEn[classKey{c.Kind, c.MinorCode}] }

// The catalogue's names in English, for evaluation teams and the console.
var (
	majorNamesEn = map[Kind]map[string]string{
		KindComponent: {"01": "public facilities", "02": "roads and traffic", "03": "city appearance and environment",
			"04": "parks and greenery", "05": "buildings and land", "06": "other facilities"},
		KindEvent: {"01": "city appearance and environment", "02": "publicity and advertising", "03": "construction management",
			"04": "emergencies", "05": "street order", "06": "other events"},
	}
	minorNamesEn = map[classKey]string{
		{KindComponent, "0101"}: "damaged manhole cover", {KindComponent, "0102"}: "broken street light",
		{KindComponent, "0103"}: "damaged fire hydrant", {KindComponent, "0201"}: "damaged traffic barrier",
		{KindComponent, "0202"}: "damaged road surface", {KindComponent, "0203"}: "damaged traffic sign",
		{KindComponent, "0301"}: "damaged litter bin", {KindComponent, "0302"}: "damaged public toilet facilities",
		{KindComponent, "0401"}: "fallen street tree", {KindComponent, "0402"}: "damaged green-space railing",
		{KindComponent, "0501"}: "damaged public housing", {KindComponent, "0601"}: "other damaged facilities",
		{KindEvent, "0101"}: "exposed refuse", {KindEvent, "0102"}: "dirty road",
		{KindEvent, "0103"}: "piled refuse and spoil", {KindEvent, "0104"}: "dumped construction waste",
		{KindEvent, "0201"}: "illegal small advertisements", {KindEvent, "0202"}: "non-compliant outdoor advertising",
		{KindEvent, "0301"}: "construction disturbing residents", {KindEvent, "0302"}: "illegal construction",
		{KindEvent, "0303"}: "construction-site dust", {KindEvent, "0401"}: "road collapse",
		{KindEvent, "0402"}: "standing water on the road", {KindEvent, "0501"}: "trading outside the shopfront",
		{KindEvent, "0502"}: "street vending on the roadway", {KindEvent, "0503"}: "illegal parking",
		{KindEvent, "0504"}: "clothes hung in public space", {KindEvent, "0601"}: "other events",
	}
)

// Catalogue is the list of classes cases may be filed under.
type Catalogue struct {
	byKey map[classKey]Class
}

type classKey struct {
	kind  Kind
	minor string
}

// DefaultCatalogue returns the built-in class catalogue.
func DefaultCatalogue() *Catalogue {
	c := &Catalogue{byKey: make(map[classKey]Class, len(catalogue))}
	for _, cl := range catalogue {
		c.byKey[classKey{cl.Kind, cl.MinorCode}] = cl
	}
	return c
}

// Lookup returns the class for a kind and minor code.
func (c *Catalogue) Lookup(kind Kind, minor string) (Class, bool) {
	cl, ok := c.byKey[classKey{kind, minor}]
	return cl, ok
}

// All returns every class, components first, by code.
func (c *Catalogue) All() []Class {
	out := make([]Class, 0, len(c.byKey))
	for _, cl := range c.byKey {
		out = append(out, cl)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].MinorCode < out[j].MinorCode
	})
	return out
}
