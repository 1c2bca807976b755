package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/fengcheng/datahub/internal/server"
)

// postExt posts a GraphQL request whose query may be empty (a hash only)
// and returns the status, data and first error code.
func postExt(t *testing.T, h *hub, header http.Header, query, hash string) (int, string, string) {
	t.Helper()
	body := map[string]any{}
	if query != "" {
		body["query"] = query
	}
	if hash != "" {
		body["extensions"] = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(b))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		Data   json.RawMessage
		Errors []struct{ Extensions map[string]any }
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	code := ""
	if len(out.Errors) > 0 {
		code, _ = out.Errors[0].Extensions["code"].(string)
	}
	return res.StatusCode, string(out.Data), code
}

// Automatic persisted queries: a hash the hub does not know asks for the
// query; once sent with it, every instance answers the hash alone.
func TestAutomaticPersistedQueries(t *testing.T) {
	a, b := newHub(t), newHub(t)
	staff := http.Header{"Authorization": {"Bearer " + a.token("urban-management", "officer")}}
	q := `query APQ { cases(first: 1) { totalCount } }`
	h := server.Hash(q)
	if _, _, code := postExt(t, a, staff, "", h); code != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("an unknown hash: code %q", code)
	}
	if _, data, code := postExt(t, a, staff, q, h); code != "" || data == "" || data == "null" {
		t.Fatalf("query with its hash: %s %q", data, code)
	}
	if _, data, code := postExt(t, b, staff, "", h); code != "" || !bytes.Contains([]byte(data), []byte("totalCount")) {
		t.Fatalf("the hash alone on another instance: %s %q", data, code)
	}
	if _, _, code := postExt(t, a, staff, q, server.Hash("something else")); code == "" {
		t.Fatal("a hash that does not match its query was accepted")
	}
}

// With PERSISTED_ONLY, anonymous callers and the citizen app run
// allow-listed operations only (by hash or by text); registering a query
// through APQ does not put it on the list; staff are not restricted.
func TestPersistedOperationsOnly(t *testing.T) {
	h := newHubEnv(t, map[string]string{"PERSISTED_ONLY": "anonymous,citizen-app"})
	ctx := context.Background()
	ops := server.NewPersistedOperations(h.app.Redis, h.cfg.RedisPrefix)
	listed := `query Listed { __typename }`
	other := `query NotListed { __typename }`
	if _, err := ops.Register(ctx, listed); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ops.Remove(ctx, server.Hash(listed)) })

	anonymous := http.Header{}
	citizen := http.Header{"X-Api-Key": {h.citizenApp()}, "X-Citizen-Id": {"cit-persisted"}}
	staff := http.Header{"Authorization": {"Bearer " + h.token("water", "viewer")}}
	for name, hdr := range map[string]http.Header{"anonymous": anonymous, "citizen app": citizen} {
		if _, _, code := postExt(t, h, hdr, other, ""); code != "PERSISTED_QUERY_NOT_ALLOWED" {
			t.Errorf("%s, a query off the list: code %q", name, code)
		}
		if _, _, code := postExt(t, h, hdr, other, server.Hash(other)); code != "PERSISTED_QUERY_NOT_ALLOWED" {
			t.Errorf("%s, a query off the list sent as APQ: code %q", name, code)
		}
		if _, data, code := postExt(t, h, hdr, "", server.Hash(listed)); code != "" || data != `{"__typename":"Query"}` {
			t.Errorf("%s, a listed hash: %s %q", name, data, code)
		}
		if _, data, code := postExt(t, h, hdr, listed, ""); code != "" || data != `{"__typename":"Query"}` {
			t.Errorf("%s, a listed query's text: %s %q", name, data, code)
		}
	}
	if _, data, code := postExt(t, h, staff, other, ""); code != "" || data != `{"__typename":"Query"}` {
		t.Errorf("staff are not restricted: %s %q", data, code)
	}
}
