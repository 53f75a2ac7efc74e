package registry

import (
	"context"
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
	MaxNameLength            = 256 // MLflow's name column
	MaxTagKeyLength          = 250
	MaxTagValueLength        = 5000
	MaxAliasLength           = 255
	DefaultMaxResults        = 100 // registered-models/search
	MaxResults               = 1000
	DefaultMaxVersionResults = 200_000 // model-versions/search
	MaxVersionResults        = 200_000
)

// Service validates registry requests, resolves model sources and URIs, and
// passes the requests to a Store.
type Service struct {
	store Store
	runs  Runs
	now   func() time.Time
}

// NewService returns a Service over store. runs checks the runs that
// versions name and resolves runs:/ and models:/m-<id> sources; it may be
// nil, and then sources are stored as given.
func NewService(store Store, runs Runs) *Service {
	return &Service{store: store, runs: runs, now: time.Now}
}

// Store returns the underlying store.
func (s *Service) Store() Store { return s.store }

func (s *Service) millis() int64 { return s.now().UnixMilli() }

func validateName(name string) error {
	if name == "" {
		return errs.Missing("name")
	}
	if len(name) > MaxNameLength {
		return errs.Invalidf("Registered model name '%.250s' had length %d, which exceeded length limit of %d", name, len(name), MaxNameLength)
	}
	return nil
}

// validateTag checks a tag of a registered model (what = "Registered model")
// or of a version (what = "Model version") with MLflow's limits and words.
func validateTag(what string, t Tag) error {
	if t.Key == "" {
		return errs.Missing("key")
	}
	if len(t.Key) > MaxTagKeyLength {
		return errs.Invalidf("%s key '%.250s' had length %d, which exceeded length limit of %d", what, t.Key, len(t.Key), MaxTagKeyLength)
	}
	if err := tracking.ValidateKey("tag", t.Key); err != nil {
		return err
	}
	if len(t.Value) > MaxTagValueLength {
		return errs.Invalidf("%s value '%.250s' had length %d, which exceeded length limit of %d", what, t.Value, len(t.Value), MaxTagValueLength)
	}
	return nil
}

func validateTags(what string, tags []Tag) error {
	for _, t := range tags {
		if err := validateTag(what, t); err != nil {
			return err
		}
	}
	return nil
}

// ParseVersion parses a version number as sent on the wire ("3").
func ParseVersion(v string) (int64, error) {
	if v == "" {
		return 0, errs.Missing("version")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errs.Invalidf("Model version must be an integer, got '%s'", v)
	}
	return n, nil
}

var (
	aliasChars  = regexp.MustCompile(`^[\w\-]*$`)
	versionLike = regexp.MustCompile(`^[vV]\d+$`)
)

// ValidateAlias checks an alias name as MLflow does: letters, digits, '_' and
// '-' only, at most 255 characters, not "latest" in any case and not
// version-like ("v1", "V12").
func ValidateAlias(alias string) error {
	switch {
	case alias == "":
		return errs.Missing("alias")
	case !aliasChars.MatchString(alias):
		return errs.Invalidf("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", alias)
	case len(alias) > MaxAliasLength:
		return errs.Invalidf("Registered model alias name '%.250s' had length %d, which exceeded length limit of %d", alias, len(alias), MaxAliasLength)
	case strings.EqualFold(alias, "latest"):
		return errs.Invalidf("'latest' alias name (case insensitive) is reserved.")
	case versionLike.MatchString(alias):
		return errs.Invalidf("Version alias name '%s' is reserved.", alias)
	}
	return nil
}

func parseStage(stage string) (string, error) {
	if stage == "" {
		return "", errs.Missing("stage")
	}
	st := CanonicalStage(stage)
	if st == "" {
		return "", errs.Invalidf("Invalid Model Version stage: %s. Value must be one of %s.", stage, strings.Join(Stages, ", "))
	}
	return st, nil
}

