package app

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/fengcheng/datahub/internal/audit"
	"github.com/fengcheng/datahub/internal/server"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
)

// AuditCheckpointsKey is the Redis list (after REDIS_PREFIX) holding the
// audit chain's signed checkpoints, oldest first.
const AuditCheckpointsKey = "audit:checkpoints"

// maxRedisCheckpoints bounds the list: a week of one a minute, and more.
const maxRedisCheckpoints = 20_000

// redisCheckpoints keeps the audit chain's checkpoints in Redis, outside
// the database whose administrators the checkpoints guard against.
type redisCheckpoints struct {
	rdb redis.UniversalClient
	key string
}

// SaveCheckpoint implements audit.CheckpointSink.
func (r redisCheckpoints) SaveCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	pipe := r.rdb.TxPipeline()
	pipe.RPush(ctx, r.key, b)
	pipe.LTrim(ctx, r.key, -maxRedisCheckpoints, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("save checkpoint in redis: %w", err)
	}
	return nil
}

// RedisCheckpoints reads the checkpoints redisCheckpoints saved under key.
func RedisCheckpoints(ctx context.Context, rdb redis.UniversalClient, key string) ([]audit.Checkpoint, error) {
	vals, err := rdb.LRange(ctx, key, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read checkpoints from redis: %w", err)
	}
	out := make([]audit.Checkpoint, 0, len(vals))
	for i, v := range vals {
		var c audit.Checkpoint
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("redis checkpoint %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// readAuditor writes an audit record for every read of another
// department's data and every read of unmasked personal data. Records go
// to the batched writer; with sync set (AUDIT_SYNC, the default) the read
// waits until its record is committed, so an instance killed at any moment
// has a committed record of every such read it answered. Concurrent reads
// share one commit: Flush writes everything queued when it is called.
type readAuditor struct {
	w       *audit.Writer
	catalog *access.Catalog
	sync    bool
}

// auditFlushTimeout bounds how long a read waits for its audit record to be
// committed. A database that stops answering between the read and the
// commit must fail the read quickly (the writer keeps retrying the record in
// the background), not hold it until the request timeout.
const auditFlushTimeout = 5 * time.Second

// errAuditUnavailable refuses a read whose audit record could not be
// committed in time: its data must not be served unrecorded.
var errAuditUnavailable = &apperr.Error{Code: apperr.ServiceUnavailable,
	Message: "the audit trail cannot record this read at the moment, please retry"}

// Read implements cases.Auditor (and the other datasets' auditors). d is
// the decision narrowed to the rows returned (access.AuditRead), so the
// record names the groups shown as stored in them and the grants they were
// read under, not what is permitted elsewhere. Masked groups are not listed:
// they disclose no personal data.
func (a readAuditor) Read(ctx context.Context, d *access.Decision, rows int) error {
	p := access.PrincipalFrom(ctx)
	ds, ok := a.catalog.Dataset(d.Dataset)
	if !ok {
		return nil
	}
	crossDept := p.Dept != ds.Provider
	personal := false
	var groups []string
	for name, acc := range d.Fields {
		if acc != access.FieldVisible {
			continue
		}
		groups = append(groups, name)
		if g, ok := ds.Group(name); ok && g.Class == access.ClassPersonal {
			personal = true
		}
	}
	if !crossDept && !personal {
		return nil
	}
	slices.Sort(groups)
	// A third-party evaluator has no department: the record names its
	// organisation there ("org:" cannot begin a department code).
	dept := p.Dept
	if p.Org != "" {
		dept = "org:" + p.Org
	}
	err := a.w.Log(ctx, audit.Record{
		Subject: p.Subject, Dept: dept, Roles: p.Roles,
		Purpose: d.Purpose, GrantID: strings.Join(d.GrantIDs, ","),
		Dataset: d.Dataset, FieldGroups: groups, RowCount: rows,
		Operation: operationName(ctx), RequestID: server.RequestID(ctx),
	})
	if err != nil || !a.sync {
		return err
	}
	if b := audit.BarrierFrom(ctx); b != nil {
		// The response's owner commits once for all its reads.
		b.Defer()
		return nil
	}
	return a.Flush(ctx)
}

// Flush waits until every record enqueued so far is committed, at most
// auditFlushTimeout: SERVICE_UNAVAILABLE otherwise (the data must not be
// served unrecorded).
func (a readAuditor) Flush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(ctx, auditFlushTimeout)
	defer cancel()
	if err := a.w.Flush(fctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("audit read: %w", ctx.Err())
		}
		if _, ok := apperr.As(err); ok {
			return err
		}
		return fmt.Errorf("%w: %w", errAuditUnavailable, err)
	}
	return nil
}

// operationName names the GraphQL operation a read belongs to: its name, or
// its first root field when it has none.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil {
		return oc.OperationName
	}
	if oc.Operation.Name != "" {
		return oc.Operation.Name
	}
	name := string(oc.Operation.Operation)
	if len(oc.Operation.SelectionSet) > 0 {
		if f, ok := oc.Operation.SelectionSet[0].(*ast.Field); ok {
			name += " " + f.Name
		}
	}
	return name
}

// auditMetrics exports the audit writer's counters: the queue an outage
// fills (pending), records refused for their content (stored stripped),
// records lost at shutdown, failed write attempts.
func auditMetrics(w *audit.Writer) []prometheus.Collector {
	gauge := func(name, help string, v func(audit.Stats) uint64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(v(w.Stats())) })
	}
	counter := func(name, help string, v func(audit.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(w.Stats())) })
	}
	return []prometheus.Collector{
		gauge("datahub_audit_pending", "Audit records accepted and not yet committed.", func(s audit.Stats) uint64 { return s.Pending }),
		counter("datahub_audit_written_total", "Audit records committed.", func(s audit.Stats) uint64 { return s.Written }),
		counter("datahub_audit_write_errors_total", "Failed audit write attempts (each retried).", func(s audit.Stats) uint64 { return s.FlushErrors }),
		counter("datahub_audit_refused_total", "Audit records the database refused for their content, stored stripped.", func(s audit.Stats) uint64 { return s.Refused }),
		counter("datahub_audit_rejected_total", "Reads refused because the audit queue stayed full.", func(s audit.Stats) uint64 { return s.Rejected }),
		counter("datahub_audit_flushes_total", "Responses that waited for their audit commit.", func(s audit.Stats) uint64 { return s.Flushes }),
		counter("datahub_audit_flush_lingers_total", "Audit commits that waited for other responses to share them (group commit under load).",
			func(s audit.Stats) uint64 { return s.Lingered }),
		counter("datahub_audit_lost_total", "Audit records still unwritten when shutdown gave up (logged in full).", func(s audit.Stats) uint64 { return s.Lost }),
	}
}
