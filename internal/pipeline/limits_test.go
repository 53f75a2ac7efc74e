package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

func TestForEachLimitsAreOptionsAndHoldAtRunTime(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.Limits = spec.Limits{TaskItems: 3, RunItems: 5} })
	_, err := f.e.Submit(context.Background(), pipeline.Submission{File: "x.yaml", Trigger: "test",
		Source: []byte("name: x\ntasks:\n  fan:\n    run: echo\n    for_each: [1, 2, 3, 4]\n")})
	require.Error(t, err)
	require.Contains(t, err.Error(), `task "fan" for_each: 4 items, more than the 3 a task may fan out to`)

	src := `name: dyn
params:
  xs: {type: list, default: [1, 2, 3]}
tasks:
  a:
    run: echo ${{ item }}
    for_each: ${{ params.xs }}
  b:
    needs: [a]
    run: echo ${{ item }}
    for_each: ${{ params.xs }}
`
	got := f.run(src, map[string]any{"xs": []any{1, 2, 3, 4}})
	require.Equal(t, pipeline.Failed, got.Phase)
	require.Equal(t, "for_each: 4 items, more than the 3 a task may fan out to", task(got, "a").Message)

	got = f.run(src, nil)
	require.Equal(t, pipeline.Failed, got.Phase)
	require.Equal(t, pipeline.Succeeded, task(got, "a").Phase)
	require.Equal(t, "for_each: 3 items, and the run's for_each tasks would have 6 together, more than the 5 a run may have",
		task(got, "b").Message)
}

func task(r *pipeline.Run, node string) *pipeline.TaskRun {
	for _, t := range r.Tasks {
		if t.Node == node {
			return t
		}
	}
	return nil
}

// TestRetryRerunsOnlyFailedItems: retrying a run whose for_each task failed
// runs again only the items that did not succeed, within the run's limit.
func TestRetryRerunsOnlyFailedItems(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.Limits = spec.Limits{TaskItems: 3, RunItems: 3} })
	flag := filepath.Join(f.dir, "ok")
	r := f.run(`
name: retry
tasks:
  fan:
    run: test ${{ item }} != 2 || test -f `+flag+`
    for_each: [1, 2, 3]
  after: {needs: [fan], run: "true"}
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	started := task(r, "fan[0]").Started.UnixMilli()
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	_, err := f.e.Retry(context.Background(), r.ID, "")
	require.NoError(t, err)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	require.Equal(t, started, task(got, "fan[0]").Started.UnixMilli(), "a succeeded item does not run again")
	require.Len(t, got.Tasks, 5, "the parent, its three items and after, once each")
	for node, attempts := range map[string]int{"fan[0]": 1, "fan[1]": 1, "fan[2]": 1, "after": 1} {
		require.Equal(t, pipeline.Succeeded, task(got, node).Phase, node)
		require.Equal(t, attempts, task(got, node).Attempts, node)
	}
}
