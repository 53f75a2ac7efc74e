package tracking

import (
	"context"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// LogOutputs records model outputs of an active run.
func (s *Service) LogOutputs(ctx context.Context, runID string, out RunOutputs) error {
	if err := ValidateRunID(runID); err != nil {
		return err
	}
	return s.store.LogOutputs(ctx, runID, out)
}

// CreateLoggedModel validates and stores a new logged model in PENDING state.
func (s *Service) CreateLoggedModel(ctx context.Context, m LoggedModel) (*LoggedModel, error) {
	if m.ExperimentID == "" {
		return nil, errs.Missing("experiment_id")
	}
	if m.Name == "" {
		m.Name = RandomRunName()
	}
	for _, t := range m.Tags {
		if _, err := validateTag(t, MaxTagValueLength); err != nil {
			return nil, err
		}
	}
	for _, p := range m.Params {
		if _, err := validateParam(p); err != nil {
			return nil, err
		}
	}
	if m.SourceRunID != "" {
		if _, err := s.store.FindRunByID(ctx, m.SourceRunID); err != nil {
			return nil, err
		}
	}
	if err := s.activeExperiment(ctx, m.ExperimentID); err != nil {
		return nil, err
	}
	now := s.nowMillis()
	m.ModelID = "m-" + NewID()
	m.Status = ModelPending
	m.CreationTime, m.LastUpdateTime = now, now
	m.LifecycleStage = StageActive
	if err := s.store.CreateLoggedModel(ctx, &m); err != nil {
		return nil, err
	}
	return s.store.FindLoggedModelByID(ctx, m.ModelID)
}

// FinalizeLoggedModel sets a logged model's final status.
func (s *Service) FinalizeLoggedModel(ctx context.Context, id, status string) (*LoggedModel, error) {
	switch status {
	case ModelReady, ModelFailed:
	default:
		return nil, errs.Invalidf("invalid value '%s' for parameter 'status': expected LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED", status)
	}
	if err := s.store.UpdateLoggedModel(ctx, id, status, ""); err != nil {
		return nil, err
	}
	return s.store.FindLoggedModelByID(ctx, id)
}

// SetLoggedModelTags validates and sets tags on a logged model.
func (s *Service) SetLoggedModelTags(ctx context.Context, id string, tags []Tag) error {
	for _, t := range tags {
		if _, err := validateTag(t, MaxTagValueLength); err != nil {
			return err
		}
	}
	return s.store.SetLoggedModelTags(ctx, id, tags)
}
