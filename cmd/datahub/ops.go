package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/auth"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/fengcheng/datahub/policies"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	iofs "io/fs"
	"os"
)

// openPool opens a small pool for an operator command.
func (m *Main) openPool(ctx context.Context, fs *flag.FlagSet, args []string) (*pgxpool.Pool, error) {
	cfg, err := m.loadConfig(fs, args)
	if err != nil {
		return nil, err
	}
	return openOpsPool(ctx, cfg)
}

func openOpsPool(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	return postgres.Open(ctx, postgres.PoolConfig{URL: cfg.DatabaseURL, MaxConns: 4, StatementTimeout: 30 * time.Minute})
}

// policyCatalog reads the catalog of the policy the hub runs with
// (POLICY_DIR, or the policies embedded in the binary): it says which roles
// a credential may hold.
func policyCatalog(cfg config.Config) (*access.Catalog, error) {
	var pfs iofs.FS = policies.FS
	if cfg.PolicyDir != "" {
		pfs = os.DirFS(cfg.PolicyDir)
	}
	data, err := iofs.ReadFile(pfs, policy.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("read policy catalog: %w", err)
	}
	return policy.ParseCatalog(data)
}

// keyPrincipal authenticates a command's API key exactly as the hub does a
// request's, with the same identity checks; a command without a key is
// refused rather than run as the anonymous public.
func keyPrincipal(ctx context.Context, a *app.App, key string) (*access.Principal, error) {
	if strings.TrimSpace(key) == "" {
		return nil, fmt.Errorf("give an API key with --api-key or DATAHUB_API_KEY")
	}
	return a.Auth.AuthenticateCredentials(ctx, auth.Credentials{APIKey: key})
}

func (m *Main) apikey(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, "usage: datahub apikey create --name N (--dept D --roles r1,r2 | --org O --roles evaluator) [--jurisdiction C] [--ttl 2160h] | list | revoke ID")
		return errUsage
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("apikey " + sub)
	name := fs.String("name", "", "who holds the key and why")
	dept := fs.String("dept", "", "department the key acts for")
	org := fs.String("org", "", "registered evaluation organisation (evaluator keys, instead of --dept)")
	roles := fs.String("roles", "", "comma-separated roles")
	jur := fs.String("jurisdiction", "", "jurisdiction subtree inside the department's area (default: the whole area)")
	ttl := fs.Duration("ttl", 90*24*time.Hour, "lifetime (at most a year)")
	cfg, err := m.loadConfig(fs, rest)
	if err != nil {
		return err
	}
	pool, err := openOpsPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	keys := auth.NewAPIKeys(pool)
	switch sub {
	case "create":
		if *name == "" || (*dept == "") == (*org == "") || *roles == "" {
			return fmt.Errorf("apikey create needs --name, --roles and either --dept or (for an evaluator) --org")
		}
		// The department and jurisdiction are checked against the
		// directory in the database, the roles against the policy.
		cat, err := policyCatalog(cfg)
		if err != nil {
			return err
		}
		plain, k, err := keys.WithRoles(auth.HoldableRoles(cat)).Create(ctx, auth.APIKeySpec{Name: *name, Dept: *dept, Org: *org, Roles: strings.Split(*roles, ","),
			Jurisdiction: *jur, ExpiresAt: time.Now().Add(*ttl)})
		if err != nil {
			return err
		}
		holder := k.Dept
		if k.Org != "" {
			holder = "organisation " + k.Org
		}
		fmt.Fprintf(m.Stderr, "created key %s for %s (%s), expires %s; the secret is shown once:\n", k.ID, holder, strings.Join(k.Roles, ","), k.ExpiresAt.Format(time.RFC3339))
		fmt.Fprintln(m.Stdout, plain)
		return nil
	case "list":
		list, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tDEPT\tROLES\tEXPIRES\tSTATE")
		now := time.Now()
		for _, k := range list {
			state := "active"
			if !k.Active(now) {
				state = "inactive"
				if k.RevokedAt != nil {
					state = "revoked"
				}
			}
			holder := k.Dept
			if k.Org != "" {
				holder = "org:" + k.Org
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, holder, strings.Join(k.Roles, ","), k.ExpiresAt.Format(time.DateOnly), state)
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: datahub apikey revoke ID")
		}
		if err := keys.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "revoked %s\n", fs.Arg(0))
		if err := announceRevoked(ctx, cfg, fs.Arg(0)); err != nil {
			// The key is revoked; running hubs refuse it once their
			// cache of accepted keys lets it go.
			fmt.Fprintf(m.Stderr, "warning: %v; running hubs refuse the key within API_KEY_CACHE_TTL (%s)\n", err, cfg.APIKeyCacheTTL)
		}
		return nil
	default:
		return fmt.Errorf("unknown apikey command %q (create, list, revoke)", sub)
	}
}

