package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

var _ registry.Store = (*DB)(nil)

func errModelNotFound(name string) error {
	return errs.NotFoundf("Registered Model with name=%s not found", name)
}

func errVersionNotFound(name string, version int64) error {
	return errs.NotFoundf("Model Version (name=%s, version=%d) not found", name, version)
}

// modelID returns the surrogate key of a model.
func (db *DB) modelID(ctx context.Context, q querier, name string) (int64, error) {
	var id int64
	err := q.QueryRowContext(ctx, db.q(`SELECT id FROM registered_models WHERE name = ?`), name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errModelNotFound(name)
	}
	return id, err
}

// CreateRegisteredModel implements registry.Store.
func (db *DB) CreateRegisteredModel(ctx context.Context, m *registry.RegisteredModel) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO registered_models (name, creation_time, last_updated_time, description)
			VALUES (?, ?, ?, ?) RETURNING id`), m.Name, m.CreationTime, m.LastUpdatedTime, m.Description).Scan(&id)
		if isUnique(err) {
			return errs.Conflictf("Registered Model (name=%s) already exists.", m.Name)
		}
		if err != nil {
			return err
		}
		for _, t := range m.Tags {
			if err := db.upsertModelTag(ctx, tx, id, t); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) upsertModelTag(ctx context.Context, tx *sql.Tx, id int64, t registry.Tag) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)
		ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`), id, t.Key, t.Value)
	return err
}

const rmCols = `rm.id, rm.name, rm.creation_time, rm.last_updated_time, rm.description`

type modelRow struct {
	id int64
	m  *registry.RegisteredModel
}

func scanModel(sc interface{ Scan(...any) error }) (modelRow, error) {
	var r modelRow
	r.m = &registry.RegisteredModel{}
	err := sc.Scan(&r.id, &r.m.Name, &r.m.CreationTime, &r.m.LastUpdatedTime, &r.m.Description)
	return r, err
}

