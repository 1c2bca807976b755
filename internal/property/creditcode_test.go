package property_test

import (
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/property"
)

func TestValidateCreditCode(t *testing.T) {
	tests := []struct {
		code string
		ok   bool
		why  string // a word the error must contain
	}{
		{"91350100M000100Y43", true, ""}, // the example of GB 32100-2015
		{"91110108551385082Q", true, ""},
		{"91320200MA1MXXXX0E", true, ""},
		{"91350100M000100Y44", false, "check"},
		{"91350100M000100Y4", false, "18 characters"},
		{"91350100M000100Y433", false, "18 characters"},
		{"", false, "18 characters"},
		{"91350100M000100I43", false, "not allowed"}, // I is not in the alphabet
		{"91350100O000100Y43", false, "not allowed"}, // nor O
		{"91350100M000100Z43", false, "not allowed"},
		{"91350100S000100Y43", false, "not allowed"},
		{"91350100V000100Y43", false, "not allowed"},
		{"91350100m000100y43", false, "not allowed"}, // lower case is normalised by the service, not here
		{"91350100M000100Y4３", false, "not allowed"},
	}
	for _, tc := range tests {
		err := property.ValidateCreditCode(tc.code)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateCreditCode(%q) = %v, want ok=%v", tc.code, err, tc.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ValidateCreditCode(%q) = %q, want it to mention %q", tc.code, err, tc.why)
		}
	}
}

func TestCreditCodeCheckEveryCharacterMatters(t *testing.T) {
	const valid = "91350100M000100Y43"
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	// Every single-character change of the first 17 is caught: the weights
	// are all non-zero modulo the prime 31.
	for i := 0; i < 17; i++ {
		for _, c := range []byte(alphabet) {
			if c == valid[i] {
				continue
			}
			mut := valid[:i] + string(c) + valid[i+1:]
			if property.ValidateCreditCode(mut) == nil {
				t.Fatalf("%s (position %d changed) passes", mut, i+1)
			}
		}
	}
}

func FuzzValidateCreditCode(f *testing.F) {
	for _, s := range []string{"91350100M000100Y43", "", "91350100M000100Y4", "ÿÿÿÿÿÿÿÿÿ", "9135010OM000100Y43"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := property.ValidateCreditCode(s)
		if len(s) < 17 {
			return
		}
		// Completing any valid 17-character body with its check
		// character gives a valid code.
		check, ok := property.CreditCodeCheck(s[:17])
		if ok && property.ValidateCreditCode(s[:17]+string(check)) != nil {
			t.Fatalf("body %q completed with %c is refused", s[:17], check)
		}
		if err == nil && (!ok || s[17] != check || len(s) != 18) {
			t.Fatalf("%q accepted", s)
		}
	})
}
