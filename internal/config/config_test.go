package config

import "testing"

// TestAuditSync: reads wait for their audit record unless turned off
// explicitly, and a value that is not a boolean is refused.
func TestAuditSync(t *testing.T) {
	load := func(v string) (Config, error) {
		return Load(func(k string) string {
			if k == "AUDIT_SYNC" {
				return v
			}
			return ""
		})
	}
	for v, want := range map[string]bool{"": true, "true": true, "1": true, "false": false, "0": false} {
		c, err := load(v)
		if err != nil || c.AuditSync != want {
			t.Errorf("AUDIT_SYNC=%q: %v, %v; want %v", v, c.AuditSync, err, want)
		}
	}
	if _, err := load("sometimes"); err == nil {
		t.Error("AUDIT_SYNC=sometimes was accepted")
	}
}