// CreateRegisteredModel validates and stores a new model.
func (s *Service) CreateRegisteredModel(ctx context.Context, name, description string, tags []Tag) (*RegisteredModel, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := validateTags("Registered model", tags); err != nil {
		return nil, err
	}
	now := s.millis()
	m := &RegisteredModel{Name: name, Description: description, CreationTime: now, LastUpdatedTime: now, Tags: tags}
	if err := s.store.CreateRegisteredModel(ctx, m); err != nil {
		return nil, err
	}
	return s.store.FindRegisteredModel(ctx, name)
}

// FindRegisteredModel returns a model with its tags, aliases and latest versions.
func (s *Service) FindRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error) {
	if err := validateName(name); err != nil {
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

// DeleteRegisteredModel deletes a model with its versions, tags and aliases.
func (s *Service) DeleteRegisteredModel(ctx context.Context, name string) error {
	if err := validateName(name); err != nil {
		return err
	}
	return s.store.DeleteRegisteredModel(ctx, name)
}

// SetRegisteredModelTag validates and sets a model tag.
func (s *Service) SetRegisteredModelTag(ctx context.Context, name string, t Tag) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := validateTag("Registered model", t); err != nil {
		return err
	}
	return s.store.SetRegisteredModelTag(ctx, name, t)
}

// DeleteRegisteredModelTag removes a model tag.
func (s *Service) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	if err := validateName(name); err != nil {
		return err
	}
	if key == "" {
		return errs.Missing("key")
	}
	return s.store.DeleteRegisteredModelTag(ctx, name, key)
}

// FindLatestVersions returns the newest version of a model in each of the
// stages, named in any letter case (every stage when stages is empty).
func (s *Service) FindLatestVersions(ctx context.Context, name string, stages []string) ([]*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	canon := make([]string, 0, len(stages))
	for _, st := range stages {
		c := CanonicalStage(st)
		if c == "" {
			return nil, errs.Invalidf("Invalid Model Version stage: %s. Value must be one of %s.", st, strings.Join(Stages, ", "))
		}
		canon = append(canon, c)
	}
	return s.store.FindLatestVersions(ctx, name, canon)
}

// SearchRegisteredModels applies MLflow's paging defaults and limits and runs
// a model query.
func (s *Service) SearchRegisteredModels(ctx context.Context, q Query) ([]*RegisteredModel, string, error) {
	n, err := tracking.ClampMaxResults(q.MaxResults, DefaultMaxResults, MaxResults)
	if err != nil {
		return nil, "", err
	}
	q.MaxResults = n
	return s.store.FindRegisteredModels(ctx, q)
}

// CreateModelVersionInput is what a client sends to register a version.
type CreateModelVersionInput struct {
	Name        string
	Source      string
	RunID       string
	RunLink     string
	Description string
	Tags        []Tag
	ModelID     string // MLflow 3: the logged model being registered
	UserID      string
}

// CreateModelVersion validates the source, resolves where its files are, and
// registers the next version of a model. A local source must lie inside the
// artifact folder of the run named by RunID; other sources may not climb with
// "..". Sources runs:/<run>/<path>, models:/m-<id> (a logged model) and
// models:/<name>/<version|stage|latest> or models:/<name>@<alias> are
// resolved to the artifact URI they name, which DownloadURI then returns.
func (s *Service) CreateModelVersion(ctx context.Context, in CreateModelVersionInput) (*ModelVersion, error) {
	if err := validateName(in.Name); err != nil {
		return nil, err
	}
	if in.Source == "" {
		return nil, errs.Missing("source")
	}
	if err := validateTags("Model version", in.Tags); err != nil {
		return nil, err
	}
	if err := s.ValidateSource(ctx, in.Source, in.RunID); err != nil {
		return nil, err
	}
	loc, logged, err := s.resolveSource(ctx, in.Source)
	if err != nil {
		return nil, err
	}
	if logged != nil && in.ModelID == "" {
		in.ModelID = logged.ModelID
	}
	if in.RunID == "" && in.ModelID != "" && s.runs != nil {
		if logged == nil {
			if logged, err = s.runs.FindLoggedModelByID(ctx, in.ModelID); err != nil {
				return nil, err
			}
		}
		in.RunID = logged.SourceRunID
	}
	now := s.millis()
	return s.store.CreateModelVersion(ctx, &ModelVersion{
		Name: in.Name, Source: in.Source, RunID: in.RunID, RunLink: in.RunLink, Description: in.Description,
		Tags: in.Tags, UserID: in.UserID, CreationTime: now, LastUpdatedTime: now, CurrentStage: StageNone,
		Status: StatusReady, StorageLocation: loc, ModelID: in.ModelID,
	})
}

