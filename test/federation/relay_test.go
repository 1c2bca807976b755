package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/fengcheng/datahub/graph"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// federationDirectives are the definitions of the Federation v2 directives
// a subgraph's SDL may import through @link without declaring them (a
// gateway knows them; a client compiler does not). Field sets are strings.
var federationDirectives = map[string]string{
	"key":              `directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE`,
	"shareable":        `directive @shareable repeatable on OBJECT | FIELD_DEFINITION`,
	"external":         `directive @external(reason: String) on OBJECT | FIELD_DEFINITION`,
	"requires":         `directive @requires(fields: String!) on FIELD_DEFINITION`,
	"provides":         `directive @provides(fields: String!) on FIELD_DEFINITION`,
	"override":         `directive @override(from: String!, label: String) on FIELD_DEFINITION`,
	"interfaceObject":  `directive @interfaceObject on OBJECT`,
	"composeDirective": `directive @composeDirective(name: String!) repeatable on SCHEMA`,
	"tag":              `directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION`,
	"inaccessible":     `directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION`,
}

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
	if err := os.WriteFile(filepath.Join(dir, "schema.graphql"), []byte(relaySDL(t, servedSDL(t))), 0o644); err != nil {
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

// relaySDL makes the served subgraph SDL readable by relay-compiler, which
// knows neither schema extensions nor the Federation directives: the
// `extend schema @link(...)` goes, the directives it imports are declared,
// and the type extensions (extend type Query …) are merged into their
// types, as a client's schema file has them.
func relaySDL(t *testing.T, doc *ast.SchemaDocument) string {
	t.Helper()
	var decls []string
	for _, ext := range doc.SchemaExtension {
		if len(ext.OperationTypes) > 0 {
			t.Fatalf("the SDL extends the schema's root types: %+v", ext.OperationTypes)
		}
		for _, d := range ext.Directives {
			if d.Name != "link" {
				t.Fatalf("the SDL's schema extension carries @%s; only @link is expected", d.Name)
			}
			imports := d.Arguments.ForName("import")
			if imports == nil || imports.Value == nil {
				continue
			}
			for _, c := range imports.Value.Children {
				name := strings.TrimPrefix(c.Value.Raw, "@")
				def, ok := federationDirectives[name]
				if !ok {
					t.Fatalf("the SDL imports @%s from %s: add its definition to federationDirectives", name, d.Arguments.ForName("url").Value.Raw)
				}
				decls = append(decls, def)
			}
		}
	}
	doc.SchemaExtension = nil
	slices.Sort(decls)
	decls = slices.Compact(decls)

	var buf bytes.Buffer
	formatter.NewFormatter(&buf).FormatSchemaDocument(doc)
	schema, gerr := gqlparser.LoadSchema(
		&ast.Source{Name: "federation.graphql", Input: strings.Join(decls, "\n") + "\n"},
		&ast.Source{Name: "hub.graphql", Input: buf.String()},
	)
	if gerr != nil {
		t.Fatalf("the served SDL with the Federation directives declared does not load: %v", gerr)
	}
	buf.Reset()
	formatter.NewFormatter(&buf).FormatSchema(schema)
	return buf.String()
}

// servedSDL is the SDL the hub serves at { _service { sdl } } (what
// `datahub schema print` prints), from an in-process executor.
func servedSDL(t *testing.T) *ast.SchemaDocument {
	t.Helper()
	srv := handler.New(app.NewSchema(&graph.Resolver{}))
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	req := httptest.NewRequest("POST", "/query", strings.NewReader(`{"query":"{ _service { sdl } }"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var body struct {
		Data struct {
			Service struct{ SDL string } `json:"_service"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Data.Service.SDL == "" {
		t.Fatalf("_service sdl: %v: %s", err, rec.Body.String())
	}
	doc, err := parser.ParseSchema(&ast.Source{Name: "_service", Input: body.Data.Service.SDL})
	if err != nil {
		t.Fatalf("parse the served SDL: %v", err)
	}
	return doc
}
