package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/web"
)

// deploymentStore keeps the model server's deployments in the metadata
// database, as JSON.
type deploymentStore struct{ db *meta.DB }

func (s deploymentStore) SaveDeployment(ctx context.Context, cfg serve.Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return s.db.SaveDeployment(ctx, cfg.Name, b)
}

func (s deploymentStore) DeleteDeployment(ctx context.Context, name string) error {
	return s.db.DeleteDeployment(ctx, name)
}

func (s deploymentStore) ListDeployments(ctx context.Context) ([]serve.Config, error) {
	rows, err := s.db.FindDeployments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]serve.Config, 0, len(rows))
	for _, r := range rows {
		var c serve.Config
		if err := json.Unmarshal(r.Config, &c); err != nil {
			return nil, fmt.Errorf("deployment %s: stored configuration: %w", r.Name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// newModelServer returns the model server of `cairn server`: deployments
// are kept in db, and models are fetched from models into the data
// folder's model cache.
func newModelServer(db *meta.DB, data, backend string, models jobs.ModelSource, wopts web.Options, log *slog.Logger) *serve.Manager {
	opts := serve.DefaultOptions()
	opts.Logger, opts.Registerer = log, wopts.Registerer
	opts.Loader = jobs.ModelLoader{Models: models, CacheDir: modelCacheDir(data), Backend: backend}
	// A deployment on its own address gets the server's middleware and
	// authentication.
	opts.Wrap = func(h http.Handler) http.Handler { return web.NewServer(wopts, handlerMount{h}).Handler() }
	if db != nil {
		opts.Store = deploymentStore{db}
	}
	return serve.NewManager(opts)
}

// localModels reads registered versions in process: from the registry, and
// from the artifact stores roots serves (nothing outside them).
func localModels(reg *registry.Service, roots *artifacts.Roots) jobs.LocalModels {
	return jobs.LocalModels{Registry: reg, Files: func(ctx context.Context, uri string) (fs.FS, error) {
		st, p, err := roots.Resolve(uri)
		if err != nil {
			return nil, err
		}
		return artifacts.FS(ctx, st, p), nil
	}}
}

func modelCacheDir(data string) string {
	if data == "" {
		if d, err := os.UserCacheDir(); err == nil {
			return filepath.Join(d, "cairn", "models")
		}
		return filepath.Join(os.TempDir(), "cairn-models")
	}
	return filepath.Join(data, "models")
}

func newServeCmd() *cobra.Command {
	var (
		addr, backend, cacheDir, maxWait, timeout string
		modelFlags                                []string
		maxBatch, queue, replicas                 int
		guard                                     guardConfig
		maxImageBytes                             int64
	)
	cmd := &cobra.Command{
		Use:   "serve --model models:/NAME@ALIAS [--model NAME=URI ...]",
		Short: "Serve registered models over HTTP (OIP v2, POST /, /predict, /invocations)",
		Long: `Serve one or more model packages: registered versions (models:/fingers@champion,
models:/titanic/3) fetched through the tracking server, or package folders.
When an alias moves, the new version loads in the background and takes over
without dropping a request; a version that fails to load is rejected and the
current one keeps serving.

With one model its endpoints are at the root:
  POST /              {"image": "<base64 PNG or JPEG>"} (images) or one record (tables)
  POST /predict       one record, or a list of them (tables); an image (images)
  POST /invocations   MLflow's scoring protocol; GET /ping
  /v2/...             the Open Inference Protocol (model name: the deployment's)
  GET /metrics        Prometheus metrics
With several (--model fingers=models:/fingers@champion --model titanic=...),
each is under /serve/<name>/ and the OIP under /v2/models/<name>/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			if err := guard.Validate(); err != nil {
				return err
			}
			if len(modelFlags) == 0 {
				return usageError{fmt.Errorf("--model is required, e.g. --model models:/fingers@champion")}
			}
			var cfgs []serve.Config
			for _, m := range modelFlags {
				name, uri, found := strings.Cut(m, "=")
				if !found {
					uri, name = m, deploymentNameOf(m)
				}
				c := serve.Config{Name: name, ModelURI: uri, MaxBatchSize: maxBatch, QueueSize: queue, Replicas: replicas, MaxImageBytes: maxImageBytes}
				for _, d := range []struct {
					flag, v string
					dst     *serve.Duration
				}{{"--max-wait", maxWait, &c.MaxWait}, {"--timeout", timeout, &c.Timeout}} {
					if d.v != "" {
						v, err := time.ParseDuration(d.v)
						if err != nil || v < 0 {
							return usageError{fmt.Errorf("invalid %s %q: expected a duration such as 5ms", d.flag, d.v)}
						}
						*d.dst = serve.Duration(v)
					}
				}
				if err := c.Validate(); err != nil {
					return usageError{err}
				}
				cfgs = append(cfgs, c)
			}
			c, err := newClient(cmd)
			if err != nil {
				return usageError{err}
			}
			return runServe(cmd.Context(), cfgs, c, addr, backend, cacheDir, guard, log, nil)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&modelFlags, "model", nil, "model to serve: URI or NAME=URI (repeatable); URI is models:/name@alias, models:/name/N or a package folder")
	f.String("tracking-uri", "", "tracking server for models:/ URIs (default: $CAIRN_TRACKING_URI, $MLFLOW_TRACKING_URI or http://127.0.0.1:5000)")
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&backend, "backend", "", `compute backend: "go" (default) or "xla:/abs/path/pjrt_plugin.so"`)
	f.StringVar(&cacheDir, "cache", "", "folder for fetched model packages (default: the user cache folder)")
	f.IntVar(&maxBatch, "max-batch", 0, fmt.Sprintf("largest dynamic batch (default %d; 1 turns batching off)", serve.DefaultMaxBatchSize))
	f.StringVar(&maxWait, "max-wait", "", "how long a batch waits to fill once every replica is busy (default 0: a batch is what queued meanwhile)")
	f.IntVar(&queue, "queue", 0, fmt.Sprintf("examples that may wait; beyond it 503, and 413 for a request of more (default %d, at most %d)", serve.DefaultQueueSize, serve.MaxQueueSize))
	f.IntVar(&replicas, "replicas", 0, "batches computed at once (default: the number of CPUs)")
	guardFlags(f, &guard.Hosts, &guard.Origins)
	f.StringVar(&timeout, "timeout", "", fmt.Sprintf("limit per request, queueing and image decoding included (default %s)", time.Duration(serve.DefaultTimeout)))
	f.Int64Var(&maxImageBytes, "max-image-bytes", 0, fmt.Sprintf("memory one image may take to decode and resize, read from its header; beyond it 413 (default %d, 64 MiB)", serve.DefaultMaxImageBytes))
	return cmd
}

// deploymentNameOf names a deployment after its model: models:/fingers@champion
// is "fingers", a folder its base name.
func deploymentNameOf(uri string) string {
	name := uri
	if rest, ok := strings.CutPrefix(uri, "models:/"); ok {
		name, _, _ = strings.Cut(rest, "@")
		name, _, _ = strings.Cut(name, "/")
	} else {
		name = filepath.Base(filepath.Clean(uri))
	}
	name = strings.ToLower(name)
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	return strings.Trim(b.String(), "-_")
}

// runServe serves cfgs until ctx ends. ready, when not nil, receives the
// bound address once every model serves.
func runServe(ctx context.Context, cfgs []serve.Config, c *client.Client, addr, backend, cacheDir string, guard guardConfig, log *slog.Logger, ready chan<- string) error {
	if cacheDir == "" {
		cacheDir = modelCacheDir("")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := serve.DefaultOptions()
	opts.Logger, opts.Registerer = log, reg
	opts.Loader = jobs.ModelLoader{CacheDir: cacheDir, Backend: backend}
	if c != nil {
		opts.Loader = jobs.ModelLoader{Models: jobs.RemoteModels{Client: c}, CacheDir: cacheDir, Backend: backend}
	}
	m := serve.NewManager(opts)
	defer m.Close()
	for _, cfg := range cfgs {
		st, err := m.Deploy(ctx, cfg, true)
		if err != nil {
			return fmt.Errorf("serve %s: %w", cfg.ModelURI, err)
		}
		log.Info("model loaded", "deployment", st.Name, "uri", st.ModelURI, "version", st.ModelVersion)
	}
	wopts := web.DefaultOptions()
	wopts.Addr, wopts.Logger, wopts.Registerer, wopts.Gatherer = addr, log, reg, reg
	wopts.AccessLog = []string{"/"} // every request, at info, with its request ID
	wopts.ReadPosts = []string{"/", "/predict", "/invocations"}
	wopts.AllowedHosts, wopts.AllowedOrigins = guard.Hosts, guard.Origins
	apis := []web.Mounter{m}
	if len(cfgs) == 1 {
		d, err := m.Get(cfgs[0].Name)
		if err != nil {
			return err
		}
		apis = append(apis, rootMount{d.Handler()})
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	for _, cfg := range cfgs {
		where := "http://" + l.Addr().String() + serve.Prefix + cfg.Name + "/"
		if len(cfgs) == 1 {
			where = "http://" + l.Addr().String() + "/"
		}
		fmt.Fprintf(os.Stderr, "serving %s (%s) at %s\n", cfg.Name, cfg.ModelURI, where)
	}
	if ready != nil {
		ready <- l.Addr().String()
	}
	return web.NewServer(wopts, apis...).Serve(ctx, l)
}

// rootMount serves a lone deployment's endpoints at the root.
type rootMount struct{ h http.Handler }

func (r rootMount) Register(mux *http.ServeMux) {
	for _, p := range []string{"POST /{$}", "POST /predict", "POST /invocations", "GET /ping"} {
		mux.Handle(p, r.h)
	}
}

// handlerMount serves h for every path no other route claims.
type handlerMount struct{ h http.Handler }

func (m handlerMount) Register(mux *http.ServeMux) { mux.Handle("/", m.h) }
