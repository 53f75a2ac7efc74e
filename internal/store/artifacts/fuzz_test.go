package artifacts

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// FuzzLocation checks that whatever artifact location the server accepts
// resolves inside the root that serves it. Each input is a URI written
// after one of the prefixes below, against a root folder with a look-alike
// sibling, a secret next to it and a symbolic link out of it. An accepted
// location must read back as itself, hide no '/' or ".." from a parser
// that decodes it once more, lie under the root it resolves to, and never
// reach the secret.
func FuzzLocation(f *testing.F) {
	base := f.TempDir()
	dir := filepath.Join(base, "root")
	require.NoError(f, os.MkdirAll(filepath.Join(dir, "1", "run"), 0o755))
	require.NoError(f, os.MkdirAll(filepath.Join(base, "rootevil"), 0o755))
	const secret = "SECRET"
	for _, p := range []string{filepath.Join(base, "secret"), filepath.Join(base, "rootevil", "secret")} {
		require.NoError(f, os.WriteFile(p, []byte(secret), 0o600))
	}
	require.NoError(f, os.WriteFile(filepath.Join(dir, "1", "run", "ok"), []byte("ok"), 0o600))
	require.NoError(f, os.Symlink(filepath.Join(base, "secret"), filepath.Join(dir, "link")))
	require.NoError(f, os.Symlink(base, filepath.Join(dir, "up")))
	own, err := openLocal(filepath.Join(base, "own"))
	require.NoError(f, err)
	st, err := openLocal(dir)
	require.NoError(f, err)
	roots := NewRoots(own)
	require.NoError(f, roots.Add(st))
	rootLoc, err := ParseLocation(st.URI())
	require.NoError(f, err)
	prefixes := []string{"file://" + dir, dir, "file://localhost" + dir, "mlflow-artifacts:", "s3://bucket", ""}

	for _, seed := range []struct {
		prefix uint8
		rest   string
	}{
		{0, "/1/run"}, {0, "/../.."}, {0, "/../..?"}, {0, "/..%2f..%2fsecret"}, {0, "/%2e%2e/secret"}, {0, "/%2E%2E/%2e%2e/etc/passwd"},
		{0, "/%252e%252e/secret"}, {0, "evil/secret"}, {0, "/1/run#/../../secret"}, {0, "/1;/../../secret"}, {0, "/1/run/ok"},
		{0, "/link"}, {0, "/up/secret"}, {0, "/./1//run/"}, {0, `/..\..\secret`}, {0, "/\x00/secret"}, {0, "/%00"},
		{1, "/1/run"}, {1, "/../secret"}, {1, "evil/secret"}, {1, "/%2e%2e/secret"},
		{2, "/1/run"}, {2, ":80/1"}, {3, "/../../secret"}, {3, "//host/1"}, {3, "/.cairn/tmp"}, {4, "/p/../../x"},
		{5, "file:///etc/passwd"}, {5, "file://user@localhost/etc"}, {5, "/etc/passwd"}, {5, "runs:/x/model"}, {5, "gs://b/p"},
	} {
		f.Add(seed.prefix, seed.rest)
	}
	f.Fuzz(func(t *testing.T, prefix uint8, rest string) {
		uri := prefixes[int(prefix)%len(prefixes)] + rest
		loc, err := ParseLocation(uri)
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%q: %v", uri, err)
			return
		}
		again, err := ParseLocation(loc.String())
		require.NoError(t, err, "%q reads back from %q", uri, loc.String())
		require.Equal(t, loc, again, "%q reads back from %q", uri, loc.String())
		require.True(t, strings.HasPrefix(loc.Path, "/"), "%q: %q", uri, loc.Path)
		segs := strings.Split(loc.Path, "/")
		decoded := strings.Split(decodeAll(loc.Path), "/")
		require.Len(t, decoded, len(segs), "%q hides a '/' from a decoding parser", uri)
		for _, seg := range decoded {
			require.NotContains(t, []string{".", ".."}, seg, "%q hides %q from a decoding parser", uri, seg)
			require.NotContains(t, seg, `\`, "%q", uri)
		}

		s, p, err := roots.Resolve(uri)
		if err != nil {
			require.Contains(t, []errs.Kind{errs.Invalid, errs.PermissionDenied}, errs.KindOf(err), "%q: %v", uri, err)
			return
		}
		clean, err := artifact.ValidatePath(p)
		require.NoError(t, err, "%q", uri)
		require.Equal(t, p, clean, "%q", uri)
		if s != st {
			return
		}
		rel, ok := loc.Within(rootLoc)
		require.True(t, ok, "%q resolves to the root's store but lies outside it", uri)
		require.Equal(t, p, rel)
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.True(t, full == dir || strings.HasPrefix(full, dir+string(filepath.Separator)), "%q resolves to %s", uri, full)
		if p == "" {
			return
		}
		if rc, _, err := s.Get(t.Context(), p); err == nil {
			b, _ := io.ReadAll(rc)
			rc.Close()
			require.NotEqual(t, secret, string(b), "%q read the secret", uri)
		}
	})
}

// decodeAll percent-decodes s until it stops changing, as a careless
// consumer of the location might.
func decodeAll(s string) string {
	for range 10 {
		d, err := url.PathUnescape(s)
		if err != nil || d == s {
			return s
		}
		s = d
	}
	return s
}
