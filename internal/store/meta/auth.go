package meta

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/auth"
	"github.com/cairn-mlops/cairn/internal/errs"
)

var _ auth.Store = (*DB)(nil)

// utcMillis is the time of a BIGINT column of Unix milliseconds.
func utcMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullableMillis stores the zero time as NULL.
func nullableMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func utcNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return utcMillis(n.Int64)
}

func errNoSuchUser(name string) error { return errs.NotFoundf("no user named '%s' exists", name) }

// CreateUser implements auth.Store.
func (db *DB) CreateUser(ctx context.Context, u *auth.User) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO users (name, role, password_hash, creation_time) VALUES (?, ?, ?, ?)`),
			u.Name, string(u.Role), string(u.PasswordHash), u.CreationTime.UnixMilli())
		if isUnique(err) {
			return errs.Conflictf("user '%s' already exists", u.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

const userCols = `name, role, password_hash, creation_time`

func scanUser(sc interface{ Scan(...any) error }) (auth.User, error) {
	var u auth.User
	var role, hash string
	var created int64
	if err := sc.Scan(&u.Name, &role, &hash, &created); err != nil {
		return auth.User{}, err
	}
	u.Role, u.PasswordHash, u.CreationTime = auth.Role(role), []byte(hash), utcMillis(created)
	return u, nil
}

// FindUserByName implements auth.Store.
func (db *DB) FindUserByName(ctx context.Context, name string) (*auth.User, error) {
	u, err := scanUser(db.read.QueryRowContext(ctx, db.q(`SELECT `+userCols+` FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoSuchUser(name)
	}
	if err != nil {
		return nil, fmt.Errorf("find user: %w", db.mapErr(err))
	}
	return &u, nil
}

// FindUsers implements auth.Store.
func (db *DB) FindUsers(ctx context.Context) ([]auth.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", db.mapErr(err))
	}
	defer rows.Close()
	var out []auth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("find users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find users: %w", db.mapErr(err))
	}
	return out, nil
}

