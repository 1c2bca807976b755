package ingest_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	"github.com/fengcheng/datahub/internal/ingest"
)

// TestGzipExpansionIsBounded: a gzip bomb (tiny on the wire, blank lines
// inside, well under the size limit once decompressed) is refused with 413
// once it expands more than MaxGzipRatio-fold, instead of costing CPU for
// every byte up to the limit; an ordinary compressed file still passes.
func TestGzipExpansionIsBounded(t *testing.T) {
	pool := setup(t)
	svc := newService(t, pool, ingest.Config{})
	srv := server(t, svc, 1<<30)
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
	r := post(t, srv, "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(bomb.Bytes()), "urban-management", "system")
	if r.status != http.StatusRequestEntityTooLarge || len(r.errors) != 1 || r.errors[0].Extensions["code"] != "BAD_USER_INPUT" ||
		!strings.Contains(r.errors[0].Message, "expands more than 100-fold") {
		t.Fatalf("gzip bomb: %d %+v", r.status, r.errors)
	}
	unchanged(t, pool, before)

	ok := genNDJSON(prefix("ratio-ok"), 50)
	r = post(t, srv, "/ingest/cases", "application/x-ndjson", "gzip", bytes.NewReader(gzipped(t, ok)), "urban-management", "system")
	if r.status != http.StatusOK || r.report.Inserted != 50 {
		t.Fatalf("ordinary gzip file: %d %+v", r.status, r.report)
	}
}
