package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

const loggedModelCols = `model_id, experiment_id, name, artifact_uri, status, status_message, model_type, source_run_id,
	creation_time, last_update_time, lifecycle_stage`

func scanLoggedModel(sc interface{ Scan(...any) error }) (*tracking.LoggedModel, error) {
	var m tracking.LoggedModel
	var exp int64
	if err := sc.Scan(&m.ModelID, &exp, &m.Name, &m.ArtifactURI, &m.Status, &m.StatusMessage, &m.ModelType,
		&m.SourceRunID, &m.CreationTime, &m.LastUpdateTime, &m.LifecycleStage); err != nil {
		return nil, err
	}
	m.ExperimentID = strconv.FormatInt(exp, 10)
	return &m, nil
}

// CreateLoggedModel implements tracking.Store. An empty ArtifactURI is made
// from the experiment's artifact location: <location>/models/<id>/artifacts.
func (db *DB) CreateLoggedModel(ctx context.Context, m *tracking.LoggedModel) error {
	exp, err := parseExperimentID(m.ExperimentID)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		var loc string
		err := tx.QueryRowContext(ctx, db.q(`SELECT artifact_location FROM experiments WHERE experiment_id = ?`), exp).Scan(&loc)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("No Experiment with id=%s exists", m.ExperimentID)
		}
		if err != nil {
			return err
		}
		if m.ArtifactURI == "" {
			m.ArtifactURI = joinRoot(loc, "models/"+m.ModelID+"/artifacts")
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_models (`+loggedModelCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			m.ModelID, exp, m.Name, m.ArtifactURI, m.Status, m.StatusMessage, m.ModelType, m.SourceRunID,
			m.CreationTime, m.LastUpdateTime, tracking.StageActive); err != nil {
			return err
		}
		for _, p := range m.Params {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?)
				ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`), m.ModelID, p.Key, p.Value); err != nil {
				return err
			}
		}
		return db.upsertModelTags(ctx, tx, m.ModelID, m.Tags)
	})
}

