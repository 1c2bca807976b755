package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
				stageCeilingRows(b, tx, n)
				b.StartTimer()
				start := time.Now()
				tag, err := tx.Exec(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source,
					status, description, address, lat, lng, jurisdiction_code, street_code, community_code, reporter_name,
					reporter_phone, photo_urls, reported_at, source_dept, external_id, created_at, updated_at, version)
					SELECT id, 'HLB-' || line, 'urban-management', kind, major_code, minor_code, source, 'REPORTED',
						description, address, lat, lng, jurisdiction_code, 'hailing.chengdong', 'hailing.chengdong.fenghuang',
						reporter_name, reporter_phone, photo_urls, reported_at, 'urban-management', external_id, now(), now(), 1
					FROM ceiling_staging`)
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || tag.RowsAffected() != int64(n) {
					b.Fatalf("insert: %v (%d rows)", err, tag.RowsAffected())
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

// stageCeilingRows fills a temporary table with n new cases shaped like
// genCase's, every one located in the same community.
func stageCeilingRows(b *testing.B, tx pgx.Tx, n int) {
	b.Helper()
	ctx := context.Background()
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE ceiling_staging ON COMMIT DROP AS
		SELECT i AS line, gen_random_uuid() AS id, 'ceiling-' || i AS external_id,
			(ARRAY['EVENT', 'EVENT', 'COMPONENT', 'EVENT', 'COMPONENT'])[i % 5 + 1] AS kind,
			(ARRAY['05', '01', '01', '02', '02'])[i % 5 + 1] AS major_code,
			(ARRAY['0501', '0101', '0101', '0201', '0202'])[i % 5 + 1] AS minor_code,
			'DRONE_PATROL' AS source, '无人机巡查发现 ' || i || ' 号问题，请处理' AS description,
			'海陵区青年路 ' || i % 500 || ' 号' AS address, 32.36 + random() * 0.26 AS lat, 119.80 + random() * 0.25 AS lng,
			'hailing.chengdong.fenghuang' AS jurisdiction_code, '张三' AS reporter_name, '13812345678' AS reporter_phone,
			timestamptz '2024-01-01 00:00:00Z' + i * interval '30 seconds' AS reported_at,
			ARRAY['https://img.example.cn/ceiling/' || i || '.jpg'] AS photo_urls
		FROM generate_series(1, $1::int) i`, n); err != nil {
		b.Fatalf("stage: %v", err)
	}
}
