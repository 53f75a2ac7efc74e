package serve

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	cmetrics "github.com/cairn-mlops/cairn/internal/metrics"
)

// metrics are the model server's Prometheus series, all labelled by
// deployment.
type metrics struct {
	requests  *cmetrics.Requests
	batchSize *prometheus.HistogramVec
	compute   *prometheus.HistogramVec
	queue     *prometheus.GaugeVec
	version   *prometheus.GaugeVec
	swaps     *prometheus.CounterVec
	unknown   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: cmetrics.NewRequests(reg, cmetrics.RequestsOpts{
			Count: "cairn_serve_requests_total", CountHelp: "Inference requests by deployment, endpoint and HTTP status.",
			Duration: "cairn_serve_request_duration_seconds", DurationHelp: "Inference request latency, queueing included.",
			Labels: []string{"deployment", "endpoint"}, Status: "code",
			Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1, 2, 4, 8},
		}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cairn_serve_batch_size", Help: "Examples per computed batch.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
		}, []string{"deployment"}),
		compute: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cairn_serve_batch_duration_seconds", Help: "Model compute time per batch.",
			Buckets: []float64{.0002, .0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1, 2},
		}, []string{"deployment"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_serve_queue_depth", Help: "Requests waiting for a replica.",
		}, []string{"deployment"}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_serve_model_version", Help: "1 for the model version a deployment serves.",
		}, []string{"deployment", "version"}),
		swaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_serve_model_loads_total", Help: "Model version loads by result (ok, rejected).",
		}, []string{"deployment", "result"}),
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_serve_unknown_categories_total", Help: "Record fields whose category value training never saw, by deployment and field.",
		}, []string{"deployment", "field"}),
	}
	if reg == nil {
		return m
	}
	// Several managers in one process (as in tests) share the series
	// registered first.
	m.batchSize = cmetrics.Register(reg, m.batchSize)
	m.compute = cmetrics.Register(reg, m.compute)
	m.queue = cmetrics.Register(reg, m.queue)
	m.version = cmetrics.Register(reg, m.version)
	m.swaps = cmetrics.Register(reg, m.swaps)
	m.unknown = cmetrics.Register(reg, m.unknown)
	return m
}

func (m *metrics) request(deployment, endpoint string, code int, d time.Duration) {
	m.requests.Observe(code, d, deployment, endpoint)
}

func (m *metrics) swap(deployment, result string) { m.swaps.WithLabelValues(deployment, result).Inc() }

func (m *metrics) unknownCategory(deployment, field string) {
	m.unknown.WithLabelValues(deployment, field).Inc()
}

func (m *metrics) served(deployment string, old, cur *served) {
	if old != nil {
		m.version.DeleteLabelValues(deployment, old.version)
	}
	if cur != nil {
		m.version.WithLabelValues(deployment, cur.version).Set(1)
	}
}

func (m *metrics) observer(deployment string) batchObserver {
	return deploymentObserver{
		size: m.batchSize.WithLabelValues(deployment), compute: m.compute.WithLabelValues(deployment),
		queue: m.queue.WithLabelValues(deployment),
	}
}

type deploymentObserver struct {
	size, compute prometheus.Observer
	queue         prometheus.Gauge
}

func (o deploymentObserver) batch(n int, took time.Duration) {
	o.size.Observe(float64(n))
	o.compute.Observe(took.Seconds())
}

func (o deploymentObserver) queued(depth int) { o.queue.Set(float64(depth)) }
