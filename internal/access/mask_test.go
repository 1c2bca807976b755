package access_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule access.MaskRule
		in   string
		want string
	}{
		// Phones: mobile keeps 3 + 4, landline its area code and last 2.
		{access.MaskPhone, "13812345678", "138****5678"},
		{access.MaskPhone, "+8613812345678", "+86138****5678"},
		{access.MaskPhone, "+86 13812345678", "+86 138****5678"},
		{access.MaskPhone, "0523-86881234", "0523-******34"},
		{access.MaskPhone, "052386881234", "0523******34"},
		{access.MaskPhone, "010-12345678", "010-******78"},
		{access.MaskPhone, "02512345678", "025******78"},
		{access.MaskPhone, "0523 8688123", "0523 *****23"},
		// Odd shapes: at most 3 + 2 kept, at least half starred.
		{access.MaskPhone, "12345", "1***5"},
		{access.MaskPhone, "123456789012", "123*******12"},
		{access.MaskPhone, "110", "**0"},
		{access.MaskPhone, "1", "*"},
		{access.MaskPhone, "138****5678", "138******78"},
		{access.MaskName, "张*", "**"},
		{access.MaskName, "****", "***"},
		// ID numbers.
		{access.MaskIDNumber, "32120219800101123X", "3212**********123X"},
		{access.MaskIDNumber, "321202198001011234", "3212**********1234"},
		{access.MaskIDNumber, "32120219800101123x", "3212**********123x"},
		{access.MaskIDNumber, "321202800101123", "3212*******1123"},
		{access.MaskIDNumber, "E12345678", "E1*****78"},
		{access.MaskIDNumber, "3212", "3**2"},
		// Names keep the surname.
		{access.MaskName, "张三", "张*"},
		{access.MaskName, "王小明", "王**"},
		{access.MaskName, "欧阳娜娜", "欧阳**"},
		{access.MaskName, "诸葛亮", "诸葛*"},
		{access.MaskName, "欧阳", "欧*"},
		{access.MaskName, "张", "*"},
		{access.MaskName, "买买提·艾力", "买*****"},
		{access.MaskName, "John Smith", "J*********"},
		// Plates keep province, city letter and last 2.
		{access.MaskPlate, "苏M12345", "苏M***45"},
		{access.MaskPlate, "苏MD12345", "苏M****45"},
		{access.MaskPlate, "苏M1234学", "苏M***4学"},
		{access.MaskPlate, "苏M·12345", "苏M****45"},
		{access.MaskPlate, "ABC", "**C"},
		// Unknown rule: conservative.
		{access.MaskRule("EMAIL"), "someone@example.com", "s*****************m"},
		// Empty stays empty, whatever the rule.
		{access.MaskPhone, "", ""},
		{access.MaskName, "", ""},
		{access.MaskRule(""), "", ""},
	}
	for _, tc := range tests {
		if got := access.Mask(tc.rule, tc.in); got != tc.want {
			t.Errorf("Mask(%s, %q) = %q, want %q", tc.rule, tc.in, got, tc.want)
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"13812345678", "0523-86881234", "32120219800101123X", "张三", "欧阳娜娜", "苏M12345",
		"苏MD12345", "****", "138****5678", "a", "ab", "abcd", "\xff\xfe\xfd\xfc", "😀😀😀😀", "  ", "+8613812345678",
	} {
		for _, r := range append(access.MaskRules(), "UNKNOWN") {
			f.Add(string(r), s)
		}
	}
	f.Fuzz(func(t *testing.T, rule, in string) {
		out := access.Mask(access.MaskRule(rule), in)
		if in == "" {
			if out != "" {
				t.Fatalf("Mask(%s, \"\") = %q, want empty", rule, out)
			}
			return
		}
		if utf8.RuneCountInString(in) >= 4 && out == in {
			t.Fatalf("Mask(%s, %q) returned its input", rule, in)
		}
		if !strings.Contains(out, "*") {
			t.Fatalf("Mask(%s, %q) = %q masks nothing", rule, in, out)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Mask(%s, %q) = %q is not valid UTF-8", rule, in, out)
		}
	})
}
