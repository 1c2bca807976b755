package telemetry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/telemetry"
	"github.com/fengcheng/datahub/internal/testenv"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

func recorder(t *testing.T) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestSetupIsOffByDefault(t *testing.T) {
	for _, e := range []map[string]string{
		{},
		{"OTEL_TRACES_EXPORTER": "none"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"},
	} {
		tp, err := telemetry.Setup(t.Context(), envOf(e))
		if err != nil || tp != nil {
			t.Errorf("%v: provider %v, err %v; want none", e, tp, err)
		}
	}
}

func TestSetupRefusesWhatItCannotExport(t *testing.T) {
	for _, e := range []map[string]string{
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
	} {
		if tp, err := telemetry.Setup(t.Context(), envOf(e)); err == nil {
			_ = tp.Shutdown(t.Context())
			t.Errorf("%v: accepted", e)
		}
	}
}

func TestSetupOTLP(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	tp, err := telemetry.Setup(t.Context(), envOf(map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}))
	if err != nil || tp == nil {
		t.Fatalf("provider %v, err %v", tp, err)
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := telemetry.Resource(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.Set().Value("service.name"); v.AsString() != "datahub" {
		t.Errorf("service.name = %q, want datahub", v.AsString())
	}
	t.Setenv("OTEL_SERVICE_NAME", "hub-east")
	if res, err = telemetry.Resource(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := res.Set().Value("service.name"); v.AsString() != "hub-east" {
		t.Errorf("service.name = %q, want OTEL_SERVICE_NAME's hub-east", v.AsString())
	}
}

// The exporter follows OTEL_EXPORTER_OTLP_ENDPOINT: spans reach a collector
// there as OTLP/HTTP protobuf, at the latest when the provider shuts down.
func TestSetupExportsToTheConfiguredEndpoint(t *testing.T) {
	got := make(chan *http.Request, 10)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	tp, err := telemetry.Setup(t.Context(), envOf(map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "exported")
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
	default:
		t.Fatal("no spans reached the collector")
	}
}

func TestHTTPContinuesTheCallersTrace(t *testing.T) {
	rec, tp := recorder(t)
	mux := http.NewServeMux()
	var inner trace.SpanContext
	mux.Handle("POST /query", telemetry.HTTP(tp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	})))
	req := httptest.NewRequest("POST", "/query", strings.NewReader("{}"))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	mux.ServeHTTP(httptest.NewRecorder(), req)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "POST /query" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span in trace %s under %s, want the caller's", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Error("the handler does not run in the server span")
	}

	// A WebSocket lives for hours: no span.
	req = httptest.NewRequest("POST", "/query", nil)
	req.Header.Set("Upgrade", "websocket")
	mux.ServeHTTP(httptest.NewRecorder(), req)
	if n := len(rec.Ended()); n != 1 {
		t.Errorf("a WebSocket upgrade made a span (%d spans)", n)
	}
}

func TestPostgresSpansOnlyUnderARequest(t *testing.T) {
	testenv.SkipShort(t)
	rec, tp := recorder(t)
	var count postgres.StatementCounter
	pool, err := postgres.Open(t.Context(), postgres.PoolConfig{URL: env.DatabaseURL, MaxConns: 2,
		Statements: &count, Spans: telemetry.Postgres(tp)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var one int
	var echoed string
	// Background work (no span in its context) records nothing.
	if err := pool.QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a request", n)
	}
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	before := count.Count()
	// An argument no attribute could hold by chance (a number could appear
	// in the random database name).
	const secret = "argument-must-not-leak"
	if err := pool.QueryRow(ctx, "SELECT $1::text", secret).Scan(&echoed); err != nil {
		t.Fatal(err)
	}
	parent.End()
	if count.Count() != before+1 {
		t.Errorf("statement counter moved by %d, want 1 (both tracers run)", count.Count()-before)
	}
	var sql sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.Name() == "SELECT" {
			sql = s
		}
	}
	if sql == nil {
		t.Fatalf("no SELECT span under the request")
	}
	for _, a := range sql.Attributes() {
		if strings.Contains(a.Value.String(), secret) {
			t.Errorf("a statement's argument leaked into %s=%s", a.Key, a.Value.String())
		}
	}
}

func TestRedisSpansOnlyUnderARequest(t *testing.T) {
	rec, tp := recorder(t)
	rdb := env.Redis(t)
	if err := telemetry.Redis(tp, rdb); err != nil {
		t.Fatal(err)
	}
	key := env.RedisPrefix + "telemetry-secret-key"
	if err := rdb.Set(t.Context(), key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans outside a request", n)
	}
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	if err := rdb.Get(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var got sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() {
			got = s
		}
	}
	if got == nil || got.Name() != "get" {
		t.Fatalf("no get span under the request: %v", got)
	}
	for _, a := range got.Attributes() {
		if strings.Contains(a.Value.String(), "secret") {
			t.Errorf("a key leaked into %s=%s", a.Key, a.Value.String())
		}
	}
}
