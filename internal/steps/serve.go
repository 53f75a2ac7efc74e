package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/serve"
)

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
