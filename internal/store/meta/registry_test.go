package meta

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// requireKind checks that err has kind k; what names the case in messages.
func requireKind(t *testing.T, k errs.Kind, err error, what ...any) {
	t.Helper()
	require.Error(t, err, fmt.Sprint(what...))
	require.Equal(t, k, errs.KindOf(err), "%s: %v", fmt.Sprint(what...), err)
}

// tick lets the millisecond clock move on, so update times differ.
func tick() { time.Sleep(2 * time.Millisecond) }

// newVersion registers a version of name with an S3 source.
func newVersion(t *testing.T, reg *registry.Service, name string, tags ...registry.Tag) *registry.ModelVersion {
	t.Helper()
	v, err := reg.CreateModelVersion(context.Background(), registry.CreateModelVersionInput{
		Name: name, Source: fmt.Sprintf("s3://bucket/%s/%d", name, len(tags)), Tags: tags})
	require.NoError(t, err)
	return v
}

func versionNumbers(vs []*registry.ModelVersion) []int64 {
	out := make([]int64, len(vs))
	for i, v := range vs {
		out[i] = v.Version
	}
	return out
}

func TestRegistryModels(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)

		m, err := reg.CreateRegisteredModel(ctx, "fingers", "cnn", []registry.Tag{{Key: "team", Value: "vision"}})
		require.NoError(t, err)
		require.Equal(t, "fingers", m.Name)
		require.Equal(t, "cnn", m.Description)
		require.NotZero(t, m.CreationTime)
		require.Equal(t, m.CreationTime, m.LastUpdatedTime)
		_, err = reg.CreateRegisteredModel(ctx, "fingers", "", nil)
		requireKind(t, errs.Conflict, err)
		_, err = reg.FindRegisteredModel(ctx, "nope")
		requireKind(t, errs.NotFound, err)

		// Tags: set, replace, delete; a missing tag deletes quietly, as in MLflow.
		require.NoError(t, reg.SetRegisteredModelTag(ctx, "fingers", registry.Tag{Key: "team", Value: "ml"}))
		require.NoError(t, reg.SetRegisteredModelTag(ctx, "fingers", registry.Tag{Key: "stage", Value: "dev"}))
		m, err = reg.FindRegisteredModel(ctx, "fingers")
		require.NoError(t, err)
		require.Equal(t, []registry.Tag{{Key: "stage", Value: "dev"}, {Key: "team", Value: "ml"}}, m.Tags)
		require.NoError(t, reg.DeleteRegisteredModelTag(ctx, "fingers", "stage"))
		require.NoError(t, reg.DeleteRegisteredModelTag(ctx, "fingers", "stage"))
		requireKind(t, errs.NotFound, reg.DeleteRegisteredModelTag(ctx, "nope", "stage"))
		requireKind(t, errs.NotFound, reg.SetRegisteredModelTag(ctx, "nope", registry.Tag{Key: "k", Value: "v"}))

		m, err = reg.UpdateRegisteredModel(ctx, "fingers", "a better cnn")
		require.NoError(t, err)
		require.Equal(t, "a better cnn", m.Description)
		_, err = reg.UpdateRegisteredModel(ctx, "nope", "x")
		requireKind(t, errs.NotFound, err)

		// Rename keeps versions, tags and aliases.
		newVersion(t, reg, "fingers", registry.Tag{Key: "k", Value: "v"})
		newVersion(t, reg, "fingers")
		require.NoError(t, reg.SetAlias(ctx, "fingers", "champion", 1))
		_, err = reg.RenameRegisteredModel(ctx, "fingers", "hands")
		require.NoError(t, err)
		_, err = reg.FindRegisteredModel(ctx, "fingers")
		requireKind(t, errs.NotFound, err)
		m, err = reg.FindRegisteredModel(ctx, "hands")
		require.NoError(t, err)
		require.Equal(t, []registry.Tag{{Key: "team", Value: "ml"}}, m.Tags)
		require.Equal(t, []registry.Alias{{Alias: "champion", Version: 1}}, m.Aliases)
		require.Equal(t, []int64{2}, versionNumbers(m.LatestVersions))
		require.Equal(t, "hands", m.LatestVersions[0].Name)
		v1, err := reg.FindModelVersion(ctx, "hands", 1)
		require.NoError(t, err)
		require.Equal(t, []registry.Tag{{Key: "k", Value: "v"}}, v1.Tags)
		require.Equal(t, []string{"champion"}, v1.Aliases)
		got, err := reg.Resolve(ctx, "models:/hands@champion")
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		_, err = reg.RenameRegisteredModel(ctx, "nope", "x")
		requireKind(t, errs.NotFound, err)

		// A rejected rename changes nothing.
		_, err = reg.CreateRegisteredModel(ctx, "titanic", "", nil)
		require.NoError(t, err)
		_, err = reg.RenameRegisteredModel(ctx, "hands", "titanic")
		requireKind(t, errs.Conflict, err)
		after, err := reg.FindRegisteredModel(ctx, "hands")
		require.NoError(t, err)
		require.Equal(t, m, after)

		// Delete takes versions, tags and aliases with it; the name is free again.
		require.NoError(t, reg.DeleteRegisteredModel(ctx, "hands"))
		requireKind(t, errs.NotFound, reg.DeleteRegisteredModel(ctx, "hands"))
		_, err = reg.FindModelVersion(ctx, "hands", 1)
		requireKind(t, errs.NotFound, err)
		_, err = reg.CreateRegisteredModel(ctx, "hands", "", nil)
		require.NoError(t, err)
		m, err = reg.FindRegisteredModel(ctx, "hands")
		require.NoError(t, err)
		require.Empty(t, m.Tags)
		require.Empty(t, m.Aliases)
		require.Empty(t, m.LatestVersions)
		require.Equal(t, int64(1), newVersion(t, reg, "hands").Version, "a new model numbers from 1")
	})
}

func TestRegistryVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "reg", "", nil)
		require.NoError(t, err)
		run := newRun(t, svc, exp, "train")
		_, err = reg.CreateRegisteredModel(ctx, "m", "", nil)
		require.NoError(t, err)

		// runs:/ sources resolve to the run's artifact URI.
		v1, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m",
			Source: "runs:/" + run.Info.RunID + "/model", RunID: run.Info.RunID, Description: "first",
			Tags: []registry.Tag{{Key: "k", Value: "v"}}})
		require.NoError(t, err)
		require.Equal(t, int64(1), v1.Version)
		require.Equal(t, registry.StageNone, v1.CurrentStage)
		require.Equal(t, registry.StatusReady, v1.Status)
		require.Equal(t, "first", v1.Description)
		require.Equal(t, []registry.Tag{{Key: "k", Value: "v"}}, v1.Tags)
		require.Equal(t, run.Info.ArtifactURI+"/model", v1.StorageLocation)
		uri, err := reg.DownloadURI(ctx, "m", 1)
		require.NoError(t, err)
		require.Equal(t, run.Info.ArtifactURI+"/model", uri)

		// MLflow 3: a logged model's source is its artifact location, and
		// the version takes the logged model's run.
		lm, err := svc.CreateLoggedModel(ctx, tracking.LoggedModel{ExperimentID: exp, SourceRunID: run.Info.RunID})
		require.NoError(t, err)
		v2, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "models:/" + lm.ModelID})
		require.NoError(t, err)
		require.Equal(t, int64(2), v2.Version)
		require.Equal(t, lm.ModelID, v2.ModelID)
		require.Equal(t, run.Info.RunID, v2.RunID)
		uri, err = reg.DownloadURI(ctx, "m", 2)
		require.NoError(t, err)
		require.Equal(t, lm.ArtifactURI, uri)

		// models:/name/version sources (copy_model_version) resolve to that version's files.
		v3, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "models:/m/1"})
		require.NoError(t, err)
		require.Equal(t, "models:/m/1", v3.Source)
		uri, err = reg.DownloadURI(ctx, "m", 3)
		require.NoError(t, err)
		require.Equal(t, run.Info.ArtifactURI+"/model", uri)

		// Rejected sources store nothing.
		for _, tc := range []struct {
			in   registry.CreateModelVersionInput
			kind errs.Kind
		}{
			{registry.CreateModelVersionInput{Name: "m", Source: "/etc/passwd"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "/etc/passwd", RunID: run.Info.RunID}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "file:///etc"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "file://10.1.2.3/x", RunID: run.Info.RunID}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "s3://b/../../x"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "mlflow-artifacts:/a/%2e%2e/%2e%2e/x"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "mlflow-artifacts:/a/%252e%252e/x"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "http://h/a%00"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "s3://bucket"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "models:/m/9"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "models:/m-nope"}, errs.Invalid},
			{registry.CreateModelVersionInput{Name: "m", Source: "runs:/x/model", RunID: "", ModelID: "m-nope"}, errs.NotFound},
			{registry.CreateModelVersionInput{Name: "nope", Source: "s3://b/x"}, errs.NotFound},
			{registry.CreateModelVersionInput{Name: "m", Source: "s3://b/x", Tags: []registry.Tag{{Key: "k", Value: strings.Repeat("x", 5001)}}}, errs.Invalid},
		} {
			_, err := reg.CreateModelVersion(ctx, tc.in)
			requireKind(t, tc.kind, err, tc.in.Source)
		}
		vs, _, err := reg.SearchModelVersions(ctx, registry.Query{Filter: "name = 'm'"})
		require.NoError(t, err)
		require.Len(t, vs, 3)

		// Local paths inside the run's own artifact folder are accepted when
		// the run's artifacts are local (the MLflow test suite's setup).
		local := newRun(t, svc, exp, "local")
		dir := t.TempDir()
		require.NoError(t, db.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, db.q(`UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?`), "file://"+dir, local.Info.RunID)
			return err
		}))
		for _, src := range []string{dir, dir + "/model", "file://" + dir + "/model/..", "file://" + dir + "/."} {
			_, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: src, RunID: local.Info.RunID})
			require.NoError(t, err, src)
		}
		for _, src := range []string{dir + "/../x", "file://" + dir + "/../x", "/tmp"} {
			_, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: src, RunID: local.Info.RunID})
			requireKind(t, errs.Invalid, err, src)
		}

		// Update, tags, delete.
		v, err := reg.UpdateModelVersion(ctx, "m", 1, "updated")
		require.NoError(t, err)
		require.Equal(t, "updated", v.Description)
		require.GreaterOrEqual(t, v.LastUpdatedTime, v1.LastUpdatedTime)
		_, err = reg.UpdateModelVersion(ctx, "m", 99, "x")
		requireKind(t, errs.NotFound, err)
		require.NoError(t, reg.SetModelVersionTag(ctx, "m", 1, registry.Tag{Key: "k", Value: "v2"}))
		require.NoError(t, reg.SetModelVersionTag(ctx, "m", 1, registry.Tag{Key: "a", Value: "b"}))
		requireKind(t, errs.NotFound, reg.SetModelVersionTag(ctx, "m", 99, registry.Tag{Key: "a", Value: "b"}))
		v, err = reg.FindModelVersion(ctx, "m", 1)
		require.NoError(t, err)
		require.Equal(t, []registry.Tag{{Key: "a", Value: "b"}, {Key: "k", Value: "v2"}}, v.Tags)
		require.NoError(t, reg.DeleteModelVersionTag(ctx, "m", 1, "a"))
		require.NoError(t, reg.DeleteModelVersionTag(ctx, "m", 1, "a"), "a missing tag deletes quietly")
		requireKind(t, errs.NotFound, reg.DeleteModelVersionTag(ctx, "m", 99, "a"))

		// Deleting a version deletes its aliases; its number is never reused.
		require.NoError(t, reg.SetAlias(ctx, "m", "champion", 7))
		require.NoError(t, reg.SetAlias(ctx, "m", "first", 1))
		n := int64(7)
		require.NoError(t, reg.DeleteModelVersion(ctx, "m", n))
		requireKind(t, errs.NotFound, reg.DeleteModelVersion(ctx, "m", n))
		_, err = reg.FindModelVersion(ctx, "m", n)
		requireKind(t, errs.NotFound, err)
		_, err = reg.FindVersionByAlias(ctx, "m", "champion")
		requireKind(t, errs.NotFound, err)
		m, err := reg.FindRegisteredModel(ctx, "m")
		require.NoError(t, err)
		require.Equal(t, []registry.Alias{{Alias: "first", Version: 1}}, m.Aliases)
		require.Equal(t, n+1, newVersion(t, reg, "m").Version, "version numbers are never reused")
	})
}

