// Package app wires the hub together from its configuration: pools,
// services, access control, the GraphQL schema and the HTTP handler. The
// datahub command and end-to-end tests share this wiring.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/graph"
	"github.com/fengcheng/datahub/graph/generated"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/availability"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/console"
	"github.com/fengcheng/datahub/internal/directory"
	"github.com/fengcheng/datahub/internal/events"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/parking"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/policy/casbinpg"
	"github.com/fengcheng/datahub/internal/policy/casbinredis"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/postgres/replica"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/fengcheng/datahub/internal/pubsub"
	"github.com/fengcheng/datahub/internal/ratelimit"
	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/fengcheng/datahub/internal/respcache"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/sharing"
	"github.com/fengcheng/datahub/internal/telemetry"
	"github.com/fengcheng/datahub/internal/violation"
	"github.com/fengcheng/datahub/policies"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// App is a running hub's parts.
type App struct {
	Config config.Config
	Logger *slog.Logger
	Pool   *pgxpool.Pool
	// Replicas routes queries to DATABASE_REPLICA_URLS; nil without them.
	Replicas *replica.Router
	Redis    redis.UniversalClient
	Access   *policy.Engine
	// Auth turns credentials into principals, for HTTP, WebSockets and
	// the commands that act with an API key alike.
	Auth *auth.Authenticator
	// apiKeys is Auth's key store, whose cache forgetRevokedKeys keeps
	// in step with revocations.
	apiKeys  *auth.APIKeys
	Audit    *audit.Writer
	Ingest   *ingest.Service
	Cases    *cases.Service
	Resolver *graph.Resolver
	Metrics  *server.Metrics
	handler  http.Handler
	// availability keeps live parking counters; its sampler runs with Serve.
	availability *availability.Counter
	relay        *events.Relay
	checkpoints  *audit.Checkpointer
	broker       *events.Broker
	statements   postgres.StatementCounter
	stopBG       context.CancelFunc
	bgDone       sync.WaitGroup
	closers      []func()
}

// Options adjust the wiring for tests.
type Options struct {
	// Now replaces the clock.
	Now func() time.Time
	// Tracer sees every SQL statement (tests count statements).
	Tracer postgres.PoolConfig
	// WrapDecider, when set, wraps every access decision the hub uses (rows
	// in the services and fields in the GraphQL directive). Tests use it to
	// plant a leak on purpose and prove the leak tests catch it.
	WrapDecider func(Decider) Decider
	// TracerProvider, when set, turns on OpenTelemetry tracing: HTTP
	// requests, GraphQL operations and resolvers, SQL statements and
	// Redis commands (see internal/telemetry). Nil: no tracing at all.
	TracerProvider trace.TracerProvider
}

// Decider answers what the caller may do with a dataset.
type Decider interface {
	Decide(ctx context.Context, dataset string) (*access.Decision, error)
}

