package respcache

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// op builds the operation context of query (parsed, not validated: the
// middleware reads only the operation's shape).
func op(t *testing.T, query string, header http.Header) context.Context {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	oc := &graphql.OperationContext{RawQuery: query, Variables: map[string]any{"x": 1}, Doc: doc,
		Operation: doc.Operations[0], Headers: header}
	return graphql.WithOperationContext(context.Background(), oc)
}

// executor counts the operations it runs and answers data or errors.
type executor struct {
	runs int
	errs bool
}

func (e *executor) next(context.Context) graphql.ResponseHandler {
	e.runs++
	resp := &graphql.Response{Data: json.RawMessage(`{"indicators":[1]}`)}
	if e.errs {
		resp = &graphql.Response{Errors: gqlerror.List{{Message: "no"}}}
	}
	return once(resp)
}

func run(c *Cache, ctx context.Context, e *executor) *graphql.Response {
	return c.Middleware()(ctx, e.next)(ctx)
}

func newCache(t *testing.T, fp *string) *Cache {
	t.Helper()
	c, err := New(Config{Roots: []string{"indicators"}, Fingerprint: func(context.Context) ([]byte, error) { return []byte(*fp), nil }})
	if err != nil {
		t.Fatal(err)
	}
	c.Changed(true)
	return c
}

func TestMiddlewareServesKeepsAndForgets(t *testing.T) {
	fp := "officer"
	c := newCache(t, &fp)
	e := &executor{}
	q := `{ indicators { v } }`
	run(c, op(t, q, nil), e)
	if got := run(c, op(t, q, nil), e); e.runs != 1 || string(got.Data) != `{"indicators":[1]}` {
		t.Fatalf("second request ran the executor (%d runs) or got %s", e.runs, got.Data)
	}
	fp = "public" // another caller's decisions
	run(c, op(t, q, nil), e)
	if e.runs != 2 {
		t.Fatal("a caller with other decisions was served another's answer")
	}
	c.Changed(true) // a change event
	run(c, op(t, q, nil), e)
	if e.runs != 3 {
		t.Fatal("a change event did not empty the cache")
	}
	run(c, op(t, q, http.Header{"Cache-Control": {"max-age=0, no-cache"}}), e)
	if e.runs != 4 {
		t.Fatal("Cache-Control: no-cache was answered from the cache")
	}
	c.cfg.FreshHeaders = []string{"X-Datahub-LSN"}
	run(c, op(t, q, http.Header{"X-Datahub-Lsn": {"0/16B3748"}}), e)
	if e.runs != 5 {
		t.Fatal("a request carrying a read-your-writes position was answered from the cache")
	}
	c.Changed(false) // change events are no longer heard
	run(c, op(t, q, nil), e)
	if e.runs != 6 {
		t.Fatal("the cache served while deaf to change events")
	}
}

func TestMiddlewareLeavesOtherOperations(t *testing.T) {
	fp := "officer"
	c := newCache(t, &fp)
	for _, q := range []string{
		`{ indicators { v } cases { id } }`,                 // reads records too
		`mutation { indicators { v } }`,                     // not a query
		`{ indicators { v @include(if: true) } }`,           // directives
		`{ ...F } fragment F on Query { indicators { v } }`, // a fragment at the root
		`{ __typename }`,                                    // no cacheable root
	} {
		e := &executor{}
		run(c, op(t, q, nil), e)
		run(c, op(t, q, nil), e)
		if e.runs != 2 {
			t.Errorf("%s: answered from the cache", q)
		}
	}
	e := &executor{errs: true}
	run(c, op(t, `{ indicators { w } }`, nil), e)
	run(c, op(t, `{ indicators { w } }`, nil), e)
	if e.runs != 2 {
		t.Error("an answer with errors was kept")
	}
}

func TestAnswerComputedAcrossAChangeIsNotKept(t *testing.T) {
	fp := "officer"
	c := newCache(t, &fp)
	q := `{ indicators { v } }`
	runs := 0
	slow := func(context.Context) graphql.ResponseHandler {
		runs++
		c.Changed(true) // data changes while the answer is computed
		return once(&graphql.Response{Data: json.RawMessage(`{"indicators":[]}`)})
	}
	ctx := op(t, q, nil)
	c.Middleware()(ctx, slow)(ctx)
	ctx = op(t, q, nil)
	c.Middleware()(ctx, slow)(ctx)
	if runs != 2 {
		t.Fatal("an answer computed across a change was kept")
	}
}

// BenchmarkHit is the cost of a cached answer at the operation layer: the
// fingerprint, the key and the lookup.
func BenchmarkHit(b *testing.B) {
	fp := "officer"
	c, err := New(Config{Roots: []string{"indicators"}, Fingerprint: func(context.Context) ([]byte, error) { return []byte(fp), nil }})
	if err != nil {
		b.Fatal(err)
	}
	c.Changed(true)
	doc, _ := parser.ParseQuery(&ast.Source{Input: `{ indicators { v } }`})
	oc := &graphql.OperationContext{RawQuery: `{ indicators { v } }`, Variables: map[string]any{"from": "2025-01-01"},
		Doc: doc, Operation: doc.Operations[0]}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	e := &executor{}
	run(c, ctx, e)
	b.ReportAllocs()
	for b.Loop() {
		if run(c, ctx, e) == nil {
			b.Fatal("no answer")
		}
	}
	if e.runs != 1 {
		b.Fatalf("the executor ran %d times", e.runs)
	}
}
