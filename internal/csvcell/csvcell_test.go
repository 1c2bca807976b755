package csvcell_test

import (
	"testing"

	"github.com/fengcheng/datahub/internal/csvcell"
)

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\",\"y\")": "'=HYPERLINK(\"http://x\",\"y\")",
		"+1+1":                           "'+1+1",
		"-2+3+cmd|' /C calc'!A0":         "'-2+3+cmd|' /C calc'!A0",
		"@SUM(A1)":                       "'@SUM(A1)",
		"\t=1":                           "'\t=1",
		"\r=1":                           "'\r=1",
		"路灯不亮 =1":                        "路灯不亮 =1",
		"":                               "",
		"'quoted":                        "'quoted",
		"3.5":                            "3.5",
	} {
		if got := csvcell.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}
