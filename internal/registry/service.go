package registry

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Limits on registry input, as MLflow sets them.
const (
	MaxNameLength     = 256
	MaxTagKeyLength   = 250
	MaxTagValueLength = 5000
	DefaultMaxResults = 100
	MaxResults        = 1000
	MaxVersionResults = 200_000
)

// Service validates registry requests and passes them to a Store.
type Service struct {
	store Store
	runs  Runs
	now   func() time.Time
}

// NewService returns a Service over store, checking runs against runs.
func NewService(store Store, runs Runs) *Service {
	return &Service{store: store, runs: runs, now: time.Now}
}

// Store returns the underlying store, for reads that need no validation.
func (s *Service) Store() Store { return s.store }

func (s *Service) millis() int64 { return s.now().UnixMilli() }

func validateName(name string) error {
	if name == "" {
		return errs.Missing("name")
	}
	if len(name) > MaxNameLength {
		return errs.Invalidf("Registered model name '%.40s...' had length %d, which exceeded length limit of %d", name, len(name), MaxNameLength)
	}
	return nil
}

func validateTag(t Tag) error {
	if t.Key == "" {
		return errs.Missing("key")
	}
	if len(t.Key) > MaxTagKeyLength {
		return errs.Invalidf("Tag key '%.40s...' had length %d, which exceeded length limit of %d", t.Key, len(t.Key), MaxTagKeyLength)
	}
	if len(t.Value) > MaxTagValueLength {
		return errs.Invalidf("Tag '%s' had value length %d, which exceeded length limit of %d", t.Key, len(t.Value), MaxTagValueLength)
	}
	return tracking.ValidateKey("tag", t.Key)
}

// ParseVersion parses a version number as sent on the wire.
func ParseVersion(v string) (int64, error) {
	if v == "" {
		return 0, errs.Missing("version")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, errs.Invalidf("Model version must be an integer, got '%s'.", v)
	}
	return n, nil
}

var versionLike = regexp.MustCompile(`^[vV]\d+$`)

// ValidateAlias checks an alias name as MLflow does: not "latest", not
// version-like (v1), and a valid key.
func ValidateAlias(alias string) error {
	if alias == "" {
		return errs.Missing("alias")
	}
	if strings.EqualFold(alias, "latest") {
		return errs.Invalidf("'%s' alias name (case insensitive) is reserved.", alias)
	}
	if versionLike.MatchString(alias) {
		return errs.Invalidf("Version alias name '%s' must not match the pattern 'v<number>' (case insensitive), which is reserved for version references.", alias)
	}
	if len(alias) > MaxTagKeyLength {
		return errs.Invalidf("Alias '%.40s...' had length %d, which exceeded length limit of %d", alias, len(alias), MaxTagKeyLength)
	}
	return tracking.ValidateKey("alias", alias)
}

// CreateRegisteredModel validates and stores a new model.
func (s *Service) CreateRegisteredModel(ctx context.Context, name, description string, tags []Tag) (*RegisteredModel, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if err := validateTag(t); err != nil {
			return nil, err
		}
	}
	now := s.millis()
	m := &RegisteredModel{Name: name, Description: description, CreationTime: now, LastUpdatedTime: now, Tags: tags}
	if err := s.store.CreateRegisteredModel(ctx, m); err != nil {
		return nil, err
	}
	return s.store.FindRegisteredModel(ctx, name)
}

// RenameRegisteredModel validates and renames a model.
func (s *Service) RenameRegisteredModel(ctx context.Context, name, newName string) (*RegisteredModel, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if newName == "" {
		return nil, errs.Missing("new_name")
	}
	if err := validateName(newName); err != nil {
		return nil, err
	}
	if err := s.store.RenameRegisteredModel(ctx, name, newName, s.millis()); err != nil {
		return nil, err
	}
	return s.store.FindRegisteredModel(ctx, newName)
}

// UpdateRegisteredModel sets a model's description.
func (s *Service) UpdateRegisteredModel(ctx context.Context, name, description string) (*RegisteredModel, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := s.store.UpdateRegisteredModel(ctx, name, description, s.millis()); err != nil {
		return nil, err
	}
	return s.store.FindRegisteredModel(ctx, name)
}

// SetRegisteredModelTag validates and sets a model tag.
func (s *Service) SetRegisteredModelTag(ctx context.Context, name string, t Tag) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := validateTag(t); err != nil {
		return err
	}
	return s.store.SetRegisteredModelTag(ctx, name, t)
}

