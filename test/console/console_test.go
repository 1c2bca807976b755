// Package console_test drives the governance console end to end in headless
// Chromium against a real hub (PostgreSQL, Redis, HTTP), and type-checks the
// console's GraphQL documents against the SDL the hub serves now, so that a
// schema change that breaks the console fails `make test`.
//
// The browser is Debian's chromium (/usr/bin/chromium, or CHROMIUM), driven
// by playwright-core pinned in console/package-lock.json; both are installed
// by scripts/console-deps.sh, which `make test` runs. Without them the tests
// skip, except under CI (CI set and not "false"/"0"), where they fail.
//
// CONSOLE_SCREENSHOTS=DIR keeps the screenshots there (docs/console holds
// the committed ones); otherwise they go to a temporary folder.
package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

// seedNow fixes the demo data's "now".
var seedNow = time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC)

const consoleDir = "../../console"

var (
	seedOnce sync.Once
	seedErr  error
)

func requireTools(t *testing.T, browser bool) (node, chromium string) {
	t.Helper()
	ci := os.Getenv("CI")
	inCI := ci != "" && ci != "false" && ci != "0"
	missing := func(what string) {
		msg := what + "; run scripts/console-deps.sh (or make test)"
		if inCI {
			t.Fatalf("CI: %s", msg)
		}
		t.Skipf("skipping the console test: %s", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	for _, pkg := range []string{"playwright-core", "@graphql-codegen/cli", "typescript", "vite", "echarts"} {
		if _, err := os.Stat(filepath.Join(consoleDir, "node_modules", pkg, "package.json")); err != nil {
			missing("console/node_modules/" + pkg + " is missing")
		}
	}
	if browser {
		chromium = os.Getenv("CHROMIUM")
		if chromium == "" {
			chromium = "/usr/bin/chromium"
		}
		if _, err := os.Stat(chromium); err != nil {
			missing(chromium + " is missing")
		}
	}
	return node, chromium
}

type hub struct {
	url string
	cfg config.Config
}

func startHub(t *testing.T) hub {
	t.Helper()
	ctx := context.Background()
	pool := env.Pool(t)
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	seedOnce.Do(func() {
		if _, seedErr = seed.All(ctx, pool, seed.Options{Seed: 7, Cases: 4000, Now: seedNow, Calendar: calendar.Default()}, nil); seedErr == nil {
			_, seedErr = app.RebuildIndicators(ctx, pool, func() time.Time { return seedNow }, quiet)
		}
	})
	if seedErr != nil {
		t.Fatalf("seed: %v", seedErr)
	}
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "DATABASE_URL":
			return env.DatabaseURL
		case "REDIS_URL":
			return env.RedisURL
		case "REDIS_PREFIX":
			return env.RedisPrefix
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	// The hub runs on the wall clock like the browser (grants' countdowns,
	// a grant's one-year limit, "this week" in the audit page).
	a, err := app.New(ctx, cfg, quiet, app.Options{})
	if err != nil {
		t.Fatalf("app: %v", err)
	}
	a.Start()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); a.Close() })
	return hub{url: srv.URL, cfg: cfg}
}

func (h hub) gql(t *testing.T, token, query string, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", h.url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var r struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("%s: %s (%v)", query, raw, err)
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		t.Fatal(err)
	}
}

func (h hub) token(t *testing.T, dept string, roles ...string) string {
	t.Helper()
	tok, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "console-test", Dept: dept, Roles: roles}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestConsoleTypeChecksAgainstTheServedSDL regenerates the console's typed
