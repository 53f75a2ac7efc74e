package meta

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func TestRegistry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "reg", "", nil)
		require.NoError(t, err)
		run := newRun(t, svc, exp, "train")

		m, err := reg.CreateRegisteredModel(ctx, "fingers", "cnn", []registry.Tag{{Key: "team", Value: "vision"}})
		require.NoError(t, err)
		require.Equal(t, "fingers", m.Name)
		_, err = reg.CreateRegisteredModel(ctx, "fingers", "", nil)
		require.Equal(t, errs.Conflict, errs.KindOf(err))

		v1, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "fingers", Source: "runs:/" + run.Info.RunID + "/model", RunID: run.Info.RunID})
		require.NoError(t, err)
		require.Equal(t, int64(1), v1.Version)
		require.Equal(t, run.Info.ArtifactURI+"/model", v1.StorageLocation)
		v2, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "fingers", Source: "s3://b/m2", Tags: []registry.Tag{{Key: "k", Value: "v"}}})
		require.NoError(t, err)
		require.Equal(t, int64(2), v2.Version)

		// Local paths and traversal are refused; nothing is stored.
		for _, src := range []string{"/etc/passwd", "file:///etc", "s3://b/../../x", "mlflow-artifacts:/a/%2e%2e/%2e%2e/x"} {
			_, err = reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "fingers", Source: src})
			require.Equal(t, errs.Invalid, errs.KindOf(err), src)
		}
		_, err = reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "missing", Source: "s3://b/x"})
		require.Equal(t, errs.NotFound, errs.KindOf(err))

		// Aliases and URI resolution.
		require.NoError(t, reg.SetAlias(ctx, "fingers", "champion", 1))
		require.Equal(t, errs.Invalid, errs.KindOf(reg.SetAlias(ctx, "fingers", "latest", 1)))
		require.Equal(t, errs.Invalid, errs.KindOf(reg.SetAlias(ctx, "fingers", "v3", 1)))
		require.Equal(t, errs.NotFound, errs.KindOf(reg.SetAlias(ctx, "fingers", "x", 9)))
		got, err := reg.Resolve(ctx, "models:/fingers@champion")
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		require.NoError(t, reg.SetAlias(ctx, "fingers", "champion", 2))
		got, err = reg.Resolve(ctx, "models:/fingers@champion")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, []string{"champion"}, got.Aliases)
		got, err = reg.Resolve(ctx, "models:/fingers/1")
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		got, err = reg.Resolve(ctx, "models:/fingers/latest")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
		_, err = reg.Resolve(ctx, "models:/fingers/Production")
		require.Equal(t, errs.NotFound, errs.KindOf(err))
		_, err = reg.Resolve(ctx, "runs:/x")
		require.Equal(t, errs.Invalid, errs.KindOf(err))

		// Stages: archive_existing moves the old Production version.
		_, err = reg.TransitionStage(ctx, "fingers", 1, "production", false)
		require.NoError(t, err)
		v, err := reg.TransitionStage(ctx, "fingers", 2, "Production", true)
		require.NoError(t, err)
		require.Equal(t, registry.StageProduction, v.CurrentStage)
		old, err := db.FindModelVersion(ctx, "fingers", 1)
		require.NoError(t, err)
		require.Equal(t, registry.StageArchived, old.CurrentStage)
		_, err = reg.TransitionStage(ctx, "fingers", 2, "Shipped", false)
		require.Equal(t, errs.Invalid, errs.KindOf(err))
		latest, err := db.FindLatestVersions(ctx, "fingers", nil)
		require.NoError(t, err)
		require.Len(t, latest, 2)

		// Rename keeps versions, tags and aliases; deleting a version frees its aliases.
		_, err = reg.RenameRegisteredModel(ctx, "fingers", "fingers-cnn")
		require.NoError(t, err)
		m, err = db.FindRegisteredModel(ctx, "fingers-cnn")
		require.NoError(t, err)
		require.Equal(t, []registry.Tag{{Key: "team", Value: "vision"}}, m.Tags)
		require.Equal(t, []registry.Alias{{Alias: "champion", Version: 2}}, m.Aliases)
		require.NoError(t, db.DeleteModelVersion(ctx, "fingers-cnn", 2))
		_, err = db.FindVersionByAlias(ctx, "fingers-cnn", "champion")
		require.Equal(t, errs.NotFound, errs.KindOf(err))
		v3, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "fingers-cnn", Source: "s3://b/m3"})
		require.NoError(t, err)
		require.Equal(t, int64(3), v3.Version, "version numbers are never reused")

		// Search.
		_, err = reg.CreateRegisteredModel(ctx, "titanic", "", nil)
		require.NoError(t, err)
		ms, _, err := reg.SearchRegisteredModels(ctx, registry.Query{Filter: "name LIKE 'fin%'"})
		require.NoError(t, err)
		require.Len(t, ms, 1)
		ms, next, err := reg.SearchRegisteredModels(ctx, registry.Query{MaxResults: 1})
		require.NoError(t, err)
		require.Equal(t, "fingers-cnn", ms[0].Name)
		ms, _, err = reg.SearchRegisteredModels(ctx, registry.Query{MaxResults: 1, Token: next})
		require.NoError(t, err)
		require.Equal(t, "titanic", ms[0].Name)
		vs, _, err := reg.SearchModelVersions(ctx, registry.Query{Filter: "name = 'fingers-cnn' AND run_id IN ('" + run.Info.RunID + "')"})
		require.NoError(t, err)
		require.Len(t, vs, 1)
		vs, _, err = reg.SearchModelVersions(ctx, registry.Query{Filter: "name = 'fingers-cnn'", OrderBy: []string{"version_number ASC"}})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 3}, []int64{vs[0].Version, vs[1].Version})
		_, _, err = reg.SearchModelVersions(ctx, registry.Query{Filter: "metrics.acc > 1"})
		require.Equal(t, errs.Invalid, errs.KindOf(err))

		require.NoError(t, db.DeleteRegisteredModel(ctx, "fingers-cnn"))
		_, err = db.FindModelVersion(ctx, "fingers-cnn", 1)
		require.Equal(t, errs.NotFound, errs.KindOf(err))
	})
}

// TestConcurrentVersions creates versions of one model from 8 goroutines:
// every number from 1 to N is handed out exactly once.
func TestConcurrentVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		_, err := reg.CreateRegisteredModel(ctx, "m", "", nil)
		require.NoError(t, err)
		const workers, each = 8, 10
		var mu sync.Mutex
		var got []int
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					v, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: fmt.Sprintf("s3://b/%d/%d", w, i)})
					if !assertNoError(t, err) {
						return
					}
					mu.Lock()
					got = append(got, int(v.Version))
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		sort.Ints(got)
		want := make([]int, workers*each)
		for i := range want {
			want[i] = i + 1
		}
		require.Equal(t, want, got)
	})
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