func TestRegistryStages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		_, err := reg.CreateRegisteredModel(ctx, "m", "", nil)
		require.NoError(t, err)
		for range 5 {
			newVersion(t, reg, "m")
		}
		stage := func(v int64, st string, archive bool) {
			t.Helper()
			got, err := reg.TransitionStage(ctx, "m", v, st, archive)
			require.NoError(t, err)
			require.Equal(t, registry.CanonicalStage(st), got.CurrentStage)
		}
		stage(1, "production", false)
		stage(2, "Production", false)
		stage(3, "STAGING", false)
		latest, err := reg.FindLatestVersions(ctx, "m", nil)
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3, 5}, versionNumbers(latest))
		latest, err = reg.FindLatestVersions(ctx, "m", []string{"production", "Archived"})
		require.NoError(t, err)
		require.Equal(t, []int64{2}, versionNumbers(latest))
		_, err = reg.FindLatestVersions(ctx, "m", []string{"shipped"})
		requireKind(t, errs.Invalid, err)
		_, err = reg.FindLatestVersions(ctx, "nope", nil)
		requireKind(t, errs.NotFound, err)
		m, err := reg.FindRegisteredModel(ctx, "m")
		require.NoError(t, err)
		require.Equal(t, []int64{2, 3, 5}, versionNumbers(m.LatestVersions))

		// A rejected transition changes nothing.
		_, err = reg.TransitionStage(ctx, "m", 99, "Production", true)
		requireKind(t, errs.NotFound, err)
		_, err = reg.TransitionStage(ctx, "m", 4, "Archived", true)
		requireKind(t, errs.Invalid, err)
		_, err = reg.TransitionStage(ctx, "m", 4, "shipped", false)
		requireKind(t, errs.Invalid, err)
		for v, want := range map[int64]string{1: "Production", 2: "Production", 3: "Staging", 4: "None"} {
			got, err := reg.FindModelVersion(ctx, "m", v)
			require.NoError(t, err)
			require.Equal(t, want, got.CurrentStage, v)
		}

		// archive_existing_versions moves the others in the stage to Archived.
		stage(4, "Production", true)
		for v, want := range map[int64]string{1: "Archived", 2: "Archived", 3: "Staging", 4: "Production", 5: "None"} {
			got, err := reg.FindModelVersion(ctx, "m", v)
			require.NoError(t, err)
			require.Equal(t, want, got.CurrentStage, v)
		}
		got, err := reg.Resolve(ctx, "models:/m/Archived")
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Version)
	})
}

