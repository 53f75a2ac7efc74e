package k8s_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/k8s/k8stest"
)

// benchAttempts runs n no-op attempts at once on x and reports the mean
// time from Execute to running (start) and to done, and attempts per second.
func benchAttempts(b *testing.B, x exec.Executor, n int, args []string) {
	var startSum, doneSum time.Duration
	var mu sync.Mutex
	b.ResetTimer()
	t0 := time.Now()
	for i := range b.N {
		var wg sync.WaitGroup
		for j := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				begin := time.Now()
				var started time.Duration
				job := &exec.Job{Args: args, Log: io.Discard, Name: fmt.Sprintf("bench/%d/%d/%d", time.Now().UnixNano(), i, j),
					Labels: map[string]string{k8s.LabelTask: "noop"}, Started: func(int) { started = time.Since(begin) }}
				res := x.Execute(context.Background(), job)
				if res.Err != nil {
					b.Error(res.Err)
				}
				mu.Lock()
				startSum += started
				doneSum += time.Since(begin)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(t0)
	total := float64(b.N * n)
	b.ReportMetric(float64(startSum.Milliseconds())/total, "ms-to-running")
	b.ReportMetric(float64(doneSum.Milliseconds())/total, "ms-to-done")
	b.ReportMetric(total/elapsed.Seconds(), "attempts/s")
}

// BenchmarkAttempts compares the kubernetes executor on the KWOK control
// plane with the local one: one attempt alone (latency), and 100 at once
// (throughput). go test -run '^$' -bench Attempts -benchtime 3x ./internal/k8s/
func BenchmarkAttempts(b *testing.B) {
	local := exec.NewLocal(exec.DefaultLocalOptions())
	c := k8stest.Start(b)
	x, err := k8s.New(c.Config, k8s.Options{Namespace: "default", Image: "cairn:bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("local/%d", n), func(b *testing.B) { benchAttempts(b, local, n, []string{"true"}) })
		b.Run(fmt.Sprintf("kwok/%d", n), func(b *testing.B) { benchAttempts(b, x, n, []string{"true"}) })
	}
}
