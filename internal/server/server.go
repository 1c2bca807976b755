// Package server wires HTTP: routing, body limits, request ids, timeouts,
// authentication, metrics, health and readiness, and the GraphQL handler
// with its error presenter.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/telemetry"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace"
)

// Deps are what the server needs; cmd/datahub builds them.
type Deps struct {
	Config config.Config
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	Redis  redis.UniversalClient
	Auth   Authenticator
	// WSAuth authenticates a WebSocket connection_init payload.
	WSAuth func(ctx context.Context, payload map[string]any) (*access.Principal, error)
	// Schema is the executable GraphQL schema.
	Schema graphql.ExecutableSchema
	// InputErrors are errors the schema's generated code returns for input
	// the caller got wrong: BAD_USER_INPUT, not INTERNAL.
	InputErrors []error
	// RequestScope prepares a request's context: decision cache, loaders.
	RequestScope func(ctx context.Context) context.Context
	Metrics      *Metrics
	// Extra routes mounted beside GraphQL, authenticated, with the request
	// timeout.
	Routes map[string]http.Handler
	// Streams are authenticated routes without the request timeout: bulk
	// uploads and dataset exports that run as long as the data takes.
	Streams map[string]http.Handler
	// Pages are routes served without authentication or rate limits, with
	// request ids, logs and metrics only: the console's static files and
	// its development login, which set their own security headers.
	Pages map[string]http.Handler
	// Limiter and Limits rate-limit API keys, citizens and anonymous callers.
	Limiter Allower
	Limits  RateLimits
	// AuditFlush, when set, commits the audit records a GraphQL response's
	// reads enqueued: each response carries an audit.Barrier, its reads
	// only enqueue, and the response leaves after one commit (or is
	// replaced by the flush's error).
	AuditFlush func(ctx context.Context) error
	// FastPath, when set, may answer an operation without the executor
	// (see graph.Resolver.FastPath); it runs after every check above.
	FastPath graphql.OperationMiddleware
	// ResponseCache, when set, may answer a public aggregate query from
	// memory (see respcache): its operation middleware runs after every
	// check above, its HTTP layer once the caller is known.
	ResponseCache ResponseCache
	// Persisted serves automatic persisted queries and the operation
	// allow-list; PersistedOnly names the callers ("anonymous",
	// "citizen-app") that may run allow-listed operations only.
	Persisted     *PersistedOperations
	PersistedOnly []string
	// Tracing, when set, traces each routed request (continuing the
	// caller's traceparent), each GraphQL operation and each resolver.
	// Unset, no instrument is installed.
	Tracing trace.TracerProvider
	// Replicas, when set, serves queries from database replicas (see
	// ReadRouter and LSNHeader).
	Replicas ReadRouter
}

// ResponseCache answers repeated public aggregate queries from memory
// (respcache.Cache).
type ResponseCache interface {
	Middleware() graphql.OperationMiddleware
	Handler(next http.Handler) http.Handler
}

// smallDocuments caches parsed documents of ordinary size only: a parsed
// document takes about twenty times its text, and a cache of a thousand
// near-megabyte documents (refused or not) would hold gigabytes.
type smallDocuments struct {
	graphql.Cache[*ast.QueryDocument]
}

// maxCachedQuery is the longest query text kept parsed.
const maxCachedQuery = 16 << 10

func (c smallDocuments) Add(ctx context.Context, query string, doc *ast.QueryDocument) {
	if len(query) <= maxCachedQuery {
		c.Cache.Add(ctx, query, doc)
	}
}