func TestRegistryResolve(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		for _, name := range []string{"cnn", "team/cnn", "a@b"} {
			_, err := reg.CreateRegisteredModel(ctx, name, "", nil)
			require.NoError(t, err)
			for range 3 {
				newVersion(t, reg, name)
			}
			_, err = reg.TransitionStage(ctx, name, 2, "Production", false)
			require.NoError(t, err)
			require.NoError(t, reg.SetAlias(ctx, name, "champion", 1))
		}
		for _, tc := range []struct {
			uri     string
			name    string
			version int64
			kind    errs.Kind // when it fails
		}{
			{uri: "models:/cnn/3", name: "cnn", version: 3},
			{uri: "models:/cnn/1/", name: "cnn", version: 1},
			{uri: "models:/cnn@champion", name: "cnn", version: 1},
			{uri: "models:/cnn/Production", name: "cnn", version: 2},
			{uri: "models:/cnn/production", name: "cnn", version: 2},
			{uri: "models:/cnn/None", name: "cnn", version: 3},
			{uri: "models:/cnn/latest", name: "cnn", version: 3},
			{uri: "models:/cnn/LATEST", name: "cnn", version: 3},
			{uri: "models:/team/cnn/2", name: "team/cnn", version: 2},
			{uri: "models:/team/cnn@champion", name: "team/cnn", version: 1},
			{uri: "models:/a@b/latest", name: "a@b", version: 3},
			{uri: "models:/a@b@champion", name: "a@b", version: 1},
			{uri: "models:/cnn/9", kind: errs.NotFound},
			{uri: "models:/cnn/Staging", kind: errs.NotFound},
			{uri: "models:/cnn@nope", kind: errs.NotFound},
			{uri: "models:/nope/1", kind: errs.NotFound},
			{uri: "models:/nope/latest", kind: errs.NotFound},
			{uri: "models:/nope@champion", kind: errs.NotFound},
			{uri: "models:/cnn/shipped", kind: errs.Invalid},
			{uri: "models:/cnn@latest", kind: errs.Invalid},
			{uri: "models:/cnn", kind: errs.Invalid},
			{uri: "models:/@champion", kind: errs.Invalid},
			{uri: "models:/", kind: errs.Invalid},
			{uri: "runs:/abc/model", kind: errs.Invalid},
			{uri: "cnn/1", kind: errs.Invalid},
		} {
			v, err := reg.Resolve(ctx, tc.uri)
			if tc.name == "" {
				requireKind(t, tc.kind, err, tc.uri)
				continue
			}
			require.NoError(t, err, tc.uri)
			require.Equal(t, tc.name, v.Name, tc.uri)
			require.Equal(t, tc.version, v.Version, tc.uri)
		}
	})
}

