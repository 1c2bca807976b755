package audit

import (
	"context"
	"testing"
)

// BenchmarkLog measures Log from many goroutines, the way request handlers
// call it, including the background writes: once the buffer is full, Log
// runs at the speed the database absorbs batches (backpressure), so this is
// the sustained throughput, not just the cost of enqueueing.
func BenchmarkLog(b *testing.B) {
	pool, _ := newSchema(b, true)
	w := NewWriter(pool, Options{})
	ctx := context.Background()
	r := sample(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Log(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if s := w.Stats(); s.Written != s.Logged {
		b.Fatalf("stats: %+v", s)
	}
}

// BenchmarkComputeHash is the per-record cost of chaining (and of Verify,
// apart from reading the rows).
func BenchmarkComputeHash(b *testing.B) {
	r := sample(1)
	prev := genesisHash()
	b.ReportAllocs()
	for b.Loop() {
		prev = ComputeHash(prev, r)
	}
}
