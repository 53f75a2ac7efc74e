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

var _ tracking.Store = (*DB)(nil)

func parseExperimentID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return 0, errs.Invalidf("invalid experiment ID '%s': expected a non-negative integer", id)
	}
	return n, nil
}

// CreateExperiment implements tracking.Store.
func (db *DB) CreateExperiment(ctx context.Context, e *tracking.Experiment) (string, error) {
	var id int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
			VALUES (?, ?, ?, ?, ?) RETURNING experiment_id`),
			e.Name, e.ArtifactLocation, e.LifecycleStage, e.CreationTime, e.LastUpdateTime).Scan(&id)
		if err != nil {
			if isUnique(err) {
				return errs.Conflictf("Experiment '%s' already exists.", e.Name)
			}
			return err
		}
		if e.ArtifactLocation == "" {
			loc := joinRoot(db.opts.ArtifactRoot, strconv.FormatInt(id, 10))
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`), loc, id); err != nil {
				return err
			}
		}
		return db.upsertExperimentTags(ctx, tx, id, e.Tags)
	})
	if err != nil {
		return "", fmt.Errorf("create experiment: %w", err)
	}
	return strconv.FormatInt(id, 10), nil
}

func (db *DB) upsertExperimentTags(ctx context.Context, tx *sql.Tx, id int64, tags []tracking.Tag) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)
			ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`), id, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

const experimentCols = `experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time`

func scanExperiment(sc interface{ Scan(...any) error }) (*tracking.Experiment, error) {
	var e tracking.Experiment
	var id int64
	if err := sc.Scan(&id, &e.Name, &e.ArtifactLocation, &e.LifecycleStage, &e.CreationTime, &e.LastUpdateTime); err != nil {
		return nil, err
	}
	e.ID = strconv.FormatInt(id, 10)
	return &e, nil
}

// FindExperimentByID implements tracking.Store.
func (db *DB) FindExperimentByID(ctx context.Context, id string) (*tracking.Experiment, error) {
	n, err := parseExperimentID(id)
	if err != nil {
		return nil, err
	}
	e, err := scanExperiment(db.read.QueryRowContext(ctx, db.q(`SELECT `+experimentCols+` FROM experiments WHERE experiment_id = ?`), n))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("No Experiment with id=%s exists", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get experiment: %w", db.mapErr(err))
	}
	return e, db.loadExperimentTags(ctx, []*tracking.Experiment{e})
}

// FindExperimentByName implements tracking.Store.
func (db *DB) FindExperimentByName(ctx context.Context, name string) (*tracking.Experiment, error) {
	e, err := scanExperiment(db.read.QueryRowContext(ctx, db.q(`SELECT `+experimentCols+` FROM experiments WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("Could not find experiment with name '%s'", name)
	}
	if err != nil {
		return nil, fmt.Errorf("get experiment: %w", db.mapErr(err))
	}
	return e, db.loadExperimentTags(ctx, []*tracking.Experiment{e})
}

func (db *DB) loadExperimentTags(ctx context.Context, exps []*tracking.Experiment) error {
	if len(exps) == 0 {
		return nil
	}
	byID := make(map[string]*tracking.Experiment, len(exps))
	args := make([]any, len(exps))
	for i, e := range exps {
		byID[e.ID] = e
		n, _ := strconv.ParseInt(e.ID, 10, 64)
		args[i] = n
	}
	err := db.eachRow(ctx, db.read, `SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (`+placeholders(len(args))+`) ORDER BY key`, args, func(rows *sql.Rows) error {
		var id int64
		var t tracking.Tag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		if e := byID[strconv.FormatInt(id, 10)]; e != nil {
			e.Tags = append(e.Tags, t)
		}
		return nil
	})
	return db.mapErr(err)
}