// New connects to PostgreSQL and Redis and builds the hub.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Logger: log}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	pc := opts.Tracer
	pc.Statements = &a.statements
	pc.URL, pc.MaxConns, pc.StatementTimeout = cfg.DatabaseURL, cfg.DBMaxConns, cfg.DBStmtTimeout
	if opts.TracerProvider != nil {
		pc.Spans = telemetry.Postgres(opts.TracerProvider)
	}
	pool, err := postgres.Open(ctx, pc)
	if err != nil {
		return nil, err
	}
	a.Pool = pool
	a.closers = append(a.closers, pool.Close)
	// What the dataset stores read through: the replicas for queries when
	// there are any. Writes, the audit, the outbox, grants' policy lines
	// and the indicators (which fold pending changes before reading) stay
	// on the primary.
	var reads postgres.DB = pool
	if len(cfg.ReplicaURLs) > 0 {
		rpc := pc
		rpc.MinConns = 1
		a.Replicas, err = replica.New(ctx, pool, replica.Config{URLs: cfg.ReplicaURLs, Pool: rpc, MaxLag: cfg.ReplicaMaxLag, Logger: log})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.Replicas.Close)
		reads = a.Replicas
	}

	// One server, a Sentinel-managed primary or a cluster (redisclient.New).
	redisErrors := redisclient.NewErrors()
	if a.Redis, err = redisclient.New(cfg.RedisURL, redisErrors); err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	a.closers = append(a.closers, func() { _ = a.Redis.Close() })
	if opts.TracerProvider != nil {
		if err := telemetry.Redis(opts.TracerProvider, a.Redis); err != nil {
			return nil, err
		}
	}
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect redis: %w", err)
	}

	cal := calendar.Default()
	if cfg.HolidayFile != "" {
		if cal, err = calendar.Load(cfg.HolidayFile); err != nil {
			return nil, fmt.Errorf("HOLIDAY_CALENDAR: %w", err)
		}
	}

	var pfs fs.FS = policies.FS
	if cfg.PolicyDir != "" {
		pfs = os.DirFS(cfg.PolicyDir)
	}
	// Grants live in PostgreSQL (casbin_rules); every instance reloads when
	// another one changes them (Redis pub/sub), and on reconnect.
	adapter, err := casbinpg.New(pool, casbinpg.Config{})
	if err != nil {
		return nil, fmt.Errorf("policy store: %w", err)
	}
	watcher, err := casbinredis.New(ctx, casbinredis.Config{Client: a.Redis, Channel: cfg.RedisPrefix + "policy", Logger: log})
	if err != nil {
		return nil, fmt.Errorf("policy watcher: %w", err)
	}
	a.closers = append(a.closers, watcher.Close)
	eng, err := policy.NewEngine(policy.EngineConfig{FS: pfs, Adapter: adapter, Watcher: watcher, Now: opts.Now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("load policies: %w", err)
	}
	a.Access = eng
	var decider Decider = eng
	if opts.WrapDecider != nil {
		decider = opts.WrapDecider(eng)
	}

	keyFiles, err := auth.ParseKeyFiles(cfg.JWTPublicKeys)
	if err != nil {
		return nil, fmt.Errorf("JWT_PUBLIC_KEYS: %w", err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, KeyFiles: keyFiles,
		Mode: auth.Mode(cfg.Mode), DevSecret: cfg.DevSecret(),
	})
	if err != nil {
		return nil, fmt.Errorf("jwt verifier: %w", err)
	}
	// One in-memory directory serves authentication (every principal's
	// department and jurisdiction are checked against it), the GraphQL
	// layer and the lists' jurisdiction filters alike.
	dir := directory.NewService(postgres.NewDirectoryStore(pool))
	holdable := auth.HoldableRoles(eng.Catalog())
	if a.apiKeys, err = auth.NewAPIKeys(pool).WithRoles(holdable).WithCache(cfg.APIKeyCacheTTL); err != nil {
		return nil, err
	}
	a.Auth = auth.NewAuthenticator(verifier, a.apiKeys, auth.NewIdentities(dir, holdable))

	auditKey, err := cfg.AuditKey()
	if err != nil {
		return nil, err
	}
	linger := cfg.AuditFlushLinger
	if linger == 0 {
		linger = -1 // off
	}
	// The audit writer gets a connection of its own. Every audited
	// response waits for its record's commit; on the shared pool that
	// commit queued for a connection behind the very reads whose
	// responses wait for it. The writer sends one batch at a time, so one
	// connection is all it uses.
	apc := pc
	apc.MaxConns, apc.MinConns = 1, 1
	auditPool, err := postgres.Open(ctx, apc)
	if err != nil {
		return nil, fmt.Errorf("audit connection: %w", err)
	}
	a.closers = append(a.closers, auditPool.Close) // closed after the writer's final flush (closers run last first)
	a.Audit = audit.NewWriter(auditPool, audit.Options{Logger: log, Key: auditKey, FlushLinger: linger})
	a.checkpoints = &audit.Checkpointer{Pool: pool, Key: auditKey, Log: log, Now: opts.Now,
		Sinks: []audit.CheckpointSink{redisCheckpoints{a.Redis, cfg.RedisPrefix + AuditCheckpointsKey}}}
	if cfg.AuditCheckpointFile != "" {
		a.checkpoints.Sinks = append(a.checkpoints.Sinks, audit.FileSink{Path: cfg.AuditCheckpointFile})
	}
	a.closers = append(a.closers, func() {
		// Flush every pending audit record before the pool closes, then
		// sign the final head.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		if err := a.Audit.Close(ctx); err != nil {
			log.Error("audit flush at shutdown", "err", err)
		}
		if err := a.checkpoints.Once(ctx); err != nil {
			log.Error("audit checkpoint at shutdown", "err", err)
		}
	})
	auditor := readAuditor{w: a.Audit, catalog: eng.Catalog(), sync: cfg.AuditSync}
	a.Cases = cases.NewService(cases.Config{Store: postgres.NewCaseStore(reads), Authorizer: decider, Directory: dir,
		Calendar: cal, Auditor: auditor, Now: opts.Now})
	propertyStore := postgres.NewPropertyStore(reads)
	parkingStore := postgres.NewParkingStore(reads)
	counter, err := availability.New(availability.Config{Redis: a.Redis, Prefix: cfg.RedisPrefix, Lots: parkingStore,
		History: parkingStore, Logger: log, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("parking availability: %w", err)
	}
	a.availability = counter
	a.relay = events.NewRelay(pool, a.Redis, events.RelayConfig{Prefix: cfg.RedisPrefix, Logger: log, Retention: cfg.OutboxRetention})
	var cache *respcache.Cache
	if cfg.ResponseCacheTTL > 0 {
		if cache, err = respcache.New(respcache.Config{Roots: CachedRoots(), Fingerprint: accessFingerprint(decider, eng.Catalog()),
			TTL: cfg.ResponseCacheTTL, MaxBytes: uint64(cfg.ResponseCacheBytes),
			// A client that sends its last write's position reads its writes.
			FreshHeaders: []string{server.LSNHeader}}); err != nil {
			return nil, err
		}
	}
	brokerCfg := events.BrokerConfig{Prefix: cfg.RedisPrefix, Logger: log}
	if cache != nil {
		// Every change event empties the cache, on every instance.
		brokerCfg.OnChange = cache.Changed
	}
	a.broker = events.NewBroker(a.Redis, brokerCfg)
	a.Ingest = ingest.NewService(postgres.NewIngestStore(pool, postgres.IngestConfig{}),
		ingest.Config{Catalog: eng.Catalog(), Now: opts.Now, Logger: log, Authorizer: decider, Auditor: auditor})
	evalSvc, err := newEvaluation(pool, pfs, eng.Catalog(), decider, auditor, cal, opts.Now, log)
	if err != nil {
		return nil, err
	}
	a.Resolver = &graph.Resolver{
		Access:           decider,
		CaseService:      a.Cases,
		DirectoryService: dir,
		PropertyService: property.NewService(property.Config{Store: propertyStore, Authorizer: decider, Directory: dir,
			Auditor: auditor, Now: opts.Now, Calendar: cal, RecusalRounds: cfg.DrawRecusalRounds}),
		ViolationService: violation.NewService(violation.Config{Store: postgres.NewViolationStore(reads), Authorizer: decider, Directory: dir,
			Calendar: cal, Auditor: auditor, Permits: permitRegister{propertyStore}, Now: opts.Now}),
		ParkingService: parking.NewService(parking.Config{Store: parkingStore, Authorizer: decider, Directory: dir, Auditor: auditor,
			Availability: counter, Calendar: cal, Now: opts.Now}),
		Feed:              brokerFeed{a.broker},
		EvaluationService: evalSvc,
		IngestService:     a.Ingest,
		Sharing:           sharing.NewService(postgres.NewSharingStore(reads, adapter), dir, eng, opts.Now, log),
		Audit:             audit.NewTrail(pool, decider).WithKey(auditKey),
		Catalog:           eng,
	}
	// A grant line whose request is not approved is a grant nobody can see
	// or revoke: remove any before serving.
	if _, err := a.Resolver.Sharing.Reconcile(ctx); err != nil {
		return nil, err
	}
	limits, err := rateLimits(cfg)
	if err != nil {
		return nil, err
	}
	a.Metrics = server.NewMetricsWith(pool, a.statements.Count)
	a.Metrics.Register(auditMetrics(a.Audit)...)
	a.Metrics.Register(redisErrors)
	a.Metrics.Register(a.relay.Collectors()...)
	if cache != nil {
		a.Metrics.Register(cache.Collectors()...)
	}
	var fastPath graphql.OperationMiddleware
	if cfg.FastPath {
		fastPath = a.Resolver.FastPath(log)
	}
	deps := server.Deps{
		Config: cfg, Logger: log, Pool: pool, Redis: a.Redis, Auth: a.Auth,
		WSAuth:       a.Auth.AuthenticateInit,
		Schema:       a.Schema(),
		InputErrors:  []error{generated.ErrUnknownType, generated.ErrTypeNotFound},
		RequestScope: a.requestScope,
		Metrics:      a.Metrics,
		Limiter:      ratelimit.NewWithFallback(ratelimit.New(a.Redis, cfg.RedisPrefix, opts.Now), ratelimit.NewLocal(opts.Now, 0), log),
		Routes: map[string]http.Handler{
			"GET /indicators.xlsx": server.IndicatorsHandler(evalSvc, log),
		},
		// Exports stream for as long as they take; no request timeout.
		Streams: map[string]http.Handler{
			"/datasets/":             server.ExportHandler(evalSvc, log),
			"POST /ingest/{dataset}": server.IngestHandler(a.Ingest, cfg.IngestMaxBytes, log),
		},
		Pages:         consolePages(cfg),
		Limits:        limits,
		AuditFlush:    auditor.Flush,
		FastPath:      fastPath,
		Persisted:     server.NewPersistedOperations(a.Redis, cfg.RedisPrefix),
		PersistedOnly: cfg.PersistedOnly,
		Tracing:       opts.TracerProvider,
	}
	if cache != nil {
		deps.ResponseCache = cache
	}
	if a.Replicas != nil {
		deps.Replicas = replicaRoutes{a.Replicas}
		a.Metrics.Register(replicaMetrics{a.Replicas})
	}
	a.handler = server.Handler(deps)
	ok = true
	return a, nil
}

