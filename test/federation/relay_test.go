package federation_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
)

// relayArtifacts are the files relay-compiler must generate for the
// fixture project (relay/src): the fragments, the queries, and the two
// queries @refetchable makes (the pagination query over Query and the
// node(id:) query over Case).
var relayArtifacts = []string{
	"CaseList_query.graphql.js",
	"CaseListPaginationQuery.graphql.js",
	"CaseDetail_case.graphql.js",
	"CaseDetailRefetchQuery.graphql.js",
	"CasePageQuery.graphql.js",
}

// TestRelayCompilerCompilesAgainstTheSchema runs the Relay compiler (pinned
// in package.json) over a small client project against the hub's SDL as it
// is served: a case list paged with @connection and refetched with
// @refetchable (which needs the standard Relay PageInfo), and a Case
// fragment refetched on its own (which needs Node and Query.node). Relay
// clients get a compile error where the schema breaks their conventions,
// so this is where the hub finds out first.
func TestRelayCompilerCompilesAgainstTheSchema(t *testing.T) {
	node := requireNode(t)
	compiler, err := filepath.Abs(filepath.Join("node_modules", "relay-compiler", "cli.js"))
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	generated := filepath.Join(src, "__generated__")
	if err := os.MkdirAll(generated, 0o755); err != nil {
		t.Fatal(err)
	}
	fixtures, err := filepath.Glob(filepath.Join("relay", "src", "*.js"))
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixture sources in relay/src (%v)", err)
	}
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The schema file a Relay project keeps: `datahub schema print --client`.
	client, err := app.ClientSDL(servedSDL(t))
	if err != nil {
		t.Fatalf("client schema: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.graphql"), []byte(client), 0o644); err != nil {
		t.Fatal(err)
	}
	config, err := json.Marshal(map[string]any{
		"src":               "./src",
		"schema":            "./schema.graphql",
		"language":          "javascript",
		"artifactDirectory": "./src/__generated__",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "relay.config.json"), config, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, compiler, "--noWatchman", "relay.config.json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("relay-compiler failed (%v):\n%s", err, out)
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		t.Logf("relay-compiler:\n%s", msg)
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(generated, name))
		if err != nil {
			t.Fatalf("relay-compiler did not generate %s: %v\n%s", name, err, out)
		}
		return string(b)
	}
	for _, name := range relayArtifacts {
		read(name)
	}
	// The refetch query of the Case fragment goes through Query.node, the
	// pagination query through cases(first:, after:) with Relay's PageInfo.
	if q := read("CaseDetailRefetchQuery.graphql.js"); !strings.Contains(q, "node(id: $id)") {
		t.Errorf("CaseDetailRefetchQuery does not refetch through node(id:):\n%s", q)
	}
	if q := read("CaseListPaginationQuery.graphql.js"); !strings.Contains(q, "cases(first: $count, after: $cursor)") ||
		!strings.Contains(q, "hasNextPage") || !strings.Contains(q, "endCursor") {
		t.Errorf("CaseListPaginationQuery does not page cases forward:\n%s", q)
	}
}

// servedSDL is the SDL the hub serves at { _service { sdl } }.
func servedSDL(t *testing.T) string {
	t.Helper()
	sdl, err := app.ServedSDL()
	if err != nil {
		t.Fatal(err)
	}
	return sdl
}
