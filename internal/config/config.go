// Package config reads the hub's configuration from environment variables.
// Flags on the command line override single values; defaults are safe for a
// local development machine: development mode (the default) accepts tokens
// signed with a key published in the source, so it listens on loopback only,
// and production mode refuses development keys.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode is development or production.
type Mode string

// Modes.
const (
	ModeDevelopment Mode = "development"
	ModeProduction  Mode = "production"
)

// DevJWTSecret is the development HS256 key: `datahub token` signs with it
// and a development-mode hub accepts it. Production mode refuses it.
const DevJWTSecret = "fengcheng-datahub-development-only-secret"

// Config is the whole configuration. Each field names its variable.
type Config struct {
	Mode          Mode          // DATAHUB_MODE
	ListenAddr    string        // LISTEN_ADDR
	DatabaseURL   string        // DATABASE_URL
	DBMaxConns    int32         // DB_MAX_CONNS
	DBStmtTimeout time.Duration // DB_STATEMENT_TIMEOUT
	RedisURL      string        // REDIS_URL
	RedisPrefix   string        // REDIS_PREFIX
	JWTIssuer     string        // JWT_ISSUER
	JWTAudience   string        // JWT_AUDIENCE
	JWTPublicKeys string        // JWT_PUBLIC_KEYS: "kid=path,kid=path"
	DevJWTSecret  string        // DEV_JWT_SECRET (development mode only)
	PolicyDir     string        // POLICY_DIR: empty = the policies embedded in the binary
	HolidayFile   string        // HOLIDAY_CALENDAR: empty = built-in PRC calendar
	// DrawRecusalRounds (DRAW_RECUSAL_ROUNDS, default 2, 1–12) is how many
	// past rounds of double-random inspections recusal looks back over.
	DrawRecusalRounds int
	MaxBodyBytes      int64         // MAX_BODY_BYTES
	RequestTimeout    time.Duration // REQUEST_TIMEOUT
	ShutdownGrace     time.Duration // SHUTDOWN_GRACE
	LogLevel          string        // LOG_LEVEL: debug, info, warn, error
	AllowedOrigins    []string      // ALLOWED_ORIGINS: for browsers (CORS) and WebSockets; empty = same origin only
	// TrustedProxies (TRUSTED_PROXIES: CIDRs or addresses) are the hops
	// whose X-Forwarded-For is believed when finding the client's address.
	TrustedProxies []netip.Prefix
	RateCitizen    string // RATE_LIMIT_CITIZEN: per citizen, e.g. 30/1m
	RateAPIKey     string // RATE_LIMIT_APIKEY: per API key
	RateAnonymous  string // RATE_LIMIT_ANONYMOUS: per client address without credentials
	IngestMaxBytes int64  // INGEST_MAX_BYTES: bulk file size limit, before and after decompression
	// Who may read the schema itself (see Exposure). Empty takes the mode's
	// default: open in development, closed in production.
	Introspection Exposure // GRAPHQL_INTROSPECTION: __schema and __type
	FederationSDL Exposure // FEDERATION_SDL: { _service { sdl } }
	// MetricsToken, when set, is the bearer token /metrics requires; in
	// production /metrics is off without one.
	MetricsToken string // METRICS_TOKEN

	BodyReadTimeout    time.Duration // BODY_READ_TIMEOUT: a request body (and the first part of an upload) must arrive within this
	UploadMinRate      int64         // UPLOAD_MIN_RATE: bytes per second an upload must average after BODY_READ_TIMEOUT
	MaxConnections     int           // MAX_CONNECTIONS: open client connections per instance; more wait to be accepted
	StreamConcurrency  int           // STREAM_CONCURRENCY: uploads and exports one caller may run at once per instance
	RateStream         string        // RATE_LIMIT_STREAM: uploads and exports per caller
	WSInitTimeout      time.Duration // WS_INIT_TIMEOUT: a WebSocket must send connection_init within this
	WSRecheckInterval  time.Duration // WS_RECHECK_INTERVAL: how often an open WebSocket's credential is checked again
	WSMaxSubscriptions int           // WS_MAX_SUBSCRIPTIONS: subscriptions one WebSocket may carry at once
	// AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE: the key of the audit chain's
	// HMAC (at least 32 bytes). Development mode falls back to
	// DevAuditHMACKey; production requires one.
	AuditHMACKey     string
	AuditHMACKeyFile string
	// AUDIT_CHECKPOINT_FILE: where signed checkpoints of the chain head are
	// appended (empty: Redis only); AUDIT_CHECKPOINT_INTERVAL: how often.
	AuditCheckpointFile     string
	AuditCheckpointInterval time.Duration
	// AuditSync (AUDIT_SYNC, default true) holds the answer to an audited
	// read until its audit record is committed, so a crash cannot lose the
	// record of a read the caller received. false answers first and commits
	// within the writer's flush interval (faster; a crash loses up to that
	// much of the trail).
	AuditSync bool
	// AuditFlushLinger (AUDIT_FLUSH_LINGER, default 1ms, 0 off) is group
	// commit for those waits under load: a response asking for its commit
	// soon after another waits up to this long for more to share it.
	AuditFlushLinger time.Duration
	// FastPath (GRAPHQL_FAST_PATH, default true) serves the plain shapes
	// of case lists, compound pages and the parking search without the
	// GraphQL executor (same answer, a fraction of the CPU).
	FastPath bool
	// APIKeyCacheTTL (API_KEY_CACHE_TTL, default 15s, at most 5m; 0 off)
	// is how long an instance keeps an API key it accepted, instead of
	// reading the key's row on every request. `datahub apikey revoke`
	// announces a revocation to every instance at once; this bounds how
	// long a revoked key still works should the announcement be missed.
	APIKeyCacheTTL time.Duration
	// OutboxRetention (OUTBOX_RETENTION, default 24h, at least 2m) is how
	// long a published change event stays in the outbox before the relay
	// deletes it; the Redis stream, not the outbox, serves subscribers.
	OutboxRetention time.Duration
	// ResponseCacheTTL (RESPONSE_CACHE_TTL, default 30s; 0 turns the cache
	// off) bounds how long a cached answer of a public aggregate query
	// (indicators, say) lives; change events empty the cache sooner.
	ResponseCacheTTL time.Duration
	// ResponseCacheBytes (RESPONSE_CACHE_BYTES, default 32 MiB) bounds
	// the cached answers' total size.
	ResponseCacheBytes int64
	// PersistedOnly (PERSISTED_ONLY) names the callers that may run
	// allow-listed operations only: "anonymous", "citizen-app".
	PersistedOnly []string
	// ReplicaURLs (DATABASE_REPLICA_URLS, comma-separated) are streaming
	// replicas of DATABASE_URL that serve read-only operations; empty: the
	// primary serves everything.
	ReplicaURLs []string
	// ReplicaMaxLag (REPLICA_MAX_LAG) is how far behind the primary a
	// replica may be and still serve reads.
	ReplicaMaxLag time.Duration
}

