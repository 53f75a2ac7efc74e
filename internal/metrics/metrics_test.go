package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// samples returns family name -> "label=value,..." -> count (counters) or
// sample count (histograms).
func samples(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]map[string]float64{}
	for _, f := range fams {
		out[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			if c := m.GetCounter(); c != nil {
				out[f.GetName()][key] = c.GetValue()
			} else if h := m.GetHistogram(); h != nil {
				out[f.GetName()][key] = float64(h.GetSampleCount())
			}
		}
	}
	return out
}

func TestRequestsShareSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := RequestsOpts{Count: "x_requests_total", CountHelp: "n", Duration: "x_request_duration_seconds", DurationHelp: "d",
		Labels: []string{"route"}, Status: "status", Buckets: []float64{0.1, 1}}
	a, b := NewRequests(reg, o), NewRequests(reg, o)
	a.Observe(200, 50*time.Millisecond, "/a")
	b.Observe(200, 2*time.Second, "/a")
	b.Observe(404, time.Millisecond, "/b")
	got := samples(t, reg)
	require.Equal(t, map[string]float64{"route=/a,status=200,": 2, "route=/b,status=404,": 1}, got["x_requests_total"], "both servers count in one series")
	require.Equal(t, map[string]float64{"route=/a,": 2, "route=/b,": 1}, got["x_request_duration_seconds"])

	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "x_requests_total", Help: "a different kind"})
	require.Panics(t, func() { Register(reg, other) }, "a name taken by another kind of series is a programming error")
	NewRequests(nil, o).Observe(500, time.Second, "/c") // unregistered series still count
}
