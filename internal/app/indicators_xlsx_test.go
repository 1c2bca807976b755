package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/testenv"
)

// readWorkbook reads an XLSX workbook back with openpyxl
// (scripts/test-readers.sh installs it).
func readWorkbook(t *testing.T, data []byte) map[string][][]any {
	t.Helper()
	out := testenv.ReadBack(t, data, "w.xlsx", "/usr/bin/python3", "test/readers/xlsx_dump.py")
	var sheets map[string][][]any
	if err := json.Unmarshal(out, &sheets); err != nil {
		t.Fatal(err)
	}
	return sheets
}

// TestIndicatorsWorkbook: /indicators.xlsx gives, for the anonymous public
// by community, the same figures as the indicators query, with numerator
// and denominator beside each value and every suppressed cell marked as
// such (never 0), the definitions and the versions.
func TestIndicatorsWorkbook(t *testing.T) {
	h := newHub(t)
	const q = `query($from: DateTime!, $to: DateTime!) {
		indicators(period: MONTH, from: $from, to: $to, groupBy: [COMMUNITY]) {
			periodStart community figure(name: "closure_rate") { value numerator denominator suppressed } } }`
	r := h.do("", q, map[string]any{"from": "2025-07-01T00:00:00+08:00", "to": "2025-10-01T00:00:00+08:00"})
	if len(r.Errors) > 0 {
		t.Fatalf("graphql: %+v", r.Errors)
	}
	rows := decode[[]struct {
		PeriodStart time.Time
		Community   string
		Figure      struct {
			Value                  *float64
			Numerator, Denominator *int
			Suppressed             bool
		}
	}](t, r.Data["indicators"])

	res, err := http.Get(h.srv.URL + "/indicators.xlsx?period=MONTH&from=2025-07-01&to=2025-10-01&groupBy=COMMUNITY")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /indicators.xlsx: %d %s", res.StatusCode, body)
	}
	sheets := readWorkbook(t, body)
	for _, s := range []string{"about", "handling", "handling_time", "citizens", "reporting", "dispatch", "density", "other_datasets", "composite", "definitions"} {
		if len(sheets[s]) == 0 {
			t.Fatalf("sheet %s missing: %v", s, sheets)
		}
	}
	about := fmt.Sprint(sheets["about"])
	if !strings.Contains(about, "policy version sha256:") || !strings.Contains(about, "weights version") {
		t.Errorf("about sheet: %s", about)
	}
	if !strings.Contains(fmt.Sprint(sheets["definitions"]), "closed in the period / due to close in the period") {
		t.Error("definitions lack the closure rate formula")
	}
	sheet := sheets["handling"]
	col := map[any]int{}
	for i, h := range sheet[0] {
		col[h] = i
	}
	vi, ni, di := col["closure_rate"], col["closure_rate_numerator"], col["closure_rate_denominator"]
	if vi == 0 || ni != vi+1 || di != vi+2 {
		t.Fatalf("handling header %v", sheet[0])
	}
	if len(sheet)-1 != len(rows) {
		t.Fatalf("%d workbook rows, %d from the query", len(sheet)-1, len(rows))
	}
	loc, _ := time.LoadLocation("Asia/Shanghai")
	suppressed := 0
	for i, want := range rows {
		got := sheet[i+1]
		start, err := time.ParseInLocation("2006-01-02T15:04:05", fmt.Sprint(got[0]), loc)
		if err != nil || !start.Equal(want.PeriodStart) || got[col["community_code"]] != want.Community {
			t.Fatalf("row %d: %v, want %v %s", i+1, got[:4], want.PeriodStart, want.Community)
		}
		f := want.Figure
		switch {
		case f.Suppressed:
			suppressed++
			if got[vi] != "suppressed" || got[ni] != "suppressed" || got[di] != "suppressed" {
				t.Errorf("row %d: suppressed cell shows %v %v %v", i+1, got[vi], got[ni], got[di])
			}
		default:
			if fmt.Sprint(got[ni]) != fmt.Sprint(*f.Numerator) || fmt.Sprint(got[di]) != fmt.Sprint(*f.Denominator) ||
				(f.Value == nil) != (got[vi] == nil) || (f.Value != nil && fmt.Sprintf("%.6f", got[vi]) != fmt.Sprintf("%.6f", *f.Value)) {
				t.Errorf("row %d: workbook %v %v %v, query %+v", i+1, got[vi], got[ni], got[di], f)
			}
		}
	}
	if suppressed == 0 {
		t.Error("no suppressed cell to check: the by-community query should have some")
	}
	if res, err := http.Get(h.srv.URL + "/indicators.xlsx?period=WEEK&from=2025-07-01&to=2025-10-01"); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad period: %v %v", res.StatusCode, err)
	}
}

