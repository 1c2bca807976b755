package telemetry

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the hub's own spans (operations and resolvers).
const instrumentation = "github.com/fengcheng/datahub/internal/telemetry"

// GraphQL is a gqlgen extension that gives each query or mutation a span
// and, under it, each field served by a resolver (the fields that may read
// PostgreSQL or Redis) a span of its own. Plain fields, read from an object
// already loaded, get none: a page of fifty rows would otherwise cost a
// thousand spans. Subscriptions get no operation span: one lives for hours.
//
// Use it before any operation middleware that may answer without the
// executor (the cases fast path), so that the fast path's SQL lies under
// the operation's span too.
type GraphQL struct {
	tracer trace.Tracer
}

// NewGraphQL returns the extension, tracing with tp.
func NewGraphQL(tp trace.TracerProvider) GraphQL {
	return GraphQL{tracer: tp.Tracer(instrumentation)}
}

// ExtensionName implements graphql.HandlerExtension.
func (GraphQL) ExtensionName() string { return "OpenTelemetry" }

// Validate implements graphql.HandlerExtension.
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// Attribute keys (OpenTelemetry semantic conventions for GraphQL server
// spans, plus the resolver's path).
var (
	keyOperationType = attribute.Key("graphql.operation.type")
	keyOperationName = attribute.Key("graphql.operation.name")
	keyFieldPath     = attribute.Key("graphql.field.path")
	keyErrorCount    = attribute.Key("graphql.errors")
)

// InterceptOperation implements graphql.OperationInterceptor: the span
// starts once the document is parsed and validated, and ends when the
// response is made.
func (g GraphQL) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	kind, opName := string(oc.Operation.Operation), oc.Operation.Name
	name := kind
	if opName != "" {
		name += " " + opName
	}
	ctx, span := g.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(keyOperationType.String(kind)))
	if opName != "" {
		span.SetAttributes(keyOperationName.String(opName))
	}
	responses := next(ctx)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if !ended {
			ended = true
			if resp != nil && len(resp.Errors) > 0 {
				span.SetAttributes(keyErrorCount.Int(len(resp.Errors)))
				span.SetStatus(codes.Error, resp.Errors[0].Message)
			}
			span.End()
		}
		return resp
	}
}

// InterceptField implements graphql.FieldInterceptor.
func (g GraphQL) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver || fc.Field.Field == nil {
		return next(ctx)
	}
	ctx, span := g.tracer.Start(ctx, fc.Object+"."+fc.Field.Name)
	if span.IsRecording() {
		span.SetAttributes(keyFieldPath.String(fc.Path().String()))
	}
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	return res, err
}
