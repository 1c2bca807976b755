// Package config reads the hub's configuration from environment variables.
// Flags on the command line override single values; defaults are safe for a
// local development machine: development mode (the default) accepts tokens
// signed with a key published in the source, so it listens on loopback only,
// and production mode refuses development keys.
package config

import (
	"fmt"
	"net"
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
	Mode           Mode          // DATAHUB_MODE
	ListenAddr     string        // LISTEN_ADDR
	DatabaseURL    string        // DATABASE_URL
	DBMaxConns     int32         // DB_MAX_CONNS
	DBStmtTimeout  time.Duration // DB_STATEMENT_TIMEOUT
	RedisURL       string        // REDIS_URL
	RedisPrefix    string        // REDIS_PREFIX
	JWTIssuer      string        // JWT_ISSUER
	JWTAudience    string        // JWT_AUDIENCE
	JWTPublicKeys  string        // JWT_PUBLIC_KEYS: "kid=path,kid=path"
	DevJWTSecret   string        // DEV_JWT_SECRET (development mode only)
	PolicyDir      string        // POLICY_DIR: empty = the policies embedded in the binary
	HolidayFile    string        // HOLIDAY_CALENDAR: empty = built-in PRC calendar
	MaxBodyBytes   int64         // MAX_BODY_BYTES
	RequestTimeout time.Duration // REQUEST_TIMEOUT
	ShutdownGrace  time.Duration // SHUTDOWN_GRACE
	LogLevel       string        // LOG_LEVEL: debug, info, warn, error
	AllowedOrigins []string      // ALLOWED_ORIGINS: for browsers and WebSockets; empty = same origin only
	RateCitizen    string        // RATE_LIMIT_CITIZEN: per citizen, e.g. 30/1m
	RateAPIKey     string        // RATE_LIMIT_APIKEY: per API key
	RateAnonymous  string        // RATE_LIMIT_ANONYMOUS: per client address without credentials
	IngestMaxBytes int64         // INGEST_MAX_BYTES: bulk file size limit, before and after decompression
}

// Defaults.
const (
	ListenAddrDefault     = "127.0.0.1:8080"
	DatabaseURLDefault    = "postgres://postgres@127.0.0.1:5432/datahub?sslmode=disable"
	RedisURLDefault       = "redis://127.0.0.1:6379/0"
	RedisPrefixDefault    = "datahub:"
	MaxBodyBytesDefault   = 1 << 20
	IngestMaxBytesDefault = 2 << 30
	RequestTimeoutDefault = 30 * time.Second
	ShutdownGraceDefault  = 20 * time.Second
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
	}
	if o := get("ALLOWED_ORIGINS", ""); o != "" {
		for _, s := range strings.Split(o, ",") {
			c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimSpace(s))
		}
	}
	var err error
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
	if c.RequestTimeout, err = parseDuration(get("REQUEST_TIMEOUT", ""), RequestTimeoutDefault); err != nil {
		return c, fmt.Errorf("REQUEST_TIMEOUT: %w", err)
	}
	if c.ShutdownGrace, err = parseDuration(get("SHUTDOWN_GRACE", ""), ShutdownGraceDefault); err != nil {
		return c, fmt.Errorf("SHUTDOWN_GRACE: %w", err)
	}
	return c, c.Validate()
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
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("MAX_BODY_BYTES must be at least 1024")
	}
	return nil
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

func parseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}
