package loadbench

import "testing"

func TestFormatPhases(t *testing.T) {
	got := formatPhases(map[string]any{"copyMs": 1434.2, "checkMs": 1169.5, "mergeMs": 12700.5, "commitMs": 22.4})
	if want := "copy 1.4 s, check 1.2 s, merge 13 s, commit 0.022 s"; got != want {
		t.Fatalf("formatPhases = %q, want %q", got, want)
	}
	if got := formatPhases(nil); got != "" {
		t.Fatalf("formatPhases(nil) = %q, want nothing", got)
	}
}
