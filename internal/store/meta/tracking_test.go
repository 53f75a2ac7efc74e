package meta

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func newRun(t *testing.T, svc *tracking.Service, exp, name string, tags ...tracking.Tag) *tracking.Run {
	t.Helper()
	r, err := svc.CreateRun(context.Background(), tracking.CreateRunInput{ExperimentID: exp, RunName: name, UserID: "u", Tags: tags})
	require.NoError(t, err)
	return r
}

func TestExperiments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		def, err := db.FindExperimentByID(ctx, "0")
		require.NoError(t, err)
		require.Equal(t, "Default", def.Name)
		require.Equal(t, "mlflow-artifacts:/0", def.ArtifactLocation)

		id, err := svc.CreateExperiment(ctx, "exp-a", "", []tracking.Tag{{Key: "team", Value: "x"}})
		require.NoError(t, err)
		e, err := db.FindExperimentByName(ctx, "exp-a")
		require.NoError(t, err)
		require.Equal(t, id, e.ID)
		require.Equal(t, "mlflow-artifacts:/"+id, e.ArtifactLocation)
		require.Equal(t, []tracking.Tag{{Key: "team", Value: "x"}}, e.Tags)

		_, err = svc.CreateExperiment(ctx, "exp-a", "", nil)
		require.Equal(t, errs.Conflict, errs.KindOf(err))
		_, err = db.FindExperimentByID(ctx, "999")
		require.Equal(t, errs.NotFound, errs.KindOf(err))
		_, err = db.FindExperimentByID(ctx, "abc")
		require.Equal(t, errs.Invalid, errs.KindOf(err))

		require.NoError(t, svc.RenameExperiment(ctx, id, "exp-b"))
		_, err = svc.CreateExperiment(ctx, "exp-c", "s3://b/c", nil)
		require.NoError(t, err)
		require.Equal(t, errs.Conflict, errs.KindOf(svc.RenameExperiment(ctx, id, "exp-c")))

		r := newRun(t, svc, id, "r1")
		require.NoError(t, svc.DeleteExperiment(ctx, id))
		got, err := db.FindRunByID(ctx, r.Info.RunID)
		require.NoError(t, err)
		require.Equal(t, tracking.StageDeleted, got.Info.LifecycleStage)
		exps, _, err := svc.SearchExperiments(ctx, tracking.ExperimentQuery{ViewType: tracking.DeletedOnly})
		require.NoError(t, err)
		require.Len(t, exps, 1)
		require.NoError(t, svc.RestoreExperiment(ctx, id))

		exps, _, err = svc.SearchExperiments(ctx, tracking.ExperimentQuery{Filter: "name LIKE 'exp-%' AND tags.team = 'x'"})
		require.NoError(t, err)
		require.Len(t, exps, 1)
		require.Equal(t, "exp-b", exps[0].Name)

		exps, tok, err := svc.SearchExperiments(ctx, tracking.ExperimentQuery{OrderBy: []string{"name ASC"}, Page: tracking.Page{MaxResults: 2}})
		require.NoError(t, err)
		require.Equal(t, []string{"Default", "exp-b"}, []string{exps[0].Name, exps[1].Name})
		require.NotEmpty(t, tok)
		exps, tok, err = svc.SearchExperiments(ctx, tracking.ExperimentQuery{OrderBy: []string{"name ASC"}, Page: tracking.Page{MaxResults: 2, Token: tok}})
		require.NoError(t, err)
		require.Len(t, exps, 1)
		require.Empty(t, tok)

		require.NoError(t, svc.SetExperimentTag(ctx, id, tracking.Tag{Key: "team", Value: "y"}))
		require.NoError(t, svc.DeleteExperimentTag(ctx, id, "team"))
		require.Equal(t, errs.NotFound, errs.KindOf(svc.DeleteExperimentTag(ctx, id, "team")))
	})
}

