package access

import (
	"strings"
	"unicode"
)

// MaskRule names how a personal field is shown to those who may see it only
// masked. The names match the schema's @access(mask:) enum.
type MaskRule string

// Masking rules.
const (
	// MaskPhone keeps a mobile number's first 3 and last 4 digits
	// (138****5678) and a landline's area code and last 2 (0523-******34).
	MaskPhone MaskRule = "PHONE"
	// MaskIDNumber keeps a resident ID number's first 4 and last 4
	// characters (3212**********123X).
	MaskIDNumber MaskRule = "ID_NUMBER"
	// MaskName keeps the surname: 张* , 欧阳** for compound surnames.
	MaskName MaskRule = "NAME"
	// MaskPlate keeps the province character, the city letter and the last
	// 2 characters (苏M***45).
	MaskPlate MaskRule = "PLATE"
)

// MaskRules lists the masking rules.
func MaskRules() []MaskRule { return []MaskRule{MaskPhone, MaskIDNumber, MaskName, MaskPlate} }

// Mask returns value masked by rule. It works on characters, not bytes; an
// empty value stays empty. A value that does not have the rule's expected
// shape (or an unknown rule) is masked conservatively: at least half of it,
// and at most 2 characters at either end, stay visible. Mask never returns a
// non-empty value unchanged.
func Mask(rule MaskRule, value string) string {
	if value == "" {
		return ""
	}
	r := []rune(value)
	var out []rune
	switch rule {
	case MaskPhone:
		out = maskPhone(r)
	case MaskIDNumber:
		out = maskIDNumber(r)
	case MaskName:
		out = maskName(r)
	case MaskPlate:
		out = maskPlate(r)
	default:
		out = keepEnds(r, 1, 1)
	}
	s := string(out)
	if s != value {
		return s
	}
	// Only a value already starred where the rule masks gets here (e.g.
	// 138****5678): star it all. A value of nothing but stars leaks nothing
	// but still must not come back unchanged.
	if all := strings.Repeat("*", len(r)); all != value {
		return all
	}
	if len(r) == 3 {
		return "****"
	}
	return "***"
}

// keepEnds keeps up to front and back characters and stars the rest, giving
// up kept characters (the larger end first) until at least half of the
// value, and at least one character, is starred.
func keepEnds(r []rune, front, back int) []rune {
	n := len(r)
	minMasked := max((n+1)/2, 1)
	for front+back > n-minMasked {
		if front >= back && front > 0 {
			front--
		} else if back > 0 {
			back--
		} else {
			break
		}
	}
	return starMiddle(r, front, back)
}

// starMiddle keeps front and back characters and stars the rest; callers
// ensure at least one character is starred.
func starMiddle(r []rune, front, back int) []rune {
	out := make([]rune, 0, len(r))
	out = append(out, r[:front]...)
	for range len(r) - front - back {
		out = append(out, '*')
	}
	return append(out, r[len(r)-back:]...)
}

func isDigits(r []rune) bool {
	if len(r) == 0 {
		return false
	}
	for _, c := range r {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func maskPhone(r []rune) []rune {
	// Mobile, optionally with a +86 / 86 country code (kept as written).
	prefix := 0
	for _, p := range []string{"+86-", "+86 ", "+86", "0086", "86-", "86 "} {
		if len(r) == len([]rune(p))+11 && strings.HasPrefix(string(r), p) {
			prefix = len([]rune(p))
			break
		}
	}
	if m := r[prefix:]; len(m) == 11 && m[0] == '1' && isDigits(m) {
		return append(append([]rune(nil), r[:prefix]...), starMiddle(m, 3, 4)...)
	}
	// Landline: area code (010, 02x: 3 digits; others 4), optional
	// separator, 7–8 digit local number. Keep the area code and last 2.
	if len(r) >= 10 && r[0] == '0' {
		area := 4
		if r[1] == '1' || r[1] == '2' {
			area = 3
		}
		if i := strings.IndexAny(string(r), "- "); i > 0 {
			area = len([]rune(string(r)[:i]))
		}
		if area == 3 || area == 4 {
			local := r[area:]
			sep := 0
			if len(local) > 0 && (local[0] == '-' || local[0] == ' ') {
				sep = 1
			}
			digits := local[sep:]
			if isDigits(r[:area]) && isDigits(digits) && (len(digits) == 7 || len(digits) == 8) {
				return starMiddle(r, area+sep, 2)
			}
		}
	}
	return keepEnds(r, 3, 2)
}

func maskIDNumber(r []rune) []rune {
	n := len(r)
	last := r[n-1]
	if (n == 18 && isDigits(r[:17]) && (isDigits(r[17:]) || last == 'X' || last == 'x')) || (n == 15 && isDigits(r)) {
		return starMiddle(r, 4, 4)
	}
	return keepEnds(r, 2, 2)
}

// compoundSurnames are the common two-character surnames (复姓).
var compoundSurnames = map[string]bool{
	"欧阳": true, "司马": true, "上官": true, "诸葛": true, "东方": true, "皇甫": true,
	"尉迟": true, "公孙": true, "慕容": true, "长孙": true, "宇文": true, "司徒": true,
	"夏侯": true, "轩辕": true, "令狐": true, "端木": true, "独孤": true, "南宫": true,
	"西门": true, "百里": true, "呼延": true, "万俟": true, "闻人": true, "澹台": true,
	"公冶": true, "太史": true, "申屠": true, "钟离": true, "宗政": true, "濮阳": true,
	"淳于": true, "单于": true, "拓跋": true, "司空": true, "东郭": true, "赫连": true,
	"羊舌": true, "左丘": true, "梁丘": true, "乐正": true, "鲜于": true, "闾丘": true,
	"公羊": true, "仲孙": true, "谷梁": true, "漆雕": true, "壤驷": true, "公良": true,
	"巫马": true, "亓官": true, "颛孙": true, "子车": true, "段干": true, "东门": true,
	"公西": true, "南门": true, "微生": true, "第五": true,
}

func maskName(r []rune) []rune {
	switch n := len(r); {
	case n == 1:
		return []rune{'*'}
	case n >= 3 && compoundSurnames[string(r[:2])]:
		return starMiddle(r, 2, 0)
	default:
		return starMiddle(r, 1, 0)
	}
}

func maskPlate(r []rune) []rune {
	// 苏M12345, 苏MD12345 (new energy), 苏M1234学: a province character, the
	// city letter, then 5–6 letters and digits (the last may be a character).
	if n := len(r); n >= 7 && n <= 8 && unicode.Is(unicode.Han, r[0]) && r[1] >= 'A' && r[1] <= 'Z' {
		ok := true
		for i, c := range r[2:] {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i == n-3 && unicode.Is(unicode.Han, c)) {
				ok = false
				break
			}
		}
		if ok {
			return starMiddle(r, 2, 2)
		}
	}
	return keepEnds(r, 2, 2)
}
