package federation_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestGraphQLOverHTTPAudit runs graphql-http's server audit (every MUST,
// SHOULD and MAY of the GraphQL over HTTP spec it checks) against the hub:
// no error, no warning, no notice. The anonymous rate limit is off: the
// audit sends its requests in a burst.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	node := requireNode(t)
	h := startHubEnv(t, t.Context(), map[string]string{"RATE_LIMIT_ANONYMOUS": "off"})
	out, err := runNode(t.Context(), node, "audit.mjs", "--url", h.url)
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	var res struct {
		Audits int
		Failed []struct{ ID, Status, Name, Reason string }
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil {
		t.Fatalf("audit output: %v\n%s", err, out)
	}
	if res.Audits < 30 {
		t.Fatalf("only %d audits ran", res.Audits)
	}
	for _, f := range res.Failed {
		t.Errorf("%s %s: %s (%s)", f.Status, f.ID, f.Name, f.Reason)
	}
	t.Logf("%d audits, %d not ok", res.Audits, len(res.Failed))
}
