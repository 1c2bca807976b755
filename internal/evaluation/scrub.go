package evaluation

import (
	"regexp"
	"strings"
)

// The scrubber's patterns. Text is folded first (full-width forms to
// ASCII, Chinese numerals to digits inside numbers), so one pattern covers
// every way of typing a number.
//
// sep is what people put between the digit groups of a number: up to three
// spaces, dots, hyphens, dashes, slashes, commas, brackets or asterisks
// (138 1234 5678, 138.1234.5678, 138－1234－5678, (0523)86881234,
// 138****5678).
const sep = `[ \t.\-–—_/,()*]{0,4}`

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// Messenger handles: 微信 zhangsan88, QQ: 12345678, wx: abc_123.
	handlePattern = regexp.MustCompile(`(?i)(微信号?|wechat|vx|wx|qq|抖音号?)\s*[:：]?\s*[A-Za-z0-9_\-]{5,}`)
	// An ID number, grouped or not (32120219900101123X, 3212 0219 9001 0112 3X).
	idPattern = regexp.MustCompile(`[0-9](?:` + sep + `[0-9]){16}` + sep + `[0-9Xx]`)
	// Mobile numbers with their country code: +86 139 1234 5678.
	mobilePattern = regexp.MustCompile(`\+?86` + sep + `1[3-9][0-9](?:` + sep + `[0-9]){8}`)
	// Plates, with spaces, dots or middle dots anywhere after the province
	// (苏M12345, 苏 M·A1234, 苏M·A 1234, 苏 m 12345), new-energy plates
	// included (six characters after the letter).
	platePattern = regexp.MustCompile(`[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][ ·•.\-]{0,2}[A-Za-z](?:[ ·•.\-]{0,2}[A-Za-z0-9]){5,6}`)
	// A plate without its province (M·12345, A 1234B): a letter then five
	// or six letters and digits, at least four of them digits.
	barePlatePattern = regexp.MustCompile(`(?:^|[^A-Za-z0-9])([A-Za-z][ ·•.\-]{0,2}(?:[A-Za-z0-9][ ·•.\-]?){4,5}[A-Za-z0-9])(?:$|[^A-Za-z0-9])`)
	// House numbers: 12号, 88号院, 3幢502室, 3#楼, 5楼2单元, 12号楼3单元502室,
	// 1102房, 3栋2单元1102, and dashed building-unit-room numbers
	// (5-2-301, 2-301室). Whole chains go, so no part of an address
	// survives.
	housePattern = regexp.MustCompile(`(?:[0-9]+` + `[ ]?(?:号楼|号院|号|幢|栋|座|#楼?|单元|楼|层|室|户|房)[ ]?)+[0-9]*`)
	dashedHouse  = regexp.MustCompile(`[0-9]{1,4}-[0-9]{1,4}-[0-9]{1,4}|[0-9]{1,3}-[0-9]{3,4}(?:[室房户号])?`)
	// Any other run of 7 or more digits, grouped however: phone and
	// landline numbers, account and card numbers.
	digitRun = regexp.MustCompile(`[0-9](?:` + sep + `[0-9]){6,}(?:` + sep + `[Xx])?`)
	// A calendar date is not personal: kept although it has 8 digits.
	datePattern = regexp.MustCompile(`^(?:19|20)[0-9]{2}([.\-/])(?:0?[1-9]|1[0-2])([.\-/])(?:0?[1-9]|[12][0-9]|3[01])$`)
	// What may remain after scrubbing without making text unsafe: a run
	// of five or six digits is an unsafe residue (a postcode, a plate or
	// a phone extension) unless it is the 12345 hotline, a year or an
	// amount with its unit.
	residue     = regexp.MustCompile(`[0-9](?:[ .\-]?[0-9]){4,5}`)
	unitFollows = regexp.MustCompile(`^[ ]?(?:元|万|平方米|平米|㎡|m²|m2|米|个|处|次|天|人|辆|件|户数|吨|公斤|千克|方|立方米|%)`)
)

// Chinese numerals that people write phone and house numbers with
// (一三八…, 幺 for one, 〇 and 零 for zero).
var zhDigits = map[rune]rune{'零': '0', '〇': '0', '幺': '1', '一': '1', '二': '2', '两': '2', '三': '3', '四': '4',
	'五': '5', '六': '6', '七': '7', '八': '8', '九': '9'}

// Removed replaces personal data in scrubbed text.
const Removed = "[removed]"

// Withheld replaces free text that could not be made safe.
const Withheld = "[withheld: text could not be made safe]"

