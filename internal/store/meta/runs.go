package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func nowMillis() int64 { return time.Now().UnixMilli() }

const runCols = `run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage`

func scanRunInfo(sc interface{ Scan(...any) error }) (*tracking.Run, error) {
	var r tracking.Run
	var exp int64
	var end sql.NullInt64
	i := &r.Info
	if err := sc.Scan(&i.RunID, &exp, &i.RunName, &i.UserID, &i.Status, &i.StartTime, &end, &i.ArtifactURI, &i.LifecycleStage); err != nil {
		return nil, err
	}
	i.ExperimentID = strconv.FormatInt(exp, 10)
	if end.Valid {
		v := end.Int64
		i.EndTime = &v
	}
	return &r, nil
}

// CreateRun implements tracking.Store.
func (db *DB) CreateRun(ctx context.Context, r *tracking.Run) error {
	exp, err := parseExperimentID(r.Info.ExperimentID)
	if err != nil {
		return err
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.experimentExists(ctx, tx, exp); err != nil {
			return err
		}
		i := r.Info
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO runs (`+runCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			i.RunID, exp, i.RunName, i.UserID, i.Status, i.StartTime, i.EndTime, i.ArtifactURI, i.LifecycleStage); err != nil {
			if isUnique(err) {
				return errs.Conflictf("run '%s' already exists", i.RunID)
			}
			return err
		}
		return db.upsertTags(ctx, tx, runKey{i.RunID, exp}, r.Tags)
	})
	if err != nil {
		return fmt.Errorf("create run: %w", err)
	}
	return nil
}

// FindRunByID implements tracking.Store.
func (db *DB) FindRunByID(ctx context.Context, id string) (*tracking.Run, error) {
	r, err := scanRunInfo(db.read.QueryRowContext(ctx, db.q(`SELECT `+runCols+` FROM runs WHERE run_uuid = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("Run with id=%s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get run: %w", db.mapErr(err))
	}
	if err := db.loadRunData(ctx, []*tracking.Run{r}); err != nil {
		return nil, fmt.Errorf("get run: %w", db.mapErr(err))
	}
	return r, nil
}

// loadRunData fills latest metrics, params, tags, inputs and outputs of runs
// with one query per table, the tables read at once on the read pool.
func (db *DB) loadRunData(ctx context.Context, runs []*tracking.Run) error {
	if len(runs) == 0 {
		return nil
	}
	byID := make(map[string]*tracking.Run, len(runs))
	ids := make([]string, len(runs))
	for i, r := range runs {
		byID[r.Info.RunID] = r
		ids[i] = r.Info.RunID
	}
	in, args := db.inList(ids)
	each := func(query string, scan func(rows *sql.Rows) error) error {
		return db.eachRow(ctx, db.read, query, args, scan)
	}
	// Each query writes its own field of the runs, so they may run together.
	g, ctx := errgroup.WithContext(ctx)
	if db.dialect == SQLite {
		// SQLite reads are CPU-bound in this process: running them at once
		// only adds contention. PostgreSQL overlaps the round trips.
		g.SetLimit(1)
	}
	g.Go(func() error {
		var id string
		return each(`SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid `+in+` ORDER BY key`, func(rows *sql.Rows) error {
			var m tracking.Metric
			var isNaN bool
			if err := rows.Scan(&id, &m.Key, &m.Value, &m.Timestamp, &m.Step, &isNaN); err != nil {
				return err
			}
			if isNaN {
				m.Value = math.NaN()
			}
			byID[id].Metrics = append(byID[id].Metrics, m)
			return nil
		})
	})
	g.Go(func() error {
		var id string
		return each(`SELECT run_uuid, key, value FROM params WHERE run_uuid `+in+` ORDER BY key`, func(rows *sql.Rows) error {
			var p tracking.Param
			if err := rows.Scan(&id, &p.Key, &p.Value); err != nil {
				return err
			}
			byID[id].Params = append(byID[id].Params, p)
			return nil
		})
	})
	g.Go(func() error {
		var id string
		return each(`SELECT run_uuid, key, value FROM tags WHERE run_uuid `+in+` ORDER BY key`, func(rows *sql.Rows) error {
			var t tracking.Tag
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			byID[id].Tags = append(byID[id].Tags, t)
			return nil
		})
	})
	g.Go(func() error {
		// Dataset inputs with their tags, then model inputs and outputs.
		type dsIn struct {
			run string
			idx int
		}
		var id string
		inputs := map[string]dsIn{}
		err := each(`SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
			FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
			WHERE i.source_type = 'DATASET' AND i.destination_id `+in+` ORDER BY d.name, d.digest`, func(rows *sql.Rows) error {
			var inputID string
			var d tracking.Dataset
			if err := rows.Scan(&id, &inputID, &d.Name, &d.Digest, &d.SourceType, &d.Source, &d.Schema, &d.Profile); err != nil {
				return err
			}
			r := byID[id]
			inputs[inputID] = dsIn{run: id, idx: len(r.Inputs.Datasets)}
			r.Inputs.Datasets = append(r.Inputs.Datasets, tracking.DatasetInput{Dataset: d})
			return nil
		})
		if err != nil || len(inputs) == 0 {
			return err
		}
		return each(`SELECT it.input_uuid, it.name, it.value FROM input_tags it JOIN inputs i ON i.input_uuid = it.input_uuid
			WHERE i.destination_id `+in+` ORDER BY it.name`, func(rows *sql.Rows) error {
			var inputID string
			var t tracking.Tag
			if err := rows.Scan(&inputID, &t.Key, &t.Value); err != nil {
				return err
			}
			if ref, ok := inputs[inputID]; ok {
				di := &byID[ref.run].Inputs.Datasets[ref.idx]
				di.Tags = append(di.Tags, t)
			}
			return nil
		})
	})
	g.Go(func() error {
		var id string
		err := each(`SELECT destination_id, source_id, step FROM inputs WHERE source_type = 'MODEL' AND destination_id `+in+` ORDER BY source_id`, func(rows *sql.Rows) error {
			var m tracking.ModelIO
			if err := rows.Scan(&id, &m.ModelID, &m.Step); err != nil {
				return err
			}
			byID[id].Inputs.Models = append(byID[id].Inputs.Models, m)
			return nil
		})
		if err != nil {
			return err
		}
		return each(`SELECT source_id, destination_id, step FROM outputs WHERE source_type = 'RUN' AND source_id `+in+` ORDER BY destination_id`, func(rows *sql.Rows) error {
			var m tracking.ModelIO
			if err := rows.Scan(&id, &m.ModelID, &m.Step); err != nil {
				return err
			}
			byID[id].Outputs.Models = append(byID[id].Outputs.Models, m)
			return nil
		})
	})
	return g.Wait()
}

// UpdateRun implements tracking.Store.
func (db *DB) UpdateRun(ctx context.Context, id string, u tracking.RunUpdate) (*tracking.RunInfo, error) {
	var info *tracking.RunInfo
	err := db.tx(ctx, func(tx *sql.Tx) error {
		r, err := db.activeRunTx(ctx, tx, id)
		if err != nil {
			return err
		}
		i := r.Info
		if u.Status != nil {
			i.Status = *u.Status
		}
		if u.EndTime != nil {
			v := *u.EndTime
			i.EndTime = &v
		}
		if u.RunName != nil && *u.RunName != "" {
			i.RunName = *u.RunName
			if err := db.upsertTags(ctx, tx, keyOf(r), []tracking.Tag{{Key: tracking.RunNameTag, Value: i.RunName}}); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET status = ?, end_time = ?, name = ? WHERE run_uuid = ?`),
			i.Status, i.EndTime, i.RunName, id); err != nil {
			return err
		}
		info = &i
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update run: %w", err)
	}
	return info, nil
}

// activeRunTx reads a run's info inside tx and checks it is active.
func (db *DB) activeRunTx(ctx context.Context, tx *sql.Tx, id string) (*tracking.Run, error) {
	r, err := scanRunInfo(tx.QueryRowContext(ctx, db.q(`SELECT `+runCols+` FROM runs WHERE run_uuid = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("Run with id=%s not found", id)
	}
	if err != nil {
		return nil, err
	}
	if r.Info.LifecycleStage != tracking.StageActive {
		return nil, errs.Invalidf("The run %s must be in the 'active' state. Current state is %s", id, r.Info.LifecycleStage)
	}
	return r, nil
}

// SetRunStage implements tracking.Store.
func (db *DB) SetRunStage(ctx context.Context, id, stage string) error {
	var deleted any
	if stage == tracking.StageDeleted {
		deleted = nowMillis()
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?`), stage, deleted, id)
		if err != nil {
			return err
		}
		return mustAffect(res, "Run with id=%s not found", id)
	})
}

// runKey names a run and its experiment; the experiment is stored beside
// each tag, param and latest metric so searches stay within it.
type runKey struct {
	id  string
	exp int64
}

func keyOf(r *tracking.Run) runKey {
	exp, _ := strconv.ParseInt(r.Info.ExperimentID, 10, 64)
	return runKey{r.Info.RunID, exp}
}

func (db *DB) upsertTags(ctx context.Context, tx *sql.Tx, rk runKey, tags []tracking.Tag) error {
	runID := rk.id
	if len(tags) == 0 {
		return nil
	}
	args := make([]any, 0, 3*len(tags))
	rowsSQL := make([]string, 0, len(tags))
	for _, t := range tags {
		rowsSQL = append(rowsSQL, "(?, ?, ?, ?)")
		args = append(args, runID, rk.exp, t.Key, t.Value)
		if t.Key == tracking.RunNameTag {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET name = ? WHERE run_uuid = ?`), t.Value, runID); err != nil {
				return err
			}
		}
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO tags (run_uuid, experiment_id, key, value) VALUES `+strings.Join(rowsSQL, ", ")+`
		ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value`), args...)
	return err
}

// LogBatch implements tracking.Store: metrics, params and tags in one
// transaction; a param logged again with a different value fails the batch.
func (db *DB) LogBatch(ctx context.Context, runID string, metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		r, err := db.activeRunTx(ctx, tx, runID)
		if err != nil {
			return err
		}
		rk := keyOf(r)
		if err := db.insertParams(ctx, tx, rk, params); err != nil {
			return err
		}
		if err := db.insertMetrics(ctx, tx, rk, metrics); err != nil {
			return err
		}
		return db.upsertTags(ctx, tx, rk, tags)
	})
	if err != nil {
		return fmt.Errorf("log batch: %w", err)
	}
	return nil
}

func (db *DB) insertParams(ctx context.Context, tx *sql.Tx, rk runKey, params []tracking.Param) error {
	runID := rk.id
	if len(params) == 0 {
		return nil
	}
	keys := make([]any, 0, len(params)+1)
	keys = append(keys, runID)
	for _, p := range params {
		keys = append(keys, p.Key)
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT key, value FROM params WHERE run_uuid = ? AND key IN (`+placeholders(len(params))+`)`), keys...)
	if err != nil {
		return err
	}
	existing := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		existing[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var args []any
	var vals []string
	for _, p := range params {
		if old, ok := existing[p.Key]; ok {
			if old != p.Value {
				return errs.Invalidf("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'", p.Key, old, runID, p.Value)
			}
			continue
		}
		vals = append(vals, "(?, ?, ?, ?)")
		args = append(args, runID, rk.exp, p.Key, p.Value)
	}
	if len(vals) == 0 {
		return nil
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO params (run_uuid, experiment_id, key, value) VALUES `+strings.Join(vals, ", ")), args...)
	if isUnique(err) {
		// A concurrent writer logged one of these keys between our read and
		// write (possible on PostgreSQL); the retry re-reads and compares.
		return retryError{err}
	}
	return err
}

// metricNewer reports whether a should replace b as the latest value:
// higher step, then later timestamp, then larger value (NaN counts as largest).
func metricNewer(a, b tracking.Metric) bool {
	if a.Step != b.Step {
		return a.Step > b.Step
	}
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	an, bn := math.IsNaN(a.Value), math.IsNaN(b.Value)
	if an || bn {
		return an && !bn
	}
	return a.Value > b.Value
}

func dbValue(v float64) (float64, bool) {
	if math.IsNaN(v) {
		return 0, true
	}
	return v, false
}

func (db *DB) insertMetrics(ctx context.Context, tx *sql.Tx, rk runKey, metrics []tracking.Metric) error {
	runID := rk.id
	if len(metrics) == 0 {
		return nil
	}
	latest := make(map[string]tracking.Metric, len(metrics))
	var order []string
	const chunk = 500
	for start := 0; start < len(metrics); start += chunk {
		end := min(start+chunk, len(metrics))
		vals := make([]string, 0, end-start)
		args := make([]any, 0, 6*(end-start))
		for _, m := range metrics[start:end] {
			v, isNaN := dbValue(m.Value)
			vals = append(vals, "(?, ?, ?, ?, ?, ?)")
			args = append(args, runID, m.Key, v, m.Timestamp, m.Step, isNaN)
			if cur, ok := latest[m.Key]; !ok || metricNewer(m, cur) {
				if !ok {
					order = append(order, m.Key)
				}
				latest[m.Key] = m
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES `+
			strings.Join(vals, ", ")+` ON CONFLICT DO NOTHING`), args...); err != nil {
			return err
		}
	}
	vals := make([]string, 0, len(order))
	args := make([]any, 0, 6*len(order))
	for _, k := range order {
		m := latest[k]
		v, isNaN := dbValue(m.Value)
		vals = append(vals, "(?, ?, ?, ?, ?, ?, ?)")
		args = append(args, runID, rk.exp, k, v, m.Timestamp, m.Step, isNaN)
	}
	// The WHERE keeps an existing row that is newer: (step, timestamp, value) order.
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO latest_metrics (run_uuid, experiment_id, key, value, timestamp, step, is_nan) VALUES `+
		strings.Join(vals, ", ")+`
		ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp,
			step = excluded.step, is_nan = excluded.is_nan
		WHERE excluded.step > latest_metrics.step
		   OR (excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)
		   OR (excluded.step = latest_metrics.step AND excluded.timestamp = latest_metrics.timestamp
		       AND ((excluded.is_nan AND NOT latest_metrics.is_nan)
		         OR (excluded.is_nan = latest_metrics.is_nan AND excluded.value > latest_metrics.value)))`), args...)
	return err
}

// DeleteTag implements tracking.Store.
func (db *DB) DeleteTag(ctx context.Context, runID, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := db.activeRunTx(ctx, tx, runID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM tags WHERE run_uuid = ? AND key = ?`), runID, key)
		if err != nil {
			return err
		}
		return mustAffect(res, "No tag with name: %s in run with id %s", key, runID)
	})
}