func TestRegistryAliases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		_, err := reg.CreateRegisteredModel(ctx, "m", "", nil)
		require.NoError(t, err)
		newVersion(t, reg, "m")
		newVersion(t, reg, "m")
		require.NoError(t, reg.SetAlias(ctx, "m", "champion", 1))
		require.NoError(t, reg.SetAlias(ctx, "m", "challenger", 2))
		v, err := reg.FindVersionByAlias(ctx, "m", "champion")
		require.NoError(t, err)
		require.Equal(t, int64(1), v.Version)
		require.Equal(t, []string{"champion"}, v.Aliases)

		// Moving an alias; rejected aliases change nothing.
		require.NoError(t, reg.SetAlias(ctx, "m", "champion", 2))
		requireKind(t, errs.NotFound, reg.SetAlias(ctx, "m", "champion", 9))
		requireKind(t, errs.NotFound, reg.SetAlias(ctx, "nope", "champion", 1))
		requireKind(t, errs.Invalid, reg.SetAlias(ctx, "m", "Latest", 1))
		requireKind(t, errs.Invalid, reg.SetAlias(ctx, "m", "v1", 1))
		v, err = reg.FindModelVersion(ctx, "m", 2)
		require.NoError(t, err)
		require.Equal(t, []string{"challenger", "champion"}, v.Aliases)
		m, err := reg.FindRegisteredModel(ctx, "m")
		require.NoError(t, err)
		require.Equal(t, []registry.Alias{{Alias: "challenger", Version: 2}, {Alias: "champion", Version: 2}}, m.Aliases)

		require.NoError(t, reg.DeleteAlias(ctx, "m", "challenger"))
		require.NoError(t, reg.DeleteAlias(ctx, "m", "challenger"), "a missing alias deletes quietly")
		requireKind(t, errs.NotFound, reg.DeleteAlias(ctx, "nope", "challenger"))
		_, err = reg.FindVersionByAlias(ctx, "m", "challenger")
		requireKind(t, errs.NotFound, err)
		_, err = reg.FindVersionByAlias(ctx, "nope", "champion")
		requireKind(t, errs.NotFound, err)
	})
}

func TestRegistrySearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "reg", "", nil)
		require.NoError(t, err)
		runA, runB := newRun(t, svc, exp, "a"), newRun(t, svc, exp, "b")
		for i, name := range []string{"cnn-small", "CNN-large", "mlp", "forest"} {
			_, err := reg.CreateRegisteredModel(ctx, name, "", []registry.Tag{{Key: "family", Value: strings.ToLower(name[:3])}, {Key: "i", Value: fmt.Sprint(i)}})
			require.NoError(t, err)
			tick()
		}
		create := func(name, run, src string, tags ...registry.Tag) {
			t.Helper()
			tick()
			_, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: name, Source: src, RunID: run, Tags: tags})
			require.NoError(t, err)
		}
		create("cnn-small", runA.Info.RunID, "s3://b/cnn/1", registry.Tag{Key: "acc", Value: "high"})
		create("cnn-small", runB.Info.RunID, "s3://b/cnn/2")
		create("cnn-small", runB.Info.RunID, "s3://b/cnn/3", registry.Tag{Key: "acc", Value: "low"})
		create("mlp", runA.Info.RunID, "s3://b/mlp/1", registry.Tag{Key: "acc", Value: "high"})

		names := func(q registry.Query) []string {
			t.Helper()
			ms, _, err := reg.SearchRegisteredModels(ctx, q)
			require.NoError(t, err, q.Filter)
			var out []string
			for _, m := range ms {
				out = append(out, m.Name)
			}
			return out
		}
		require.Equal(t, []string{"CNN-large", "cnn-small", "forest", "mlp"}, names(registry.Query{}))
		require.Equal(t, []string{"cnn-small"}, names(registry.Query{Filter: "name LIKE 'cnn%'"}))
		require.Equal(t, []string{"CNN-large", "cnn-small"}, names(registry.Query{Filter: "name ILIKE 'cnn%'"}))
		require.Equal(t, []string{"mlp"}, names(registry.Query{Filter: "name = 'mlp'"}))
		require.Equal(t, []string{"CNN-large", "cnn-small", "forest"}, names(registry.Query{Filter: "name != 'mlp'"}))
		require.Equal(t, []string{"CNN-large", "cnn-small"}, names(registry.Query{Filter: "tags.family = 'cnn'"}))
		require.Equal(t, []string{"cnn-small"}, names(registry.Query{Filter: "tags.family = 'cnn' AND tags.i = '0'"}))
		require.Equal(t, []string{"mlp", "forest", "cnn-small", "CNN-large"}, names(registry.Query{OrderBy: []string{"name DESC"}}))
		// mlp got a version last, so it was updated last.
		require.Equal(t, "mlp", names(registry.Query{OrderBy: []string{"last_updated_timestamp DESC"}})[0])
		require.Equal(t, []string{"CNN-large", "forest", "cnn-small", "mlp"}, names(registry.Query{OrderBy: []string{"timestamp ASC"}}))

		// Paging walks every model once.
		var all []string
		tok := ""
		for {
			ms, next, err := reg.SearchRegisteredModels(ctx, registry.Query{MaxResults: 3, Token: tok})
			require.NoError(t, err)
			for _, m := range ms {
				all = append(all, m.Name)
			}
			if next == "" {
				break
			}
			tok = next
		}
		require.Equal(t, []string{"CNN-large", "cnn-small", "forest", "mlp"}, all)
		ms, _, err := reg.SearchRegisteredModels(ctx, registry.Query{Filter: "name = 'cnn-small'"})
		require.NoError(t, err)
		require.Equal(t, []int64{3}, versionNumbers(ms[0].LatestVersions))

		versions := func(q registry.Query) []string {
			t.Helper()
			vs, _, err := reg.SearchModelVersions(ctx, q)
			require.NoError(t, err, q.Filter)
			var out []string
			for _, v := range vs {
				out = append(out, fmt.Sprintf("%s/%d", v.Name, v.Version))
			}
			return out
		}
		// Default order: newest update first, then name, then version descending.
		require.Equal(t, []string{"mlp/1", "cnn-small/3", "cnn-small/2", "cnn-small/1"}, versions(registry.Query{}))
		require.Equal(t, []string{"cnn-small/1", "cnn-small/2", "cnn-small/3"}, versions(registry.Query{Filter: "name = 'cnn-small'", OrderBy: []string{"version_number ASC"}}))
		require.Equal(t, []string{"cnn-small/1", "mlp/1"}, versions(registry.Query{Filter: "run_id = '" + runA.Info.RunID + "'", OrderBy: []string{"name"}}))
		require.Equal(t, []string{"cnn-small/3", "cnn-small/2", "cnn-small/1", "mlp/1"},
			versions(registry.Query{Filter: "run_id IN ('" + runA.Info.RunID + "', '" + runB.Info.RunID + "')", OrderBy: []string{"name"}}))
		require.Equal(t, []string{"cnn-small/3", "cnn-small/2"}, versions(registry.Query{Filter: "name = 'cnn-small' AND version_number > 1"}))
		require.Equal(t, []string{"mlp/1"}, versions(registry.Query{Filter: "source_path LIKE 's3://b/mlp/%'"}))
		require.Equal(t, []string{"cnn-small/1", "mlp/1"}, versions(registry.Query{Filter: "tags.acc = 'high'", OrderBy: []string{"name"}}))
		require.Equal(t, []string{"cnn-small/3"}, versions(registry.Query{Filter: "tags.acc != 'high'"}))
		require.Empty(t, versions(registry.Query{Filter: "name = 'forest'"}))

		var walked []string
		tok = ""
		for {
			vs, next, err := reg.SearchModelVersions(ctx, registry.Query{MaxResults: 1, Token: tok, OrderBy: []string{"name", "version_number"}})
			require.NoError(t, err)
			for _, v := range vs {
				walked = append(walked, fmt.Sprintf("%s/%d", v.Name, v.Version))
			}
			if next == "" {
				break
			}
			tok = next
		}
		require.Equal(t, []string{"cnn-small/1", "cnn-small/2", "cnn-small/3", "mlp/1"}, walked)

		for _, q := range []registry.Query{
			{Filter: "metrics.acc > 1"},
			{Filter: "params.lr = '1'"},
			{Filter: "name = "},
			{OrderBy: []string{"tags.acc"}},
			{OrderBy: []string{"name", "name DESC"}},
			{Token: "not-a-token"},
			{MaxResults: -1},
			{MaxResults: 200_001},
		} {
			_, _, err := reg.SearchModelVersions(ctx, q)
			requireKind(t, errs.Invalid, err, q)
		}
		for _, q := range []registry.Query{
			{Filter: "run_id = 'x'"},
			{OrderBy: []string{"timestamp", "last_updated_timestamp"}},
			{Token: "not-a-token"},
			{MaxResults: 1001},
		} {
			_, _, err := reg.SearchRegisteredModels(ctx, q)
			requireKind(t, errs.Invalid, err, q)
		}
	})
}

// TestRegistryConcurrentVersions creates versions of one model from 8
// goroutines: every number from 1 to N is handed out exactly once.
func TestRegistryConcurrentVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		reg := registry.NewService(db, db)
		_, err := reg.CreateRegisteredModel(ctx, "m", "", nil)
		require.NoError(t, err)
		const workers, each = 8, 10
		var mu sync.Mutex
		var got []int
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					v, err := reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: fmt.Sprintf("s3://b/%d/%d", w, i)})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got = append(got, int(v.Version))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		sort.Ints(got)
		want := make([]int, workers*each)
		for i := range want {
			want[i] = i + 1
		}
		require.Equal(t, want, got)
		vs, _, err := reg.SearchModelVersions(ctx, registry.Query{Filter: "name = 'm'"})
		require.NoError(t, err)
		require.Len(t, vs, workers*each)
	})
}
