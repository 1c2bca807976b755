package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/ingest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

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

func importString(t *testing.T, svc *ingest.Service, ctx context.Context, format ingest.Format, data string, opts ingest.Options) *ingest.Report {
	t.Helper()
	rep, err := svc.Import(ctx, "cases", format, strings.NewReader(data), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return rep
}

func TestImportIdempotent(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	p := prefix("idem")
	const n = 300
	file := genNDJSON(p, n)

	before := snapshot(t, pool)
	rep := importString(t, svc, ctx, ingest.NDJSON, file, ingest.Options{})
	if !rep.Committed || rep.Inserted != n || rep.Updated != 0 || rep.Unchanged != 0 || rep.Rejected != 0 || rep.Rows != n {
		t.Fatalf("first import: %+v", rep)
	}
	after := snapshot(t, pool)
	if after.Cases-before.Cases != n || after.Events-before.Events != n || after.Outbox-before.Outbox != n {
		t.Fatalf("first import wrote %+v → %+v; want %d cases, events and outbox rows", before, after, n)
	}
	// Every new case has its REPORT event and CREATED outbox row.
	var bad int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM cases c WHERE c.external_id LIKE $1 || '-%' AND (
		c.version <> 1 OR c.status <> 'REPORTED' OR c.source_dept <> 'urban-management' OR c.owner_dept <> 'urban-management'
		OR (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'REPORT' AND e.actor = 'key-urban-management@urban-management') <> 1
		OR (SELECT count(*) FROM outbox o WHERE o.record_id = c.id::text AND o.op = 'CREATED' AND o.version = 1
			AND o.jurisdiction = c.jurisdiction_code AND o.payload->>'action' = 'REPORT') <> 1
		OR c.street_code <> subpath(c.jurisdiction_code::ltree, 0, 2)::text)`, p).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%d imported cases lack their event or outbox row", bad)
	}

	// The same file again: every row unchanged, nothing written — not even
	// a row lock (which would set xmax).
	tuples := func() string {
		var s string
		if err := pool.QueryRow(context.Background(), `SELECT string_agg(ctid::text || xmin::text || xmax::text, ',' ORDER BY id)
			FROM cases WHERE external_id LIKE $1 || '-%'`, p).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tuplesBefore := tuples()
	rep = importString(t, svc, ctx, ingest.NDJSON, file, ingest.Options{})
	if !rep.Committed || rep.Inserted != 0 || rep.Updated != 0 || rep.Unchanged != n {
		t.Fatalf("second import: %+v", rep)
	}
	unchanged(t, pool, after)
	if tuples() != tuplesBefore {
		t.Fatal("re-sending the file touched the stored rows")
	}

	// Two rows changed (one text, one point that moves it to another grid):
	// two updates, versions up by one, two UPDATED outbox rows, no events.
	lines := strings.SplitAfter(file, "\n")
	lines[4] = strings.Replace(lines[4], "请处理", "请尽快处理", 1)
	lines[9] = regexp.MustCompile(`"lat":[0-9.]+`).ReplaceAllString(lines[9], `"lat":32.331`)
	rep = importString(t, svc, ctx, ingest.NDJSON, strings.Join(lines, ""), ingest.Options{})
	if rep.Inserted != 0 || rep.Updated != 2 || rep.Unchanged != n-2 {
		t.Fatalf("changed import: %+v", rep)
	}
	changed := snapshot(t, pool)
	if changed.VersionSum-after.VersionSum != 2 || changed.Outbox-after.Outbox != 2 || changed.Events != after.Events || changed.Cases != after.Cases {
		t.Fatalf("changed import wrote %+v → %+v", after, changed)
	}
	var ops []string
	rows, _ := pool.Query(context.Background(), "SELECT op || ':' || version FROM outbox WHERE id > $1 ORDER BY id", after.MaxOutbox)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		ops = append(ops, s)
	}
	if strings.Join(ops, ",") != "UPDATED:2,UPDATED:2" {
		t.Fatalf("outbox rows %v", ops)
	}
}

// TestImportKeysAreTheSourcesOwn: an externalId names a case within its
// sending department only. A file's row whose key another source also
// uses is a new case of this source; the other source's case is neither
// matched, nor changed, nor refused as taken.
func TestImportKeysAreTheSourcesOwn(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	p := prefix("keys")
	const n = 20
	file := genNDJSON(p, n)
	if rep := importString(t, svc, ctx, ingest.NDJSON, file, ingest.Options{}); rep.Inserted != n {
		t.Fatalf("first import: %+v", rep)
	}
	// Line 3's key now belongs to a street office's case (as if that office
	// had sent it first), owned by the same department, so the writer's
	// scope would reach it.
	key := p + "-3"
	var streetCase string
	if err := pool.QueryRow(context.Background(), `UPDATE cases SET source_dept = 'street-chengdong'
		WHERE source_dept = 'urban-management' AND external_id = $1 RETURNING id::text || ':' || version`, key).Scan(&streetCase); err != nil {
		t.Fatal(err)
	}
	rep := importString(t, svc, ctx, ingest.NDJSON, file, ingest.Options{})
	if !rep.Committed || rep.Inserted != 1 || rep.Updated != 0 || rep.Unchanged != n-1 || rep.Rejected != 0 {
		t.Fatalf("second import: %+v; want the row keyed %s inserted as a new case", rep, key)
	}
	var after string
	var mine int
	if err := pool.QueryRow(context.Background(), `SELECT
		(SELECT id::text || ':' || version FROM cases WHERE source_dept = 'street-chengdong' AND external_id = $1),
		(SELECT count(*) FROM cases WHERE source_dept = 'urban-management' AND external_id = $1)`, key).Scan(&after, &mine); err != nil {
		t.Fatal(err)
	}
	if after != streetCase || mine != 1 {
		t.Fatalf("street office's case %s → %s; the import's own cases with the key: %d", streetCase, after, mine)
	}
}

func TestImportMixed(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	valid := func(id string) string {
		return fmt.Sprintf(`{"externalId":"%s","kind":"EVENT","minorCode":"0501","source":"DRONE_PATROL","description":"店外经营","lat":32.48,"lng":119.93}`, id)
	}
	type want struct {
		line  int64
		field string
	}
	for _, format := range []ingest.Format{ingest.NDJSON, ingest.CSV} {
		for _, mode := range []ingest.Mode{ingest.AllOrNothing, ingest.SkipInvalid} {
			t.Run(string(format)+"/"+string(mode), func(t *testing.T) {
				p := prefix("mixed")
				var file string
				var wants []want
				if format == ingest.NDJSON {
					file = strings.Join([]string{
						valid(p + "-1"), // line 1
						strings.Replace(valid(p+"-2"), `"0501"`, `"0599"`, 1),           // 2: unknown class code
						strings.Replace(valid(p+"-3"), `"lat":32.48`, `"lat":31.23`, 1), // 3: outside the district
						strings.Replace(valid(p+"-4"), "店外经营", " ", 1),                  // 4: empty description
						valid(p + "-1"), // 5: duplicate externalId
						strings.Replace(valid(p+"-6"), `"lat"`, `"reportedAt":"2025-02-30T08:00:00Z","lat"`, 1), // 6: bad timestamp
						strings.Replace(valid(p+"-7"), `"lat"`, `"jurisdiction":"hailing.nowhere","lat"`, 1),    // 7: unknown jurisdiction
						`{"externalId":"` + p + `-8",`, // 8: broken JSON
						"",                             // 9: blank
						valid(p + "-10"),               // 10
					}, "\n") + "\n"
					wants = []want{{2, "class"}, {3, "location"}, {4, "description"}, {5, "externalId"}, {6, "reportedAt"}, {7, "jurisdiction"}, {8, ""}}
				} else {
					row := func(id, minor, desc, lat, at, jur string) string {
						return fmt.Sprintf("%s,EVENT,%s,DRONE_PATROL,%s,%s,119.93,%s,%s\n", id, minor, desc, lat, at, jur)
					}
					file = "externalId,kind,minorCode,source,description,lat,lng,reportedAt,jurisdiction\n" + // line 1
						row(p+"-1", "0501", "店外经营", "32.48", "", "") + // 2
						row(p+"-2", "0599", "店外经营", "32.48", "", "") + // 3: unknown class code
						row(p+"-3", "0501", "\"多行\n描述, 含逗号\"", "31.23", "", "") + // 4-5: outside the district
						row(p+"-4", "0501", "\" \"", "32.48", "", "") + // 6: empty description
						row(p+"-1", "0501", "店外经营", "32.48", "", "") + // 7: duplicate
						row(p+"-6", "0501", "店外经营", "32.48", "2025-02-30T08:00:00Z", "") + // 8: bad timestamp
						row(p+"-7", "0501", "店外经营", "32.48", "", "hailing.nowhere") + // 9: unknown jurisdiction
						p + "-8,EVENT,0501\n" + // 10: too few fields
						row(p+"-10", "0501", "\"青年路 \"\"18\"\" 号\"", "32.48", "", "") // 11
					wants = []want{{3, "class"}, {4, "location"}, {6, "description"}, {7, "externalId"}, {8, "reportedAt"}, {9, "jurisdiction"}, {10, ""}}
				}
				before := snapshot(t, pool)
				rep := importString(t, svc, ctx, format, file, ingest.Options{Mode: mode})
				if rep.Rows != 9 || rep.Rejected != 7 || len(rep.Errors) != 7 || rep.ErrorsTruncated {
					t.Fatalf("report %+v", rep)
				}
				for i, w := range wants {
					if e := rep.Errors[i]; e.Line != w.line || e.Field != w.field || e.Reason == "" {
						t.Errorf("error %d: %+v, want line %d field %q", i, e, w.line, w.field)
					}
				}
				if mode == ingest.AllOrNothing {
					if rep.Committed || rep.Inserted != 0 || !strings.Contains(rep.Message, "nothing was written") {
						t.Fatalf("all-or-nothing report %+v", rep)
					}
					unchanged(t, pool, before)
					return
				}
				if !rep.Committed || rep.Inserted != 2 || rep.Unchanged != 0 {
					t.Fatalf("skip-invalid report %+v", rep)
				}
				if after := snapshot(t, pool); after.Cases-before.Cases != 2 {
					t.Fatalf("%d cases written, want 2", after.Cases-before.Cases)
				}
			})
		}
	}
}

func TestImportErrorCap(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{MaxErrors: 5})
	var b strings.Builder
	for i := range 40 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "{\"externalId\":\"cap-%d\"}\n", i) // Go-side rejection
		} else {
			// SQL-side rejection: an unknown jurisdiction.
			fmt.Fprintf(&b, `{"externalId":"cap-%d","kind":"EVENT","minorCode":"0501","source":"DRONE_PATROL","description":"x","lat":32.48,"lng":119.93,"jurisdiction":"hailing.x"}`+"\n", i)
		}
	}
	rep := importString(t, svc, umSystem(), ingest.NDJSON, b.String(), ingest.Options{Mode: ingest.SkipInvalid})
	if rep.Rejected != 40 || len(rep.Errors) != 5 || !rep.ErrorsTruncated {
		t.Fatalf("report %+v", rep)
	}
	for i, e := range rep.Errors {
		if e.Line != int64(i+1) {
			t.Fatalf("errors are not the first lines in order: %+v", rep.Errors)
		}
	}
}

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

func TestImportCutOff(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	// Big enough that the stream is cut after rows were already copied.
	file := genNDJSON(prefix("cut"), 3000)
	gz := gzipped(t, file)

	for _, mode := range []ingest.Mode{ingest.AllOrNothing, ingest.SkipInvalid} {
		t.Run("truncated gzip/"+string(mode), func(t *testing.T) {
			before := snapshot(t, pool)
			_, err := svc.Import(ctx, "cases", ingest.NDJSON, bytes.NewReader(gz[:len(gz)*2/3]), ingest.Options{Mode: mode, Gzip: true})
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.BadUserInput || !strings.Contains(ae.Message, "gzip") {
				t.Fatalf("err = %v, want BAD_USER_INPUT about gzip", err)
			}
			unchanged(t, pool, before)
		})
	}
	t.Run("gzip with a corrupt checksum", func(t *testing.T) {
		bad := bytes.Clone(gz)
		bad[len(bad)-6] ^= 0xff
		before := snapshot(t, pool)
		_, err := svc.Import(ctx, "cases", ingest.NDJSON, bytes.NewReader(bad), ingest.Options{Gzip: true})
		if !apperr.Is(err, apperr.BadUserInput) {
			t.Fatalf("err = %v", err)
		}
		unchanged(t, pool, before)
	})
	t.Run("not gzip", func(t *testing.T) {
		_, err := svc.Import(ctx, "cases", ingest.NDJSON, strings.NewReader(file), ingest.Options{Gzip: true})
		if !apperr.Is(err, apperr.BadUserInput) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("NDJSON with a broken last line", func(t *testing.T) {
		before := snapshot(t, pool)
		rep := importString(t, svc, ctx, ingest.NDJSON, file[:len(file)-40], ingest.Options{})
		if rep.Committed || rep.Rejected != 1 || rep.Errors[0].Line != 3000 || rep.Rows != 3000 {
			t.Fatalf("report %+v", rep)
		}
		unchanged(t, pool, before)
	})
	t.Run("CSV cut inside a quoted field", func(t *testing.T) {
		before := snapshot(t, pool)
		p := prefix("cutcsv")
		csv := "externalId,kind,minorCode,source,description,lat,lng\n" +
			p + "-1,EVENT,0501,DRONE_PATROL,ok,32.48,119.93\n" + p + "-2,EVENT,0501,DRONE_PATROL,\"cut off"
		rep := importString(t, svc, ctx, ingest.CSV, csv, ingest.Options{})
		if rep.Committed || rep.Rejected != 1 || rep.Errors[0].Line != 3 {
			t.Fatalf("report %+v", rep)
		}
		unchanged(t, pool, before)
	})
	t.Run("a reader that fails", func(t *testing.T) {
		before := snapshot(t, pool)
		r := io.MultiReader(strings.NewReader(file[:len(file)/2]), iotestErr{})
		_, err := svc.Import(ctx, "cases", ingest.NDJSON, r, ingest.Options{Mode: ingest.SkipInvalid})
		if !apperr.Is(err, apperr.BadUserInput) || !errors.Is(err, errBroken) {
			t.Fatalf("err = %v", err)
		}
		unchanged(t, pool, before)
	})
}

var errBroken = errors.New("connection reset")

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errBroken }

func TestImportGzipAndCSV(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	p := prefix("csv")
	csv := "\xEF\xBB\xBFexternalId,kind,minorCode,source,description,address,lat,lng,reporterName,reporterPhone,reportedAt,photoUrls\r\n" +
		p + "-1,EVENT,0502,HOTLINE_12345,\"海陵南路, 青年路口\r\n有人占道经营 \"\"烧烤\"\"\",\"海陵区, 海陵南路 88 号\",32.4921,119.9187,王小明,0523-86881234,2025-03-01T08:30:00+08:00,https://img.example.cn/a.jpg | https://img.example.cn/b.jpg\r\n" +
		p + "-2,COMPONENT,0101,INSPECTOR_PATROL,井盖破损,,32.45,119.95,,,,\r\n"
	for _, gz := range []bool{false, true} {
		var r io.Reader = strings.NewReader(csv)
		if gz {
			r = bytes.NewReader(gzipped(t, csv))
		}
		rep, err := svc.Import(ctx, "cases", ingest.CSV, r, ingest.Options{Gzip: gz})
		if err != nil {
			t.Fatal(err)
		}
		if gz && (rep.Unchanged != 2 || rep.Inserted != 0) || !gz && rep.Inserted != 2 {
			t.Fatalf("gzip %v: report %+v", gz, rep)
		}
	}
	var desc, addr, name, phone, photos string
	var at time.Time
	if err := pool.QueryRow(context.Background(), `SELECT description, address, reporter_name, reporter_phone, array_to_string(photo_urls, ' '), reported_at
		FROM cases WHERE source_dept = 'urban-management' AND external_id = $1`, p+"-1").Scan(&desc, &addr, &name, &phone, &photos, &at); err != nil {
		t.Fatal(err)
	}
	if desc != "海陵南路, 青年路口\n有人占道经营 \"烧烤\"" || addr != "海陵区, 海陵南路 88 号" || name != "王小明" || phone != "0523-86881234" ||
		photos != "https://img.example.cn/a.jpg https://img.example.cn/b.jpg" || !at.Equal(time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC)) {
		t.Fatalf("stored %q %q %q %q %q %v", desc, addr, name, phone, photos, at)
	}
	// NDJSON, gzipped.
	file := genNDJSON(prefix("gz"), 50)
	rep, err := svc.Import(ctx, "cases", ingest.NDJSON, bytes.NewReader(gzipped(t, file)), ingest.Options{Gzip: true})
	if err != nil || rep.Inserted != 50 {
		t.Fatalf("gzip NDJSON: %+v, %v", rep, err)
	}
}

func TestImportForbidden(t *testing.T) {
	pool := setup(t)
	svc, single := newService(t, pool, ingest.Config{}), caseService(pool)
	file := genNDJSON(prefix("forbidden"), 5)
	tests := []struct {
		name string
		ctx  context.Context
		code apperr.Code
	}{
		{"another department's admin", as(context.Background(), "traffic-police", "admin"), apperr.Forbidden},
		{"another department's system", as(context.Background(), "water", "system"), apperr.Forbidden},
		{"the provider's viewer", as(context.Background(), "urban-management", "viewer"), apperr.Forbidden},
		{"the provider's dispatcher", as(context.Background(), "urban-management", "dispatcher"), apperr.Forbidden},
		{"a street office officer", as(context.Background(), "street-chengdong", "officer"), apperr.Forbidden},
		{"an auditor", as(context.Background(), "urban-management", "auditor"), apperr.Forbidden},
		{"anonymous", context.Background(), apperr.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, pool)
			r := &countingReader{r: strings.NewReader(file)}
			_, err := svc.Import(tt.ctx, "cases", ingest.NDJSON, r, ingest.Options{})
			if apperr.CodeOf(err) != tt.code {
				t.Fatalf("import: err = %v, want %s", err, tt.code)
			}
			if r.n != 0 {
				t.Fatalf("%d bytes of the file were read", r.n)
			}
			_, err = single.Upsert(tt.ctx, validUpsert(prefix("forbidden")))
			if apperr.CodeOf(err) != tt.code {
				t.Fatalf("upsert: err = %v, want %s", err, tt.code)
			}
			unchanged(t, pool, before)
		})
	}
	for _, role := range []string{"admin", "officer", "system"} {
		if _, err := single.Upsert(as(context.Background(), "urban-management", role), validUpsert(prefix(role))); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
	}
	if _, err := svc.Import(umSystem(), "parking", ingest.NDJSON, strings.NewReader(""), ingest.Options{}); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown dataset: %v", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestImportDryRunAndProgress(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	file := genNDJSON(prefix("dry"), 5000)
	before := snapshot(t, pool)
	var calls []int64
	rep, err := svc.Import(umSystem(), "cases", ingest.NDJSON, strings.NewReader(file), ingest.Options{DryRun: true,
		Progress: func(n int64) { calls = append(calls, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed || !rep.DryRun || rep.Inserted != 5000 || !strings.Contains(rep.Message, "dry run") {
		t.Fatalf("report %+v", rep)
	}
	unchanged(t, pool, before)
	if len(calls) < 2 || calls[len(calls)-1] != int64(len(file)) || rep.Bytes != int64(len(file)) {
		t.Fatalf("progress %v for %d bytes", calls, len(file))
	}
}

func TestImportSizeLimit(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	file := genNDJSON(prefix("size"), 2000)
	for _, gz := range []bool{false, true} {
		before := snapshot(t, pool)
		var r io.Reader = strings.NewReader(file)
		if gz {
			r = bytes.NewReader(gzipped(t, file))
		}
		_, err := svc.Import(umSystem(), "cases", ingest.NDJSON, r, ingest.Options{Gzip: gz, MaxBytes: int64(len(file)) - 1})
		if !errors.Is(err, ingest.ErrTooLarge) || !apperr.Is(err, apperr.BadUserInput) {
			t.Fatalf("gzip %v: err = %v", gz, err)
		}
		unchanged(t, pool, before)
	}
	rep, err := svc.Import(umSystem(), "cases", ingest.NDJSON, strings.NewReader(file), ingest.Options{MaxBytes: int64(len(file))})
	if err != nil || rep.Inserted != 2000 {
		t.Fatalf("at the limit: %+v %v", rep, err)
	}
}

// TestImportEventIDsAreTimeOrdered: a bulk import's outbox rows get time
// ordered event ids (UUIDv7, one prefix per statement with a counter), so
// their unique index takes them in one place instead of all over; two
// imports never share a prefix.
func TestImportEventIDsAreTimeOrdered(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	ctx := umSystem()
	const n = 200
	prefixes := map[string]bool{}
	for round := range 2 {
		before := snapshot(t, pool)
		if rep := importString(t, svc, ctx, ingest.NDJSON, genNDJSON(prefix(fmt.Sprint("evid", round)), n), ingest.Options{}); rep.Inserted != n {
			t.Fatalf("import %d: %+v", round, rep)
		}
		rows, err := pool.Query(context.Background(), "SELECT event_id::text FROM outbox WHERE id > $1", before.MaxOutbox)
		if err != nil {
			t.Fatal(err)
		}
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, id := range list {
			ids[id] = true
			u := uuid.MustParse(id)
			if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
				t.Fatalf("event id %s: version %d, variant %v; want a UUIDv7", id, u.Version(), u.Variant())
			}
			prefixes[id[:28]] = true // the twelve bytes drawn for the statement
		}
		if len(ids) != n {
			t.Fatalf("import %d: %d distinct event ids, want %d", round, len(ids), n)
		}
	}
	if len(prefixes) != 2 {
		t.Fatalf("%d event id prefixes over two imports, want one each: %v", len(prefixes), prefixes)
	}
}
