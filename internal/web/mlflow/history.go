package mlflow

import (
	"math"
	"net/http"
	"sort"
	"strconv"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Limits of MLflow's bulk history endpoints (the UI's chart data).
const (
	maxBulkRuns          = 100
	maxBulkResultsPerRun = 2500
	maxHistoryResults    = 25000
)

type bulkMetric struct {
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp int64  `json:"timestamp"`
	Step      int64  `json:"step"`
	RunID     string `json:"run_id"`
}

// getMetricHistoryBulk returns a metric's history for several runs, each
// sorted by timestamp, step and value.
func (h *Handler) getMetricHistoryBulk(r *http.Request) (any, error) {
	q := r.URL.Query()
	runIDs := q["run_id"]
	if len(runIDs) == 0 {
		return nil, errs.Invalidf("GetMetricHistoryBulk request must specify at least one run_id.")
	}
	if len(runIDs) > maxBulkRuns {
		return nil, errs.Invalidf("GetMetricHistoryBulk request cannot specify more than %d run_ids. Received %d run_ids.", maxBulkRuns, len(runIDs))
	}
	if !q.Has("metric_key") {
		return nil, errs.Invalidf("GetMetricHistoryBulk request must specify a metric_key.")
	}
	key := q.Get("metric_key")
	max := maxHistoryResults
	if s := q.Get("max_results"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, errs.Invalidf("Invalid value %s for parameter 'max_results' supplied.", s)
		}
		max = min(n, maxHistoryResults)
	}
	sort.Strings(runIDs)
	out := struct {
		Metrics []bulkMetric `json:"metrics"`
	}{Metrics: []bulkMetric{}}
	for _, id := range runIDs {
		hist, _, err := h.tracking.MetricHistory(r.Context(), id, key, tracking.Page{MaxResults: max})
		if err != nil {
			return nil, err
		}
		sort.SliceStable(hist, func(i, j int) bool {
			a, b := hist[i], hist[j]
			if a.Timestamp != b.Timestamp {
				return a.Timestamp < b.Timestamp
			}
			if a.Step != b.Step {
				return a.Step < b.Step
			}
			return a.Value < b.Value
		})
		for _, m := range hist {
			out.Metrics = append(out.Metrics, bulkMetric{Key: m.Key, Value: Float(m.Value), Timestamp: m.Timestamp, Step: m.Step, RunID: id})
		}
	}
	return out, nil
}

// getMetricHistoryBulkInterval samples the steps of a metric across runs at
// most max_results evenly spaced steps (keeping each run's first and last
// step), and returns every run's values at those steps: the MLflow UI's chart
// query, with MLflow's sampling.
func (h *Handler) getMetricHistoryBulkInterval(r *http.Request) (any, error) {
	q := r.URL.Query()
	runIDs := q["run_ids"]
	if len(runIDs) == 0 {
		return nil, errs.Missing("run_ids")
	}
	if len(runIDs) > maxBulkRuns {
		return nil, errs.Invalidf("GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids.", maxBulkRuns, len(runIDs))
	}
	if q.Get("metric_key") == "" {
		return nil, errs.Missing("metric_key")
	}
	key := q.Get("metric_key")
	intArg := func(name string) (*int64, error) {
		s := q.Get(name)
		if s == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errs.Invalidf("Invalid value %s for parameter '%s' supplied. Hint: Value was of type 'str'. See the API docs for more information about request parameters.", s, name)
		}
		return &n, nil
	}
	start, err := intArg("start_step")
	if err != nil {
		return nil, err
	}
	end, err := intArg("end_step")
	if err != nil {
		return nil, err
	}
	maxp, err := intArg("max_results")
	if err != nil {
		return nil, err
	}
	maxResults := maxBulkResultsPerRun
	if maxp != nil {
		if *maxp < 1 || *maxp > maxBulkResultsPerRun {
			return nil, errs.Invalidf("max_results must be between 1 and %d. See the API docs for more information about request parameters.", maxBulkResultsPerRun)
		}
		maxResults = int(*maxp)
	}
	if start != nil && end != nil && *start > *end {
		return nil, errs.Invalidf("end_step must be greater than start_step. Found start_step=%d and end_step=%d.", *start, *end)
	}
	if (start == nil) != (end == nil) {
		return nil, errs.Invalidf("If either start step or end step are specified, both must be specified.")
	}

	histories := make([][]tracking.Metric, len(runIDs))
	edges := map[int64]bool{}
	stepSet := map[int64]bool{}
	for i, id := range runIDs {
		hist, _, err := h.tracking.Store().FindMetricHistory(r.Context(), id, key, tracking.Page{MaxResults: math.MaxInt32})
		if err != nil {
			return nil, err
		}
		histories[i] = hist
		if len(hist) > 0 {
			lo, hi := hist[0].Step, hist[0].Step
			for _, m := range hist {
				stepSet[m.Step] = true
				lo, hi = min(lo, m.Step), max(hi, m.Step)
			}
			edges[lo], edges[hi] = true, true
		}
	}
	all := make([]int64, 0, len(stepSet))
	for s := range stepSet {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	lo, hi := int64(0), int64(0)
	if start != nil {
		lo, hi = *start, *end
	} else if len(all) > 0 {
		hi = all[len(all)-1]
	}
	keep := sampleSteps(lo, hi, maxResults, all)
	for s := range edges {
		if s >= lo && s <= hi {
			keep[s] = true
		}
	}
	out := struct {
		Metrics []bulkMetric `json:"metrics"`
	}{Metrics: []bulkMetric{}}
	for i, id := range runIDs {
		for _, m := range histories[i] {
			if keep[m.Step] && len(out.Metrics) < maxHistoryResults {
				out.Metrics = append(out.Metrics, bulkMetric{Key: m.Key, Value: Float(m.Value), Timestamp: m.Timestamp, Step: m.Step, RunID: id})
			}
		}
	}
	return out, nil
}

// sampleSteps picks at most maxResults steps of the sorted steps within
// [lo, hi], evenly by index, plus the last one.
func sampleSteps(lo, hi int64, maxResults int, steps []int64) map[int64]bool {
	from := sort.Search(len(steps), func(i int) bool { return steps[i] >= lo })
	to := sort.Search(len(steps), func(i int) bool { return steps[i] > hi })
	keep := map[int64]bool{}
	if to-from <= maxResults {
		for _, s := range steps[from:to] {
			keep[s] = true
		}
		return keep
	}
	n := to - from
	interval := float64(n) / float64(maxResults)
	for i := 0; i < maxResults; i++ {
		if idx := from + int(float64(i)*interval); idx < n {
			keep[steps[idx]] = true
		}
	}
	keep[steps[to-1]] = true
	return keep
}
