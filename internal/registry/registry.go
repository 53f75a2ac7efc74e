package registry

import (
	"context"
	"strings"

	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Tag is a key/value annotation, shared with tracking.
type Tag = tracking.Tag

// Stages of a model version, as MLflow names them.
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// Stages lists the stages in MLflow's order.
var Stages = []string{StageNone, StageStaging, StageProduction, StageArchived}

// CanonicalStage returns the stage named s in any letter case, or "".
func CanonicalStage(s string) string {
	for _, st := range Stages {
		if strings.EqualFold(s, st) {
			return st
		}
	}
	return ""
}

// StatusReady is the status of every version: Cairn registers synchronously.
const StatusReady = "READY"

// Alias points a name such as "champion" at a version.
type Alias struct {
	Alias   string
	Version int64
}

// RegisteredModel is a named model with versions.
type RegisteredModel struct {
	Name            string
	CreationTime    int64
	LastUpdatedTime int64
	Description     string
	Tags            []Tag
	Aliases         []Alias
	LatestVersions  []*ModelVersion // the newest version in each stage
}

// ModelVersion is one registered version of a model.
type ModelVersion struct {
	Name            string
	Version         int64
	CreationTime    int64
	LastUpdatedTime int64
	Description     string
	UserID          string
	CurrentStage    string
	Source          string
	RunID           string
	RunLink         string
	Status          string
	StatusMessage   string
	// StorageLocation is where the files are: the source with runs:/ and
	// models:/ references resolved to artifact URIs.
	StorageLocation string
	ModelID         string // MLflow 3 logged model the version came from
	Tags            []Tag
	Aliases         []string
}

// Query selects registered models or model versions.
type Query struct {
	Filter     string
	OrderBy    []string
	MaxResults int
	Token      string
}

// Store persists the registry. Each call is one transaction: a call that
// fails changes nothing.
type Store interface {
	// CreateRegisteredModel stores m. Errors: Conflict (name taken).
	CreateRegisteredModel(ctx context.Context, m *RegisteredModel) error
	// FindRegisteredModel returns a model with tags, aliases and latest
	// versions. Errors: NotFound.
	FindRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error)
	// FindRegisteredModels returns a page of models and the next page token.
	// Errors: Invalid (filter, order_by, token).
	FindRegisteredModels(ctx context.Context, q Query) ([]*RegisteredModel, string, error)
	// RenameRegisteredModel renames a model; versions, tags and aliases
	// follow. Errors: NotFound, Conflict.
	RenameRegisteredModel(ctx context.Context, name, newName string, now int64) error
	// UpdateRegisteredModel sets the description. Errors: NotFound.
	UpdateRegisteredModel(ctx context.Context, name, description string, now int64) error
	// DeleteRegisteredModel deletes a model and everything under it. Errors: NotFound.
	DeleteRegisteredModel(ctx context.Context, name string) error
	// SetRegisteredModelTag sets a tag. Errors: NotFound.
	SetRegisteredModelTag(ctx context.Context, name string, t Tag) error
	// DeleteRegisteredModelTag removes a tag. Errors: NotFound (model or tag).
	DeleteRegisteredModelTag(ctx context.Context, name, key string) error

	// CreateModelVersion stores v under the next version number of its model
	// (numbers are never reused) and returns it. Errors: NotFound (model).
	CreateModelVersion(ctx context.Context, v *ModelVersion) (*ModelVersion, error)
	// FindModelVersion returns a version. Errors: NotFound.
	FindModelVersion(ctx context.Context, name string, version int64) (*ModelVersion, error)
	// FindModelVersions returns a page of versions. Errors: Invalid.
	FindModelVersions(ctx context.Context, q Query) ([]*ModelVersion, string, error)
	// FindLatestVersions returns the newest version of a model in each of the
	// stages (every stage when stages is empty). Errors: NotFound.
	FindLatestVersions(ctx context.Context, name string, stages []string) ([]*ModelVersion, error)
	// UpdateModelVersion sets the description. Errors: NotFound.
	UpdateModelVersion(ctx context.Context, name string, version int64, description string, now int64) (*ModelVersion, error)
	// TransitionStage moves a version to stage; with archiveExisting, the
	// model's other versions in that stage move to Archived. Errors: NotFound.
	TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool, now int64) (*ModelVersion, error)
	// DeleteModelVersion deletes a version, its tags and aliases. Errors: NotFound.
	DeleteModelVersion(ctx context.Context, name string, version int64) error
	// SetModelVersionTag sets a tag. Errors: NotFound.
	SetModelVersionTag(ctx context.Context, name string, version int64, t Tag) error
	// DeleteModelVersionTag removes a tag. Errors: NotFound.
	DeleteModelVersionTag(ctx context.Context, name string, version int64, key string) error

	// SetAlias points alias at a version, moving it if it exists. Errors: NotFound.
	SetAlias(ctx context.Context, name, alias string, version int64) error
	// DeleteAlias removes an alias. Errors: NotFound (model).
	DeleteAlias(ctx context.Context, name, alias string) error
	// FindVersionByAlias returns the version an alias points at. Errors: NotFound.
	FindVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error)
}

// Runs is what the registry needs from tracking: to check a version's run
// and to resolve runs:/ and models:/ sources.
type Runs interface {
	FindRunByID(ctx context.Context, id string) (*tracking.Run, error)
	FindLoggedModelByID(ctx context.Context, id string) (*tracking.LoggedModel, error)
}

// RegisteredModelSchema is the filter schema of registered-models/search.
var RegisteredModelSchema = tracking.Schema{
	What:       "registered models",
	Kinds:      map[string]bool{tracking.KindTag: true, tracking.KindAttribute: true},
	Attributes: map[string]string{"name": "name", "timestamp": "last_updated_time", "last_updated_timestamp": "last_updated_time", "creation_timestamp": "creation_time"},
	Numeric:    map[string]bool{"last_updated_time": true, "creation_time": true},
	ListAttrs:  map[string]bool{"name": true},
	Bare:       true,
}

// ModelVersionSchema is the filter schema of model-versions/search.
var ModelVersionSchema = tracking.Schema{
	What:  "model versions",
	Kinds: map[string]bool{tracking.KindTag: true, tracking.KindAttribute: true},
	Attributes: map[string]string{"name": "name", "run_id": "run_id", "source_path": "source", "source": "source",
		"version_number": "version", "version": "version", "user_id": "user_id", "current_stage": "current_stage",
		"timestamp": "last_updated_time", "last_updated_timestamp": "last_updated_time", "creation_timestamp": "creation_time"},
	Numeric:   map[string]bool{"version": true, "last_updated_time": true, "creation_time": true},
	ListAttrs: map[string]bool{"run_id": true, "name": true, "source": true, "current_stage": true, "user_id": true},
	Bare:      true,
}