// documents from the SDL the hub serves and type-checks the console with
// them, in a copy of console/ (the working tree is left alone).
func TestConsoleTypeChecksAgainstTheServedSDL(t *testing.T) {
	node, _ := requireTools(t, false)
	h := startHub(t)
	var svc struct {
		Service struct{ SDL string } `json:"_service"`
	}
	h.gql(t, h.token(t, "housing", "viewer"), `{ _service { sdl } }`, &svc)
	dir := t.TempDir()
	sdl := filepath.Join(dir, "hub.graphql")
	if err := os.WriteFile(sdl, []byte(svc.Service.SDL), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "console")
	abs, _ := filepath.Abs(consoleDir)
	if err := os.CopyFS(filepath.Join(work, "src"), os.DirFS(filepath.Join(abs, "src"))); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"codegen.ts", "tsconfig.json", "package.json"} {
		b, err := os.ReadFile(filepath.Join(abs, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The typed documents are made from the served SDL, not the committed ones.
	if err := os.RemoveAll(filepath.Join(work, "src", "gql")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(abs, "node_modules"), filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), node, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "DATAHUB_SDL="+sdl)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("node_modules/@graphql-codegen/cli/cjs/bin.js", "--config", "codegen.ts")
	run("node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json")
}

// TestAccessCatalog: the catalog query answers the rules and the caller's
// own access, and a grant shows in it.
func TestAccessCatalog(t *testing.T) {
	h := startHub(t)
	var out struct {
		AccessCatalog []struct {
			Name     string
			Provider string
			Groups   []struct {
				Name, Class string
				Masks       []struct{ Field, Rule string }
			}
			Mine struct {
				AllRows bool
				Groups  []struct{ Group, Access string }
			}
			Baseline []struct{ Role, Rows string }
		}
	}
	h.gql(t, h.token(t, "water", "officer"), `{ accessCatalog { name provider groups { name class masks { field rule } }
	  mine { allRows groups { group access } } baseline { role rows } } }`, &out)
	var found bool
	for _, ds := range out.AccessCatalog {
		if ds.Name != "cases" {
			continue
		}
		found = true
		if ds.Provider != "urban-management" || !ds.Mine.AllRows || len(ds.Baseline) == 0 {
			t.Errorf("cases: %+v", ds)
		}
		for _, g := range ds.Mine.Groups {
			if g.Group == "reporter" && g.Access != "masked" {
				t.Errorf("water officer's reporter access = %s, want masked", g.Access)
			}
		}
		for _, g := range ds.Groups {
			if g.Name == "reporter" && (g.Class != "personal" || len(g.Masks) != 2) {
				t.Errorf("reporter group: %+v", g)
			}
		}
	}
	if !found {
		t.Fatal("no cases dataset in the catalog")
	}
}

func TestConsoleEndToEnd(t *testing.T) {
	node, chromium := requireTools(t, true)
	h := startHub(t)

	// The console's page carries its security headers.
	resp, err := http.Get(h.url + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("console CSP = %q", csp)
	}

	out := os.Getenv("CONSOLE_SCREENSHOTS")
	if out == "" {
		out = t.TempDir()
	}
	out, _ = filepath.Abs(out)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs", "--url", h.url, "--chromium", chromium, "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct {
		OK                 bool     `json:"ok"`
		Error              string   `json:"error"`
		Steps              []string `json:"steps"`
		CSPViolations      []string `json:"cspViolations"`
		PageErrors         []string `json:"pageErrors"`
		UnmaskMs           int      `json:"unmaskMs"`
		MaskMs             int      `json:"maskMs"`
		MapPoints          int      `json:"mapPoints"`
		MapPointsChengdong int      `json:"mapPointsChengdong"`
		SuppressedCells    int      `json:"suppressedCells"`
		URLHasToken        bool     `json:"urlHasToken"`
		LocalStorageToken  bool     `json:"localStorageHasToken"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil || runErr != nil || !res.OK {
		t.Fatalf("console e2e failed (%v): %s\n%s\nstderr:\n%s", runErr, res.Error, stdout.String(), stderr.String())
	}
	t.Logf("steps: %s", strings.Join(res.Steps, "; "))
	t.Logf("grant approved → unmasked in %d ms; revoked → masked in %d ms; map %d points (Chengdong %d); %d suppressed indicator cells",
		res.UnmaskMs, res.MaskMs, res.MapPoints, res.MapPointsChengdong, res.SuppressedCells)
	if len(res.CSPViolations) > 0 {
		t.Errorf("the console broke its Content-Security-Policy: %v", res.CSPViolations)
	}
	if len(res.PageErrors) > 0 {
		t.Errorf("page errors: %v", res.PageErrors)
	}
	if res.MapPoints == 0 || res.MapPointsChengdong == 0 || res.MapPointsChengdong > res.MapPoints+400 {
		t.Errorf("map points: %d, Chengdong %d", res.MapPoints, res.MapPointsChengdong)
	}
	if res.URLHasToken || res.LocalStorageToken {
		t.Errorf("a credential left sessionStorage: url %v, localStorage %v", res.URLHasToken, res.LocalStorageToken)
	}
	for _, name := range []string{"signin", "me", "requests", "data", "catalog", "audit", "indicators", "map"} {
		if st, err := os.Stat(filepath.Join(out, name+".png")); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s.png missing or tiny (%v)", name, err)
		}
	}
	// The indicator chart is drawn: many pixels of the chart's canvas are
	// neither white nor the frame's grey.
	f, err := os.Open(filepath.Join(out, "indicators-chart.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n := colouredPixels(img); n < 2000 {
		t.Errorf("the indicator chart looks blank: %d coloured pixels", n)
	} else {
		t.Logf("indicator chart: %d coloured pixels", n)
	}
}

// colouredPixels counts pixels with a clear hue (series lines and points),
// not white, black or grey (background, axes, text).
func colouredPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi, lo := max(r, g, bl), min(r, g, bl)
			if hi-lo > 0x3000 {
				n++
			}
		}
	}
	return n
}

// TestExplorerWorksOffline loads the API explorer at "/" in headless
// Chromium with every other origin refused: GraphiQL renders from the
// hub's embedded build and its default query returns data.
func TestExplorerWorksOffline(t *testing.T) {
	node, chromium := requireTools(t, true)
	h := startHub(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "explorer.mjs", "--url", h.url, "--chromium", chromium, "--out", t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct {
		OK            bool     `json:"ok"`
		Error         string   `json:"error"`
		Title         string   `json:"title"`
		Offsite       []string `json:"offsite"`
		CSPViolations []string `json:"cspViolations"`
		PageErrors    []string `json:"pageErrors"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil || runErr != nil || !res.OK {
		t.Fatalf("explorer failed (%v): %s\n%s\nstderr:\n%s", runErr, res.Error, stdout.String(), stderr.String())
	}
	if len(res.Offsite) > 0 {
		t.Errorf("the explorer reached for other origins: %v", res.Offsite)
	}
	if len(res.CSPViolations)+len(res.PageErrors) > 0 {
		t.Errorf("CSP violations %v, page errors %v", res.CSPViolations, res.PageErrors)
	}
	if !strings.Contains(res.Title, "GraphiQL") {
		t.Errorf("title %q", res.Title)
	}
}
