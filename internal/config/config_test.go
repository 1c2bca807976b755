package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestAuditSync: reads wait for their audit record unless turned off
// explicitly, and a value that is not a boolean is refused.
func TestAuditSync(t *testing.T) {
	load := loadOne("AUDIT_SYNC")
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

// The recusal look-back of double-random draws: two rounds by default,
// 1–12 when set, anything else refused.
func TestDrawRecusalRounds(t *testing.T) {
	load := loadOne("DRAW_RECUSAL_ROUNDS")
	if c, err := load(""); err != nil || c.DrawRecusalRounds != 2 {
		t.Fatalf("default: %d %v, want 2", c.DrawRecusalRounds, err)
	}
	if c, err := load("4"); err != nil || c.DrawRecusalRounds != 4 {
		t.Fatalf("4: %d %v", c.DrawRecusalRounds, err)
	}
	for _, bad := range []string{"0", "-1", "13", "two"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "DRAW_RECUSAL_ROUNDS") {
			t.Errorf("%q: %v, want a DRAW_RECUSAL_ROUNDS error", bad, err)
		}
	}
}

// TestAuditFlushLinger: 1 ms unless set; 0 turns it off; anything negative,
// above a second or not a duration is refused.
func TestAuditFlushLinger(t *testing.T) {
	load := loadOne("AUDIT_FLUSH_LINGER")
	for v, want := range map[string]time.Duration{"": time.Millisecond, "0": 0, "250us": 250 * time.Microsecond, "5ms": 5 * time.Millisecond} {
		c, err := load(v)
		if err != nil || c.AuditFlushLinger != want {
			t.Errorf("AUDIT_FLUSH_LINGER=%q: %v, %v; want %v", v, c.AuditFlushLinger, err, want)
		}
	}
	for _, v := range []string{"-1ms", "2s", "soon"} {
		if _, err := load(v); err == nil {
			t.Errorf("AUDIT_FLUSH_LINGER=%s was accepted", v)
		}
	}
}

// TestOutboxRetention: 24h unless set; shorter than the relay's replay
// needs, or not a duration, is refused.
func TestOutboxRetention(t *testing.T) {
	load := loadOne("OUTBOX_RETENTION")
	for v, want := range map[string]time.Duration{"": 24 * time.Hour, "2m": 2 * time.Minute, "168h": 7 * 24 * time.Hour} {
		c, err := load(v)
		if err != nil || c.OutboxRetention != want {
			t.Errorf("OUTBOX_RETENTION=%q: %v, %v; want %v", v, c.OutboxRetention, err, want)
		}
	}
	for _, v := range []string{"0", "1m", "-1h", "a day"} {
		if _, err := load(v); err == nil {
			t.Errorf("OUTBOX_RETENTION=%s was accepted", v)
		}
	}
}

// loadOne returns a Load of a configuration that sets only key, to v.
func loadOne(key string) func(v string) (Config, error) {
	return func(v string) (Config, error) {
		return Load(func(k string) string {
			if k == key {
				return v
			}
			return ""
		})
	}
}
