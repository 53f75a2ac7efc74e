package registry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// stubStore answers the Store calls a test sets up and records each call
// the Service makes, with its arguments. A call it has no answer for reaches
// the nil embedded Store and panics. It keeps no registry rules of its own:
// internal/store/meta tests those on real databases.
type stubStore struct {
	registry.Store
	models   map[string]*registry.RegisteredModel
	versions map[string]*registry.ModelVersion // by "name/version"
	aliases  map[string]int64                  // by "name@alias"
	latest   []*registry.ModelVersion          // what FindLatestVersions returns
	next     int64                             // the number CreateModelVersion hands out
	fail     error                             // when set, writes fail with it

	calls        []string
	createdModel *registry.RegisteredModel
	created      *registry.ModelVersion
	query        registry.Query
	stamps       []int64 // the now arguments of writes
}

func newStubStore() *stubStore {
	return &stubStore{
		models:   map[string]*registry.RegisteredModel{},
		versions: map[string]*registry.ModelVersion{},
		aliases:  map[string]int64{},
		next:     1,
	}
}

func (s *stubStore) record(format string, args ...any) {
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
}

func (s *stubStore) CreateRegisteredModel(_ context.Context, m *registry.RegisteredModel) error {
	s.record("CreateRegisteredModel %s", m.Name)
	if s.fail != nil {
		return s.fail
	}
	s.createdModel = m
	s.models[m.Name] = m
	return nil
}

func (s *stubStore) FindRegisteredModel(_ context.Context, name string) (*registry.RegisteredModel, error) {
	s.record("FindRegisteredModel %s", name)
	if m, ok := s.models[name]; ok {
		return m, nil
	}
	return nil, errs.NotFoundf("Registered Model with name=%s not found", name)
}

func (s *stubStore) FindRegisteredModels(_ context.Context, q registry.Query) ([]*registry.RegisteredModel, string, error) {
	s.record("FindRegisteredModels")
	s.query = q
	return nil, "", nil
}

func (s *stubStore) RenameRegisteredModel(_ context.Context, name, newName string, now int64) error {
	s.record("RenameRegisteredModel %s %s", name, newName)
	s.stamps = append(s.stamps, now)
	if s.fail != nil {
		return s.fail
	}
	s.models[newName] = &registry.RegisteredModel{Name: newName}
	return nil
}

func (s *stubStore) UpdateRegisteredModel(_ context.Context, name, description string, now int64) error {
	s.record("UpdateRegisteredModel %s %q", name, description)
	s.stamps = append(s.stamps, now)
	return s.fail
}

func (s *stubStore) DeleteRegisteredModel(_ context.Context, name string) error {
	s.record("DeleteRegisteredModel %s", name)
	return s.fail
}

func (s *stubStore) SetRegisteredModelTag(_ context.Context, name string, t registry.Tag) error {
	s.record("SetRegisteredModelTag %s %s=%s", name, t.Key, t.Value)
	return s.fail
}

func (s *stubStore) DeleteRegisteredModelTag(_ context.Context, name, key string) error {
	s.record("DeleteRegisteredModelTag %s %s", name, key)
	return s.fail
}

func (s *stubStore) CreateModelVersion(_ context.Context, v *registry.ModelVersion) (*registry.ModelVersion, error) {
	s.record("CreateModelVersion %s", v.Name)
	if s.fail != nil {
		return nil, s.fail
	}
	v.Version = s.next
	s.next++
	s.created = v
	return v, nil
}

func (s *stubStore) FindModelVersion(_ context.Context, name string, version int64) (*registry.ModelVersion, error) {
	s.record("FindModelVersion %s %d", name, version)
	if v, ok := s.versions[fmt.Sprintf("%s/%d", name, version)]; ok {
		return v, nil
	}
	return nil, errs.NotFoundf("Model Version (name=%s, version=%d) not found", name, version)
}

func (s *stubStore) FindModelVersions(_ context.Context, q registry.Query) ([]*registry.ModelVersion, string, error) {
	s.record("FindModelVersions")
	s.query = q
	return nil, "", nil
}

func (s *stubStore) FindLatestVersions(_ context.Context, name string, stages []string) ([]*registry.ModelVersion, error) {
	s.record("FindLatestVersions %s %q", name, stages)
	if s.fail != nil {
		return nil, s.fail
	}
	return s.latest, nil
}