// SetModelVersionTag validates and sets a version tag.
func (s *Service) SetModelVersionTag(ctx context.Context, name string, version int64, t Tag) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := validateTag(t); err != nil {
		return err
	}
	return s.store.SetModelVersionTag(ctx, name, version, t)
}

// CreateModelVersionInput is what a client sends to register a version.
type CreateModelVersionInput struct {
	Name        string
	Source      string
	RunID       string
	RunLink     string
	Description string
	Tags        []Tag
	ModelID     string
	UserID      string
}

// CreateModelVersion validates the source, resolves where its files are, and
// registers the next version of a model.
func (s *Service) CreateModelVersion(ctx context.Context, in CreateModelVersionInput) (*ModelVersion, error) {
	if err := validateName(in.Name); err != nil {
		return nil, err
	}
	if in.Source == "" {
		return nil, errs.Missing("source")
	}
	for _, t := range in.Tags {
		if err := validateTag(t); err != nil {
			return nil, err
		}
	}
	if err := s.validateSource(ctx, in.Source, in.RunID); err != nil {
		return nil, err
	}
	loc, err := s.storageLocation(ctx, in.Source)
	if err != nil {
		return nil, err
	}
	if in.ModelID == "" {
		if id, ok := strings.CutPrefix(in.Source, "models:/m-"); ok && !strings.Contains(id, "/") {
			in.ModelID = "m-" + id
		}
	}
	now := s.millis()
	return s.store.CreateModelVersion(ctx, &ModelVersion{
		Name: in.Name, Source: in.Source, RunID: in.RunID, RunLink: in.RunLink, Description: in.Description,
		Tags: in.Tags, UserID: in.UserID, CreationTime: now, LastUpdatedTime: now, CurrentStage: StageNone,
		Status: StatusReady, StorageLocation: loc, ModelID: in.ModelID,
	})
}

func isLocalURI(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return true
	}
	switch p.Scheme {
	case "":
		return true
	case "file":
		h := p.Hostname()
		return h == "" || h == "." || strings.HasPrefix(h, "localhost") || strings.HasPrefix(h, "127.0.0.1")
	}
	return false
}

func localPath(u string) string {
	if p, err := url.Parse(u); err == nil && p.Scheme == "file" {
		return path.Clean(p.Path)
	}
	return path.Clean(u)
}

// validateSource rejects sources that would let a client point a version at
// the server's own files: a local path must lie inside the local artifact
// folder of the run named by run_id, and no source may climb with "..".
func (s *Service) validateSource(ctx context.Context, source, runID string) error {
	if isLocalURI(source) {
		if runID != "" && s.runs != nil {
			run, err := s.runs.FindRunByID(ctx, runID)
			if err != nil {
				return err
			}
			if isLocalURI(run.Info.ArtifactURI) {
				dir, src := localPath(run.Info.ArtifactURI), localPath(source)
				if src == dir || strings.HasPrefix(src, dir+"/") {
					return nil
				}
			}
		}
		return errs.Invalidf("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", source)
	}
	if u, err := url.Parse(source); err == nil && u.Scheme == "file" {
		return errs.Invalidf("Invalid model version source: '%s': %s is not a valid remote uri. A file:// source must name this machine (file:///path)", source, source)
	}
	decoded := source
	for {
		u, err := url.QueryUnescape(decoded)
		if err != nil || u == decoded {
			break
		}
		decoded = u
	}
	p := decoded
	if pu, err := url.Parse(decoded); err == nil {
		p = pu.Path
	}
	if strings.Contains(p, "\x00") || strings.Contains("/"+p+"/", "/../") || strings.HasSuffix(p, "/..") {
		return errs.Invalidf("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
	}
	return nil
}

// storageLocation resolves runs:/<run>/<path> and models:/m-<id> sources to
// the artifact URIs they name; other sources are their own location.
func (s *Service) storageLocation(ctx context.Context, source string) (string, error) {
	switch {
	case strings.HasPrefix(source, "runs:/"):
		rest := strings.TrimPrefix(source, "runs:/")
		rest = strings.TrimLeft(rest, "/")
		runID, rel, _ := strings.Cut(rest, "/")
		if runID == "" {
			return "", errs.Invalidf("Invalid model version source: '%s': expected runs:/<run_id>/<path>", source)
		}
		if s.runs == nil {
			return source, nil
		}
		run, err := s.runs.FindRunByID(ctx, runID)
		if errs.KindOf(err) == errs.NotFound {
			// MLflow accepts a runs:/ source before (or without) its run;
			// DownloadURI resolves it again later.
			return source, nil
		}
		if err != nil {
			return "", err
		}
		if rel == "" {
			return run.Info.ArtifactURI, nil
		}
		return strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + rel, nil
	case strings.HasPrefix(source, "models:/m-") && !strings.Contains(strings.TrimPrefix(source, "models:/"), "/"):
		if s.runs == nil {
			return source, nil
		}
		m, err := s.runs.FindLoggedModelByID(ctx, strings.TrimPrefix(source, "models:/"))
		if err != nil {
			return "", err
		}
		return m.ArtifactURI, nil
	case strings.HasPrefix(source, "models:/"):
		// A copy of another version (models:/name/1, models:/name@alias)
		// keeps the files where the original has them.
		v, err := s.Resolve(ctx, source)
		if err != nil {
			return "", err
		}
		return s.DownloadURI(ctx, v.Name, v.Version)
	}
	return source, nil
}

// DownloadURI returns where a version's files are.
func (s *Service) DownloadURI(ctx context.Context, name string, version int64) (string, error) {
	v, err := s.store.FindModelVersion(ctx, name, version)
	if err != nil {
		return "", err
	}
	loc := v.StorageLocation
	if loc == "" {
		loc = v.Source
	}
	if strings.HasPrefix(loc, "runs:/") {
		return s.storageLocation(ctx, loc)
	}
	return loc, nil
}

// TransitionStage validates and moves a version to a stage.
func (s *Service) TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool) (*ModelVersion, error) {
	st := CanonicalStage(stage)
	if st == "" {
		return nil, errs.Invalidf("Invalid Model Version stage: %s. Value must be one of %s.", stage, strings.Join(Stages, ", "))
	}
	return s.store.TransitionStage(ctx, name, version, st, archiveExisting, s.millis())
}

