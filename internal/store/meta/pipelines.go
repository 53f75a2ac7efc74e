package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline"
)

var _ pipeline.Store = (*DB)(nil)

func errNoSuchPipelineRun(id string) error {
	return errs.NotFoundf("pipeline run '%s' does not exist", id)
}

// SavePipeline implements pipeline.Store.
func (db *DB) SavePipeline(ctx context.Context, d *pipeline.Definition) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO pipelines (name, source, file, schedule, work_dir, creation_time, last_update_time, registered_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET source = excluded.source, file = excluded.file, schedule = excluded.schedule,
				work_dir = excluded.work_dir, last_update_time = excluded.last_update_time, registered_by = excluded.registered_by`),
			d.Name, d.Source, d.File, d.Schedule, d.WorkDir, d.Created.UnixMilli(), d.Updated.UnixMilli(), d.RegisteredBy)
		return err
	})
	if err != nil {
		return fmt.Errorf("save pipeline: %w", err)
	}
	return nil
}

const pipelineCols = `name, source, file, schedule, work_dir, creation_time, last_update_time, registered_by`

func scanPipeline(sc interface{ Scan(...any) error }) (*pipeline.Definition, error) {
	var d pipeline.Definition
	var created, updated int64
	if err := sc.Scan(&d.Name, &d.Source, &d.File, &d.Schedule, &d.WorkDir, &created, &updated, &d.RegisteredBy); err != nil {
		return nil, err
	}
	d.Created, d.Updated = utcMillis(created), utcMillis(updated)
	return &d, nil
}

// FindPipelineByName implements pipeline.Store.
func (db *DB) FindPipelineByName(ctx context.Context, name string) (*pipeline.Definition, error) {
	d, err := scanPipeline(db.read.QueryRowContext(ctx, db.q(`SELECT `+pipelineCols+` FROM pipelines WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("pipeline '%s' does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find pipeline: %w", db.mapErr(err))
	}
	return d, nil
}

// FindPipelines implements pipeline.Store.
func (db *DB) FindPipelines(ctx context.Context) ([]*pipeline.Definition, error) {
	var out []*pipeline.Definition
	err := db.eachRow(ctx, db.read, `SELECT `+pipelineCols+` FROM pipelines ORDER BY name`, nil, func(rows *sql.Rows) error {
		d, err := scanPipeline(rows)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find pipelines: %w", err)
	}
	return out, nil
}

// CreatePipelineRun implements pipeline.Store.
func (db *DB) CreatePipelineRun(ctx context.Context, r *pipeline.Run) error {
	params, err := json.Marshal(r.Params)
	if err != nil {
		return fmt.Errorf("create pipeline run: %w", err)
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM pipelines WHERE name = ?`), r.Pipeline).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errs.NotFoundf("pipeline '%s' does not exist", r.Pipeline)
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO pipeline_runs (run_id, pipeline, source, file, work_dir, params, phase, message,
			trigger_type, experiment_id, tracking_run_id, owner, heartbeat, cancel, creation_time, start_time, end_time, submitted_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.Pipeline, r.Source, r.File, r.WorkDir, string(params), string(r.Phase), r.Message, r.Trigger,
			r.ExperimentID, r.TrackingRunID, r.Owner, nullableMillis(r.Heartbeat), r.Cancel, r.Created.UnixMilli(),
			nullableMillis(r.Started), nullableMillis(r.Finished), r.SubmittedBy)
		if isUnique(err) {
			return errs.Conflictf("pipeline run '%s' already exists", r.ID)
		}
		if err != nil {
			return err
		}
		for i, t := range r.Tasks {
			if err := db.upsertTask(ctx, tx, r.ID, t, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create pipeline run: %w", err)
	}
	return nil
}

// upsertTask writes one task row; seq orders rows (items take their task's).
func (db *DB) upsertTask(ctx context.Context, tx *sql.Tx, runID string, t *pipeline.TaskRun, seq int) error {
	outputs, err := json.Marshal(t.Outputs)
	if err != nil {
		return err
	}
	if t.Outputs == nil {
		outputs = []byte("{}")
	}
	if seq < 0 {
		var s sql.NullInt64
		err := tx.QueryRowContext(ctx, db.q(`SELECT seq FROM task_runs WHERE run_id = ? AND node = ?`), runID, t.Task).Scan(&s)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		seq = int(s.Int64)
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO task_runs (run_id, node, task, item, item_value, seq, phase, attempts,
		tracking_run_id, cache_key, cached_from, outputs, output_dir, digest, log_path, message, exit_code, pid, pid_start, start_time, end_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, node) DO UPDATE SET phase = excluded.phase, attempts = excluded.attempts,
			tracking_run_id = excluded.tracking_run_id, cache_key = excluded.cache_key, cached_from = excluded.cached_from,
			outputs = excluded.outputs, output_dir = excluded.output_dir, digest = excluded.digest, log_path = excluded.log_path,
			message = excluded.message, exit_code = excluded.exit_code, pid = excluded.pid, pid_start = excluded.pid_start,
			start_time = excluded.start_time, end_time = excluded.end_time`),
		runID, t.Node, t.Task, t.Item, t.ItemValue, seq, string(t.Phase), t.Attempts, t.TrackingRunID, t.CacheKey, t.CachedFrom,
		string(outputs), t.OutputDir, t.Digest, t.LogPath, t.Message, t.ExitCode, t.PID, t.PIDStart, nullableMillis(t.Started), nullableMillis(t.Finished))
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "foreign key") {
		return errNoSuchPipelineRun(runID)
	}
	return err
}