func (db *DB) upsertModelTags(ctx context.Context, tx *sql.Tx, id string, tags []tracking.Tag) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`), id, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// FindLoggedModelByID implements tracking.Store.
func (db *DB) FindLoggedModelByID(ctx context.Context, id string) (*tracking.LoggedModel, error) {
	m, err := scanLoggedModel(db.read.QueryRowContext(ctx, db.q(`SELECT `+loggedModelCols+` FROM logged_models WHERE model_id = ? AND lifecycle_stage = 'active'`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("logged model with ID '%s' not found", id)
	}
	if err != nil {
		return nil, db.mapErr(err)
	}
	return m, db.loadModelData(ctx, []*tracking.LoggedModel{m})
}

func (db *DB) loadModelData(ctx context.Context, models []*tracking.LoggedModel) error {
	if len(models) == 0 {
		return nil
	}
	byID := map[string]*tracking.LoggedModel{}
	args := make([]any, len(models))
	for i, m := range models {
		byID[m.ModelID] = m
		args[i] = m.ModelID
	}
	in := "(" + placeholders(len(args)) + ")"
	for _, table := range []string{"logged_model_tags", "logged_model_params"} {
		err := db.eachRow(ctx, db.read, `SELECT model_id, key, value FROM `+table+` WHERE model_id IN `+in+` ORDER BY key`, args, func(rows *sql.Rows) error {
			var id, k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				return err
			}
			if table == "logged_model_tags" {
				byID[id].Tags = append(byID[id].Tags, tracking.Tag{Key: k, Value: v})
			} else {
				byID[id].Params = append(byID[id].Params, tracking.Param{Key: k, Value: v})
			}
			return nil
		})
		if err != nil {
			return db.mapErr(err)
		}
	}
	return nil
}

// FindLoggedModels implements tracking.Store.
func (db *DB) FindLoggedModels(ctx context.Context, q tracking.LoggedModelQuery) ([]*tracking.LoggedModel, string, error) {
	filter, err := tracking.ParseFilter(tracking.LoggedModelSchema, q.Filter)
	if err != nil {
		return nil, "", err
	}
	if err := tracking.CheckSearchExperiments(q.ExperimentIDs); err != nil {
		return nil, "", err
	}
	if len(q.OrderBy) > tracking.MaxOrderBy {
		return nil, "", errs.Invalidf("invalid order_by: %d keys, more than the %d allowed", len(q.OrderBy), tracking.MaxOrderBy)
	}
	offset, err := decodeToken(q.Page.Token)
	if err != nil {
		return nil, "", err
	}
	where := []string{"lm.lifecycle_stage = 'active'"}
	var args []any
	if len(q.ExperimentIDs) > 0 {
		where = append(where, "lm.experiment_id IN ("+placeholders(len(q.ExperimentIDs))+")")
		for _, id := range q.ExperimentIDs {
			n, err := parseExperimentID(id)
			if err != nil {
				return nil, "", err
			}
			args = append(args, n)
		}
	}
	for _, c := range filter {
		var cond string
		var a []any
		switch c.Kind {
		case tracking.KindAttribute:
			col := "lm." + c.Key
			if c.Key == "name" && len(c.List) > 0 && db.dialect == SQLite {
				// "+" keeps SQLite from probing the (experiment_id, name)
				// index with every pair of two IN lists: 1,000 experiments
				// by 10,000 names took seconds. It filters names per row.
				col = "+" + col
			}
			if tracking.LoggedModelSchema.Numeric[c.Key] {
				cond, a = col+" "+c.Op+" ?", []any{int64(c.Num)}
			} else {
				cond, a = stringCond(col, c)
			}
		case tracking.KindTag, tracking.KindParam:
			table := "logged_model_tags"
			if c.Kind == tracking.KindParam {
				table = "logged_model_params"
			}
			sc, sa := stringCond("t.value", c)
			cond, a = `EXISTS (SELECT 1 FROM `+table+` t WHERE t.model_id = lm.model_id AND t.key = ? AND `+sc+db.fence(len(filter))+`)`, append([]any{c.Key}, sa...)
		default:
			return nil, "", errs.Invalidf("invalid filter: %s keys are not supported for logged models", c.Kind)
		}
		where = append(where, cond)
		args = append(args, a...)
	}
	orderSQL := []string{}
	for _, o := range q.OrderBy {
		col, ok := tracking.LoggedModelSchema.Attributes[o.Key]
		if !ok {
			return nil, "", errs.Invalidf("invalid order_by field '%s' for logged models", o.Key)
		}
		orderSQL = append(orderSQL, "lm."+col+dir(o.Desc))
	}
	orderSQL = append(orderSQL, "lm.creation_time DESC", "lm.model_id ASC")
	query := `SELECT ` + prefixCols("lm.", strings.ReplaceAll(loggedModelCols, "\n\t", " ")) + ` FROM logged_models lm WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY ` + strings.Join(orderSQL, ", ") + ` LIMIT ? OFFSET ?`
	max := q.Page.MaxResults
	if max <= 0 {
		max = 100
	}
	args = append(args, max+1, offset)
	rows, err := db.read.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("search logged models: %w", db.mapErr(err))
	}
	defer rows.Close()
	var out []*tracking.LoggedModel
	for rows.Next() {
		m, err := scanLoggedModel(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	next := ""
	if len(out) > max {
		out = out[:max]
		next = encodeToken(offset + max)
	}
	return out, next, db.loadModelData(ctx, out)
}

// UpdateLoggedModel implements tracking.Store.
func (db *DB) UpdateLoggedModel(ctx context.Context, id, status, message string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE logged_models SET status = ?, status_message = ?, last_update_time = ?
			WHERE model_id = ? AND lifecycle_stage = 'active'`), status, message, nowMillis(), id)
		if err != nil {
			return err
		}
		return mustAffect(res, "logged model with ID '%s' not found", id)
	})
}

// SetLoggedModelTags implements tracking.Store.
func (db *DB) SetLoggedModelTags(ctx context.Context, id string, tags []tracking.Tag) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE logged_models SET last_update_time = ? WHERE model_id = ? AND lifecycle_stage = 'active'`), nowMillis(), id)
		if err != nil {
			return err
		}
		if err := mustAffect(res, "logged model with ID '%s' not found", id); err != nil {
			return err
		}
		return db.upsertModelTags(ctx, tx, id, tags)
	})
}

// DeleteLoggedModelTag implements tracking.Store.
func (db *DB) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?`), id, key)
		if err != nil {
			return err
		}
		return mustAffect(res, "no tag with key '%s' on logged model '%s'", key, id)
	})
}

// DeleteLoggedModel implements tracking.Store.
func (db *DB) DeleteLoggedModel(ctx context.Context, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE logged_models SET lifecycle_stage = 'deleted', last_update_time = ? WHERE model_id = ?`), nowMillis(), id)
		if err != nil {
			return err
		}
		return mustAffect(res, "logged model with ID '%s' not found", id)
	})
}
