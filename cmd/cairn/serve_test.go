package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	imagepng "image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/train"
)

// trained is a model trained for the serving tests, registered as a
// version of its own name.
type trained struct {
	runID, pkg, source string
}

func trainForServing(t *testing.T, url string, args ...string) trained {
	t.Helper()
	work := t.TempDir()
	out, err := run(t, append(args, "--tracking-uri", url, "--data-dir", filepath.Join(work, "cd"), "--json")...)
	require.NoError(t, err, out)
	var res struct {
		RunID   string `json:"run_id"`
		Package string `json:"package"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	r, err := c.GetRun(context.Background(), res.RunID)
	require.NoError(t, err)
	return trained{runID: res.RunID, pkg: res.Package, source: r.Info.ArtifactURI + "/model"}
}

func register(t *testing.T, c *client.Client, name, source, runID string) int64 {
	t.Helper()
	ctx := context.Background()
	_, err := c.EnsureRegisteredModel(ctx, name, "", nil)
	require.NoError(t, err)
	v, err := c.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: name, Source: source, RunID: runID})
	require.NoError(t, err)
	return v.Version
}

type httpResult struct {
	code int
	body map[string]any
	raw  string
}

func post(t *testing.T, url, body string) httpResult {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := httpResult{code: resp.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// TestServeEndToEnd trains both reference models on synthetic stand-ins,
// registers them, deploys them with the serve.deploy step inside the real
// server and checks every endpoint, a swap under load (a good version,
// then a broken one), and that deployments survive a restart.
func TestServeEndToEnd(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	url, stop, done := startServer(t, cfg)
	ctx := context.Background()
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)

	work := t.TempDir()
	csv := filepath.Join(work, "passengers.csv")
	require.NoError(t, table.SynthPassengersFile(csv, 200, 1))
	hands := filepath.Join(work, "hands")
	_, err = images.GenerateHands(ctx, images.SynthHandsOptions{Out: hands, N: 72, Seed: 1, Size: 32})
	require.NoError(t, err)
	fingers := trainForServing(t, url, "train", "fingers", "--data", hands, "--size", "16", "--epochs", "1", "--model", "small")
	titanic := trainForServing(t, url, "train", "titanic", "--data", csv, "--epochs", "2")

	v1 := register(t, c, "fingers", fingers.source, fingers.runID)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "fingers", "champion", v1))
	tv := register(t, c, "titanic", titanic.source, titanic.runID)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "titanic", "champion", tv))

	var log bytes.Buffer
	env := steps.Env{TrackingURI: url, Stdout: &log, Stderr: &log}
	for _, d := range []*steps.Deploy{
		{Name: "fingers", Model: "models:/fingers@champion", MaxWait: "2ms", MaxImageBytes: 1 << 20},
		{Name: "titanic", Model: "models:/titanic@champion"},
	} {
		require.NoError(t, d.Validate())
		out, err := d.Run(ctx, env)
		require.NoError(t, err, log.String())
		require.Equal(t, url+"/serve/"+d.Name+"/", out["url"])
		require.NotEmpty(t, out["version"])
	}
	bad := &steps.Deploy{Name: "Fingers!", Model: ""}
	require.ErrorContains(t, bad.Validate(), "model_uri is required")
	_, err = (&steps.Deploy{Name: "nope", Model: "models:/nope@champion"}).Run(ctx, env)
	require.ErrorContains(t, err, "nope")

	// The workshop's request: a base64 PNG.
	files, err := filepath.Glob(filepath.Join(hands, "*.png"))
	require.NoError(t, err)
	png, err := os.ReadFile(files[0])
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString(png)
	r := post(t, url+"/serve/fingers/", `{"image": "`+b64+`"}`)
	require.Equal(t, 200, r.code, r.raw)
	require.Contains(t, r.body, "fingers")
	require.Len(t, r.body["probabilities"], 6)
	require.Equal(t, fmt.Sprint(v1), r.body["model_version"])

	for _, tc := range []struct{ name, body, msg string }{
		{"corrupt base64", `{"image": "iVBORw0KGgo***"}`, `field "image" is not valid base64`},
		{"not an image", `{"image": "` + base64.StdEncoding.EncodeToString([]byte("GIF89a not a png")) + `"}`, `field "image": `},
		{"no image", `{}`, `field "image" is required`},
	} {
		r := post(t, url+"/serve/fingers/", tc.body)
		require.Equal(t, 400, r.code, tc.name+": "+r.raw)
		require.Contains(t, r.body["error"], tc.msg, tc.name)
	}
	// An image that decodes to more than the deployment's max_image_bytes
	// is refused from its header.
	var big bytes.Buffer
	require.NoError(t, imagepng.Encode(&big, image.NewNRGBA(image.Rect(0, 0, 600, 600))))
	r = post(t, url+"/serve/fingers/", `{"image": "`+base64.StdEncoding.EncodeToString(big.Bytes())+`"}`)
	require.Equal(t, 413, r.code, r.raw)
	require.Contains(t, r.body["error"], `field "image": 600x600 PNG image (NRGBA, 4 bytes per pixel) takes`)
	require.Contains(t, r.body["error"], "the limit is 1 MiB (1048576 bytes), the deployment's max_image_bytes")
	// The Open Inference Protocol with the image as BYTES.
	r = post(t, url+"/v2/models/fingers/infer", `{"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": ["`+b64+`", "`+b64+`"]}]}`)
	require.Equal(t, 200, r.code, r.raw)
	outs := r.body["outputs"].([]any)
	require.Equal(t, []any{2.0, 6.0}, outs[0].(map[string]any)["shape"])
	r = post(t, url+"/v2/models/fingers/infer", `{"inputs": [{"name": "input", "shape": [1, 8, 8, 1], "datatype": "FP32", "data": [0]}]}`)
	require.Equal(t, 400, r.code)
	require.Contains(t, r.body["error"], "expected [N, 16, 16, 1]")

	// The Titanic demo's request; optional fields may be missing.
	passenger := `{"PassengerId": 892, "Name": "Kelly, Mr. James", "Pclass": 3, "Age": 34.5, "SibSp": 0, "Parch": 0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}`
	r = post(t, url+"/serve/titanic/predict", passenger)
	require.Equal(t, 200, r.code, r.raw)
	require.EqualValues(t, 892, r.body["PassengerId"])
	require.Contains(t, []any{0.0, 1.0}, r.body["Survived"])
	p := r.body["probability"].(float64)
	require.True(t, p >= 0 && p <= 1)
	// Whole numbers sent as floats (Python's json, pandas) are the same
	// categories: Pclass 3.0 is Pclass 3.
	asFloats := post(t, url+"/serve/titanic/predict", strings.ReplaceAll(passenger, `"Pclass": 3,`, `"Pclass": 3.0,`))
	require.Equal(t, 200, asFloats.code, asFloats.raw)
	require.Equal(t, p, asFloats.body["probability"])
	r = post(t, url+"/serve/titanic/predict", `{"PassengerId": 893, "Name": "Wilkes, Mrs. James", "Pclass": 3, "Sex": "female", "Age": null, "SibSp": 1, "Parch": 0, "Fare": null, "Embarked": null}`)
	require.Equal(t, 200, r.code, r.raw)
	for _, tc := range []struct{ body, msg string }{
		{`{"PassengerId": 1, "Name": "A, Mr. B", "Pclass": 3, "Age": "old", "SibSp": 0, "Parch": 0, "Fare": 7, "Sex": "male", "Embarked": "S"}`, `field "Age": expected a number, got a string ("old")`},
		{`{"PassengerId": 1, "Age": 30}`, `is required`},
	} {
		r := post(t, url+"/serve/titanic/predict", tc.body)
		require.Equal(t, 400, r.code, r.raw)
		require.Contains(t, r.body["error"], tc.msg)
	}
	// MLflow's scoring protocol.
	r = post(t, url+"/serve/titanic/invocations", `{"dataframe_records": [`+passenger+`]}`)
	require.Equal(t, 200, r.code, r.raw)
	require.Len(t, r.body["predictions"], 1)
	// An oversized body.
	r = post(t, url+"/serve/titanic/predict", `{"Name": "`+strings.Repeat("x", serve.DefaultMaxBodyBytes)+`"}`)
	require.Equal(t, 413, r.code)

	// Swap under load: the alias moves to a good version, then to a broken
	// one (a package without weights); no request fails.
	v2 := register(t, c, "fingers", fingers.source, fingers.runID)
	brokenRun, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: "0", RunName: "broken"})
	require.NoError(t, err)
	manifest, err := os.ReadFile(filepath.Join(fingers.pkg, train.PackageFile))
	require.NoError(t, err)
	require.NoError(t, c.UploadArtifact(ctx, brokenRun, "model/"+train.PackageFile, bytes.NewReader(manifest)))
	v3 := register(t, c, "fingers", brokenRun.Info.ArtifactURI+"/model", brokenRun.Info.RunID)

	loadCtx, stopLoad := context.WithCancel(ctx)
	var ok, failed atomic.Int64
	versions := sync.Map{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				resp, err := http.Post(url+"/serve/fingers/", "application/json", strings.NewReader(`{"image": "`+b64+`"}`))
				if err != nil {
					failed.Add(1)
					continue
				}
				var body map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				versions.Store(body["model_version"], true)
			}
		}()
	}
	refresh := func() error {
		return c.Do(ctx, "POST", serve.APIPrefix+"refresh", map[string]string{"name": "fingers"}, nil)
	}
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "fingers", "champion", v2))
	require.NoError(t, refresh())
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "fingers", "champion", v3))
	err = refresh()
	require.Error(t, err)
	require.Contains(t, err.Error(), fmt.Sprintf("version %d", v3))
	time.Sleep(100 * time.Millisecond)
	stopLoad()
	wg.Wait()
	require.Zero(t, failed.Load(), "requests failed during the swaps")
	require.Positive(t, ok.Load())
	_, servedV2 := versions.Load(fmt.Sprint(v2))
	_, servedV3 := versions.Load(fmt.Sprint(v3))
	require.True(t, servedV2)
	require.False(t, servedV3)
	var got struct {
		Deployment serve.DeploymentJSON `json:"deployment"`
	}
	require.NoError(t, c.Do(ctx, "GET", serve.APIPrefix+"get?name=fingers", nil, &got))
	require.Equal(t, fmt.Sprint(v2), got.Deployment.ModelVersion)
	require.Equal(t, []string{fmt.Sprint(v3)}, got.Deployment.Rejected)

	// Metrics name the served version and count the batches.
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(metrics), fmt.Sprintf(`cairn_serve_model_version{deployment="fingers",version="%d"} 1`, v2))
	require.Contains(t, string(metrics), `cairn_serve_batch_size_bucket{deployment="fingers"`)
	require.Contains(t, string(metrics), `cairn_serve_model_loads_total{deployment="fingers",result="rejected"} 1`)

	// Deployments are kept: a restarted server serves them again.
	stop()
	require.NoError(t, <-done)
	url2, _, _ := startServer(t, cfg)
	require.Eventually(t, func() bool {
		resp, err := http.Get(url2 + "/v2/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, 30*time.Second, 50*time.Millisecond)
	r = post(t, url2+"/serve/titanic/predict", passenger)
	require.Equal(t, 200, r.code, r.raw)
	// The alias points at the broken version; the last good one serves.
	r = post(t, url2+"/serve/fingers/", `{"image": "`+b64+`"}`)
	require.Equal(t, 200, r.code, r.raw)
	require.Equal(t, fmt.Sprint(v2), r.body["model_version"])

	// cairn serve: one package folder, endpoints at the root.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan string, 1)
	serveDone := make(chan error, 1)
	go func() {
		c2, _ := clientFor(url2)
		serveDone <- runServe(sctx, []serve.Config{{Name: "titanic", ModelURI: titanic.pkg}}, c2, "127.0.0.1:0", "", t.TempDir(), guardConfig{},
			slog.New(slog.DiscardHandler), ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-serveDone:
		t.Fatalf("cairn serve did not start: %v", err)
	}
	r = post(t, "http://"+addr+"/predict", passenger)
	require.Equal(t, 200, r.code, r.raw)
	require.True(t, strings.HasPrefix(r.body["model_version"].(string), "sha256-"))
	r = post(t, "http://"+addr+"/v2/models/titanic/infer", `{"inputs": [{"name": "Name", "shape": [1], "datatype": "BYTES", "data": ["Cumings, Mrs. John"]},
		{"name": "Pclass", "shape": [1], "datatype": "INT32", "data": [1]}, {"name": "Sex", "shape": [1], "datatype": "BYTES", "data": ["female"]},
		{"name": "Age", "shape": [1], "datatype": "FP64", "data": [38]}, {"name": "SibSp", "shape": [1], "datatype": "INT32", "data": [1]},
		{"name": "Parch", "shape": [1], "datatype": "INT32", "data": [0]}, {"name": "Fare", "shape": [1], "datatype": "FP64", "data": [71.28]},
		{"name": "Embarked", "shape": [1], "datatype": "BYTES", "data": ["C"]}]}`)
	require.Equal(t, 200, r.code, r.raw)
	resp, err = http.Get("http://" + addr + "/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	cancel()
	require.NoError(t, <-serveDone)
}

// TestServeFlags checks the limits cairn serve takes are validated.
func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--max-image-bytes", "-5"}, "max_image_bytes -5: expected a positive number"},
		{[]string{"--max-image-bytes", "1e3"}, `invalid argument "1e3" for "--max-image-bytes"`},
		{[]string{"--queue", "-1"}, "queue_size -1"},
	} {
		_, err := run(t, append([]string{"serve", "--model", "models:/m@a"}, tc.args...)...)
		require.ErrorContains(t, err, tc.msg)
	}
}

// TestServeWithAuth deploys on a server with --auth: the model server
// fetches the package in process without credentials of its own, and
// inference needs only read access.
func TestServeWithAuth(t *testing.T) {
	url, secret := startAuthServer(t)
	ctx := context.Background()
	c, err := client.New(url, client.Options{Token: secret})
	require.NoError(t, err)
	work := t.TempDir()
	csv := filepath.Join(work, "passengers.csv")
	require.NoError(t, table.SynthPassengersFile(csv, 120, 1))
	t.Setenv("MLFLOW_TRACKING_TOKEN", secret)
	out, err := run(t, "train", "titanic", "--data", csv, "--epochs", "1", "--tracking-uri", url,
		"--data-dir", filepath.Join(work, "cd"), "--json")
	require.NoError(t, err, out)
	var res struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
	r, err := c.GetRun(ctx, res.RunID)
	require.NoError(t, err)
	v := register(t, c, "titanic", r.Info.ArtifactURI+"/model", res.RunID)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "titanic", "champion", v))

	var got struct {
		Deployment serve.DeploymentJSON `json:"deployment"`
	}
	require.NoError(t, c.Do(ctx, "POST", serve.APIPrefix+"create", map[string]any{"name": "titanic", "model_uri": "models:/titanic@champion", "wait": true}, &got))
	require.Equal(t, serve.StateReady, got.Deployment.State)

	body := `{"PassengerId": 1, "Name": "A, Mr. B", "Pclass": 3, "Age": 30, "SibSp": 0, "Parch": 0, "Fare": 7, "Sex": "male", "Embarked": "S"}`
	r2 := post(t, url+"/serve/titanic/predict", body)
	require.Equal(t, 401, r2.code, "no credentials")
	req, _ := http.NewRequest("POST", url+"/serve/titanic/predict", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	// cairn serve against the --auth server reads MLFLOW_TRACKING_TOKEN.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		fromEnv, _ := clientFor(url)
		done <- runServe(sctx, []serve.Config{{Name: "titanic", ModelURI: "models:/titanic@champion"}}, fromEnv, "127.0.0.1:0", "", t.TempDir(), guardConfig{},
			slog.New(slog.DiscardHandler), ready)
	}()
	select {
	case addr := <-ready:
		require.Equal(t, 200, post(t, "http://"+addr+"/predict", body).code)
	case err := <-done:
		t.Fatalf("cairn serve did not start: %v", err)
	}
	cancel()
	require.NoError(t, <-done)
}

// TestPipelinesUnderAuth runs a pipeline inside a server with --auth: its
// tasks authenticate with a token of the submitting user that is confined
// to the run's experiment, may not manage users, and stops working when the
// run ends.
func TestPipelinesUnderAuth(t *testing.T) {
	url, secret := startAuthServer(t)
	ctx := context.Background()
	c, err := client.New(url, client.Options{Token: secret})
	require.NoError(t, err)
	tmp := t.TempDir()

	spec := `name: authed
tasks:
  synth:
    uses: data.synth
    with: {kind: titanic, n: 120, seed: 1}
  prepare:
    needs: [synth]
    uses: data.csv
    with: {source: "${{ tasks.synth.outputs.path }}", preset: titanic}
  train:
    needs: [prepare]
    uses: train.tabular
    with: {dataset: "${{ tasks.prepare.outputs.dataset }}", epochs: 1}
  token:
    run: |
      echo "$MLFLOW_TRACKING_TOKEN" > ` + tmp + `/token
      while [ ! -e ` + tmp + `/done ]; do sleep 0.05; done
`
	var sub struct {
		Run struct {
			RunID string `json:"run_id"`
		} `json:"run"`
	}
	require.NoError(t, c.Do(ctx, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"spec": spec}, &sub))
	var got struct {
		Run struct {
			Phase        string `json:"phase"`
			ExperimentID string `json:"experiment_id"`
			Tasks        []struct {
				Node    string `json:"node"`
				Phase   string `json:"phase"`
				Message string `json:"message"`
			} `json:"tasks"`
		} `json:"run"`
	}
	get := func() {
		require.NoError(t, c.Do(ctx, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+sub.Run.RunID, nil, &got))
	}
	var task string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(tmp, "token"))
		task = strings.TrimSpace(string(b))
		return task != ""
	}, 60*time.Second, 50*time.Millisecond)
	get()

	tc, err := client.New(url, client.Options{Token: task})
	require.NoError(t, err)
	_, err = tc.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: got.Run.ExperimentID, RunName: "by-the-task"})
	require.NoError(t, err, "the task writes to its pipeline's experiment")
	_, err = tc.CreateExperiment(ctx, "written-by-a-task")
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "nor anywhere else: %v", err)
	_, err = tc.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: "0"})
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	err = tc.Do(ctx, "GET", "/api/2.0/cairn/users/list", nil, nil)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "the task's token is not an admin's: %v", err)
	err = tc.Do(ctx, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"spec": spec}, nil)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "a task starts no pipelines: %v", err)

	require.NoError(t, os.WriteFile(filepath.Join(tmp, "done"), nil, 0o600))
	require.Eventually(t, func() bool {
		get()
		return got.Run.Phase == "Succeeded" || got.Run.Phase == "Failed"
	}, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, "Succeeded", got.Run.Phase, "%+v", got.Run.Tasks)
	_, err = tc.GetExperiment(ctx, got.Run.ExperimentID)
	require.Equal(t, errs.Unauthenticated, errs.KindOf(err), "the token ends with its run: %v", err)
}

// startAuthServer starts a server with --auth and an admin, and returns
// its URL and an admin token.
func startAuthServer(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cmd := newRootCmd()
	cmd.SetIn(strings.NewReader("s3cret-password\n"))
	cmd.SetOut(io.Discard)
	cmd.SetArgs([]string{"users", "add", "admin", "--role", "admin", "--password-stdin", "--data", dir})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	tokOut, err := run(t, "tokens", "create", "admin", "--name", "ci", "--data", dir)
	require.NoError(t, err)
	secret := strings.TrimSpace(strings.Split(tokOut, "\n")[0])
	cfg := DefaultConfig()
	cfg.Data, cfg.Addr, cfg.Auth = dir, "127.0.0.1:0", true
	url, _, _ := startServer(t, cfg)
	return url, secret
}
