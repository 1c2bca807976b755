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
	"github.com/fengcheng/datahub/internal/config"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/fengcheng/datahub/policies"
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
	data, err := iofs.ReadFile(pfs, access.CatalogFile)
	if err != nil {
		return nil, fmt.Errorf("read policy catalog: %w", err)
	}
	return access.ParseCatalog(data)
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
		fmt.Fprintln(m.Stderr, "usage: datahub apikey create --name N --dept D --roles r1,r2 [--jurisdiction C] [--ttl 2160h] | list | revoke ID")
		return errUsage
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("apikey " + sub)
	name := fs.String("name", "", "who holds the key and why")
	dept := fs.String("dept", "", "department the key acts for")
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
		if *name == "" || *dept == "" || *roles == "" {
			return fmt.Errorf("apikey create needs --name, --dept and --roles")
		}
		// The department and jurisdiction are checked against the
		// directory in the database, the roles against the policy.
		cat, err := policyCatalog(cfg)
		if err != nil {
			return err
		}
		plain, k, err := keys.WithRoles(auth.HoldableRoles(cat)).Create(ctx, auth.APIKeySpec{Name: *name, Dept: *dept, Roles: strings.Split(*roles, ","),
			Jurisdiction: *jur, ExpiresAt: time.Now().Add(*ttl)})
		if err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "created key %s for %s (%s), expires %s; the secret is shown once:\n", k.ID, k.Dept, strings.Join(k.Roles, ","), k.ExpiresAt.Format(time.RFC3339))
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Dept, strings.Join(k.Roles, ","), k.ExpiresAt.Format(time.DateOnly), state)
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
		return nil
	default:
		return fmt.Errorf("unknown apikey command %q (create, list, revoke)", sub)
	}
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
	eng, err := access.NewEngine(access.EngineConfig{FS: pfs})
	if err != nil {
		return err
	}
	return access.WriteMatrix(m.Stdout, eng)
}
