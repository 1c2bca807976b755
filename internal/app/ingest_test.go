package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/auth"
)

// TestIngestOverHTTP: a department system posts a bulk file through the
// real server; re-sending it changes nothing; another department may not.
func TestIngestOverHTTP(t *testing.T) {
	h := newHub(t)
	keys := auth.NewAPIKeys(h.app.Pool)
	drone, _, err := keys.Create(context.Background(), auth.APIKeySpec{Name: "drone platform", Dept: "urban-management",
		Roles: []string{"system"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	water, _, err := keys.Create(context.Background(), auth.APIKeySpec{Name: "water system", Dept: "water",
		Roles: []string{"system"}, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	file := strings.Join([]string{
		`{"externalId":"drone-ing-1","kind":"EVENT","minorCode":"0302","source":"DRONE_PATROL","description":"无人机发现楼顶加建","lat":32.49,"lng":119.92}`,
		`{"externalId":"drone-ing-2","kind":"EVENT","minorCode":"0104","source":"DRONE_PATROL","description":"河道边倾倒建筑垃圾","lat":32.47,"lng":119.95}`,
		`{"externalId":"drone-ing-3","kind":"EVENT","minorCode":"9999","source":"DRONE_PATROL","description":"未知类别","lat":32.47,"lng":119.95}`,
	}, "\n") + "\n"
	post := func(key, mode string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", h.srv.URL+"/ingest/cases?mode="+mode, strings.NewReader(file))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
	if code, rep := post(drone, "all-or-nothing"); code != http.StatusUnprocessableEntity || rep["committed"] != false {
		t.Fatalf("all-or-nothing with a bad row: %d %v", code, rep)
	}
	code, rep := post(drone, "skip-invalid")
	if code != http.StatusOK || rep["inserted"] != 2.0 || rep["rejected"] != 1.0 {
		t.Fatalf("skip-invalid: %d %v", code, rep)
	}
	if errs, _ := rep["errors"].([]any); len(errs) != 1 || !strings.Contains(mustString(errs[0]), `"line":3`) {
		t.Fatalf("row errors: %v", rep["errors"])
	}
	if code, rep := post(drone, "skip-invalid"); code != http.StatusOK || rep["unchanged"] != 2.0 || rep["inserted"] != 0.0 || rep["updated"] != 0.0 {
		t.Fatalf("re-sent: %d %v", code, rep)
	}
	if code, _ := post(water, "skip-invalid"); code != http.StatusForbidden {
		t.Fatalf("water writing cases: %d", code)
	}
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
