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
