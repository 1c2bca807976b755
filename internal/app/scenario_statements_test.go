package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/loadbench"
)

// TestScenarioStatements pins the SQL statements each load-benchmark read
// (S1–S4)
// costs (audit writes, which are batched off the request path, left out):
// one page is one statement per list, however many rows and nested
// objects it holds.
func TestScenarioStatements(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var violation, street string
	if err := h.app.Pool.QueryRow(ctx, `SELECT id::text FROM violations WHERE property_id IS NOT NULL OR case_id IS NOT NULL
		ORDER BY (property_id IS NOT NULL) DESC, id LIMIT 1`).Scan(&violation); err != nil {
		t.Fatal(err)
	}
	if err := h.app.Pool.QueryRow(ctx, `SELECT jurisdiction_code FROM departments WHERE kind = 'STREET' ORDER BY code LIMIT 1`).Scan(&street); err != nil {
		t.Fatal(err)
	}
	officer, err := auth.MintDev(h.cfg.DevSecret(), auth.DevClaims{Subject: "officer", Dept: "urban-management",
		Roles: []string{"street-officer"}, Jurisdiction: street}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token string
		query string
		vars  map[string]any
		max   int
	}{
		{"S1", officer, loadbench.QueryS1, map[string]any{"street": street}, 1},
		{"S2", h.token("planning", "viewer"), loadbench.QueryS2, map[string]any{"id": violation}, 4},
		{"S3", h.token("urban-management", "officer", "dispatcher"), loadbench.QueryS3, map[string]any{"street": street}, 3},
		{"S4", h.token("traffic-police", "viewer"), loadbench.QueryS4,
			map[string]any{"lat": 32.49, "lng": 119.92, "at": seedNow.Add(-4 * time.Hour).Format(time.RFC3339)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do(tc.token, tc.query, tc.vars) // the in-memory directory is warm
			h.stmts.reset()
			r := h.do(tc.token, tc.query, tc.vars)
			if len(r.Errors) > 0 {
				t.Fatalf("%+v", r.Errors)
			}
			for _, v := range r.Data {
				if strings.Count(string(v), "{") < 3 {
					t.Fatalf("%s returned next to nothing (%s): the count would prove little", tc.name, v)
				}
			}
			got := h.stmts.countReads()
			t.Logf("%s: %d statements", tc.name, got)
			for _, s := range h.stmts.stmts {
				t.Logf("  %.120s", s.SQL)
			}
			if got > tc.max {
				t.Errorf("%s ran %d statements, want at most %d", tc.name, got, tc.max)
			}
			// S3's nested totalCounts sum the maintained per-compound
			// groups instead of counting every case and violation.
			if tc.name == "S3" && (len(h.stmts.find("case_property_counts")) != 1 || len(h.stmts.find("violation_property_counts")) != 1) {
				t.Errorf("S3's nested counts do not read the maintained counts")
			}
		})
	}
}
