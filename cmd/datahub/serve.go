package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/telemetry"
	"go.opentelemetry.io/otel"
)

// loadConfig reads the environment and applies flag overrides. A command
// that defines a flag of its own under one of these names (import's --mode
// is the import mode) keeps it; the setting is then read from the
// environment only.
func (m *Main) loadConfig(fs *flag.FlagSet, args []string) (config.Config, error) {
	override := map[string]*string{}
	for _, f := range []struct{ name, env, usage string }{
		{"listen", "LISTEN_ADDR", "listen address (LISTEN_ADDR)"},
		{"database-url", "DATABASE_URL", "PostgreSQL URL (DATABASE_URL)"},
		{"redis-url", "REDIS_URL", "Redis URL (REDIS_URL)"},
		{"mode", "DATAHUB_MODE", "development or production (DATAHUB_MODE)"},
	} {
		if fs.Lookup(f.name) == nil {
			override[f.env] = fs.String(f.name, "", f.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, errUsage
	}
	return config.Load(func(k string) string {
		if v := override[k]; v != nil && *v != "" {
			return *v
		}
		return m.Getenv(k)
	})
}

func (m *Main) serve(ctx context.Context, args []string) error {
	cfg, err := m.loadConfig(m.flagSet("serve"), args)
	if err != nil {
		return err
	}
	log := m.logger(cfg.LogLevel)
	setGCDefaults(m.Getenv)
	if addr := m.Getenv("DEBUG_ADDR"); addr != "" {
		if err := serveDebug(ctx, addr, log); err != nil {
			return err
		}
	}
	var opts app.Options
	tp, err := telemetry.Setup(ctx, m.Getenv)
	if err != nil {
		return err
	}
	if tp != nil {
		// The SDK reports export failures through otel's one global
		// handler; the hub's log is the place for them.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("opentelemetry", "err", err) }))
		opts.TracerProvider = tp
		defer func() {
			// After the app has closed: the last requests' spans go out.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn("flush traces at shutdown", "err", err)
			}
		}()
		log.Info("tracing on", "exporter", "otlp")
	}
	a, err := app.New(ctx, cfg, log, opts)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx, func(addr string) {
		log.Info("serving", "addr", addr, "mode", string(cfg.Mode), "development_keys_accepted", cfg.DevSecret() != nil)
		if cfg.Mode == config.ModeDevelopment {
			log.Warn("DEVELOPMENT MODE: tokens signed with the development key are accepted; anyone who has the source can mint them. Serving loopback only; set DATAHUB_MODE=production for real use",
				"addr", addr)
			m.printWelcome(addr, cfg)
			return
		}
		fmt.Fprintf(m.Stdout, "\nFengcheng Data Hub is running in %s mode on http://%s/ (tokens from the identity provider only).\n\n", cfg.Mode, addr)
	})
}

// printWelcome shows a development token and a query to paste.
func (m *Main) printWelcome(addr string, cfg config.Config) {
	tok, err := auth.MintDev(cfg.DevSecret(), auth.DevClaims{
		Subject: "demo-dispatcher", Dept: "urban-management", Roles: []string{"officer", "dispatcher"},
	}, 12*time.Hour)
	if err != nil {
		return
	}
	fmt.Fprintf(m.Stdout, `
Fengcheng Data Hub is running in DEVELOPMENT mode.
  Tokens signed with the development key (published in the source) are
  accepted, so anyone can mint one: the hub serves this machine only.
  For real use set DATAHUB_MODE=production and JWT_PUBLIC_KEYS.

  GraphiQL:  http://%[1]s/
  GraphQL:   http://%[1]s/query

Development token (urban-management dispatcher, 12 h):
  %[2]s

Try it:
  curl -s http://%[1]s/query -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer %[2]s' \
    -d '{"query":"{ cases(filter:{jurisdiction:\"hailing.chengdong\", open:true}, orderBy: DEADLINE_ASC, first: 5) { totalCount edges { node { caseNo className status deadline overdue reporter { name phone } } } } }"}'

`, addr, tok)
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	cfg, err := m.loadConfig(m.flagSet("migrate"), args)
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, postgres.PoolConfig{URL: cfg.DatabaseURL, MaxConns: 2, StatementTimeout: 10 * time.Minute})
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := postgres.Migrate(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "migrations applied: %d\n", n)
	return nil
}

