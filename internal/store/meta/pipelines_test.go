package meta

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

func TestPipelineRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		run := &pipeline.Run{ID: "r1", Pipeline: "p", Source: "name: p", Phase: pipeline.Pending, Params: spec.Params{"n": float64(2)},
			Created: now, Tasks: []*pipeline.TaskRun{{Node: "a", Task: "a", Item: -1, Phase: pipeline.Pending}, {Node: "b", Task: "b", Item: -1, Phase: pipeline.Pending}}}
		require.Equal(t, errs.NotFound, errs.KindOf(db.CreatePipelineRun(ctx, run)), "a run needs its pipeline")
		require.NoError(t, db.SavePipeline(ctx, &pipeline.Definition{Name: "p", Source: "name: p", Schedule: "@hourly", Created: now, Updated: now}))
		require.NoError(t, db.SavePipeline(ctx, &pipeline.Definition{Name: "p", Source: "name: p # v2", Created: now, Updated: now}))
		d, err := db.FindPipelineByName(ctx, "p")
		require.NoError(t, err)
		require.Equal(t, "name: p # v2", d.Source)
		require.Empty(t, d.Schedule)
		defs, err := db.FindPipelines(ctx)
		require.NoError(t, err)
		require.Len(t, defs, 1)

		require.NoError(t, db.CreatePipelineRun(ctx, run))
		require.Equal(t, errs.Conflict, errs.KindOf(db.CreatePipelineRun(ctx, run)))
		got, err := db.FindPipelineRunByID(ctx, "r1")
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, []string{got.Tasks[0].Node, got.Tasks[1].Node})
		require.Equal(t, spec.Params{"n": float64(2)}, got.Params)
		require.Equal(t, now, got.Created)

		// Ownership: a live owner keeps the run; a stale one loses it.
		require.NoError(t, db.ClaimPipelineRun(ctx, "r1", "h:1", now, now.Add(-time.Minute)))
		require.Equal(t, errs.Conflict, errs.KindOf(db.ClaimPipelineRun(ctx, "r1", "h:2", now, now.Add(-time.Minute))))
		cancel, err := db.HeartbeatPipelineRun(ctx, "r1", "h:1", now)
		require.NoError(t, err)
		require.False(t, cancel)
		require.NoError(t, db.RequestCancel(ctx, "r1"))
		cancel, err = db.HeartbeatPipelineRun(ctx, "r1", "h:1", now)
		require.NoError(t, err)
		require.True(t, cancel)
		require.NoError(t, db.ClaimPipelineRun(ctx, "r1", "h:2", now, now.Add(time.Second)))
		_, err = db.HeartbeatPipelineRun(ctx, "r1", "h:1", now)
		require.Equal(t, errs.Conflict, errs.KindOf(err))

		// Items are added later and sort with their task.
		a := got.Tasks[0]
		a.Phase, a.Outputs, a.CacheKey, a.Finished, a.Attempts = pipeline.Succeeded, map[string]string{"x": "1"}, "k1", now, 2
		a.PID, a.PIDStart = 4242, "boot-id/123456"
		items := []*pipeline.TaskRun{{Node: "a[1]", Task: "a", Item: 1, Phase: pipeline.Pending}, {Node: "a[0]", Task: "a", Item: 0, Phase: pipeline.Failed}}
		require.NoError(t, db.SaveTaskRuns(ctx, "r1", append(items, a)))
		got.Phase, got.Message, got.Finished = pipeline.Failed, "failed: a", now
		require.NoError(t, db.UpdatePipelineRun(ctx, got))
		got, err = db.FindPipelineRunByID(ctx, "r1")
		require.NoError(t, err)
		var nodes []string
		for _, tr := range got.Tasks {
			nodes = append(nodes, tr.Node)
		}
		require.Equal(t, []string{"a", "a[0]", "a[1]", "b"}, nodes)
		require.Equal(t, pipeline.Failed, got.Phase)
		require.True(t, got.Cancel)
		require.Equal(t, 2, got.Tasks[0].Attempts)
		require.Equal(t, 4242, got.Tasks[0].PID)
		require.Equal(t, "boot-id/123456", got.Tasks[0].PIDStart)

		from, hit, err := db.FindCachedTaskRun(ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, "r1", from)
		require.Equal(t, map[string]string{"x": "1"}, hit.Outputs)
		_, _, err = db.FindCachedTaskRun(ctx, "k2")
		require.Equal(t, errs.NotFound, errs.KindOf(err))

		require.Equal(t, errs.NotFound, errs.KindOf(db.SaveTaskRuns(ctx, "nope", items)))
		require.Equal(t, errs.NotFound, errs.KindOf(db.UpdatePipelineRun(ctx, &pipeline.Run{ID: "nope"})))
		_, err = db.FindPipelineRunByID(ctx, "nope")
		require.Equal(t, errs.NotFound, errs.KindOf(err))

		run2 := &pipeline.Run{ID: "r2", Pipeline: "p", Phase: pipeline.Running, Params: spec.Params{}, Created: now.Add(time.Second)}
		require.NoError(t, db.CreatePipelineRun(ctx, run2))
		runs, err := db.FindPipelineRuns(ctx, pipeline.RunFilter{Pipeline: "p"})
		require.NoError(t, err)
		require.Equal(t, []string{"r2", "r1"}, []string{runs[0].ID, runs[1].ID})
		runs, err = db.FindPipelineRuns(ctx, pipeline.RunFilter{Phases: []pipeline.Phase{pipeline.Running, pipeline.Pending}})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		runs, err = db.FindPipelineRuns(ctx, pipeline.RunFilter{Before: "r2"})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, "r1", runs[0].ID)
	})
}
