package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// ServiceTracker is a Tracker over the tracking service, for a process that
// holds the metadata store (the server, or 'cairn run').
type ServiceTracker struct{ svc *tracking.Service }

// NewServiceTracker returns a Tracker over svc.
func NewServiceTracker(svc *tracking.Service) *ServiceTracker { return &ServiceTracker{svc: svc} }

// StartRun implements Tracker.
func (t *ServiceTracker) StartRun(ctx context.Context, r TrackedRun) (string, string, error) {
	exp, err := t.svc.Store().FindExperimentByName(ctx, r.Experiment)
	var expID string
	switch {
	case err == nil:
		expID = exp.ID
	case errs.KindOf(err) == errs.NotFound:
		expID, err = t.svc.CreateExperiment(ctx, r.Experiment, "", []tracking.Tag{{Key: "cairn.pipeline", Value: r.Experiment}})
		if errs.KindOf(err) == errs.Conflict { // created meanwhile by another process
			exp, err = t.svc.Store().FindExperimentByName(ctx, r.Experiment)
			if err == nil {
				expID = exp.ID
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("start tracking run: %w", err)
		}
	default:
		return "", "", fmt.Errorf("start tracking run: %w", err)
	}
	tags := []tracking.Tag{{Key: "mlflow.source.type", Value: "PIPELINE"}}
	if r.ParentRunID != "" {
		tags = append(tags, tracking.Tag{Key: "mlflow.parentRunId", Value: r.ParentRunID})
	}
	for _, k := range sortedKeys(r.Tags) {
		tags = append(tags, tracking.Tag{Key: k, Value: truncate(r.Tags[k], tracking.MaxTagValueLength)})
	}
	run, err := t.svc.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: r.Name, UserID: "cairn", Tags: tags})
	if err != nil {
		return "", "", fmt.Errorf("start tracking run: %w", err)
	}
	var params []tracking.Param
	for _, k := range sortedKeys(r.Params) {
		params = append(params, tracking.Param{Key: k, Value: truncate(r.Params[k], 6000)})
	}
	for len(params) > 0 {
		n := min(len(params), 100)
		if err := t.svc.LogBatch(ctx, run.Info.RunID, nil, params[:n], nil); err != nil {
			return "", "", fmt.Errorf("log params: %w", err)
		}
		params = params[n:]
	}
	return run.Info.RunID, expID, nil
}

// SetStatus implements Tracker.
func (t *ServiceTracker) SetStatus(ctx context.Context, runID, status string) error {
	u := tracking.RunUpdate{Status: &status}
	if status != tracking.StatusRunning {
		end := time.Now().UnixMilli()
		u.EndTime = &end
	}
	if _, err := t.svc.UpdateRun(ctx, runID, u); err != nil {
		return fmt.Errorf("set tracking run status: %w", err)
	}
	return nil
}

// EndDescendants implements Tracker.
func (t *ServiceTracker) EndDescendants(ctx context.Context, runID, status string) error {
	root, err := t.svc.Store().FindRunByID(ctx, runID)
	if err != nil {
		return fmt.Errorf("end child runs: %w", err)
	}
	queue, seen := []string{runID}, map[string]bool{runID: true}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		page := ""
		for {
			runs, next, err := t.svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{root.Info.ExperimentID},
				Filter: "tags.mlflow.parentRunId = '" + parent + "'", ViewType: tracking.All,
				Page: tracking.Page{MaxResults: tracking.MaxResultsSearchRuns, Token: page}})
			if err != nil {
				return fmt.Errorf("end child runs: %w", err)
			}
			for _, r := range runs {
				id := r.Info.RunID
				if seen[id] {
					continue
				}
				seen[id] = true
				queue = append(queue, id)
				if r.Info.Status == tracking.StatusRunning || r.Info.Status == "SCHEDULED" {
					if err := t.SetStatus(ctx, id, status); err != nil && !errs.Is(err, errs.NotFound) {
						return err
					}
				}
			}
			if next == "" {
				break
			}
			page = next
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