// DevAuditHMACKey keys the audit chain in development mode when no key is
// configured. Production mode refuses it: with a published key anyone who
// can write the table could recompute the chain.
const DevAuditHMACKey = "fengcheng-datahub-development-only-audit-key"

// AuditCheckpointIntervalDefault is how often the audit head is signed and
// exported.
const AuditCheckpointIntervalDefault = time.Minute

// AuditFlushLingerDefault is how long, under load, a response's audit
// commit waits for others to share it (measured: 1 ms brings the cost of
// access control and audit on a page of cases from about a third to about
// a tenth; longer gains nothing).
const AuditFlushLingerDefault = time.Millisecond

// minAuditKeyBytes matches audit.MinKeyBytes (config imports no domain
// package).
const minAuditKeyBytes = 32

// Defaults.
const (
	ListenAddrDefault     = "127.0.0.1:8080"
	DatabaseURLDefault    = "postgres://postgres@127.0.0.1:5432/datahub?sslmode=disable"
	RedisURLDefault       = "redis://127.0.0.1:6379/0"
	RedisPrefixDefault    = "datahub:"
	MaxBodyBytesDefault   = 1 << 20
	IngestMaxBytesDefault = 2 << 30
	RequestTimeoutDefault = 30 * time.Second
	ReplicaMaxLagDefault  = time.Second
	// APIKeyCacheTTLDefault: see Config.APIKeyCacheTTL.
	APIKeyCacheTTLDefault = 15 * time.Second
	// OutboxRetentionDefault: see Config.OutboxRetention.
	OutboxRetentionDefault = 24 * time.Hour
	// ResponseCacheTTLDefault and ResponseCacheBytesDefault: see Config.
	ResponseCacheTTLDefault   = 30 * time.Second
	ResponseCacheBytesDefault = 32 << 20
	ShutdownGraceDefault      = 20 * time.Second

	BodyReadTimeoutDefault    = 30 * time.Second
	UploadMinRateDefault      = 16 << 10 // 16 KiB/s: a 2 GiB file may take a day and a half
	MaxConnectionsDefault     = 4096
	StreamConcurrencyDefault  = 2
	RateStreamDefault         = "60/1h"
	WSInitTimeoutDefault      = 10 * time.Second
	WSRecheckIntervalDefault  = 5 * time.Second
	WSMaxSubscriptionsDefault = 100

	DrawRecusalRoundsDefault = 2
)

