package registry

import (
	"context"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

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
