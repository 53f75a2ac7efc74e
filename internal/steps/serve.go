package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/train"
)

// ModelLoader loads model packages for the model server: registered
// versions (models:/name@alias, models:/name/3) fetched once through the
// tracking server into CacheDir, or package folders.
type ModelLoader struct {
	Client   *client.Client // needed for models:/ URIs
	CacheDir string
	Backend  string // "" for the default
}

// Resolve returns the version uri points at now: the registry's version
// number, or for a folder a hash of its package manifest (so a package
// rewritten in place is a new version).
func (l ModelLoader) Resolve(ctx context.Context, uri string) (string, error) {
	if strings.HasPrefix(uri, "models:/") {
		if l.Client == nil {
			return "", errs.Invalidf("resolve %s: a tracking server is needed for models:/ URIs", uri)
		}
		mv, _, err := l.Client.ResolveModelURI(ctx, uri)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(mv.Version, 10), nil
	}
	b, err := os.ReadFile(filepath.Join(uri, train.PackageFile))
	if err != nil {
		if os.IsNotExist(err) {
			return "", errs.NotFoundf("%s is not a model package: %s is missing", uri, train.PackageFile)
		}
		return "", fmt.Errorf("resolve %s: %w", uri, err)
	}
	sum := sha256.Sum256(b)
	return "sha256-" + hex.EncodeToString(sum[:6]), nil
}

// Load loads version of uri and runs it once.
func (l ModelLoader) Load(ctx context.Context, uri, version string) (serve.Model, error) {
	if strings.HasPrefix(uri, "models:/") {
		ref, err := registry.ParseModelURI(uri)
		if err != nil {
			return nil, err
		}
		uri = fmt.Sprintf("models:/%s/%s", ref.Name, version)
	}
	p, err := LoadModel(ctx, l.Client, uri, l.CacheDir, l.Backend)
	if err != nil {
		return nil, err
	}
	return NewServedModel(p)
}

// servedModel adapts a train.Predictor to serve.Model.
type servedModel struct {
	*train.Predictor
	info serve.ModelInfo
}

// NewServedModel describes a loaded predictor for the model server.
func NewServedModel(p *train.Predictor) (serve.Model, error) {
	pkg := p.Package
	info := serve.ModelInfo{InputShape: pkg.InputShape, Classes: pkg.Classes, Platform: "cairn-gomlx"}
	switch {
	case pkg.Kind == train.KindImage || (pkg.Kind == train.KindONNX && pkg.Image != nil):
		info.Kind, info.Marginals = serve.KindImage, fingerMarginals(pkg.Classes)
	case len(pkg.Transform) > 0:
		info.Kind = serve.KindTable
		t, err := table.UnmarshalTransform(pkg.Transform)
		if err != nil {
			return nil, err
		}
		info.Label, info.ID = t.Label, t.ID
		for _, c := range t.Inputs() {
			info.Inputs = append(info.Inputs, serve.Field{Name: c.Name, Type: string(c.Type), Optional: c.Optional})
		}
	default:
		return nil, errs.Invalidf("model %s: kind %s with neither image options nor a table transform cannot be served", p.Dir, pkg.Kind)
	}
	if pkg.Kind == train.KindONNX {
		info.Platform = "onnx-gomlx"
	}
	return servedModel{Predictor: p, info: info}, nil
}

func (m servedModel) Info() serve.ModelInfo { return m.info }

// fingerMarginals are what answers of a fingers model say besides the
// class: classes "0L".."5R" give the count and the hand apart; classes
// that are counts give the count as a number under "fingers".
func fingerMarginals(classes []string) []serve.Marginal {
	if images.HandClasses(classes) {
		count, hand := serve.Marginal{Name: "fingers", Numeric: true}, serve.Marginal{Name: "hand"}
		for _, c := range classes {
			count.Values, hand.Values = append(count.Values, c[:1]), append(hand.Values, c[1:])
		}
		return []serve.Marginal{count, hand}
	}
	for _, c := range classes {
		if _, err := strconv.Atoi(c); err != nil {
			return nil
		}
	}
	return []serve.Marginal{{Name: "fingers", Values: classes, Numeric: true}}
}

func init() {
	Register(Info{ID: "serve.deploy", Version: "1", Doc: "deploy a model (models:/name@alias) on the server's model server; waits until it serves",
		Outputs: []string{"url", "version", "model_uri", "name"}, New: func() Step { return &Deploy{} }})
}

// Deploy is the serve.deploy step: it creates or updates a deployment on
// the server the task reports to (MLFLOW_TRACKING_URI) and waits until the
// model serves. Updating a deployment swaps the model without downtime; a
// model that fails to load fails the step and the previous one keeps
// serving.
type Deploy struct {
	Name         string `json:"name"`
	Model        string `json:"model"` // models:/name@alias, models:/name/3
	MaxBatchSize int    `json:"max_batch_size"`
	MaxWait      string `json:"max_wait"`
	QueueSize    int    `json:"queue_size"`
	Replicas     int    `json:"replicas"`
	Timeout      string `json:"timeout"`
	// MaxImageBytes bounds the memory one image may take to decode.
	MaxImageBytes int64 `json:"max_image_bytes"`
	// Addr also serves the deployment alone on this address (host:port).
	Addr string `json:"addr"`
}

// Validate implements Validator.
func (p *Deploy) Validate() error {
	cfg, err := p.config()
	if err != nil {
		return err
	}
	return cfg.Validate()
}

func (p *Deploy) config() (serve.Config, error) {
	cfg := serve.Config{Name: p.Name, ModelURI: p.Model, MaxBatchSize: p.MaxBatchSize, QueueSize: p.QueueSize, Replicas: p.Replicas,
		MaxImageBytes: p.MaxImageBytes, Addr: p.Addr}
	for _, d := range []struct {
		name, v string
		dst     *serve.Duration
	}{{"max_wait", p.MaxWait, &cfg.MaxWait}, {"timeout", p.Timeout, &cfg.Timeout}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v < 0 {
			return cfg, errs.Invalidf("input %q: %q is not a duration such as \"5ms\" or \"30s\"", d.name, d.v)
		}
		*d.dst = serve.Duration(v)
	}
	return cfg, nil
}

// Run implements Step.
func (p *Deploy) Run(ctx context.Context, env Env) (map[string]string, error) {
	cfg, err := p.config()
	if err != nil {
		return nil, err
	}
	if env.TrackingURI == "" {
		return nil, errs.Invalidf("serve.deploy needs the server: MLFLOW_TRACKING_URI is not set")
	}
	c, err := trackingClient(env)
	if err != nil {
		return nil, err
	}
	req := struct {
		serve.Config
		Wait bool `json:"wait"`
	}{cfg, true}
	var resp struct {
		Deployment serve.DeploymentJSON `json:"deployment"`
	}
	fmt.Fprintf(env.Stdout, "deploying %s as %s\n", cfg.ModelURI, cfg.Name)
	if err := c.Do(ctx, "POST", serve.APIPrefix+"create", req, &resp); err != nil {
		return nil, fmt.Errorf("deploy %s: %w", cfg.Name, err)
	}
	d := resp.Deployment
	url := strings.TrimRight(env.TrackingURI, "/") + d.URL + "/"
	fmt.Fprintf(env.Stdout, "%s serves %s version %s (%s) at %s\n", d.Name, d.ModelURI, d.ModelVersion, d.State, url)
	return map[string]string{"url": url, "version": d.ModelVersion, "model_uri": d.ModelURI, "name": d.Name}, nil
}