// FindRegisteredModel implements registry.Store.
func (db *DB) FindRegisteredModel(ctx context.Context, name string) (*registry.RegisteredModel, error) {
	r, err := scanModel(db.read.QueryRowContext(ctx, db.q(`SELECT `+rmCols+` FROM registered_models rm WHERE rm.name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errModelNotFound(name)
	}
	if err != nil {
		return nil, db.mapErr(err)
	}
	if err := db.loadModels(ctx, []modelRow{r}); err != nil {
		return nil, db.mapErr(err)
	}
	return r.m, nil
}

// loadModels fills tags, aliases and latest versions per stage.
func (db *DB) loadModels(ctx context.Context, rows []modelRow) error {
	if len(rows) == 0 {
		return nil
	}
	byID := make(map[int64]*registry.RegisteredModel, len(rows))
	args := make([]any, len(rows))
	for i, r := range rows {
		byID[r.id] = r.m
		args[i] = r.id
	}
	in := "(" + placeholders(len(args)) + ")"
	err := db.eachRow(ctx, db.read, `SELECT model_id, key, value FROM registered_model_tags WHERE model_id IN `+in+` ORDER BY key`, args, func(rows *sql.Rows) error {
		var id int64
		var t registry.Tag
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		byID[id].Tags = append(byID[id].Tags, t)
		return nil
	})
	if err != nil {
		return err
	}
	err = db.eachRow(ctx, db.read, `SELECT model_id, alias, version FROM registered_model_aliases WHERE model_id IN `+in+` ORDER BY alias`, args, func(rows *sql.Rows) error {
		var id int64
		var a registry.Alias
		if err := rows.Scan(&id, &a.Alias, &a.Version); err != nil {
			return err
		}
		byID[id].Aliases = append(byID[id].Aliases, a)
		return nil
	})
	if err != nil {
		return err
	}
	versions, err := db.queryVersions(ctx, db.read, `v.model_id IN `+in+` AND v.version = (SELECT MAX(v2.version) FROM model_versions v2
		WHERE v2.model_id = v.model_id AND v2.current_stage = v.current_stage)`, args, `v.version`, 0)
	if err != nil {
		return err
	}
	for _, v := range versions {
		byID[v.id].LatestVersions = append(byID[v.id].LatestVersions, v.v)
	}
	return nil
}

const mvCols = `v.model_id, rm.name, v.version, v.creation_time, v.last_updated_time, v.description, v.user_id, v.current_stage,
	v.source, v.run_id, v.run_link, v.status, v.status_message, v.storage_location, v.logged_model_id`

type versionRow struct {
	id int64
	v  *registry.ModelVersion
}

// queryVersions reads versions matching where (on model_versions v joined to
// registered_models rm) with their tags and aliases.
func (db *DB) queryVersions(ctx context.Context, q querier, where string, args []any, order string, limit int) ([]versionRow, error) {
	query := `SELECT ` + mvCols + ` FROM model_versions v JOIN registered_models rm ON rm.id = v.model_id WHERE ` + where + ` ORDER BY ` + order
	if limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, err
	}
	var out []versionRow
	for rows.Next() {
		var r versionRow
		v := &registry.ModelVersion{}
		if err := rows.Scan(&r.id, &v.Name, &v.Version, &v.CreationTime, &v.LastUpdatedTime, &v.Description, &v.UserID,
			&v.CurrentStage, &v.Source, &v.RunID, &v.RunLink, &v.Status, &v.StatusMessage, &v.StorageLocation, &v.ModelID); err != nil {
			rows.Close()
			return nil, err
		}
		r.v = v
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, db.loadVersionExtras(ctx, q, out)
}

// loadVersionExtras fills the tags and aliases of versions, a batch of
// versions per query so that a large page stays under PostgreSQL's limit on
// parameters.
func (db *DB) loadVersionExtras(ctx context.Context, q querier, vs []versionRow) error {
	type key struct{ id, version int64 }
	const batch = 400
	for len(vs) > 0 {
		n := min(len(vs), batch)
		chunk := vs[:n]
		vs = vs[n:]
		byKey := make(map[key]*registry.ModelVersion, len(chunk))
		args := make([]any, 0, 2*len(chunk))
		for _, r := range chunk {
			byKey[key{r.id, r.v.Version}] = r.v
			args = append(args, r.id, r.v.Version)
		}
		in := `(model_id, version) IN (` + strings.TrimSuffix(strings.Repeat("(?, ?), ", len(chunk)), ", ") + `)`
		err := db.eachRow(ctx, q, `SELECT model_id, version, key, value FROM model_version_tags WHERE `+in+` ORDER BY key`, args, func(rows *sql.Rows) error {
			var k key
			var t registry.Tag
			if err := rows.Scan(&k.id, &k.version, &t.Key, &t.Value); err != nil {
				return err
			}
			byKey[k].Tags = append(byKey[k].Tags, t)
			return nil
		})
		if err != nil {
			return err
		}
		err = db.eachRow(ctx, q, `SELECT model_id, version, alias FROM registered_model_aliases WHERE `+in+` ORDER BY alias`, args, func(rows *sql.Rows) error {
			var k key
			var a string
			if err := rows.Scan(&k.id, &k.version, &a); err != nil {
				return err
			}
			byKey[k].Aliases = append(byKey[k].Aliases, a)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var modelOrderCols = map[string]string{"name": "rm.name", "last_updated_time": "rm.last_updated_time", "creation_time": "rm.creation_time"}

// FindRegisteredModels implements registry.Store.
func (db *DB) FindRegisteredModels(ctx context.Context, q registry.Query) ([]*registry.RegisteredModel, string, error) {
	filter, order, offset, err := parseQuery(registry.RegisteredModelSchema, q.Filter, q.OrderBy, q.Token)
	if err != nil {
		return nil, "", err
	}
	where := []string{"1 = 1"}
	var args []any
	for _, c := range filter {
		switch c.Kind {
		case tracking.KindTag:
			cond, a := stringCond("t.value", c)
			where = append(where, `rm.id IN (SELECT t.model_id FROM registered_model_tags t WHERE t.key = ? AND `+cond+db.fence(len(filter))+`)`)
			args = append(args, append([]any{c.Key}, a...)...)
		default:
			col := modelOrderCols[c.Key]
			if registry.RegisteredModelSchema.Numeric[c.Key] {
				where = append(where, col+" "+c.Op+" ?")
				args = append(args, int64(c.Num))
				continue
			}
			cond, a := stringCond(col, c)
			where = append(where, cond)
			args = append(args, a...)
		}
	}
	// MLflow's order: the keys given, then name ascending.
	var orderSQL []string
	seen := map[string]bool{}
	for _, o := range order {
		if o.Kind != tracking.KindAttribute {
			return nil, "", errs.Invalidf("Invalid order by key '%s' specified. Valid keys are 'name', 'timestamp', 'last_updated_timestamp', 'creation_timestamp'", o.Key)
		}
		if seen[o.Key] {
			return nil, "", errs.Invalidf("`order_by` contains duplicate fields: %v", q.OrderBy)
		}
		seen[o.Key] = true
		orderSQL = append(orderSQL, modelOrderCols[o.Key]+dir(o.Desc))
	}
	if !seen["name"] {
		orderSQL = append(orderSQL, "rm.name ASC")
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT `+rmCols+` FROM registered_models rm WHERE `+strings.Join(where, " AND ")+
		` ORDER BY `+strings.Join(orderSQL, ", ")+` LIMIT ? OFFSET ?`), append(args, q.MaxResults+1, offset)...)
	if err != nil {
		return nil, "", fmt.Errorf("search registered models: %w", db.mapErr(err))
	}
	var found []modelRow
	for rows.Next() {
		r, err := scanModel(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		found = append(found, r)
	}
	rows.Close()
	next := ""
	if len(found) > q.MaxResults {
		found = found[:q.MaxResults]
		next = encodeToken(offset + q.MaxResults)
	}
	if err := db.loadModels(ctx, found); err != nil {
		return nil, "", db.mapErr(err)
	}
	out := make([]*registry.RegisteredModel, len(found))
	for i, r := range found {
		out[i] = r.m
	}
	return out, next, nil
}

var versionCols = map[string]string{"name": "rm.name", "run_id": "v.run_id", "source": "v.source", "version": "v.version",
	"user_id": "v.user_id", "current_stage": "v.current_stage", "last_updated_time": "v.last_updated_time", "creation_time": "v.creation_time"}

// FindModelVersions implements registry.Store.
func (db *DB) FindModelVersions(ctx context.Context, q registry.Query) ([]*registry.ModelVersion, string, error) {
	filter, order, offset, err := parseQuery(registry.ModelVersionSchema, q.Filter, q.OrderBy, q.Token)
	if err != nil {
		return nil, "", err
	}
	where := []string{"1 = 1"}
	var args []any
	for _, c := range filter {
		switch c.Kind {
		case tracking.KindTag:
			cond, a := stringCond("t.value", c)
			where = append(where, `EXISTS (SELECT 1 FROM model_version_tags t WHERE t.model_id = v.model_id AND t.version = v.version AND t.key = ? AND `+cond+db.fence(len(filter))+`)`)
			args = append(args, append([]any{c.Key}, a...)...)
		default:
			col := versionCols[c.Key]
			if registry.ModelVersionSchema.Numeric[c.Key] {
				where = append(where, col+" "+c.Op+" ?")
				args = append(args, int64(c.Num))
				continue
			}
			cond, a := stringCond(col, c)
			where = append(where, cond)
			args = append(args, a...)
		}
	}
	// MLflow's order: the keys given (by default the newest update first),
	// then name ascending and version descending.
	if len(order) == 0 {
		order = []tracking.OrderBy{{Kind: tracking.KindAttribute, Key: "last_updated_time", Desc: true}}
	}
	var orderSQL []string
	seen := map[string]bool{}
	for _, o := range order {
		if o.Kind != tracking.KindAttribute {
			return nil, "", errs.Invalidf("Invalid order by key '%s' specified. Valid keys are 'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'", o.Key)
		}
		if seen[o.Key] {
			return nil, "", errs.Invalidf("`order_by` contains duplicate fields: %v", q.OrderBy)
		}
		seen[o.Key] = true
		orderSQL = append(orderSQL, versionCols[o.Key]+dir(o.Desc))
	}
	if !seen["name"] {
		orderSQL = append(orderSQL, "rm.name ASC")
	}
	if !seen["version"] {
		orderSQL = append(orderSQL, "v.version DESC")
	}
	vs, err := db.queryVersions(ctx, db.read, strings.Join(where, " AND "), args,
		strings.Join(orderSQL, ", ")+fmt.Sprintf(" LIMIT %d OFFSET %d", q.MaxResults+1, offset), 0)
	if err != nil {
		return nil, "", fmt.Errorf("search model versions: %w", db.mapErr(err))
	}
	next := ""
	if len(vs) > q.MaxResults {
		vs = vs[:q.MaxResults]
		next = encodeToken(offset + q.MaxResults)
	}
	out := make([]*registry.ModelVersion, len(vs))
	for i, r := range vs {
		out[i] = r.v
	}
	return out, next, nil
}

// RenameRegisteredModel implements registry.Store.
func (db *DB) RenameRegisteredModel(ctx context.Context, name, newName string, now int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?`), newName, now, name)
		if isUnique(err) {
			return errs.Conflictf("Registered Model (name=%s) already exists.", newName)
		}
		if err != nil {
			return err
		}
		return mustAffect(res, "Registered Model with name=%s not found", name)
	})
}

// UpdateRegisteredModel implements registry.Store.
func (db *DB) UpdateRegisteredModel(ctx context.Context, name, description string, now int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?`), description, now, name)
		if err != nil {
			return err
		}
		return mustAffect(res, "Registered Model with name=%s not found", name)
	})
}

