package registry

import (
	"context"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

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