// Load reads the configuration through getenv (os.Getenv in production,
// a map in tests) and validates it.
func Load(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Mode:          Mode(get("DATAHUB_MODE", string(ModeDevelopment))),
		ListenAddr:    get("LISTEN_ADDR", ListenAddrDefault),
		DatabaseURL:   get("DATABASE_URL", DatabaseURLDefault),
		RedisURL:      get("REDIS_URL", RedisURLDefault),
		RedisPrefix:   get("REDIS_PREFIX", RedisPrefixDefault),
		JWTIssuer:     get("JWT_ISSUER", ""),
		JWTAudience:   get("JWT_AUDIENCE", ""),
		JWTPublicKeys: get("JWT_PUBLIC_KEYS", ""),
		DevJWTSecret:  get("DEV_JWT_SECRET", ""),
		PolicyDir:     get("POLICY_DIR", ""),
		HolidayFile:   get("HOLIDAY_CALENDAR", ""),
		LogLevel:      get("LOG_LEVEL", "info"),
		RateCitizen:   get("RATE_LIMIT_CITIZEN", "30/1m"),
		RateAPIKey:    get("RATE_LIMIT_APIKEY", "1200/1m"),
		RateAnonymous: get("RATE_LIMIT_ANONYMOUS", "120/1m"),
		Introspection: Exposure(get("GRAPHQL_INTROSPECTION", "")),
		FederationSDL: Exposure(get("FEDERATION_SDL", "")),
		MetricsToken:  get("METRICS_TOKEN", ""),
		RateStream:    get("RATE_LIMIT_STREAM", RateStreamDefault),

		AuditHMACKey:        get("AUDIT_HMAC_KEY", ""),
		AuditHMACKeyFile:    get("AUDIT_HMAC_KEY_FILE", ""),
		AuditCheckpointFile: get("AUDIT_CHECKPOINT_FILE", ""),
	}
	if o := get("ALLOWED_ORIGINS", ""); o != "" {
		for _, s := range strings.Split(o, ",") {
			c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimSpace(s))
		}
	}
	for _, s := range strings.Split(get("TRUSTED_PROXIES", ""), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return c, fmt.Errorf("TRUSTED_PROXIES: %q is neither a CIDR nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	for _, k := range strings.Split(get("PERSISTED_ONLY", ""), ",") {
		switch k = strings.TrimSpace(k); k {
		case "":
		case "anonymous", "citizen-app":
			c.PersistedOnly = append(c.PersistedOnly, k)
		default:
			return c, fmt.Errorf("PERSISTED_ONLY: %q is none of anonymous, citizen-app", k)
		}
	}
	var err error
	if c.AuditSync, err = parseBool(get("AUDIT_SYNC", ""), true); err != nil {
		return c, fmt.Errorf("AUDIT_SYNC: %w", err)
	}
	if c.AuditFlushLinger, err = parseDuration(get("AUDIT_FLUSH_LINGER", ""), AuditFlushLingerDefault); err != nil || c.AuditFlushLinger < 0 || c.AuditFlushLinger > time.Second {
		return c, fmt.Errorf("AUDIT_FLUSH_LINGER must be a duration from 0 to 1s (got %q)", get("AUDIT_FLUSH_LINGER", ""))
	}
	if c.FastPath, err = parseBool(get("GRAPHQL_FAST_PATH", ""), true); err != nil {
		return c, fmt.Errorf("GRAPHQL_FAST_PATH: %w", err)
	}
	if c.APIKeyCacheTTL, err = parseDuration(get("API_KEY_CACHE_TTL", ""), APIKeyCacheTTLDefault); err != nil {
		return c, fmt.Errorf("API_KEY_CACHE_TTL: %w", err)
	}
	if c.APIKeyCacheTTL < 0 || c.APIKeyCacheTTL > 5*time.Minute {
		return c, errors.New("API_KEY_CACHE_TTL: want a duration from 0 (no cache) to 5m")
	}
	if c.OutboxRetention, err = parseDuration(get("OUTBOX_RETENTION", ""), OutboxRetentionDefault); err != nil {
		return c, fmt.Errorf("OUTBOX_RETENTION: %w", err)
	}
	if c.OutboxRetention < 2*time.Minute {
		return c, errors.New("OUTBOX_RETENTION: want at least 2m (the relay replays the last seconds of events after a Redis failover from the outbox)")
	}
	if c.ResponseCacheTTL, err = parseDuration(get("RESPONSE_CACHE_TTL", ""), ResponseCacheTTLDefault); err != nil {
		return c, fmt.Errorf("RESPONSE_CACHE_TTL: %w", err)
	}
	if c.ResponseCacheTTL < 0 {
		return c, errors.New("RESPONSE_CACHE_TTL: want a duration ≥ 0 (0 turns the cache off)")
	}
	if c.ResponseCacheBytes, err = parseInt(get("RESPONSE_CACHE_BYTES", ""), ResponseCacheBytesDefault); err != nil {
		return c, fmt.Errorf("RESPONSE_CACHE_BYTES: %w", err)
	}
	if c.ResponseCacheBytes <= 0 {
		return c, errors.New("RESPONSE_CACHE_BYTES: want a positive size in bytes")
	}
	if c.IngestMaxBytes, err = parseInt(get("INGEST_MAX_BYTES", ""), IngestMaxBytesDefault); err != nil {
		return c, fmt.Errorf("INGEST_MAX_BYTES: %w", err)
	}
	if c.MaxBodyBytes, err = parseInt(get("MAX_BODY_BYTES", ""), MaxBodyBytesDefault); err != nil {
		return c, fmt.Errorf("MAX_BODY_BYTES: %w", err)
	}
	conns, err := parseInt(get("DB_MAX_CONNS", ""), 0)
	if err != nil {
		return c, fmt.Errorf("DB_MAX_CONNS: %w", err)
	}
	c.DBMaxConns = int32(conns)
	if c.DBStmtTimeout, err = parseDuration(get("DB_STATEMENT_TIMEOUT", ""), 0); err != nil {
		return c, fmt.Errorf("DB_STATEMENT_TIMEOUT: %w", err)
	}
	for _, u := range strings.Split(get("DATABASE_REPLICA_URLS", ""), ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.ReplicaURLs = append(c.ReplicaURLs, u)
		}
	}
	if c.ReplicaMaxLag, err = parseDuration(get("REPLICA_MAX_LAG", ""), ReplicaMaxLagDefault); err != nil || c.ReplicaMaxLag <= 0 {
		return c, fmt.Errorf("REPLICA_MAX_LAG: want a positive duration such as 1s")
	}
	if c.RequestTimeout, err = parseDuration(get("REQUEST_TIMEOUT", ""), RequestTimeoutDefault); err != nil {
		return c, fmt.Errorf("REQUEST_TIMEOUT: %w", err)
	}
	if c.ShutdownGrace, err = parseDuration(get("SHUTDOWN_GRACE", ""), ShutdownGraceDefault); err != nil {
		return c, fmt.Errorf("SHUTDOWN_GRACE: %w", err)
	}
	if err := c.loadConnLimits(get); err != nil {
		return c, err
	}
	if c.AuditCheckpointInterval, err = parseDuration(get("AUDIT_CHECKPOINT_INTERVAL", ""), AuditCheckpointIntervalDefault); err != nil {
		return c, fmt.Errorf("AUDIT_CHECKPOINT_INTERVAL: %w", err)
	}
	// The bounds are property.MaxRecusalRounds' (config imports no domain
	// package): a look-back of zero would switch recusal off.
	rounds, err := parseInt(get("DRAW_RECUSAL_ROUNDS", ""), DrawRecusalRoundsDefault)
	if err != nil || rounds < 1 || rounds > 12 {
		return c, fmt.Errorf("DRAW_RECUSAL_ROUNDS: want a whole number of rounds from 1 to 12")
	}
	c.DrawRecusalRounds = int(rounds)
	return c, c.Validate()
}