// FindMetricHistory implements tracking.Store.
func (db *DB) FindMetricHistory(ctx context.Context, runID, key string, p tracking.Page) ([]tracking.Metric, string, error) {
	offset, err := decodeToken(p.Token)
	if err != nil {
		return nil, "", err
	}
	var one int
	err = db.read.QueryRowContext(ctx, db.q(`SELECT 1 FROM runs WHERE run_uuid = ?`), runID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", errs.NotFoundf("Run with id=%s not found", runID)
	}
	if err != nil {
		return nil, "", db.mapErr(err)
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT key, value, timestamp, step, is_nan FROM metrics
		WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp, value LIMIT ? OFFSET ?`), runID, key, p.MaxResults+1, offset)
	if err != nil {
		return nil, "", fmt.Errorf("get metric history: %w", db.mapErr(err))
	}
	defer rows.Close()
	out := make([]tracking.Metric, 0, 64)
	for rows.Next() {
		var m tracking.Metric
		var isNaN bool
		if err := rows.Scan(&m.Key, &m.Value, &m.Timestamp, &m.Step, &isNaN); err != nil {
			return nil, "", err
		}
		if isNaN {
			m.Value = math.NaN()
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", db.mapErr(err)
	}
	next := ""
	if len(out) > p.MaxResults {
		out = out[:p.MaxResults]
		next = encodeToken(offset + p.MaxResults)
	}
	return out, next, nil
}

// LogInputs implements tracking.Store. Datasets are shared per experiment by
// (name, digest); logging the same input twice is a no-op.
func (db *DB) LogInputs(ctx context.Context, runID string, in tracking.RunInputs) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		r, err := db.activeRunTx(ctx, tx, runID)
		if err != nil {
			return err
		}
		exp, _ := strconv.ParseInt(r.Info.ExperimentID, 10, 64)
		for _, di := range in.Datasets {
			d := di.Dataset
			var dsID string
			err := tx.QueryRowContext(ctx, db.q(`SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?`), exp, d.Name, d.Digest).Scan(&dsID)
			if errors.Is(err, sql.ErrNoRows) {
				dsID = tracking.NewID()
				_, err = tx.ExecContext(ctx, db.q(`INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), dsID, exp, d.Name, d.Digest, d.SourceType, d.Source, d.Schema, d.Profile)
			}
			if err != nil {
				return err
			}
			inputID := tracking.NewID()
			res, err := tx.ExecContext(ctx, db.q(`INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id)
				VALUES (?, 'DATASET', ?, 'RUN', ?) ON CONFLICT DO NOTHING`), inputID, dsID, runID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			for _, t := range di.Tags {
				if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)
					ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value`), inputID, t.Key, t.Value); err != nil {
					return err
				}
			}
		}
		for _, m := range in.Models {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step)
				VALUES (?, 'MODEL', ?, 'RUN', ?, ?) ON CONFLICT DO NOTHING`), tracking.NewID(), m.ModelID, runID, m.Step); err != nil {
				return err
			}
		}
		return nil
	})
}

