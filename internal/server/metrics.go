package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the hub's Prometheus instruments, on their own registry so
// several servers in one test process do not collide.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	// websockets and subscriptions are open now; WebSocket lifetimes stay
	// out of the request-latency histogram (they last hours).
	websockets    prometheus.Gauge
	subscriptions prometheus.Gauge
}

// NewMetrics registers the instruments and the pool's statistics.
func NewMetrics(pool *pgxpool.Pool) *Metrics {
	return NewMetricsWith(pool, nil)
}

// NewMetricsWith is NewMetrics plus datahub_db_statements_total, read from
// statements at scrape time.
func NewMetricsWith(pool *pgxpool.Pool, statements func() uint64) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datahub_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "datahub_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "datahub_graphql_errors_total", Help: "GraphQL errors by extensions.code.",
		}, []string{"code"}),
	}
	m.websockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "datahub_websocket_connections", Help: "Open GraphQL WebSocket connections.",
	})
	m.subscriptions = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "datahub_subscriptions", Help: "Active GraphQL subscriptions.",
	})
	reg.MustRegister(m.requests, m.latency, m.errors, m.websockets, m.subscriptions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		reg.MustRegister(newPoolCollector(pool))
	}
	if statements != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "datahub_db_statements_total", Help: "SQL statements sent to PostgreSQL (each query of a batch counts).",
		}, func() float64 { return float64(statements()) }))
	}
	return m
}

func (m *Metrics) countError(code string) { m.errors.WithLabelValues(code).Inc() }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

func (m *Metrics) observe(route string, status int, d time.Duration, websocket bool) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	if !websocket {
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}

// Register adds collectors of other parts of the hub (the audit writer's
// queue, say) to the /metrics registry.
func (m *Metrics) Register(cs ...prometheus.Collector) { m.Registry.MustRegister(cs...) }

// poolCollector exports pgxpool statistics at scrape time.
type poolCollector struct {
	pool                                   *pgxpool.Pool
	total, idle, acquired, maxConns, waits *prometheus.Desc
	waitSeconds                            *prometheus.Desc
}

func newPoolCollector(pool *pgxpool.Pool) *poolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("datahub_db_pool_"+name, help, nil, nil)
	}
	return &poolCollector{pool: pool,
		total: d("conns", "Open connections."), idle: d("idle_conns", "Idle connections."),
		acquired: d("acquired_conns", "Connections in use."), maxConns: d("max_conns", "Pool size limit."),
		waits:       d("empty_acquire_total", "Acquires that had to wait for a connection."),
		waitSeconds: d("acquire_wait_seconds_total", "Time spent waiting for connections."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.total, c.idle, c.acquired, c.maxConns, c.waits, c.waitSeconds} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.acquired, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.maxConns, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}