// loadConnLimits reads the settings that bound connections, bodies and
// WebSockets.
func (c *Config) loadConnLimits(get func(k, def string) string) error {
	var err error
	if c.BodyReadTimeout, err = parseDuration(get("BODY_READ_TIMEOUT", ""), BodyReadTimeoutDefault); err != nil {
		return fmt.Errorf("BODY_READ_TIMEOUT: %w", err)
	}
	if c.UploadMinRate, err = parseInt(get("UPLOAD_MIN_RATE", ""), UploadMinRateDefault); err != nil {
		return fmt.Errorf("UPLOAD_MIN_RATE: %w", err)
	}
	ints := []struct {
		name string
		into *int
		def  int64
	}{
		{"MAX_CONNECTIONS", &c.MaxConnections, MaxConnectionsDefault},
		{"STREAM_CONCURRENCY", &c.StreamConcurrency, StreamConcurrencyDefault},
		{"WS_MAX_SUBSCRIPTIONS", &c.WSMaxSubscriptions, WSMaxSubscriptionsDefault},
	}
	for _, v := range ints {
		n, err := parseInt(get(v.name, ""), v.def)
		if err != nil || n > 1<<30 {
			return fmt.Errorf("%s: want a whole number up to %d", v.name, 1<<30)
		}
		*v.into = int(n)
	}
	if c.WSInitTimeout, err = parseDuration(get("WS_INIT_TIMEOUT", ""), WSInitTimeoutDefault); err != nil {
		return fmt.Errorf("WS_INIT_TIMEOUT: %w", err)
	}
	if c.WSRecheckInterval, err = parseDuration(get("WS_RECHECK_INTERVAL", ""), WSRecheckIntervalDefault); err != nil {
		return fmt.Errorf("WS_RECHECK_INTERVAL: %w", err)
	}
	return nil
}

