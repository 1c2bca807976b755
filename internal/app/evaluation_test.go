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
	"github.com/fengcheng/datahub/internal/seed"
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
	// The evaluation team is the demo organisation the seeder registers,
	// not one of the departments it evaluates.
	key, _, err := auth.NewAPIKeys(h.app.Pool).Create(context.Background(), auth.APIKeySpec{Name: "evaluation team", Org: seed.EvaluationOrg,
		Roles: []string{"evaluator"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	const create = `mutation { createSnapshot(filter: {jurisdiction: "hailing.chengzhong"}) { id rows ndjsonSha256 ndjsonPath csvPath
		organisation { code contractNo } kAnonymity { k generalized smallestGroup } } }`
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
		Organisation                 struct{ Code, ContractNo string }
		KAnonymity                   struct {
			K, SmallestGroup int
			Generalized      []string
		}
	}](t, r.Data["createSnapshot"])
	if m.Organisation.Code != seed.EvaluationOrg || m.KAnonymity.K != 5 || m.KAnonymity.SmallestGroup < 5 {
		t.Fatalf("manifest: organisation %+v, k-anonymity %+v", m.Organisation, m.KAnonymity)
	}
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
	// The audit trail names the organisation (as the reader's "dept") and
	// its contract (in the purpose) for the creation and each download.
	var records int
	if err := h.app.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE dept = $1 AND purpose LIKE $2`,
		"org:"+seed.EvaluationOrg, "%"+m.ID+"%"+m.Organisation.ContractNo+"%").Scan(&records); err != nil {
		t.Fatal(err)
	}
	if records < 3 {
		t.Fatalf("%d audit records name the organisation and the snapshot, want the creation and two downloads", records)
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

// TestIndicatorsComplementSuppression replays the red team's differencing
// attack over GraphQL on the seeded data: satisfaction by street (the seed
// has too few ratings per community) for all cases and for EVENT cases
// only. Wherever the anonymous public sees both,
// the ratings the kind filter removed (the complement) must be none or at
// least suppressBelow (5), so no few ratings can be had by subtraction; the
// cells where a department sees an attackable difference must be
// suppressed for the public; departments still see every figure; and only
// a public query with a narrowing filter reads the rollups twice.
func TestIndicatorsComplementSuppression(t *testing.T) {
	h := newHub(t)
	const q = `query($from: DateTime!, $to: DateTime!, $f: IndicatorFilter) {
		indicators(period: MONTH, from: $from, to: $to, groupBy: [STREET], filter: $f) { periodStart street
			s: figure(name: "satisfaction") { value numerator denominator suppressed }
			c: figure(name: "rating_coverage") { value numerator denominator suppressed } } }`
	type fig struct {
		Value                  *float64
		Numerator, Denominator int
		Suppressed             bool
	}
	type row struct {
		PeriodStart, Street string
		S, C                fig
	}
	ask := func(token string, f map[string]any) map[string]row {
		t.Helper()
		r := h.do(token, q, map[string]any{"from": "2025-07-01T00:00:00+08:00", "to": "2025-11-01T00:00:00+08:00", "f": f})
		if len(r.Errors) > 0 {
			t.Fatalf("indicators %v: %+v", f, r.Errors)
		}
		out := map[string]row{}
		for _, x := range decode[[]row](t, r.Data["indicators"]) {
			out[x.PeriodStart+"|"+x.Street] = x
		}
		return out
	}
	all := map[string]any{"jurisdiction": "hailing"}
	event := map[string]any{"jurisdiction": "hailing", "kind": "EVENT"}
	staff := h.token("urban-management", "officer")
	staffAll, staffEvent := ask(staff, all), ask(staff, event)
	pubAll, pubEvent := ask("", all), ask("", event)

	attackable := 0
	for k, e := range staffEvent {
		if e.S.Suppressed || e.C.Suppressed {
			t.Fatalf("staff: %s suppressed", k)
		}
		removed := staffAll[k].S.Denominator - e.S.Denominator
		if e.S.Denominator >= 5 && removed >= 1 && removed < 5 {
			// Before: the public saw both, and the difference gave away the
			// removed ratings.
			attackable++
			if !pubEvent[k].S.Suppressed {
				t.Errorf("%s: EVENT satisfaction %d/%d shown to the public, all %d/%d: %d ratings derivable",
					k, e.S.Numerator, e.S.Denominator, staffAll[k].S.Numerator, staffAll[k].S.Denominator, removed)
			}
		}
	}
	if attackable == 0 {
		t.Fatal("the seeded data has no street-month where EVENT keeps ≥ 5 ratings and drops 1–4: the test proves nothing")
	}
	for k, e := range pubEvent {
		u, ok := pubAll[k]
		if !ok {
			t.Fatalf("%s: no unfiltered row", k)
		}
		if !e.S.Suppressed && !u.S.Suppressed {
			if d := u.S.Denominator - e.S.Denominator; d > 0 && d < 5 {
				t.Errorf("%s: public sees satisfaction %d/%d and EVENT %d/%d: %d ratings derivable",
					k, u.S.Numerator, u.S.Denominator, e.S.Numerator, e.S.Denominator, d)
			}
		}
		// Rating coverage shows the rated count: never 1–4 to the public,
		// and suppressed whenever satisfaction is.
		for _, c := range []fig{e.C, u.C} {
			if !c.Suppressed && c.Numerator > 0 && c.Numerator < 5 {
				t.Errorf("%s: rating coverage %d/%d shows %d ratings", k, c.Numerator, c.Denominator, c.Numerator)
			}
		}
		if e.S.Suppressed && !e.C.Suppressed {
			t.Errorf("%s: EVENT satisfaction suppressed, rating coverage %d/%d shown", k, e.C.Numerator, e.C.Denominator)
		}
	}

	// The wide read: one more rollup query for a public caller with a
	// narrowing filter, none otherwise.
	rollupReads := func(token string, f map[string]any) int {
		t.Helper()
		h.stmts.reset()
		ask(token, f)
		return len(h.stmts.find("FROM case_rollup_"))
	}
	for _, c := range []struct {
		name  string
		token string
		f     map[string]any
		want  int
	}{{"staff, kind filter", staff, event, 1}, {"public, jurisdiction only", "", all, 1}, {"public, kind filter", "", event, 2}} {
		if got := rollupReads(c.token, c.f); got != c.want {
			t.Errorf("%s: %d rollup reads, want %d", c.name, got, c.want)
		}
	}
}

// TestIndicatorsPeriodDifferencing: a public caller asks the same
// communities by month, quarter and year and subtracts. Before complementary
// suppression across periods, a quarter less two shown months gave away the
// third month's suppressed count (and a year less its other quarters a
// quarter's). Now no parent-children sum of a figure has exactly one of its
// cells suppressed, so no suppressed figure is the difference of shown ones.
func TestIndicatorsPeriodDifferencing(t *testing.T) {
	h := newHub(t)
	// Figures whose numerator and denominator are sums over the months of
	// a period (flows): these are the ones subtraction gives away.
	names := []string{"registered", "dispatched", "satisfaction", "avg_handling_hours", "rating_coverage", "participation", "violations_found"}
	const q = `query($p: IndicatorPeriod!, $from: DateTime!, $to: DateTime!, $f: IndicatorFilter) {
		indicators(period: $p, from: $from, to: $to, groupBy: [COMMUNITY], filter: $f) { periodStart community
			figures { name value numerator denominator suppressed } } }`
	type fig struct {
		Name                   string
		Value                  *float64
		Numerator, Denominator int64
		Suppressed             bool
	}
	type row struct {
		PeriodStart, Community string
		Figures                []fig
	}
	// cells maps period start month ("2025-04") | community | figure.
	ask := func(token, period string, f map[string]any) map[string]fig {
		t.Helper()
		r := h.do(token, q, map[string]any{"p": period, "from": "2024-01-01T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00", "f": f})
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", period, r.Errors)
		}
		out := map[string]fig{}
		for _, x := range decode[[]row](t, r.Data["indicators"]) {
			for _, fg := range x.Figures {
				out[x.PeriodStart[:7]+"|"+x.Community+"|"+fg.Name] = fg
			}
		}
		return out
	}
	month := func(y, m int) string { return fmt.Sprintf("%04d-%02d", y, m) }
	cur := month(seedNow.Year(), int(seedNow.Month()))
	staff := h.token("urban-management", "officer")
	for _, filter := range []map[string]any{{"jurisdiction": "hailing"}, {"jurisdiction": "hailing", "kind": "EVENT"}} {
		pub := map[string]map[string]fig{}
		exact := map[string]map[string]fig{}
		for _, p := range []string{"MONTH", "QUARTER", "YEAR"} {
			pub[p], exact[p] = ask("", p, filter), ask(staff, p, filter)
		}
		communities := map[string]bool{}
		for k := range exact["MONTH"] {
			communities[strings.Split(k, "|")[1]] = true
		}
		// equations: parent (period, start) = Σ children (period, starts),
		// children limited to those reported (not after the current month).
		type node struct{ period, start string }
		type equation struct {
			parent   node
			children []node
		}
		var eqs []equation
		for y := 2024; y <= 2025; y++ {
			var quarters []node
			for qm := 1; qm <= 12; qm += 3 {
				var months []node
				for m := qm; m < qm+3; m++ {
					if month(y, m) <= cur {
						months = append(months, node{"MONTH", month(y, m)})
					}
				}
				if len(months) > 0 {
					quarters = append(quarters, node{"QUARTER", month(y, qm)})
					eqs = append(eqs, equation{node{"QUARTER", month(y, qm)}, months})
				}
			}
			eqs = append(eqs, equation{node{"YEAR", month(y, 1)}, quarters})
		}
		suppressed, derivable := 0, 0
		for c := range communities {
			for _, name := range names {
				for _, e := range eqs {
					cells := append([]node{e.parent}, e.children...)
					var hidden []int
					for i, n := range cells {
						if pub[n.period][n.start+"|"+c+"|"+name].Suppressed {
							hidden = append(hidden, i)
						}
					}
					suppressed += len(hidden)
					if len(hidden) != 1 {
						continue
					}
					// Derive the one hidden cell from the others (a missing
					// row is a known zero).
					sign := func(i int) int64 {
						if i == 0 {
							return 1
						}
						return -1
					}
					var num, den int64
					for i, n := range cells {
						if i == hidden[0] {
							continue
						}
						f := pub[n.period][n.start+"|"+c+"|"+name]
						num += sign(i) * f.Numerator
						den += sign(i) * f.Denominator
					}
					if hidden[0] == 0 {
						num, den = -num, -den
					}
					n := cells[hidden[0]]
					want := exact[n.period][n.start+"|"+c+"|"+name]
					// The due-based and stock figures are not plain sums;
					// the ones listed are, so the derivation is exact.
					if num == want.Numerator && den == want.Denominator {
						derivable++
						t.Errorf("%v %s %s %s: suppressed, but %s − the others gives %d/%d exactly",
							filter, c, n.period, n.start, e.parent.period, num, den)
					}
				}
			}
		}
		if suppressed == 0 {
			t.Fatalf("%v: no suppressed cells in the seeded data: the test proves nothing", filter)
		}
		t.Logf("%v: %d suppressed cells in equations, %d derivable", filter, suppressed, derivable)
	}
}
