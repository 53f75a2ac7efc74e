package artifacts

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Location
		problem string // in the error message; "" when valid
	}{
		{in: "file:///data/x", want: Location{Scheme: "file", Path: "/data/x"}},
		{in: "file:/data/x", want: Location{Scheme: "file", Path: "/data/x"}},
		{in: "FILE://localhost/data/x/", want: Location{Scheme: "file", Path: "/data/x"}},
		{in: "file:///data//./x", want: Location{Scheme: "file", Path: "/data/x"}},
		{in: "file:///data/with%20space", want: Location{Scheme: "file", Path: "/data/with space"}},
		{in: "file:///data/100%25", want: Location{Scheme: "file", Path: "/data/100%"}},
		{in: "file:///", want: Location{Scheme: "file", Path: "/"}},
		{in: "/data/x", want: Location{Scheme: "file", Path: "/data/x"}},
		{in: "s3://b", want: Location{Scheme: "s3", Bucket: "b", Path: "/"}},
		{in: "s3://b/p/q/", want: Location{Scheme: "s3", Bucket: "b", Path: "/p/q"}},
		{in: "mlflow-artifacts:/1/abc/artifacts", want: Location{Scheme: "mlflow-artifacts", Path: "/1/abc/artifacts"}},
		{in: "mlflow-artifacts://host:5000/1", want: Location{Scheme: "mlflow-artifacts", Path: "/1"}},
		{in: "mlflow-artifacts:", want: Location{Scheme: "mlflow-artifacts", Path: "/"}},

		{in: "", problem: "is empty"},
		{in: "file:///data/../..", problem: `contains ".."`},
		{in: "file:///data/x/..", problem: `contains ".."`},
		{in: "/data/../etc", problem: `contains ".."`},
		{in: "file:///data/..?", problem: "query"},
		{in: "file:///data/x?y=1", problem: "query"},
		{in: "file:///data/x#frag", problem: "fragments"},
		{in: "file:///data/x;p", problem: "params"},
		{in: "file:///data/%2e%2e/etc", problem: "percent-encoded '.'"},
		{in: "file:///data/%2E%2E/etc", problem: "percent-encoded '.'"},
		{in: "file:///data/%252e%252e/etc", problem: "percent-encoded '.'"},
		{in: "file:///data%2fetc", problem: "percent-encoded '/'"},
		{in: "file:///data/%5c", problem: `percent-encoded '\\'`},
		{in: "file:///data/%00", problem: "percent-encoded"},
		{in: "file:///data/%3f", problem: "percent-encoded '?'"},
		{in: "file:///data/%zz", problem: "not a valid URI"},
		{in: `file:///data\..\etc`, problem: "backslash"},
		{in: "file:///data/\x00", problem: "control character"},
		{in: "file://user@localhost/data", problem: "user info"},
		{in: "file://evil.example/data", problem: "expected file:///abs/path"},
		{in: "file://localhost:80/data", problem: "expected file:///abs/path"},
		{in: "file:data", problem: "expected file:///abs/path"},
		{in: "file://", problem: "expected file:///abs/path"},
		{in: "data/x", problem: "not an absolute path"},
		{in: "./x", problem: "not an absolute path"},
		{in: "/data/100%", problem: "plain path with a '%'"},
		{in: "s3:///p", problem: "names no bucket"},
		{in: "s3:b/p", problem: "names no bucket"},
		{in: "s3://key:secret@b/p", problem: "user info"},
		{in: "s3://b/a/../b", problem: `contains ".."`},
		{in: "mlflow-artifacts:/../x", problem: `contains ".."`},
		{in: "mlflow-artifacts:x", problem: "expected mlflow-artifacts:/path"},
		{in: "gs://b/p", problem: "unsupported scheme 'gs'"},
		{in: "runs:/abc/model", problem: "unsupported scheme 'runs'"},
		{in: "http://host/x", problem: "unsupported scheme 'http'"},
		{in: "C:/x", problem: "unsupported scheme 'c'"},
	} {
		got, err := ParseLocation(tc.in)
		if tc.problem != "" {
			require.True(t, errs.Is(err, errs.Invalid), "%q: %v", tc.in, err)
			require.Contains(t, err.Error(), tc.problem, "%q", tc.in)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
		again, err := ParseLocation(got.String())
		require.NoError(t, err, "%q reads back from %q", tc.in, got.String())
		require.Equal(t, got, again, "%q reads back from %q", tc.in, got.String())
	}
}