// WithConnDefaults returns c with every unset connection limit at its
// default. A Config built by hand (tests, embedding) must not get a zero
// limit, which would cut every body off or refuse every subscription.
func (c Config) WithConnDefaults() Config {
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = BodyReadTimeoutDefault
	}
	if c.UploadMinRate <= 0 {
		c.UploadMinRate = UploadMinRateDefault
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = MaxConnectionsDefault
	}
	if c.StreamConcurrency <= 0 {
		c.StreamConcurrency = StreamConcurrencyDefault
	}
	if c.WSInitTimeout <= 0 {
		c.WSInitTimeout = WSInitTimeoutDefault
	}
	if c.WSRecheckInterval <= 0 {
		c.WSRecheckInterval = WSRecheckIntervalDefault
	}
	if c.WSMaxSubscriptions <= 0 {
		c.WSMaxSubscriptions = WSMaxSubscriptionsDefault
	}
	return c
}

// validateConnLimits refuses limits that would switch a protection off or
// make the hub unusable.
func (c Config) validateConnLimits() error {
	switch {
	case c.BodyReadTimeout < 100*time.Millisecond || c.BodyReadTimeout > 10*time.Minute:
		return fmt.Errorf("BODY_READ_TIMEOUT must be between 100ms and 10m")
	case c.UploadMinRate < 1:
		return fmt.Errorf("UPLOAD_MIN_RATE must be at least 1 byte per second")
	case c.MaxConnections < 1:
		return fmt.Errorf("MAX_CONNECTIONS must be at least 1")
	case c.StreamConcurrency < 1:
		return fmt.Errorf("STREAM_CONCURRENCY must be at least 1")
	case c.WSMaxSubscriptions < 1:
		return fmt.Errorf("WS_MAX_SUBSCRIPTIONS must be at least 1")
	case c.WSInitTimeout < 100*time.Millisecond || c.WSInitTimeout > 5*time.Minute:
		return fmt.Errorf("WS_INIT_TIMEOUT must be between 100ms and 5m")
	case c.WSRecheckInterval < 100*time.Millisecond || c.WSRecheckInterval > 5*time.Minute:
		return fmt.Errorf("WS_RECHECK_INTERVAL must be between 100ms and 5m")
	}
	return nil
}

