package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/schollz/progressbar/v3"
)

// importFile loads a bulk file from disk as a department system would over
// POST /ingest/{dataset}: the caller authenticates with the department
// system's API key, and the same checks, merge and report apply.
func (m *Main) importFile(ctx context.Context, args []string) error {
	fs := m.flagSet("import")
	dataset := fs.String("dataset", "cases", "dataset to load")
	mode := fs.String("mode", string(ingest.AllOrNothing), "all-or-nothing or skip-invalid")
	dryRun := fs.Bool("dry-run", false, "validate and report, write nothing")
	key := fs.String("api-key", "", "the department system's API key (default $DATAHUB_API_KEY)")
	cfg, err := m.loadConfig(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(m.Stderr, "usage: datahub import --dataset cases [--mode skip-invalid] [--dry-run] FILE(.ndjson|.csv)[.gz]")
		return errUsage
	}
	path := fs.Arg(0)
	format, gz, ok := ingest.FormatFromName(path)
	if !ok {
		return fmt.Errorf("%s: name the file .ndjson or .csv (optionally .gz)", path)
	}
	md, err := ingest.ParseMode(*mode)
	if err != nil {
		return err
	}
	if *key == "" {
		*key = m.Getenv("DATAHUB_API_KEY")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, m.logger("warn"), app.Options{})
	if err != nil {
		return err
	}
	defer a.Close()
	p, err := keyPrincipal(ctx, a, *key)
	if err != nil {
		return err
	}
	ctx = policy.WithRequestCache(access.WithPrincipal(ctx, p))
	bar := progressbar.NewOptions64(st.Size(), progressbar.OptionSetWriter(m.Stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("import "+path), progressbar.OptionThrottle(200*time.Millisecond))
	rep, err := a.Ingest.Import(ctx, *dataset, format, f, ingest.Options{Mode: md, Gzip: gz, DryRun: *dryRun,
		MaxBytes: cfg.IngestMaxBytes, Progress: func(n int64) {
			_ = bar.Set64(n)
			if n >= st.Size() {
				// The file is read; the checks and the merge, which write
				// nothing to show, take most of a big import's time.
				bar.Describe("checking and merging " + path)
			}
		}})
	fmt.Fprintln(m.Stderr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if !rep.Committed && !*dryRun {
		return fmt.Errorf("nothing was written: %s", rep.Message)
	}
	return nil
}
