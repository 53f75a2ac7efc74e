package exec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSandboxPaths checks what a sandbox grants around a hidden data
// folder inside a writable /tmp-like folder: the hidden folder is never
// granted, whatever grant would cover it, nor are links into it.
func TestSandboxPaths(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "work", "data")
	for _, d := range []string{filepath.Join(data, "datasets"), filepath.Join(data, "pipelines", "r1", "a"), filepath.Join(tmp, "work", "src"), filepath.Join(tmp, "other")} {
		require.NoError(t, os.MkdirAll(d, 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(data, "cairn.db"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(tmp, "work", "spec.yaml"), []byte("x"), 0o600))
	require.NoError(t, os.Symlink(data, filepath.Join(tmp, "link-to-data")))
	require.NoError(t, os.Symlink(filepath.Join(tmp, "work"), filepath.Join(tmp, "link-above-data")))
	require.NoError(t, os.Symlink(filepath.Join(tmp, "other"), filepath.Join(tmp, "link-elsewhere")))

	sb := &Sandbox{Hidden: []string{data}, Readable: []string{filepath.Join(data, "pipelines"), filepath.Join(data, "datasets")},
		Writable: []string{tmp, filepath.Join(data, "pipelines", "r1", "a")}}
	read, write, err := sb.paths()
	require.NoError(t, err)
	all := slices.Concat(read.dirs, read.files, write.dirs, write.files)
	for _, p := range all {
		require.False(t, p == data || p == "/" || p == tmp || p == filepath.Join(tmp, "work") || p == "/dev", "granted %s", p)
		require.NotContains(t, []string{filepath.Join(tmp, "link-to-data"), filepath.Join(tmp, "link-above-data"), filepath.Join(data, "cairn.db")}, p)
	}
	require.Contains(t, write.dirs, filepath.Join(tmp, "other"))
	require.Contains(t, write.dirs, filepath.Join(tmp, "link-elsewhere"))
	require.Contains(t, write.dirs, filepath.Join(tmp, "work", "src"))
	require.Contains(t, write.files, filepath.Join(tmp, "work", "spec.yaml"))
	require.Contains(t, write.dirs, filepath.Join(data, "pipelines", "r1", "a"), "a grant inside the hidden folder is an exception")
	require.Contains(t, read.dirs, filepath.Join(data, "datasets"))
	require.Contains(t, read.dirs, "/usr")
}

func TestTaskSandbox(t *testing.T) {
	data := t.TempDir()
	o := &SandboxOptions{Hidden: []string{data}, Shared: []string{filepath.Join(data, "datasets")}, PerRun: []string{filepath.Join(data, "tune")}}
	root, task := filepath.Join(data, "pipelines"), filepath.Join(data, "pipelines", "r", "a")
	sb, err := o.For(root, "r", task, "/work", false, []string{"out", "/abs/x"})
	require.NoError(t, err)
	require.Equal(t, []string{root, filepath.Join(data, "datasets")}, sb.Readable)
	require.Contains(t, sb.Writable, task)
	require.Contains(t, sb.Writable, "/work/out")
	require.Contains(t, sb.Writable, "/abs/x")
	require.NotContains(t, sb.Writable, filepath.Join(data, "datasets"), "run: tasks only read the shared cache")

	step, err := o.For(root, "r", task, "/work", true, nil)
	require.NoError(t, err)
	require.Contains(t, step.Writable, filepath.Join(data, "datasets"))
	require.Contains(t, step.Writable, filepath.Join(data, "tune", "r"))

	for _, w := range []string{data, filepath.Join(data, "cairn.db"), filepath.Dir(data), "/"} {
		_, err := o.For(root, "r", task, "/work", false, []string{w})
		require.ErrorContains(t, err, "reaches into the server's data", w)
	}
	got, err := DecodeSandbox(sb.Encode())
	require.NoError(t, err)
	require.Equal(t, sb, got)
	_, err = DecodeSandbox(`{"hidden":["relative"]}`)
	require.Error(t, err)
}