// DeleteRegisteredModel implements registry.Store.
func (db *DB) DeleteRegisteredModel(ctx context.Context, name string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM registered_models WHERE name = ?`), name)
		if err != nil {
			return err
		}
		return mustAffect(res, "Registered Model with name=%s not found", name)
	})
}

// SetRegisteredModelTag implements registry.Store.
func (db *DB) SetRegisteredModelTag(ctx context.Context, name string, t registry.Tag) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.modelID(ctx, tx, name)
		if err != nil {
			return err
		}
		return db.upsertModelTag(ctx, tx, id, t)
	})
}

// DeleteRegisteredModelTag implements registry.Store.
func (db *DB) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.modelID(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM registered_model_tags WHERE model_id = ? AND key = ?`), id, key)
		return err
	})
}

// CreateModelVersion implements registry.Store.
func (db *DB) CreateModelVersion(ctx context.Context, v *registry.ModelVersion) (*registry.ModelVersion, error) {
	var out *registry.ModelVersion
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var id, version int64
		// Taking the number and bumping it in one statement serialises
		// concurrent creates on the model's row.
		err := tx.QueryRowContext(ctx, db.q(`UPDATE registered_models SET next_version = next_version + 1, last_updated_time = ?
			WHERE name = ? RETURNING id, next_version - 1`), v.CreationTime, v.Name).Scan(&id, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return errModelNotFound(v.Name)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_versions (model_id, version, creation_time, last_updated_time, description,
			user_id, current_stage, source, run_id, run_link, status, status_message, storage_location, logged_model_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), id, version, v.CreationTime, v.LastUpdatedTime, v.Description,
			v.UserID, v.CurrentStage, v.Source, v.RunID, v.RunLink, v.Status, v.StatusMessage, v.StorageLocation, v.ModelID); err != nil {
			return err
		}
		for _, t := range v.Tags {
			if err := db.upsertVersionTag(ctx, tx, id, version, t); err != nil {
				return err
			}
		}
		vs, err := db.queryVersions(ctx, tx, `v.model_id = ? AND v.version = ?`, []any{id, version}, `v.version`, 1)
		if err != nil {
			return err
		}
		out = vs[0].v
		return nil
	})
	return out, err
}

