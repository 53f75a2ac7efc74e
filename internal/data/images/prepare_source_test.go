package images

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// zipOf packs every file under dir into a zip archive, below prefix.
func zipOf(t testing.TB, dir, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}))
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestPrepareImagesZipSource(t *testing.T) {
	folder := t.TempDir()
	fingersFolder(t, folder, 2)
	// macOS archives carry resource forks: ignored like hidden files.
	writeFile(t, filepath.Join(folder, "__MACOSX", "._a_1L.png"), []byte("fork"))
	fromFolder, err := Prepare(context.Background(), prepOpts(t, folder))
	require.NoError(t, err)

	for _, prefix := range []string{"", "fingers/"} {
		t.Run("prefix "+prefix, func(t *testing.T) {
			zp := filepath.Join(t.TempDir(), "fingers.zip")
			z := zipOf(t, folder, prefix)
			writeFile(t, zp, z)
			res, err := Prepare(context.Background(), prepOpts(t, zp))
			require.NoError(t, err)
			require.Equal(t, 24, res.Manifest.Count)
			// Same files, same parameters: the same content hash as the folder.
			require.Equal(t, fromFolder.Hash, res.Hash)
			sum := sha256.Sum256(z)
			require.Equal(t, hex.EncodeToString(sum[:]), res.Manifest.Params["source_sha256"])
		})
	}

	t.Run("checksum of a local zip", func(t *testing.T) {
		zp := filepath.Join(t.TempDir(), "f.zip")
		writeFile(t, zp, zipOf(t, folder, ""))
		opt := prepOpts(t, zp)
		opt.SHA256 = strings.Repeat("ab", 32)
		_, err := Prepare(context.Background(), opt)
		require.True(t, errs.Is(err, errs.Invalid), "%v", err)
		require.Contains(t, err.Error(), "expected "+opt.SHA256)
	})
	t.Run("not a zip", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "data.tar")
		writeFile(t, p, []byte("not an archive"))
		_, err := Prepare(context.Background(), prepOpts(t, p))
		require.True(t, errs.Is(err, errs.Invalid), "%v", err)
		require.Contains(t, err.Error(), "data.tar")
		require.Contains(t, err.Error(), "zip")
	})
	t.Run("corrupt image in a zip names the entry", func(t *testing.T) {
		dir := t.TempDir()
		fingersFolder(t, dir, 1)
		writeFile(t, filepath.Join(dir, "bad_3R.png"), []byte("nope"))
		zp := filepath.Join(t.TempDir(), "bad.zip")
		writeFile(t, zp, zipOf(t, dir, "top/"))
		_, err := Prepare(context.Background(), prepOpts(t, zp))
		require.True(t, errs.Is(err, errs.Invalid), "%v", err)
		require.Contains(t, err.Error(), "bad.zip!top/bad_3R.png")
	})
}

func TestPrepareImagesHTTPSource(t *testing.T) {
	folder := t.TempDir()
	fingersFolder(t, folder, 2)
	z := zipOf(t, folder, "fingers/")
	sum := sha256.Sum256(z)
	digest := hex.EncodeToString(sum[:])
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/fingers.zip" {
			http.NotFound(w, r)
			return
		}
		w.Write(z)
	}))
	defer srv.Close()
	cacheDir := filepath.Join(t.TempDir(), "cache")
	opts := func(url, sha string) PrepareOptions {
		o := prepOpts(t, url)
		o.CacheDir, o.SHA256 = cacheDir, sha
		return o
	}

	res, err := Prepare(context.Background(), opts(srv.URL+"/fingers.zip", digest))
	require.NoError(t, err)
	require.Equal(t, 24, res.Manifest.Count)
	require.Equal(t, digest, res.SourceSHA256)
	require.FileExists(t, filepath.Join(cacheDir, "downloads", digest+".zip"))
	require.EqualValues(t, 1, requests.Load())

	// A pinned checksum already downloaded needs no request, and is a hit.
	again, err := Prepare(context.Background(), opts(srv.URL+"/fingers.zip", strings.ToUpper(digest)))
	require.NoError(t, err)
	require.True(t, again.Hit)
	require.EqualValues(t, 1, requests.Load())

	// Without a checksum it downloads again (the content may have changed).
	unpinned, err := Prepare(context.Background(), opts(srv.URL+"/fingers.zip", ""))
	require.NoError(t, err)
	require.True(t, unpinned.Hit)
	require.Equal(t, digest, unpinned.SourceSHA256)
	require.EqualValues(t, 2, requests.Load())

	tests := []struct {
		name string
		opt  PrepareOptions
		kind errs.Kind
		msgs []string
	}{
		{"checksum mismatch", opts(srv.URL+"/fingers.zip", strings.Repeat("0", 64)), errs.Invalid,
			[]string{"checksum mismatch", "expected " + strings.Repeat("0", 64), "got " + digest}},
		{"bad checksum", opts(srv.URL+"/fingers.zip", "abc"), errs.Invalid, []string{"64 hex digits"}},
		{"not found", opts(srv.URL+"/missing.zip", ""), errs.NotFound, []string{"404"}},
		{"required checksum", func() PrepareOptions {
			o := opts(srv.URL+"/fingers.zip", "")
			o.RequireSHA256 = true
			return o
		}(), errs.Invalid, []string{"checksum is required"}},
		{"unreachable", opts("http://127.0.0.1:1/x.zip", ""), errs.Unavailable, []string{"127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(context.Background(), tt.opt)
			require.Error(t, err)
			require.Equal(t, tt.kind, errs.KindOf(err), "%v", err)
			for _, m := range tt.msgs {
				require.Contains(t, err.Error(), m)
			}
		})
	}
	// A failed checksum leaves nothing behind under a digest name.
	entries, err := os.ReadDir(filepath.Join(cacheDir, "downloads"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}
