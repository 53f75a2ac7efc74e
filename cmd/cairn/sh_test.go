package main

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBuiltInShell runs commands the way a run: task in Cairn's image does,
// with no sh on PATH.
func TestBuiltInShell(t *testing.T) {
	dir := t.TempDir()
	sh := func(args ...string) (string, int) {
		cmd := osexec.Command(os.Args[0], append([]string{"sh"}, args...)...)
		cmd.Env = []string{"CAIRN_TEST_AS_CAIRN=1", "PATH=" + dir, "CAIRN_OUTPUTS=" + filepath.Join(dir, "outputs")}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*osexec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		require.NoError(t, err)
		return string(out), 0
	}
	out, code := sh("-c", `n=$((6*7)); echo "accuracy=0.$n" >> "$CAIRN_OUTPUTS"; printf '%s %s %d\n' "$0" "$1" $#`, "task", "one")
	require.Equal(t, 0, code, out)
	require.Equal(t, "task one 1\n", out)
	b, err := os.ReadFile(filepath.Join(dir, "outputs"))
	require.NoError(t, err)
	require.Equal(t, "accuracy=0.42\n", string(b))

	out, code = sh("-c", "exit 3")
	require.Equal(t, 3, code, "the command's exit status is the shell's")
	require.Empty(t, out)

	out, code = sh("-c", "no-such-program --flag")
	require.Equal(t, 127, code)
	require.Contains(t, out, `"no-such-program": executable file not found`)

	out, code = sh("-c", "if then")
	require.Equal(t, 2, code)
	require.Contains(t, out, "sh:1:1: `if` must be followed by a statement list")

	out, code = sh("echo")
	require.Equal(t, 2, code)
	require.Contains(t, out, "give the command with -c")
}
