package graph

import (
	"testing"

	"github.com/fengcheng/datahub/internal/access"
)

// TestMaskExample pins the samples FieldMask.example shows, which the
// schema's description of FieldMask.rule quotes.
func TestMaskExample(t *testing.T) {
	want := map[access.MaskRule]string{
		access.MaskPhone:    "138****5678",
		access.MaskIDNumber: "3212**********123X",
		access.MaskName:     "张*",
		access.MaskPlate:    "苏M***45",
	}
	for _, r := range access.MaskRules() {
		if got := maskExample(r); got != want[r] {
			t.Errorf("maskExample(%s) = %q, want %q", r, got, want[r])
		}
	}
	if got := maskExample("UNKNOWN"); got == "" || got == "0123456789" {
		t.Errorf("maskExample of an unknown rule = %q, want a masked sample", got)
	}
}