// consolePages serves the governance console, the API explorer (GraphiQL at
// "/") and, in development mode only, the console's demo login (404 in
// production).
// Tokens are checked against the wall clock, so the login mints with it
// too (not Options.Now).
func consolePages(cfg config.Config) map[string]http.Handler {
	static := console.Static(console.Assets())
	login := console.DevLogin(cfg.Mode == config.ModeDevelopment, cfg.DevSecret(), time.Now)
	return map[string]http.Handler{
		"GET /console":            static,
		"GET /console/":           static,
		"GET /console/dev-login":  login,
		"POST /console/dev-login": login,
		"GET /{$}":                console.Explorer(console.Assets()),
	}
}

// Schema returns the executable GraphQL schema the hub serves: every
// mutation first passes the access engine's operation check.
func (a *App) Schema() graphql.ExecutableSchema {
	return operationGate{ExecutableSchema: NewSchema(a.Resolver), check: a.Access.CheckOperation}
}

// NewSchema builds the executable schema around a resolver.
func NewSchema(r *graph.Resolver) graphql.ExecutableSchema {
	return generated.NewExecutableSchema(generated.Config{Resolvers: r, Directives: r.Directives()})
}

// requestScope gives each request (or WebSocket connection) its own
// decision cache and loaders.
func (a *App) requestScope(ctx context.Context) context.Context {
	return a.Resolver.WithLoaders(policy.WithRequestCache(ctx))
}

