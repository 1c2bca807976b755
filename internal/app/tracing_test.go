package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// One query with a caller's traceparent through the real hub: the spans form
// the tree request → operation → resolver → SQL, in the caller's trace.
func TestTracingSpanTree(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	h := newHubEnv(t, nil, func(o *app.Options) { o.TracerProvider = tp })
	tok := h.token("urban-management", "officer", "dispatcher")

	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	spans, server := tracedQuery(t, h, rec, tok, traceID, spanID,
		`query Traced { cases(first: 2) { edges { node { id timeline { action } } } } }`)
	if server.Name() != "POST /query" {
		t.Errorf("server span named %q, want POST /query", server.Name())
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	find := func(name string) sdktrace.ReadOnlySpan {
		for _, s := range spans {
			if s.Name() == name {
				return s
			}
		}
		t.Fatalf("no span %q among %s", name, names(spans))
		return nil
	}
	op := find("query Traced")
	if op.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("operation span's parent is %q, want the server span", byID[op.Parent().SpanID()].Name())
	}
	resolver := find("Query.cases")
	if resolver.Parent().SpanID() != op.SpanContext().SpanID() {
		t.Fatalf("Query.cases's parent is %q, want the operation span", byID[resolver.Parent().SpanID()].Name())
	}

	// SQL spans (pgx) lie under the operation, directly (the fast path, an
	// audit flush) or through a resolver's span; at least one is under
	// Query.cases itself, which reads the page.
	underOp, underCases := 0, 0
	for _, s := range spans {
		if !isSQL(s) || s.SpanContext().TraceID().String() != traceID {
			continue
		}
		for p := s.Parent().SpanID(); p.IsValid(); p = byID[p].Parent().SpanID() {
			if p == resolver.SpanContext().SpanID() {
				underCases++
			}
			if p == op.SpanContext().SpanID() {
				underOp++
				break
			}
			if _, ok := byID[p]; !ok {
				break
			}
		}
	}
	if underOp == 0 || underCases == 0 {
		t.Fatalf("SQL spans under the operation: %d, under Query.cases: %d; spans: %s", underOp, underCases, names(spans))
	}
	// Every span is the request's, in the caller's trace: statements and
	// commands outside a request start none.
	for _, s := range spans {
		if s.SpanContext().TraceID().String() != traceID {
			t.Errorf("span %q in trace %s", s.Name(), s.SpanContext().TraceID())
		}
	}
}

// The fast path answers plain case lists without the executor: its SQL
// lies directly under the operation's span.
func TestTracingFastPath(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	h := newHubEnv(t, nil, func(o *app.Options) { o.TracerProvider = tp })
	tok := h.token("urban-management", "officer", "dispatcher")
	before := h.app.Resolver.FastPathServed()
	spans, _ := tracedQuery(t, h, rec, tok, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331",
		`query Fast { cases(first: 2) { edges { node { id caseNo status } } } }`)
	if h.app.Resolver.FastPathServed() == before {
		t.Fatal("the fast path did not serve the query")
	}
	var op sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "query Fast" {
			op = s
		}
	}
	if op == nil {
		t.Fatalf("no operation span among %s", names(spans))
	}
	for _, s := range spans {
		if isSQL(s) && s.Parent().SpanID() == op.SpanContext().SpanID() {
			return
		}
	}
	t.Fatalf("no SQL span directly under the operation: %s", names(spans))
}

// tracedQuery sends query with a traceparent naming traceID/spanID and
// returns the spans recorded once the server span has ended; it checks that
// the server span continues the caller's trace.
func tracedQuery(t *testing.T, h *hub, rec *tracetest.SpanRecorder, tok, traceID, spanID, query string) ([]sdktrace.ReadOnlySpan, sdktrace.ReadOnlySpan) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest("POST", h.srv.URL+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"edges"`) || strings.Contains(string(raw), `"errors"`) {
		t.Fatalf("query: %d %s", resp.StatusCode, raw)
	}
	// The server span ends just after the response is written.
	var spans []sdktrace.ReadOnlySpan
	var server sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(5 * time.Second); server == nil && time.Now().Before(deadline); {
		spans = rec.Ended()
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindServer {
				server = s
			}
		}
		if server == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if server == nil {
		t.Fatalf("no server span among %s", names(spans))
	}
	if got := server.SpanContext().TraceID().String(); got != traceID {
		t.Fatalf("server span in trace %s, want the caller's %s", got, traceID)
	}
	if got := server.Parent().SpanID().String(); got != spanID || !server.Parent().IsRemote() {
		t.Fatalf("server span's parent = %s (remote %v), want the caller's span %s", got, server.Parent().IsRemote(), spanID)
	}
	return spans, server
}

func isSQL(s sdktrace.ReadOnlySpan) bool {
	for _, a := range s.Attributes() {
		if a.Key == "db.system.name" && a.Value.AsString() == "postgresql" {
			return true
		}
	}
	return false
}

func names(spans []sdktrace.ReadOnlySpan) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name()+" "+s.SpanContext().SpanID().String()+"←"+s.Parent().SpanID().String())
	}
	return strings.Join(out, ", ")
}
