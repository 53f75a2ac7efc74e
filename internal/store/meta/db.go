package meta

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cairn-mlops/cairn/internal/errs"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Dialect names a SQL backend.
type Dialect int

// The supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// String returns the dialect's name.
func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Options configure a DB.
type Options struct {
	// ArtifactRoot is the root new experiments' artifact locations are made
	// under, e.g. "mlflow-artifacts:/" (the server proxies artifacts).
	ArtifactRoot string
	// MaxOpenConns caps the read pool (and for PostgreSQL the whole pool).
	MaxOpenConns int
	Logger       *slog.Logger
}

// DefaultOptions returns options for a local server.
func DefaultOptions() Options {
	return Options{ArtifactRoot: "mlflow-artifacts:/", MaxOpenConns: 16, Logger: slog.Default()}
}

// DB is an open metadata database. With SQLite it holds two pools: one
// connection for writes (so writers queue in Go instead of failing with
// "database is locked") and a pool for reads, which WAL lets run alongside.
type DB struct {
	dialect Dialect
	read    *sql.DB
	write   *sql.DB
	opts    Options

	mu     sync.RWMutex
	rebind map[string]string // ?-placeholder SQL -> $n SQL, for PostgreSQL
}

// Open opens (creating if needed) and migrates the database at uri: a file path,
// "sqlite:///abs/path.db", "sqlite::memory:" for tests, or "postgres://..." /
// "postgresql://...".
func Open(ctx context.Context, uri string, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 16
	}
	db := &DB{opts: opts, rebind: map[string]string{}}
	switch {
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		db.dialect = Postgres
		pool, err := sql.Open("pgx", uri)
		if err != nil {
			return nil, errs.Invalidf("open database: invalid PostgreSQL URI: %v", err)
		}
		pool.SetMaxOpenConns(opts.MaxOpenConns)
		pool.SetMaxIdleConns(opts.MaxOpenConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		db.read, db.write = pool, pool
	default:
		db.dialect = SQLite
		path, err := sqlitePath(uri)
		if err != nil {
			return nil, err
		}
		if path != ":memory:" {
			if err := createPrivate(path, opts.Logger); err != nil {
				return nil, fmt.Errorf("open database: %w", err)
			}
		}
		dsn := "file:" + path + "?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
			"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=case_sensitive_like(1)"
		if path == ":memory:" {
			dsn = "file::memory:?mode=memory&cache=shared&_txlock=immediate&_pragma=foreign_keys(1)&_pragma=case_sensitive_like(1)"
		}
		w, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetConnMaxLifetime(0)
		r, err := sql.Open("sqlite", dsn)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open database: %w", err)
		}
		r.SetMaxOpenConns(opts.MaxOpenConns)
		r.SetMaxIdleConns(opts.MaxOpenConns)
		db.read, db.write = r, w
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.write.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, errs.E(errs.Unavailable, "open database %s: %v", redact(uri), err)
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.ensureDefaultExperiment(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// createPrivate makes the SQLite file at path readable by its owner only,
// as it holds password and token hashes: a missing file (and folder) is
// created so, and a looser existing file, or its -wal, -shm or -journal, is
// tightened with a warning. SQLite gives the files it adds the database
// file's mode.
func createPrivate(path string, log *slog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(p, mode&0o700); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", p, err)
			}
			log.Warn("database file was readable by others; restricted it to its owner", "path", p, "was", mode.String(), "now", (mode & 0o700).String())
		}
	}
	return nil
}

func sqlitePath(uri string) (string, error) {
	switch {
	case uri == "sqlite::memory:" || uri == ":memory:":
		return ":memory:", nil
	case strings.HasPrefix(uri, "sqlite://"):
		u, err := url.Parse(uri)
		if err != nil {
			return "", errs.Invalidf("invalid SQLite URI %q: %v", uri, err)
		}
		if u.Path == "" {
			return "", errs.Invalidf("invalid SQLite URI %q: expected sqlite:///path/to/file.db", uri)
		}
		return u.Path, nil
	case strings.Contains(uri, "://"):
		return "", errs.Invalidf("unsupported database URI %q: expected a file path, sqlite:///path.db or postgres://...", redact(uri))
	case uri == "":
		return "", errs.Invalidf("database URI is empty")
	}
	return uri, nil
}

