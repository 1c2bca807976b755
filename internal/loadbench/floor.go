package loadbench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/links"
	"github.com/fengcheng/datahub/internal/page"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/property"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// closedLoop runs op from n goroutines for d and returns operations per
// second. It stops at the first error.
func closedLoop(ctx context.Context, n int, d time.Duration, op func(ctx context.Context, i uint64) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done, seq atomic.Uint64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx, seq.Add(1)); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { first = err; cancel() })
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// floorS1 is S1's SQL without the hub: the officer's page of open cases,
// through the same store and pool settings, reading the parts of a case
// the hub reads for S1's selection (the core and the reporter).
func (fx *fixtures) floorS1(ctx context.Context) (float64, error) {
	pool, err := fx.floorPool(ctx)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	store := postgres.NewCaseStore(pool)
	open := true
	return closedLoop(ctx, fx.o.Connections, fx.o.Duration, func(ctx context.Context, i uint64) error {
		s := fx.streets[i%uint64(len(fx.streets))]
		_, _, err := store.List(ctx, access.RowScope{Jurisdictions: []string{s}},
			cases.ListQuery{Filter: cases.Filter{Jurisdiction: s, Open: &open}, Order: cases.OrderDeadlineAsc, First: 50,
				Skip: cases.AllParts &^ cases.PartReporter})
		return err
	})
}

// floorS3 is S3's SQL without the hub: the compounds' page, then their
// first violations and cases with counts, one statement each.
func (fx *fixtures) floorS3(ctx context.Context) (float64, error) {
	pool, err := fx.floorPool(ctx)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	props, cs, vs := postgres.NewPropertyStore(pool), postgres.NewCaseStore(pool), postgres.NewViolationStore(pool)
	all := access.RowScope{All: true}
	return closedLoop(ctx, fx.o.Connections, fx.o.Duration, func(ctx context.Context, i uint64) error {
		s := fx.streets[i%uint64(len(fx.streets))]
		list, _, err := props.List(ctx, all, property.ListQuery{Filter: property.Filter{Jurisdiction: s}, First: 50})
		if err != nil {
			return err
		}
		keys := make([]string, len(list))
		for j, p := range list {
			keys[j] = p.ID.String()
		}
		if _, _, err := vs.ByParent(ctx, all, links.ParentProperty, keys, page.Request{First: 6}, true); err != nil {
			return err
		}
		_, _, err = cs.ByParent(ctx, all, links.ParentProperty, keys, page.Request{First: 6}, true, s3CaseSkip)
		return err
	})
}

// s3CaseSkip: S3's nested cases select the core of a case only (number,
// status, deadline), and the hub reads no more.
const s3CaseSkip = cases.AllParts

// floorPool opens a pool of the size the hub takes by default (MaxConns
// unset), so hub and floor compete for the same number of connections.
func (fx *fixtures) floorPool(ctx context.Context) (*pgxpool.Pool, error) {
	return postgres.Open(ctx, postgres.PoolConfig{URL: fx.o.Pool.Config().ConnString()})
}

