package redisclient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fengcheng/datahub/internal/redisclient"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// redisErrors reads datahub_redis_errors_total by op, as /metrics would.
func redisErrors(t *testing.T, e *redisclient.Errors) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestErrorsCounted: failed commands count by name, whether Redis answers
// with an error, a pipeline's command fails or Redis cannot be reached;
// redis.Nil and a caller's cancellation do not count.
func TestErrorsCounted(t *testing.T) {
	ctx := context.Background()
	errs := redisclient.NewErrors()
	rdb, err := redisclient.New(env.RedisURL, errs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	key := env.RedisPrefix + "errors-counted"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), key).Err() })

	if err := rdb.Get(ctx, key).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("get of a missing key: %v, want redis.Nil", err)
	}
	if err := rdb.Set(ctx, key, "text", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.LPush(ctx, key, "x").Err(); err == nil {
		t.Fatal("lpush on a string succeeded")
	}
	_, _ = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, key)
		p.Incr(ctx, key)
		return nil
	})
	// A script Redis does not know yet: EVALSHA fails with NOSCRIPT, go-redis
	// falls back to EVAL, and nothing failed.
	if err := redis.NewScript("return '"+key+"'").Run(ctx, rdb, nil).Err(); err != nil {
		t.Fatalf("script: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := rdb.Get(cancelled, key).Err(); err == nil {
		t.Fatal("get with a cancelled context succeeded")
	}

	down, err := redisclient.New("redis://127.0.0.1:1/0?dial_timeout=100ms&max_retries=-1", errs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = down.Close() })
	if err := down.Ping(ctx).Err(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}

	got := redisErrors(t, errs)
	want := map[string]float64{"lpush": 1, "incr": 1, "ping": 1}
	if len(got) != len(want) {
		t.Errorf("datahub_redis_errors_total = %v, want %v", got, want)
	}
	for op, n := range want {
		if got[op] != n {
			t.Errorf("datahub_redis_errors_total{op=%q} = %v, want %v (all: %v)", op, got[op], n, got)
		}
	}
}
