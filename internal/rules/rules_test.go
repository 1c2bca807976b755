package rules

import (
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

// wantField checks err: nil when field is "", else BAD_USER_INPUT on field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	ae, ok := apperr.As(err)
	if !ok || ae.Code != apperr.BadUserInput || ae.Field != field {
		t.Errorf("%s: err = %v, want BAD_USER_INPUT on %s", what, err, field)
	}
}

func TestLocation(t *testing.T) {
	for _, c := range []struct {
		lat, lng float64
		ok       bool
	}{
		{32.49, 119.92, true}, {MinLat, MinLng, true}, {MaxLat, MaxLng, true},
		{32.29, 119.92, false}, {32.71, 119.92, false}, {32.49, 119.69, false}, {32.49, 120.16, false},
		{math.NaN(), 119.92, false}, {32.49, math.NaN(), false}, {math.Inf(1), 119.92, false}, {32.49, math.Inf(-1), false},
		{0, 0, false},
	} {
		if got := InDistrict(c.lat, c.lng); got != c.ok {
			t.Errorf("InDistrict(%v, %v) = %v", c.lat, c.lng, got)
		}
		field := "location"
		if c.ok {
			field = ""
		}
		wantField(t, "Location", Location("location", c.lat, c.lng), field)
	}
	err := Location("location", 31.2, 121.5)
	if want := "BAD_USER_INPUT: location: (31.20000, 121.50000) is not inside Hailing District (latitude 32.30–32.70, longitude 119.70–120.15)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestPhone(t *testing.T) {
	for s, ok := range map[string]bool{
		"": true, "13812345678": true, "19912345678": true, "0523-86881234": true, "052386881234": true, "010-1234567": true,
		"02312345678": true, "0523-868812": false, "12812345678": false, "1381234567": false, "138123456789": false,
		"+8613812345678": false, "0523--86881234": false, "523-86881234": false, "1381234567x": false, " 13812345678": false,
	} {
		field := "reporterPhone"
		if ok {
			field = ""
		}
		wantField(t, s, Phone("reporterPhone", s), field)
	}
	if err := Phone("party.phone", "12345"); err.Error() != `BAD_USER_INPUT: party.phone: "12345" is not a mobile number (11 digits) or a landline such as 0523-86881234` {
		t.Errorf("message %q", err)
	}
}

func TestJurisdiction(t *testing.T) {
	for s, ok := range map[string]bool{
		"hailing": true, "hailing.chengdong": true, "hailing.chengdong.fenghuang.g01": true, "a_1.b_2": true,
		"": false, "Hailing": false, "hailing..x": false, ".hailing": false, "hailing.": false, "hailing/chengdong": false,
		"hai-ling": false, "hailing chengdong": false,
	} {
		if JurisdictionCode(s) != ok {
			t.Errorf("JurisdictionCode(%q) = %v", s, !ok)
		}
		field := "jurisdiction"
		if ok {
			field = ""
		}
		wantField(t, s, Jurisdiction("jurisdiction", s), field)
		if s != "" {
			wantField(t, s, OptionalJurisdiction("jurisdiction", s), field)
		}
	}
	wantField(t, "optional empty", OptionalJurisdiction("jurisdiction", ""), "")
	if err := Jurisdiction("filter.jurisdiction", "X"); err.Error() != `BAD_USER_INPUT: filter.jurisdiction: "X" is not a jurisdiction code such as hailing.chengdong` {
		t.Errorf("message %q", err)
	}
}

func TestDeptCode(t *testing.T) {
	for s, ok := range map[string]bool{
		"traffic-police": true, "urban-management": true, "a": true, "street-01": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "Traffic-Police": false, "traffic_police": false, "traffic police": false,
		"交警": false,
	} {
		if DeptCode(s) != ok || OrgCode(s) != ok {
			t.Errorf("DeptCode(%q) = %v, OrgCode %v", s, DeptCode(s), OrgCode(s))
		}
	}
}

func TestText(t *testing.T) {
	wantField(t, "100 characters", SearchText("filter.text", strings.Repeat("长", 100)), "")
	wantField(t, "101 characters", SearchText("filter.text", strings.Repeat("a", 101)), "filter.text")
	wantField(t, "200 characters", Address("address", strings.Repeat("路", 200)), "")
	wantField(t, "201 characters", Address("address", strings.Repeat("路", 201)), "address")
	if err := Address("address", strings.Repeat("a", 201)); err.Error() != "BAD_USER_INPUT: address: the address is limited to 200 characters" {
		t.Errorf("message %q", err)
	}
	if err := MaxText("description", "the description", strings.Repeat("长", 2001), MaxDescription); err == nil ||
		err.Error() != "BAD_USER_INPUT: description: the description is limited to 2000 characters" {
		t.Errorf("message %q", err)
	}
	if TooLong(strings.Repeat("长", 50), 50) || !TooLong(strings.Repeat("长", 51), 50) || TooLong("", 0) {
		t.Error("TooLong counts characters")
	}
	for s, ok := range map[string]bool{
		"ext-1": true, "外部编号 1": true, strings.Repeat("长", 100): true,
		"": false, strings.Repeat("x", 101): false, "a\tb": false, "a\x00b": false, "a\u0085b": false,
	} {
		if PrintableID(s) != ok {
			t.Errorf("PrintableID(%q) = %v", s, !ok)
		}
	}
}