// Scrub removes personal data from free text: e-mail addresses and
// messenger handles, ID numbers, mobile and landline numbers, plates (with
// or without their province, however spaced), house numbers (12号,
// 3幢502室, 5-2-301), any run of 7 or more digits, and the given names.
// Numbers are recognised however they are written: in full-width
// characters (１３８…) or Chinese numerals (一三八…), and grouped with
// spaces, dots, hyphens, slashes or brackets. Text that still holds a
// suspicious number afterwards (a run of five or six digits that is not
// the 12345 hotline or an amount with its unit) is withheld whole: when in
// doubt, an assessment loses a description, never a person's privacy.
// Other people's names cannot be told from ordinary words, so this is a
// safety net for profiles that keep text; the default profile drops text
// altogether.
func Scrub(s string, names ...string) string {
	if s == "" {
		return s
	}
	// Names first, before numerals in them (张三四五) are folded to digits.
	s = foldWidth(s)
	for _, n := range names {
		if n = strings.TrimSpace(foldWidth(n)); n != "" {
			s = strings.ReplaceAll(s, n, Removed)
		}
	}
	s = foldDigits(s)
	s = emailPattern.ReplaceAllString(s, Removed)
	s = handlePattern.ReplaceAllString(s, Removed)
	s = mobilePattern.ReplaceAllString(s, Removed)
	s = platePattern.ReplaceAllString(s, Removed)
	// Long runs before ID numbers: a 19-digit card number is one run, not
	// an ID number and a stray digit.
	s = digitRun.ReplaceAllStringFunc(s, func(m string) string {
		if d := datePattern.FindStringSubmatch(m); d != nil && d[1] == d[2] {
			return m
		}
		return Removed
	})
	s = idPattern.ReplaceAllString(s, Removed)
	s = dashedHouse.ReplaceAllStringFunc(s, func(m string) string {
		if datePattern.MatchString(m) {
			return m
		}
		return Removed
	})
	s = housePattern.ReplaceAllString(s, Removed)
	s = replaceGroup(barePlatePattern, s, func(m string) string {
		if strings.Count(m, "")-1 < 6 || digits(m) < 4 {
			return m
		}
		return Removed
	})
	if unsafeResidue(s) {
		return Withheld
	}
	return s
}

// replaceGroup replaces the first group of each match of re.
func replaceGroup(re *regexp.Regexp, s string, fn func(string) string) string {
	var b strings.Builder
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[2]])
		b.WriteString(fn(s[m[2]:m[3]]))
		last = m[3]
	}
	b.WriteString(s[last:])
	return b.String()
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// unsafeResidue reports a run of five or six digits left in scrubbed
// text that is neither the 12345 hotline, a date nor an amount.
func unsafeResidue(s string) bool {
	for _, loc := range residue.FindAllStringIndex(s, -1) {
		m := s[loc[0]:loc[1]]
		compact := strings.NewReplacer(" ", "", ".", "", "-", "").Replace(m)
		switch {
		case compact == "12345" || compact == "12319" || compact == "96196":
			// Service hotlines (12345 citizen hotline, 12319 urban
			// management) are not anyone's number.
			continue
		case unitFollows.MatchString(s[loc[1]:]):
			continue
		case len(compact) == 6 && strings.HasPrefix(compact, "20") && strings.ContainsAny(m, ".-"):
			continue // 2025.04, 2025-04: a year and month
		}
		return true
	}
	return false
}

// foldWidth turns full-width ASCII forms (１３８, Ｍ, －, ．) into ASCII and
// the ideographic space into a space, so that one set of patterns covers
// both ways of typing.
func foldWidth(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '\u3000' || r >= '\uFF01' && r <= '\uFF5E' }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\u3000':
			return ' '
		case r >= '\uFF01' && r <= '\uFF5E':
			return r - 0xFEE0
		}
		return r
	}, s)
}

// foldDigits turns Chinese numerals into digits where they stand in runs
// of three or more (一三八一二三四五六七八, 五零二室) or before a house-number
// word (三幢, 十二号 is left: 十 is not a digit), so phone and house numbers
// written in words are caught by the same patterns. Ordinary words with one
// or two numerals (一处, 两个) are left alone.
func foldDigits(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { _, ok := zhDigits[r]; return ok }) {
		return s
	}
	rs := []rune(s)
	out := make([]rune, 0, len(rs))
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && isZhDigit(rs[j]) {
			j++
		}
		if j == i {
			out = append(out, rs[i])
			i++
			continue
		}
		houseWord := j < len(rs) && strings.ContainsRune("号幢栋座单元室户", rs[j])
		if j-i >= 3 || houseWord {
			for _, r := range rs[i:j] {
				out = append(out, zhDigits[r])
			}
		} else {
			out = append(out, rs[i:j]...)
		}
		i = j
	}
	return string(out)
}

func isZhDigit(r rune) bool { _, ok := zhDigits[r]; return ok }
