package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
)

// The Service rejects these requests before it reaches its store, so the
// tests run it without one; internal/store/meta tests the rest on real
// databases.

func TestRegistryValidateAlias(t *testing.T) {
	for _, tc := range []struct {
		alias string
		msg   string // "" when valid
	}{
		{"champion", ""},
		{"prod-2024_a", ""},
		{"v", ""},
		{"v1a", ""},
		{"version1", ""},
		{"", "Missing value for required parameter 'alias'"},
		{"latest", "'latest' alias name (case insensitive) is reserved."},
		{"LaTeSt", "'latest' alias name (case insensitive) is reserved."},
		{"v1", "Version alias name 'v1' is reserved."},
		{"V12", "Version alias name 'V12' is reserved."},
		{"a.b", "Invalid alias name: 'a.b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
		{"a b", "Invalid alias name"},
		{"a/b", "Invalid alias name"},
		{strings.Repeat("a", 256), "exceeded length limit of 255"},
	} {
		err := registry.ValidateAlias(tc.alias)
		if tc.msg == "" {
			require.NoError(t, err, tc.alias)
			continue
		}
		require.Equal(t, errs.Invalid, errs.KindOf(err), tc.alias)
		require.Contains(t, errs.MessageOf(err), tc.msg, tc.alias)
	}
}

func TestRegistryParseVersion(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "42": 42, "0": 0} {
		n, err := registry.ParseVersion(in)
		require.NoError(t, err)
		require.Equal(t, want, n)
	}
	for in, msg := range map[string]string{
		"":    "Missing value for required parameter 'version'",
		"abc": "Model version must be an integer, got 'abc'",
		"1.5": "Model version must be an integer, got '1.5'",
	} {
		_, err := registry.ParseVersion(in)
		require.Equal(t, errs.Invalid, errs.KindOf(err), in)
		require.Contains(t, errs.MessageOf(err), msg, in)
	}
}

func TestRegistryCanonicalStage(t *testing.T) {
	for in, want := range map[string]string{"none": "None", "STAGING": "Staging", "Production": "Production",
		"archived": "Archived", "shipped": "", "": ""} {
		require.Equal(t, want, registry.CanonicalStage(in), in)
	}
}

func TestRegistryServiceRejects(t *testing.T) {
	ctx := context.Background()
	s := registry.NewService(nil, nil)
	long := strings.Repeat("x", 5001)
	for _, tc := range []struct {
		name string
		call func() error
		msg  string
	}{
		{"create: no name", func() error { _, err := s.CreateRegisteredModel(ctx, "", "", nil); return err }, "Missing value for required parameter 'name'"},
		{"create: long name", func() error {
			_, err := s.CreateRegisteredModel(ctx, strings.Repeat("n", 257), "", nil)
			return err
		}, "exceeded length limit of 256"},
		{"create: empty tag key", func() error {
			_, err := s.CreateRegisteredModel(ctx, "m", "", []registry.Tag{{Value: "v"}})
			return err
		}, "Missing value for required parameter 'key'"},
		{"create: long tag key", func() error {
			_, err := s.CreateRegisteredModel(ctx, "m", "", []registry.Tag{{Key: strings.Repeat("k", 251)}})
			return err
		}, "Registered model key"},
		{"create: long tag value", func() error {
			_, err := s.CreateRegisteredModel(ctx, "m", "", []registry.Tag{{Key: "k", Value: long}})
			return err
		}, "Registered model value"},
		{"create: bad tag key", func() error {
			_, err := s.CreateRegisteredModel(ctx, "m", "", []registry.Tag{{Key: "../k"}})
			return err
		}, "invalid tag name"},
		{"rename: no new name", func() error { _, err := s.RenameRegisteredModel(ctx, "m", ""); return err }, "'new_name'"},
		{"set tag: long value", func() error { return s.SetRegisteredModelTag(ctx, "m", registry.Tag{Key: "k", Value: long}) }, "exceeded length limit of 5000"},
		{"delete tag: no key", func() error { return s.DeleteRegisteredModelTag(ctx, "m", "") }, "'key'"},
		{"version tag: long value", func() error {
			return s.SetModelVersionTag(ctx, "m", 1, registry.Tag{Key: "k", Value: long})
		}, "Model version value"},
		{"version: no source", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m"})
			return err
		}, "'source'"},
		{"version: local path without run", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "/etc"})
			return err
		}, "To use a local path as a model version source"},
		{"version: relative local path", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "model"})
			return err
		}, "To use a local path as a model version source"},
		{"version: remote file host", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "file://123.45.6.7/x"})
			return err
		}, "is not a valid remote uri"},
		{"version: traversal", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "https://h/a/../../b"})
			return err
		}, "without relative path references"},
		{"version: encoded traversal", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "mlflow-artifacts://h:80/..%2f..%2fx"})
			return err
		}, "without relative path references"},
		{"version: dot segment", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "s3://b/a/./c"})
			return err
		}, "without relative path references"},
		{"version: NUL", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "s3://b/a%00"})
			return err
		}, "without relative path references"},
		{"version: bad tag", func() error {
			_, err := s.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "s3://b/a", Tags: []registry.Tag{{Key: "k", Value: long}}})
			return err
		}, "Model version value"},
		{"stage: missing", func() error { _, err := s.TransitionStage(ctx, "m", 1, "", false); return err }, "'stage'"},
		{"stage: unknown", func() error { _, err := s.TransitionStage(ctx, "m", 1, "shipped", false); return err },
			"Invalid Model Version stage: shipped. Value must be one of None, Staging, Production, Archived."},
		{"stage: archive into None", func() error { _, err := s.TransitionStage(ctx, "m", 1, "none", true); return err },
			"because 'none' is not an Active stage"},
		{"latest: unknown stage", func() error { _, err := s.FindLatestVersions(ctx, "m", []string{"Staging", "x"}); return err },
			"Invalid Model Version stage: x."},
		{"alias: reserved", func() error { return s.SetAlias(ctx, "m", "latest", 1) }, "reserved"},
		{"alias: delete bad name", func() error { return s.DeleteAlias(ctx, "m", "a.b") }, "Invalid alias name"},
		{"alias: get bad name", func() error { _, err := s.FindVersionByAlias(ctx, "m", "V2"); return err }, "reserved"},
		{"search: too many models", func() error {
			_, _, err := s.SearchRegisteredModels(ctx, registry.Query{MaxResults: 1001})
			return err
		}, "max_results"},
		{"search: too many versions", func() error {
			_, _, err := s.SearchModelVersions(ctx, registry.Query{MaxResults: 200_001})
			return err
		}, "max_results"},
		{"resolve: not models:/", func() error { _, err := s.Resolve(ctx, "runs:/abc/model"); return err }, "invalid model URI"},
		{"resolve: no version", func() error { _, err := s.Resolve(ctx, "models:/m"); return err }, "invalid model URI"},
		{"resolve: no name", func() error { _, err := s.Resolve(ctx, "models:/@champion"); return err }, "invalid model URI"},
		{"resolve: unknown stage", func() error { _, err := s.Resolve(ctx, "models:/m/shipped"); return err }, "is not a version, a stage"},
		{"resolve: reserved alias", func() error { _, err := s.Resolve(ctx, "models:/m@latest"); return err }, "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Equal(t, errs.Invalid, errs.KindOf(err), "%v", err)
			require.Contains(t, errs.MessageOf(err), tc.msg)
		})
	}
}