// Handler is the HTTP handler of the hub.
func (a *App) Handler() http.Handler { return a.handler }

// Start runs the instance's background work until Close: the outbox relay,
// the event broker that feeds this instance's subscriptions, the parking
// availability sampler and the grant upkeep. Every instance runs them all;
// each is safe to run on several instances at once.
func (a *App) Start() {
	if a.stopBG != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopBG = cancel
	run := func(name string, f func(context.Context) error) {
		a.bgDone.Add(1)
		go func() {
			defer a.bgDone.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				a.Logger.Error("background task stopped", "task", name, "err", err)
			}
		}()
	}
	if a.Replicas != nil {
		run("replica health", a.Replicas.Run)
	}
	run("outbox relay", a.relay.Run)
	run("event broker", a.broker.Run)
	run("availability sampler", func(ctx context.Context) error { return a.availability.RunSampler(ctx, 0) })
	run("grant upkeep", func(ctx context.Context) error { a.maintain(ctx); return nil })
	run("api key revocations", func(ctx context.Context) error { a.forgetRevokedKeys(ctx); return nil })
	run("indicator refresh", a.refreshIndicators)
	run("audit checkpoints", func(ctx context.Context) error {
		a.checkpoints.Run(ctx, a.Config.AuditCheckpointInterval)
		return nil
	})
}