// redact hides a password in a URI for messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes both pools.
func (db *DB) Close() error {
	var err error
	if db.write != nil {
		err = db.write.Close()
	}
	if db.read != nil && db.read != db.write {
		if e := db.read.Close(); err == nil {
			err = e
		}
	}
	return err
}

// q rewrites ?-placeholders to $n for PostgreSQL, caching the result.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	db.mu.RLock()
	out, ok := db.rebind[query]
	db.mu.RUnlock()
	if ok {
		return out
	}
	out = rebind(query)
	// Searches build a new query for each shape of filter; caching only
	// short queries, and only so many, keeps the cache from growing with them.
	if len(query) <= maxRebindQuery {
		db.mu.Lock()
		if len(db.rebind) < maxRebinds {
			db.rebind[query] = out
		}
		db.mu.Unlock()
	}
	return out
}

// The bounds of the rebind cache: at most 16 MiB of queries.
const (
	maxRebindQuery = 4 << 10
	maxRebinds     = 4096
)

// rebind turns each ? outside quotes into $1, $2, ...
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c == '\'' {
			inQuote = !inQuote
		}
		if c == '?' && !inQuote {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs fn in a write transaction, retrying on serialization failures.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return db.mapErr(err)
		}
		err = fn(tx)
		if err == nil {
			err = tx.Commit()
		} else {
			_ = tx.Rollback()
		}
		if err != nil && attempt < 5 && db.retryable(err) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
			}
			continue
		}
		return db.mapErr(err)
	}
}

// retryError marks a failure that a fresh transaction may not hit.
type retryError struct{ error }

func (e retryError) Unwrap() error { return e.error }

func (db *DB) retryable(err error) bool {
	var re retryError
	if errors.As(err, &re) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01" // serialization failure, deadlock
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// isUnique reports whether err is a unique or primary-key violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// mapErr gives database failures an errs kind; *errs.Error passes through.
func (db *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if db.retryable(err) {
		return &errs.Error{Kind: errs.Unavailable, Message: "the database is busy; retry the request", Err: err}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && strings.HasPrefix(pg.Code, "08") {
		return &errs.Error{Kind: errs.Unavailable, Message: "the database is unreachable", Err: err}
	}
	return err
}

// migrate applies the embedded migrations that have not run yet, each in its
// own transaction, recording them in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if db.dialect == Postgres {
		// Serialise concurrent server starts against one database.
		if _, err := db.write.ExecContext(ctx, `SELECT pg_advisory_lock(7265431)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer db.write.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7265431)`)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		var n int
		if err := db.write.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		stmts := splitSQL(db.translate(string(body)))
		err = db.tx(ctx, func(tx *sql.Tx) error {
			for _, s := range stmts {
				if _, err := tx.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("%s: %w\n%s", version, err, s)
				}
			}
			_, err := tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		db.opts.Logger.Debug("applied migration", "version", version, "dialect", db.dialect.String())
	}
	return nil
}

// translate replaces the portable type names used in migrations.
func (db *DB) translate(s string) string {
	if db.dialect == Postgres {
		return strings.NewReplacer("AUTOID", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
			"DOUBLE", "DOUBLE PRECISION", "BOOL", "BOOLEAN", ") CLUSTERED;", ");").Replace(s)
	}
	return strings.NewReplacer("AUTOID", "INTEGER PRIMARY KEY AUTOINCREMENT",
		"DOUBLE", "REAL", "BOOL", "BOOLEAN", ") CLUSTERED;", ") WITHOUT ROWID;").Replace(s)
}

// splitSQL splits a migration on semicolons at line ends, dropping comments.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		if i := strings.Index(line, " -- "); i >= 0 {
			line = line[:i]
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

func (db *DB) ensureDefaultExperiment(ctx context.Context) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM experiments WHERE experiment_id = 0`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		now := time.Now().UnixMilli()
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
			VALUES (0, 'Default', ?, 'active', ?, ?)`), joinRoot(db.opts.ArtifactRoot, "0"), now, now)
		if err != nil && isUnique(err) {
			return nil // another process made it first
		}
		return err
	})
}

func joinRoot(root, id string) string {
	if root == "" {
		return id
	}
	if strings.HasSuffix(root, "/") {
		return root + id
	}
	return root + "/" + id
}

// withDatabase returns a PostgreSQL URI like uri but naming database name.
func withDatabase(uri, name string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
