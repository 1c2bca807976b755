package audit

import (
	"context"
	"sync/atomic"
)

// Barrier gathers the synchronous audit commits of one response into one.
// A response that reads several datasets (a violation with its compound and
// its permits) would otherwise wait for a commit per dataset, one after the
// other; with a barrier each read only enqueues its record and marks the
// barrier, and whoever owns the response flushes once before anything of
// it is sent. The guarantee is the same: no audited data leaves the hub
// before its record is committed.
type Barrier struct{ pending atomic.Bool }

type barrierKey struct{}

// WithBarrier returns ctx carrying a new barrier. The caller must call
// Pending before it sends the response and flush if it reports true.
func WithBarrier(ctx context.Context) (context.Context, *Barrier) {
	b := &Barrier{}
	return context.WithValue(ctx, barrierKey{}, b), b
}

// BarrierFrom returns ctx's barrier, or nil when the caller must flush
// itself.
func BarrierFrom(ctx context.Context) *Barrier {
	b, _ := ctx.Value(barrierKey{}).(*Barrier)
	return b
}

// Defer records that a record was enqueued and must be committed before
// the response leaves.
func (b *Barrier) Defer() { b.pending.Store(true) }

// Pending reports whether a flush is owed, and clears it: a subscription's
// next event starts owing nothing.
func (b *Barrier) Pending() bool { return b.pending.Swap(false) }