// evalorg registers a third-party evaluation organisation with its
// contract (period and scope), or lists them. Registering an existing code
// replaces its contract (a renewal).
func (m *Main) evalorg(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "register" && args[0] != "list") {
		fmt.Fprintln(m.Stderr, "usage: datahub evalorg register --code C --name N --contract NO --from 2025-01-01 --to 2026-01-01 "+
			"--datasets cases,violations --jurisdictions hailing[,…] [--credit-code USCC] | list")
		return errUsage
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("evalorg " + sub)
	code := fs.String("code", "", "organisation code (lower-case letters, digits, '-'; not a department's)")
	name := fs.String("name", "", "registered name")
	credit := fs.String("credit-code", "", "unified social credit code")
	contract := fs.String("contract", "", "contract number")
	from := fs.String("from", "", "contract start (date or RFC 3339, inclusive)")
	to := fs.String("to", "", "contract end (date or RFC 3339, exclusive)")
	datasets := fs.String("datasets", "", "comma-separated datasets the contract covers: "+strings.Join(evaluation.SnapshotDatasets(), ", "))
	jurs := fs.String("jurisdictions", "hailing", "comma-separated jurisdiction subtrees the contract covers")
	cfg, err := m.loadConfig(fs, rest)
	if err != nil {
		return err
	}
	pool, err := openOpsPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.NewEvaluationStore(pool)
	if sub == "list" {
		rows, err := pool.Query(ctx, `SELECT code FROM eval_organisations ORDER BY code`)
		if err != nil {
			return fmt.Errorf("evalorg list: %w", err)
		}
		codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("evalorg list: %w", err)
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tNAME\tCONTRACT\tFROM\tTO\tDATASETS\tJURISDICTIONS")
		for _, c := range codes {
			o, err := store.Organisation(ctx, c)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Code, o.Name, o.ContractNo, o.From.Format(time.RFC3339), o.To.Format(time.RFC3339),
				strings.Join(o.Datasets, ","), strings.Join(o.Jurisdictions, ","))
		}
		return tw.Flush()
	}
	parse := func(flag, v string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		t, err := time.ParseInLocation(time.DateOnly, v, calendar.Default().Location())
		if err != nil {
			return time.Time{}, fmt.Errorf("evalorg register: --%s %q: give a date (2025-01-01) or an RFC 3339 time", flag, v)
		}
		return t, nil
	}
	f, err := parse("from", *from)
	if err != nil {
		return err
	}
	t, err := parse("to", *to)
	if err != nil {
		return err
	}
	o := evaluation.Organisation{Code: *code, Name: *name, CreditCode: *credit, ContractNo: *contract, From: f, To: t,
		Datasets: splitList(*datasets), Jurisdictions: splitList(*jurs), RegisteredBy: "datahub evalorg"}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := store.RegisterOrganisation(ctx, &o); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "registered %s (%s), contract %s from %s to %s over %s in %s\n", o.Code, o.Name, o.ContractNo,
		o.From.Format(time.RFC3339), o.To.Format(time.RFC3339), strings.Join(o.Datasets, ","), strings.Join(o.Jurisdictions, ","))
	return nil
}

