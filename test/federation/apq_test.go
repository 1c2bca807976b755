package federation_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestApolloPersistedQueryLink drives Apollo Client's real persisted-query
// link (pinned in package.json) against the hub: hash first, the text once
// after PersistedQueryNotFound, then the hash alone.
func TestApolloPersistedQueryLink(t *testing.T) {
	node := requireNode(t)
	h := startHubEnv(t, t.Context(), map[string]string{"REDIS_PREFIX": env.RedisPrefix + "apq:"})
	out, err := runNode(t.Context(), node, "apq.mjs", "--url", h.url)
	if err != nil {
		t.Fatalf("apq.mjs: %v\n%s", err, out)
	}
	type request struct{ HasQuery, HasHash bool }
	var res struct {
		OK                            bool
		Error                         string
		FirstRequests, SecondRequests []request
		Classes                       int
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil || !res.OK {
		t.Fatalf("apq.mjs failed (%v): %s\n%s", err, res.Error, out)
	}
	if len(res.FirstRequests) != 2 || res.FirstRequests[0].HasQuery || !res.FirstRequests[0].HasHash ||
		!res.FirstRequests[1].HasQuery || !res.FirstRequests[1].HasHash {
		t.Errorf("first run sent %+v, want the hash alone, then hash and text", res.FirstRequests)
	}
	if len(res.SecondRequests) != 1 || res.SecondRequests[0].HasQuery || !res.SecondRequests[0].HasHash {
		t.Errorf("second run sent %+v, want the hash alone", res.SecondRequests)
	}
}

// TestApolloClientAsTheReadmeSetsItUp runs Apollo Client configured as the
// README shows (persisted queries, bearer token, keyFields, Relay-style
// pagination) against the hub: two pages of cases merge into one cached
// list without repeats, node(id:) answers the same normalised Case, and a
// type without id is cached under its key fields.
func TestApolloClientAsTheReadmeSetsItUp(t *testing.T) {
	node := requireNode(t)
	h := startHubEnv(t, t.Context(), map[string]string{"REDIS_PREFIX": env.RedisPrefix + "apollo:"})
	out, err := runNode(t.Context(), node, "apollo-cache.mjs", "--url", h.url, "--token", h.token(t, "urban-management", "viewer"))
	if err != nil {
		t.Fatalf("apollo-cache.mjs: %v\n%s", err, out)
	}
	var res struct {
		OK                  bool
		Error               string
		FirstIDs, MergedIDs []string
		MergedHasNext       bool
		NodeID, CacheKey    string
		Normalised          bool
		ClassKey            string
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil || !res.OK {
		t.Fatalf("apollo-cache.mjs failed (%v): %s\n%s", err, res.Error, out)
	}
	seen := map[string]bool{}
	for _, id := range res.MergedIDs {
		if seen[id] {
			t.Errorf("merged list repeats %s: %v", id, res.MergedIDs)
		}
		seen[id] = true
	}
	if len(res.FirstIDs) != 2 || len(res.MergedIDs) != 4 || res.MergedIDs[0] != res.FirstIDs[0] || res.MergedIDs[1] != res.FirstIDs[1] || !res.MergedHasNext {
		t.Errorf("pages: first %v, merged %v (more: %v); want two pages of two merged in order", res.FirstIDs, res.MergedIDs, res.MergedHasNext)
	}
	if res.NodeID != res.MergedIDs[0] || res.CacheKey != "Case:"+res.NodeID || !res.Normalised {
		t.Errorf("node(id:) %q, cache key %q (normalised: %v)", res.NodeID, res.CacheKey, res.Normalised)
	}
	if !strings.HasPrefix(res.ClassKey, "CaseClass:{") {
		t.Errorf("CaseClass cache key %q, want one from its key fields", res.ClassKey)
	}
}
