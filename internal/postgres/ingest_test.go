package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/calendar"
	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/upsert"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// sliceRows yields prepared rows, then fails with err if set.
type sliceRows struct {
	rows []ingest.CaseRow
	i    int
	err  error
	done bool
}

func (s *sliceRows) Next() bool {
	if s.i >= len(s.rows) {
		s.done = true
		return false
	}
	s.i++
	return true
}
func (s *sliceRows) Row() *ingest.CaseRow { return &s.rows[s.i-1] }
func (s *sliceRows) Err() error {
	if s.done {
		return s.err
	}
	return nil
}

func ingestRow(line int64, externalID string, lat, lng float64, jurisdiction string) ingest.CaseRow {
	return ingest.CaseRow{Line: line, ID: uuid.Must(uuid.NewV7()), MajorCode: "05", CaseRecord: ingest.CaseRecord{
		ExternalID: externalID, Kind: cases.KindEvent, MinorCode: "0501", Source: cases.SourceDronePatrol,
		Description: "店外经营 " + externalID, Lat: lat, Lng: lng, Jurisdiction: jurisdiction, PhotoURLs: []string{},
	}}
}

func writer() ingest.Writer {
	return ingest.Writer{SourceDept: cases.OwnerDept, OwnerDept: cases.OwnerDept, Actor: "drone@urban-management",
		ActorDept: cases.OwnerDept, Now: time.Date(2025, 6, 10, 1, 0, 0, 0, time.UTC),
		// A department system's scope (its own department's rows): the
		// scoped paths of the merge run.
		Scope: access.RowScope{Depts: []string{cases.OwnerDept}}}
}

// written counts what exists for external ids with the prefix: cases,
// their events, their outbox rows and the sum of their versions.
func written(t *testing.T, pool *pgxpool.Pool, prefix string) (n, events, outbox, versions int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `SELECT count(*), coalesce(sum(version), 0),
		(SELECT count(*) FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.external_id LIKE $1 || '%'),
		(SELECT count(*) FROM outbox o JOIN cases c ON c.id::text = o.record_id WHERE c.external_id LIKE $1 || '%')
		FROM cases WHERE external_id LIKE $1 || '%'`, prefix).Scan(&n, &versions, &events, &outbox)
	if err != nil {
		t.Fatal(err)
	}
	return n, events, outbox, versions
}

func TestIngestStoreImport(t *testing.T) {
	pool := setup(t)
	store := postgres.NewIngestStore(pool, postgres.IngestConfig{})
	ctx := context.Background()
	p := "store-" + uuid.NewString()[:8] + "-"
	rows := func() []ingest.CaseRow {
		return []ingest.CaseRow{
			ingestRow(2, p+"a", 32.48, 119.93, "hailing.chengdong"),
			ingestRow(3, p+"b", 32.48, 119.93, "hailing.nowhere"), // unknown jurisdiction
			ingestRow(5, p+"a", 32.48, 119.93, ""),                // duplicate of line 2
			ingestRow(7, p+"c", 32.52, 119.90, ""),                // located
			ingestRow(8, p+"a", 32.48, 119.93, ""),                // duplicate of line 2
		}
	}
	wantRejected := []ingest.RowError{
		{Line: 3, ExternalID: p + "b", Field: "jurisdiction", Reason: "unknown jurisdiction hailing.nowhere"},
		{Line: 5, ExternalID: p + "a", Field: "externalId", Reason: "the externalId " + p + "a appears more than once in the file: first on line 2"},
		{Line: 8, ExternalID: p + "a", Field: "externalId", Reason: "the externalId " + p + "a appears more than once in the file: first on line 2"},
	}
	for _, tt := range []struct {
		name          string
		merge, commit bool
	}{{"validate only", false, false}, {"merge and roll back", true, false}, {"merge and commit", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			var decided int64 = -1
			res, err := store.ImportCases(ctx, &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: rows()}, MaxErrors: 2,
				Decide: func(n int64) (bool, bool) { decided = n; return tt.merge, tt.commit }})
			if err != nil {
				t.Fatal(err)
			}
			if decided != 3 || res.Staged != 5 || res.RejectedTotal != 3 || len(res.Rejected) != 2 ||
				res.Rejected[0] != wantRejected[0] || res.Rejected[1] != wantRejected[1] || res.Merged != tt.merge || res.Committed != tt.commit {
				t.Fatalf("decided %d, result %+v", decided, res)
			}
			if tt.merge && (res.Inserted != 2 || res.Updated != 0) {
				t.Fatalf("merged %+v", res)
			}
			n, events, outbox, _ := written(t, pool, p)
			if want := map[bool]int{false: 0, true: 2}[tt.commit]; n != want || events != want || outbox != want {
				t.Fatalf("%d cases, %d events, %d outbox rows; want %d each", n, events, outbox, want)
			}
		})
	}
	// Again, all of it, and one changed: one update, the rest untouched.
	again := rows()
	again[3].Description = "店外经营（已扩大）"
	res, err := store.ImportCases(ctx, &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: again}, MaxErrors: 10,
		Decide: func(int64) (bool, bool) { return true, true }})
	if err != nil || res.Inserted != 0 || res.Updated != 1 {
		t.Fatalf("again: %+v %v", res, err)
	}
	n, events, outbox, versions := written(t, pool, p)
	if n != 2 || events != 2 || outbox != 3 || versions != 3 {
		t.Fatalf("%d cases, %d events, %d outbox rows, versions %d", n, events, outbox, versions)
	}
}

