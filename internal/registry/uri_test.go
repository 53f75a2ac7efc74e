package registry_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

func TestParseModelURIForms(t *testing.T) {
	for in, want := range map[string]registry.ModelRef{
		"models:/m/3":            {Name: "m", Version: 3, Numbered: true},
		"models:/m/0":            {Name: "m", Version: 0, Numbered: true},
		"models:/m/3/":           {Name: "m", Version: 3, Numbered: true},
		"models:/m/3///":         {Name: "m", Version: 3, Numbered: true},
		"models:/m/12345678901":  {Name: "m", Version: 12345678901, Numbered: true},
		"models:/m/latest":       {Name: "m"},
		"models:/m/LATEST":       {Name: "m"},
		"models:/m/Latest/":      {Name: "m"},
		"models:/m/Production":   {Name: "m", Stage: registry.StageProduction},
		"models:/m/production":   {Name: "m", Stage: registry.StageProduction},
		"models:/m/staging":      {Name: "m", Stage: registry.StageStaging},
		"models:/m/ARCHIVED":     {Name: "m", Stage: registry.StageArchived},
		"models:/m/none":         {Name: "m", Stage: registry.StageNone},
		"models:/m@champion":     {Name: "m", Alias: "champion"},
		"models:/m@champion/":    {Name: "m", Alias: "champion"},
		"models:/m@v":            {Name: "m", Alias: "v"},
		"models:/team/clf/2":     {Name: "team/clf", Version: 2, Numbered: true},
		"models:/team/clf@prod":  {Name: "team/clf", Alias: "prod"},
		"models:/my model/2":     {Name: "my model", Version: 2, Numbered: true},
		"models:/a@b@c":          {Name: "a@b", Alias: "c"},
		"models:/m-abc/1":        {Name: "m-abc", Version: 1, Numbered: true},
		"models:/m/Staging/":     {Name: "m", Stage: registry.StageStaging},
		"models:/weird.name_1/7": {Name: "weird.name_1", Version: 7, Numbered: true},
	} {
		got, err := registry.ParseModelURI(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestParseModelURIErrors(t *testing.T) {
	shape := func(uri string) string {
		return "invalid model URI '" + uri + "': expected models:/<name>/<version|stage|latest> or models:/<name>@<alias>"
	}
	notRef := func(uri, tail string) string {
		return "invalid model URI '" + uri + "': '" + tail + "' is not a version, a stage (None, Staging, Production, Archived) or 'latest'"
	}
	for in, msg := range map[string]string{
		"":                               shape(""),
		"runs:/r/model":                  shape("runs:/r/model"),
		"models:":                        shape("models:"),
		"models:/":                       shape("models:/"),
		"models://":                      shape("models://"),
		"models:/m":                      shape("models:/m"),
		"models:/m/":                     shape("models:/m/"),
		"models:/m-abc":                  shape("models:/m-abc"),
		"models:/@champion":              shape("models:/@champion"),
		"models:/m@":                     shape("models:/m@"),
		"models:/m@/":                    shape("models:/m@/"),
		"models:/ ":                      shape("models:/ "),
		"MODELS:/m/1":                    shape("MODELS:/m/1"),
		" models:/m/1":                   shape(" models:/m/1"),
		"/m/1":                           shape("/m/1"),
		"models:/m/shipped":              notRef("models:/m/shipped", "shipped"),
		"models:/m/1.5":                  notRef("models:/m/1.5", "1.5"),
		"models:/m/v1":                   notRef("models:/m/v1", "v1"),
		"models:/m/prod":                 notRef("models:/m/prod", "prod"),
		"models:/m/99999999999999999999": notRef("models:/m/99999999999999999999", "99999999999999999999"),
	} {
		_, err := registry.ParseModelURI(in)
		requireKindMsg(t, errs.Invalid, msg, err, in)
	}
}

func resolveFixture() *stubStore {
	st := newStubStore()
	for _, v := range []*registry.ModelVersion{
		{Name: "m", Version: 1, CurrentStage: registry.StageProduction, StorageLocation: "s3://bucket/m/1"},
		{Name: "m", Version: 2, CurrentStage: registry.StageStaging, StorageLocation: "s3://bucket/m/2"},
		{Name: "m", Version: 3, CurrentStage: registry.StageNone, StorageLocation: "s3://bucket/m/3"},
	} {
		st.versions[v.String()] = v
	}
	st.aliases["m@champ"] = 2
	return st
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		uri    string
		latest []int64 // versions FindLatestVersions returns, in its order
		want   int64
		call   string
	}{
		{"models:/m/2", nil, 2, "FindModelVersion m 2"},
		{"models:/m/1/", nil, 1, "FindModelVersion m 1"},
		{"models:/m@champ", nil, 2, "FindVersionByAlias m champ"},
		{"models:/m/production", []int64{1}, 1, `FindLatestVersions m ["Production"]`},
		{"models:/m/STAGING", []int64{2}, 2, `FindLatestVersions m ["Staging"]`},
		// latest is the highest version whatever its stage, in whatever order
		// the store lists them.
		{"models:/m/latest", []int64{2, 3, 1}, 3, "FindLatestVersions m []"},
		{"models:/m/Latest", []int64{1, 2}, 2, "FindLatestVersions m []"},
	} {
		st := resolveFixture()
		for _, n := range tc.latest {
			st.latest = append(st.latest, st.versions[fmt.Sprintf("m/%d", n)])
		}
		v, err := registry.NewService(st, nil).Resolve(ctx, tc.uri)
		require.NoError(t, err, tc.uri)
		require.Equal(t, tc.want, v.Version, tc.uri)
		require.Equal(t, []string{tc.call}, st.calls, tc.uri)
	}

	s := registry.NewService(resolveFixture(), nil)
	_, err := s.Resolve(ctx, "models:/m/Staging")
	requireKindMsg(t, errs.NotFound, "no version of registered model 'm' is in stage 'Staging'", err, "empty stage")
	_, err = s.Resolve(ctx, "models:/m/latest")
	requireKindMsg(t, errs.NotFound, "no version of registered model 'm' is in stage 'latest'", err, "no versions")
	_, err = s.Resolve(ctx, "models:/m/7")
	requireKindMsg(t, errs.NotFound, "Model Version (name=m, version=7) not found", err, "missing version")
	_, err = s.Resolve(ctx, "models:/m@ghost")
	requireKindMsg(t, errs.NotFound, "Registered model alias ghost not found.", err, "missing alias")
	_, err = s.Resolve(ctx, "models:/m@V3")
	requireKindMsg(t, errs.Invalid, "Version alias name 'V3' is reserved.", err, "reserved alias")
	_, err = s.Resolve(ctx, "models:/"+strings.Repeat("n", 257)+"/1")
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.Contains(t, errs.MessageOf(err), "had length 257, which exceeded length limit of 256")

	st := resolveFixture()
	st.fail = errs.NotFoundf("Registered Model with name=m not found")
	_, err = registry.NewService(st, nil).Resolve(ctx, "models:/m/Production")
	requireKindMsg(t, errs.NotFound, "Registered Model with name=m not found", err, "missing model")
}

func TestDownloadURI(t *testing.T) {
	ctx := context.Background()
	st := newStubStore()
	for _, v := range []*registry.ModelVersion{
		// The location resolved when the version was made wins over its source.
		{Name: "m", Version: 1, Source: "runs:/r3/model", StorageLocation: "s3://bucket/stored"},
		// Without one, the source is where the files are.
		{Name: "m", Version: 2, Source: "s3://bucket/src"},
		// A runs:/ location whose run was missing then is resolved again.
		{Name: "m", Version: 3, Source: "runs:/r3/model", StorageLocation: "runs:/r3/model"},
		{Name: "m", Version: 4, Source: "runs:/r9/model", StorageLocation: "runs:/r9/model"},
		{Name: "m", Version: 5, Source: "runs:/r3"},
		{Name: "m", Version: 6, Source: "runs:/r3/model/"},
		{Name: "m", Version: 7, Source: "runs:/rs/model"},
		{Name: "m", Version: 8, Source: "runs:///r3/model"},
		{Name: "m", Version: 9, Source: "runs:/"},
	} {
		st.versions[v.String()] = v
	}
	s := registry.NewService(st, newStubRuns())
	for version, want := range map[int64]string{
		1: "s3://bucket/stored",
		2: "s3://bucket/src",
		3: "s3://bucket/0/r3/artifacts/model",
		4: "runs:/r9/model", // still no such run: left for the client to resolve
		5: "s3://bucket/0/r3/artifacts",
		6: "s3://bucket/0/r3/artifacts/model",
		7: "s3://bucket/0/rs/artifacts/model", // no doubled slash after a trailing one
		8: "s3://bucket/0/r3/artifacts/model",
	} {
		got, err := s.DownloadURI(ctx, "m", version)
		require.NoError(t, err, version)
		require.Equal(t, want, got, version)
	}
	_, err := s.DownloadURI(ctx, "m", 9)
	requireKindMsg(t, errs.Invalid, "Invalid model version source: 'runs:/': expected runs:/<run_id>/<path>", err, "runs:/")
	_, err = s.DownloadURI(ctx, "m", 10)
	requireKindMsg(t, errs.NotFound, "Model Version (name=m, version=10) not found", err, "missing version")
	_, err = s.DownloadURI(ctx, "", 1)
	require.Equal(t, errs.Invalid, errs.KindOf(err))

	// Without tracking, runs:/ locations are returned as they are.
	got, err := registry.NewService(st, nil).DownloadURI(ctx, "m", 3)
	require.NoError(t, err)
	require.Equal(t, "runs:/r3/model", got)

	// A tracking failure other than NotFound is not hidden.
	runs := newStubRuns()
	runs.fail = errs.E(errs.Unavailable, "database is locked")
	_, err = registry.NewService(st, runs).DownloadURI(ctx, "m", 3)
	requireKindMsg(t, errs.Unavailable, "database is locked", err, "tracking down")
}
