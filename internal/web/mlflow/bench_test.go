package mlflow_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// The API benchmarks run over HTTP against an in-process Cairn server on
// SQLite, or against any MLflow-compatible server named by
// CAIRN_BENCH_TARGET (e.g. a real MLflow server, or cairn on PostgreSQL), so
// the same numbers can be compared side by side:
//
//	go test -run '^$' -bench API -benchtime 200x ./internal/web/mlflow/
//	CAIRN_BENCH_TARGET=http://127.0.0.1:5055 go test -run '^$' -bench API -benchtime 200x ./internal/web/mlflow/
func benchClient(b *testing.B) *client.Client {
	target := os.Getenv("CAIRN_BENCH_TARGET")
	if target == "" {
		target = newServer(b).URL
	}
	opts := client.DefaultOptions()
	opts.HTTPClient = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c, err := client.New(target, opts)
	require.NoError(b, err)
	return c
}

func benchRun(b *testing.B, c *client.Client, exp string) string {
	r, err := c.CreateRun(context.Background(), tracking.CreateRunInput{ExperimentID: exp})
	require.NoError(b, err)
	return r.Info.RunID
}

func benchExperiment(b *testing.B, c *client.Client) string {
	id, err := c.CreateExperiment(context.Background(), fmt.Sprintf("bench-%s-%d", b.Name(), time.Now().UnixNano()))
	require.NoError(b, err)
	return id
}

func metricsBatch(n, step int) []tracking.Metric {
	ms := make([]tracking.Metric, n)
	for i := range ms {
		ms[i] = tracking.Metric{Key: fmt.Sprintf("m%d", i), Value: float64(i), Timestamp: time.Now().UnixMilli(), Step: int64(step)}
	}
	return ms
}

func BenchmarkAPILogBatch10(b *testing.B)  { benchLogBatch(b, 10) }
func BenchmarkAPILogBatch500(b *testing.B) { benchLogBatch(b, 500) }

func benchLogBatch(b *testing.B, n int) {
	c := benchClient(b)
	ctx := context.Background()
	run := benchRun(b, c, benchExperiment(b, c))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.LogBatch(ctx, run, metricsBatch(n, i), nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPICreateRun(b *testing.B) {
	c := benchClient(b)
	exp := benchExperiment(b, c)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		benchRun(b, c, exp)
	}
}

// seedRuns creates n runs, each with a metric, a param and a tag, with 8
// writers at once.
func seedRuns(b *testing.B, c *client.Client, exp string, n int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
				if err == nil {
					err = c.LogBatch(ctx, r.Info.RunID,
						[]tracking.Metric{{Key: "acc", Value: float64(i%1000) / 1000, Timestamp: 1}},
						[]tracking.Param{{Key: "model", Value: []string{"small", "wide", "deep", "residual"}[i%4]}},
						[]tracking.Tag{{Key: "team", Value: fmt.Sprintf("t%d", i%10)}})
				}
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// searchSeed holds the experiment seeded for the search benchmark, so the
// benchmark's repeated invocations (b.N = 1, then more) seed it only once.
var searchSeed struct {
	sync.Mutex
	c   *client.Client
	exp string
}

func BenchmarkAPISearchRuns10k(b *testing.B) {
	searchSeed.Lock()
	if searchSeed.c == nil || os.Getenv("CAIRN_BENCH_TARGET") == "" {
		c := benchClient(b)
		exp := benchExperiment(b, c)
		n := 10000
		if s := os.Getenv("CAIRN_BENCH_RUNS"); s != "" {
			fmt.Sscan(s, &n)
		}
		start := time.Now()
		seedRuns(b, c, exp, n)
		b.Logf("seeded %d runs in %s", n, time.Since(start))
		searchSeed.c, searchSeed.exp = c, exp
	}
	c, exp := searchSeed.c, searchSeed.exp
	searchSeed.Unlock()
	q := tracking.RunQuery{ExperimentIDs: []string{exp},
		Filter:  "metrics.acc > 0.5 AND params.model = 'wide' AND tags.team = 't3'",
		OrderBy: []string{"metrics.acc DESC"}, Page: tracking.Page{MaxResults: 100}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runs, _, err := c.SearchRuns(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) == 0 {
			b.Fatal("search found nothing")
		}
	}
}

func BenchmarkAPIGetHistory10k(b *testing.B) {
	c := benchClient(b)
	ctx := context.Background()
	run := benchRun(b, c, benchExperiment(b, c))
	var ms []tracking.Metric
	for step := 0; step < 10000; step++ {
		ms = append(ms, tracking.Metric{Key: "loss", Value: 1 / float64(step+1), Timestamp: int64(step), Step: int64(step)})
	}
	require.NoError(b, c.LogBatch(ctx, run, ms, nil, nil))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		hist, err := c.MetricHistory(ctx, run, "loss")
		if err != nil {
			b.Fatal(err)
		}
		if len(hist) != 10000 {
			b.Fatalf("got %d values", len(hist))
		}
	}
}
