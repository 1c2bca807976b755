package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/cases"
)

func benchFile(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"externalId":"b-%d","kind":"EVENT","minorCode":"0501","source":"DRONE_PATROL","description":"无人机巡查发现 %d 号问题，请处理","address":"海陵区青年路 %d 号","lat":32.4%d,"lng":119.9%d,"jurisdiction":"hailing.chengdong.fenghuang","reporterName":"张三","reporterPhone":"13812345678","reportedAt":"2025-03-01T08:00:00+08:00","photoUrls":["https://img.example.cn/p/%d.jpg"]}`+"\n",
			i, i, i%500, i%1000, i%1000, i)
	}
	return b.Bytes()
}

// BenchmarkReadNDJSON measures reading and validating alone (no database),
// on the request's goroutine and spread over two workers (wall time per
// row: the workers' CPU adds up).
func BenchmarkReadNDJSON(b *testing.B) {
	data := benchFile(10_000)
	v := NewValidator(cases.DefaultCatalogue())
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("decoders=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			now := time.Now()
			for b.Loop() {
				rows := &caseRows{v: v, now: now, errs: newRejections(10)}
				if workers > 1 {
					rows.par = newParallelNDJSON(bytes.NewReader(data), MaxRecordBytesDefault, workers, v, now)
				} else {
					rows.rd = newNDJSONReader(bytes.NewReader(data), MaxRecordBytesDefault)
				}
				n := 0
				for rows.Next() {
					n++
				}
				rows.close()
				if rows.Err() != nil || n != 10_000 {
					b.Fatal(rows.Err(), n, rows.errs.list)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/row")
		})
	}
}
