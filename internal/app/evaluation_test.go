package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

func TestIndicatorsOverHTTP(t *testing.T) {
	h := newHub(t)
	const q = `query($from: DateTime!, $to: DateTime!, $by: [IndicatorDimension!]) {
		indicators(period: MONTH, from: $from, to: $to, groupBy: $by) {
			periodStart street community figure(name: "closure_rate") { value numerator denominator formula suppressed } } }`
	vars := map[string]any{"from": "2025-07-01T00:00:00+08:00", "to": "2025-10-01T00:00:00+08:00", "by": []string{"STREET"}}
	r := h.do(h.token("urban-management", "officer"), q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("staff: %+v", r.Errors)
	}
	rows := decode[[]struct {
		Street string
		Figure struct {
			Value                  *float64
			Numerator, Denominator *int
			Formula                string
		}
	}](t, r.Data["indicators"])
	if len(rows) < 9*3 {
		t.Fatalf("%d rows for 3 months × 9 streets", len(rows))
	}
	for _, row := range rows {
		f := row.Figure
		if f.Denominator == nil || *f.Denominator == 0 || f.Value == nil || f.Formula == "" {
			t.Fatalf("street %s: %+v", row.Street, f)
		}
		if got := float64(*f.Numerator) / float64(*f.Denominator); fmt.Sprintf("%.6f", got) != fmt.Sprintf("%.6f", *f.Value) {
			t.Fatalf("value %v ≠ %d/%d", *f.Value, *f.Numerator, *f.Denominator)
		}
	}
	// The public sees small cells suppressed: by community, some cells are.
	vars["by"] = []string{"COMMUNITY"}
	r = h.do("", q, vars)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data["indicators"]), `"suppressed":true`) {
		t.Fatalf("anonymous by community: %d bytes, %+v", len(r.Data["indicators"]), r.Errors)
	}
	if strings.Contains(string(r.Data["indicators"]), `"suppressed":true,"value":`) {
		t.Fatal("a suppressed cell shows a value")
	}
}

// TestSnapshotExport: an evaluation team freezes an anonymized dataset and
// downloads it; the bytes match the manifest, a resumed download gives the
// same bytes, and no personal value from the live data appears.
func TestSnapshotExport(t *testing.T) {
	h := newHub(t)
	key, _, err := auth.NewAPIKeys(h.app.Pool).Create(context.Background(), auth.APIKeySpec{Name: "evaluation team", Dept: "urban-management",
		Roles: []string{"evaluator"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const create = `mutation { createSnapshot(filter: {jurisdiction: "hailing.chengzhong"}) { id rows ndjsonSha256 ndjsonPath csvPath } }`
	if r := h.do(h.token("housing", "admin"), create, nil); r.code(0) != "FORBIDDEN" {
		t.Fatalf("staff creating a snapshot: %+v", r.Errors)
	}
	r := h.asCitizen(key, "", create, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("evaluator: %+v", r.Errors)
	}
	m := decode[struct {
		ID, NdjsonSha256, NdjsonPath string
		Rows                         int
	}](t, r.Data["createSnapshot"])
	get := func(rangeHeader string) []byte {
		req, _ := http.NewRequest("GET", h.srv.URL+m.NdjsonPath, nil)
		req.Header.Set("X-API-Key", key)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("GET %s: %d", m.NdjsonPath, resp.StatusCode)
		}
		b, _ := io.ReadAll(resp.Body)
		return b
	}
	full := get("")
	sum := sha256.Sum256(full)
	if hex.EncodeToString(sum[:]) != m.NdjsonSha256 || strings.Count(string(full), "\n") != m.Rows || m.Rows == 0 {
		t.Fatalf("download: %d bytes, %d lines, manifest %d rows %s", len(full), strings.Count(string(full), "\n"), m.Rows, m.NdjsonSha256)
	}
	cut := len(full) / 3
	if resumed := append(append([]byte{}, full[:cut]...), get(fmt.Sprintf("bytes=%d-", cut))...); string(resumed) != string(full) {
		t.Fatal("a resumed download differs from the full one")
	}
	// No reporter phone or name of the street's live cases is in it.
	rows, err := h.app.Pool.Query(context.Background(), `SELECT reporter_phone, coalesce(reporter_name, '') FROM cases
		WHERE street_code = 'hailing.chengzhong' AND reporter_phone IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for rows.Next() {
		var phone, name string
		if err := rows.Scan(&phone, &name); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(full), phone) || (len([]rune(name)) > 1 && strings.Contains(string(full), name)) {
			t.Fatalf("personal data %s/%s in the snapshot", phone, name)
		}
		checked++
	}
	rows.Close()
	// A mobile number standing on its own (not inside a hex pseudonym).
	phoneLike := regexp.MustCompile(`(^|[^0-9A-Za-z])1[3-9]\d{9}([^0-9A-Za-z]|$)`)
	if checked == 0 || phoneLike.Match(full) {
		t.Fatalf("checked %d reporters; phone-like numbers in the export: %s", checked, phoneLike.Find(full))
	}
	// The command centre's admin may check the snapshot; an officer may not.
	if r := h.do(h.token("urban-management", "admin"), `query($id: ID!) { snapshot(id: $id) { rows } }`, map[string]any{"id": m.ID}); len(r.Errors) > 0 {
		t.Fatalf("admin reading the manifest: %+v", r.Errors)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+m.NdjsonPath, nil)
	req.Header.Set("Authorization", "Bearer "+h.token("urban-management", "officer"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("staff download: %d", resp.StatusCode)
	}
}
