package loadbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// run runs one scenario and returns its rows.
func (fx *fixtures) run(ctx context.Context, name string) ([]Row, error) {
	switch name {
	case "S1":
		closed, err := fx.attack(ctx, "S1", fx.targetsS1(), 0)
		if err != nil {
			return nil, err
		}
		if closed.Floor, err = fx.floorS1(ctx); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		rows := []Row{closed}
		if fx.o.Rate > 0 {
			open, err := fx.attack(ctx, "S1", fx.targetsS1(), fx.o.Rate)
			if err != nil {
				return nil, err
			}
			rows = append(rows, open)
		}
		return rows, nil
	case "S2":
		return fx.one(ctx, "S2", fx.targetsS2())
	case "S3":
		row, err := fx.attack(ctx, "S3", fx.targetsS3(), 0)
		if err != nil {
			return nil, err
		}
		if row.Floor, err = fx.floorS3(ctx); err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		return []Row{row}, nil
	case "S4":
		return fx.one(ctx, "S4", fx.targetsS4())
	case "S5":
		return fx.indicators(ctx)
	case "S6":
		return fx.mixed(ctx)
	case "S7":
		return fx.bulkImport(ctx)
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

func (fx *fixtures) one(ctx context.Context, name string, tr vegeta.Targeter) ([]Row, error) {
	row, err := fx.attack(ctx, name, tr, 0)
	if err != nil {
		return nil, err
	}
	return []Row{row}, nil
}

// indicators times S5's first request (cold: nothing of it cached), then
// drives it warm.
func (fx *fixtures) indicators(ctx context.Context) ([]Row, error) {
	if err := fx.waitIndicators(ctx); err != nil {
		return nil, err
	}
	t := fx.targetS5()
	req, err := t.Request()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := (&http.Client{Transport: fx.transport, Timeout: time.Minute}).Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cold indicators: %w", err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	cold := time.Since(start)
	if res.StatusCode != http.StatusOK || hasErrors(body) {
		return nil, fmt.Errorf("cold indicators: HTTP %d: %.300s", res.StatusCode, body)
	}
	// Warm, first with the response cache bypassed (every request asks
	// for a fresh answer), then as clients send it.
	fresh := t
	fresh.Header = t.Header.Clone()
	fresh.Header.Set("Cache-Control", "no-cache")
	off, err := fx.attack(ctx, "S5", func(out *vegeta.Target) error { *out = fresh; return nil }, 0)
	if err != nil {
		return nil, err
	}
	off.Note = join(fmt.Sprintf("cold %s; response cache bypassed", cold.Round(time.Millisecond)), off.Note)
	on, err := fx.attack(ctx, "S5", func(out *vegeta.Target) error { *out = t; return nil }, 0)
	if err != nil {
		return nil, err
	}
	on.Note = join("response cache on", on.Note)
	return []Row{off, on}, nil
}

// waitIndicators waits (up to ten minutes) until the hub has built its
// indicator rollups, which it does at start after a bulk load. It asks for
// another month than S5's, so S5's first request stays cold.
func (fx *fixtures) waitIndicators(ctx context.Context) error {
	from := fx.year.AddDate(-1, 0, 0)
	q := `query($from: DateTime!, $to: DateTime!) { indicators(period: MONTH, from: $from, to: $to) { periodStart } }`
	vars := map[string]any{"from": from.Format(time.RFC3339), "to": from.AddDate(0, 1, 0).Format(time.RFC3339)}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		err := fx.post(ctx, fx.evaluator, q, vars, nil)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("indicators not ready after ten minutes: %w", err)
		}
		fmt.Fprintf(fx.o.Log, "bench: waiting for the hub to build its indicator rollups (%.120s)\n", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// mixed finds S6's closed-loop peak, then holds 70 % of it as an open
// loop for the soak duration and compares the peaks of the hub's resident
// memory at its two ends (flat memory means no leak).
func (fx *fixtures) mixed(ctx context.Context) ([]Row, error) {
	tr, err := fx.targetsS6()
	if err != nil {
		return nil, err
	}
	peak, err := fx.attack(ctx, "S6", tr, 0)
	if err != nil {
		return nil, err
	}
	rate := int(0.7 * peak.RPS)
	if rate < 1 {
		return []Row{peak}, nil
	}
	soakFor := fx.o.Soak
	if soakFor <= 0 {
		soakFor = fx.o.Duration
	}
	stop := sampleRSS(ctx, fx.currentRSS, rssEvery(soakFor))
	soak, err := fx.attackFor(ctx, "S6", tr, rate, soakFor)
	samples := stop()
	if err != nil {
		return nil, err
	}
	soak.Note = join(join("70% of peak", describeRSS(samples)), soak.Note)
	return []Row{peak, soak}, nil
}

// bulkImport sends a file of new cases to /ingest/cases, then the same
// file again (every row unchanged), and measures the table's ceiling in
// the same run.
func (fx *fixtures) bulkImport(ctx context.Context) ([]Row, error) {
	n := fx.o.ImportRows
	if n <= 0 {
		n = 100_000
	}
	var file bytes.Buffer
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	prefix := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range n {
		WriteNewCase(&file, prefix, i, rng)
	}
	stmtBefore, _, err := fx.counters(ctx)
	if err != nil {
		return nil, err
	}
	first, firstPhases, err := fx.upload(ctx, file.Bytes(), n, "inserted")
	if err != nil {
		return nil, err
	}
	stmtAfter, _, err := fx.counters(ctx)
	if err != nil {
		return nil, err
	}
	// A file is sent again later in life, not while the hub still relays
	// the first one's events and folds its cases into the indicators.
	settled, err := fx.settle(ctx)
	if err != nil {
		return nil, err
	}
	again, againPhases, err := fx.upload(ctx, file.Bytes(), n, "unchanged")
	if err != nil {
		return nil, fmt.Errorf("re-send: %w", err)
	}
	ceiling, err := CaseTableCeiling(ctx, fx.o.Pool, n)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	row := Row{Scenario: "S7", Mode: fmt.Sprintf("%d new rows", n), Requests: 1, RPS: float64(n) / first.Seconds(),
		P50: first, P95: first, P99: first, Statements: -1, Floor: ceiling, Unit: "rows/s",
		Note: fmt.Sprintf("re-sent file %.0f rows/s (sent %s later, once the first import's events and indicators were done); phases new %s, re-sent %s",
			float64(n)/again.Seconds(), settled.Round(time.Second), firstPhases, againPhases)}
	if stmtBefore >= 0 {
		row.Statements = stmtAfter - stmtBefore
	}
	if fx.o.RSS != nil {
		row.PeakRSS = fx.o.RSS()
	}
	return []Row{row}, nil
}

// settle waits (up to five minutes) until the hub has relayed every event
// and applied every case change to the indicators, and says how long that
// took.
func (fx *fixtures) settle(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	for {
		var pending int64
		if err := fx.o.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL)
			+ (SELECT count(*) FROM case_eval_dirty)`).Scan(&pending); err != nil {
			return 0, fmt.Errorf("pending background work: %w", err)
		}
		if pending == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > 5*time.Minute {
			return 0, fmt.Errorf("the hub still has %d events or case changes pending after five minutes", pending)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// upload posts one NDJSON file and checks that want (inserted or
// unchanged) counts every row. It returns how long the upload took and the
// import's phases as the hub reports them.
func (fx *fixtures) upload(ctx context.Context, file []byte, n int, want string) (time.Duration, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fx.o.HubURL+"/ingest/cases", bytes.NewReader(file))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+fx.sysToken)
	start := time.Now()
	res, err := (&http.Client{Transport: fx.transport, Timeout: 30 * time.Minute}).Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("upload: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	took := time.Since(start)
	if err != nil {
		return 0, "", err
	}
	var rep map[string]any
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil {
		return 0, "", fmt.Errorf("upload: HTTP %d: %.300s", res.StatusCode, body)
	}
	if got, _ := rep[want].(float64); int(got) != n {
		return 0, "", fmt.Errorf("upload: %s %v of %d rows: %.300s", want, rep[want], n, body)
	}
	return took, formatPhases(rep["phases"]), nil
}

// formatPhases writes an import report's phases (milliseconds by name) as
// "copy 1.1 s, check 0.6 s, merge 0.7 s, commit 0.01 s".
func formatPhases(v any) string {
	ms, _ := v.(map[string]any)
	var parts []string
	for _, name := range []string{"copy", "check", "merge", "commit"} {
		if f, ok := ms[name+"Ms"].(float64); ok {
			parts = append(parts, fmt.Sprintf("%s %.2g s", name, f/1000))
		}
	}
	return strings.Join(parts, ", ")
}

func (fx *fixtures) currentRSS() uint64 {
	if fx.o.CurrentRSS == nil {
		return 0
	}
	return fx.o.CurrentRSS()
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