func TestPhotos(t *testing.T) {
	wantField(t, "9 photos", PhotoCount("photoUrls", 9), "")
	wantField(t, "10 photos", PhotoCount("photoUrls", 10), "photoUrls")
	for _, c := range []struct {
		urls  []string
		field string
	}{
		{nil, ""},
		{[]string{"https://img.example.cn/1.jpg", "http://img.example.cn/2.jpg"}, ""},
		{[]string{"https://img.example.cn/" + strings.Repeat("a", 500-len("https://img.example.cn/"))}, ""},
		{[]string{"https://img.example.cn/" + strings.Repeat("a", 501-len("https://img.example.cn/"))}, "photoUrls[0]"},
		{[]string{"https://img.example.cn/1.jpg", "ftp://x/y.jpg"}, "photoUrls[1]"},
		{[]string{"not a url"}, "photoUrls[0]"},
		{[]string{"https:///1.jpg"}, "photoUrls[0]"},
		{[]string{"https://img.example.cn/\x00.jpg"}, "photoUrls[0]"},
		{[]string{"https://img.example.cn/\xff.jpg"}, "photoUrls[0]"},
	} {
		wantField(t, strings.Join(c.urls, " "), PhotoURLs("photoUrls", c.urls), c.field)
	}
	if err := PhotoURLs("photoUrls", []string{"x", "https://a.cn/\xff"}); err.Error() != "BAD_USER_INPUT: photoUrls[0]: \"x\" is not an http(s) URL" {
		t.Errorf("message %q", err)
	}
	if err := PhotoURLs("photoUrls", []string{"https://a.cn/\xff"}); err.Error() != "BAD_USER_INPUT: photoUrls[0]: not valid UTF-8 text" {
		t.Errorf("message %q", err)
	}
}

// TestMatchersMatchPatterns checks the hand-written matchers against the
// patterns they stand for (the ones the database checks) on random strings
// over the alphabet that matters.
func TestMatchersMatchPatterns(t *testing.T) {
	var (
		phonePattern        = regexp.MustCompile(`^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$`)
		jurisdictionPattern = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)
		deptPattern         = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	)
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(alphabet string, max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	fixed := []string{"13812345678", "0523-86881234", "052386881234", "02312345678", "0523-868812", "1281234567", "",
		"hailing", "hailing.chengdong", "hailing..x", ".hailing", "hailing.", "a_1.b_2", "Hailing", "traffic-police",
		strings.Repeat("a", 64), strings.Repeat("a", 65)}
	for i := 0; i < 200_000; i++ {
		var phone, code, dept string
		if i < len(fixed) {
			phone, code, dept = fixed[i], fixed[i], fixed[i]
		} else {
			phone = gen("0123456789-1", 14)
			code = gen("ab_9.-", 8)
			dept = gen("az09-_A", 70)
		}
		if IsPhone(phone) != phonePattern.MatchString(phone) {
			t.Fatalf("IsPhone(%q) = %v", phone, IsPhone(phone))
		}
		if JurisdictionCode(code) != jurisdictionPattern.MatchString(code) {
			t.Fatalf("JurisdictionCode(%q) = %v", code, JurisdictionCode(code))
		}
		if DeptCode(dept) != deptPattern.MatchString(dept) {
			t.Fatalf("DeptCode(%q) = %v", dept, DeptCode(dept))
		}
	}
}

// TestSite: the first problem of where a record says it is wins, in the
// datasets' order (address, location, jurisdiction).
func TestSite(t *testing.T) {
	long := strings.Repeat("路", MaxAddress+1)
	for _, c := range []struct {
		address, jurisdiction string
		lat, lng              float64
		field                 string
	}{
		{"海陵南路 88 号", "hailing.chengdong", 32.49, 119.92, ""},
		{"", "", 32.49, 119.92, ""},
		{long, "HAILING", 0, 0, "address"},
		{"", "HAILING", 0, 0, "location"},
		{"", "HAILING", 32.49, 119.92, "jurisdiction"},
	} {
		err := Site(c.address, c.lat, c.lng, c.jurisdiction)
		got := ""
		if e, ok := apperr.As(err); ok {
			got = e.Field
		}
		if (err == nil) != (c.field == "") || got != c.field {
			t.Errorf("Site(%q, %v, %v, %q) = %v, want field %q", c.address, c.lat, c.lng, c.jurisdiction, err, c.field)
		}
	}
}
