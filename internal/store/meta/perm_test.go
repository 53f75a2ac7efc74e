package meta

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/auth"
)

func perm(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// TestSQLiteFilesArePrivate: the database holds password and token hashes,
// so its files are created for their owner only, and looser ones left by
// older versions are tightened with a warning.
func TestSQLiteFilesArePrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "cairn.db")
	db, err := Open(ctx, path, DefaultOptions())
	require.NoError(t, err)
	require.NoError(t, db.CreateUser(ctx, &auth.User{Name: "u", Role: auth.RoleAdmin, PasswordHash: []byte("h")}))
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		require.Equal(t, fs.FileMode(0o600), perm(t, p), p)
	}
	require.Equal(t, fs.FileMode(0o700), perm(t, dir))
	require.NoError(t, db.Close())

	// As an older version left them: the database, and an empty WAL and
	// shared-memory file, readable by all.
	require.NoError(t, os.Chmod(path, 0o644))
	for _, p := range []string{path + "-wal", path + "-shm"} {
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Chmod(p, 0o644))
	}
	var logs bytes.Buffer
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	db, err = Open(ctx, path, opts)
	require.NoError(t, err)
	defer db.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		require.Equal(t, fs.FileMode(0o600), perm(t, p), p)
		require.Contains(t, logs.String(), "path="+p+" was=-rw-r--r-- now=-rw-------")
	}
	require.Contains(t, logs.String(), "level=WARN msg=\"database file was readable by others")
	_, err = db.FindUserByName(ctx, "u")
	require.NoError(t, err, "the database still works")
}
