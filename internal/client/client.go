package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/api/wire"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Options configure a Client. Token wins over Username/Password.
type Options struct {
	Token      string // sent as "Authorization: Bearer <token>"
	Username   string // sent as basic auth with Password
	Password   string
	HTTPClient *http.Client
	// Retries is how often a request that failed with a connection error or a
	// 503 is retried, with exponential backoff.
	Retries int
}

// DefaultOptions returns options with a 60 s timeout and 3 retries.
func DefaultOptions() Options {
	return Options{HTTPClient: &http.Client{Timeout: 60 * time.Second}, Retries: 3}
}

// Client talks to one Cairn (or MLflow) server.
type Client struct {
	base string
	opts Options
}

// New returns a client for the server at baseURL, e.g. http://127.0.0.1:5000.
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Invalidf("invalid tracking URI %q: expected http://host:port or https://host", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = DefaultOptions().HTTPClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), opts: opts}, nil
}

// Do sends one API call: in is encoded as JSON (for GET, as the query string
// when it is url.Values), and the response decoded into out when not nil.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	target := c.base + path
	if q, ok := in.(url.Values); ok {
		target += "?" + q.Encode()
	} else if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = b
	}
	resp, err := c.send(ctx, method, target, body)
	if err == nil {
		err = decodeResponse(resp, out)
	}
	if err != nil && err != ctx.Err() {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return err
}

// send sends a request with an optional JSON body, retrying connection
// errors and 503s, and returns a response with a status below 300; another
// status becomes the error the server meant.
func (c *Client) send(ctx context.Context, method, target string, body []byte) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt <= c.opts.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(100<<attempt) * time.Millisecond):
			}
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return nil, err
		}
		if body != nil || (method != http.MethodGet && method != http.MethodHead) {
			// The server refuses a state-changing POST without it.
			req.Header.Set("Content-Type", "application/json")
		}
		c.authorize(req)
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("cannot reach %s: %v", c.base, err), Err: err}
			continue
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		err = decodeResponse(resp, nil)
		if errs.KindOf(err) == errs.Unavailable && resp.StatusCode == http.StatusServiceUnavailable {
			lastErr = err
			continue
		}
		return nil, err
	}
	return nil, lastErr
}

func (c *Client) authorize(req *http.Request) {
	switch {
	case c.opts.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	case c.opts.Username != "":
		req.SetBasicAuth(c.opts.Username, c.opts.Password)
	}
}