// CaseTableCeiling measures the fastest way PostgreSQL adds n new cases to
// the cases table as migrated (one INSERT … SELECT of rows already staged
// and located, no merge, no events, no outbox), in a transaction it rolls
// back. It bounds any import of new cases from above.
func CaseTableCeiling(ctx context.Context, pool *pgxpool.Pool, n int) (float64, error) {
	if _, err := pool.Exec(ctx, "VACUUM cases"); err != nil {
		return 0, fmt.Errorf("vacuum: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return 0, err
	}
	if err := StageCeilingRows(ctx, tx, n); err != nil {
		return 0, err
	}
	start := time.Now()
	got, err := InsertCeilingRows(ctx, tx)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if got != int64(n) {
		return 0, fmt.Errorf("ceiling inserted %d rows, want %d", got, n)
	}
	return float64(n) / took.Seconds(), nil
}

// StageCeilingRows fills a temporary table (dropped at commit) with n new
// cases shaped like WriteNewCases', every one located in one community.
// Their ids are time ordered, like those the hub gives new cases (UUIDv7):
// random ids would scatter the inserts over the primary key and make the
// ceiling lower than an import can reach.
func StageCeilingRows(ctx context.Context, tx pgx.Tx, n int) error {
	_, err := tx.Exec(ctx, `CREATE TEMP TABLE ceiling_staging ON COMMIT DROP AS
		SELECT i AS line, `+postgres.OrderedID("$2", "i")+` AS id, 'ceiling-' || i AS external_id,
			(ARRAY['EVENT', 'EVENT', 'COMPONENT', 'EVENT', 'COMPONENT'])[i % 5 + 1] AS kind,
			(ARRAY['05', '01', '01', '02', '02'])[i % 5 + 1] AS major_code,
			(ARRAY['0501', '0101', '0101', '0201', '0202'])[i % 5 + 1] AS minor_code,
			'DRONE_PATROL' AS source, '无人机巡查发现 ' || i || ' 号问题，请处理' AS description,
			'海陵区青年路 ' || i % 500 || ' 号' AS address, 32.36 + random() * 0.26 AS lat, 119.80 + random() * 0.25 AS lng,
			'hailing.chengdong.fenghuang' AS jurisdiction_code, '张三' AS reporter_name, '13812345678' AS reporter_phone,
			timestamptz '2024-01-01 00:00:00Z' + i * interval '30 seconds' AS reported_at,
			ARRAY['https://img.example.cn/ceiling/' || i || '.jpg'] AS photo_urls
		FROM generate_series(1, $1::int) i`, n, postgres.NewOrderedIDPrefix())
	if err != nil {
		return fmt.Errorf("stage ceiling rows: %w", err)
	}
	return nil
}

// InsertCeilingRows inserts the staged rows into cases and returns how
// many it inserted.
func InsertCeilingRows(ctx context.Context, tx pgx.Tx) (int64, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO cases (id, case_no, owner_dept, kind, major_code, minor_code, source,
		status, description, address, lat, lng, jurisdiction_code, street_code, community_code, reporter_name,
		reporter_phone, photo_urls, reported_at, source_dept, external_id, created_at, updated_at, version)
		SELECT id, 'HLB-' || line, 'urban-management', kind, major_code, minor_code, source, 'REPORTED',
			description, address, lat, lng, jurisdiction_code, 'hailing.chengdong', 'hailing.chengdong.fenghuang',
			reporter_name, reporter_phone, photo_urls, reported_at, 'urban-management', external_id, now(), now(), 1
		FROM ceiling_staging`)
	if err != nil {
		return 0, fmt.Errorf("insert ceiling rows: %w", err)
	}
	return tag.RowsAffected(), nil
}

// WriteNewCase writes new case i of a bulk file as one NDJSON line: one of
// five classes, a point in the district, and (two thirds of the time) its
// community; the rest are located by the import.
func WriteNewCase(w io.Writer, prefix string, i int, rng *rand.Rand) {
	lat := 32.36 + rng.Float64()*0.26
	lng := 119.80 + rng.Float64()*0.25
	classes := [...][2]string{{"EVENT", "0501"}, {"EVENT", "0101"}, {"COMPONENT", "0101"}, {"EVENT", "0201"}, {"COMPONENT", "0202"}}
	cl := classes[i%len(classes)]
	jur := ""
	if i%3 != 0 {
		jur = `,"jurisdiction":"hailing.chengdong.fenghuang"`
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 30 * time.Second).Format(time.RFC3339)
	fmt.Fprintf(w, `{"externalId":"%s-%d","kind":"%s","minorCode":"%s","source":"DRONE_PATROL","description":"无人机巡查发现 %d 号问题，请处理","address":"海陵区青年路 %d 号","lat":%.6f,"lng":%.6f%s,"reporterName":"张三","reporterPhone":"13812345678","reportedAt":"%s","photoUrls":["https://img.example.cn/%s/%d.jpg"]}`+"\n",
		prefix, i, cl[0], cl[1], i, i%500, lat, lng, jur, at, prefix, i)
}