func TestLocationWithin(t *testing.T) {
	loc := func(s string) Location {
		l, err := ParseLocation(s)
		require.NoError(t, err)
		return l
	}
	for _, tc := range []struct {
		uri, root string
		rel       string
		ok        bool
	}{
		{"file:///X", "file:///X", "", true},
		{"file:///X/1/a", "file:///X", "1/a", true},
		{"file:///X/1/a", "file:///", "X/1/a", true},
		{"/X/1", "file:///X/", "1", true},
		{"file:///Xevil", "file:///X", "", false},
		{"file:///Xevil/1", "file:///X", "", false},
		{"file:///", "file:///X", "", false},
		{"s3://b/p/1", "s3://b/p", "1", true},
		{"s3://b/pp/1", "s3://b/p", "", false},
		{"s3://other/p/1", "s3://b/p", "", false},
		{"s3://b/x", "s3://b", "x", true},
		{"file:///b/p", "s3://b/p", "", false},
		{"mlflow-artifacts:/1/r", "mlflow-artifacts:/", "1/r", true},
	} {
		rel, ok := loc(tc.uri).Within(loc(tc.root))
		require.Equal(t, tc.ok, ok, "%s in %s", tc.uri, tc.root)
		require.Equal(t, tc.rel, rel, "%s in %s", tc.uri, tc.root)
	}
}

// TestRootsResolve checks a location is served by the deepest root holding
// it and by no store when it lies outside them all, whatever its spelling.
func TestRootsResolve(t *testing.T) {
	dir := t.TempDir()
	own, err := openLocal(filepath.Join(dir, "own"))
	require.NoError(t, err)
	shared, err := openLocal(filepath.Join(dir, "shared"))
	require.NoError(t, err)
	nested, err := openLocal(filepath.Join(dir, "shared", "nested"))
	require.NoError(t, err)
	r := NewRoots(own)
	require.NoError(t, r.Add(shared))
	require.NoError(t, r.Add(nested))
	require.ElementsMatch(t, []Store{nested, own, shared}, r.Stores())

	for _, tc := range []struct {
		uri   string
		store Store
		path  string
		kind  errs.Kind // when store is nil
	}{
		{uri: "mlflow-artifacts:/1/r/artifacts", store: own, path: "1/r/artifacts"},
		{uri: "mlflow-artifacts:/", store: own, path: ""},
		{uri: "file://" + dir + "/own/1", store: own, path: "1"},
		{uri: dir + "/shared/1", store: shared, path: "1"},
		{uri: "file://" + dir + "/shared/nested/2", store: nested, path: "2"},
		{uri: "file://" + dir + "/shared", store: shared, path: ""},
		{uri: "file://" + dir + "/shared/.cairn/tmp", kind: errs.Invalid},
		{uri: "file://" + dir + "/sharedevil", kind: errs.PermissionDenied},
		{uri: "file://" + dir, kind: errs.PermissionDenied},
		{uri: "file:///etc", kind: errs.PermissionDenied},
		{uri: "s3://b/p", kind: errs.PermissionDenied},
		{uri: "file://" + dir + "/shared/../..?", kind: errs.Invalid},
		{uri: "file://" + dir + "/shared/%2e%2e/%2e%2e", kind: errs.Invalid},
		{uri: "runs:/abc/model", kind: errs.Invalid},
	} {
		s, p, err := r.Resolve(tc.uri)
		if tc.store == nil {
			require.Equal(t, tc.kind, errs.KindOf(err), "%s: %v", tc.uri, err)
			continue
		}
		require.NoError(t, err, tc.uri)
		require.Same(t, tc.store, s, tc.uri)
		require.Equal(t, tc.path, p, tc.uri)
	}
}

// TestRootsResolveS3 checks an S3 root serves its own prefix of its own
// bucket and nothing else.
func TestRootsResolveS3(t *testing.T) {
	opts := DefaultOptions()
	opts.S3AccessKeyID, opts.S3SecretAccessKey = "id", "secret" // so no credential chain runs
	own, err := openLocal(t.TempDir())
	require.NoError(t, err)
	bucket, err := Open(t.Context(), "s3://bucket/team/", opts)
	require.NoError(t, err)
	r := NewRoots(own)
	require.NoError(t, r.Add(bucket))
	s, p, err := r.Resolve("s3://bucket/team/1/run/artifacts")
	require.NoError(t, err)
	require.Same(t, bucket, s)
	require.Equal(t, "1/run/artifacts", p)
	for _, uri := range []string{"s3://bucket", "s3://bucket/teamevil/1", "s3://bucket/other", "s3://other/team/1"} {
		_, _, err := r.Resolve(uri)
		require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%s: %v", uri, err)
	}
	_, _, err = r.Resolve("s3://bucket/team/%2e%2e/other")
	require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
}
