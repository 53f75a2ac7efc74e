package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-mlops/cairn/internal/api/wire"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

// Statuses of a model version while an MLflow server registers it
// asynchronously; Cairn's server always answers registry.StatusReady.
const (
	StatusPendingRegistration = "PENDING_REGISTRATION"
	StatusFailedRegistration  = "FAILED_REGISTRATION"
)

// wireModelVersion is MLflow's ModelVersion as the server sends it.
type wireModelVersion struct {
	Name            string     `json:"name"`
	Version         string     `json:"version"`
	CreationTime    int64      `json:"creation_timestamp"`
	LastUpdatedTime int64      `json:"last_updated_timestamp"`
	UserID          string     `json:"user_id"`
	CurrentStage    string     `json:"current_stage"`
	Description     string     `json:"description"`
	Source          string     `json:"source"`
	RunID           string     `json:"run_id"`
	Status          string     `json:"status"`
	StatusMessage   string     `json:"status_message"`
	Tags            []wire.Tag `json:"tags"`
	RunLink         string     `json:"run_link"`
	Aliases         []string   `json:"aliases"`
	ModelID         string     `json:"model_id"`
}

type wireRegisteredModel struct {
	Name            string             `json:"name"`
	CreationTime    int64              `json:"creation_timestamp"`
	LastUpdatedTime int64              `json:"last_updated_timestamp"`
	Description     string             `json:"description"`
	LatestVersions  []wireModelVersion `json:"latest_versions"`
	Tags            []wire.Tag         `json:"tags"`
	Aliases         []struct {
		Alias   string `json:"alias"`
		Version string `json:"version"`
	} `json:"aliases"`
}

func toVersion(w wireModelVersion) (*registry.ModelVersion, error) {
	n, err := strconv.ParseInt(w.Version, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("decode model version %s/%q: %w", w.Name, w.Version, err)
	}
	return &registry.ModelVersion{
		Name: w.Name, Version: n, CreationTime: w.CreationTime, LastUpdatedTime: w.LastUpdatedTime,
		Description: w.Description, UserID: w.UserID, CurrentStage: w.CurrentStage, Source: w.Source,
		RunID: w.RunID, RunLink: w.RunLink, Status: w.Status, StatusMessage: w.StatusMessage,
		ModelID: w.ModelID, Tags: wire.ToTags(w.Tags), Aliases: w.Aliases,
	}, nil
}

func toVersions(ws []wireModelVersion) ([]*registry.ModelVersion, error) {
	vs := make([]*registry.ModelVersion, len(ws))
	for i, w := range ws {
		v, err := toVersion(w)
		if err != nil {
			return nil, err
		}
		vs[i] = v
	}
	return vs, nil
}

func toModel(w wireRegisteredModel) (*registry.RegisteredModel, error) {
	m := &registry.RegisteredModel{Name: w.Name, CreationTime: w.CreationTime, LastUpdatedTime: w.LastUpdatedTime,
		Description: w.Description, Tags: wire.ToTags(w.Tags)}
	for _, a := range w.Aliases {
		n, err := strconv.ParseInt(a.Version, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decode alias %s@%s: %w", w.Name, a.Alias, err)
		}
		m.Aliases = append(m.Aliases, registry.Alias{Alias: a.Alias, Version: n})
	}
	var err error
	m.LatestVersions, err = toVersions(w.LatestVersions)
	return m, err
}

func version(n int64) string { return strconv.FormatInt(n, 10) }

// modelCall sends one registry call that answers {"registered_model": ...}.
func (c *Client) modelCall(ctx context.Context, method, route string, in any) (*registry.RegisteredModel, error) {
	var out struct {
		Model wireRegisteredModel `json:"registered_model"`
	}
	if err := c.Do(ctx, method, mlflowAPI+route, in, &out); err != nil {
		return nil, err
	}
	return toModel(out.Model)
}

// versionCall sends one registry call that answers {"model_version": ...}.
func (c *Client) versionCall(ctx context.Context, method, route string, in any) (*registry.ModelVersion, error) {
	var out struct {
		Version wireModelVersion `json:"model_version"`
	}
	if err := c.Do(ctx, method, mlflowAPI+route, in, &out); err != nil {
		return nil, err
	}
	return toVersion(out.Version)
}

