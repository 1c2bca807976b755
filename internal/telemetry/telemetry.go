// Package telemetry holds the hub's OpenTelemetry tracing: the tracer
// provider built from the standard OTEL_* variables, and the instruments
// for HTTP, GraphQL, PostgreSQL and Redis. Tracing is off unless
// OTEL_TRACES_EXPORTER names an exporter; off, nothing is installed and the
// hot paths run as before. Every instrument takes its provider explicitly:
// nothing here reads or sets otel's globals.
package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// ServiceNameDefault names the hub's spans when OTEL_SERVICE_NAME is unset.
const ServiceNameDefault = "datahub"

// Setup builds the tracer provider the environment asks for, or returns nil
// when tracing is off (OTEL_TRACES_EXPORTER unset or "none", or
// OTEL_SDK_DISABLED=true). The only exporter is OTLP over HTTP/protobuf;
// the exporter itself reads OTEL_EXPORTER_OTLP_* (endpoint, headers,
// timeout, certificates) and the SDK reads OTEL_TRACES_SAMPLER[_ARG],
// OTEL_RESOURCE_ATTRIBUTES and the span limits from the process
// environment. The caller shuts the provider down to flush spans.
func Setup(ctx context.Context, getenv func(string) string) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "", "none":
		return nil, nil
	case "otlp":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not supported (use otlp or none)", exp)
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not supported (use http/protobuf)", proto)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := Resource(ctx)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res)), nil
}

// Resource describes this process: service.name "datahub" unless
// OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise.
func Resource(ctx context.Context) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(ServiceNameDefault)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last: the environment wins
	)
	if err != nil {
		return nil, fmt.Errorf("otel resource: %w", err)
	}
	return res, nil
}

// Propagator reads and writes W3C trace context (traceparent, tracestate)
// and baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// childOnly starts spans only under an existing span. SQL and Redis
// instruments use it: the background loops (outbox relay, event broker,
// samplers, policy watcher) poll all day, and each poll would otherwise be
// a trace of its own.
type childOnly struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childOnly) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childOnlyTracer{t: p.tp.Tracer(name, opts...)}
}

type childOnlyTracer struct {
	embedded.Tracer
	t trace.Tracer
}

func (t childOnlyTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // the no-op span
	}
	return t.t.Start(ctx, name, opts...)
}