// FindExperiments implements tracking.Store.
func (db *DB) FindExperiments(ctx context.Context, q tracking.ExperimentQuery) ([]*tracking.Experiment, string, error) {
	filter, order, offset, err := parseQuery(tracking.ExperimentSchema, q.Filter, q.OrderBy, q.Page.Token)
	if err != nil {
		return nil, "", err
	}
	var where []string
	var args []any
	where = append(where, stageCond("e.lifecycle_stage", q.ViewType))
	for _, c := range filter {
		sqlc, a, err := experimentClause(c, db.fence(len(filter)))
		if err != nil {
			return nil, "", err
		}
		where = append(where, sqlc)
		args = append(args, a...)
	}
	var orderSQL []string
	seenID := false
	for _, o := range order {
		if o.Kind != tracking.KindAttribute {
			return nil, "", errs.Invalidf("invalid order_by: experiments can only be ordered by name, experiment_id, creation_time or last_update_time")
		}
		col := "e." + o.Key
		if o.Key == "experiment_id" {
			seenID = true
		}
		orderSQL = append(orderSQL, col+dir(o.Desc))
	}
	if len(order) == 0 {
		orderSQL = append(orderSQL, "e.creation_time DESC")
	}
	if !seenID {
		orderSQL = append(orderSQL, "e.experiment_id ASC")
	}
	query := `SELECT ` + prefixCols("e.", experimentCols) + ` FROM experiments e WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + strings.Join(orderSQL, ", ") + ` LIMIT ? OFFSET ?`
	args = append(args, q.Page.MaxResults+1, offset)
	rows, err := db.read.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, "", fmt.Errorf("search experiments: %w", db.mapErr(err))
	}
	defer rows.Close()
	var out []*tracking.Experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", db.mapErr(err)
	}
	next := ""
	if len(out) > q.Page.MaxResults {
		out = out[:q.Page.MaxResults]
		next = encodeToken(offset + q.Page.MaxResults)
	}
	return out, next, db.loadExperimentTags(ctx, out)
}

func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func dir(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

func stageCond(col string, v tracking.ViewType) string {
	switch v {
	case tracking.DeletedOnly:
		return col + " = 'deleted'"
	case tracking.All:
		return col + " IN ('active', 'deleted')"
	}
	return col + " = 'active'"
}

// experimentClause compiles one filter clause on experiments (alias e); fence
// ends its sub-query (see DB.fence).
func experimentClause(c tracking.Clause, fence string) (string, []any, error) {
	switch c.Kind {
	case tracking.KindTag:
		cond, args := stringCond("t.value", c)
		return `EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.experiment_id AND t.key = ? AND ` + cond + fence + `)`,
			append([]any{c.Key}, args...), nil
	case tracking.KindAttribute:
		col := "e." + c.Key
		if tracking.ExperimentSchema.Numeric[c.Key] {
			return col + " " + c.Op + " ?", []any{int64(c.Num)}, nil
		}
		if c.Key == "experiment_id" {
			if c.Op == "IN" || c.Op == "NOT IN" {
				args := make([]any, len(c.List))
				for i, s := range c.List {
					n, err := parseExperimentID(s)
					if err != nil {
						return "", nil, err
					}
					args[i] = n
				}
				return col + " " + c.Op + " (" + placeholders(len(args)) + ")", args, nil
			}
			n, err := parseExperimentID(c.Str)
			if err != nil {
				return "", nil, err
			}
			if c.Op != "=" && c.Op != "!=" {
				return "", nil, errs.Invalidf("invalid filter: experiment_id supports = != IN NOT IN")
			}
			return col + " " + c.Op + " ?", []any{n}, nil
		}
		cond, args := stringCond(col, c)
		return cond, args, nil
	}
	return "", nil, errs.Invalidf("invalid filter: %s keys cannot be used to search experiments", c.Kind)
}

// stringCond compiles a string comparison of col against the clause operand.
func stringCond(col string, c tracking.Clause) (string, []any) {
	switch c.Op {
	case "LIKE":
		return col + " LIKE ?", []any{c.Str}
	case "ILIKE":
		return "LOWER(" + col + ") LIKE LOWER(?)", []any{c.Str}
	case "IN", "NOT IN":
		args := make([]any, len(c.List))
		for i, s := range c.List {
			args[i] = s
		}
		return col + " " + c.Op + " (" + placeholders(len(args)) + ")", args
	}
	return col + " " + c.Op + " ?", []any{c.Str}
}

// RenameExperiment implements tracking.Store.
func (db *DB) RenameExperiment(ctx context.Context, id, name string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?`), name, nowMillis(), n)
		if err != nil {
			if isUnique(err) {
				return errs.Conflictf("Experiment '%s' already exists.", name)
			}
			return err
		}
		return mustAffect(res, "No Experiment with id=%s exists", id)
	})
}

// SetExperimentStage implements tracking.Store. Runs follow their experiment.
func (db *DB) SetExperimentStage(ctx context.Context, id, stage string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	now := nowMillis()
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?`), stage, now, n)
		if err != nil {
			return err
		}
		if err := mustAffect(res, "No Experiment with id=%s exists", id); err != nil {
			return err
		}
		var deleted any
		if stage == tracking.StageDeleted {
			deleted = now
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?`), stage, deleted, n)
		return err
	})
}

// SetExperimentTag implements tracking.Store.
func (db *DB) SetExperimentTag(ctx context.Context, id string, t tracking.Tag) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.experimentExists(ctx, tx, n); err != nil {
			return err
		}
		return db.upsertExperimentTags(ctx, tx, n, []tracking.Tag{t})
	})
}

// DeleteExperimentTag implements tracking.Store.
func (db *DB) DeleteExperimentTag(ctx context.Context, id, key string) error {
	n, err := parseExperimentID(id)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.experimentExists(ctx, tx, n); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?`), n, key)
		if err != nil {
			return err
		}
		return mustAffect(res, "no tag with key '%s' on experiment %s", key, id)
	})
}

func (db *DB) experimentExists(ctx context.Context, q querier, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, db.q(`SELECT 1 FROM experiments WHERE experiment_id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFoundf("No Experiment with id=%d exists", id)
	}
	return err
}

func mustAffect(res sql.Result, format string, args ...any) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.NotFoundf(format, args...)
	}
	return nil
}
