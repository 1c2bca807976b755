package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// mockServer is a gqlgen server with one transport over a two-field
// schema: name answers data with characters encoding/json escapes, broken
// answers data, an error and extensions.
func mockServer(tr graphql.Transport) *handler.Server {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `type Query { name: String! broken: String }`})
	srv := handler.New(&graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return schema },
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			if strings.Contains(graphql.GetOperationContext(ctx).RawQuery, "broken") {
				return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"broken":null}`),
					Errors:     gqlerror.List{{Message: "no <such> thing", Path: ast.Path{ast.PathName("broken")}}},
					Extensions: map[string]any{"cost": 3}})
			}
			return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"name":"<b>Tom & Jerry</b> 城管"}`)})
		},
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) { return 1, true },
	})
	srv.AddTransport(tr)
	return srv
}

// TestRawPOSTAnswersAsGqlgen: the raw transport's answers equal gqlgen's
// POST transport's — status, media type and JSON — for answers and for
// every kind of refusal, whatever the client accepts.
func TestRawPOSTAnswersAsGqlgen(t *testing.T) {
	raw, std := mockServer(rawPOST{}), mockServer(transport.POST{})
	bodies := map[string]string{
		"data":           `{"query":"{ name }"}`,
		"errors":         `{"query":"query Q { broken }","operationName":"Q"}`,
		"not json":       `{"query": "{ name }"`,
		"no query":       `{}`,
		"parse error":    `{"query":"{ name "}`,
		"invalid":        `{"query":"{ nope }"}`,
		"bad variables":  `{"query":"query($n: Int!) { name }","variables":{"n":"x"}}`,
		"unknown op":     `{"query":"query A { name }","operationName":"B"}`,
		"trailing bytes": `{"query":"{ name }"} trailing`,
	}
	accepts := []string{"", "application/json", "application/graphql-response+json", "*/*",
		"application/graphql-response+json, application/json;q=0.9", "text/html"}
	for name, body := range bodies {
		for _, accept := range accepts {
			do := func(h http.Handler) *httptest.ResponseRecorder {
				r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				if accept != "" {
					r.Header.Set("Accept", accept)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w
			}
			got, want := do(raw), do(std)
			if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Errorf("%s, Accept %q: %d %s, gqlgen %d %s", name, accept, got.Code, got.Header().Get("Content-Type"),
					want.Code, want.Header().Get("Content-Type"))
			}
			var g, w any
			if err := json.Unmarshal(got.Body.Bytes(), &g); err != nil {
				t.Fatalf("%s: not JSON: %s", name, got.Body)
			}
			_ = json.Unmarshal(want.Body.Bytes(), &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s, Accept %q:\n got  %s\n want %s", name, accept, got.Body, want.Body)
			}
		}
	}
}

// BenchmarkWriteResponse compares writing a 50-case page's answer as it is
// with gqlgen's encoding/json pass over it.
func BenchmarkWriteResponse(b *testing.B) {
	var data strings.Builder
	data.WriteString(`{"cases":{"edges":[`)
	for i := range 50 {
		if i > 0 {
			data.WriteByte(',')
		}
		data.WriteString(`{"node":{"id":"0193a1b2-0000-7000-8000-000000000000","caseNo":"HL20251120000123","status":"DISPATCHED",` +
			`"className":"暴露垃圾","deadline":"2025-11-21T08:00:00+08:00","overdue":false,"address":"海陵区凤城河路 12 号",` +
			`"jurisdiction":{"name":"城东街道"},"handlingDept":{"code":"environment","name":"生态环境局"},` +
			`"reporter":{"name":"张*","phone":"138****5678"}}}`)
	}
	data.WriteString(`]}}`)
	resp := &graphql.Response{Data: json.RawMessage(data.String())}
	b.Run("as-is", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeResponse(io.Discard, resp)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := json.Marshal(resp)
			_, _ = io.Discard.Write(out)
		}
	})
}
