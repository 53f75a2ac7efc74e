package jobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/train"
)

// benchPackages trains, once, the two reference models on synthetic
// stand-ins at serving resolution (fingers: the small CNN at 32x32, as the
// demo trains it; Titanic: the MLP) and returns their package folders and
// one request body each.
var benchPackages = sync.OnceValues(func() (map[string]benchModel, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cairn-serve-bench-")
	if err != nil {
		return nil, err
	}
	hands := filepath.Join(dir, "hands")
	if _, err := images.GenerateHands(ctx, images.SynthHandsOptions{Out: hands, N: 96, Seed: 1, Size: 64}); err != nil {
		return nil, err
	}
	io := images.DefaultPrepareOptions()
	io.Source, io.Image, io.CacheDir = hands, images.Options{Size: 32, Channels: 1}, filepath.Join(dir, "cache")
	pr, err := images.Prepare(ctx, io)
	if err != nil {
		return nil, err
	}
	files, _ := filepath.Glob(filepath.Join(hands, "*.png"))
	png, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	csv := filepath.Join(dir, "passengers.csv")
	if err := table.SynthPassengersFile(csv, 240, 1); err != nil {
		return nil, err
	}
	to := table.DefaultPrepareOptions()
	to.Path, to.Preset, to.CacheDir = csv, table.PresetTitanic, filepath.Join(dir, "cache")
	tr, err := table.Prepare(ctx, to)
	if err != nil {
		return nil, err
	}
	out := map[string]benchModel{}
	for _, m := range []struct {
		name, arch, dsDir, body string
	}{
		{"fingers", "small", pr.Dir, `{"image": "` + base64.StdEncoding.EncodeToString(png) + `"}`},
		{"titanic", "mlp", tr.Dir, `{"PassengerId": 892, "Name": "Kelly, Mr. James", "Pclass": 3, "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}`},
	} {
		ds, err := data.Load(m.dsDir)
		if err != nil {
			return nil, err
		}
		opt := train.DefaultOptions()
		opt.Model, opt.Epochs = m.arch, 1
		model, _, err := train.Train(ctx, ds, opt)
		if err != nil {
			return nil, err
		}
		pkg := filepath.Join(dir, m.name)
		if _, err := model.SavePackage(pkg, nil, nil); err != nil {
			return nil, err
		}
		out[m.name] = benchModel{dir: pkg, body: m.body}
	}
	return out, nil
})

type benchModel struct{ dir, body string }

// BenchmarkServe is the model server's load test on loopback: real HTTP
// requests (the workshop's POST / for fingers, POST /predict for Titanic)
// at concurrency 1, 8 and 64, with dynamic batching on (max 32) and off,
// with replicas sized to the CPUs and with one replica.
// It reports requests/s and p50/p99 latency, and, as the physical floor,
// the model's own compute time per example at batch 1 and batch 32.
//
//	go test -run '^$' -bench Serve -benchtime 2000x ./internal/steps/
func BenchmarkServe(b *testing.B) {
	models, err := benchPackages()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"fingers", "titanic"} {
		bm := models[name]
		b.Run(name+"/compute", func(b *testing.B) { benchCompute(b, bm) })
		for _, batch := range []int{1, 32} {
			for _, conc := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("%s/batch=%d/c=%d", name, batch, conc), func(b *testing.B) {
					benchHTTP(b, bm, name, batch, conc, 0)
				})
			}
			// One model instance, as Triton counts them: what batching
			// gains when the replicas do not already use every core.
			b.Run(fmt.Sprintf("%s/replicas=1/batch=%d/c=64", name, batch), func(b *testing.B) {
				benchHTTP(b, bm, name, batch, 64, 1)
			})
		}
	}
}

// benchCompute times the model alone on prepared input: the floor.
func benchCompute(b *testing.B, bm benchModel) {
	p, err := train.LoadPredictor(bm.dir, "")
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, p.ExampleSize())
	x32 := make([]float32, 32*p.ExampleSize())
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := p.Predict(x, 1); err != nil {
			b.Fatal(err)
		}
	}
	single := time.Since(start)
	start = time.Now()
	n := max(1, b.N/32)
	for range n {
		if _, err := p.Predict(x32, 32); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(single.Microseconds())/float64(b.N)/1000, "ms/example@1")
	b.ReportMetric(float64(time.Since(start).Microseconds())/float64(n*32)/1000, "ms/example@32")
}

func benchHTTP(b *testing.B, bm benchModel, name string, batch, conc, replicas int) {
	reg := prometheus.NewRegistry()
	m := serve.NewManager(serve.Options{Loader: ModelLoader{}, Logger: slog.New(slog.DiscardHandler), Registerer: reg})
	defer m.Close()
	if _, err := m.Deploy(context.Background(), serve.Config{Name: name, ModelURI: bm.dir, MaxBatchSize: batch, QueueSize: 4096, Replicas: replicas}, true); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	url := srv.URL + "/serve/" + name + "/"
	if name == "titanic" {
		url += "predict"
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	body := []byte(bm.body)
	send := func() error {
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	for range conc { // warm the connections
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	var failed error
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= b.N {
					return
				}
				t := time.Now()
				if err := send(); err != nil {
					next.Lock()
					failed = err
					next.Unlock()
					return
				}
				lat[k] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50 := float64(lat[len(lat)/2].Microseconds()) / 1000
	b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	// The model's compute in this same run, from the server's own batch
	// histogram: per batch, and the batch size it ran at.
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			h := mm.GetHistogram()
			if h == nil || h.GetSampleCount() == 0 {
				continue
			}
			switch mf.GetName() {
			case "cairn_serve_batch_duration_seconds":
				compute := h.GetSampleSum() / float64(h.GetSampleCount()) * 1000
				b.ReportMetric(compute, "compute-ms/batch")
				if conc == 1 {
					b.ReportMetric(p50-compute, "overhead-p50-ms")
				}
			case "cairn_serve_batch_size":
				b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "mean-batch")
			}
		}
	}
}