const pipelineRunCols = `run_id, pipeline, source, file, work_dir, params, phase, message, trigger_type, experiment_id,
	tracking_run_id, owner, heartbeat, cancel, creation_time, start_time, end_time, submitted_by`

func scanPipelineRun(sc interface{ Scan(...any) error }) (*pipeline.Run, error) {
	var r pipeline.Run
	var params, phase string
	var heartbeat, started, finished sql.NullInt64
	var created int64
	if err := sc.Scan(&r.ID, &r.Pipeline, &r.Source, &r.File, &r.WorkDir, &params, &phase, &r.Message, &r.Trigger,
		&r.ExperimentID, &r.TrackingRunID, &r.Owner, &heartbeat, &r.Cancel, &created, &started, &finished, &r.SubmittedBy); err != nil {
		return nil, err
	}
	r.Phase = pipeline.Phase(phase)
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return nil, fmt.Errorf("decode params of run %s: %w", r.ID, err)
	}
	r.Heartbeat, r.Created, r.Started, r.Finished = utcNullMillis(heartbeat), utcMillis(created), utcNullMillis(started), utcNullMillis(finished)
	return &r, nil
}

// FindPipelineRunByID implements pipeline.Store.
func (db *DB) FindPipelineRunByID(ctx context.Context, id string) (*pipeline.Run, error) {
	r, err := scanPipelineRun(db.read.QueryRowContext(ctx, db.q(`SELECT `+pipelineRunCols+` FROM pipeline_runs WHERE run_id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSuchPipelineRun(id)
	}
	if err != nil {
		return nil, fmt.Errorf("find pipeline run: %w", db.mapErr(err))
	}
	err = db.eachRow(ctx, db.read, db.q(`SELECT `+taskRunCols+` FROM task_runs WHERE run_id = ? ORDER BY seq, item`), []any{id},
		func(rows *sql.Rows) error {
			t, err := scanTaskRun(rows)
			if err == nil {
				r.Tasks = append(r.Tasks, t)
			}
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("find pipeline run: %w", err)
	}
	return r, nil
}

const taskRunCols = `node, task, item, item_value, phase, attempts, tracking_run_id, cache_key, cached_from, outputs,
	output_dir, digest, log_path, message, exit_code, pid, pid_start, start_time, end_time`

func scanTaskRun(sc interface{ Scan(...any) error }) (*pipeline.TaskRun, error) {
	var t pipeline.TaskRun
	var phase, outputs string
	var started, finished sql.NullInt64
	if err := sc.Scan(&t.Node, &t.Task, &t.Item, &t.ItemValue, &phase, &t.Attempts, &t.TrackingRunID, &t.CacheKey, &t.CachedFrom,
		&outputs, &t.OutputDir, &t.Digest, &t.LogPath, &t.Message, &t.ExitCode, &t.PID, &t.PIDStart, &started, &finished); err != nil {
		return nil, err
	}
	t.Phase = pipeline.Phase(phase)
	if err := json.Unmarshal([]byte(outputs), &t.Outputs); err != nil {
		return nil, fmt.Errorf("decode outputs of task %s: %w", t.Node, err)
	}
	t.Started, t.Finished = utcNullMillis(started), utcNullMillis(finished)
	return &t, nil
}

// FindPipelineRuns implements pipeline.Store.
func (db *DB) FindPipelineRuns(ctx context.Context, f pipeline.RunFilter) ([]*pipeline.Run, error) {
	var where []string
	var args []any
	if f.Pipeline != "" {
		where, args = append(where, "pipeline = ?"), append(args, f.Pipeline)
	}
	if len(f.Phases) > 0 {
		where = append(where, "phase IN ("+placeholders(len(f.Phases))+")")
		for _, p := range f.Phases {
			args = append(args, string(p))
		}
	}
	if f.Before != "" {
		where = append(where, "(creation_time, run_id) < (SELECT creation_time, run_id FROM pipeline_runs WHERE run_id = ?)")
		args = append(args, f.Before)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT ` + pipelineRunCols + ` FROM pipeline_runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY creation_time DESC, run_id DESC LIMIT %d", limit)
	var out []*pipeline.Run
	err := db.eachRow(ctx, db.read, db.q(q), args, func(rows *sql.Rows) error {
		r, err := scanPipelineRun(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find pipeline runs: %w", err)
	}
	return out, nil
}

// UpdatePipelineRun implements pipeline.Store.
func (db *DB) UpdatePipelineRun(ctx context.Context, r *pipeline.Run, tasks ...*pipeline.TaskRun) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET phase = ?, message = ?, trigger_type = ?, experiment_id = ?,
			tracking_run_id = ?, owner = ?, heartbeat = ?, start_time = ?, end_time = ?, submitted_by = ? WHERE run_id = ?`),
			string(r.Phase), r.Message, r.Trigger, r.ExperimentID, r.TrackingRunID, r.Owner, nullableMillis(r.Heartbeat),
			nullableMillis(r.Started), nullableMillis(r.Finished), r.SubmittedBy, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoSuchPipelineRun(r.ID)
		}
		for _, t := range tasks {
			if err := db.upsertTask(ctx, tx, r.ID, t, -1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update pipeline run: %w", err)
	}
	return nil
}

// ClaimPipelineRun implements pipeline.Store.
func (db *DB) ClaimPipelineRun(ctx context.Context, id, owner string, now, staleBefore time.Time) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET owner = ?, heartbeat = ?
			WHERE run_id = ? AND (owner = '' OR owner = ? OR heartbeat IS NULL OR heartbeat < ?)`),
			owner, now.UnixMilli(), id, owner, staleBefore.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		var cur string
		err = tx.QueryRowContext(ctx, db.q(`SELECT owner FROM pipeline_runs WHERE run_id = ?`), id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoSuchPipelineRun(id)
		}
		if err != nil {
			return err
		}
		return errs.Conflictf("pipeline run '%s' is owned by %s", id, cur)
	})
	if err != nil {
		return fmt.Errorf("claim pipeline run: %w", err)
	}
	return nil
}

// HeartbeatPipelineRun implements pipeline.Store.
func (db *DB) HeartbeatPipelineRun(ctx context.Context, id, owner string, now time.Time) (bool, error) {
	var cancel bool
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET heartbeat = ? WHERE run_id = ? AND owner = ?`), now.UnixMilli(), id, owner)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, db.q(`SELECT cancel FROM pipeline_runs WHERE run_id = ?`), id).Scan(&cancel)
		if errors.Is(err, sql.ErrNoRows) {
			return errNoSuchPipelineRun(id)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.Conflictf("pipeline run '%s' is no longer owned by %s", id, owner)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("heartbeat pipeline run: %w", err)
	}
	return cancel, nil
}

