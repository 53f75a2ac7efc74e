package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/train"
)

// TestTrainCommand trains both workloads on small synthetic stand-ins
// against a real server and checks what the run recorded.
func TestTrainCommand(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	work := t.TempDir()
	ctx := context.Background()

	csv := filepath.Join(work, "passengers.csv")
	require.NoError(t, table.SynthPassengersFile(csv, 240, 1))
	hands := filepath.Join(work, "hands")
	_, err := images.GenerateHands(ctx, images.SynthHandsOptions{Out: hands, N: 96, Seed: 1, Size: 32})
	require.NoError(t, err)

	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)
	for _, tc := range []struct {
		args   []string
		metric string
	}{
		{[]string{"train", "titanic", "--data", csv, "--epochs", "3", "--cv", "2"}, "cv_accuracy_mean"},
		{[]string{"train", "fingers", "--data", hands, "--size", "16", "--epochs", "2", "--model", "small"}, "test_accuracy"},
		{[]string{"train", "titanic", "--data", csv, "--model", "gbdt", "--cv", "2", "--tree-iterations", "60"}, "cv_accuracy_mean"},
		{[]string{"train", "titanic", "--data", csv, "--model", "rf", "--tree-iterations", "40", "--tree-balanced"}, "best_val_accuracy"},
	} {
		args := append(tc.args, "--tracking-uri", url, "--data-dir", filepath.Join(work, "cd"), "--json")
		out, err := run(t, args...)
		require.NoError(t, err, out)
		var res struct {
			RunID   string `json:"run_id"`
			Package string `json:"package"`
		}
		require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
		r, err := c.GetRun(ctx, res.RunID)
		require.NoError(t, err)
		require.Equal(t, "FINISHED", r.Info.Status)
		keys := map[string]bool{}
		for _, m := range r.Metrics {
			keys[m.Key] = true
		}
		require.True(t, keys[tc.metric], "metric %s missing: %v", tc.metric, keys)
		require.True(t, keys["val_accuracy"] && keys["train_loss"], "%v", keys)
		hist, err := c.MetricHistory(ctx, res.RunID, "train_loss")
		require.NoError(t, err)
		require.NotEmpty(t, hist)
		require.EqualValues(t, 1, hist[0].Step)
		require.Contains(t, tagsOf(r), "cairn.synthetic=true")
		require.NotEmpty(t, r.Inputs.Datasets, "the dataset is logged as a run input")

		// The package was uploaded and loads without the training code.
		var list struct {
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		require.NoError(t, c.Do(ctx, "GET", "/api/2.0/mlflow/artifacts/list?run_id="+res.RunID+"&path=model", nil, &list))
		var names []string
		for _, f := range list.Files {
			names = append(names, f.Path)
		}
		require.Contains(t, names, "model/"+train.PackageFile)
		require.Contains(t, names, "model/"+train.MLmodelFile)
		p, err := train.LoadPredictor(res.Package, "")
		require.NoError(t, err)
		require.NotEmpty(t, p.Package.Classes)

		// Registered and aliased, the same package loads from models:/name@champion.
		name := tc.args[1]
		_, err = c.EnsureRegisteredModel(ctx, name, "", nil)
		require.NoError(t, err)
		v, err := c.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: name, Source: r.Info.ArtifactURI + "/model", RunID: res.RunID})
		require.NoError(t, err)
		require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "champion", v.Version))
		fetched, err := jobs.LoadModel(ctx, jobs.RemoteModels{Client: c}, "models:/"+name+"@champion", filepath.Join(work, "models"), "")
		require.NoError(t, err)
		require.Equal(t, p.Package.Classes, fetched.Package.Classes)
		x := make([]float32, p.ExampleSize())
		want, err := p.Predict(x, 1)
		require.NoError(t, err)
		got, err := fetched.Predict(x, 1)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}

	_, err = run(t, "train", "cats", "--data", csv)
	require.Equal(t, 2, exitCode(err))
	_, err = run(t, "train", "titanic", "--data", csv, "--model", "residual", "--tracking-uri", url, "--data-dir", work)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, `model "residual": expected one of [ensemble gbdt logistic mlp rf]`)
	_, err = run(t, "train", "titanic", "--data", csv, "--model", "gbdt", "--tree-lr", "3", "--tracking-uri", url, "--data-dir", work)
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "tree learning rate 3: expected a number in (0, 1]")
	_, err = run(t, "train", "titanic", "--data", filepath.Join(work, "missing.csv"), "--tracking-uri", url, "--data-dir", work)
	require.Equal(t, 3, exitCode(err))
}

func tagsOf(r *tracking.Run) []string {
	var out []string
	for _, t := range r.Tags {
		out = append(out, t.Key+"="+t.Value)
	}
	return out
}
