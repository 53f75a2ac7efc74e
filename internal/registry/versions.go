package registry

import (
	"context"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

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
