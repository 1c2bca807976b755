package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The audit chain's key: a development default, required and never the
// development one in production, read from a file when given one.
func TestAuditKey(t *testing.T) {
	prod := map[string]string{"DATAHUB_MODE": "production", "JWT_PUBLIC_KEYS": "idp=/keys/idp.pem"}
	load := func(env map[string]string, extra ...string) (Config, error) {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return Load(func(k string) string { return m[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.AuditKey(); err != nil || string(k) != DevAuditHMACKey {
		t.Fatalf("development default: %q %v", k, err)
	}
	if _, err := load(prod); err == nil || !strings.Contains(err.Error(), "AUDIT_HMAC_KEY") {
		t.Fatalf("production without a key: %v", err)
	}
	if _, err := load(prod, "AUDIT_HMAC_KEY", DevAuditHMACKey); err == nil {
		t.Fatal("production accepted the development audit key")
	}
	if _, err := load(prod, "AUDIT_HMAC_KEY", "short"); err == nil {
		t.Fatal("accepted a short key")
	}
	key := strings.Repeat("s", 40)
	if c, err := load(prod, "AUDIT_HMAC_KEY", key); err != nil {
		t.Fatal(err)
	} else if k, _ := c.AuditKey(); string(k) != key {
		t.Fatalf("key %q", k)
	}
	path := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := load(prod, "AUDIT_HMAC_KEY_FILE", path); err != nil {
		t.Fatal(err)
	} else if k, err := c.AuditKey(); err != nil || string(k) != key {
		t.Fatalf("key file: %q %v", k, err)
	}
	if _, err := load(nil, "AUDIT_CHECKPOINT_INTERVAL", "10ms"); err == nil {
		t.Fatal("accepted a 10ms checkpoint interval")
	}
}