// AuditKey returns the audit chain's key: AUDIT_HMAC_KEY_FILE's contents
// (surrounding white space trimmed), AUDIT_HMAC_KEY, or in development mode
// DevAuditHMACKey.
func (c Config) AuditKey() ([]byte, error) {
	key := c.AuditHMACKey
	if c.AuditHMACKeyFile != "" {
		b, err := os.ReadFile(c.AuditHMACKeyFile)
		if err != nil {
			return nil, fmt.Errorf("AUDIT_HMAC_KEY_FILE: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	switch {
	case key == "" && c.Mode == ModeDevelopment:
		return []byte(DevAuditHMACKey), nil
	case key == "":
		return nil, fmt.Errorf("DATAHUB_MODE=production needs AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE (the audit chain's key)")
	case c.Mode == ModeProduction && key == DevAuditHMACKey:
		return nil, fmt.Errorf("DATAHUB_MODE=production refuses the development audit key")
	case len(key) < minAuditKeyBytes:
		return nil, fmt.Errorf("the audit key must be at least %d bytes", minAuditKeyBytes)
	}
	return []byte(key), nil
}

// Validate checks the configuration for contradictions.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeDevelopment:
		// Anyone can mint a development token (the key is in the source),
		// so a development hub must be unreachable from other machines:
		// a forgotten DATAHUB_MODE on a server must not open it.
		if !LoopbackAddr(c.ListenAddr) {
			return fmt.Errorf("LISTEN_ADDR %q is reachable from other machines, but DATAHUB_MODE=development (the default) accepts tokens signed with the development key published in the source: "+
				"listen on loopback (127.0.0.1:8080, [::1]:8080, localhost:8080), or set DATAHUB_MODE=production with JWT_PUBLIC_KEYS", c.ListenAddr)
		}
	case ModeProduction:
		if c.DevJWTSecret != "" {
			return fmt.Errorf("DEV_JWT_SECRET is set but DATAHUB_MODE=production refuses development keys")
		}
		if c.JWTPublicKeys == "" {
			return fmt.Errorf("DATAHUB_MODE=production needs JWT_PUBLIC_KEYS (the identity provider's public keys)")
		}
	default:
		return fmt.Errorf("DATAHUB_MODE must be development or production, not %q", c.Mode)
	}
	if c.AuditHMACKey != "" && c.AuditHMACKeyFile != "" {
		return fmt.Errorf("set AUDIT_HMAC_KEY or AUDIT_HMAC_KEY_FILE, not both")
	}
	if c.AuditHMACKeyFile == "" {
		// A key file is read (and checked) when the hub starts.
		if _, err := c.AuditKey(); err != nil {
			return err
		}
	}
	if c.AuditCheckpointInterval < time.Second {
		return fmt.Errorf("AUDIT_CHECKPOINT_INTERVAL must be at least 1s")
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("MAX_BODY_BYTES must be at least 1024")
	}
	if err := c.validateExposure(); err != nil {
		return err
	}
	return c.validateConnLimits()
}

// LoopbackAddr reports whether a listen address (host:port) accepts
// connections from this machine only: a host in 127.0.0.0/8, ::1 or
// "localhost". An empty host (":8080") listens on every interface.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DevSecret returns the HS256 development secret, or nil in production.
func (c Config) DevSecret() []byte {
	if c.Mode != ModeDevelopment {
		return nil
	}
	if c.DevJWTSecret != "" {
		return []byte(c.DevJWTSecret)
	}
	return []byte(DevJWTSecret)
}

func parseInt(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func parseBool(s string, def bool) (bool, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseBool(s)
}

func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}
