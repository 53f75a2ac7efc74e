package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/web/mlflow"
	"github.com/cairn-mlops/cairn/internal/web/ui"
)

func newServerCmd() *cobra.Command {
	cfg := DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Start the Cairn server (MLflow REST API, model registry, artifact proxy)",
		Long: `Start the Cairn server. With no flags it keeps everything under ./cairn-data:
SQLite metadata in cairn-data/cairn.db and artifacts in cairn-data/artifacts,
and listens on 127.0.0.1:5000. Point MLflow clients at it with
MLFLOW_TRACKING_URI=http://127.0.0.1:5000.

  --db postgres://user:pass@host/db     PostgreSQL for metadata
  --artifacts s3://bucket/prefix        any S3 endpoint for artifacts
                                        (MLFLOW_S3_ENDPOINT_URL or AWS_ENDPOINT_URL
                                        picks a non-AWS endpoint such as MinIO)
  --config cairn.yaml                   the same settings from a YAML file, keys
                                        named after the flags: db: postgres://...;
                                        a flag given here wins over the file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// A flag on the command line wins, then the environment, then
			// the file, then the defaults.
			if configFile != "" {
				if err := applyConfigFile(&cfg, configFile, cmd.Flags().Changed); err != nil {
					return err
				}
			}
			s3FromEnv(&cfg.S3)
			if err := cfg.Validate(); err != nil {
				return err
			}
			log, err := newLogger(cmd)
			if err != nil {
				return err
			}
			return runServer(cmd.Context(), cfg, log, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file with the server's settings, keys named after the flags in snake_case (addr, db, allowed_hosts, ...); flags given on the command line win")
	f.StringVar(&cfg.Data, "data", cfg.Data, "data folder for the default SQLite database and artifact store")
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address; loopback unless you mean to expose it")
	f.StringVar(&cfg.DB, "db", "", "metadata database URI (default: sqlite in --data; postgres://... for PostgreSQL)")
	f.StringVar(&cfg.Artifacts, "artifacts", "", "artifact root URI (default: --data/artifacts; s3://bucket/prefix for S3)")
	f.StringVar(&cfg.DefaultArtifactRoot, "default-artifact-root", "", "artifact location of new experiments (default mlflow-artifacts:/, proxied by this server; a file:// or s3:// URI makes clients write there directly)")
	f.StringSliceVar(&cfg.AllowedArtifactRoots, "allowed-artifact-roots", nil, "more file:// or s3:// roots experiments may keep artifacts under, which the server then reads and writes for clients; --artifacts and --default-artifact-root are always allowed (comma-separated or repeated)")
	f.BoolVar(&cfg.Auth, "auth", false, "require a token or user/password on every API call (see 'cairn users' and 'cairn tokens')")
	f.Int64Var(&cfg.MaxArtifactBytes, "max-artifact-bytes", 0, "largest single artifact upload in bytes (0: no limit)")
	f.IntVar(&cfg.GPUs, "gpus", 0, "GPUs pipeline tasks may request (CUDA_VISIBLE_DEVICES is set per task)")
	guardFlags(f, &cfg.Guard.Hosts, &cfg.Guard.Origins)
	taskEnvFlag(f, &cfg.TaskEnv)
	sandboxFlag(f, &cfg.Unsandboxed)
	kubeFlags(f, &cfg.Executor, &cfg.Kube)
	return cmd
}

// runServer opens the stores and serves until ctx ends. ready, when not nil,
// receives the bound address once the server accepts connections.
func runServer(ctx context.Context, cfg Config, log *slog.Logger, ready chan<- string) error {
	if cfg.Data != "" {
		if err := privateDir(cfg.Data, log); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
	}
	dbOpts := meta.DefaultOptions()
	dbOpts.Logger = log
	if cfg.DefaultArtifactRoot != "" {
		dbOpts.ArtifactRoot = cfg.DefaultArtifactRoot
	}
	db, err := meta.Open(ctx, cfg.DB, dbOpts)
	if err != nil {
		return fmt.Errorf("metadata store: %w", err)
	}
	defer db.Close()
	art, err := artifacts.Open(ctx, cfg.Artifacts, cfg.S3)
	if err != nil {
		return fmt.Errorf("artifact store: %w", err)
	}
	roots, err := cfg.artifactRoots(ctx, art)
	if err != nil {
		return err
	}
	// What a crash left behind goes before the first new upload arrives.
	sweepOnce(ctx, log, roots.Stores(), uploadMaxAge)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	trackingSvc := tracking.NewService(db)
	registrySvc := registry.NewService(db, db)
	api := mlflow.NewHandler(trackingSvc, registrySvc, art, mlflow.Options{
		Logger: log, MaxArtifactBytes: cfg.MaxArtifactBytes, Roots: roots,
	})

	opts := web.DefaultOptions()
	opts.Addr, opts.Logger, opts.Registerer, opts.Gatherer = cfg.Addr, log, reg, reg
	opts.AccessLog = []string{"/serve/", "/v2/"} // inference requests, at info
	opts.AllowedHosts, opts.AllowedOrigins = cfg.Guard.Hosts, cfg.Guard.Origins
	// With --auth each pipeline run's tasks get a token of their own.
	var creds pipeline.Credentials
	if cfg.Auth {
		svc, err := newAuthService(ctx, db)
		if err != nil {
			return err
		}
		opts.Auth, creds = authAdapter{svc}, taskCredentials{svc}
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	// Pipelines run inside the server; their tasks log to it.
	ec := engineConfig{Data: cfg.Data, TrackingURI: "http://" + l.Addr().String(), GPUs: cfg.GPUs, TaskEnv: cfg.TaskEnv,
		Unsandboxed: cfg.Unsandboxed, Hidden: cfg.hiddenFromTasks(), Log: log, Credentials: creds, DefaultExecutor: cfg.Executor, Artifacts: roots}
	if cfg.Kube.enabled(cfg.Executor) {
		remote, stop, err := kubeExecutor(cfg, log)
		if err != nil {
			l.Close()
			return fmt.Errorf("kubernetes executor: %w", err)
		}
		defer stop()
		ec.Remote = map[string]*pipeline.RemoteExecutor{"kubernetes": remote}
	}
	pipes, pipesAPI, err := newPipelineService(db, ec)
	if err != nil {
		l.Close()
		return fmt.Errorf("pipelines: %w", err)
	}
	// The model server: deployments by name under /serve/, kept in the
	// database and restored at start.
	models := newModelServer(db, cfg.Data, "", localModels(registrySvc, roots), opts, log)
	defer models.Close()
	srv := web.NewServer(opts, api, pipesAPI, models, ui.NewHandler(ui.Assets())) // the UI takes the paths no API claims
	host, _, _ := net.SplitHostPort(l.Addr().String())
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !cfg.Auth {
		log.Warn("listening beyond loopback without --auth: anyone who can reach this address can read and change everything", "addr", l.Addr().String())
	}
	log.Info("cairn server listening", "url", "http://"+l.Addr().String(), "db", redactURI(cfg.DB), "artifacts", art.URI(), "auth", cfg.Auth, "dialect", db.Dialect().String())
	if ready != nil {
		ready <- l.Addr().String()
	}
	if err := models.Restore(ctx); err != nil {
		log.Warn("deployments not restored", "err", err)
	}
	err = runComponents(ctx,
		component{"HTTP server", func(ctx context.Context) error { return srv.Serve(ctx, l) }},
		component{"pipeline service", pipes.Run},
		component{"upload sweeper", func(ctx context.Context) error {
			sweepArtifacts(ctx, log, roots.Stores(), sweepEvery, uploadMaxAge)
			return nil
		}},
	)
	log.Info("cairn server stopped")
	return err
}

// Unfinished uploads older than uploadMaxAge are removed at start and every
// sweepEvery: long enough for any upload still going, short enough that a
// crash loop cannot fill the disk.
const (
	uploadMaxAge = 24 * time.Hour
	sweepEvery   = time.Hour
)

// sweepArtifacts removes the stores' stale upload files every interval
// until ctx ends.
func sweepArtifacts(ctx context.Context, log *slog.Logger, stores []artifacts.Store, every, maxAge time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweepOnce(ctx, log, stores, maxAge)
		}
	}
}

func sweepOnce(ctx context.Context, log *slog.Logger, stores []artifacts.Store, maxAge time.Duration) {
	for _, st := range stores {
		sw, ok := st.(artifacts.Sweeper)
		if !ok {
			continue
		}
		n, err := sw.Sweep(ctx, maxAge)
		if err != nil && ctx.Err() == nil {
			log.Warn("unfinished uploads not removed", "artifacts", st.URI(), "err", err)
		}
		if n > 0 {
			log.Info("removed unfinished uploads", "artifacts", st.URI(), "count", n, "older_than", maxAge)
		}
	}
}

// privateDir creates the data folder for its owner only, and tightens one
// that others may enter, with a warning: it holds the database, with its
// password hashes, and the artifacts.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		if err := os.Chmod(dir, mode&0o700); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("restrict %s to its owner: %w (it is not this user's, as a mounted volume's root is not: point --data at a folder inside it, e.g. %s)",
					dir, err, filepath.Join(dir, "cairn"))
			}
			return fmt.Errorf("restrict %s to its owner: %w", dir, err)
		}
		log.Warn("data folder was open to others; restricted it to its owner", "path", dir, "was", mode.String(), "now", (mode & 0o700).String())
	}
	return nil
}

// guardFlags adds the flags that widen what the server's browser guard
// accepts: more Host names and more origins.
func guardFlags(f *pflag.FlagSet, hosts, origins *[]string) {
	f.StringSliceVar(hosts, "allowed-hosts", nil, "more names clients may use in the Host header besides IP addresses, localhost and the --addr host, e.g. cairn.example.com, *.example.com (comma-separated or repeated)")
	f.StringSliceVar(origins, "allowed-origins", nil, "browser origins allowed to call the API from pages served elsewhere, e.g. https://notebook.example.com (comma-separated or repeated)")
}

func redactURI(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if at := strings.LastIndex(s, "@"); at > i {
			if colon := strings.Index(s[i+3:at], ":"); colon >= 0 {
				return s[:i+3+colon+1] + "xxxxx" + s[at:]
			}
		}
	}
	return s
}
