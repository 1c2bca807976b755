package loadbench

import (
	"fmt"
	"io"
	"time"
)

// WriteTable writes rows as one Markdown table.
func WriteTable(w io.Writer, rows []Row) error {
	if _, err := fmt.Fprintln(w, "| scenario | mode | requests | throughput | p50 | p95 | p99 | errors | SQL/request | hub peak RSS | floor | hub/floor | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"); err != nil {
		return err
	}
	for _, r := range rows {
		stmts, floor, ratio, rss := "—", "—", "—", "—"
		if r.Statements >= 0 {
			stmts = fmt.Sprintf("%.1f", r.Statements)
		}
		if r.Floor > 0 {
			floor = fmt.Sprintf("%.0f %s", r.Floor, r.Unit)
			ratio = fmt.Sprintf("%.2f", r.Ratio())
		}
		if r.PeakRSS > 0 {
			rss = mib(r.PeakRSS)
		}
		if _, err := fmt.Fprintf(w, "| %s | %s | %d | %.0f %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n",
			r.Scenario, r.Mode, r.Requests, r.RPS, r.Unit, ms(r.P50), ms(r.P95), ms(r.P99), r.Errors, stmts, rss, floor, ratio, r.Note); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}