// LogOutputs implements tracking.Store.
func (db *DB) LogOutputs(ctx context.Context, runID string, out tracking.RunOutputs) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := db.activeRunTx(ctx, tx, runID); err != nil {
			return err
		}
		for _, m := range out.Models {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO outputs (source_type, source_id, destination_type, destination_id, step)
				VALUES ('RUN', ?, 'MODEL', ?, ?) ON CONFLICT DO NOTHING`), runID, m.ModelID, m.Step); err != nil {
				return err
			}
		}
		return nil
	})
}

// FindDatasetSummaries implements tracking.Store.
func (db *DB) FindDatasetSummaries(ctx context.Context, experimentIDs []string, limit int) ([]tracking.DatasetSummary, error) {
	args := make([]any, 0, len(experimentIDs)+1)
	for _, id := range experimentIDs {
		n, err := parseExperimentID(id)
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	args = append(args, limit)
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT d.experiment_id, d.name, d.digest, COALESCE(it.value, '') AS context, MAX(r.start_time) AS latest
		FROM datasets d
		JOIN inputs i ON i.source_type = 'DATASET' AND i.source_id = d.dataset_uuid
		JOIN runs r ON r.run_uuid = i.destination_id
		LEFT JOIN input_tags it ON it.input_uuid = i.input_uuid AND it.name = 'mlflow.data.context'
		WHERE d.experiment_id IN (`+placeholders(len(experimentIDs))+`)
		GROUP BY d.experiment_id, d.name, d.digest, COALESCE(it.value, '')
		ORDER BY latest DESC, d.name, d.digest LIMIT ?`), args...)
	if err != nil {
		return nil, db.mapErr(err)
	}
	defer rows.Close()
	var out []tracking.DatasetSummary
	for rows.Next() {
		var s tracking.DatasetSummary
		var exp, latest int64
		if err := rows.Scan(&exp, &s.Name, &s.Digest, &s.Context, &latest); err != nil {
			return nil, err
		}
		s.ExperimentID = strconv.FormatInt(exp, 10)
		out = append(out, s)
	}
	return out, rows.Err()
}
