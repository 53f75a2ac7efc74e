package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSandboxedTasksBesideBusyTemp runs sandboxed tasks whose data folder
// is in the system's temporary folder while other programs create and
// remove entries beside it, as parallel tests and builds do: every task
// starts (a path that vanished after the sandbox listed it is no reason to
// fail) and makes temporary files of its own.
func TestSandboxedTasksBesideBusyTemp(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	spec := filepath.Join(dir, "busy.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: busy
tasks:
  tmp:
    for_each: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    run: |
      f=$(mktemp) && echo "made $f" && test -w "$f" && rm "$f"
      d=$(mktemp -d) && rmdir "$d"
`), 0o600))

	ctx, stop := context.WithCancel(context.Background())
	churned := make(chan int)
	go func() {
		n := 0
		defer func() { churned <- n }()
		for ctx.Err() == nil {
			d, err := os.MkdirTemp("", "churn")
			if err != nil {
				return
			}
			os.Remove(d)
			n++
		}
	}()
	out, err := run(t, "run", spec, "--data", data, "--log-level", "warn")
	stop()
	n := <-churned
	require.NoError(t, err, out)
	require.Greater(t, n, 0)
	require.True(t, strings.Contains(out, "Succeeded"), out)
}
