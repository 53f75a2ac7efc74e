package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns it, or the collector of the
// same name registered before (several servers in one process, as in
// tests, share their series). Any other registration error is a
// programming error and panics.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
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

// RequestsOpts name a server's request series.
type RequestsOpts struct {
	Count, CountHelp       string   // e.g. cairn_http_requests_total
	Duration, DurationHelp string   // e.g. cairn_http_request_duration_seconds
	Labels                 []string // what requests are told apart by, e.g. method and route
	Status                 string   // the status label of the count
	Buckets                []float64
}

// Requests counts a server's requests by their labels and status, and
// observes their latency by their labels.
type Requests struct {
	count    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewRequests returns the series of o, registered with reg when it is not
// nil.
func NewRequests(reg prometheus.Registerer, o RequestsOpts) *Requests {
	r := &Requests{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: o.Count, Help: o.CountHelp},
			append(append([]string{}, o.Labels...), o.Status)),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: o.Duration, Help: o.DurationHelp, Buckets: o.Buckets}, o.Labels),
	}
	if reg != nil {
		r.count, r.duration = Register(reg, r.count), Register(reg, r.duration)
	}
	return r
}

// Observe records one request: its label values (in the order of
// RequestsOpts.Labels), status and duration.
func (r *Requests) Observe(status int, d time.Duration, labels ...string) {
	r.count.WithLabelValues(append(labels, strconv.Itoa(status))...).Inc()
	r.duration.WithLabelValues(labels...).Observe(d.Seconds())
}
