package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/app"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
)

// export writes an assessment snapshot to a file, resuming a partial file
// where it stopped. The caller authenticates with an evaluator's API key,
// so the export is checked and audited like a download over HTTP.
func (m *Main) export(ctx context.Context, args []string) error {
	fs := m.flagSet("export")
	id := fs.String("snapshot", "", "snapshot id")
	format := fs.String("format", "ndjson", "ndjson, csv, xlsx or parquet")
	bom := fs.Bool("bom", false, "csv: start with a UTF-8 byte order mark, so Excel reads Chinese correctly")
	out := fs.String("out", "", "output file (default <snapshot>.<format>)")
	resume := fs.Bool("resume", true, "continue a partial output file instead of starting over")
	key := fs.String("api-key", "", "an evaluator's API key (default $DATAHUB_API_KEY)")
	cfg, err := m.loadConfig(fs, args)
	if err != nil {
		return err
	}
	snap, err := uuid.Parse(*id)
	if err != nil {
		return fmt.Errorf("--snapshot: %q is not a snapshot id", *id)
	}
	f, err := evaluation.ParseFormat(*format)
	if err != nil {
		return err
	}
	if *bom && f == evaluation.FormatCSV {
		f = evaluation.FormatCSVBOM
	}
	if *key == "" {
		*key = m.Getenv("DATAHUB_API_KEY")
	}
	if *out == "" {
		*out = snap.String() + "." + *format
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
	manifest, err := a.Resolver.EvaluationService.Snapshot(ctx, snap)
	if err != nil {
		return err
	}
	total := manifest.Rendering(f).Bytes
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	var offset int64
	if *resume {
		if st, err := os.Stat(*out); err == nil && st.Size() <= total {
			offset = st.Size()
			flags = os.O_WRONLY | os.O_APPEND
		}
	}
	file, err := os.OpenFile(*out, flags, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	bar := progressbar.NewOptions64(total, progressbar.OptionSetWriter(m.Stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription("export "+*out), progressbar.OptionThrottle(200*time.Millisecond))
	_ = bar.Set64(offset)
	n, err := a.Resolver.EvaluationService.Export(ctx, snap, f, io.MultiWriter(file, bar), offset)
	if err != nil {
		return fmt.Errorf("export after %d bytes (run again to resume): %w", offset+n, err)
	}
	fmt.Fprintf(m.Stdout, "\nwrote %s: %d bytes, %d rows; check: sha256 %s\n", *out, offset+n, manifest.Rows, manifest.Rendering(f).SHA256)
	return nil
}
