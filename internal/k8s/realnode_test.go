package k8s_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	cexec "github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/image"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/k8s/k8stest"
)

// TestRealNode runs attempts in Cairn's own image on a real kubelet with
// containerd: a built-in step, the built-in shell, exit codes and an
// OOMKilled task, with their logs and output values.
func TestRealNode(t *testing.T) {
	c := k8stest.StartRealNodeWithCairn(t)
	x, err := k8s.New(c.Config, k8s.Options{Namespace: "default", Image: k8stest.CairnRef, PullPolicy: corev1.PullNever, PendingTimeout: time.Minute})
	require.NoError(t, err)
	defer x.Close()
	run := func(t *testing.T, job *cexec.Job) (cexec.Result, string) {
		log := &syncBuffer{}
		job.Log, job.Name = log, "realnode/"+t.Name()
		job.Labels = map[string]string{k8s.LabelTask: strings.ToLower(filepath.Base(t.Name()))}
		job.Scratch, job.OutputsFile = []string{"/cairn/in", "/cairn/out"}, "/dev/termination-log"
		job.Env = append(job.Env, "CAIRN_INPUTS_DIR=/cairn/in", "CAIRN_OUTPUTS_DIR=/cairn/out", "CAIRN_OUTPUTS=/dev/termination-log")
		var started time.Duration
		begin := time.Now()
		job.Started = func(int) { started = time.Since(begin) }
		res := x.Execute(context.Background(), job)
		t.Logf("running after %s, done after %s", started.Round(time.Millisecond), res.Duration.Round(time.Millisecond))
		return res, log.String()
	}

	t.Run("Step", func(t *testing.T) {
		res, log := run(t, &cexec.Job{Args: []string{image.BinaryPath, "step", "exec", "data.synth", "--inputs-json", `{"kind": "titanic", "n": 40}`}})
		require.NoError(t, res.Err, log)
		require.Equal(t, "path=/cairn/out/passengers.csv\n", string(res.Outputs), "the step's values, from its termination message")
	})

	t.Run("Shell", func(t *testing.T) {
		res, log := run(t, &cexec.Job{Args: []string{image.BinaryPath, "sh", "-c",
			`echo "to the log"; exit 3`}})
		require.Equal(t, 3, res.ExitCode, log)
		require.EqualError(t, res.Err, "exit status 3")
		require.Contains(t, log, "to the log")
	})

	t.Run("Outputs", func(t *testing.T) {
		res, log := run(t, &cexec.Job{Args: []string{image.BinaryPath, "sh", "-c", `echo "n=$((6*7))" >> "$CAIRN_OUTPUTS"; echo done`}})
		require.NoError(t, res.Err, log)
		require.Equal(t, "n=42\n", string(res.Outputs))
		require.Equal(t, 1, strings.Count(log, "done\n"), "each line once, though the log is followed and then drained: %s", log)
	})

	t.Run("OOMKilled", func(t *testing.T) {
		res, log := run(t, &cexec.Job{Args: []string{image.BinaryPath, "sh", "-c", `x=0123456789abcdef; while :; do x="$x$x"; done`},
			Resources: cexec.Resources{Memory: 48 << 20}})
		require.Equal(t, 137, res.ExitCode, log)
		require.EqualError(t, res.Err, "OOMKilled: the task went over its memory limit of 48Mi (exit status 137)")
	})
}
