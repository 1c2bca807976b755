// Package loadbench drives the hub's named workloads (S1–S7) through its
// real HTTP stack with real credentials, access control and audit on, and
// measures each against its floor: the same SQL run directly through pgx,
// or for the bulk import the cases table's own ceiling. `datahub bench`
// runs it against a hub it starts as shipped.
package loadbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Options say where the hub is and how hard to drive it.
type Options struct {
	// HubURL is the hub's base URL, e.g. http://127.0.0.1:18080.
	HubURL string
	// Pool reaches the hub's database: fixtures, floors and the ceiling.
	Pool *pgxpool.Pool
	// DevSecret signs the staff tokens (the hub runs in development mode).
	DevSecret []byte
	// MetricsToken reads the hub's /metrics (statements per request).
	MetricsToken string
	// RSS returns the hub's peak resident set so far, CurrentRSS its
	// resident set now (either may be nil).
	RSS, CurrentRSS func() uint64
	// Duration and Warmup of each closed-loop and open-loop run.
	Duration, Warmup time.Duration
	// Soak is how long S6 holds 70 % of its peak (Duration when zero).
	Soak time.Duration
	// Connections is the closed loop's fixed concurrency.
	Connections int
	// Rate is the open loop's fixed arrival rate (requests per second).
	Rate int
	// Scenarios to run (S1…S7); empty runs all.
	Scenarios []string
	// ImportRows is S7's file size.
	ImportRows int
	// Log receives progress lines.
	Log io.Writer
}

// Row is one line of the result table.
type Row struct {
	Scenario string
	Mode     string // "closed 32" or "open 500/s"
	Requests uint64
	RPS      float64
	P50      time.Duration
	P95      time.Duration
	P99      time.Duration
	Errors   uint64
	// Statements is SQL statements per request (-1 when unknown).
	Statements float64
	PeakRSS    uint64
	// Floor is the same work without the hub (req/s or rows/s), 0 if none.
	Floor float64
	Unit  string // "req/s" or "rows/s"
	Note  string
}

// Ratio is throughput over the floor, 0 without a floor.
func (r Row) Ratio() float64 {
	if r.Floor == 0 {
		return 0
	}
	return r.RPS / r.Floor
}

// Scenarios are the names Run knows, in order.
var Scenarios = []string{"S1", "S2", "S3", "S4", "S5", "S6", "S7"}

// Run prepares the fixtures and runs the chosen scenarios, one row (or
// more) each.
func Run(ctx context.Context, o Options) ([]Row, error) {
	if o.Connections <= 0 {
		o.Connections = 32
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	want := o.Scenarios
	if len(want) == 0 {
		want = Scenarios
	}
	for _, s := range want {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("unknown scenario %q (known: %v)", s, Scenarios)
		}
	}
	fx, err := prepare(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("prepare fixtures: %w", err)
	}
	var rows []Row
	for _, s := range want {
		fmt.Fprintf(o.Log, "bench: %s …\n", s)
		got, err := fx.run(ctx, s)
		if err != nil {
			return rows, fmt.Errorf("%s: %w", s, err)
		}
		rows = append(rows, got...)
	}
	return rows, nil
}

// attack drives targeter for the run's duration after a warm-up, closed
// loop at o.Connections (rate 0) or open loop at rate, and returns the
// measured row. A response counts as an error unless it is 200 without a
// GraphQL "errors" member.
func (fx *fixtures) attack(ctx context.Context, name string, tr vegeta.Targeter, rate int) (Row, error) {
	return fx.attackFor(ctx, name, tr, rate, fx.o.Duration)
}

// attackFor is attack measured for d.
func (fx *fixtures) attackFor(ctx context.Context, name string, tr vegeta.Targeter, rate int, d time.Duration) (Row, error) {
	o := fx.o
	mode := fmt.Sprintf("closed %d", o.Connections)
	pacer := vegeta.Rate{Freq: 0}
	opts := []func(*vegeta.Attacker){vegeta.Workers(uint64(o.Connections)), vegeta.MaxWorkers(uint64(o.Connections)),
		vegeta.Connections(o.Connections), vegeta.MaxConnections(o.Connections), vegeta.KeepAlive(true),
		vegeta.Timeout(30 * time.Second), vegeta.Client(&http.Client{Transport: fx.transport}),
		// A GraphQL response lists its errors before its data, so the
		// head tells an error; the rest is read and dropped, not kept
		// (keeping S5's 400 kB answers cost the load generator more than
		// the hub).
		vegeta.MaxBody(errorWindow)}
	if rate > 0 {
		mode = fmt.Sprintf("open %d/s", rate)
		pacer = vegeta.Rate{Freq: rate, Per: time.Second}
		// Enough workers that the arrival rate never waits for a response.
		opts[1] = vegeta.MaxWorkers(uint64(max(o.Connections, rate/10)))
	}
	if o.Warmup > 0 {
		at := vegeta.NewAttacker(opts...)
		for r := range at.Attack(tr, pacer, o.Warmup, name+"-warmup") {
			_ = r
		}
	}
	stmtBefore, reqBefore, err := fx.counters(ctx)
	if err != nil {
		return Row{}, err
	}
	at := vegeta.NewAttacker(opts...)
	var m vegeta.Metrics
	var errs uint64
	var firstErr string
	for r := range at.Attack(tr, pacer, d, name) {
		if bad := failed(r); bad != "" {
			errs++
			if firstErr == "" {
				firstErr = bad
			}
		}
		m.Add(r)
	}
	m.Close()
	stmtAfter, reqAfter, err := fx.counters(ctx)
	if err != nil {
		return Row{}, err
	}
	row := Row{Scenario: name, Mode: mode, Requests: m.Requests, RPS: float64(m.Requests-errs) / m.Duration.Seconds(),
		P50: m.Latencies.P50, P95: m.Latencies.P95, P99: m.Latencies.P99, Errors: errs, Statements: -1, Unit: "req/s"}
	if reqAfter > reqBefore && stmtAfter >= stmtBefore && stmtBefore >= 0 {
		row.Statements = float64(stmtAfter-stmtBefore) / float64(reqAfter-reqBefore)
	}
	if o.RSS != nil {
		row.PeakRSS = o.RSS()
	}
	if firstErr != "" {
		row.Note = "first error: " + firstErr
	}
	return row, nil
}

// errorWindow is how much of each response the load generator keeps.
const errorWindow = 4 << 10

// failed says why a result is an error, or "" when it is not.
func failed(r *vegeta.Result) string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Code != http.StatusOK:
		return fmt.Sprintf("HTTP %d: %.200s", r.Code, r.Body)
	case hasErrors(r.Body):
		return fmt.Sprintf("%.300s", r.Body)
	}
	return ""
}
