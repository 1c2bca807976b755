package telemetry

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// HTTP wraps a route's handler in a server span that continues the
// caller's trace (W3C traceparent). Mounted per route, inside the mux, the
// span is named after the route ("POST /query") and carries http.route.
// WebSocket upgrades are left out: their span would last as long as the
// connection.
func HTTP(tp trace.TracerProvider, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		// Request metrics are Prometheus's (GET /metrics); none twice.
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return !strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		}),
	)
}

// Postgres returns a pgx tracer that records each statement (its text,
// never its arguments) as a span under the request's span, with the server
// it went to (the primary or a replica).
func Postgres(tp trace.TracerProvider) pgx.QueryTracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(childOnly{tp: tp}),
		otelpgx.WithMeterProvider(noop.NewMeterProvider()),
	)
}

// Redis adds a hook to rdb (one server, a Sentinel-managed primary, or each
// node of a cluster) that records each command (its name, never its keys
// or values) as a span under the request's span.
func Redis(tp trace.TracerProvider, rdb redis.UniversalClient) error {
	if err := redisotel.InstrumentTracing(rdb,
		redisotel.WithTracerProvider(childOnly{tp: tp}),
		redisotel.WithDBStatement(false),
		redisotel.WithCallerEnabled(false),
	); err != nil {
		return fmt.Errorf("redis tracing: %w", err)
	}
	return nil
}
