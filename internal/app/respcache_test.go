package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/graph/generated"
	"github.com/fengcheng/datahub/internal/app"
)

// lookups reads the response cache's counter of one result.
func lookups(t *testing.T, h *hub, result string) float64 {
	t.Helper()
	return max(0, metric(t, h, `datahub_response_cache_lookups_total{result="`+result+`"}`))
}

// doRaw posts a query with extra headers and returns the response's data,
// failing on errors.
func (h *hub) doRaw(token, query string, vars map[string]any, header http.Header) json.RawMessage {
	h.t.Helper()
	_, raw := h.post(token, query, vars, header)
	var out struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) > 0 {
		h.t.Fatalf("%s: %v", raw, err)
	}
	return out.Data
}

// TestResponseCache: a public aggregate query is answered from memory the
// second time, only to callers the policy treats alike; a change event,
// a request for a fresh answer and a query that also reads records all go
// to the database.
func TestResponseCache(t *testing.T) {
	h := newHub(t)
	h.app.Start() // the event broker: the cache serves only while it hears changes
	const q = `query($from: DateTime!, $to: DateTime!) {
		indicators(period: MONTH, from: $from, to: $to, groupBy: [COMMUNITY]) {
			periodStart community figure(name: "closure_rate") { value numerator denominator suppressed } } }`
	vars := map[string]any{"from": "2025-08-01T00:00:00+08:00", "to": "2025-10-01T00:00:00+08:00"}
	staff := h.token("urban-management", "officer")

	// The cache goes live once the broker reads the stream.
	first := h.doRaw(staff, q, vars, nil)
	deadline := time.Now().Add(10 * time.Second)
	for lookups(t, h, "hit") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the same query by the same caller was never answered from the cache")
		}
		time.Sleep(50 * time.Millisecond)
		h.doRaw(staff, q, vars, nil)
	}
	hits := lookups(t, h, "hit")
	if again := h.doRaw(staff, q, vars, nil); !bytes.Equal(again, first) || lookups(t, h, "hit") != hits+1 {
		t.Fatalf("a cached answer differs from the computed one, or was not served (hits %v → %v)", hits, lookups(t, h, "hit"))
	}

	// Another officer of the same department shares the entry (same
	// decisions); the public does not: it gets its own answer, with small
	// cells suppressed, where staff see every figure.
	colleague := h.token("urban-management", "officer")
	hits = lookups(t, h, "hit")
	if got := h.doRaw(colleague, q, vars, nil); !bytes.Equal(got, first) || lookups(t, h, "hit") != hits+1 {
		t.Fatal("a caller with the same decisions did not share the cached answer")
	}
	if strings.Contains(string(first), `"suppressed":true`) {
		t.Fatal("staff see suppressed cells: the test cannot tell the public's answer apart")
	}
	misses := lookups(t, h, "miss")
	public := h.doRaw("", q, vars, nil)
	if lookups(t, h, "miss") != misses+1 || !strings.Contains(string(public), `"suppressed":true`) {
		t.Fatal("the public was served the staff's cached answer")
	}

	// Cache-Control: no-cache computes afresh.
	bypass, hits := lookups(t, h, "bypass"), lookups(t, h, "hit")
	h.doRaw(staff, q, vars, http.Header{"Cache-Control": {"no-cache"}})
	if lookups(t, h, "bypass") != bypass+1 || lookups(t, h, "hit") != hits {
		t.Fatal("Cache-Control: no-cache was answered from the cache")
	}

	// A query that also reads records is never cached (reads are audited).
	total := lookups(t, h, "hit") + lookups(t, h, "miss") + lookups(t, h, "bypass")
	mixed := `query($from: DateTime!, $to: DateTime!) { indicators(period: MONTH, from: $from, to: $to) { periodStart }
		cases(first: 1) { edges { node { id } } } }`
	h.doRaw(staff, mixed, vars, nil)
	h.doRaw(staff, mixed, vars, nil)
	if lookups(t, h, "hit")+lookups(t, h, "miss")+lookups(t, h, "bypass") != total {
		t.Fatal("an operation reading cases went through the response cache")
	}

	// A change anywhere empties the cache on every instance: the next
	// request is computed again.
	r := h.do(staff, `mutation { reportCase(input: {kind: EVENT, minorCode: "0201", source: INSPECTOR_PATROL,
		description: "缓存测试", lat: 32.4931, lng: 119.9187}) { id } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("report: %+v", r.Errors)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		misses = lookups(t, h, "miss")
		h.doRaw(staff, q, vars, nil)
		if lookups(t, h, "miss") == misses+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("after a change the cached answer was still served")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCachedRootsAreNotAudited: the response cache skips the executor,
// and so the read audit; none of the fields it may answer can reach a
// dataset's records.
func TestCachedRootsAreNotAudited(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{}).Schema()
	disclosing := disclosingRootFields(schema)
	for _, root := range app.CachedRoots() {
		if schema.Query.Fields.ForName(root) == nil {
			t.Errorf("cached root %q is not a Query field", root)
		}
		if ds, ok := disclosing["Query."+root]; ok {
			t.Errorf("cached root %q reaches audited records of %v", root, ds)
		}
	}
	if !slices.Contains(app.CachedRoots(), "indicators") {
		t.Error("indicators are not cached")
	}
}
