package artifacts

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func newLocal(t testing.TB) *localStore {
	t.Helper()
	s, err := openLocal(t.TempDir())
	require.NoError(t, err)
	return s
}

func TestLocal(t *testing.T) {
	runContract(t, func(t *testing.T) Store { return newLocal(t) })
}

// TestLocalLeavesNoTempFiles checks the private tree is empty after failed
// and aborted writes.
func TestLocalLeavesNoTempFiles(t *testing.T) {
	s := newLocal(t)
	ctx := t.Context()
	require.Error(t, s.Put(ctx, "a.txt", failing(1<<20)))
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Put(canceled, "b.txt", bytes.NewReader(make([]byte, 1<<20))), context.Canceled)
	id, err := s.CreateMultipart(ctx, "c.bin")
	require.NoError(t, err)
	_, err = s.UploadPart(ctx, "c.bin", id, 1, failing(10))
	require.Error(t, err)
	require.NoError(t, s.AbortMultipart(ctx, "c.bin", id))

	dir := filepath.FromSlash(s.root.Name() + "/" + reserved)
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}))
	require.Empty(t, files)
}

// TestLocalUploadTargetsOnePath checks an upload ID is bound to its path.
func TestLocalUploadTargetsOnePath(t *testing.T) {
	s := newLocal(t)
	id, err := s.CreateMultipart(t.Context(), "a.bin")
	require.NoError(t, err)
	_, err = s.UploadPart(t.Context(), "b.bin", id, 1, bytes.NewReader([]byte("x")))
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
	for _, bad := range []string{"../tmp", "a/b", "a.b"} {
		err := s.AbortMultipart(t.Context(), "a.bin", bad)
		require.True(t, errs.Is(err, errs.NotFound), "%q: %v", bad, err)
	}
}

// TestLocalConflicts checks a file and a folder cannot share a path.
func TestLocalConflicts(t *testing.T) {
	s := newLocal(t)
	put(t, s, "dir/file.txt", "x")
	for _, p := range []string{"dir", "dir/file.txt/below"} {
		err := s.Put(t.Context(), p, bytes.NewReader([]byte("y")))
		require.True(t, errs.Is(err, errs.Invalid), "put %q: %v", p, err)
	}
	require.Equal(t, []string{"dir/file.txt"}, paths(t, s, "dir"))
}

// TestLocalSymlinkStaysInside checks a link out of the root is not followed.
func TestLocalSymlinkStaysInside(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644))
	s := newLocal(t)
	require.NoError(t, os.Symlink(outside, filepath.Join(s.root.Name(), "link")))
	_, _, err := s.Get(t.Context(), "link/secret")
	require.Error(t, err)
	require.Error(t, s.Put(t.Context(), "link/planted", bytes.NewReader([]byte("x"))))
	_, err = os.Stat(filepath.Join(outside, "planted"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func BenchmarkLocal(b *testing.B) {
	data := bytes.Repeat([]byte("cairn"), 1<<20/5+1)[:1<<20]
	s := newLocal(b)
	ctx := context.Background()
	b.Run("Put1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := s.Put(ctx, "bench/put.bin", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	require.NoError(b, s.Put(ctx, "bench/get.bin", bytes.NewReader(data)))
	b.Run("Get1MiB", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			rc, _, err := s.Get(ctx, "bench/get.bin")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	})
}

// TestLocalSymlinkOutOfRoot checks a symbolic link inside the folder that
// leads out of it is refused as an invalid path, not a server failure, on
// every operation.
func TestLocalSymlinkOutOfRoot(t *testing.T) {
	s := newLocal(t)
	ctx := t.Context()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600))
	root := s.root.Name()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "out")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "secret")))

	_, _, err := s.Get(ctx, "out/secret")
	require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	_, _, err = s.Get(ctx, "secret")
	require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	_, err = s.List(ctx, "out")
	require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	err = s.Put(ctx, "out/planted", strings.NewReader("x"))
	require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	id, err := s.CreateMultipart(ctx, "out/planted")
	require.NoError(t, err, "the upload starts; completing it is refused")
	etag, err := s.UploadPart(ctx, "out/planted", id, 1, strings.NewReader("x"))
	require.NoError(t, err)
	err = s.CompleteMultipart(ctx, "out/planted", id, []Part{{Number: 1, ETag: etag}})
	require.True(t, errs.Is(err, errs.Invalid), "%v", err)
	_, err = os.Stat(filepath.Join(outside, "planted"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// The links themselves show in no listing, and deleting one removes
	// the link, not what it points at.
	infos, err := s.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, infos)
	require.NoError(t, s.Delete(ctx, "out"))
	_, err = os.Stat(filepath.Join(outside, "secret"))
	require.NoError(t, err)
}

// TestLocalSweep checks Sweep removes the temporary files and multipart
// uploads a crash left behind once they are old, and nothing in use.
func TestLocalSweep(t *testing.T) {
	s := newLocal(t)
	ctx := t.Context()
	private := filepath.Join(s.root.Name(), filepath.FromSlash(reserved))
	old := time.Now().Add(-48 * time.Hour)
	age := func(p string) { require.NoError(t, os.Chtimes(p, old, old)) }

	stale := filepath.Join(private, "tmp", "crashed-put")
	require.NoError(t, os.WriteFile(stale, []byte("partial"), 0o600))
	age(stale)
	fresh := filepath.Join(private, "tmp", "being-written")
	require.NoError(t, os.WriteFile(fresh, []byte("partial"), 0o600))
	abandoned, err := s.CreateMultipart(ctx, "abandoned.bin")
	require.NoError(t, err)
	age(filepath.Join(private, "multipart", abandoned))
	active, err := s.CreateMultipart(ctx, "active.bin")
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "kept.txt", strings.NewReader("artifact")))
	age(filepath.Join(s.root.Name(), "kept.txt"))

	n, err := s.Sweep(ctx, 24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = os.Stat(stale)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(fresh)
	require.NoError(t, err)
	_, err = s.UploadPart(ctx, "abandoned.bin", abandoned, 1, strings.NewReader("x"))
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
	etag, err := s.UploadPart(ctx, "active.bin", active, 1, strings.NewReader("x"))
	require.NoError(t, err)
	require.NoError(t, s.CompleteMultipart(ctx, "active.bin", active, []Part{{Number: 1, ETag: etag}}))
	_, _, err = s.Get(ctx, "kept.txt")
	require.NoError(t, err, "artifacts are never swept, however old")

	n, err = s.Sweep(ctx, 24*time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
}
