package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
	"github.com/fengcheng/datahub/internal/evaluation"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/fengcheng/datahub/internal/testenv"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
)

// getTable downloads a frozen table over HTTP as an evaluator.
func getTable(t *testing.T, ctx context.Context, svc *evaluation.Service, path string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	server.ExportHandler(svc, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// readXLSX reads a workbook back with openpyxl (scripts/test-readers.sh
// installs it).
func readXLSX(t *testing.T, data []byte) map[string][][]any {
	t.Helper()
	out := testenv.ReadBack(t, data, "s.xlsx", "/usr/bin/python3", "test/readers/xlsx_dump.py")
	var sheets map[string][][]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&sheets); err != nil {
		t.Fatal(err)
	}
	return sheets
}

// cellEquals compares an openpyxl cell with an NDJSON value of a column.
func cellEquals(t *testing.T, typ string, cell, nd any) bool {
	t.Helper()
	if nd == nil {
		return cell == nil
	}
	switch typ {
	case "timestamp":
		s, _ := cell.(string)
		local, err := time.ParseInLocation("2006-01-02T15:04:05", s, shanghai)
		return err == nil && local.UTC().Format(time.RFC3339) == nd
	case "integer", "number":
		n, ok := cell.(json.Number)
		return ok && n.String() == nd.(json.Number).String()
	}
	return cell == nd
}

func TestEvaluationSnapshotFormats(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), renderingOnly)
	ctx := evaluatorCtx()
	m, err := svc.CreateSnapshot(ctx, "cases", evaluation.SnapshotFilter{Jurisdiction: f.street}, evaluation.Profile{})
	if err != nil {
		t.Fatalf("create snapshot: %v", err)
	}
	nd := exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)
	csvData := exportBytes(t, ctx, svc, m.ID, evaluation.FormatCSV, 0)

	// CSV with BOM: the same bytes after the mark, its own checksum, and a
	// range inside it resumes correctly.
	bom := exportBytes(t, ctx, svc, m.ID, evaluation.FormatCSVBOM, 0)
	if !bytes.Equal(bom, append([]byte(evaluation.BOM), csvData...)) || sha(bom) != m.CSVBOM.SHA256 || int64(len(bom)) != m.CSVBOM.Bytes {
		t.Fatalf("csv+bom: %d bytes %s, manifest %+v", len(bom), sha(bom), m.CSVBOM)
	}
	for _, off := range []int64{1, 3, 10, int64(len(bom)) - 5} {
		if got := exportBytes(t, ctx, svc, m.ID, evaluation.FormatCSVBOM, off); !bytes.Equal(got, bom[off:]) {
			t.Errorf("csv+bom from %d differs", off)
		}
	}

	// Dimension tables and the dictionary are in the manifest with their
	// checksums, and served exactly.
	want := []string{"jurisdictions", "departments", "case_classes", "kinds", "sources", "statuses",
		"violation_kinds", "violation_statuses", "parking_lot_kinds", "renovation_statuses", "dictionary"}
	if len(m.Tables) != len(want) {
		t.Fatalf("tables %+v", m.Tables)
	}
	for i, tm := range m.Tables {
		if tm.Name != want[i] || tm.Rows == 0 || len(tm.Columns) == 0 {
			t.Errorf("table %d: %+v", i, tm)
		}
		for _, ext := range []string{"ndjson", "csv", "csv?bom=1"} {
			b := getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/"+tm.Name+"."+ext)
			if r := tm.Files[tm.Name+"."+ext]; sha(b) != r.SHA256 || int64(len(b)) != r.Bytes {
				t.Errorf("%s.%s: %s, manifest %+v", tm.Name, ext, sha(b), r)
			}
		}
	}
	again, err := svc.Snapshot(ctx, m.ID)
	if err != nil || len(again.Tables) != len(m.Tables) || again.XLSX == nil || *again.XLSX != *m.XLSX || again.CSVBOM != m.CSVBOM {
		t.Fatalf("stored manifest %+v: %v", again, err)
	}
	// The dictionary describes every column of the rows in both languages.
	dict := string(getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/dictionary.ndjson"))
	for _, c := range m.Columns {
		if c.AboutZH == "" || c.Anonymization == "" || !strings.Contains(dict, `"table":"cases","column":"`+c.Name+`"`) {
			t.Errorf("column %s is not fully in the dictionary", c.Name)
		}
	}

	// Frozen: renaming a jurisdiction afterwards changes nothing served.
	jur := getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/jurisdictions.csv")
	if _, err := pool.Exec(context.Background(), `UPDATE jurisdictions SET name_zh = '改名' WHERE code = $1`, f.c1); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jur, getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/jurisdictions.csv")) {
		t.Error("a later catalogue change altered a frozen table")
	}
	var c1Name string
	if err := pool.QueryRow(context.Background(), `SELECT name_zh FROM jurisdictions WHERE code = $1`, f.street).Scan(&c1Name); err != nil {
		t.Fatal(err)
	}

	// XLSX, read back by openpyxl: every row equals the NDJSON rendering,
	// codes keep their leading zeros, Chinese round-trips.
	xl := exportBytes(t, ctx, svc, m.ID, evaluation.FormatXLSX, 0)
	if sha(xl) != m.XLSX.SHA256 || int64(len(xl)) != m.XLSX.Bytes {
		t.Fatalf("xlsx %s, manifest %+v", sha(xl), m.XLSX)
	}
	if got := exportBytes(t, ctx, svc, m.ID, evaluation.FormatXLSX, 100); !bytes.Equal(got, xl[100:]) {
		t.Error("xlsx range differs")
	}
	sheets := readXLSX(t, xl)
	rows := sheets["cases"]
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(rows) != len(lines)+1 {
		t.Fatalf("cases sheet has %d rows, ndjson %d lines", len(rows), len(lines))
	}
	for i, c := range m.Columns {
		h := c.Name
		if c.Type == "timestamp" {
			h += " (Asia/Shanghai)"
		}
		if rows[0][i] != h {
			t.Errorf("header %d = %v, want %s", i, rows[0][i], h)
		}
	}
	for r, l := range lines {
		var obj map[string]any
		d := json.NewDecoder(strings.NewReader(l))
		d.UseNumber()
		if err := d.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		for i, c := range m.Columns {
			var cell any // openpyxl leaves trailing empty cells out
			if i < len(rows[r+1]) {
				cell = rows[r+1][i]
			}
			if !cellEquals(t, c.Type, cell, obj[c.Name]) {
				t.Errorf("row %d %s: xlsx %#v, ndjson %#v", r+1, c.Name, cell, obj[c.Name])
			}
		}
	}
	classes := sheets["case_classes"]
	all := cases.DefaultCatalogue().All()
	if len(classes) != len(all)+1 {
		t.Fatalf("case_classes sheet: %d rows", len(classes))
	}
	for i, cl := range all {
		r := classes[i+1]
		if r[1] != cl.MajorCode || r[3] != cl.MinorCode || r[4] != cl.MinorName {
			t.Errorf("class %s: %v", cl.MinorCode, r)
		}
	}
	found := false
	for _, r := range sheets["jurisdictions"] {
		if r[0] == f.street && r[3] == c1Name {
			found = true
		}
	}
	if !found || len(sheets["dictionary"]) < len(m.Columns) || sheets["about"] == nil {
		t.Errorf("jurisdiction %s %s not in the workbook, or dictionary/about missing", f.street, c1Name)
	}
}

