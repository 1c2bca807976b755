package redisclient

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Errors counts failed Redis commands by command name, as
// datahub_redis_errors_total{op}: install it on every client (New's hooks)
// and register it on /metrics. redis.Nil (no such key, an empty blocking
// read) is an answer, not a failure, and a command cancelled by its caller
// (shutdown, a closed subscription) is not Redis failing either.
type Errors struct {
	total *prometheus.CounterVec
}

var (
	_ redis.Hook           = (*Errors)(nil)
	_ prometheus.Collector = (*Errors)(nil)
)

// NewErrors returns a counter with no failures yet.
func NewErrors() *Errors {
	return &Errors{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "datahub_redis_errors_total",
		Help: "Failed Redis commands by command (op); every command of a failed pipeline counts.",
	}, []string{"op"})}
}

// Describe implements prometheus.Collector.
func (e *Errors) Describe(ch chan<- *prometheus.Desc) { e.total.Describe(ch) }

// Collect implements prometheus.Collector.
func (e *Errors) Collect(ch chan<- prometheus.Metric) { e.total.Collect(ch) }

// DialHook implements redis.Hook: a failed dial fails the command that
// needed the connection, which ProcessHook counts.
func (e *Errors) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (e *Errors) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// The client sets cmd's error from what the hooks return, after
		// them: read the returned error.
		err := next(ctx, cmd)
		e.observe(ctx, cmd, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook (pipelines and MULTI/EXEC).
func (e *Errors) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			e.observe(ctx, cmd, cmd.Err())
		}
		return err
	}
}

func (e *Errors) observe(ctx context.Context, cmd redis.Cmder, err error) {
	if err == nil || errors.Is(err, redis.Nil) {
		return
	}
	if cmd.Name() == "client" {
		// go-redis's own connection set-up (CLIENT SETINFO,
		// MAINT_NOTIFICATIONS), which shrugs off a server too old for
		// it; the hub sends no CLIENT command of its own.
		return
	}
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		return // a script's EVALSHA before Redis knows it: go-redis falls back to EVAL
	}
	if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
		return // the caller gave up; Redis did not fail
	}
	e.total.WithLabelValues(strings.ToLower(cmd.Name())).Inc()
}
