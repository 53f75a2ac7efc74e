package meta

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// backends returns the databases every contract test runs against: SQLite in a
// temp dir, and PostgreSQL when CAIRN_TEST_POSTGRES_URL names an admin
// connection (each test gets its own fresh database there). In CI the
// PostgreSQL backend is required.
func backends(t *testing.T) map[string]func(t *testing.T) *DB {
	out := map[string]func(t *testing.T) *DB{
		"sqlite": func(t *testing.T) *DB {
			db, err := Open(context.Background(), filepath.Join(t.TempDir(), "cairn.db"), DefaultOptions())
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
	admin := os.Getenv("CAIRN_TEST_POSTGRES_URL")
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CAIRN_TEST_POSTGRES_URL is not set: CI must run the store tests against PostgreSQL (.ci/run starts it)")
		}
		t.Log("CAIRN_TEST_POSTGRES_URL not set: PostgreSQL backend skipped")
		return out
	}
	out["postgres"] = func(t *testing.T) *DB { return openTestPostgres(t, admin) }
	return out
}

func openTestPostgres(t *testing.T, admin string) *DB {
	ctx := context.Background()
	a, err := sql.Open("pgx", admin)
	require.NoError(t, err)
	defer a.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "cairn_test_" + hex.EncodeToString(b[:])
	_, err = a.ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	uri, err := withDatabase(admin, name)
	require.NoError(t, err)
	db, err := Open(ctx, uri, DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", admin)
		if err == nil {
			_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			a.Close()
		}
	})
	return db
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, db *DB)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) { fn(t, open(t)) })
	}
}