func (m *Main) auditVerify(ctx context.Context, args []string) error {
	fs := m.flagSet("audit verify")
	cpFile := fs.String("checkpoints", "", "file of signed checkpoints (AUDIT_CHECKPOINT_FILE) to check the chain against")
	head := fs.String("head", "", "a head recorded earlier, as SEQ:HEXHASH (from a previous run's output)")
	noRedis := fs.Bool("no-redis", false, "do not read the checkpoints kept in Redis")
	cfg, err := m.loadConfig(fs, args)
	if err != nil {
		return err
	}
	key, err := cfg.AuditKey()
	if err != nil {
		return err
	}
	opts := audit.VerifyOptions{Key: key}
	if *head != "" {
		h, err := parseHead(*head)
		if err != nil {
			return err
		}
		opts.Heads = append(opts.Heads, h)
	}
	if *cpFile != "" {
		f, err := os.Open(*cpFile)
		if err != nil {
			return fmt.Errorf("--checkpoints: %w", err)
		}
		cps, err := audit.ReadCheckpoints(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--checkpoints %s: %w", *cpFile, err)
		}
		opts.Checkpoints = append(opts.Checkpoints, cps...)
		fmt.Fprintf(m.Stdout, "%d checkpoint(s) from %s\n", len(cps), *cpFile)
	}
	if !*noRedis {
		cps, err := redisCheckpoints(ctx, cfg)
		if err != nil {
			// Checkpoints elsewhere may still be given; say what was not checked.
			fmt.Fprintf(m.Stderr, "warning: %v: the chain is not checked against Redis's checkpoints\n", err)
		} else {
			opts.Checkpoints = append(opts.Checkpoints, cps...)
			fmt.Fprintf(m.Stdout, "%d checkpoint(s) from redis\n", len(cps))
		}
	}
	pool, err := openOpsPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	rep, err := audit.Verify(ctx, pool, opts)
	if err != nil {
		return err
	}
	if rep.OK {
		fmt.Fprintf(m.Stdout, "audit chain intact: %d records (%d unkeyed legacy), %d checkpoint(s) matched, head %d:%s\n",
			rep.Checked, rep.Legacy, rep.CheckpointsMatched, rep.LastSeq, hex.EncodeToString(rep.LastHash))
		if len(opts.Checkpoints)+len(opts.Heads) == 0 {
			fmt.Fprintln(m.Stdout, "no checkpoint or recorded head given: removal of the newest records cannot be ruled out; keep the head above and pass it with --head next time")
		}
		return nil
	}
	fmt.Fprintf(m.Stdout, "AUDIT CHAIN BROKEN: %d problem(s) in %d records\n", rep.ProblemCount, rep.Checked)
	for _, p := range rep.Problems {
		fmt.Fprintf(m.Stdout, "  seq %d: %s: %s\n", p.Seq, p.Kind, p.Detail)
	}
	return fmt.Errorf("audit chain broken")
}

// parseHead parses SEQ:HEXHASH.
func parseHead(s string) (audit.Checkpoint, error) {
	seqText, hashText, ok := strings.Cut(s, ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	hash, herr := hex.DecodeString(hashText)
	if !ok || err != nil || herr != nil || seq < 0 || len(hash) != audit.HashSize {
		return audit.Checkpoint{}, fmt.Errorf("--head must be SEQ:HEXHASH (64 hex digits), as printed by audit verify")
	}
	return audit.Checkpoint{Seq: seq, Hash: hash, At: time.Now()}, nil
}

// announceRevoked tells running hubs that key id is revoked, so they drop
// it from their caches of accepted keys at once.
func announceRevoked(ctx context.Context, cfg config.Config, id string) error {
	rdb, err := redisclient.New(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return auth.AnnounceRevoked(ctx, rdb, cfg.RedisPrefix, id)
}

// redisCheckpoints reads the checkpoints the hub keeps in Redis.
func redisCheckpoints(ctx context.Context, cfg config.Config) ([]audit.Checkpoint, error) {
	rdb, err := redisclient.New(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return app.RedisCheckpoints(ctx, rdb, cfg.RedisPrefix+app.AuditCheckpointsKey)
}

// policyMatrix prints who sees what, computed from the policy files alone.
func (m *Main) policyMatrix(args []string) error {
	fs := m.flagSet("policy matrix")
	dir := fs.String("dir", "", "policy directory (default: the policies embedded in the binary)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var pfs iofs.FS = policies.FS
	if *dir != "" {
		pfs = os.DirFS(*dir)
	}
	eng, err := policy.NewEngine(policy.EngineConfig{FS: pfs})
	if err != nil {
		return err
	}
	return policy.WriteMatrix(m.Stdout, eng)
}