func (db *DB) upsertVersionTag(ctx context.Context, tx *sql.Tx, id, version int64, t registry.Tag) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value`), id, version, t.Key, t.Value)
	return err
}

// FindModelVersion implements registry.Store.
func (db *DB) FindModelVersion(ctx context.Context, name string, version int64) (*registry.ModelVersion, error) {
	vs, err := db.queryVersions(ctx, db.read, `rm.name = ? AND v.version = ?`, []any{name, version}, `v.version`, 1)
	if err != nil {
		return nil, db.mapErr(err)
	}
	if len(vs) == 0 {
		return nil, errVersionNotFound(name, version)
	}
	return vs[0].v, nil
}

// FindLatestVersions implements registry.Store.
func (db *DB) FindLatestVersions(ctx context.Context, name string, stages []string) ([]*registry.ModelVersion, error) {
	id, err := db.modelID(ctx, db.read, name)
	if err != nil {
		return nil, err
	}
	where := `v.model_id = ? AND v.version = (SELECT MAX(v2.version) FROM model_versions v2 WHERE v2.model_id = v.model_id AND v2.current_stage = v.current_stage)`
	args := []any{id}
	if len(stages) > 0 {
		where += ` AND v.current_stage IN (` + placeholders(len(stages)) + `)`
		for _, s := range stages {
			args = append(args, s)
		}
	}
	vs, err := db.queryVersions(ctx, db.read, where, args, `v.version`, 0)
	if err != nil {
		return nil, db.mapErr(err)
	}
	out := make([]*registry.ModelVersion, len(vs))
	for i, r := range vs {
		out[i] = r.v
	}
	return out, nil
}

// versionTx checks a version exists inside tx and returns its model's key.
func (db *DB) versionTx(ctx context.Context, tx *sql.Tx, name string, version int64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT v.model_id FROM model_versions v JOIN registered_models rm ON rm.id = v.model_id
		WHERE rm.name = ? AND v.version = ?`), name, version).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errVersionNotFound(name, version)
	}
	return id, err
}

