package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/web"
)

// Config is the server's whole configuration, from flags and environment.
type Config struct {
	Data      string // folder for the default SQLite database and artifacts
	Addr      string
	DB        string // metadata URI; default sqlite in Data
	Artifacts string // artifact root URI; default file:// under Data
	// DefaultArtifactRoot is where new experiments keep artifacts. Empty means
	// "mlflow-artifacts:/", so clients upload through this server.
	DefaultArtifactRoot string
	// AllowedArtifactRoots are more roots, besides Artifacts and
	// DefaultArtifactRoot, under which experiments may keep artifacts that
	// the server reads and writes.
	AllowedArtifactRoots []string
	Auth                 bool
	MaxArtifactBytes     int64
	GPUs                 int // GPUs pipeline tasks may request
	Guard                guardConfig
	TaskEnv              []string // more variables pipeline tasks inherit
	Unsandboxed          bool     // --task-sandbox=false
	S3                   artifacts.Options
}

// DefaultConfig returns the zero-setup configuration: everything under ./cairn-data on loopback.
func DefaultConfig() Config {
	return Config{Data: "cairn-data", Addr: "127.0.0.1:5000", S3: artifacts.DefaultOptions()}
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if c.Data == "" && (c.DB == "" || c.Artifacts == "") {
		return usageError{errors.New("--data is required unless both --db and --artifacts are given")}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return usageError{fmt.Errorf("invalid --addr %q: expected host:port, e.g. 127.0.0.1:5000", c.Addr)}
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.Data, "cairn.db")
	}
	if c.Artifacts == "" {
		abs, err := filepath.Abs(filepath.Join(c.Data, "artifacts"))
		if err != nil {
			return err
		}
		c.Artifacts = abs
	}
	if err := c.validateArtifactRoots(); err != nil {
		return err
	}
	if err := c.Guard.Validate(); err != nil {
		return err
	}
	if c.MaxArtifactBytes < 0 {
		return usageError{errors.New("--max-artifact-bytes must be 0 (no limit) or positive")}
	}
	return nil
}

// validateArtifactRoots checks the default and allowed artifact roots, and
// makes a relative default root absolute, as MLflow does.
func (c *Config) validateArtifactRoots() error {
	if r := c.DefaultArtifactRoot; r != "" && artifacts.Scheme(r) == "" && !filepath.IsAbs(r) {
		abs, err := filepath.Abs(r)
		if err != nil {
			return err
		}
		c.DefaultArtifactRoot = abs
	}
	if r := c.DefaultArtifactRoot; r != "" {
		if _, err := artifacts.ParseLocation(r); err != nil {
			return usageError{fmt.Errorf("--default-artifact-root: %s", errs.MessageOf(err))}
		}
	}
	for _, r := range c.AllowedArtifactRoots {
		loc, err := artifacts.ParseLocation(r)
		if err == nil && loc.Scheme != "file" && loc.Scheme != "s3" {
			err = errs.Invalidf("artifact root '%s' is not a file:// or s3:// URI", r)
		}
		if err != nil {
			return usageError{fmt.Errorf("--allowed-artifact-roots: %s", errs.MessageOf(err))}
		}
	}
	return nil
}

// artifactRoots opens the stores the API serves besides art, the server's
// own: the default artifact root, when it is not proxied, and the allowed
// roots. A root inside one already served is served by that one's store.
func (c *Config) artifactRoots(ctx context.Context, art artifacts.Store) (*artifacts.Roots, error) {
	roots := artifacts.NewRoots(art)
	uris := c.AllowedArtifactRoots
	if s := artifacts.Scheme(c.DefaultArtifactRoot); s != "mlflow-artifacts" && c.DefaultArtifactRoot != "" {
		uris = append([]string{c.DefaultArtifactRoot}, uris...)
	}
	for _, uri := range uris {
		if _, _, err := roots.Resolve(uri); err == nil {
			continue
		}
		st, err := artifacts.Open(ctx, uri, c.S3)
		if err == nil {
			err = roots.Add(st)
		}
		if err != nil {
			return nil, fmt.Errorf("artifact root %s: %w", uri, err)
		}
	}
	return roots, nil
}

// hiddenFromTasks lists what tasks may not touch besides the data folder: a
// SQLite database and a local artifact folder kept elsewhere.
func (c *Config) hiddenFromTasks() []string {
	var out []string
	db := strings.TrimPrefix(c.DB, "sqlite://")
	if !strings.Contains(db, "://") {
		if abs, err := filepath.Abs(db); err == nil {
			out = append(out, abs, abs+"-wal", abs+"-shm", abs+"-journal")
		}
	}
	if !strings.Contains(c.Artifacts, "://") || strings.HasPrefix(c.Artifacts, "file://") {
		if abs, err := filepath.Abs(strings.TrimPrefix(c.Artifacts, "file://")); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// s3FromEnv fills S3 options from the variables MLflow and the AWS SDK use.
func s3FromEnv(o *artifacts.Options) {
	for _, k := range []string{"MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			o.S3Endpoint = v
			break
		}
	}
	if v := os.Getenv("AWS_REGION"); v != "" {
		o.S3Region = v
	} else if v := os.Getenv("AWS_DEFAULT_REGION"); v != "" {
		o.S3Region = v
	}
}

// guardConfig widens what a server's browser guard accepts.
type guardConfig struct {
	Hosts   []string // more names accepted in the Host header
	Origins []string // browser origins allowed to call the API cross-site
}

// Validate checks every entry.
func (g guardConfig) Validate() error {
	for _, h := range g.Hosts {
		if _, err := web.ParseAllowedHost(h); err != nil {
			return usageError{fmt.Errorf("--allowed-hosts: %w", err)}
		}
	}
	for _, o := range g.Origins {
		if _, err := web.ParseOrigin(o); err != nil {
			return usageError{fmt.Errorf("--allowed-origins: %w", err)}
		}
	}
	return nil
}