// CreateRegisteredModel creates a registered model.
// Errors: Invalid, Conflict (the name is taken).
func (c *Client) CreateRegisteredModel(ctx context.Context, name, description string, tags []registry.Tag) (*registry.RegisteredModel, error) {
	in := map[string]any{"name": name, "description": description, "tags": wire.FromTags(tags)}
	return c.modelCall(ctx, "POST", "registered-models/create", in)
}

// EnsureRegisteredModel creates a registered model, or returns the existing
// one of that name (whose description and tags are left as they are).
func (c *Client) EnsureRegisteredModel(ctx context.Context, name, description string, tags []registry.Tag) (*registry.RegisteredModel, error) {
	m, err := c.CreateRegisteredModel(ctx, name, description, tags)
	if errs.Is(err, errs.Conflict) {
		return c.GetRegisteredModel(ctx, name)
	}
	return m, err
}

// GetRegisteredModel returns a registered model with its tags, aliases and
// newest version in each stage. Errors: NotFound.
func (c *Client) GetRegisteredModel(ctx context.Context, name string) (*registry.RegisteredModel, error) {
	return c.modelCall(ctx, "GET", "registered-models/get", url.Values{"name": {name}})
}

// CreateModelVersion registers the next version of a model from in.Source
// (e.g. runs:/<run>/model or an mlflow-artifacts: URI). The version may still
// be registering on an MLflow server: see WaitForModelVersionReady.
// Errors: Invalid (source), NotFound (model or run).
func (c *Client) CreateModelVersion(ctx context.Context, in registry.CreateModelVersionInput) (*registry.ModelVersion, error) {
	req := map[string]any{"name": in.Name, "source": in.Source}
	for k, v := range map[string]string{"run_id": in.RunID, "run_link": in.RunLink, "description": in.Description, "model_id": in.ModelID} {
		if v != "" {
			req[k] = v
		}
	}
	if len(in.Tags) > 0 {
		req["tags"] = wire.FromTags(in.Tags)
	}
	return c.versionCall(ctx, "POST", "model-versions/create", req)
}

