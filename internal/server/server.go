// Package server wires HTTP: routing, body limits, request ids, timeouts,
// authentication, metrics, health and readiness, and the GraphQL handler
// with its error presenter.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/coder/websocket"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
)

// Deps are what the server needs; cmd/datahub builds them.
type Deps struct {
	Config config.Config
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	Redis  *redis.Client
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
	// Limiter and Limits rate-limit API keys, citizens and anonymous callers.
	Limiter Allower
	Limits  RateLimits
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
	log := d.Logger
	gql := handler.New(d.Schema)
	gql.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		// Browsers may only open subscriptions from the configured origins
		// (same origin when none are configured).
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: d.Config.AllowedOrigins},
		},
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if d.WSAuth == nil {
				return ctx, nil, nil
			}
			p, err := d.WSAuth(ctx, payload)
			if err != nil {
				// graphql-transport-ws has no error message before the
				// ack: the client learns why from the close, 4403 as the
				// protocol says, with the reason (a close frame holds at
				// most 123 bytes of it).
				reason := "unauthenticated"
				if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthenticated {
					reason = e.Message
				} else {
					log.ErrorContext(ctx, "websocket authentication", "err", err)
					reason = "authentication is unavailable, try again"
				}
				if len(reason) > 123 {
					reason = strings.ToValidUTF8(reason[:120], "") + "..."
				}
				log.InfoContext(ctx, "websocket refused", "reason", reason)
				ctx = transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, reason), 4403)
				return ctx, nil, err
			}
			// No request-scoped decision cache or loaders here: a
			// subscription lives for hours, and every event must be judged
			// by the policy in force when it is sent (a revoked or expired
			// grant stops the data at once).
			return access.WithPrincipal(ctx, p), nil, nil
		},
	})
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.SetQueryCache(smallDocuments{lru.New[*ast.QueryDocument](1000)})
	gql.Use(extension.Introspection{})
	gql.Use(extension.FixedComplexityLimit(20000))
	gql.Use(costLimit{max: MaxCostDefault})
	gql.Use(storableText{})
	gql.SetErrorPresenter(errorPresenter(log, d.Metrics, d.InputErrors))
	gql.SetRecoverFunc(recoverFunc(log))

	scoped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			// A WebSocket lives for hours: no per-request caches (see
			// InitFunc).
			gql.ServeHTTP(w, r)
			return
		}
		gql.ServeHTTP(w, r.WithContext(d.RequestScope(r.Context())))
	})

	mux := http.NewServeMux()
	route := func(pattern, name string, h http.Handler) {
		mux.Handle(pattern, withRequestID(observed(log, d.Metrics, name, h)))
	}
	var limited http.Handler = scoped
	if d.Limiter != nil {
		limited = rateLimited(log, d.Limiter, d.Limits, scoped)
	}
	query := authenticated(log, d.Auth, limited)
	route("/query", "query", withTimeout(d.Config.RequestTimeout, limitBody(d.Config.MaxBodyBytes, query)))
	route("GET /{$}", "graphiql", playground.Handler("Fengcheng Data Hub", "/query"))
	mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	mux.Handle("GET /readyz", readiness(d.Pool, d.Redis))
	mux.Handle("GET /metrics", d.Metrics.Handler())
	for pattern, h := range d.Routes {
		route(pattern, pattern, withTimeout(d.Config.RequestTimeout, authenticated(log, d.Auth, h)))
	}
	for pattern, h := range d.Streams {
		route(pattern, pattern, authenticated(log, d.Auth, h))
	}
	return mux
}

// readiness answers 200 when PostgreSQL and Redis both answer within two
// seconds, else 503 naming what is down.
func readiness(pool *pgxpool.Pool, rdb *redis.Client) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		var down []string
		if err := pool.Ping(ctx); err != nil {
			down = append(down, "postgres")
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			down = append(down, "redis")
		}
		w.Header().Set("Content-Type", "application/json")
		if len(down) > 0 {
			slices.Sort(down)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","down":["` + join(down) + `"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += `","`
		}
		out += v
	}
	return out
}