func (m *Main) token(args []string) error {
	fs := m.flagSet("token")
	sub := fs.String("sub", "", "subject (user id)")
	dept := fs.String("dept", "", "department code, e.g. urban-management")
	org := fs.String("org", "", "evaluation organisation code (evaluator tokens, instead of --dept)")
	roles := fs.String("roles", "", "comma-separated roles, e.g. officer,dispatcher")
	jur := fs.String("jurisdiction", "", "jurisdiction code inside the department's area, e.g. hailing.chengdong (default: the department's area; required for street-officer and grid-worker)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *sub == "" || (*dept == "") == (*org == "") || *roles == "" {
		fmt.Fprintln(m.Stderr, "usage: datahub token --sub S (--dept D --roles r1,r2 | --org O --roles evaluator) [--jurisdiction CODE] [--ttl 1h]")
		return errUsage
	}
	cfg, err := config.Load(m.Getenv)
	if err != nil {
		return err
	}
	if cfg.Mode != config.ModeDevelopment {
		return fmt.Errorf("development tokens are refused in %s mode; tokens come from the identity provider", cfg.Mode)
	}
	roleList := strings.Split(*roles, ",")
	jurisdiction := *jur
	if *org == "" {
		if jurisdiction, err = checkTokenNames(cfg, *dept, roleList, *jur); err != nil {
			return err
		}
	}
	tok, err := auth.MintDev(cfg.DevSecret(), auth.DevClaims{
		Subject: *sub, Dept: *dept, Org: *org, Roles: roleList, Jurisdiction: jurisdiction,
	}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(m.Stdout, tok)
	return nil
}

// checkTokenNames refuses a development token for a department, role or
// jurisdiction that does not exist, or for a jurisdiction outside the
// department's area: the hub would refuse it. It returns the jurisdiction
// to mint: the one given, or the department's area when none is (field
// roles must give theirs). Minting needs no database, so the department and
// the jurisdiction are looked up in the directory the seeder loads (the
// only directory a development hub has), the roles in the policy catalog.
func checkTokenNames(cfg config.Config, dept string, roles []string, jurisdiction string) (string, error) {
	var (
		depts []string
		area  string
	)
	for _, d := range seed.Departments() {
		depts = append(depts, d.Code)
		if d.Code == dept {
			area = d.JurisdictionCode
		}
	}
	if msg := auth.CheckKnownDept(dept, depts); msg != "" {
		return "", fmt.Errorf("token: %s", msg)
	}
	cat, err := policyCatalog(cfg)
	if err != nil {
		return "", err
	}
	if msg := auth.CheckKnownRoles(roles, auth.HoldableRoles(cat)); msg != "" {
		return "", fmt.Errorf("token: %s", msg)
	}
	if jurisdiction == "" {
		if r, field := auth.FieldRole(roles); field {
			return "", fmt.Errorf("token: a %s works in a street, community or grid: give --jurisdiction (%s or a jurisdiction under it)", r, area)
		}
		return area, nil
	}
	known := false
	for _, j := range seed.Jurisdictions() {
		if j.Code == jurisdiction {
			known = true
			break
		}
	}
	if !known {
		return "", fmt.Errorf("token: %s", auth.UnknownJurisdiction(jurisdiction))
	}
	if msg := auth.OutsideArea(dept, area, jurisdiction); msg != "" {
		return "", fmt.Errorf("token: %s", msg)
	}
	return jurisdiction, nil
}

// schemaPrint prints the SDL exactly as { _service { sdl } } returns it,
// by asking an in-process executor (no database needed); with client, the
// same schema as a client compiler reads it (app.ClientSDL).
func (m *Main) schemaPrint(client bool) error {
	sdl, err := app.ServedSDL()
	if err != nil {
		return err
	}
	if client {
		if sdl, err = app.ClientSDL(sdl); err != nil {
			return err
		}
	}
	fmt.Fprint(m.Stdout, sdl)
	return nil
}