// WaitForModelVersionReady polls a version until it leaves
// PENDING_REGISTRATION and returns it. Errors: NotFound, Conflict (the
// registration failed), and ctx's error when it ends first.
func (c *Client) WaitForModelVersionReady(ctx context.Context, name string, ver int64) (*registry.ModelVersion, error) {
	delay := 100 * time.Millisecond
	for {
		v, err := c.GetModelVersion(ctx, name, ver)
		if err != nil {
			return nil, err
		}
		switch v.Status {
		case StatusPendingRegistration:
		case StatusFailedRegistration:
			return nil, errs.Conflictf("model version %s failed to register: %s", v, v.StatusMessage)
		default:
			return v, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for model version %s: %w", v, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// GetModelVersion returns one version of a model. Errors: NotFound.
func (c *Client) GetModelVersion(ctx context.Context, name string, ver int64) (*registry.ModelVersion, error) {
	return c.versionCall(ctx, "GET", "model-versions/get", url.Values{"name": {name}, "version": {version(ver)}})
}

// GetModelVersionByAlias returns the version an alias points at.
// Errors: Invalid (alias), NotFound (model or alias).
func (c *Client) GetModelVersionByAlias(ctx context.Context, name, alias string) (*registry.ModelVersion, error) {
	return c.versionCall(ctx, "GET", "registered-models/alias", url.Values{"name": {name}, "alias": {alias}})
}

// SetRegisteredModelAlias points alias at a version, moving it if it points
// elsewhere. Errors: Invalid (alias), NotFound (version).
func (c *Client) SetRegisteredModelAlias(ctx context.Context, name, alias string, ver int64) error {
	in := map[string]any{"name": name, "alias": alias, "version": version(ver)}
	return c.Do(ctx, "POST", mlflowAPI+"registered-models/alias", in, nil)
}

// DeleteRegisteredModelAlias removes an alias; a missing alias is not an
// error. Errors: NotFound (model).
func (c *Client) DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error {
	return c.Do(ctx, "DELETE", mlflowAPI+"registered-models/alias", url.Values{"name": {name}, "alias": {alias}}, nil)
}

// SearchModelVersions returns one page of versions matching q.Filter (MLflow
// syntax, e.g. "name='m'" or "run_id='...'") and the next page token.
// Errors: Invalid (filter, order_by, token).
func (c *Client) SearchModelVersions(ctx context.Context, q registry.Query) ([]*registry.ModelVersion, string, error) {
	in := url.Values{}
	if q.Filter != "" {
		in.Set("filter", q.Filter)
	}
	if q.MaxResults > 0 {
		in.Set("max_results", strconv.Itoa(q.MaxResults))
	}
	if q.Token != "" {
		in.Set("page_token", q.Token)
	}
	if len(q.OrderBy) > 0 {
		in["order_by"] = q.OrderBy
	}
	var out struct {
		ModelVersions []wireModelVersion `json:"model_versions"`
		NextPageToken string             `json:"next_page_token"`
	}
	if err := c.Do(ctx, "GET", mlflowAPI+"model-versions/search", in, &out); err != nil {
		return nil, "", err
	}
	vs, err := toVersions(out.ModelVersions)
	return vs, out.NextPageToken, err
}

// GetModelVersionDownloadURI returns where a version's files are, e.g.
// mlflow-artifacts:/1/<run>/artifacts/model. Errors: NotFound.
func (c *Client) GetModelVersionDownloadURI(ctx context.Context, name string, ver int64) (string, error) {
	var out struct {
		ArtifactURI string `json:"artifact_uri"`
	}
	err := c.Do(ctx, "GET", mlflowAPI+"model-versions/get-download-uri", url.Values{"name": {name}, "version": {version(ver)}}, &out)
	return out.ArtifactURI, err
}

// SetModelVersionTag sets or replaces a tag of a version. Errors: Invalid, NotFound.
func (c *Client) SetModelVersionTag(ctx context.Context, name string, ver int64, t registry.Tag) error {
	in := map[string]any{"name": name, "version": version(ver), "key": t.Key, "value": t.Value}
	return c.Do(ctx, "POST", mlflowAPI+"model-versions/set-tag", in, nil)
}

// getLatestVersion returns the newest version of a model in stage, or in any
// stage when stage is "". Errors: NotFound.
func (c *Client) getLatestVersion(ctx context.Context, name, stage string) (*registry.ModelVersion, error) {
	in := map[string]any{"name": name}
	if stage != "" {
		in["stages"] = []string{stage}
	}
	var out struct {
		ModelVersions []wireModelVersion `json:"model_versions"`
	}
	if err := c.Do(ctx, "POST", mlflowAPI+"registered-models/get-latest-versions", in, &out); err != nil {
		return nil, err
	}
	vs, err := toVersions(out.ModelVersions)
	if err != nil {
		return nil, err
	}
	var best *registry.ModelVersion
	for _, v := range vs {
		if best == nil || v.Version > best.Version {
			best = v
		}
	}
	if best == nil {
		if stage == "" {
			return nil, errs.NotFoundf("registered model '%s' has no versions", name)
		}
		return nil, errs.NotFoundf("no version of registered model '%s' is in stage '%s'", name, stage)
	}
	return best, nil
}

// ResolveVersion returns the version a models:/ URI names, without asking
// where its files are (see ResolveModelURI). Errors: Invalid, NotFound.
func (c *Client) ResolveVersion(ctx context.Context, uri string) (*registry.ModelVersion, error) {
	ref, err := registry.ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	var v *registry.ModelVersion
	switch {
	case ref.Alias != "":
		v, err = c.GetModelVersionByAlias(ctx, ref.Name, ref.Alias)
	case ref.Numbered:
		v, err = c.GetModelVersion(ctx, ref.Name, ref.Version)
	default:
		v, err = c.getLatestVersion(ctx, ref.Name, ref.Stage)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", uri, err)
	}
	return v, nil
}

// ResolveModelURI returns the version a models:/ URI names (models:/name/3,
// models:/name@alias, models:/name/latest, or models:/name/Production for the
// newest version in a stage) and the URI of its files.
// Errors: Invalid (not such a URI), NotFound.
func (c *Client) ResolveModelURI(ctx context.Context, uri string) (*registry.ModelVersion, string, error) {
	v, err := c.ResolveVersion(ctx, uri)
	if err != nil {
		return nil, "", err
	}
	loc, err := c.GetModelVersionDownloadURI(ctx, v.Name, v.Version)
	if err != nil {
		return nil, "", fmt.Errorf("resolve %s: %w", uri, err)
	}
	return v, loc, nil
}
