package app_test

import (
	"strings"
	"testing"
	"time"
)

// TestPublishIndicatorsOverGraphQL: the bureau's admin publishes last
// month, a correction needs a reason, the history lists both versions, and
// the public reads the frozen figures with small cells suppressed while
// departments read them exact.
func TestPublishIndicatorsOverGraphQL(t *testing.T) {
	h := newHub(t)
	admin := h.token("urban-management", "admin")
	lastMonth := seedNow.AddDate(0, -1, 0).Format(time.RFC3339)
	vars := map[string]any{"at": lastMonth}
	const publish = `mutation($at: DateTime!, $why: String) {
		publishIndicators(period: MONTH, at: $at, reason: $why) { version reason publishedDept checksum periodStart periodEnd } }`
	if r := h.do(h.token("urban-management", "officer"), publish, vars); r.code(0) != "FORBIDDEN" {
		t.Fatalf("an officer publishing: %+v", r.Errors)
	}
	if r := h.do(admin, publish, map[string]any{"at": seedNow.Format(time.RFC3339)}); r.code(0) != "BAD_USER_INPUT" {
		t.Fatalf("publishing the current month: %+v", r.Errors)
	}
	r := h.do(admin, publish, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("publish: %+v", r.Errors)
	}
	first := decode[struct {
		Version       int
		PublishedDept string
		Checksum      string
	}](t, r.Data["publishIndicators"])
	if first.PublishedDept != "urban-management" || len(first.Checksum) != 64 {
		t.Fatalf("publication: %+v", first)
	}
	if r := h.do(admin, publish, vars); r.code(0) != "BAD_USER_INPUT" {
		t.Fatalf("a correction without a reason: %+v", r.Errors)
	}
	if r := h.do(admin, publish, map[string]any{"at": lastMonth, "why": "补录评价"}); len(r.Errors) > 0 {
		t.Fatalf("correction: %+v", r.Errors)
	}
	r = h.do("", `query($at: DateTime!) { indicatorPublications(period: MONTH, at: $at) { version reason } }`, vars)
	hist := decode[[]struct {
		Version int
		Reason  string
	}](t, r.Data["indicatorPublications"])
	if len(hist) < 2 || hist[0].Version != hist[1].Version+1 || hist[0].Reason != "补录评价" || hist[len(hist)-1].Version != 1 {
		t.Fatalf("history: %+v %+v", hist, r.Errors)
	}
	const rows = `query($at: DateTime!) { publishedIndicators(period: MONTH, at: $at) {
		version rows(groupBy: COMMUNITY) { community figures { name value suppressed } } } }`
	pub := h.do("", rows, vars)
	staff := h.do(admin, rows, vars)
	if len(pub.Errors)+len(staff.Errors) > 0 {
		t.Fatalf("published rows: %+v %+v", pub.Errors, staff.Errors)
	}
	if !strings.Contains(string(pub.Data["publishedIndicators"]), `"suppressed":true`) {
		t.Fatal("no community cell is suppressed for the public")
	}
	if strings.Contains(string(staff.Data["publishedIndicators"]), `"suppressed":true`) {
		t.Fatal("a department reads suppressed cells")
	}
}
