package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/store/meta"
)

// dagSpec is n no-op tasks in layers of width; each needs two tasks of the layer before.
func dagSpec(name string, n, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\ntasks:\n", name)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  t%d:\n    run: \"true\"\n    resources: {cpu: 0.1}\n", i)
		if layer := i / width; layer > 0 {
			p := (layer-1)*width + i%width
			q := (layer-1)*width + (i+1)%width
			fmt.Fprintf(&b, "    needs: [t%d, t%d]\n", p, q)
		}
	}
	return b.String()
}

// chainSpec is n no-op tasks, each needing the one before.
func chainSpec(n int) string {
	var b strings.Builder
	b.WriteString("name: chain\ntasks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  t%d:\n    run: \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    needs: [t%d]\n", i-1)
		}
	}
	return b.String()
}

func benchEngine(b *testing.B, onTask func(string, pipeline.TaskRun)) (*pipeline.Engine, *meta.DB) {
	dir := b.TempDir()
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return newEngine(db, filepath.Join(dir, "pipelines"), func(o *pipeline.Options) {
		o.Capacity = spec.Resources{CPU: 4}
		o.OnTask = onTask
	}), db
}

func runBench(b *testing.B, e *pipeline.Engine, src string) {
	ctx := context.Background()
	r, err := e.Submit(ctx, pipeline.Submission{File: "bench.yaml", Source: []byte(src), Trigger: "bench"})
	require.NoError(b, err)
	got, err := e.Execute(ctx, r.ID)
	require.NoError(b, err)
	require.Equal(b, pipeline.Succeeded, got.Phase, got.Message)
}

// BenchmarkDAG1000 runs a 1,000-task DAG of no-op tasks (10 layers of 100,
// each task needing two of the layer before), up to 40 at once (0.1 CPU each
// on a 4-CPU capacity), every task a child process and a tracking run.
func BenchmarkDAG1000(b *testing.B) {
	e, _ := benchEngine(b, nil)
	src := dagSpec("dag", 1000, 100)
	start := time.Now()
	for b.Loop() {
		runBench(b, e, src)
	}
	b.ReportMetric(float64(1000*b.N)/time.Since(start).Seconds(), "tasks/s")
}

// BenchmarkChain100 runs 100 no-op tasks one after another and reports the
// step-to-step latency: from a task's recorded success to the next task's
// process running (its tracking run made, folders ready, state stored).
func BenchmarkChain100(b *testing.B) {
	var mu sync.Mutex
	succeeded := map[string]time.Time{}
	var gaps []time.Duration
	e, _ := benchEngine(b, func(_ string, t pipeline.TaskRun) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		switch t.Phase {
		case pipeline.Succeeded:
			succeeded[t.Node] = now
		case pipeline.Running:
			var i int
			fmt.Sscanf(t.Node, "t%d", &i)
			if prev, ok := succeeded[fmt.Sprintf("t%d", i-1)]; ok {
				gaps = append(gaps, now.Sub(prev))
			}
		}
	})
	src := chainSpec(100)
	start := time.Now()
	for b.Loop() {
		mu.Lock()
		clear(succeeded)
		mu.Unlock()
		runBench(b, e, src)
	}
	elapsed := time.Since(start)
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	b.ReportMetric(float64(100*b.N)/elapsed.Seconds(), "tasks/s")
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(100*b.N), "ms/task")
	if len(gaps) > 0 {
		b.ReportMetric(float64(gaps[len(gaps)/2].Microseconds())/1000, "p50-step-ms")
		b.ReportMetric(float64(gaps[len(gaps)*99/100].Microseconds())/1000, "p99-step-ms")
	}
}