func TestIngestStoreRowsFail(t *testing.T) {
	pool := setup(t)
	store := postgres.NewIngestStore(pool, postgres.IngestConfig{})
	p := "fail-" + uuid.NewString()[:8] + "-"
	var rows []ingest.CaseRow
	for i := range 2000 {
		rows = append(rows, ingestRow(int64(i+1), p+uuid.NewString()[:8], 32.48, 119.93, "hailing.chengdong"))
	}
	broken := errors.New("the upload broke off")
	_, err := store.ImportCases(context.Background(), &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: rows, err: broken},
		MaxErrors: 10, Decide: func(int64) (bool, bool) { return true, true }})
	if !errors.Is(err, broken) {
		t.Fatalf("err = %v", err)
	}
	if n, _, _, _ := written(t, pool, p); n != 0 {
		t.Fatalf("%d cases written", n)
	}
}

// TestIngestStoreLocate checks that bulk-located rows get the grid
// CaseStore.Locate gives the same point.
func TestIngestStoreLocate(t *testing.T) {
	pool := setup(t)
	store := postgres.NewIngestStore(pool, postgres.IngestConfig{})
	p := "locate-" + uuid.NewString()[:8] + "-"
	rng := rand.New(rand.NewPCG(3, 4))
	var rows []ingest.CaseRow
	for i := range 2000 {
		// The whole district box, corners included.
		rows = append(rows, ingestRow(int64(i+1), p+uuid.NewString()[:8], 32.30+rng.Float64()*0.40, 119.70+rng.Float64()*0.45, ""))
	}
	res, err := store.ImportCases(context.Background(), &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: rows}, MaxErrors: 10,
		Decide: func(int64) (bool, bool) { return true, true }})
	if err != nil || res.Inserted != 2000 {
		t.Fatalf("%+v %v", res, err)
	}
	locator := postgres.NewDirectoryStore(pool)
	got, err := pool.Query(context.Background(), "SELECT lat, lng, jurisdiction_code, street_code, coalesce(community_code, '') FROM cases WHERE external_id LIKE $1 || '%'", p)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	for got.Next() {
		var lat, lng float64
		var code, street, community string
		if err := got.Scan(&lat, &lng, &code, &street, &community); err != nil {
			t.Fatal(err)
		}
		want, err := locator.Locate(context.Background(), lat, lng)
		if err != nil || want != code {
			t.Fatalf("(%v, %v): bulk located %s, Locate says %s (%v)", lat, lng, code, want, err)
		}
		if street == "" || community == "" || code[:len(community)] != community || community[:len(street)] != street {
			t.Fatalf("%s: street %s community %s", code, street, community)
		}
	}
}