type parquetDump struct {
	Schema []struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Logical any    `json:"logical"`
	} `json:"schema"`
	Rows      [][]any             `json:"rows"`
	Encodings map[string][]string `json:"encodings"`
}

// readParquet reads a Parquet file back with hyparquet (a JavaScript
// reader; scripts/test-readers.sh installs it).
func readParquet(t *testing.T, data []byte) parquetDump {
	t.Helper()
	out := testenv.ReadBack(t, data, "s.parquet", "node", "test/readers/parquet_dump.mjs")
	var d parquetDump
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEvaluationSnapshotParquet(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), renderingOnly)
	ctx := evaluatorCtx()
	m, err := svc.CreateSnapshot(ctx, "cases", evaluation.SnapshotFilter{Jurisdiction: f.street}, evaluation.Profile{KeepText: true, Coordinates: true})
	if err != nil {
		t.Fatalf("create snapshot: %v", err)
	}
	nd := exportBytes(t, ctx, svc, m.ID, evaluation.FormatNDJSON, 0)
	pq := exportBytes(t, ctx, svc, m.ID, evaluation.FormatParquet, 0)
	if m.Parquet == nil || sha(pq) != m.Parquet.SHA256 || int64(len(pq)) != m.Parquet.Bytes {
		t.Fatalf("parquet %s, manifest %+v", sha(pq), m.Parquet)
	}
	if got := exportBytes(t, ctx, svc, m.ID, evaluation.FormatParquet, 7); !bytes.Equal(got, pq[7:]) {
		t.Error("parquet range differs")
	}
	d := readParquet(t, pq)
	at := map[string]int{}
	for i, s := range d.Schema {
		at[s.Name] = i
	}
	for _, c := range m.Columns {
		i, ok := at[c.Name]
		if !ok {
			t.Fatalf("column %s missing from %+v", c.Name, d.Schema)
		}
		s := d.Schema[i]
		wantType := map[string]string{"string": "BYTE_ARRAY", "integer": "INT64", "number": "DOUBLE", "boolean": "BOOLEAN", "timestamp": "INT64"}[c.Type]
		if s.Type != wantType || (c.Type == "timestamp") != (s.Logical == "TIMESTAMP") {
			t.Errorf("column %s: %+v", c.Name, s)
		}
	}
	if enc := strings.Join(d.Encodings["minor_code"], ","); !strings.Contains(enc, "DICTIONARY") {
		t.Errorf("minor_code encodings %s: codes are not dictionary-encoded", enc)
	}
	lines := strings.Split(strings.TrimSuffix(string(nd), "\n"), "\n")
	if len(d.Rows) != len(lines) {
		t.Fatalf("parquet %d rows, ndjson %d", len(d.Rows), len(lines))
	}
	for r, l := range lines {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(l))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Columns {
			cell, want := d.Rows[r][at[c.Name]], obj[c.Name]
			ok := cell == want
			switch {
			case want == nil || cell == nil:
			case c.Type == "timestamp":
				tm, err := time.Parse(time.RFC3339, cell.(string))
				ok = err == nil && tm.UTC().Format(time.RFC3339) == want
			case c.Type == "integer" || c.Type == "number":
				ok = cell.(json.Number).String() == want.(json.Number).String()
			}
			if !ok {
				t.Errorf("row %d %s: parquet %#v, ndjson %#v", r+1, c.Name, cell, want)
			}
		}
	}
	// The dimension tables come as Parquet too; codes and Chinese survive.
	cl := readParquet(t, getTable(t, ctx, svc, "/datasets/"+m.ID.String()+"/case_classes.parquet"))
	if r := cl.Rows[0]; len(cl.Rows) != len(cases.DefaultCatalogue().All()) {
		t.Errorf("case_classes.parquet: %d rows, first %v", len(cl.Rows), r)
	}
	var names []string
	for _, r := range cl.Rows {
		for _, v := range r {
			if s, ok := v.(string); ok {
				names = append(names, s)
			}
		}
	}
	if all := strings.Join(names, " "); !strings.Contains(all, "0601") || !strings.Contains(all, "其他设施损坏") || !strings.Contains(all, " 01 ") {
		t.Errorf("case_classes.parquet lost codes or names: %s", all)
	}
}