func decodeResponse(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.ErrorCode != "" {
			return &errs.Error{Kind: api.KindOf(resp.StatusCode, e.ErrorCode), Message: e.Message}
		}
		k := api.KindOf(resp.StatusCode, "")
		return &errs.Error{Kind: k, Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil && err != io.EOF {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

const mlflowAPI = "/api/2.0/mlflow/"

// CreateExperiment creates an experiment and returns its ID.
func (c *Client) CreateExperiment(ctx context.Context, name string, tags ...tracking.Tag) (string, error) {
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	err := c.Do(ctx, "POST", mlflowAPI+"experiments/create", map[string]any{"name": name, "tags": wire.FromTags(tags)}, &out)
	return out.ExperimentID, err
}

// EnsureExperiment returns the ID of the experiment named name, creating
// it (with tags) when there is none.
func (c *Client) EnsureExperiment(ctx context.Context, name string, tags ...tracking.Tag) (string, error) {
	exp, err := c.GetExperimentByName(ctx, name)
	if err == nil {
		return exp.ID, nil
	}
	if errs.KindOf(err) != errs.NotFound {
		return "", err
	}
	id, err := c.CreateExperiment(ctx, name, tags...)
	if errs.KindOf(err) == errs.Conflict { // created meanwhile
		if exp, gerr := c.GetExperimentByName(ctx, name); gerr == nil {
			return exp.ID, nil
		}
	}
	return id, err
}

// GetExperimentByName returns an experiment by name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*tracking.Experiment, error) {
	var out struct {
		Experiment wire.Experiment `json:"experiment"`
	}
	if err := c.Do(ctx, "GET", mlflowAPI+"experiments/get-by-name", url.Values{"experiment_name": {name}}, &out); err != nil {
		return nil, err
	}
	return wire.ToExperiment(out.Experiment), nil
}

// GetExperiment returns an experiment by ID.
func (c *Client) GetExperiment(ctx context.Context, id string) (*tracking.Experiment, error) {
	var out struct {
		Experiment wire.Experiment `json:"experiment"`
	}
	if err := c.Do(ctx, "GET", mlflowAPI+"experiments/get", url.Values{"experiment_id": {id}}, &out); err != nil {
		return nil, err
	}
	return wire.ToExperiment(out.Experiment), nil
}

// SearchExperiments returns one page of experiments and the next page token.
func (c *Client) SearchExperiments(ctx context.Context, q tracking.ExperimentQuery) ([]*tracking.Experiment, string, error) {
	in := map[string]any{"filter": q.Filter, "order_by": q.OrderBy, "max_results": q.Page.MaxResults,
		"page_token": q.Page.Token, "view_type": viewTypeName(q.ViewType)}
	var out struct {
		Experiments   []wire.Experiment `json:"experiments"`
		NextPageToken string            `json:"next_page_token"`
	}
	if err := c.Do(ctx, "POST", mlflowAPI+"experiments/search", in, &out); err != nil {
		return nil, "", err
	}
	exps := make([]*tracking.Experiment, len(out.Experiments))
	for i, e := range out.Experiments {
		exps[i] = wire.ToExperiment(e)
	}
	return exps, out.NextPageToken, nil
}

func viewTypeName(v tracking.ViewType) string {
	switch v {
	case tracking.DeletedOnly:
		return "DELETED_ONLY"
	case tracking.All:
		return "ALL"
	}
	return "ACTIVE_ONLY"
}

// CreateRun starts a run.
func (c *Client) CreateRun(ctx context.Context, in tracking.CreateRunInput) (*tracking.Run, error) {
	req := map[string]any{"experiment_id": in.ExperimentID, "user_id": in.UserID, "run_name": in.RunName,
		"start_time": in.StartTime, "tags": wire.FromTags(in.Tags)}
	if in.StartTime == 0 {
		req["start_time"] = time.Now().UnixMilli()
	}
	var out struct {
		Run wire.Run `json:"run"`
	}
	if err := c.Do(ctx, "POST", mlflowAPI+"runs/create", req, &out); err != nil {
		return nil, err
	}
	return wire.ToRun(out.Run), nil
}

// GetRun returns a run.
func (c *Client) GetRun(ctx context.Context, id string) (*tracking.Run, error) {
	var out struct {
		Run wire.Run `json:"run"`
	}
	if err := c.Do(ctx, "GET", mlflowAPI+"runs/get", url.Values{"run_id": {id}}, &out); err != nil {
		return nil, err
	}
	return wire.ToRun(out.Run), nil
}

// UpdateRun sets a run's status and end time (0 leaves it unset).
func (c *Client) UpdateRun(ctx context.Context, id, status string, endTime int64) error {
	req := map[string]any{"run_id": id, "status": status}
	if endTime != 0 {
		req["end_time"] = endTime
	}
	return c.Do(ctx, "POST", mlflowAPI+"runs/update", req, nil)
}

// LogBatch logs metrics, params and tags to a run in one call, splitting it
// into several calls when it exceeds MLflow's per-request limits.
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	for len(metrics) > 0 || len(params) > 0 || len(tags) > 0 {
		nm := min(len(metrics), tracking.MaxMetricsPerBatch)
		np := min(len(params), tracking.MaxParamsTagsPerBatch)
		nt := min(len(tags), tracking.MaxParamsTagsPerBatch)
		if nm+np+nt > tracking.MaxEntitiesPerBatch {
			nm = tracking.MaxEntitiesPerBatch - np - nt
		}
		req := map[string]any{"run_id": runID}
		if nm > 0 {
			ms := make([]wire.Metric, nm)
			for i, m := range metrics[:nm] {
				ms[i] = wire.FromMetric(m)
			}
			req["metrics"] = ms
		}
		if np > 0 {
			ps := make([]wire.Param, np)
			for i, p := range params[:np] {
				ps[i] = wire.Param{Key: p.Key, Value: p.Value}
			}
			req["params"] = ps
		}
		if nt > 0 {
			req["tags"] = wire.FromTags(tags[:nt])
		}
		if err := c.Do(ctx, "POST", mlflowAPI+"runs/log-batch", req, nil); err != nil {
			return err
		}
		metrics, params, tags = metrics[nm:], params[np:], tags[nt:]
	}
	return nil
}

// SearchRuns returns one page of runs and the next page token.
func (c *Client) SearchRuns(ctx context.Context, q tracking.RunQuery) ([]*tracking.Run, string, error) {
	in := map[string]any{"experiment_ids": q.ExperimentIDs, "filter": q.Filter, "order_by": q.OrderBy,
		"max_results": q.Page.MaxResults, "page_token": q.Page.Token, "run_view_type": viewTypeName(q.ViewType)}
	var out struct {
		Runs          []wire.Run `json:"runs"`
		NextPageToken string     `json:"next_page_token"`
	}
	if err := c.Do(ctx, "POST", mlflowAPI+"runs/search", in, &out); err != nil {
		return nil, "", err
	}
	runs := make([]*tracking.Run, len(out.Runs))
	for i, r := range out.Runs {
		runs[i] = wire.ToRun(r)
	}
	return runs, out.NextPageToken, nil
}

// MetricHistory returns every value of a metric, following page tokens.
func (c *Client) MetricHistory(ctx context.Context, runID, key string) ([]tracking.Metric, error) {
	var all []tracking.Metric
	tok := ""
	for {
		q := url.Values{"run_id": {runID}, "metric_key": {key}}
		if tok != "" {
			q.Set("page_token", tok)
		}
		var out struct {
			Metrics       []wire.Metric `json:"metrics"`
			NextPageToken string        `json:"next_page_token"`
		}
		if err := c.Do(ctx, "GET", mlflowAPI+"metrics/get-history", q, &out); err != nil {
			return nil, err
		}
		for _, m := range out.Metrics {
			all = append(all, wire.ToMetric(m))
		}
		if out.NextPageToken == "" {
			return all, nil
		}
		tok = out.NextPageToken
	}
}

// LogInputs records dataset inputs of a run.
func (c *Client) LogInputs(ctx context.Context, runID string, datasets []tracking.DatasetInput) error {
	in := make([]wire.DatasetInput, len(datasets))
	for i, d := range datasets {
		in[i] = wire.FromDatasetInput(d)
	}
	return c.Do(ctx, "POST", mlflowAPI+"runs/log-inputs", map[string]any{"run_id": runID, "datasets": in}, nil)
}

// UploadArtifact streams r to the run's artifact folder at relPath (through
// the server's artifact proxy; the run's artifact URI must be mlflow-artifacts:).
func (c *Client) UploadArtifact(ctx context.Context, run *tracking.Run, relPath string, r io.Reader) error {
	root, ok := strings.CutPrefix(run.Info.ArtifactURI, "mlflow-artifacts:")
	if !ok {
		return errs.Invalidf("run %s stores artifacts at %s, not through the server; upload there directly", run.Info.RunID, run.Info.ArtifactURI)
	}
	p := strings.TrimLeft(root, "/") + "/" + strings.TrimLeft(relPath, "/")
	req, err := http.NewRequestWithContext(ctx, "PUT", c.base+"/api/2.0/mlflow-artifacts/artifacts/"+escapePath(p), r)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return &errs.Error{Kind: errs.Unavailable, Message: fmt.Sprintf("upload %s: %v", relPath, err), Err: err}
	}
	return decodeResponse(resp, nil)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// BaseURL returns the server's URL, e.g. http://127.0.0.1:5000.
func (c *Client) BaseURL() string { return c.base }