// FindModelVersion returns a version with its tags and aliases.
func (s *Service) FindModelVersion(ctx context.Context, name string, version int64) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	return s.store.FindModelVersion(ctx, name, version)
}

// UpdateModelVersion sets a version's description.
func (s *Service) UpdateModelVersion(ctx context.Context, name string, version int64, description string) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	return s.store.UpdateModelVersion(ctx, name, version, description, s.millis())
}

// DeleteModelVersion deletes a version with its tags and aliases. Its number
// is not handed out again.
func (s *Service) DeleteModelVersion(ctx context.Context, name string, version int64) error {
	if err := validateName(name); err != nil {
		return err
	}
	return s.store.DeleteModelVersion(ctx, name, version, s.millis())
}

// SetModelVersionTag validates and sets a version tag.
func (s *Service) SetModelVersionTag(ctx context.Context, name string, version int64, t Tag) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := validateTag("Model version", t); err != nil {
		return err
	}
	return s.store.SetModelVersionTag(ctx, name, version, t)
}

// DeleteModelVersionTag removes a version tag.
func (s *Service) DeleteModelVersionTag(ctx context.Context, name string, version int64, key string) error {
	if err := validateName(name); err != nil {
		return err
	}
	if key == "" {
		return errs.Missing("key")
	}
	return s.store.DeleteModelVersionTag(ctx, name, version, key)
}

// TransitionStage moves a version to a stage named in any letter case. With
// archiveExisting, which MLflow allows only for Staging and Production, the
// model's other versions in that stage move to Archived.
func (s *Service) TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	st, err := parseStage(stage)
	if err != nil {
		return nil, err
	}
	if archiveExisting && st != StageStaging && st != StageProduction {
		return nil, errs.Invalidf("Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", stage)
	}
	return s.store.TransitionStage(ctx, name, version, st, archiveExisting, s.millis())
}

// SearchModelVersions applies MLflow's paging defaults and limits and runs a
// version query.
func (s *Service) SearchModelVersions(ctx context.Context, q Query) ([]*ModelVersion, string, error) {
	n, err := tracking.ClampMaxResults(q.MaxResults, DefaultMaxVersionResults, MaxVersionResults)
	if err != nil {
		return nil, "", err
	}
	q.MaxResults = n
	return s.store.FindModelVersions(ctx, q)
}

// SetAlias validates an alias and points it at a version.
func (s *Service) SetAlias(ctx context.Context, name, alias string, version int64) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.SetAlias(ctx, name, alias, version)
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, name, alias string) error {
	if err := validateName(name); err != nil {
		return err
	}
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	return s.store.DeleteAlias(ctx, name, alias)
}

// FindVersionByAlias returns the version an alias points at.
func (s *Service) FindVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error) {
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := ValidateAlias(alias); err != nil {
		return nil, err
	}
	return s.store.FindVersionByAlias(ctx, name, alias)
}

// DownloadURI returns where a version's files are: the artifact URI its
// source resolved to, or the source itself.
func (s *Service) DownloadURI(ctx context.Context, name string, version int64) (string, error) {
	v, err := s.FindModelVersion(ctx, name, version)
	if err != nil {
		return "", err
	}
	return s.location(ctx, v)
}

// location returns where v's files are. A runs:/ source whose run was not
// found when the version was made is resolved again.
func (s *Service) location(ctx context.Context, v *ModelVersion) (string, error) {
	loc := v.StorageLocation
	if loc == "" {
		loc = v.Source
	}
	if strings.HasPrefix(loc, "runs:/") {
		return s.runLocation(ctx, loc)
	}
	return loc, nil
}

