package property

import (
	"fmt"
	"strings"
)

// creditCharset is the alphabet of unified social credit codes (GB
// 32100-2015): digits and upper-case letters without I, O, Z, S and V, so
// that no character can be mistaken for another. A character's value is its
// index here.
const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditWeights are the weights of positions 1–17 (3^(i-1) mod 31).
var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// CreditCodeCheck returns the check character for the first 17 characters of
// a unified social credit code: C18 = 31 − (Σ value(Ci)·Wi mod 31), with 31
// written as 0. ok is false when body is not 17 characters of the alphabet.
func CreditCodeCheck(body string) (check byte, ok bool) {
	if len(body) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCharset, body[i])
		if v < 0 {
			return 0, false
		}
		sum += v * creditWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return creditCharset[c], true
}

// ValidateCreditCode checks a unified social credit code (统一社会信用代码):
// 18 characters of the GB 32100-2015 alphabet (digits and upper-case letters
// except I, O, Z, S, V) whose last one is the check character of the first
// 17. The error says what is wrong in words a clerk can act on.
func ValidateCreditCode(code string) error {
	runes := []rune(code)
	if len(runes) != 18 {
		return fmt.Errorf("a unified social credit code has 18 characters, %q has %d", code, len(runes))
	}
	for i, r := range runes {
		if r > 0x7f || strings.IndexByte(creditCharset, byte(r)) < 0 {
			return fmt.Errorf("character %d of %q is not allowed: only digits and upper-case letters except I, O, Z, S and V", i+1, code)
		}
	}
	want, _ := CreditCodeCheck(code[:17])
	if code[17] != want {
		return fmt.Errorf("the check character of %q does not match (expected %c): the code is mistyped", code, want)
	}
	return nil
}
