package mlflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// newServer starts a real server over SQLite and a local artifact folder.
func newServer(t testing.TB) *httptest.Server { return webtest.Start(t, web.Options{}).Server }

type apiResult struct {
	Status int
	Body   map[string]any
	Raw    string
}

func call(t testing.TB, srv *httptest.Server, method, path string, body any) apiResult {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := apiResult{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &res.Body)
	return res
}

func ok(t testing.TB, r apiResult) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	return r.Body
}

func setup(t *testing.T, srv *httptest.Server) (expID, runID string) {
	t.Helper()
	expID = ok(t, call(t, srv, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "e"}))["experiment_id"].(string)
	run := ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": expID, "start_time": 1}))["run"].(map[string]any)
	runID = run["info"].(map[string]any)["run_id"].(string)
	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/log-batch", map[string]any{"run_id": runID,
		"metrics": []any{map[string]any{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}, map[string]any{"key": "n", "value": "NaN", "timestamp": 1, "step": 0}},
		"params":  []any{map[string]any{"key": "lr", "value": "0.1"}},
		"tags":    []any{map[string]any{"key": "t", "value": "v"}}}))
	return expID, runID
}

func TestTrackingFlow(t *testing.T) {
	srv := newServer(t)
	expID, runID := setup(t, srv)
	for _, prefix := range []string{"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"} {
		got := ok(t, call(t, srv, "GET", prefix+"runs/get?run_uuid="+runID, nil))
		data := got["run"].(map[string]any)["data"].(map[string]any)
		require.Len(t, data["params"], 1)
		var nan any
		for _, m := range data["metrics"].([]any) {
			if m.(map[string]any)["key"] == "n" {
				nan = m.(map[string]any)["value"]
			}
		}
		require.Equal(t, "NaN", nan)
	}
	res := ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{expID},
		"filter": "metrics.loss < 1 and params.lr = '0.1'", "order_by": []string{"metrics.loss DESC"}}))
	require.Len(t, res["runs"], 1)
	hist := ok(t, call(t, srv, "GET", "/api/2.0/mlflow/metrics/get-history?run_id="+runID+"&metric_key=loss", nil))
	require.Len(t, hist["metrics"], 1)

	// Artifacts through the proxy: upload, list (run and proxy views), download, delete.
	root := expID + "/" + runID + "/artifacts"
	ok(t, call(t, srv, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/sub/dir/notes.txt", "hello"))
	ok(t, call(t, srv, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/top.json", `{"a":1}`))
	list := ok(t, call(t, srv, "GET", "/api/2.0/mlflow/artifacts/list?run_id="+runID, nil))
	require.Equal(t, "mlflow-artifacts:/"+root, list["root_uri"])
	require.Equal(t, []any{map[string]any{"path": "sub", "is_dir": true}, map[string]any{"path": "top.json", "is_dir": false, "file_size": float64(7)}}, list["files"])
	list = ok(t, call(t, srv, "GET", "/api/2.0/mlflow/artifacts/list?run_id="+runID+"&path=sub", nil))
	require.Equal(t, "sub/dir", list["files"].([]any)[0].(map[string]any)["path"])
	list = ok(t, call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts?path="+root+"/sub/dir", nil))
	require.Equal(t, "notes.txt", list["files"].([]any)[0].(map[string]any)["path"])
	dl := call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/sub/dir/notes.txt", nil)
	require.Equal(t, "hello", dl.Raw)
	ok(t, call(t, srv, "DELETE", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/sub", nil))
	require.Equal(t, 404, call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts/"+root+"/sub/dir/notes.txt", nil).Status)

	require.Equal(t, "OK", call(t, srv, "GET", "/health", nil).Raw)
	require.Equal(t, 200, call(t, srv, "GET", "/version", nil).Status)
}

func TestMultipartUpload(t *testing.T) {
	srv := newServer(t)
	res := ok(t, call(t, srv, "POST", "/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts", map[string]any{"path": "big.bin", "num_parts": 2}))
	uploadID := res["upload_id"].(string)
	creds := res["credentials"].([]any)
	require.Len(t, creds, 2)
	var parts []any
	for i, c := range creds {
		u := c.(map[string]any)["url"].(string)
		req, err := http.NewRequest("PUT", u, strings.NewReader(fmt.Sprintf("part%d;", i+1)))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		parts = append(parts, map[string]any{"part_number": i + 1, "etag": resp.Header.Get("ETag")})
	}
	// A tampered URL is refused.
	bad := strings.Replace(creds[0].(map[string]any)["url"].(string), "part_number=1", "part_number=3", 1)
	req, _ := http.NewRequest("PUT", bad, strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)

	ok(t, call(t, srv, "POST", "/api/2.0/mlflow-artifacts/mpu/complete/1/r/artifacts", map[string]any{"path": "big.bin", "upload_id": uploadID, "parts": parts}))
	require.Equal(t, "part1;part2;", call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin", nil).Raw)
}

// TestIntegersOutOfRange sends every int64 field the API decodes a value
// int64 cannot hold, as a number, an exponent and a string: each is
// refused naming its field, and nothing is stored. The extremes int64 can
// hold are stored exactly.
func TestIntegersOutOfRange(t *testing.T) {
	srv := newServer(t)
	expID, runID := setup(t, srv)
	before := call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw
	metric := func(step, ts string) string {
		return fmt.Sprintf(`{"run_id": %q, "key": "k", "value": 1, "timestamp": %s, "step": %s}`, runID, ts, step)
	}
	batch := func(step, ts string) string {
		return fmt.Sprintf(`{"run_id": %q, "metrics": [{"key": "a", "value": 1, "timestamp": 1, "step": 1}, {"key": "b", "value": 1, "timestamp": %s, "step": %s}]}`, runID, ts, step)
	}
	const expected = "Expected an integer from -9223372036854775808 to 9223372036854775807"
	for _, tc := range []struct {
		name, method, path, body, field, value string
	}{
		{"log-metric step 2**70", "POST", "runs/log-metric", metric("1180591620717411303424", "1"), "step", "1180591620717411303424"},
		{"log-metric step 2**63", "POST", "runs/log-metric", metric("9223372036854775808", "1"), "step", "9223372036854775808"},
		{"log-metric step -2**63-1", "POST", "runs/log-metric", metric("-9223372036854775809", "1"), "step", "-9223372036854775809"},
		{"log-metric step as a string", "POST", "runs/log-metric", metric(`"1180591620717411303424"`, "1"), "step", "1180591620717411303424"},
		{"log-metric step 2**63 as a float", "POST", "runs/log-metric", metric("9.223372036854775808e18", "1"), "step", "9.223372036854775808e18"},
		{"log-metric timestamp 1e30", "POST", "runs/log-metric", metric("0", "1e30"), "timestamp", "1e30"},
		{"log-metric timestamp -1e30", "POST", "runs/log-metric", metric("0", "-1e30"), "timestamp", "-1e30"},
		{"log-batch step", "POST", "runs/log-batch", batch("1180591620717411303424", "1"), "metrics[1].step", "1180591620717411303424"},
		{"log-batch timestamp", "POST", "runs/log-batch", batch("0", "1e30"), "metrics[1].timestamp", "1e30"},
		{"runs/create start_time", "POST", "runs/create", fmt.Sprintf(`{"experiment_id": %q, "start_time": 1e30}`, expID), "start_time", "1e30"},
		{"runs/update end_time", "POST", "runs/update", fmt.Sprintf(`{"run_id": %q, "end_time": 1180591620717411303424}`, runID), "end_time", "1180591620717411303424"},
		{"runs/search max_results", "POST", "runs/search", `{"experiment_ids": ["0"], "max_results": 1180591620717411303424}`, "max_results", "1180591620717411303424"},
		{"experiments/search max_results", "POST", "experiments/search", `{"max_results": 1e30}`, "max_results", "1e30"},
		{"registered-models/search max_results", "POST", "registered-models/search", `{"max_results": 1e30}`, "max_results", "1e30"},
		{"logged-models/search max_results", "POST", "logged-models/search", `{"experiment_ids": ["0"], "max_results": 1e30}`, "max_results", "1e30"},
		{"log-inputs model step", "POST", "runs/log-inputs", fmt.Sprintf(`{"run_id": %q, "models": [{"model_id": "m", "step": 1e30}]}`, runID), "models[0].step", "1e30"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, tc.method, "/api/2.0/mlflow/"+tc.path, tc.body)
			require.Equal(t, 400, r.Status, r.Raw)
			require.Equal(t, "INVALID_PARAMETER_VALUE", r.Body["error_code"], r.Raw)
			require.Contains(t, r.Body["message"], fmt.Sprintf("Invalid value %s for parameter '%s' supplied", tc.value, tc.field))
			require.Contains(t, r.Body["message"], expected)
		})
	}
	for _, q := range []string{"max_results=1180591620717411303424", "max_results=9223372036854775808"} {
		r := call(t, srv, "GET", "/api/2.0/mlflow/metrics/get-history?run_id="+runID+"&metric_key=loss&"+q, nil)
		require.Equal(t, 400, r.Status, r.Raw)
		require.Contains(t, r.Body["message"], "'max_results'")
	}
	require.Equal(t, before, call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw, "rejected requests must not change the run")

	// The extremes of int64, and a whole number in exponent form, are
	// stored exactly.
	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/log-batch", fmt.Sprintf(`{"run_id": %q, "metrics": [
		{"key": "x", "value": 1, "timestamp": 9223372036854775807, "step": -9223372036854775808},
		{"key": "x", "value": 2, "timestamp": 1, "step": 9223372036854775807},
		{"key": "x", "value": 3, "timestamp": 1, "step": 1e3}]}`, runID)))
	hist := call(t, srv, "GET", "/api/2.0/mlflow/metrics/get-history?run_id="+runID+"&metric_key=x", nil)
	require.Equal(t, 200, hist.Status, hist.Raw)
	require.Contains(t, hist.Raw, `"timestamp":9223372036854775807,"step":-9223372036854775808`)
	require.Contains(t, hist.Raw, `"step":9223372036854775807`)
	require.Contains(t, hist.Raw, `"step":1000`)
}

// TestLogBatchNamesTheEntry rejects a log-batch naming the entry at fault
// by list, index and field, in each list, whatever the entries before it.
func TestLogBatchNamesTheEntry(t *testing.T) {
	srv := newServer(t)
	_, runID := setup(t, srv)
	before := call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw
	m := func(k string) string { return fmt.Sprintf(`{"key": %q, "value": 1, "timestamp": 1}`, k) }
	kv := func(k, v string) string { return fmt.Sprintf(`{"key": %q, "value": %q}`, k, v) }
	batch := func(list string, entries ...string) string {
		return fmt.Sprintf(`{"run_id": %q, %q: [%s]}`, runID, list, strings.Join(entries, ", "))
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"metrics type", batch("metrics", m("a"), m("b"), m("c"), `{"key": "d", "value": "abc", "timestamp": 1}`),
			"Invalid value abc for parameter 'metrics[3].value' supplied. Hint: Value was of type 'str'. Expected a number."},
		{"metrics NaN before a bad value", batch("metrics", `{"key": "a", "value": "NaN", "timestamp": 1}`, `{"key": "b", "value": "abc", "timestamp": 1}`),
			"Invalid value abc for parameter 'metrics[1].value' supplied"},
		{"metrics key", batch("metrics", m("a"), m("b/../../c")), "metrics[1].key: invalid metric name: 'b/../../c'"},
		{"metrics missing key", batch("metrics", m("a"), `{"value": 1, "timestamp": 1}`), "Missing value for required parameter 'metrics[1].key'"},
		{"metrics empty key", batch("metrics", m("a"), m("b"), m("")), "Missing value for required parameter 'metrics[2].key'"},
		{"metrics missing timestamp", batch("metrics", m("a"), `{"key": "b", "value": 1}`), "Missing value for required parameter 'metrics[1].timestamp'"},
		{"params type", batch("params", kv("a", "1"), `{"key": 5, "value": "x"}`), "Invalid value 5 for parameter 'params[1].key' supplied. Hint: Value was of type 'int'. Expected a string."},
		{"params key", batch("params", kv("a", "1"), kv("a;b", "1")), "params[1].key: invalid param name"},
		{"params value", batch("params", kv("a", "1"), kv("b", "2"), kv("c", strings.Repeat("v", 6001))), "params[2].value: param 'c' had value length 6001, which exceeded length limit of 6000"},
		{"params missing value", batch("params", `{"key": "a"}`), "Missing value for required parameter 'params[0].value'"},
		{"params duplicate", batch("params", kv("a", "1"), kv("b", "1"), kv("a", "2")), "params[2].value: duplicate parameter keys with different values in the batch: 'a'"},
		{"tags type", batch("tags", kv("a", "1"), kv("b", "1"), `{"key": "c", "value": true}`), "Invalid value True for parameter 'tags[2].value' supplied. Hint: Value was of type 'bool'. Expected a string."},
		{"tags key", batch("tags", kv("a", "1"), kv("/b", "1")), "tags[1].key: invalid tag name: '/b'"},
		{"tags value", batch("tags", kv("a", "1"), kv("b", strings.Repeat("v", 8001))), "tags[1].value: tag 'b' had value length 8001"},
		{"tags missing key", batch("tags", kv("a", "1"), `{"value": "1"}`), "Missing value for required parameter 'tags[1].key'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, "POST", "/api/2.0/mlflow/runs/log-batch", tc.body)
			require.Equal(t, 400, r.Status, r.Raw)
			require.Equal(t, "INVALID_PARAMETER_VALUE", r.Body["error_code"])
			require.Contains(t, r.Body["message"], tc.msg)
		})
	}
	// The single-entry endpoints name their own fields.
	r := call(t, srv, "POST", "/api/2.0/mlflow/runs/log-parameter", map[string]any{"run_id": runID, "key": "big", "value": strings.Repeat("v", 6001)})
	require.Equal(t, 400, r.Status)
	require.Equal(t, "param 'big' had value length 6001, which exceeded length limit of 6000", r.Body["message"])
	r = call(t, srv, "POST", "/api/2.0/mlflow/runs/set-tag", map[string]any{"run_id": runID, "key": "", "value": "1"})
	require.Equal(t, 400, r.Status)
	require.Contains(t, r.Body["message"], "'key'")
	require.Equal(t, before, call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw, "rejected requests must not change the run")
}

// TestBadInput sends malformed and invalid requests: each gets MLflow's error
// code, a message naming the problem, and changes nothing that was stored.
func TestBadInput(t *testing.T) {
	srv := newServer(t)
	_, runID := setup(t, srv)
	before := call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw

	manyMetrics := make([]any, 1001)
	for i := range manyMetrics {
		manyMetrics[i] = map[string]any{"key": fmt.Sprintf("m%d", i), "value": 1, "timestamp": 1}
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code, contains     string
	}{
		{"malformed json", "POST", "runs/log-batch", `{"run_id": `, 400, "INVALID_PARAMETER_VALUE", "malformed JSON"},
		{"malformed json elsewhere", "POST", "experiments/create", `{"name": "x",}`, 400, "INVALID_PARAMETER_VALUE", "malformed JSON"},
		{"wrong type", "POST", "experiments/create", map[string]any{"name": 12}, 400, "INVALID_PARAMETER_VALUE", "'name'"},
		{"wrong type nested", "POST", "runs/log-batch", map[string]any{"run_id": runID, "metrics": []any{map[string]any{"key": "a", "value": "abc", "timestamp": 1}}}, 400, "INVALID_PARAMETER_VALUE", "metrics[0].value"},
		{"missing name", "POST", "experiments/create", map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "'name'"},
		{"unknown run", "GET", "runs/get?run_id=0123456789abcdef", nil, 404, "RESOURCE_DOES_NOT_EXIST", "0123456789abcdef"},
		{"unknown experiment", "GET", "experiments/get?experiment_id=98765", nil, 404, "RESOURCE_DOES_NOT_EXIST", "98765"},
		{"non-integer experiment", "GET", "experiments/get?experiment_id=abc", nil, 400, "INVALID_PARAMETER_VALUE", "abc"},
		{"key too long", "POST", "runs/log-parameter", map[string]any{"run_id": runID, "key": strings.Repeat("k", 251), "value": "1"}, 400, "INVALID_PARAMETER_VALUE", "250"},
		{"param value too long", "POST", "runs/log-parameter", map[string]any{"run_id": runID, "key": "big", "value": strings.Repeat("v", 6001)}, 400, "INVALID_PARAMETER_VALUE", "6000"},
		{"bad key chars", "POST", "runs/set-tag", map[string]any{"run_id": runID, "key": "a\x00b", "value": "1"}, 400, "INVALID_PARAMETER_VALUE", "Names may only contain"},
		{"key traversal", "POST", "runs/log-metric", map[string]any{"run_id": runID, "key": "../x", "value": 1, "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE", "relative path"},
		{"changed param", "POST", "runs/log-parameter", map[string]any{"run_id": runID, "key": "lr", "value": "0.2"}, 400, "INVALID_PARAMETER_VALUE", "lr"},
		{"too many metrics", "POST", "runs/log-batch", map[string]any{"run_id": runID, "metrics": manyMetrics}, 400, "INVALID_PARAMETER_VALUE", "1000"},
		{"batch too large", "POST", "runs/log-batch", map[string]any{"run_id": runID, "tags": []any{map[string]any{"key": "x", "value": strings.Repeat("v", 1_000_001)}}}, 400, "INVALID_PARAMETER_VALUE", "bytes"},
		{"bad filter", "POST", "runs/search", map[string]any{"experiment_ids": []string{"0"}, "filter": "metrics.loss >> 1"}, 400, "INVALID_PARAMETER_VALUE", "filter"},
		{"bad status", "POST", "runs/update", map[string]any{"run_id": runID, "status": "DONE"}, 400, "INVALID_PARAMETER_VALUE", "status"},
		{"bad view type", "POST", "runs/search", map[string]any{"experiment_ids": []string{"0"}, "run_view_type": "SOME"}, 400, "INVALID_PARAMETER_VALUE", "run_view_type"},
		{"bad page token", "POST", "runs/search", map[string]any{"experiment_ids": []string{"0"}, "page_token": "###"}, 400, "INVALID_PARAMETER_VALUE", "page_token"},
		{"unknown endpoint", "GET", "no/such/thing", nil, 404, "ENDPOINT_NOT_FOUND", "no/such/thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, tt.method, "/api/2.0/mlflow/"+tt.path, tt.body)
			require.Equal(t, tt.status, r.Status, r.Raw)
			require.Equal(t, tt.code, r.Body["error_code"], r.Raw)
			require.Contains(t, r.Body["message"], tt.contains)
		})
	}
	for _, p := range []string{"../../etc/passwd", "a/../../b", "%2e%2e/x", "a%00b"} {
		t.Run("artifact path "+p, func(t *testing.T) {
			r := call(t, srv, "PUT", "/api/2.0/mlflow-artifacts/artifacts/1/"+p, "x")
			require.Contains(t, []int{400, 404}, r.Status, r.Raw)
			if r.Status == 400 {
				require.Equal(t, "INVALID_PARAMETER_VALUE", r.Body["error_code"])
			}
			if strings.Contains(p, "..") {
				r = call(t, srv, "GET", "/api/2.0/mlflow-artifacts/artifacts?path=1/"+p, nil)
				require.Equal(t, 400, r.Status, r.Raw)
			}
		})
	}
	require.Equal(t, before, call(t, srv, "GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil).Raw, "rejected requests must not change the run")
}

// TestArtifactLocationsStayInTheRoots: an experiment's artifact_location and
// a local model version source are client input; the server refuses to
// record one it would not serve, and serves the ones under its store.
func TestArtifactLocationsStayInTheRoots(t *testing.T) {
	ws := webtest.Start(t, web.Options{})
	srv := ws.Server
	for _, loc := range []string{"file:///etc", "/etc", "mlflow-artifacts:/../..", "mlflow-artifacts:/%2e%2e/x",
		"mlflow-artifacts:/0?x=1", "mlflow-artifacts:/0#f", "relative/path", "gs://b/p", "runs:/abc/model", "s3://b/p"} {
		r := call(t, srv, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "e-" + loc, "artifact_location": loc})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", loc, r.Raw)
		require.Equal(t, "INVALID_PARAMETER_VALUE", r.Body["error_code"], loc)
		require.Contains(t, r.Body["message"], "'artifact_location'", loc)
	}
	r := call(t, srv, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "frag", "artifact_location": "http://host#/abc/etc/"})
	require.Equal(t, "'artifact_location' URL can't include fragments or params.", r.Body["message"], "in MLflow's words")
	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "proxied", "artifact_location": "mlflow-artifacts:/team/x"}))

	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "m"}))
	// MLflow's own source checks answer first, in its words.
	for src, words := range map[string]string{"file:///etc/passwd": "To use a local path", "/etc": "To use a local path",
		"mlflow-artifacts:/0/../../x": "If supplying a source as an http, https"} {
		r := call(t, srv, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "m", "source": src})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", src, r.Raw)
		require.Contains(t, r.Body["message"], words, src)
	}
	// Then the roots: a source inside the artifact folder of a run whose
	// stored location lies outside them, or in the server's private folder.
	exp, err := tracking.NewService(ws.DB).CreateExperiment(t.Context(), "legacy", "/legacy", nil)
	require.NoError(t, err)
	run := ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp}))["run"].(map[string]any)["info"].(map[string]any)
	for _, src := range []string{run["artifact_uri"].(string) + "/model", "mlflow-artifacts:/.cairn/tmp/x"} {
		r := call(t, srv, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "m", "source": src, "run_id": run["run_id"]})
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", src, r.Raw)
		require.Contains(t, r.Body["message"], "parameter 'source'", src)
	}
	// A remote source is a reference the client fetches itself; the server
	// records it and never serves it.
	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "m", "source": "s3://elsewhere/m"}))
	r = call(t, srv, "GET", "/model-versions/get-artifact?name=m&version=1&path=MLmodel", nil)
	require.Equal(t, http.StatusForbidden, r.Status, r.Raw)
}