// Handler returns the hub's HTTP handler.
func Handler(d Deps) http.Handler {
	d.Config = d.Config.WithConnDefaults()
	log := d.Logger
	gql := handler.New(d.Schema)
	present := errorPresenter(log, d.Metrics, d.InputErrors)
	guard := &wsGuard{log: log, metrics: d.Metrics, present: present, auth: d.WSAuth, limiter: d.Limiter, limits: d.Limits, timeout: d.Config.RequestTimeout,
		recheck: d.Config.WSRecheckInterval, maxSubs: int64(d.Config.WSMaxSubscriptions), scope: d.RequestScope,
		initTime: d.Config.WSInitTimeout}
	// Browsers may only open subscriptions from the configured origins
	// (same origin when none are configured).
	gql.AddTransport(guard.transport(transport.CoderWebsocketImplementation{
		AcceptOptions: websocket.AcceptOptions{OriginPatterns: d.Config.AllowedOrigins},
	}))
	if d.Tracing != nil {
		// First, so that the operation's span covers the fast path too.
		gql.Use(telemetry.NewGraphQL(d.Tracing))
	}
	gql.AroundOperations(guard.aroundOperation)
	if d.Replicas != nil {
		// Before the fast path, which answers queries itself.
		gql.AroundOperations(readRouting(d.Replicas, log))
	}
	if d.ResponseCache != nil {
		gql.AroundOperations(d.ResponseCache.Middleware())
	}
	if d.FastPath != nil {
		gql.AroundOperations(d.FastPath)
	}
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(rawPOST{})
	docs := smallDocuments{lru.New[*ast.QueryDocument](1000)}
	gql.SetQueryCache(docs)
	// Size before validation (validation is quadratic and deaf to the
	// deadline), then who may read the schema, then cost.
	if d.Persisted != nil {
		// First: the others judge the document a hash stands for.
		gql.Use(extension.AutomaticPersistedQuery{Cache: d.Persisted})
		if len(d.PersistedOnly) > 0 {
			gql.Use(allowListOnly{ops: d.Persisted, kinds: d.PersistedOnly})
		}
	}
	gql.SetParserTokenLimit(MaxTokensDefault)
	gql.Use(documentLimit{maxTokens: MaxTokensDefault, maxSelections: MaxSelectionsDefault, maxPairs: MaxFieldPairsDefault, cache: docs})
	gql.Use(schemaExposure{introspection: d.Config.IntrospectionExposure(), sdl: d.Config.FederationSDLExposure()})
	gql.Use(extension.FixedComplexityLimit(20000))
	gql.Use(costLimit{max: MaxCostDefault})
	gql.Use(storableText{})
	gql.SetErrorPresenter(present)
	gql.AroundResponses(oneErrorPerField)
	if d.AuditFlush != nil {
		gql.AroundResponses(auditBarrier(d.AuditFlush, present))
	}
	gql.SetRecoverFunc(recoverFunc(log))

	scoped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			// A WebSocket lives for hours: no per-connection caches; each
			// query or mutation on it gets its own (see wsGuard).
			guard.handle(gql, w, r)
			return
		}
		r = r.WithContext(d.RequestScope(r.Context()))
		if d.Replicas != nil {
			r = withLSN(r, w)
		}
		answer := codedErrors(gql)
		if d.ResponseCache != nil {
			answer = d.ResponseCache.Handler(answer)
		}
		answer.ServeHTTP(w, r)
	})
	operations := refuseBatches(scoped)

	mux := http.NewServeMux()
	route := func(pattern, name string, h http.Handler) {
		h = withRequestID(observed(log, d.Metrics, name, h))
		if d.Tracing != nil {
			h = telemetry.HTTP(d.Tracing, h)
		}
		mux.Handle(pattern, h)
	}
	// Who calls, and whether they may call now, is settled before the
	// body is read: a caller over its limit costs no body, and the body
	// that is read must arrive within BODY_READ_TIMEOUT.
	var limited = bodyDeadline(d.Config.BodyReadTimeout, limitBody(d.Config.MaxBodyBytes, operations))
	if d.Limiter != nil {
		limited = rateLimited(log, d.Limiter, d.Limits, limited)
	}
	query := authenticated(log, d.Auth, limited)
	route("/query", "query", withTimeout(d.Config.RequestTimeout, query))
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	mux.Handle("GET /readyz", readiness(d.Pool, d.Redis))
	for pattern, h := range d.Pages {
		route(pattern, pattern, h)
	}
	mux.Handle("GET /metrics", metricsGuard(d.Config, d.Metrics.Handler()))
	// Other routes get what /query gets: a caller over its limit is
	// refused before any work (an indicators workbook is as costly as the
	// query it renders).
	for pattern, h := range d.Routes {
		h = bodyDeadline(d.Config.BodyReadTimeout, h)
		if d.Limiter != nil {
			h = rateLimited(log, d.Limiter, d.Limits, h)
		}
		route(pattern, pattern, withTimeout(d.Config.RequestTimeout, authenticated(log, d.Auth, h)))
	}
	slots := &streamSlots{running: map[string]int{}, max: max(d.Config.StreamConcurrency, 1)}
	for pattern, h := range d.Streams {
		h = minRateBody(d.Config.BodyReadTimeout, d.Config.UploadMinRate, h)
		route(pattern, pattern, authenticated(log, d.Auth, streamLimited(log, d.Limiter, d.Limits.Stream, slots, h)))
	}
	return realClient(d.Config.TrustedProxies, corsHeaders(d.Config.AllowedOrigins, mux))
}

// auditBarrier gives each GraphQL response (a query's, or one event of a
// subscription) an audit.Barrier and commits what its reads enqueued before
// the response goes out; when the commit fails the caller gets the error
// and none of the data.
func auditBarrier(flush func(ctx context.Context) error, present graphql.ErrorPresenterFunc) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx, b := audit.WithBarrier(ctx)
		resp := next(ctx)
		if resp == nil || !b.Pending() {
			return resp
		}
		if err := flush(ctx); err != nil {
			return &graphql.Response{Errors: gqlerror.List{present(ctx, err)}}
		}
		return resp
	}
}

// readiness answers 200 while PostgreSQL answers within two seconds, else
// 503. PostgreSQL is the hard dependency: without it nothing can be served,
// so the instance leaves the load balancer's rotation. Redis is soft: reads
// and writes go on without it (rate limits fall back to per-instance
// counters, events wait in the outbox, subscriptions are refused), and every
// instance shares the one Redis, so taking instances out of rotation for it
// would turn a degraded service into an outage. A Redis outage is reported
// as {"status":"degraded","degraded":["redis"]} with 200.
func readiness(pool *pgxpool.Pool, rdb redis.UniversalClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := pool.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","down":["postgres"]}`))
			return
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			_, _ = w.Write([]byte(`{"status":"degraded","degraded":["redis"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}