func (s *stubStore) UpdateModelVersion(_ context.Context, name string, version int64, description string, now int64) (*registry.ModelVersion, error) {
	s.record("UpdateModelVersion %s %d %q", name, version, description)
	s.stamps = append(s.stamps, now)
	return &registry.ModelVersion{Name: name, Version: version, Description: description}, s.fail
}

func (s *stubStore) TransitionStage(_ context.Context, name string, version int64, stage string, archive bool, now int64) (*registry.ModelVersion, error) {
	s.record("TransitionStage %s %d %s %t", name, version, stage, archive)
	s.stamps = append(s.stamps, now)
	return &registry.ModelVersion{Name: name, Version: version, CurrentStage: stage}, s.fail
}

func (s *stubStore) DeleteModelVersion(_ context.Context, name string, version int64, now int64) error {
	s.record("DeleteModelVersion %s %d", name, version)
	s.stamps = append(s.stamps, now)
	return s.fail
}

func (s *stubStore) SetModelVersionTag(_ context.Context, name string, version int64, t registry.Tag) error {
	s.record("SetModelVersionTag %s %d %s=%s", name, version, t.Key, t.Value)
	return s.fail
}

func (s *stubStore) DeleteModelVersionTag(_ context.Context, name string, version int64, key string) error {
	s.record("DeleteModelVersionTag %s %d %s", name, version, key)
	return s.fail
}

func (s *stubStore) SetAlias(_ context.Context, name, alias string, version int64) error {
	s.record("SetAlias %s %s %d", name, alias, version)
	return s.fail
}

func (s *stubStore) DeleteAlias(_ context.Context, name, alias string) error {
	s.record("DeleteAlias %s %s", name, alias)
	return s.fail
}

func (s *stubStore) FindVersionByAlias(_ context.Context, name, alias string) (*registry.ModelVersion, error) {
	s.record("FindVersionByAlias %s %s", name, alias)
	n, ok := s.aliases[name+"@"+alias]
	if !ok {
		return nil, errs.NotFoundf("Registered model alias %s not found.", alias)
	}
	return s.versions[fmt.Sprintf("%s/%d", name, n)], nil
}

// stubRuns is the tracking side a Service resolves runs:/ and models:/m-
// sources with.
type stubRuns struct {
	runs   map[string]*tracking.Run
	models map[string]*tracking.LoggedModel
	fail   error // when set, every call fails with it
}

func (r *stubRuns) FindRunByID(_ context.Context, id string) (*tracking.Run, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	if run, ok := r.runs[id]; ok {
		return run, nil
	}
	return nil, errs.NotFoundf("Run '%s' not found", id)
}

func (r *stubRuns) FindLoggedModelByID(_ context.Context, id string) (*tracking.LoggedModel, error) {
	if r.fail != nil {
		return nil, r.fail
	}
	if m, ok := r.models[id]; ok {
		return m, nil
	}
	return nil, errs.NotFoundf("Logged model with ID '%s' not found.", id)
}

// newStubRuns holds runs with local, file://, localhost, root and remote
// artifact folders, and one logged model.
func newStubRuns() *stubRuns {
	run := func(id, uri string) *tracking.Run {
		return &tracking.Run{Info: tracking.RunInfo{RunID: id, ArtifactURI: uri}}
	}
	return &stubRuns{
		runs: map[string]*tracking.Run{
			"r1":    run("r1", "/srv/mlruns/0/r1/artifacts"),
			"r2":    run("r2", "file:///srv/mlruns/0/r2/artifacts"),
			"r3":    run("r3", "s3://bucket/0/r3/artifacts"),
			"rs":    run("rs", "s3://bucket/0/rs/artifacts/"),
			"rl":    run("rl", "file://localhost/srv/a"),
			"root":  run("root", "/"),
			"space": run("space", "/srv/my%20dir"),
		},
		models: map[string]*tracking.LoggedModel{
			"m-abc": {ModelID: "m-abc", ArtifactURI: "s3://bucket/0/models/m-abc/artifacts", SourceRunID: "r3"},
		},
	}
}

// requireKindMsg checks an error's kind and its whole client message.
func requireKindMsg(t require.TestingT, k errs.Kind, msg string, err error, what string) {
	require.Equal(t, k, errs.KindOf(err), "%s: %v", what, err)
	require.Equal(t, msg, errs.MessageOf(err), what)
}

// within checks a millisecond stamp was taken between before and now.
func within(t require.TestingT, before, ms int64) {
	require.GreaterOrEqual(t, ms, before)
	require.LessOrEqual(t, ms, time.Now().UnixMilli())
}
