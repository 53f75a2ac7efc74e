package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// startServer runs the real server wiring on a free loopback port.
func startServer(t *testing.T, cfg Config) (string, context.CancelFunc, chan error) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		err := runServer(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready)
		close(stopped)
		done <- err
	}()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			<-stopped
		})
		return "http://" + addr, cancel, done
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	return "", nil, nil
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestServerAndCLI(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	base, cancel, done := startServer(t, cfg)

	c, err := client.New(base, client.DefaultOptions())
	require.NoError(t, err)
	run1, err := logSampleRun(context.Background(), c)
	require.NoError(t, err)

	out, err := run(t, "experiments", "list", "--tracking-uri", base)
	require.NoError(t, err)
	require.Contains(t, out, "cairn-demo")
	out, err = run(t, "runs", "list", "--experiment", "cairn-demo", "--filter", "metrics.val_accuracy > 0.9", "--tracking-uri", base)
	require.NoError(t, err)
	require.Contains(t, out, run1.Info.RunID)
	require.Contains(t, out, "VAL_ACCURACY")
	out, err = run(t, "runs", "show", run1.Info.RunID, "--json", "--tracking-uri", base)
	require.NoError(t, err)
	var shown map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &shown))
	out, err = run(t, "runs", "list", "--experiment", "cairn-demo", "--filter", "metrics.val_accuracy >", "--tracking-uri", base)
	require.Error(t, err)
	require.Equal(t, 2, exitCode(err))
	require.Contains(t, err.Error(), "filter")
	_, err = run(t, "runs", "show", "ffffffffffffffffffffffffffffffff", "--tracking-uri", base)
	require.Equal(t, 3, exitCode(err))
	_, err = run(t, "runs", "list", "--tracking-uri", base)
	require.Equal(t, 2, exitCode(err))
	_, err = run(t, "runs", "list", "--bogus-flag")
	require.Equal(t, 2, exitCode(err))

	ctx := context.Background()
	require.NoError(t, c.Do(ctx, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "fingers"}, nil))
	require.NoError(t, c.Do(ctx, "POST", "/api/2.0/mlflow/model-versions/create",
		map[string]any{"name": "fingers", "source": "runs:/" + run1.Info.RunID + "/model", "run_id": run1.Info.RunID}, nil))
	require.NoError(t, c.Do(ctx, "POST", "/api/2.0/mlflow/registered-models/alias",
		map[string]any{"name": "fingers", "alias": "champion", "version": "1"}, nil))
	out, err = run(t, "models", "list", "--tracking-uri", base)
	require.NoError(t, err)
	require.Contains(t, out, "champion=1")

	// Graceful shutdown: the server stops and the port is released.
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
	_, err = http.Get(base + "/health")
	require.Error(t, err)
	_, err = run(t, "runs", "show", run1.Info.RunID, "--tracking-uri", base)
	require.Equal(t, 4, exitCode(err))
}

func TestAuthCLIAndServer(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr, cfg.Auth = dir, "127.0.0.1:0", true
	require.NoError(t, cfg.Validate())
	err := runServer(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	require.Error(t, err, "--auth without an admin must refuse to start")
	require.Contains(t, err.Error(), "cairn users add")

	cmd := newRootCmd()
	cmd.SetIn(strings.NewReader("s3cret-password\n"))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"users", "add", "admin", "--role", "admin", "--password-stdin", "--data", dir})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	// Again: a conflict, unless --if-missing (a start-up script's), which changes nothing.
	for _, ifMissing := range []bool{false, true} {
		cmd := newRootCmd()
		cmd.SetIn(strings.NewReader("another-password\n"))
		cmd.SetOut(io.Discard)
		args := []string{"users", "add", "admin", "--role", "read", "--password-stdin", "--data", dir}
		if ifMissing {
			args = append(args, "--if-missing")
		}
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		if ifMissing {
			require.NoError(t, err)
		} else {
			require.Equal(t, 2, exitCode(err), "%v", err)
		}
	}
	tokOut, err := run(t, "tokens", "create", "admin", "--name", "ci", "--data", dir)
	require.NoError(t, err)
	secret := strings.TrimSpace(strings.Split(tokOut, "\n")[0])
	require.True(t, strings.HasPrefix(secret, "cairn_"), tokOut)

	base, _, _ := startServer(t, cfg)
	resp, err := http.Get(base + "/api/2.0/mlflow/experiments/get?experiment_id=0")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
	c, err := client.New(base, client.Options{Token: secret})
	require.NoError(t, err)
	_, err = c.CreateExperiment(context.Background(), "with-token")
	require.NoError(t, err)
	c, err = client.New(base, client.Options{Username: "admin", Password: "s3cret-password"})
	require.NoError(t, err)
	_, err = c.GetExperimentByName(context.Background(), "with-token")
	require.NoError(t, err)
	out2, err := run(t, "users", "list", "--data", dir)
	require.NoError(t, err)
	require.Contains(t, out2, "admin")
	_, err = run(t, "users", "list", "--data", filepath.Join(dir, "missing"))
	require.Error(t, err)
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Addr = "nonsense"
	require.Error(t, c.Validate())
	c = Config{Addr: "127.0.0.1:1"}
	require.Error(t, c.Validate())
	_, _, err := net.SplitHostPort(DefaultConfig().Addr)
	require.NoError(t, err)
}

// TestArtifactLocationsOutsideRootAreNotServed: an experiment's
// artifact_location is client input; the server must not read the file
// system through it.
func TestArtifactLocationsOutsideRootAreNotServed(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr = dir, "127.0.0.1:0"
	cfg.DefaultArtifactRoot = "file://" + filepath.Join(dir, "root")
	base, _, _ := startServer(t, cfg)
	c, err := client.New(base, client.DefaultOptions())
	require.NoError(t, err)
	ctx := context.Background()
	err = c.Do(ctx, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "evil", "artifact_location": "file:///etc"}, nil)
	require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "parameter 'artifact_location'")
	require.Contains(t, err.Error(), "outside the artifact roots this server serves")
	// Runs under the configured root are served.
	good, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: "0"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(good.Info.ArtifactURI, cfg.DefaultArtifactRoot), good.Info.ArtifactURI)
	resp, err := http.Get(base + "/api/2.0/mlflow/artifacts/list?run_id=" + good.Info.RunID)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
}

func TestMaxArtifactBytes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr, cfg.MaxArtifactBytes = t.TempDir(), "127.0.0.1:0", 10
	base, _, _ := startServer(t, cfg)
	put := func(body string) int {
		req, err := http.NewRequest("PUT", base+"/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/f.bin", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, put("small"))
	require.Equal(t, 413, put(strings.Repeat("x", 20)))
	resp, err := http.Get(base + "/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/f.bin")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "small", string(b), "a rejected upload leaves the stored file as it was")
}