// RequestCancel implements pipeline.Store.
func (db *DB) RequestCancel(ctx context.Context, id string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE pipeline_runs SET cancel = ? WHERE run_id = ?`), true, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoSuchPipelineRun(id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cancel pipeline run: %w", err)
	}
	return nil
}

// SaveTaskRuns implements pipeline.Store.
func (db *DB) SaveTaskRuns(ctx context.Context, runID string, tasks []*pipeline.TaskRun) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range tasks {
			if err := db.upsertTask(ctx, tx, runID, t, -1); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save task runs: %w", err)
	}
	return nil
}

// FindCachedTaskRun implements pipeline.Store.
func (db *DB) FindCachedTaskRun(ctx context.Context, key string) (string, *pipeline.TaskRun, error) {
	row := db.read.QueryRowContext(ctx, db.q(`SELECT run_id, `+taskRunCols+` FROM task_runs
		WHERE cache_key = ? AND phase = ? ORDER BY end_time DESC LIMIT 1`), key, string(pipeline.Succeeded))
	var runID string
	t, err := scanTaskRun(scanPrefix{row, &runID})
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, errs.NotFoundf("no cached result")
	}
	if err != nil {
		return "", nil, fmt.Errorf("find cached task run: %w", db.mapErr(err))
	}
	return runID, t, nil
}

// scanPrefix scans a leading column into first, then the rest into the caller's targets.
type scanPrefix struct {
	row   *sql.Row
	first *string
}

func (s scanPrefix) Scan(dest ...any) error { return s.row.Scan(append([]any{s.first}, dest...)...) }
