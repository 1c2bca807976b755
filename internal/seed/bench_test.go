package seed

import (
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/calendar"
)

// BenchmarkGenerator measures case generation alone (no database).
func BenchmarkGenerator(b *testing.B) {
	now := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	cal := calendar.Default()
	g := newGenerator(1, b.N, now.AddDate(-3, 0, 0), now, cal, true)
	b.ResetTimer()
	ev := 0
	for g.next() {
		ev += len(g.c.events)
	}
	b.ReportMetric(float64(ev)/float64(b.N), "events/case")
}
