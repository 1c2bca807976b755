package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/fengcheng/datahub/internal/loadbench"
	"github.com/fengcheng/datahub/internal/policy"
	"github.com/fengcheng/datahub/internal/postgres"
	"github.com/fengcheng/datahub/internal/seed"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/policies"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The bulk import handler is tested against a database of its own, as in
// internal/ingest.

var env testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env)) }

var directoryOnce sync.Once

// setup returns a pool on the package database with the jurisdiction tree
// and departments loaded (once per package). The import tests compare
// database-wide figures before and after an import, so they do not run in
// parallel.
func setup(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := env.Pool(tb)
	var err error
	directoryOnce.Do(func() {
		err = postgres.InTx(context.Background(), pool, func(tx pgx.Tx) error { return seed.Directory(context.Background(), tx) })
	})
	if err != nil {
		tb.Fatalf("insert directory: %v", err)
	}
	return pool
}

func newIngestService(tb testing.TB, pool *pgxpool.Pool) *ingest.Service {
	tb.Helper()
	data, err := policies.FS.ReadFile("catalog.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := policy.ParseCatalog(data)
	if err != nil {
		tb.Fatal(err)
	}
	return ingest.NewService(postgres.NewIngestStore(pool, postgres.IngestConfig{}), ingest.Config{Catalog: cat, Authorizer: ownRows{}})
}

// ownRows scopes every caller to its own department's rows, the scope of
// a department system.
type ownRows struct{}

func (ownRows) Decide(ctx context.Context, dataset string) (*access.Decision, error) {
	return &access.Decision{Dataset: dataset, Rows: access.RowScope{Depts: []string{access.PrincipalFrom(ctx).Dept}}}, nil
}

// state is what an import may change, database-wide.
type state struct {
	Cases, Events, Outbox, MaxOutbox, VersionSum int64
}

func snapshot(t *testing.T, pool *pgxpool.Pool) state {
	t.Helper()
	var s state
	err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM case_events),
		(SELECT count(*) FROM outbox), (SELECT coalesce(max(id), 0) FROM outbox), (SELECT coalesce(sum(version), 0) FROM cases)`).
		Scan(&s.Cases, &s.Events, &s.Outbox, &s.MaxOutbox, &s.VersionSum)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unchanged(t *testing.T, pool *pgxpool.Pool, before state) {
	t.Helper()
	if after := snapshot(t, pool); after != before {
		t.Fatalf("the database changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func prefix(name string) string { return name + "-" + uuid.NewString()[:8] }

func gzipped(t *testing.T, data string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func genNDJSON(prefix string, n int) string {
	var b strings.Builder
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range n {
		loadbench.WriteNewCase(&b, prefix, i, rng)
	}
	return b.String()
}

// ingestServer mounts the handler as the hub does, behind a stand-in for the
// authentication middleware: the X-Test-Dept and X-Test-Role headers name
// the principal.
func ingestServer(t *testing.T, svc *ingest.Service, maxBytes int64) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ingest/{dataset}", server.IngestHandler(svc, maxBytes, nil))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if dept := r.Header.Get("X-Test-Dept"); dept != "" {
			ctx = access.WithPrincipal(ctx, &access.Principal{Kind: access.KindService, Subject: "key-1", Dept: dept,
				Roles: []string{r.Header.Get("X-Test-Role")}, Jurisdiction: "hailing"})
		}
		mux.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	report ingest.Report
	errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
}

func postFile(t *testing.T, srv *httptest.Server, path, contentType, encoding string, body io.Reader, dept, role string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.Header.Set("X-Test-Dept", dept)
	req.Header.Set("X-Test-Role", role)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d with Content-Type %q: %s", res.StatusCode, res.Header.Get("Content-Type"), data)
	}
	var shape struct {
		ingest.Report
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(data, &shape); err != nil {
		t.Fatalf("%d: %s: %v", res.StatusCode, data, err)
	}
	out.report = shape.Report
	if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusUnprocessableEntity {
		if err := json.Unmarshal(shape.Errors, &out.report.Errors); err != nil {
			t.Fatal(err)
		}
	} else if err := json.Unmarshal(shape.Errors, &out.errors); err != nil || len(out.errors) != 1 {
		t.Fatalf("%d: %s: not the hub's error shape", res.StatusCode, data)
	}
	return out
}

// unsized hides a body's length, as a chunked upload does.
type unsized struct{ io.Reader }

func TestIngestHandler(t *testing.T) {
	pool := setup(t)
	svc := newIngestService(t, pool)
	const max = 64 << 10
	srv := ingestServer(t, svc, max)
	um, sys := "urban-management", "system"

	ok := genNDJSON(prefix("http"), 20)
	r := postFile(t, srv, "/ingest/cases", "application/x-ndjson", "", strings.NewReader(ok), um, sys)
	if r.status != http.StatusOK || !r.report.Committed || r.report.Inserted != 20 {
		t.Fatalf("%d %+v", r.status, r.report)
	}
	r = postFile(t, srv, "/ingest/cases", "application/x-ndjson; charset=utf-8", "gzip", bytes.NewReader(gzipped(t, ok)), um, sys)
	if r.status != http.StatusOK || r.report.Unchanged != 20 {
		t.Fatalf("gzip again: %d %+v", r.status, r.report)
	}

	mixed := genNDJSON(prefix("http-mixed"), 3) + "{\"externalId\":\"x\"}\n"
	before := snapshot(t, pool)
	r = postFile(t, srv, "/ingest/cases", "application/x-ndjson", "", strings.NewReader(mixed), um, sys)
	if r.status != http.StatusUnprocessableEntity || r.report.Committed || r.report.Rejected != 1 || r.report.Errors[0].Line != 4 ||
		r.report.Errors[0].Field != "description" {
		t.Fatalf("all-or-nothing: %d %+v", r.status, r.report)
	}
	unchanged(t, pool, before)
	r = postFile(t, srv, "/ingest/cases?mode=skip-invalid", "application/x-ndjson", "", strings.NewReader(mixed), um, sys)
	if r.status != http.StatusOK || !r.report.Committed || r.report.Inserted != 3 || r.report.Rejected != 1 {
		t.Fatalf("skip-invalid: %d %+v", r.status, r.report)
	}

	csv := "externalId,kind,minorCode,source,description,lat,lng\n" + prefix("http-csv") + ",EVENT,0501,DRONE_PATROL,\"商户, 店外经营\",32.48,119.93\n"
	r = postFile(t, srv, "/ingest/cases", "text/csv", "", strings.NewReader(csv), um, "officer")
	if r.status != http.StatusOK || r.report.Inserted != 1 || r.report.Format != ingest.CSV {
		t.Fatalf("csv: %d %+v", r.status, r.report)
	}

	big := genNDJSON(prefix("http-big"), 400) // about 160 kB
	bomb := gzipped(t, big)                   // small on the wire, big inside
	if len(bomb) >= max || len(big) <= max {
		t.Fatalf("test file sizes: %d compressed, %d plain", len(bomb), len(big))
	}
	failures := []struct {
		name, path, ctype, enc string
		body                   io.Reader
		dept, role             string
		status                 int
		code                   string
	}{
		{"declared too large", "/ingest/cases", "application/x-ndjson", "", strings.NewReader(big), um, sys, 413, "BAD_USER_INPUT"},
		{"streamed too large", "/ingest/cases", "application/x-ndjson", "", unsized{strings.NewReader(big)}, um, sys, 413, "BAD_USER_INPUT"},
		{"too large once decompressed", "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(bomb), um, sys, 413, "BAD_USER_INPUT"},
		{"another department", "/ingest/cases", "application/x-ndjson", "", strings.NewReader(ok), "traffic-police", "admin", 403, "FORBIDDEN"},
		{"anonymous", "/ingest/cases", "application/x-ndjson", "", strings.NewReader(ok), "", "", 401, "UNAUTHENTICATED"},
		{"unknown dataset", "/ingest/weather", "application/x-ndjson", "", strings.NewReader(ok), um, sys, 404, "NOT_FOUND"},
		{"wrong content type", "/ingest/cases", "application/json", "", strings.NewReader(ok), um, sys, 415, "BAD_USER_INPUT"},
		{"wrong charset", "/ingest/cases", "text/csv; charset=gbk", "", strings.NewReader(csv), um, sys, 415, "BAD_USER_INPUT"},
		{"wrong encoding", "/ingest/cases", "application/x-ndjson", "br", strings.NewReader(ok), um, sys, 415, "BAD_USER_INPUT"},
		{"bad mode", "/ingest/cases?mode=some", "application/x-ndjson", "", strings.NewReader(ok), um, sys, 400, "BAD_USER_INPUT"},
		{"truncated gzip", "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(gzipped(t, ok)[:200]), um, sys, 400, "BAD_USER_INPUT"},
		{"bad CSV header", "/ingest/cases", "text/csv", "", strings.NewReader("externalId,colour\n"), um, sys, 400, "BAD_USER_INPUT"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			before := snapshot(t, pool)
			r := postFile(t, srv, f.path, f.ctype, f.enc, f.body, f.dept, f.role)
			if r.status != f.status || r.errors[0].Extensions["code"] != f.code || r.errors[0].Message == "" {
				t.Fatalf("%d %+v, want %d %s", r.status, r.errors, f.status, f.code)
			}
			unchanged(t, pool, before)
		})
	}

	res, err := srv.Client().Get(srv.URL + "/ingest/cases")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != http.MethodPost {
		t.Fatalf("GET: %d", res.StatusCode)
	}
}

// TestGzipExpansionIsBounded: a gzip bomb (tiny on the wire, blank lines
// inside, well under the size limit once decompressed) is refused with 413
// once it expands more than MaxGzipRatio-fold, instead of costing CPU for
// every byte up to the limit; an ordinary compressed file still passes.
func TestGzipExpansionIsBounded(t *testing.T) {
	pool := setup(t)
	svc := newIngestService(t, pool)
	srv := ingestServer(t, svc, 1<<30)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	line := bytes.Repeat([]byte{'\n'}, 1<<20)
	for range 64 { // 64 MiB of blank lines in about 64 kB
		_, _ = zw.Write(line)
	}
	_ = zw.Close()
	if ratio := (64 << 20) / bomb.Len(); ratio < 1000 {
		t.Fatalf("test bomb expands only %d-fold", ratio)
	}
	before := snapshot(t, pool)
	r := postFile(t, srv, "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(bomb.Bytes()), "urban-management", "system")
	if r.status != http.StatusRequestEntityTooLarge || len(r.errors) != 1 || r.errors[0].Extensions["code"] != "BAD_USER_INPUT" ||
		!strings.Contains(r.errors[0].Message, "expands more than 100-fold") {
		t.Fatalf("gzip bomb: %d %+v", r.status, r.errors)
	}
	unchanged(t, pool, before)

	ok := genNDJSON(prefix("ratio-ok"), 50)
	r = postFile(t, srv, "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(gzipped(t, ok)), "urban-management", "system")
	if r.status != http.StatusOK || r.report.Inserted != 50 {
		t.Fatalf("ordinary gzip file: %d %+v", r.status, r.report)
	}
}
