package config_test

import (
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/config"
)

func load(vars map[string]string) (config.Config, error) {
	return config.Load(func(k string) string { return vars[k] })
}

// TestDevelopmentListensOnLoopbackOnly: without DATAHUB_MODE the hub runs in
// development mode, which accepts tokens signed with a key published in the
// source; it must refuse every listen address other machines can reach.
func TestDevelopmentListensOnLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "127.1.2.3:80", "[::1]:8080", "localhost:8080", "127.0.0.1:0"} {
		if _, err := load(map[string]string{"LISTEN_ADDR": addr}); err != nil {
			t.Errorf("development on %s: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.20:8080", "10.0.0.5:80", "example.org:8080", "8080", ""} {
		vars := map[string]string{"LISTEN_ADDR": addr}
		if addr == "" {
			vars["LISTEN_ADDR"] = " :8080 "
		}
		_, err := load(vars)
		if err == nil {
			t.Errorf("development mode accepted LISTEN_ADDR %q", vars["LISTEN_ADDR"])
			continue
		}
		if !strings.Contains(err.Error(), "loopback") || !strings.Contains(err.Error(), "DATAHUB_MODE=production") {
			t.Errorf("%q: the message does not say what to do: %v", addr, err)
		}
	}
	// The default address is loopback: `make run` works without settings.
	cfg, err := load(nil)
	if err != nil || cfg.Mode != config.ModeDevelopment || !config.LoopbackAddr(cfg.ListenAddr) {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
}

// TestProductionListensAnywhere: production mode refuses development keys,
// so it may listen on every interface.
func TestProductionListensAnywhere(t *testing.T) {
	cfg, err := load(map[string]string{"DATAHUB_MODE": "production", "JWT_PUBLIC_KEYS": "idp=/etc/idp.pem", "AUDIT_HMAC_KEY": strings.Repeat("k", 32), "LISTEN_ADDR": "0.0.0.0:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DevSecret() != nil {
		t.Fatal("production has a development secret")
	}
}
