package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
)

// mixedNDJSON is a file of every kind of line the reader meets: valid
// records, blank and space-only lines, broken JSON, unknown members, bad
// times, records the validator refuses, lines over the limit, CRLF
// endings, a BOM, no final line break.
func mixedNDJSON(lines int) []byte {
	var b bytes.Buffer
	b.WriteString("\xEF\xBB\xBF")
	for i := range lines {
		switch i % 11 {
		case 3:
			b.WriteString("\n")
		case 4:
			b.WriteString("   \t \r\n")
		case 5:
			fmt.Fprintf(&b, `{"externalId":"x-%d","kind":`+"\n", i)
		case 6:
			fmt.Fprintf(&b, `{"externalId":"x-%d","colour":"red"}`+"\n", i)
		case 7:
			fmt.Fprintf(&b, `{"externalId":"x-%d","kind":"EVENT","minorCode":"0101","source":"DRONE_PATROL","description":"d","address":"a","lat":32.4,"lng":119.9,"reportedAt":"yesterday"}`+"\n", i)
		case 8:
			fmt.Fprintf(&b, `{"externalId":"x-%d","kind":"NOPE","minorCode":"0101","source":"DRONE_PATROL","description":"d","address":"a","lat":32.4,"lng":119.9}`+"\n", i)
		case 9:
			fmt.Fprintf(&b, `{"externalId":"x-%d","description":"%s"}`+"\n", i, strings.Repeat("长", 2000))
		default:
			end := "\n"
			if i%2 == 0 {
				end = "\r\n"
			}
			if i == lines-1 {
				end = ""
			}
			fmt.Fprintf(&b, `{"externalId":"x-%d","kind":"EVENT","minorCode":"0101","source":"DRONE_PATROL","description":"第 %d 号","address":"青年路 %d 号","lat":32.4%d,"lng":119.9,"jurisdiction":"hailing.chengdong.fenghuang","reportedAt":"2024-05-01T08:30:00+08:00","photoUrls":["https://img.example.cn/%d.jpg","https://img.example.cn/%d-2.jpg"]}%s`,
				i, i, i, i%10, i, i, end)
		}
	}
	return b.Bytes()
}

// failingReader returns its data, then err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

type readResult struct {
	rows []CaseRow
	errs []RowError
	read int64
	err  error
}

func readRows(c *caseRows) readResult {
	defer c.close()
	var res readResult
	for c.Next() {
		row := *c.Row()
		row.ID = [16]byte{} // drawn per row
		row.PhotoURLs = append([]string(nil), row.PhotoURLs...)
		res.rows = append(res.rows, row)
	}
	res.errs, res.read, res.err = c.errs.list, c.read, c.Err()
	return res
}

// The workers' rows, row errors, line numbers and stream error are the
// sequential reader's, whatever the block boundaries.
func TestParallelNDJSONMatchesSequential(t *testing.T) {
	v := NewValidator(cases.DefaultCatalogue())
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	const maxLine = 4096
	streamErr := errors.New("connection reset")
	for _, n := range []int{0, 1, 7, blockLines - 1, blockLines, 3*blockLines + 5, 2000} {
		for _, fail := range []bool{false, true} {
			data := mixedNDJSON(n)
			open := func() io.Reader {
				if fail {
					return &failingReader{r: bytes.NewReader(data), err: streamErr}
				}
				return bytes.NewReader(data)
			}
			seq := readRows(&caseRows{rd: newNDJSONReader(open(), maxLine), v: v, now: now, errs: newRejections(100_000)})
			for _, workers := range []int{2, 3} {
				par := readRows(&caseRows{par: newParallelNDJSON(open(), maxLine, workers, v, now), v: v, now: now, errs: newRejections(100_000)})
				if !reflect.DeepEqual(seq, par) {
					t.Fatalf("%d lines, failing %v, %d workers: parallel %d rows %d errors read %d (%v), sequential %d rows %d errors read %d (%v)",
						n, fail, workers, len(par.rows), len(par.errs), par.read, par.err, len(seq.rows), len(seq.errs), seq.read, seq.err)
				}
			}
			if n == 2000 && (len(seq.rows) == 0 || len(seq.errs) == 0) {
				t.Fatalf("the mixed file gave %d rows and %d errors: it tests nothing", len(seq.rows), len(seq.errs))
			}
		}
	}
}

// A consumer that stops early (the database refused the COPY, say) closes
// the reader: every goroutine ends, and nothing reads the input after.
func TestParallelNDJSONStopsEarly(t *testing.T) {
	v := NewValidator(cases.DefaultCatalogue())
	data := mixedNDJSON(20 * blockLines)
	r := &tallyReader{r: bytes.NewReader(data)}
	c := &caseRows{par: newParallelNDJSON(r, 4096, 2, v, time.Now()), v: v, now: time.Now(), errs: newRejections(10)}
	for range 3 {
		if !c.Next() {
			t.Fatal("no row")
		}
	}
	c.close()
	after := r.n
	if after >= int64(len(data)) {
		t.Fatalf("read the whole file (%d bytes) for three rows", after)
	}
	time.Sleep(20 * time.Millisecond)
	if r.n != after {
		t.Fatalf("input read after close: %d → %d bytes", after, r.n)
	}
}

type tallyReader struct {
	r io.Reader
	n int64
}

func (c *tallyReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
