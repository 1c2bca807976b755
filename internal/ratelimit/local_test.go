package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/fengcheng/datahub/internal/ratelimit"
	"github.com/fengcheng/datahub/internal/testenv/fixture"
	"github.com/redis/go-redis/v9"
)

// TestFallbackLimitsWhileRedisIsDown: with Redis unreachable the limits
// still hold, per instance, and a flood of new callers cannot grow memory
// without bound.
func TestFallbackLimitsWhileRedisIsDown(t *testing.T) {
	clk := fixture.NewClock(time.Unix(1_800_000_000, 0))
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	l := ratelimit.NewWithFallback(ratelimit.New(dead, "x", clk.Now), ratelimit.NewLocal(clk.Now, 2), nil)
	ctx := context.Background()
	rule := ratelimit.Rule{Limit: 2, Window: time.Minute}
	for i := range 2 {
		if ok, _, err := l.Allow(ctx, "anon:a", rule); err != nil || !ok {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	if ok, wait, err := l.Allow(ctx, "anon:a", rule); err != nil || ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("3rd request: ok %v wait %s err %v", ok, wait, err)
	}
	if ok, _, _ := l.Allow(ctx, "anon:b", rule); !ok {
		t.Fatal("a second caller refused")
	}
	if ok, _, _ := l.Allow(ctx, "anon:c", rule); ok {
		t.Fatal("a third caller admitted beyond the tracked-callers bound")
	}
	clk.Advance(61 * time.Second)
	if ok, _, err := l.Allow(ctx, "anon:a", rule); err != nil || !ok {
		t.Fatalf("after the window: %v", err)
	}
}
