package artifacts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	s3opts := DefaultOptions()
	s3opts.S3AccessKeyID, s3opts.S3SecretAccessKey = "id", "secret" // so no credential chain runs
	for _, tc := range []struct {
		uri     string
		opts    Options
		wantURI string
		problem string // in the error message; "" when Open succeeds
	}{
		{uri: dir + "/plain", wantURI: "file://" + dir + "/plain"},
		{uri: "file://" + dir + "/new/nested", wantURI: "file://" + dir + "/new/nested"},
		{uri: "file://localhost" + dir + "/host", wantURI: "file://" + dir + "/host"},
		{uri: "file://" + dir + "/with%20space", wantURI: "file://" + dir + "/with%20space"},
		{uri: "s3://bucket", opts: s3opts, wantURI: "s3://bucket"},
		{uri: "s3://bucket/some/prefix/", opts: s3opts, wantURI: "s3://bucket/some/prefix"},
		{uri: "S3://bucket/p", opts: s3opts, wantURI: "s3://bucket/p"},
		{uri: "", problem: "is empty"},
		{uri: "gs://bucket/p", problem: "unsupported scheme 'gs'; supported: a plain path, file:///abs/path, s3://bucket/prefix"},
		{uri: "file://host/x", problem: "expected file:///abs/path"},
		{uri: "file://", problem: "expected file:///abs/path"},
		{uri: "s3:///p", opts: s3opts, problem: "names no bucket"},
		{uri: "s3://bucket/a/../b", opts: s3opts, problem: `contains ".."`},
		{uri: "s3://bucket", opts: Options{PartSize: 1 << 20}, problem: "part size"},
	} {
		s, err := Open(t.Context(), tc.uri, tc.opts)
		if tc.problem != "" {
			require.True(t, errs.Is(err, errs.Invalid), "%q: %v", tc.uri, err)
			require.Contains(t, err.Error(), tc.problem, "%q", tc.uri)
			continue
		}
		require.NoError(t, err, "%q", tc.uri)
		require.Equal(t, tc.wantURI, s.URI(), "%q", tc.uri)
		_, ok := s.(Multipart)
		require.True(t, ok, "%q implements Multipart", tc.uri)
	}
	for _, sub := range []string{"plain", "new/nested", "host", "with space"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		require.NoError(t, err, "Open made %q", sub)
		require.True(t, fi.IsDir())
	}
}

// TestOpenRelative checks a relative path resolves against the working folder.
func TestOpenRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(t.Context(), "artifacts", DefaultOptions())
	require.NoError(t, err)
	require.Equal(t, "file://"+dir+"/artifacts", s.URI())
}
