package app

import (
	"context"

	"github.com/fengcheng/datahub/internal/postgres/replica"
	"github.com/prometheus/client_golang/prometheus"
)

// replicaRoutes adapts the replica router to the server's write tokens:
// a token is the primary's WAL position in PostgreSQL's text form.
type replicaRoutes struct{ r *replica.Router }

func (rr replicaRoutes) ForRead(ctx context.Context, token string) context.Context {
	if token == "" {
		return replica.Read(ctx, 0)
	}
	lsn, err := replica.ParseLSN(token)
	if err != nil {
		// Not a position the hub handed out: the primary answers.
		return ctx
	}
	return replica.Read(ctx, lsn)
}

func (rr replicaRoutes) WriteToken(ctx context.Context) (string, error) {
	lsn, err := rr.r.WriteLSN(ctx)
	if err != nil {
		return "", err
	}
	return lsn.String(), nil
}

// replicaMetrics reports each replica's state on /metrics, so that an
// operator sees a replica leave the rotation and the primary take its reads.
type replicaMetrics struct{ r *replica.Router }

var (
	replicaHealthyDesc = prometheus.NewDesc("datahub_db_replica_healthy",
		"1 while the replica serves queries (replaying, within REPLICA_MAX_LAG), else 0.", []string{"replica"}, nil)
	replicaReadsDesc = prometheus.NewDesc("datahub_db_replica_statements_total",
		"Statements of queries the replica served.", []string{"replica"}, nil)
	primaryReadsDesc = prometheus.NewDesc("datahub_db_replica_fallback_statements_total",
		"Statements of queries the primary served because no replica had replayed what they must see.", nil, nil)
)

func (m replicaMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicaHealthyDesc
	ch <- replicaReadsDesc
	ch <- primaryReadsDesc
}

func (m replicaMetrics) Collect(ch chan<- prometheus.Metric) {
	nodes, primary := m.r.Stats()
	for _, n := range nodes {
		healthy := 0.0
		if n.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(replicaHealthyDesc, prometheus.GaugeValue, healthy, n.Name)
		ch <- prometheus.MustNewConstMetric(replicaReadsDesc, prometheus.CounterValue, float64(n.Reads), n.Name)
	}
	ch <- prometheus.MustNewConstMetric(primaryReadsDesc, prometheus.CounterValue, float64(primary))
}
