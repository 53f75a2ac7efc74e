package pipelines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/web/pipelines"
)

func call(t *testing.T, srv *httptest.Server, method, path string, in any, wantStatus int) map[string]any {
	t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, wantStatus, resp.StatusCode, "%v", out)
	return out
}

func TestPipelinesAPI(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := meta.Open(ctx, filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	opts := pipeline.DefaultOptions()
	opts.Root, opts.Environ, opts.Heartbeat = filepath.Join(dir, "pipelines"), []string{"PATH=" + os.Getenv("PATH")}, 50*time.Millisecond
	e, err := pipeline.NewEngine(db, pipeline.NewServiceTracker(tracking.NewService(db)), exec.NewLocal(exec.DefaultLocalOptions()), steps.Default(), opts)
	require.NoError(t, err)
	svc := pipeline.NewService(e, nil)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(web.NewServer(web.DefaultOptions(), pipelines.NewHandler(svc, dir)).Handler())
	t.Cleanup(srv.Close)

	bad := call(t, srv, "POST", "/api/2.0/cairn/pipelines/create", map[string]any{"spec": "name: x\ntasks:\n  a: {run: 'true', nope: 1}\n"}, 400)
	require.Contains(t, bad["message"], `unknown field "nope"`)

	spec := "name: api\nschedule: '@hourly'\nparams:\n  n: 1\ntasks:\n  a:\n    run: echo hello ${{ params.n }}\n  b:\n    needs: [a]\n    run: exit ${{ params.n }}\n"
	out := call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"spec": spec, "file": "api.yaml", "params": map[string]any{"n": 2}}, 200)
	id := out["run"].(map[string]any)["run_id"].(string)
	var run map[string]any
	require.Eventually(t, func() bool {
		run = call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, 200)["run"].(map[string]any)
		return run["phase"] == "Failed"
	}, 10*time.Second, 20*time.Millisecond)
	tasks := run["tasks"].([]any)
	require.Equal(t, "Succeeded", tasks[0].(map[string]any)["phase"])
	require.Equal(t, spec, run["spec"], "runs/get has the spec the run ran")
	require.Equal(t, "attempt 1: exit status 2", tasks[1].(map[string]any)["message"])

	logs := call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/logs?run_id="+id+"&task=a", nil, 200)
	require.Contains(t, logs["data"], "hello 2")
	next := logs["next_offset"].(float64)
	logs = call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/logs?run_id="+id+"&task=a&offset="+jsonNum(next), nil, 200)
	require.Equal(t, "", logs["data"])
	require.Equal(t, true, logs["done"])
	call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/logs?run_id="+id+"&task=zzz", nil, 404)

	list := call(t, srv, "GET", "/api/2.0/cairn/pipelines/list", nil, 200)["pipelines"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, "@hourly", list[0].(map[string]any)["schedule"])
	runs := call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/list?pipeline=api", nil, 200)["runs"].([]any)
	require.Len(t, runs, 1)
	call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/cancel", map[string]any{"run_id": id}, 400)

	// Retry re-runs only the failed task (it fails again: n is still 2).
	call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/retry", map[string]any{"run_id": id}, 200)
	require.Eventually(t, func() bool {
		run = call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, 200)["run"].(map[string]any)
		return run["phase"] == "Failed" && run["tasks"].([]any)[1].(map[string]any)["attempts"].(float64) == 1
	}, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 1.0, run["tasks"].([]any)[0].(map[string]any)["attempts"])

	// Submitting by name, then cancelling a long run.
	call(t, srv, "POST", "/api/2.0/cairn/pipelines/create", map[string]any{"spec": "name: long\ntasks:\n  s: {run: sleep 30}\n"}, 200)
	out = call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"pipeline": "long"}, 200)
	id = out["run"].(map[string]any)["run_id"].(string)
	require.Eventually(t, func() bool {
		run = call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, 200)["run"].(map[string]any)
		return run["tasks"].([]any)[0].(map[string]any)["phase"] == "Running"
	}, 10*time.Second, 20*time.Millisecond)
	call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/cancel", map[string]any{"run_id": id}, 200)
	require.Eventually(t, func() bool {
		run = call(t, srv, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, 200)["run"].(map[string]any)
		return run["phase"] == "Cancelled" && run["message"] == "cancelled"
	}, 10*time.Second, 20*time.Millisecond)
	call(t, srv, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"pipeline": "ghost"}, 404)
}

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

// TestPipelineParamsIntegers submits int params as JSON numbers: one int64
// holds keeps every digit, one it does not is refused naming the param.
func TestPipelineParamsIntegers(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := meta.Open(ctx, filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	opts := pipeline.DefaultOptions()
	opts.Root, opts.Environ = filepath.Join(dir, "pipelines"), []string{"PATH=" + os.Getenv("PATH")}
	e, err := pipeline.NewEngine(db, pipeline.NewServiceTracker(tracking.NewService(db)), exec.NewLocal(exec.DefaultLocalOptions()), steps.Default(), opts)
	require.NoError(t, err)
	svc := pipeline.NewService(e, nil)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	srv := httptest.NewServer(web.NewServer(web.DefaultOptions(), pipelines.NewHandler(svc, dir)).Handler())
	t.Cleanup(srv.Close)

	spec := "name: ints\nparams:\n  n: {type: int, default: 1}\n  x: {type: float, default: 1}\ntasks:\n  a:\n    run: echo ${{ params.n }}\n"
	submit := func(params string) (int, map[string]any) {
		body := `{"spec": ` + jsonStr(spec) + `, "params": ` + params + `}`
		resp, err := http.Post(srv.URL+"/api/2.0/cairn/pipelines/runs/submit", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		dec.UseNumber()
		var out map[string]any
		require.NoError(t, dec.Decode(&out))
		return resp.StatusCode, out
	}
	for in, want := range map[string]string{
		`9007199254740993`:     "9007199254740993",
		`9223372036854775807`:  "9223372036854775807",
		`-9223372036854775808`: "-9223372036854775808",
		`1e3`:                  "1000",
	} {
		code, out := submit(`{"n": ` + in + `}`)
		require.Equal(t, 200, code, "%s: %v", in, out)
		require.Equal(t, json.Number(want), out["run"].(map[string]any)["params"].(map[string]any)["n"], in)
	}
	for in, msg := range map[string]string{
		`{"n": 9223372036854775808}`:    `parameter "n" must be an integer`,
		`{"n": 1180591620717411303424}`: `parameter "n" must be an integer`,
		`{"n": 1e30}`:                   `parameter "n" must be an integer`,
		`{"n": 1.5}`:                    `parameter "n" must be an integer`,
		`{"x": 1e400}`:                  "Invalid value 1e400 for parameter 'params.x' supplied: a number outside the range of float64",
		`[1]`:                           "Invalid value [1] for parameter 'params' supplied. Hint: Value was of type 'list'. Expected an object of parameter values.",
	} {
		code, out := submit(in)
		require.Equal(t, 400, code, "%s: %v", in, out)
		require.Equal(t, "INVALID_PARAMETER_VALUE", out["error_code"], in)
		require.Contains(t, out["message"], msg, in)
	}
	// A float param takes a whole number beyond int64 as the float it is.
	code, out := submit(`{"x": 1180591620717411303424}`)
	require.Equal(t, 200, code, "%v", out)
	require.Equal(t, json.Number("1.1805916207174113e+21"), out["run"].(map[string]any)["params"].(map[string]any)["x"])
}

func jsonStr(s string) string { b, _ := json.Marshal(s); return string(b) }
