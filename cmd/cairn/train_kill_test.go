package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/images"
)

// TestTrainResumesAfterKill9 runs 'cairn train' as a real child process,
// SIGKILLs it after its second epoch, runs the same command again and checks
// that it continues from the checkpoint in the same tracking run.
func TestTrainResumesAfterKill9(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	work := t.TempDir()
	hands := filepath.Join(work, "hands")
	_, err := images.GenerateHands(context.Background(), images.SynthHandsOptions{Out: hands, N: 240, Seed: 1, Size: 32})
	require.NoError(t, err)
	args := []string{"train", "fingers", "--data", hands, "--size", "32", "--epochs", "5", "--tracking-uri", url,
		"--data-dir", filepath.Join(work, "cd"), "--work", filepath.Join(work, "job")}

	require.True(t, killAtLine(t, args, "epoch 2/5"), "the child never finished epoch 2")
	b, err := os.ReadFile(filepath.Join(work, "job", "run.json"))
	require.NoError(t, err, "the killed run left its tracking run to continue")
	var first struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal(b, &first))

	start := time.Now()
	out, err := run(t, append(args, "--json")...)
	require.NoError(t, err, out)
	require.Contains(t, out, "epoch 1 restored from checkpoint")
	require.Contains(t, out, "epoch 2 restored from checkpoint")
	require.NotContains(t, out, "epoch 1/5")
	var res struct {
		RunID   string `json:"run_id"`
		History []any  `json:"history"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
	require.Equal(t, first.RunID, res.RunID, "the same tracking run continues")
	require.Len(t, res.History, 5)
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	hist, err := c.MetricHistory(context.Background(), res.RunID, "val_accuracy")
	require.NoError(t, err)
	require.Len(t, hist, 5, "one value per epoch, none logged twice")
	r, err := c.GetRun(context.Background(), res.RunID)
	require.NoError(t, err)
	require.Equal(t, "FINISHED", r.Info.Status)
	t.Logf("resumed in %s", time.Since(start))
}

// killAtLine runs this test binary as cairn with args and SIGKILLs it as
// soon as it prints a line starting with prefix on stderr; it reports
// whether that happened.
func killAtLine(t *testing.T, args []string, prefix string) bool {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	child := exec.Command(exe, args...)
	child.Env = append(os.Environ(), "CAIRN_TEST_AS_CAIRN=1")
	stderr, err := child.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	sc := bufio.NewScanner(stderr)
	killed := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			require.NoError(t, child.Process.Signal(syscall.SIGKILL))
			killed = true
			break
		}
	}
	_ = child.Wait()
	return killed
}