// CountUsers implements auth.Store.
func (db *DB) CountUsers(ctx context.Context, r auth.Role) (int, error) {
	var n int
	var err error
	if r == "" {
		err = db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	} else {
		err = db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM users WHERE role = ?`), string(r)).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count users: %w", db.mapErr(err))
	}
	return n, nil
}

// UpdateUser implements auth.Store.
func (db *DB) UpdateUser(ctx context.Context, name string, u auth.UserUpdate) error {
	var set []string
	var args []any
	if u.PasswordHash != nil {
		set, args = append(set, "password_hash = ?"), append(args, string(u.PasswordHash))
	}
	if u.Role != "" {
		set, args = append(set, "role = ?"), append(args, string(u.Role))
	}
	if len(set) == 0 {
		_, err := db.FindUserByName(ctx, name)
		return err
	}
	args = append(args, name)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE users SET `+strings.Join(set, ", ")+` WHERE name = ?`), args...)
		if err != nil {
			return err
		}
		return mustAffect(res, "no user named '%s' exists", name)
	})
	if err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// DeleteUser implements auth.Store.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The foreign key cascades too; deleting here does not depend on it.
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM tokens WHERE user_name = ?`), name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM users WHERE name = ?`), name)
		if err != nil {
			return err
		}
		return mustAffect(res, "no user named '%s' exists", name)
	})
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// CreateToken implements auth.Store.
func (db *DB) CreateToken(ctx context.Context, t *auth.Token) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM users WHERE name = ?`), t.User).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errNoSuchUser(t.User)
		}
		scope := ""
		if t.Scope != nil {
			scope = t.Scope.String()
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO tokens (token_id, user_name, name, prefix, token_hash, creation_time, expiry_time, last_used_time, scope)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.ID, t.User, t.Name, t.Prefix, hex.EncodeToString(t.Hash), t.CreationTime.UnixMilli(), nullableMillis(t.ExpiryTime), nullableMillis(t.LastUsedTime), scope)
		if isUnique(err) {
			return errs.Conflictf("user '%s' already has a token named '%s'", t.User, t.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

const tokenCols = `token_id, user_name, name, prefix, token_hash, creation_time, expiry_time, last_used_time, scope`

func scanToken(sc interface{ Scan(...any) error }) (auth.Token, error) {
	var t auth.Token
	var hash string
	var created int64
	var expiry, used sql.NullInt64
	var scope string
	if err := sc.Scan(&t.ID, &t.User, &t.Name, &t.Prefix, &hash, &created, &expiry, &used, &scope); err != nil {
		return auth.Token{}, err
	}
	s, err := auth.ParseScope(scope)
	if err != nil {
		return auth.Token{}, fmt.Errorf("token %s: %w", t.ID, err)
	}
	t.Scope = s
	h, err := hex.DecodeString(hash)
	if err != nil {
		return auth.Token{}, fmt.Errorf("token %s: corrupt hash: %w", t.ID, err)
	}
	t.Hash, t.CreationTime = h, utcMillis(created)
	t.ExpiryTime, t.LastUsedTime = utcNullMillis(expiry), utcNullMillis(used)
	return t, nil
}

// FindTokenByHash implements auth.Store.
func (db *DB) FindTokenByHash(ctx context.Context, hash []byte) (*auth.Token, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, db.q(`SELECT `+tokenCols+` FROM tokens WHERE token_hash = ?`), hex.EncodeToString(hash)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no such token")
	}
	if err != nil {
		return nil, fmt.Errorf("find token: %w", db.mapErr(err))
	}
	return &t, nil
}

// FindTokens implements auth.Store.
func (db *DB) FindTokens(ctx context.Context, user string) ([]auth.Token, error) {
	query, args := `SELECT `+tokenCols+` FROM tokens ORDER BY user_name, creation_time, token_id`, []any(nil)
	if user != "" {
		query = `SELECT ` + tokenCols + ` FROM tokens WHERE user_name = ? ORDER BY user_name, creation_time, token_id`
		args = []any{user}
	}
	rows, err := db.read.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", db.mapErr(err))
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("find tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find tokens: %w", db.mapErr(err))
	}
	return out, nil
}

// UpdateTokenLastUsed implements auth.Store.
func (db *DB) UpdateTokenLastUsed(ctx context.Context, id string, at time.Time) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`UPDATE tokens SET last_used_time = ? WHERE token_id = ?`), at.UnixMilli(), id)
		if err != nil {
			return err
		}
		return mustAffect(res, "no token with ID '%s' exists", id)
	})
	if err != nil {
		return fmt.Errorf("update token: %w", err)
	}
	return nil
}

// DeleteToken implements auth.Store.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM tokens WHERE token_id = ?`), id)
		if err != nil {
			return err
		}
		return mustAffect(res, "no token with ID '%s' exists", id)
	})
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	return nil
}

// ExperimentOfRun implements auth.Resources.
func (db *DB) ExperimentOfRun(ctx context.Context, runID string) (string, error) {
	return db.experimentOf(ctx, `SELECT experiment_id FROM runs WHERE run_uuid = ?`, runID, "run")
}

// ExperimentOfLoggedModel implements auth.Resources.
func (db *DB) ExperimentOfLoggedModel(ctx context.Context, modelID string) (string, error) {
	return db.experimentOf(ctx, `SELECT experiment_id FROM logged_models WHERE model_id = ?`, modelID, "logged model")
}

func (db *DB) experimentOf(ctx context.Context, query, id, what string) (string, error) {
	var exp int64
	err := db.read.QueryRowContext(ctx, db.q(query), id).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errs.NotFoundf("no %s with ID '%s'", what, id)
	}
	if err != nil {
		return "", fmt.Errorf("find %s: %w", what, db.mapErr(err))
	}
	return strconv.FormatInt(exp, 10), nil
}