// UpdateModelVersion implements registry.Store.
func (db *DB) UpdateModelVersion(ctx context.Context, name string, version int64, description string, now int64) (*registry.ModelVersion, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE model_versions SET description = ?, last_updated_time = ? WHERE model_id = ? AND version = ?`), description, now, id, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return db.FindModelVersion(ctx, name, version)
}

// TransitionStage implements registry.Store.
func (db *DB) TransitionStage(ctx context.Context, name string, version int64, stage string, archiveExisting bool, now int64) (*registry.ModelVersion, error) {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		if archiveExisting && (stage == registry.StageStaging || stage == registry.StageProduction) {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET current_stage = ?, last_updated_time = ?
				WHERE model_id = ? AND current_stage = ? AND version != ?`), registry.StageArchived, now, id, stage, version); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE model_id = ? AND version = ?`), stage, now, id, version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE registered_models SET last_updated_time = ? WHERE id = ?`), now, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return db.FindModelVersion(ctx, name, version)
}

// DeleteModelVersion implements registry.Store.
func (db *DB) DeleteModelVersion(ctx context.Context, name string, version int64, now int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		// Tags and aliases go with the version (ON DELETE CASCADE); the
		// model's next_version keeps its number from being handed out again.
		if _, err = tx.ExecContext(ctx, db.q(`DELETE FROM model_versions WHERE model_id = ? AND version = ?`), id, version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`UPDATE registered_models SET last_updated_time = ? WHERE id = ?`), now, id)
		return err
	})
}

// SetModelVersionTag implements registry.Store.
func (db *DB) SetModelVersionTag(ctx context.Context, name string, version int64, t registry.Tag) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		return db.upsertVersionTag(ctx, tx, id, version, t)
	})
}

// DeleteModelVersionTag implements registry.Store.
func (db *DB) DeleteModelVersionTag(ctx context.Context, name string, version int64, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM model_version_tags WHERE model_id = ? AND version = ? AND key = ?`), id, version, key)
		return err
	})
}

// SetAlias implements registry.Store.
func (db *DB) SetAlias(ctx context.Context, name, alias string, version int64) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.versionTx(ctx, tx, name, version)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (?, ?, ?)
			ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version`), id, alias, version)
		return err
	})
}

// DeleteAlias implements registry.Store.
func (db *DB) DeleteAlias(ctx context.Context, name, alias string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		id, err := db.modelID(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, db.q(`DELETE FROM registered_model_aliases WHERE model_id = ? AND alias = ?`), id, alias)
		return err
	})
}

// FindVersionByAlias implements registry.Store.
func (db *DB) FindVersionByAlias(ctx context.Context, name, alias string) (*registry.ModelVersion, error) {
	var version int64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT a.version FROM registered_model_aliases a JOIN registered_models rm ON rm.id = a.model_id
		WHERE rm.name = ? AND a.alias = ?`), name, alias).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := db.modelID(ctx, db.read, name); err != nil {
			return nil, err
		}
		return nil, errs.NotFoundf("Registered model alias %s not found.", alias)
	}
	if err != nil {
		return nil, db.mapErr(err)
	}
	return db.FindModelVersion(ctx, name, version)
}
