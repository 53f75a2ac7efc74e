package registry

import (
	"context"
	"fmt"
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

// ModelVersion is one registered version of a model. Version is a number in
// the database and a decimal string on the wire.
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
	// models:/ references resolved to artifact URIs when the version was made.
	StorageLocation string
	ModelID         string // the MLflow 3 logged model the version came from
	Tags            []Tag
	Aliases         []string
}

// String renders a version reference for messages: "name/3".
func (v *ModelVersion) String() string { return fmt.Sprintf("%s/%d", v.Name, v.Version) }

// Query selects registered models or model versions. Filter and OrderBy use
// MLflow's search syntax (RegisteredModelSchema, ModelVersionSchema); Token is
// the next-page token of a previous search.
type Query struct {
	Filter     string
	OrderBy    []string
	MaxResults int
	Token      string
}

// Store persists the registry. Each call is one transaction: a call that
// fails changes nothing.
type Store interface {
	// CreateRegisteredModel stores m with its tags. Errors: Conflict (name taken).
	CreateRegisteredModel(ctx context.Context, m *RegisteredModel) error
	// FindRegisteredModel returns a model with its tags, aliases and the
	// newest version in each stage. Errors: NotFound.
	FindRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error)
	// FindRegisteredModels returns a page of models and the next page token.
	// Errors: Invalid (filter, order_by, token).
	FindRegisteredModels(ctx context.Context, q Query) ([]*RegisteredModel, string, error)
	// RenameRegisteredModel renames a model; its versions, tags and aliases
	// follow. Errors: NotFound, Conflict (new name taken).
	RenameRegisteredModel(ctx context.Context, name, newName string, now int64) error
	// UpdateRegisteredModel sets the description. Errors: NotFound.
	UpdateRegisteredModel(ctx context.Context, name, description string, now int64) error
	// DeleteRegisteredModel deletes a model and everything under it. Errors: NotFound.
	DeleteRegisteredModel(ctx context.Context, name string) error
	// SetRegisteredModelTag sets or replaces a tag. Errors: NotFound.
	SetRegisteredModelTag(ctx context.Context, name string, t Tag) error
	// DeleteRegisteredModelTag removes a tag; a missing tag is not an error,
	// as in MLflow. Errors: NotFound (model).
	DeleteRegisteredModelTag(ctx context.Context, name, key string) error

	// CreateModelVersion stores v under the next version number of its model
	// and returns it. Numbers are never reused, even after a delete.
	// Errors: NotFound (model).
	CreateModelVersion(ctx context.Context, v *ModelVersion) (*ModelVersion, error)
	// FindModelVersion returns a version with its tags and aliases. Errors: NotFound.
	FindModelVersion(ctx context.Context, name string, version int64) (*ModelVersion, error)
	// FindModelVersions returns a page of versions and the next page token.
	// Errors: Invalid (filter, order_by, token).
	FindModelVersions(ctx context.Context, q Query) ([]*ModelVersion, string, error)
	// FindLatestVersions returns the newest version of a model in each of the
	// canonical stages given (every stage when stages is empty), in version
	// order. Errors: NotFound (model).
	FindLatestVersions(ctx context.Context, name string, stages []string) ([]*ModelVersion, error)
	// UpdateModelVersion sets the description and returns the version. Errors: NotFound.
	UpdateModelVersion(ctx context.Context, name string, version int64, description string, now int64) (*ModelVersion, error)
	// TransitionStage moves a version to a canonical stage; with
	// archiveExisting, the model's other versions in that stage move to
	// Archived. Errors: NotFound.
	TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool, now int64) (*ModelVersion, error)
	// DeleteModelVersion deletes a version, its tags and the aliases that
	// point at it. Errors: NotFound.
	DeleteModelVersion(ctx context.Context, name string, version int64, now int64) error
	// SetModelVersionTag sets or replaces a tag. Errors: NotFound (version).
	SetModelVersionTag(ctx context.Context, name string, version int64, t Tag) error
	// DeleteModelVersionTag removes a tag; a missing tag is not an error.
	// Errors: NotFound (version).
	DeleteModelVersionTag(ctx context.Context, name string, version int64, key string) error

	// SetAlias points alias at a version, moving it if it points elsewhere.
	// Errors: NotFound (version).
	SetAlias(ctx context.Context, name, alias string, version int64) error
	// DeleteAlias removes an alias; a missing alias is not an error.
	// Errors: NotFound (model).
	DeleteAlias(ctx context.Context, name, alias string) error
	// FindVersionByAlias returns the version an alias points at.
	// Errors: NotFound (model or alias).
	FindVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error)
}

// Runs is what the registry needs from tracking: to check a version's run
// and to resolve runs:/ and models:/m-<id> sources to artifact URIs.
type Runs interface {
	// FindRunByID returns a run. Errors: NotFound.
	FindRunByID(ctx context.Context, id string) (*tracking.Run, error)
	// FindLoggedModelByID returns a logged model. Errors: NotFound.
	FindLoggedModelByID(ctx context.Context, id string) (*tracking.LoggedModel, error)
}

// RegisteredModelSchema is the filter and order-by schema of
// registered-models/search: name, tags.<key> and the timestamps.
var RegisteredModelSchema = tracking.Schema{
	What:  "registered models",
	Kinds: map[string]bool{tracking.KindTag: true, tracking.KindAttribute: true},
	Attributes: map[string]string{"name": "name", "timestamp": "last_updated_time",
		"last_updated_timestamp": "last_updated_time", "creation_timestamp": "creation_time"},
	Numeric:   map[string]bool{"last_updated_time": true, "creation_time": true},
	ListAttrs: map[string]bool{"name": true},
	Bare:      true,
}

// ModelVersionSchema is the filter and order-by schema of
// model-versions/search: name, version_number, run_id, source_path,
// tags.<key> and the timestamps.
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
