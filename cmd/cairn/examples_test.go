package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/steps"
	"github.com/cairn-mlops/cairn/internal/store/meta"
)

// TestMain lets this test binary stand in for cairn when the pipeline engine
// runs a built-in step as a child process: "<exe> step exec ID --inputs F".
func TestMain(m *testing.M) {
	if (len(os.Args) > 2 && os.Args[1] == "step" && os.Args[2] == "exec") || (len(os.Args) > 1 && os.Args[1] == "sandbox") ||
		os.Getenv("CAIRN_TEST_AS_CAIRN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestExamplePipelines runs both reference pipelines end to end, in process,
// on small synthetic stand-ins: prepare, train (the fingers sweep is 4 models
// x 2 learning rates), evaluate, and register the champion.
func TestExamplePipelines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params []string
		model  string
	}{
		{"fingers", []string{"synthetic_images=48", "size=16", "epochs=1"}, "fingers"},
		// Every choice the run form offers must run: the scheduler's enum.
		{"fingers", []string{"synthetic_images=48", "size=16", "epochs=2", "scheduler=median"}, "fingers"},
		{"fingers", []string{"synthetic_images=48", "size=16", "epochs=1", "scheduler=fifo"}, "fingers"},
		{"titanic", []string{"synthetic_rows=300", "epochs=30", "cv=2", "min_accuracy=0"}, "titanic"},
	} {
		t.Run(strings.Join(append([]string{tc.name}, tc.params...), " "), func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"run", filepath.Join("..", "..", "examples", tc.name, "pipeline.yaml"), "--data", dir, "--json", "--log-level", "warn"}
			for _, p := range tc.params {
				args = append(args, "-p", p)
			}
			out, err := run(t, args...)
			require.NoError(t, err, out)
			var res struct {
				Phase string `json:"phase"`
				Tasks []struct {
					Node          string            `json:"node"`
					Phase         string            `json:"phase"`
					Outputs       map[string]string `json:"outputs"`
					TrackingRunID string            `json:"tracking_run_id"`
				} `json:"tasks"`
			}
			require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
			require.Equal(t, "Succeeded", res.Phase, out)
			if tc.name == "fingers" {
				// The sweep: 8 trials, each a child run of the tune task's run.
				var sweep map[string]string
				var parent string
				for _, task := range res.Tasks {
					if task.Node == "tune" {
						sweep, parent = task.Outputs, task.TrackingRunID
					}
				}
				var runs []string
				require.NoError(t, json.Unmarshal([]byte(sweep["runs"]), &runs))
				require.Len(t, runs, 8, "4 models x 2 learning rates")
				require.Contains(t, runs, sweep["best_run_id"])
				db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
				require.NoError(t, err)
				for _, id := range runs {
					r, err := db.FindRunByID(context.Background(), id)
					require.NoError(t, err)
					tags := map[string]string{}
					for _, tg := range r.Tags {
						tags[tg.Key] = tg.Value
					}
					require.Equal(t, parent, tags["mlflow.parentRunId"])
					require.Contains(t, []string{"FINISHED", "KILLED"}, r.Info.Status)
				}
				db.Close()
			}

			// The champion is registered and points at a trained run's package.
			db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
			require.NoError(t, err)
			defer db.Close()
			v, err := registry.NewService(db, db).Resolve(context.Background(), "models:/"+tc.model+"@champion")
			require.NoError(t, err)
			require.NotEmpty(t, v.RunID)
			require.True(t, strings.HasSuffix(v.Source, "/model"), v.Source)

			// The deploy task ran and its deployment is kept for the server.
			phases := map[string]string{}
			for _, task := range res.Tasks {
				phases[task.Node] = task.Phase
			}
			require.Equal(t, "Succeeded", phases["deploy"], out)
			deps, err := db.FindDeployments(context.Background())
			require.NoError(t, err)
			require.Len(t, deps, 1)
			require.Equal(t, tc.model, deps[0].Name)
			require.Contains(t, string(deps[0].Config), `"model_uri":"models:/`+tc.model+`@champion"`)
		})
	}
}

// TestDemoRunsBothPipelines is 'cairn demo --quick --exit': the server
// starts, both reference pipelines run in it, and the champions are named.
func TestDemoRunsBothPipelines(t *testing.T) {
	out, err := run(t, "demo", "--quick", "--exit", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--log-level", "warn")
	require.NoError(t, err, out)
	require.Contains(t, out, "pipeline titanic on SYNTHETIC stand-ins")
	require.Contains(t, out, "  web UI:           http://127.0.0.1:")
	require.Contains(t, out, "pipeline titanic Succeeded")
	require.Contains(t, out, "pipeline fingers Succeeded")
	require.Contains(t, out, "registered models:/fingers@champion")
	require.Contains(t, out, "registered models:/titanic@champion")
	require.Contains(t, out, "serving models:/fingers@champion version 1 at http://127.0.0.1:")
	require.Contains(t, out, "/serve/titanic/predict   one passenger")
	require.Contains(t, out, "/serve/fingers/          {\"image\"")
}

// The titanic pipeline's gate: when the best cross-validated accuracy is
// short of min_accuracy, nothing is registered and nothing deployed, and the
// run still succeeds (it did its work; the model was not good enough).
func TestTitanicGateHoldsBackAWeakChampion(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "run", filepath.Join("..", "..", "examples", "titanic", "pipeline.yaml"), "--data", dir, "--json", "--log-level", "warn",
		"-p", "synthetic_rows=200", "-p", "epochs=5", "-p", "cv=2", "-p", "min_accuracy=0.999", "-p", "models=logistic,gbdt")
	require.NoError(t, err, out)
	var res struct {
		Phase string `json:"phase"`
		Tasks []struct {
			Node    string            `json:"node"`
			Phase   string            `json:"phase"`
			Outputs map[string]string `json:"outputs"`
		} `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal([]byte(out[strings.Index(out, "{\n"):]), &res), out)
	require.Equal(t, "Succeeded", res.Phase, out)
	tasks := map[string]string{}
	for _, tk := range res.Tasks {
		tasks[tk.Node] = tk.Phase
		if tk.Node == "register" {
			require.Equal(t, "false", tk.Outputs["promoted"])
			require.Empty(t, tk.Outputs["version"])
		}
	}
	require.Equal(t, "Skipped", tasks["deploy"])
	require.Equal(t, "Succeeded", tasks["train[1]"], "both models trained")
	db, err := meta.Open(context.Background(), filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	defer db.Close()
	_, err = registry.NewService(db, db).Resolve(context.Background(), "models:/titanic@champion")
	require.Error(t, err, "no champion registered")
}

// TestExampleEnumsAreCovered keeps TestExamplePipelines honest: each choice
// a reference pipeline's params offer is one it runs.
func TestExampleEnumsAreCovered(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "fingers", "pipeline.yaml"))
	require.NoError(t, err)
	plan, err := spec.Load("pipeline.yaml", src, steps.Default(), spec.Limits{})
	require.NoError(t, err)
	for _, p := range plan.Spec.Params {
		if p.Name == "scheduler" {
			require.Equal(t, []any{"asha", "median", "fifo"}, p.Enum, "add a TestExamplePipelines case for each choice")
			return
		}
	}
	t.Fatal("the fingers pipeline has no scheduler param")
}