// TestSnapshotFilesOverHTTP: an evaluation team with a key creates a
// snapshot, finds every file in the manifest with its checksum, and
// downloads the workbook and a dimension table through the hub's
// authentication; the dictionary is in the manifest.
func TestSnapshotFilesOverHTTP(t *testing.T) {
	h := newHub(t)
	key, _, err := auth.NewAPIKeys(h.app.Pool).Create(context.Background(), auth.APIKeySpec{Name: "evaluation team", Org: seed.EvaluationOrg,
		Roles: []string{"evaluator"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	r := h.asCitizen(key, "", `mutation { createSnapshot(filter: {jurisdiction: "hailing.chengzhong"}) {
		columns { name unit aboutZh anonymization } files { name table format path sha256 bytes } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("create: %+v", r.Errors)
	}
	m := decode[struct {
		Columns []struct{ Name, Unit, AboutZh, Anonymization string }
		Files   []struct {
			Name, Table, Format, Path, Sha256 string
			Bytes                             int
		}
	}](t, r.Data["createSnapshot"])
	for _, c := range m.Columns {
		if c.AboutZh == "" || c.Anonymization == "" {
			t.Errorf("column %+v undocumented", c)
		}
	}
	formats := map[string]bool{}
	checked := 0
	for _, f := range m.Files {
		formats[f.Format] = true
		if f.Format != "xlsx" && f.Path != "" && !strings.HasSuffix(f.Path, "/case_classes.csv?bom=1") {
			continue
		}
		req, _ := http.NewRequest("GET", h.srv.URL+f.Path, nil)
		req.Header.Set("X-API-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		sum := sha256.Sum256(b)
		if res.StatusCode != http.StatusOK || hex.EncodeToString(sum[:]) != f.Sha256 || len(b) != f.Bytes {
			t.Errorf("GET %s: %d, %d bytes, manifest %+v", f.Path, res.StatusCode, len(b), f)
		}
		checked++
		if f.Format == "xlsx" {
			sheets := readWorkbook(t, b)
			if len(sheets["cases"]) < 2 || len(sheets["dictionary"]) < 2 || len(sheets["jurisdictions"]) < 2 {
				t.Errorf("workbook sheets: cases %d, dictionary %d, jurisdictions %d rows", len(sheets["cases"]), len(sheets["dictionary"]), len(sheets["jurisdictions"]))
			}
		} else if !strings.Contains(string(b), "0601") || !strings.Contains(string(b), "其他设施损坏") || !strings.HasPrefix(string(b), "\uFEFF") {
			t.Errorf("case_classes.csv?bom=1: %.80q", b)
		}
	}
	for _, f := range []string{"ndjson", "csv", "csv+bom", "xlsx", "parquet"} {
		if !formats[f] {
			t.Errorf("no %s file in the manifest", f)
		}
	}
	if checked != 2 {
		t.Errorf("checked %d files", checked)
	}
}

// TestIndicatorsWorkbookBounds: the workbook is built in memory, so a query
// that would fill it past MaxWorkbookRows is refused before anything is
// read (as the GraphQL cost limit refuses the same query), and the route is
// rate-limited like /query.
func TestIndicatorsWorkbookBounds(t *testing.T) {
	// A prefix of its own: the anonymous bucket must hold only this test.
	h := hubWith(t, func(c *config.Config) { c.RateAnonymous, c.RedisPrefix = "3/1m", c.RedisPrefix+"wbbounds:" })
	get := func(query string) (int, string) {
		res, err := http.Get(h.srv.URL + "/indicators.xlsx?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// Ten years of months by community and case class: about 432,000 rows.
	status, body := get("period=MONTH&from=2016-01-01&to=2026-01-01&groupBy=COMMUNITY,CASE_CLASS")
	if status != http.StatusBadRequest || !strings.Contains(body, `"maxRows"`) || !strings.Contains(body, "BAD_USER_INPUT") {
		t.Fatalf("oversized workbook: %d %s", status, body)
	}
	// A year by street fits.
	if status, body = get("period=MONTH&from=2025-01-01&to=2026-01-01&groupBy=STREET"); status != http.StatusOK {
		t.Fatalf("a year by street: %d %.300s", status, body)
	}
	// The anonymous bucket holds 3: the fourth request is refused.
	get("period=YEAR&from=2025-01-01&to=2026-01-01")
	if status, body = get("period=YEAR&from=2025-01-01&to=2026-01-01"); status != http.StatusTooManyRequests {
		t.Fatalf("fourth anonymous workbook in a minute: %d %.300s", status, body)
	}
}
