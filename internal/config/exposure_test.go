package config

import (
	"strings"
	"testing"
)

func TestExposureDefaultsAndValidation(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	dev, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if dev.IntrospectionExposure() != ExposureOpen || dev.FederationSDLExposure() != ExposureOpen || !dev.MetricsOpen() {
		t.Errorf("development: %s %s metrics open %v", dev.IntrospectionExposure(), dev.FederationSDLExposure(), dev.MetricsOpen())
	}
	// Production decides from the mode, also when the mode is changed
	// after loading (the --mode flag).
	dev.Mode = ModeProduction
	if dev.IntrospectionExposure() != ExposureOff || dev.FederationSDLExposure() != ExposureService || dev.MetricsOpen() {
		t.Errorf("production: %s %s metrics open %v", dev.IntrospectionExposure(), dev.FederationSDLExposure(), dev.MetricsOpen())
	}
	set, err := Load(env(map[string]string{"DATAHUB_MODE": "production", "JWT_PUBLIC_KEYS": "k=/dev/null", "AUDIT_HMAC_KEY": strings.Repeat("k", 32),
		"GRAPHQL_INTROSPECTION": "authenticated", "FEDERATION_SDL": "off", "METRICS_TOKEN": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if set.IntrospectionExposure() != ExposureAuthenticated || set.FederationSDLExposure() != ExposureOff || set.MetricsToken == "" {
		t.Errorf("set: %+v", set)
	}
	for k, v := range map[string]string{"GRAPHQL_INTROSPECTION": "yes", "FEDERATION_SDL": "public", "METRICS_TOKEN": "short"} {
		if _, err := Load(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}