// TestEvaluationSnapshotFormatsHTTP: every rendering and every frozen
// table is served over HTTP with its manifest checksum, resumes with Range,
// and is audited before any byte leaves (refused when the audit trail
// fails).
func TestEvaluationSnapshotFormatsHTTP(t *testing.T) {
	pool := setup(t)
	f := newEvalFixture(t, pool)
	rec := &recordingAuditor{}
	svc := newEvalService(t, pool, fixture.NewClock(evalNow), renderingOnly, func(c *evaluation.Config) { c.Auditor = rec })
	ctx := evaluatorCtx()
	m, err := svc.CreateSnapshot(ctx, "cases", evaluation.SnapshotFilter{Jurisdiction: f.street}, evaluation.Profile{})
	if err != nil {
		t.Fatalf("create snapshot: %v", err)
	}
	h := server.ExportHandler(svc, nil)
	get := func(path, rng string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	base := "/datasets/" + m.ID.String()
	type file struct {
		path string
		want evaluation.Rendering
	}
	files := []file{{base + ".csv?bom=1", m.CSVBOM}, {base + ".xlsx", *m.XLSX}, {base + ".parquet", *m.Parquet}}
	for _, tm := range m.Tables {
		for _, ext := range []string{"ndjson", "csv", "csv?bom=1", "parquet"} {
			files = append(files, file{base + "/" + tm.Name + "." + ext, tm.Files[tm.Name+"."+ext]})
		}
	}
	for _, fl := range files {
		before := rec.rows.Load()
		full := get(fl.path, "")
		if full.Code != http.StatusOK || sha(full.Body.Bytes()) != fl.want.SHA256 || int64(full.Body.Len()) != fl.want.Bytes {
			t.Errorf("GET %s: %d, %d bytes %s, manifest %+v", fl.path, full.Code, full.Body.Len(), sha(full.Body.Bytes()), fl.want)
			continue
		}
		if rec.rows.Load() == before {
			t.Errorf("GET %s was not audited", fl.path)
		}
		cut := fl.want.Bytes / 2
		part := get(fl.path, "bytes="+strconv.FormatInt(cut, 10)+"-")
		if part.Code != http.StatusPartialContent || !bytes.Equal(part.Body.Bytes(), full.Body.Bytes()[cut:]) {
			t.Errorf("GET %s from %d: %d, %d bytes", fl.path, cut, part.Code, part.Body.Len())
		}
	}
	if b := get(base+"/jurisdictions.csv?bom=1", "").Body.String(); !strings.HasPrefix(b, evaluation.BOM+"code,level,parent_code,name_zh") {
		t.Errorf("jurisdictions.csv with BOM starts %q", b[:min(len(b), 40)])
	}
	rec.fail.Store(true)
	for _, fl := range files[:4] {
		if w := get(fl.path, ""); w.Code != http.StatusInternalServerError || bytes.Contains(w.Body.Bytes(), []byte("PK")) {
			t.Errorf("GET %s with a failing audit trail: %d", fl.path, w.Code)
		}
	}
	if w := get(base+"/nosuch.csv", ""); w.Code != http.StatusNotFound {
		t.Errorf("unknown table: %d", w.Code)
	}
}
