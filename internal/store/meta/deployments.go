package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Deployment is a stored model server deployment: its name and its
// configuration as JSON, which this package does not interpret.
type Deployment struct {
	Name    string
	Config  []byte
	Created time.Time
	Updated time.Time
}

// SaveDeployment creates or replaces a deployment.
func (db *DB) SaveDeployment(ctx context.Context, name string, config []byte) error {
	now := time.Now().UnixMilli()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO deployments (name, config, creation_time, last_update_time) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET config = excluded.config, last_update_time = excluded.last_update_time`),
			name, string(config), now, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("save deployment: %w", err)
	}
	return nil
}

// DeleteDeployment removes a deployment. Errors: NotFound.
func (db *DB) DeleteDeployment(ctx context.Context, name string) error {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM deployments WHERE name = ?`), name)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("delete deployment: %w", err)
	}
	if n == 0 {
		return errs.NotFoundf("deployment '%s' does not exist", name)
	}
	return nil
}

// FindDeployments returns every deployment, by name.
func (db *DB) FindDeployments(ctx context.Context) ([]Deployment, error) {
	var out []Deployment
	err := db.eachRow(ctx, db.read, `SELECT name, config, creation_time, last_update_time FROM deployments ORDER BY name`, nil, func(rows *sql.Rows) error {
		var d Deployment
		var cfg string
		var created, updated int64
		if err := rows.Scan(&d.Name, &cfg, &created, &updated); err != nil {
			return err
		}
		d.Config, d.Created, d.Updated = []byte(cfg), utcMillis(created), utcMillis(updated)
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find deployments: %w", err)
	}
	return out, nil
}
