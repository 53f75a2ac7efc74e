package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// TestPodRun runs a task the way its container does on the kubernetes
// executor: cairn pod run fetches the upstream task's files, runs the
// command with its exit status, and stores the outputs folder.
func TestPodRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	ctx := context.Background()
	exp, err := c.CreateExperiment(ctx, "pod")
	require.NoError(t, err)
	newRun := func() *tracking.Run {
		r, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: exp})
		require.NoError(t, err)
		return r
	}
	up, down := newRun(), newRun()
	require.NoError(t, c.UploadArtifact(ctx, up, jobs.TaskFilesPrefix+"/greeting.txt", bytes.NewReader([]byte("hello"))))

	pod := t.TempDir()
	files, _ := json.Marshal(jobs.TaskFiles{Root: pod, Outputs: filepath.Join(pod, "tasks", "down", "out"), RunID: down.Info.RunID, Artifacts: []string{"copy.txt"},
		Inputs: []jobs.TaskInput{{RunID: up.Info.RunID, Dir: filepath.Join(pod, "tasks", "up", "out"), Link: filepath.Join(pod, "in", "up")}}})
	podRun := func(script string) (string, int) {
		cmd := osexec.Command(os.Args[0], "pod", "run", "--", os.Args[0], "sh", "-c", script)
		cmd.Env = []string{"CAIRN_TEST_AS_CAIRN=1", "MLFLOW_TRACKING_URI=" + url, "CAIRN_TASK_FILES=" + string(files),
			"IN=" + filepath.Join(pod, "in", "up"), "OUT=" + filepath.Join(pod, "tasks", "down", "out")}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*osexec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		require.NoError(t, err)
		return string(out), 0
	}
	out, code := podRun(`exit 3`)
	require.Equal(t, 3, code, "the command's exit status: %s", out)

	out, code = podRun(`read -r g < "$IN/greeting.txt"; echo "$g, world" > "$OUT/copy.txt"`)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "=== stored 1 files of")
	var b bytes.Buffer
	require.NoError(t, c.DownloadArtifact(ctx, down.Info.RunID, jobs.TaskFilesPrefix+"/copy.txt", &b))
	require.Equal(t, "hello, world\n", b.String())

	cmd := osexec.Command(os.Args[0], "pod", "run", "--", "true")
	cmd.Env = []string{"CAIRN_TEST_AS_CAIRN=1", "CAIRN_TASK_FILES={"}
	outB, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Equal(t, 2, cmd.ProcessState.ExitCode())
	require.Contains(t, string(outB), "CAIRN_TASK_FILES")

	dir := t.TempDir()
	_, err = run(t, "pod", "install", dir)
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, "cairn"))
	require.NoError(t, err)
	require.NotZero(t, fi.Mode()&0o111, "executable")
}

// TestStepInputsInline: --inputs-json is decoded like an inputs file.
func TestStepInputsInline(t *testing.T) {
	_, err := run(t, "step", "exec", "data.synth", "--inputs-json", `{"kind": "titanic", "n": `)
	require.Equal(t, 2, exitCode(err), "%v", err)
	_, err = run(t, "step", "exec", "data.synth", "--inputs-json", `{"kind": "titanic", "nn": 3}`)
	require.Equal(t, 2, exitCode(err), "%v", err)
	require.ErrorContains(t, err, "nn")
	_, err = run(t, "step", "exec", "data.synth", "--inputs", "f.json", "--inputs-json", `{}`)
	require.ErrorContains(t, err, "none of the others can be")
}