func TestRunsAndLogging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "e", "", nil)
		require.NoError(t, err)
		r := newRun(t, svc, exp, "first")
		require.Equal(t, "mlflow-artifacts:/"+exp+"/"+r.Info.RunID+"/artifacts", r.Info.ArtifactURI)
		require.Equal(t, "first", r.Info.RunName)
		require.Contains(t, r.Tags, tracking.Tag{Key: tracking.RunNameTag, Value: "first"})

		id := r.Info.RunID
		metrics := []tracking.Metric{
			{Key: "loss", Value: 1.0, Timestamp: 10, Step: 0},
			{Key: "loss", Value: 0.5, Timestamp: 11, Step: 1},
			{Key: "loss", Value: 0.7, Timestamp: 9, Step: 1}, // same step, older: not latest
			{Key: "nan", Value: math.NaN(), Timestamp: 1, Step: 0},
			{Key: "inf", Value: math.Inf(1), Timestamp: 1, Step: 0},
			{Key: "ninf", Value: math.Inf(-1), Timestamp: 1, Step: 0},
		}
		require.NoError(t, svc.LogBatch(ctx, id, metrics, []tracking.Param{{Key: "lr", Value: "0.1"}}, []tracking.Tag{{Key: "t", Value: "v"}}))
		// The same param value again is fine; a new value is rejected and changes nothing.
		require.NoError(t, svc.LogBatch(ctx, id, nil, []tracking.Param{{Key: "lr", Value: "0.1"}}, nil))
		err = svc.LogBatch(ctx, id, []tracking.Metric{{Key: "other", Value: 1, Timestamp: 1}},
			[]tracking.Param{{Key: "new", Value: "1"}, {Key: "lr", Value: "0.2"}}, []tracking.Tag{{Key: "t", Value: "changed"}})
		require.Equal(t, errs.Invalid, errs.KindOf(err))
		require.Contains(t, err.Error(), "lr")

		got, err := db.FindRunByID(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []tracking.Param{{Key: "lr", Value: "0.1"}}, got.Params)
		require.Contains(t, got.Tags, tracking.Tag{Key: "t", Value: "v"})
		byKey := map[string]tracking.Metric{}
		for _, m := range got.Metrics {
			byKey[m.Key] = m
		}
		require.Len(t, byKey, 4, "the rejected batch's metric must not be stored")
		require.Equal(t, 0.5, byKey["loss"].Value)
		require.True(t, math.IsNaN(byKey["nan"].Value))
		require.True(t, math.IsInf(byKey["inf"].Value, 1))
		require.True(t, math.IsInf(byKey["ninf"].Value, -1))

		hist, _, err := svc.MetricHistory(ctx, id, "loss", tracking.Page{})
		require.NoError(t, err)
		require.Len(t, hist, 3)
		require.Equal(t, int64(0), hist[0].Step)

		// Tags and run name stay in step.
		require.NoError(t, svc.LogBatch(ctx, id, nil, nil, []tracking.Tag{{Key: tracking.RunNameTag, Value: "renamed"}}))
		got, _ = db.FindRunByID(ctx, id)
		require.Equal(t, "renamed", got.Info.RunName)
		status, end := tracking.StatusFinished, int64(99)
		info, err := svc.UpdateRun(ctx, id, tracking.RunUpdate{Status: &status, EndTime: &end})
		require.NoError(t, err)
		require.Equal(t, tracking.StatusFinished, info.Status)
		require.Equal(t, int64(99), *info.EndTime)

		require.NoError(t, svc.DeleteTag(ctx, id, "t"))
		require.Equal(t, errs.NotFound, errs.KindOf(svc.DeleteTag(ctx, id, "t")))
		require.NoError(t, svc.DeleteRun(ctx, id))
		require.Equal(t, errs.Invalid, errs.KindOf(svc.LogBatch(ctx, id, nil, []tracking.Param{{Key: "x", Value: "1"}}, nil)))
		require.NoError(t, svc.RestoreRun(ctx, id))
		require.Equal(t, errs.NotFound, errs.KindOf(svc.DeleteRun(ctx, "nonexistent")))

		require.NoError(t, svc.LogInputs(ctx, id, tracking.RunInputs{Datasets: []tracking.DatasetInput{{
			Dataset: tracking.Dataset{Name: "fingers", Digest: "abc", SourceType: "local", Source: "{}"},
			Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "training"}},
		}}}))
		require.NoError(t, svc.LogInputs(ctx, id, tracking.RunInputs{Datasets: []tracking.DatasetInput{{
			Dataset: tracking.Dataset{Name: "fingers", Digest: "abc"}}}}))
		got, _ = db.FindRunByID(ctx, id)
		require.Len(t, got.Inputs.Datasets, 1)
		require.Equal(t, "training", got.Inputs.Datasets[0].Tags[0].Value)
	})
}

func TestSearchRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "s", "", nil)
		require.NoError(t, err)
		ids := make([]string, 6)
		for i := range ids {
			r := newRun(t, svc, exp, fmt.Sprintf("run-%d", i))
			ids[i] = r.Info.RunID
			model := []string{"small", "wide", "Deep"}[i%3]
			require.NoError(t, svc.LogBatch(ctx, r.Info.RunID,
				[]tracking.Metric{{Key: "acc", Value: float64(i) / 10, Timestamp: 1}},
				[]tracking.Param{{Key: "model", Value: model}},
				[]tracking.Tag{{Key: "team", Value: fmt.Sprintf("t%d", i%2)}}))
		}
		require.NoError(t, svc.LogInputs(ctx, ids[5], tracking.RunInputs{Datasets: []tracking.DatasetInput{{
			Dataset: tracking.Dataset{Name: "titanic", Digest: "d1"},
			Tags:    []tracking.Tag{{Key: "mlflow.data.context", Value: "eval"}}}}}))
		names := func(filter string, order ...string) []string {
			t.Helper()
			runs, _, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp}, Filter: filter, OrderBy: order})
			require.NoError(t, err, filter)
			var out []string
			for _, r := range runs {
				out = append(out, r.Info.RunName)
			}
			return out
		}
		tests := []struct {
			filter string
			order  []string
			want   []string
		}{
			{"metrics.acc > 0.25", []string{"metrics.acc DESC"}, []string{"run-5", "run-4", "run-3"}},
			{"metrics.acc >= 0.2 AND params.model = 'small' AND tags.team = 't1'", nil, []string{"run-3"}},
			{"params.model LIKE 'D%'", []string{"metrics.acc"}, []string{"run-2", "run-5"}},
			{"params.model LIKE 'd%'", nil, nil},
			{"params.model ILIKE 'd%'", []string{"metrics.acc"}, []string{"run-2", "run-5"}},
			{"params.model != 'small'", []string{"attributes.run_name"}, []string{"run-1", "run-2", "run-4", "run-5"}},
			{"attributes.run_name IN ('run-1', 'run-3')", []string{"run_name DESC"}, []string{"run-3", "run-1"}},
			{"run_name NOT IN ('run-1', 'run-3', 'run-5')", []string{"run_name"}, []string{"run-0", "run-2", "run-4"}},
			{"tags.`team` = \"t0\"", []string{"params.model ASC", "metrics.acc DESC"}, []string{"run-2", "run-0", "run-4"}},
			{"datasets.name = 'titanic' AND datasets.context = 'eval'", nil, []string{"run-5"}},
			{"tags.missing IS NULL AND metrics.acc < 0.1", nil, []string{"run-0"}},
			{"attributes.status = 'RUNNING' AND metrics.acc <= 0.0", nil, []string{"run-0"}},
		}
		for _, tt := range tests {
			require.Equal(t, tt.want, names(tt.filter, tt.order...), tt.filter)
		}

		// Paging walks every run exactly once.
		var seen []string
		tok := ""
		for {
			runs, next, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp}, OrderBy: []string{"metrics.acc"}, Page: tracking.Page{MaxResults: 4, Token: tok}})
			require.NoError(t, err)
			for _, r := range runs {
				seen = append(seen, r.Info.RunName)
			}
			if next == "" {
				break
			}
			tok = next
		}
		require.Equal(t, []string{"run-0", "run-1", "run-2", "run-3", "run-4", "run-5"}, seen)

		for _, bad := range []string{"metrics.acc > 'x'", "params.model = small", "foo.bar = 'x'", "metrics.acc >", "attributes.nope = 'x'", "metrics.acc > 1 OR metrics.acc < 0"} {
			_, _, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{exp}, Filter: bad})
			require.Equal(t, errs.Invalid, errs.KindOf(err), bad)
		}
	})
}

// TestConcurrentWriters logs batches from 16 goroutines at once: every batch
// must succeed (no "database is locked") and every value must be stored.
func TestConcurrentWriters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "c", "", nil)
		require.NoError(t, err)
		runs := make([]string, 4)
		for i := range runs {
			runs[i] = newRun(t, svc, exp, fmt.Sprintf("r%d", i)).Info.RunID
		}
		const writers, batches = 16, 20
		var wg sync.WaitGroup
		errc := make(chan error, writers*batches)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for b := 0; b < batches; b++ {
					ms := make([]tracking.Metric, 10)
					for i := range ms {
						ms[i] = tracking.Metric{Key: fmt.Sprintf("m%d", i), Value: float64(b), Timestamp: int64(w), Step: int64(b)}
					}
					errc <- svc.LogBatch(ctx, runs[w%len(runs)], ms,
						[]tracking.Param{{Key: fmt.Sprintf("p%d", w), Value: "v"}, {Key: "shared", Value: "same"}},
						[]tracking.Tag{{Key: "w", Value: fmt.Sprint(w)}})
				}
			}(w)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			require.NoError(t, err)
		}
		hist, _, err := svc.MetricHistory(ctx, runs[0], "m0", tracking.Page{})
		require.NoError(t, err)
		require.Len(t, hist, (writers/len(runs))*batches)
	})
}

// TestSearchStaysInExperiments checks that filters only see the runs of the
// experiments searched, and that several experiments can be searched at once.
func TestSearchStaysInExperiments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		var exps []string
		for _, name := range []string{"a", "b", "c"} {
			exp, err := svc.CreateExperiment(ctx, name, "", nil)
			require.NoError(t, err)
			exps = append(exps, exp)
			r := newRun(t, svc, exp, "run-"+name)
			require.NoError(t, svc.LogBatch(ctx, r.Info.RunID, []tracking.Metric{{Key: "acc", Value: 0.9, Timestamp: 1}},
				[]tracking.Param{{Key: "model", Value: "wide"}}, []tracking.Tag{{Key: "team", Value: "x"}}))
		}
		for _, tt := range []struct {
			exps []string
			want int
		}{{exps[:1], 1}, {exps[1:], 2}, {exps, 3}} {
			runs, _, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: tt.exps,
				Filter: "metrics.acc > 0.5 AND params.model = 'wide' AND tags.team = 'x'"})
			require.NoError(t, err)
			require.Len(t, runs, tt.want)
			for _, r := range runs {
				require.Contains(t, tt.exps, r.Info.ExperimentID)
			}
		}
	})
}
