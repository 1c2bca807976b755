package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

var devSecret = []byte("console-test-development-secret-0123456789")

func serve(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestDevLoginRefusedInProduction(t *testing.T) {
	h := DevLogin(false, devSecret, nil)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		w := serve(t, h, m, "/console/dev-login", `{"persona":"water-officer"}`)
		if w.Code != http.StatusNotFound {
			t.Errorf("%s in production: %d %s, want 404", m, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "eyJ") {
			t.Errorf("%s in production answered a token: %s", m, w.Body)
		}
	}
}

func TestDevLoginMintsAPersonaToken(t *testing.T) {
	h := DevLogin(true, devSecret, func() time.Time { return time.Now() })
	w := serve(t, h, http.MethodGet, "/console/dev-login", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"water-officer"`) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	w = serve(t, h, http.MethodPost, "/console/dev-login", `{"persona":"water-officer"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("mint: %d %s", w.Code, w.Body)
	}
	var out struct{ Token string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Issuer: "fengcheng-datahub", Audience: "datahub", Mode: auth.ModeDevelopment, DevSecret: devSecret})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), out.Token)
	if err != nil {
		t.Fatalf("the minted token does not verify: %v", err)
	}
	if p.Dept != "water" || len(p.Roles) != 1 || p.Roles[0] != "officer" {
		t.Fatalf("token principal = %+v, want water officer", p)
	}
	if w := serve(t, h, http.MethodPost, "/console/dev-login", `{"persona":"root"}`); w.Code != http.StatusBadRequest {
		t.Errorf("unknown persona: %d, want 400", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/console/dev-login", strings.NewReader(`{"persona":"water-officer"}`))
	r.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("a form-like POST: %d, want 415", rec.Code)
	}
}

func TestStaticSecurityHeaders(t *testing.T) {
	h := Static(Assets())
	for _, path := range []string{"/console/", "/console/catalog", "/console/index.html"} {
		w := serve(t, h, http.MethodGet, path, "")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `<div id="app">`) {
			t.Fatalf("%s: %d", path, w.Code)
		}
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, w.Header())
		}
		// The build must not need what the CSP forbids.
		if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), " style=") {
			t.Errorf("%s: index.html has inline script or style", path)
		}
	}
	if w := serve(t, h, http.MethodGet, "/console/assets/missing.js", ""); w.Code != http.StatusNotFound {
		t.Errorf("missing asset: %d, want 404", w.Code)
	}
	if w := serve(t, h, http.MethodGet, "/console", ""); w.Code != http.StatusMovedPermanently {
		t.Errorf("/console: %d, want a redirect", w.Code)
	}
}