// forgetRevokedKeys drops each API key revoked by `datahub apikey revoke`
// from this instance's cache as the announcement arrives, until ctx ends.
// Announcements sent while the subscription was down are lost: each
// confirmation of it empties the whole cache.
func (a *App) forgetRevokedKeys(ctx context.Context) {
	pubsub.Subscribe(ctx, pubsub.Config{
		Client:      a.Redis,
		Channel:     auth.RevokedChannel(a.Config.RedisPrefix),
		HealthCheck: events.HealthCheckDefault,
		RetryMax:    events.RetryMaxDefault,
		Name:        "api key revocations",
		Logger:      a.Logger,
		OnMessage:   func(m *redis.Message) { a.apiKeys.Forget(m.Payload) },
		OnSubscribe: func(bool) { a.apiKeys.ForgetAll() },
	}).Run(ctx)
}

// Close releases everything New opened, in reverse order.
func (a *App) Close() {
	if a.stopBG != nil {
		a.stopBG()
		a.bgDone.Wait()
		a.stopBG = nil
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Serve listens on cfg.ListenAddr until ctx ends, then shuts down
// gracefully: in-flight requests finish (up to the grace period).
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	srv := &http.Server{
		Addr: a.Config.ListenAddr, Handler: a.handler,
		// Every request, headers and body, must arrive within these; the
		// upload routes extend the body's deadline as long as the client
		// keeps UPLOAD_MIN_RATE, and a WebSocket drops them on upgrade.
		ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readHeaderTimeout + a.Config.BodyReadTimeout,
		IdleTimeout: time.Minute,
		ErrorLog:    slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	ln, err := listen(a.Config.ListenAddr, a.Config.MaxConnections, a.Config.Mode != config.ModeProduction)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Start()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Logger.Info("shutting down", "grace", a.Config.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readHeaderTimeout is how long a client has to send a request's headers.
const readHeaderTimeout = 10 * time.Second

// maintenanceInterval is how often an instance tidies expired grants. The
// engine ignores an expired grant at once; this only updates the records.
const maintenanceInterval = 30 * time.Second

// maintain runs periodic upkeep until ctx ends. Every instance may run it:
// each step is idempotent.
func (a *App) maintain(ctx context.Context) {
	t := time.NewTicker(maintenanceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A reload each round brings this instance up to date even if
			// it missed a notification while Redis was unreachable.
			if err := a.Access.Reload(ctx); err != nil {
				a.Logger.Warn("reload policy", "err", err)
			}
			if n, err := a.Resolver.Sharing.ExpireDue(ctx); err != nil {
				a.Logger.Warn("expire grants", "err", err)
			} else if n > 0 {
				a.Logger.Info("grants expired", "count", n)
			}
		}
	}
}

func rateLimits(cfg config.Config) (server.RateLimits, error) {
	var l server.RateLimits
	var err error
	if l.Citizen, err = ratelimit.ParseRule(cfg.RateCitizen); err != nil {
		return l, fmt.Errorf("RATE_LIMIT_CITIZEN: %w", err)
	}
	if l.APIKey, err = ratelimit.ParseRule(cfg.RateAPIKey); err != nil {
		return l, fmt.Errorf("RATE_LIMIT_APIKEY: %w", err)
	}
	if l.Anonymous, err = ratelimit.ParseRule(cfg.RateAnonymous); err != nil {
		return l, fmt.Errorf("RATE_LIMIT_ANONYMOUS: %w", err)
	}
	if l.Stream, err = ratelimit.ParseRule(cfg.RateStream); err != nil {
		return l, fmt.Errorf("RATE_LIMIT_STREAM: %w", err)
	}
	return l, nil
}
