package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSecurityRunAPI attacks the tracking API `cairn run` serves its tasks
// on a loopback port: another local process (or a web page) that finds the
// port may not read or write through it, nor manage users; the task's own
// token works while the run lasts.
func TestSecurityRunAPI(t *testing.T) {
	dir := t.TempDir()
	drop := filepath.Join(dir, "drop")
	require.NoError(t, os.Mkdir(drop, 0o700))
	spec := filepath.Join(dir, "api.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: api
tasks:
  probe:
    run: |
      echo "$MLFLOW_TRACKING_URI $MLFLOW_TRACKING_TOKEN" > `+drop+`/api
      while [ ! -e `+drop+`/done ]; do sleep 0.05; done
`), 0o600))
	done := make(chan error, 1)
	go func() {
		out, err := run(t, "run", spec, "--data", filepath.Join(dir, "data"), "--log-level", "warn")
		if err != nil {
			err = &runError{err, out}
		}
		done <- err
	}()
	var uri, token string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(drop, "api"))
		f := strings.Fields(string(b))
		if len(f) == 2 {
			uri, token = f[0], f[1]
		}
		return token != ""
	}, 60*time.Second, 50*time.Millisecond)

	call := func(method, path, tok string) int {
		req, err := http.NewRequest(method, uri+path, strings.NewReader(`{"name":"intruder"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, call("GET", "/api/2.0/mlflow/experiments/search?max_results=1", ""))
	require.Equal(t, http.StatusUnauthorized, call("POST", "/api/2.0/mlflow/experiments/create", ""))
	require.Equal(t, http.StatusUnauthorized, call("POST", "/api/2.0/mlflow/experiments/create", "not-"+token))
	require.Equal(t, http.StatusOK, call("GET", "/health", ""), "health stays public")
	require.Equal(t, http.StatusOK, call("GET", "/api/2.0/mlflow/experiments/search?max_results=1", token))
	require.Equal(t, http.StatusForbidden, call("POST", "/api/2.0/cairn/users/create", token), "the task token manages no users")

	require.NoError(t, os.WriteFile(filepath.Join(drop, "done"), nil, 0o600))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("cairn run did not finish")
	}
	_, err := http.Get(uri + "/health")
	require.Error(t, err, "the API ends with the run")
}

type runError struct {
	err error
	out string
}

func (e *runError) Error() string { return e.err.Error() + "\n" + e.out }
