package postgres

import (
	"context"
	"testing"
)

func TestPoolSizeFollowsTheCores(t *testing.T) {
	for procs, want := range map[int]int32{1: 8, 2: 8, 3: 12, 4: 16, 16: 64} {
		if got := maxConnsFor(procs); got != want {
			t.Errorf("maxConnsFor(%d) = %d, want %d", procs, got, want)
		}
	}
	// An unset size takes the default; a set one is kept.
	for set, want := range map[int32]int32{0: DefaultMaxConns(), 3: 3} {
		pool, err := NewPool(context.Background(), PoolConfig{URL: "postgres://127.0.0.1:1/none", MaxConns: set})
		if err != nil {
			t.Fatal(err)
		}
		got := pool.Config().MaxConns
		pool.Close()
		if got != want {
			t.Errorf("MaxConns %d: pool of %d, want %d", set, got, want)
		}
	}
}
