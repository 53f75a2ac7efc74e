package pipeline

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

// Service runs pipelines inside a long-lived process (the server): it
// executes submitted runs in the background, resumes runs whose owner died
// when it starts, and triggers pipelines on their cron schedules.
type Service struct {
	e    *Engine
	log  *slog.Logger
	mu   sync.Mutex
	ctx  context.Context // the service's lifetime, set by Run
	wg   sync.WaitGroup
	cron *cron.Cron
	// entries maps a pipeline name to its schedule entry and spec.
	entries map[string]scheduled
	// ScheduleReload is how often definitions are re-read for new schedules.
	ScheduleReload time.Duration
}

type scheduled struct {
	id     cron.EntryID
	source string
}

// NewService returns a service over e.
func NewService(e *Engine, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{e: e, log: log, entries: map[string]scheduled{}, ScheduleReload: time.Minute}
}

// Engine returns the service's engine.
func (s *Service) Engine() *Engine { return s.e }

// Run resumes orphaned runs, keeps the schedules, and returns when ctx ends
// and every run it started has stopped (they are left to resume).
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.cron = cron.New(cron.WithParser(spec.ScheduleParser()), cron.WithLocation(time.Local))
	s.mu.Unlock()
	orphans, err := s.e.Orphans(ctx)
	if err != nil {
		s.log.Error("find interrupted pipeline runs", "err", err)
	}
	for _, r := range orphans {
		s.log.Info("resuming pipeline run", "run", r.ID, "pipeline", r.Pipeline)
		s.start(r.ID)
	}
	s.ReloadSchedules(ctx)
	s.cron.Start()
	t := time.NewTicker(s.ScheduleReload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-s.cron.Stop().Done()
			s.wg.Wait()
			return nil
		case <-t.C:
			s.ReloadSchedules(ctx)
		}
	}
}

// start executes a run in the background under the service's lifetime.
func (s *Service) start(id string) bool {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			// A bug in the engine ends this run, never the server.
			if p := recover(); p != nil {
				s.log.Error("panic executing a pipeline run", "run", id, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		r, err := s.e.Execute(ctx, id)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("pipeline run failed to execute", "run", id, "err", err)
		case err == nil:
			s.log.Info("pipeline run ended", "run", id, "pipeline", r.Pipeline, "phase", r.Phase, "message", r.Message)
		}
	}()
	return true
}

// Submit stores a run and starts it in the background.
func (s *Service) Submit(ctx context.Context, sub Submission) (*Run, error) {
	r, err := s.e.Submit(ctx, sub)
	if err != nil {
		return nil, err
	}
	s.start(r.ID)
	s.ReloadSchedules(ctx)
	return r, nil
}

// Retry resets a failed run's failed tasks and starts it in the background.
func (s *Service) Retry(ctx context.Context, id, user string) (*Run, error) {
	r, err := s.e.Retry(ctx, id, user)
	if err != nil {
		return nil, err
	}
	s.start(r.ID)
	return r, nil
}

// ReloadSchedules brings the cron entries in line with the stored
// definitions: new or changed schedules are (re)added, removed ones dropped.
func (s *Service) ReloadSchedules(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil {
		return
	}
	defs, err := s.e.store.FindPipelines(ctx)
	if err != nil {
		s.log.Error("load pipeline schedules", "err", err)
		return
	}
	seen := map[string]bool{}
	for _, d := range defs {
		if d.Schedule == "" {
			continue
		}
		seen[d.Name] = true
		if cur, ok := s.entries[d.Name]; ok && cur.source == d.Source {
			continue
		}
		if cur, ok := s.entries[d.Name]; ok {
			s.cron.Remove(cur.id)
		}
		def := d
		id, err := s.cron.AddFunc(d.Schedule, func() { s.fire(def) })
		if err != nil {
			s.log.Error("bad pipeline schedule", "pipeline", d.Name, "schedule", d.Schedule, "err", err)
			continue
		}
		s.entries[d.Name] = scheduled{id: id, source: d.Source}
		s.log.Info("scheduled pipeline", "pipeline", d.Name, "schedule", d.Schedule)
	}
	for name, cur := range s.entries {
		if !seen[name] {
			s.cron.Remove(cur.id)
			delete(s.entries, name)
		}
	}
}

// fire submits a scheduled run with default params, unless one of the
// pipeline's runs is still going (runs never pile up).
func (s *Service) fire(d *Definition) {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}
	active, err := s.e.store.FindPipelineRuns(ctx, RunFilter{Pipeline: d.Name, Phases: []Phase{Pending, Running}, Limit: 1})
	if err != nil {
		s.log.Error("scheduled pipeline", "pipeline", d.Name, "err", err)
		return
	}
	if len(active) > 0 {
		s.log.Warn("scheduled pipeline skipped: a run is still going", "pipeline", d.Name, "run", active[0].ID)
		return
	}
	r, err := s.e.Submit(ctx, Submission{File: d.File, Source: []byte(d.Source), WorkDir: d.WorkDir, Trigger: "schedule",
		User: d.RegisteredBy})
	if err != nil {
		s.log.Error("scheduled pipeline", "pipeline", d.Name, "err", err)
		return
	}
	s.start(r.ID)
}