// Resolve returns the version a models:/ URI names: models:/name/3,
// models:/name@alias, models:/name/Production (the newest version in a
// stage, any letter case) or models:/name/latest (the newest version).
// Errors: Invalid (not such a URI), NotFound.
func (s *Service) Resolve(ctx context.Context, uri string) (*ModelVersion, error) {
	ref, err := ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	switch {
	case ref.Alias != "":
		return s.FindVersionByAlias(ctx, ref.Name, ref.Alias)
	case ref.Numbered:
		return s.FindModelVersion(ctx, ref.Name, ref.Version)
	}
	name, ref2 := ref.Name, "latest"
	var stages []string
	if ref.Stage != "" {
		stages, ref2 = []string{ref.Stage}, ref.Stage
	}
	vs, err := s.FindLatestVersions(ctx, name, stages)
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
		return nil, errs.NotFoundf("no version of registered model '%s' is in stage '%s'", name, ref2)
	}
	return best, nil
}

// ModelRef is a parsed models:/ URI: at most one of Version (with Numbered),
// Alias and Stage is set; none means the latest version.
type ModelRef struct {
	Name, Alias, Stage string
	Version            int64
	Numbered           bool
}

// ParseModelURI parses models:/name/3, models:/name@alias,
// models:/name/<stage> (any letter case) and models:/name/latest.
// Errors: Invalid.
func ParseModelURI(uri string) (ModelRef, error) {
	bad := func() error {
		return errs.Invalidf("invalid model URI '%s': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>", uri)
	}
	rest, ok := strings.CutPrefix(uri, "models:/")
	rest = strings.TrimRight(rest, "/")
	if !ok || rest == "" {
		return ModelRef{}, bad()
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 && !strings.Contains(rest[i:], "/") {
		if i == 0 || i == len(rest)-1 {
			return ModelRef{}, bad()
		}
		return ModelRef{Name: rest[:i], Alias: rest[i+1:]}, nil
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return ModelRef{}, bad()
	}
	ref := ModelRef{Name: rest[:i]}
	tail := rest[i+1:]
	if n, err := strconv.ParseInt(tail, 10, 64); err == nil {
		ref.Version, ref.Numbered = n, true
		return ref, nil
	}
	if strings.EqualFold(tail, "latest") {
		return ref, nil
	}
	if ref.Stage = CanonicalStage(tail); ref.Stage == "" {
		return ModelRef{}, errs.Invalidf("invalid model URI '%s': '%s' is not a version, a stage (%s) or 'latest'",
			uri, tail, strings.Join(Stages, ", "))
	}
	return ref, nil
}

// ValidateSource rejects, in MLflow's words, sources that would let a client
// point a version at the server's own files, as MLflow does: a local path
// must lie inside the local artifact folder of the run named by runID, and
// any other source must have an absolute, normalised path (no ".." or "."
// even when %-encoded). CreateModelVersion calls it. Errors: Invalid,
// NotFound (no run runID).
func (s *Service) ValidateSource(ctx context.Context, source, runID string) error {
	scheme, host, p := splitURI(source)
	remoteHost := host != "" && host != "." && !strings.HasPrefix(host, "localhost") && !strings.HasPrefix(host, "127.0.0.1")
	if scheme == "file" && remoteHost {
		return errs.Invalidf("Invalid model version source: '%s'. %s is not a valid remote uri: a file:// source must name this machine", source, source)
	}
	if scheme == "" || scheme == "file" {
		if runID != "" && s.runs != nil {
			run, err := s.runs.FindRunByID(ctx, runID)
			if err != nil {
				return err
			}
			if as, ah, ap := splitURI(run.Info.ArtifactURI); as == "" || as == "file" && (ah == "" || ah == "localhost" || ah == "127.0.0.1") {
				if as == "" {
					ap = run.Info.ArtifactURI
				}
				if scheme == "" {
					p = source
				}
				dir, src := path.Clean(unquote(ap, false)), path.Clean(unquote(p, false))
				if path.IsAbs(src) && (src == dir || strings.HasPrefix(src, dir+"/") || dir == "/") {
					return nil
				}
			}
		}
		return errs.Invalidf("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", source)
	}
	decoded := source
	for {
		u := unquote(decoded, true)
		if u == decoded {
			break
		}
		decoded = u
	}
	_, _, p = splitURI(decoded)
	p = strings.TrimRight(multiSlash.ReplaceAllString(p, "/"), "/")
	if strings.ContainsRune(p, 0) || !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return errs.Invalidf("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
	}
	return nil
}

var multiSlash = regexp.MustCompile(`/+`)

// splitURI splits a URI the way Python's urllib.parse.urlparse does, for the
// parts source validation needs: a scheme (lowercased), a host and a path.
// It never fails.
func splitURI(u string) (scheme, host, p string) {
	rest := u
	if i := strings.IndexByte(u, ':'); i > 0 && isScheme(u[:i]) {
		scheme, rest = strings.ToLower(u[:i]), u[i+1:]
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		host, rest = rest[:end], rest[end:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if c := strings.LastIndexByte(host, ':'); c >= 0 && !strings.Contains(host[c:], "]") {
			host = host[:c]
		}
		host = strings.ToLower(host)
	}
	if end := strings.IndexAny(rest, "?#"); end >= 0 {
		rest = rest[:end]
	}
	return scheme, host, rest
}

func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// unquote decodes %XX escapes, and with plus '+' as a space, like Python's
// unquote and unquote_plus: malformed escapes are left as they are.
func unquote(s string, plus bool) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// resolveSource returns where a source's files are, and the logged model a
// models:/m-<id> source names.
func (s *Service) resolveSource(ctx context.Context, source string) (string, *tracking.LoggedModel, error) {
	switch {
	case strings.HasPrefix(source, "runs:/"):
		loc, err := s.runLocation(ctx, source)
		return loc, nil, err
	case strings.HasPrefix(source, "models:/"):
		unable := func(err error) error {
			if k := errs.KindOf(err); k != errs.NotFound && k != errs.Invalid {
				return err
			}
			return errs.Invalidf("Unable to fetch model from model URI source artifact location '%s'. Error: %s", source, errs.MessageOf(err))
		}
		ref := strings.TrimRight(strings.TrimPrefix(source, "models:/"), "/")
		if strings.HasPrefix(ref, "m-") && !strings.ContainsAny(ref, "/@") {
			if s.runs == nil {
				return source, nil, nil
			}
			m, err := s.runs.FindLoggedModelByID(ctx, ref)
			if err != nil {
				return "", nil, unable(err)
			}
			return m.ArtifactURI, m, nil
		}
		v, err := s.Resolve(ctx, source)
		if err != nil {
			return "", nil, unable(err)
		}
		loc, err := s.location(ctx, v)
		return loc, nil, err
	}
	return source, nil, nil
}

// runLocation resolves runs:/<run_id>/<path> to the run's artifact URI plus
// path. A run that does not exist (yet) leaves the URI as it is: MLflow
// accepts such a source and resolves it when the files are fetched.
func (s *Service) runLocation(ctx context.Context, uri string) (string, error) {
	rest := strings.TrimLeft(strings.TrimPrefix(uri, "runs:/"), "/")
	runID, rel, _ := strings.Cut(rest, "/")
	if runID == "" {
		return "", errs.Invalidf("Invalid model version source: '%s': expected runs:/<run_id>/<path>", uri)
	}
	if s.runs == nil {
		return uri, nil
	}
	run, err := s.runs.FindRunByID(ctx, runID)
	if errs.KindOf(err) == errs.NotFound {
		return uri, nil
	}
	if err != nil {
		return "", err
	}
	rel = strings.Trim(rel, "/")
	if rel == "" {
		return run.Info.ArtifactURI, nil
	}
	return strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + rel, nil
}