// SetAlias validates and points an alias at a version.
func (s *Service) SetAlias(ctx context.Context, name, alias string, version int64) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	if _, err := s.store.FindModelVersion(ctx, name, version); err != nil {
		return err
	}
	return s.store.SetAlias(ctx, name, alias, version)
}

// SearchRegisteredModels validates paging and runs a model query.
func (s *Service) SearchRegisteredModels(ctx context.Context, q Query) ([]*RegisteredModel, string, error) {
	n, err := tracking.ClampMaxResults(q.MaxResults, DefaultMaxResults, MaxResults)
	if err != nil {
		return nil, "", err
	}
	q.MaxResults = n
	return s.store.FindRegisteredModels(ctx, q)
}

// SearchModelVersions validates paging and runs a version query.
func (s *Service) SearchModelVersions(ctx context.Context, q Query) ([]*ModelVersion, string, error) {
	n, err := tracking.ClampMaxResults(q.MaxResults, 10000, MaxVersionResults)
	if err != nil {
		return nil, "", err
	}
	q.MaxResults = n
	return s.store.FindModelVersions(ctx, q)
}

// Resolve returns the version a models:/ URI names: models:/name/3,
// models:/name@alias, models:/name/Production (newest in the stage) or
// models:/name/latest (newest of all). Errors: Invalid, NotFound.
func (s *Service) Resolve(ctx context.Context, uri string) (*ModelVersion, error) {
	rest, ok := strings.CutPrefix(uri, "models:/")
	if !ok || rest == "" {
		return nil, errs.Invalidf("invalid model URI '%s': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>", uri)
	}
	rest = strings.TrimRight(rest, "/")
	if i := strings.LastIndexByte(rest, '@'); i > 0 && !strings.Contains(rest[i:], "/") {
		return s.store.FindVersionByAlias(ctx, rest[:i], rest[i+1:])
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return nil, errs.Invalidf("invalid model URI '%s': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>", uri)
	}
	name, ref := rest[:i], rest[i+1:]
	if n, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return s.store.FindModelVersion(ctx, name, n)
	}
	var stages []string
	if !strings.EqualFold(ref, "latest") {
		st := CanonicalStage(ref)
		if st == "" {
			return nil, errs.Invalidf("invalid model URI '%s': '%s' is not a version, a stage (%s) or 'latest'", uri, ref, strings.Join(Stages, ", "))
		}
		stages = []string{st}
	}
	vs, err := s.store.FindLatestVersions(ctx, name, stages)
	if err != nil {
		return nil, err
	}
	var best *ModelVersion
	for _, v := range vs {
		if best == nil || v.Version > best.Version {
			best = v
		}
	}
	if best == nil {
		return nil, errs.NotFoundf("no version of model '%s' matches '%s'", name, ref)
	}
	return best, nil
}

// String renders a version reference for messages.
func (v *ModelVersion) String() string { return fmt.Sprintf("%s/%d", v.Name, v.Version) }
