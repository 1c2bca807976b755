package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/loadbench"
)

// BenchmarkCaseTableCeiling measures the fastest way PostgreSQL can add
// rows to the cases table — one INSERT … SELECT of rows already staged and
// located, with no merge, no case events and no outbox — which bounds any
// import of new cases from above. Sub-benchmarks take parts of the schema
// away (inside the transaction, which is rolled back) to show what each
// costs:
//
//	as-migrated        every index and foreign key
//	no-foreign-keys    the four per-row foreign-key checks dropped
//	no-search-indexes  also the trigram (description search) and ltree
//	                   (subtree filter) indexes dropped
//	keys-only          only the primary key and the two unique keys left
//
// DATAHUB_BENCH_IMPORT_ROWS sets the rows per run (100,000 by default).
func BenchmarkCaseTableCeiling(b *testing.B) {
	n := benchRows(b)
	pool := setup(b)
	const dropFKs = `ALTER TABLE cases DROP CONSTRAINT cases_owner_dept_fkey, DROP CONSTRAINT cases_source_dept_fkey,
		DROP CONSTRAINT cases_handling_dept_fkey, DROP CONSTRAINT cases_jurisdiction_code_fkey`
	const dropSearch = `DROP INDEX cases_description_trgm, cases_jpath`
	const dropSecondary = `DROP INDEX cases_reported, cases_deadline, cases_street_open_deadline, cases_street_reported,
		cases_community_reported, cases_handling_open_deadline, cases_status_reported, cases_citizen, cases_property,
		cases_jurisdiction_reported`
	variants := []struct {
		name string
		ddl  []string
	}{
		{"as-migrated", nil},
		{"no-foreign-keys", []string{dropFKs}},
		{"no-search-indexes", []string{dropFKs, dropSearch}},
		{"keys-only", []string{dropFKs, dropSearch, dropSecondary}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			var elapsed time.Duration
			var rows int
			for b.Loop() {
				b.StopTimer()
				// Dead rows of the last run would slow this one.
				if _, err := pool.Exec(ctx, "VACUUM cases"); err != nil {
					b.Fatal(err)
				}
				tx, err := pool.Begin(ctx)
				if err != nil {
					b.Fatal(err)
				}
				// The pool's statement timeout is meant for requests.
				if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
					b.Fatal(err)
				}
				for _, ddl := range v.ddl {
					if _, err := tx.Exec(ctx, ddl); err != nil {
						b.Fatal(err)
					}
				}
				if err := loadbench.StageCeilingRows(ctx, tx, n); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				got, err := loadbench.InsertCeilingRows(ctx, tx)
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || got != int64(n) {
					b.Fatalf("insert: %v (%d rows)", err, got)
				}
				rows += n
				if err := tx.Rollback(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(elapsed.Microseconds())/float64(rows), "µs/row")
		})
	}
}
