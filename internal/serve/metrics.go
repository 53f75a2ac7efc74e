package serve

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the model server's Prometheus series, all labelled by
// deployment.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	batchSize *prometheus.HistogramVec
	compute   *prometheus.HistogramVec
	queue     *prometheus.GaugeVec
	version   *prometheus.GaugeVec
	swaps     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_serve_requests_total", Help: "Inference requests by deployment, endpoint and HTTP status.",
		}, []string{"deployment", "endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cairn_serve_request_duration_seconds", Help: "Inference request latency, queueing included.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1, 2, 4, 8},
		}, []string{"deployment", "endpoint"}),
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
	}
	if reg == nil {
		return m
	}
	// Several managers in one process (as in tests) share the series
	// registered first.
	m.requests = register(reg, m.requests)
	m.latency = register(reg, m.latency)
	m.batchSize = register(reg, m.batchSize)
	m.compute = register(reg, m.compute)
	m.queue = register(reg, m.queue)
	m.version = register(reg, m.version)
	m.swaps = register(reg, m.swaps)
	return m
}

// register registers c, or returns the collector of the same name already
// registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *metrics) request(deployment, endpoint string, code int, d time.Duration) {
	m.requests.WithLabelValues(deployment, endpoint, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(deployment, endpoint).Observe(d.Seconds())
}

func (m *metrics) swap(deployment, result string) { m.swaps.WithLabelValues(deployment, result).Inc() }

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
