package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fengcheng/datahub/graph"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/vektah/gqlparser/v2"
)

// operations manages the persisted-operation allow-list in Redis:
//
//	datahub operations register FILE.graphql...   validate, store, print each hash
//	datahub operations list                       hash and first line of each
//	datahub operations remove HASH...
func (m *Main) operations(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(m.Stderr, "usage: datahub operations register FILE... | list | remove HASH...")
		return errUsage
	}
	sub, rest := args[0], args[1:]
	fs := m.flagSet("operations " + sub)
	cfg, err := m.loadConfig(fs, rest)
	if err != nil {
		return err
	}
	rdb, err := redisclient.New(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ops := server.NewPersistedOperations(rdb, cfg.RedisPrefix)
	files := fs.Args()
	switch sub {
	case "register":
		if len(files) == 0 {
			return errUsage
		}
		schema := app.NewSchema(&graph.Resolver{}).Schema()
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			// A document the schema refuses would be refused at every
			// request: refuse it here, where its author sees why.
			if _, errs := gqlparser.LoadQueryWithRules(schema, string(b), nil); len(errs) > 0 {
				return fmt.Errorf("%s: %w", f, errs)
			}
			h, err := ops.Register(ctx, string(b))
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "%s  %s\n", h, f)
		}
		return nil
	case "list":
		all, err := ops.List(ctx)
		if err != nil {
			return err
		}
		hashes := make([]string, 0, len(all))
		for h := range all {
			hashes = append(hashes, h)
		}
		slices.Sort(hashes)
		for _, h := range hashes {
			first, _, _ := strings.Cut(strings.TrimSpace(all[h]), "\n")
			fmt.Fprintf(m.Stdout, "%s  %.80s\n", h, first)
		}
		return nil
	case "remove":
		for _, h := range files {
			if err := ops.Remove(ctx, h); err != nil {
				return err
			}
		}
		return nil
	}
	fmt.Fprintln(m.Stderr, "usage: datahub operations register FILE... | list | remove HASH...")
	return errUsage
}