// rowUpserter upserts ingest rows one by one through the case service, as
// the urban-management drone system (writer()): the single-record path
// beside the bulk one.
func rowUpserter(pool *pgxpool.Pool) func(row ingest.CaseRow) (upsert.Outcome, error) {
	w := writer()
	svc := cases.NewService(cases.Config{Store: postgres.NewCaseStore(pool), Directory: postgres.NewDirectoryStore(pool),
		Authorizer: fixedAuth{&access.Decision{Dataset: cases.Dataset, Rows: w.Scope}}, Calendar: calendar.Default(),
		Now: func() time.Time { return w.Now }})
	ctx := access.WithPrincipal(context.Background(), &access.Principal{Kind: access.KindService, Subject: "drone",
		Dept: cases.OwnerDept, Roles: []string{access.RoleSystem}})
	return func(row ingest.CaseRow) (upsert.Outcome, error) {
		res, err := svc.Upsert(ctx, cases.UpsertInput{ExternalID: row.ExternalID, Kind: row.Kind, MinorCode: row.MinorCode,
			Source: row.Source, Description: row.Description, Lat: row.Lat, Lng: row.Lng, Jurisdiction: row.Jurisdiction,
			PhotoURLs: row.PhotoURLs})
		return res.Outcome, err
	}
}

func TestIngestStoreUpsertRace(t *testing.T) {
	pool := setup(t)
	store := postgres.NewIngestStore(pool, postgres.IngestConfig{})
	upsertRow := rowUpserter(pool)
	ext := "race-" + uuid.NewString()[:8]
	const n = 6
	outcomes := make([]upsert.Outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			row := ingestRow(0, ext, 32.48, 119.93, "hailing.chengdong")
			outcomes[i], errs[i] = upsertRow(row)
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("upsert %d: %v", i, errs[i])
		}
		if outcomes[i] == upsert.Created {
			created++
		} else if outcomes[i] != upsert.Unchanged {
			t.Fatalf("outcome %s", outcomes[i])
		}
	}
	c, events, outbox, versions := written(t, pool, ext)
	if created != 1 || c != 1 || events != 1 || outbox != 1 || versions != 1 {
		t.Fatalf("%d created; %d cases, %d events, %d outbox rows, versions %d", created, c, events, outbox, versions)
	}
	// A bulk import and upserts of the same cases at once neither deadlock
	// nor lose a write.
	var rows []ingest.CaseRow
	for i := range 200 {
		rows = append(rows, ingestRow(int64(i+1), ext+"-"+uuid.NewString()[:6], 32.48, 119.93, "hailing.chengdong"))
	}
	for range 2 {
		wg.Go(func() {
			cp := append([]ingest.CaseRow(nil), rows...)
			if _, err := store.ImportCases(context.Background(), &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: cp}, MaxErrors: 10,
				Decide: func(int64) (bool, bool) { return true, true }}); err != nil {
				t.Errorf("import: %v", err)
			}
		})
	}
	for i := range 20 {
		wg.Go(func() {
			row := rows[i*10]
			if _, err := upsertRow(row); err != nil && !apperr.Is(err, apperr.Conflict) {
				t.Errorf("upsert: %v", err)
			}
		})
	}
	wg.Wait()
	if c, events, outbox, versions := written(t, pool, ext+"-"); c != 200 || events != 200 || outbox != 200 || versions != 200 {
		t.Fatalf("%d cases, %d events, %d outbox rows, versions %d", c, events, outbox, versions)
	}
}

// TestIngestStoreOneConnection imports several times over one connection:
// the staging table is dropped and created again each time, under the
// statements the connection has prepared and cached.
func TestIngestStoreOneConnection(t *testing.T) {
	setup(t)
	pool, err := postgres.Open(context.Background(), postgres.PoolConfig{URL: env.DatabaseURL, MaxConns: 1, MinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := postgres.NewIngestStore(pool, postgres.IngestConfig{})
	p := "onecon-" + uuid.NewString()[:8] + "-"
	for i := range 4 {
		rows := []ingest.CaseRow{ingestRow(1, p+"a", 32.48, 119.93, ""), ingestRow(2, p+"b", 32.48, 119.93, "hailing.chengdong")}
		rows[0].Description += fmt.Sprint(i / 2) // changes on the third round
		res, err := store.ImportCases(context.Background(), &ingest.CaseImport{Writer: writer(), Rows: &sliceRows{rows: rows}, MaxErrors: 10,
			Decide: func(int64) (bool, bool) { return true, i != 1 }})
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		want := [][2]int64{{2, 0}, {0, 0}, {0, 1}, {0, 0}}[i]
		if i == 1 {
			want = [2]int64{0, 0} // rolled back after round 0 committed: all unchanged
		}
		if res.Inserted != want[0] || res.Updated != want[1] {
			t.Fatalf("round %d: %+v", i, res)
		}
	}
}
