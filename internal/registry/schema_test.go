package registry_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

func attr(key, op, s string) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindAttribute, Key: key, Op: op, Str: s}
}

func attrNum(key, op string, n float64) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindAttribute, Key: key, Op: op, Num: n}
}

func attrList(key, op string, vs ...string) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindAttribute, Key: key, Op: op, List: vs}
}

func tag(key, op, s string) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindTag, Key: key, Op: op, Str: s}
}

func TestRegisteredModelSchema(t *testing.T) {
	for in, want := range map[string]tracking.Clause{
		"name = 'm'":                  attr("name", "=", "m"),
		"name != 'm'":                 attr("name", "!=", "m"),
		"name LIKE 'm%'":              attr("name", "LIKE", "m%"),
		"attributes.name ILIKE 'M%'":  attr("name", "ILIKE", "M%"),
		"name IN ('a', 'b')":          attrList("name", "IN", "a", "b"),
		"name NOT IN ('a')":           attrList("name", "NOT IN", "a"),
		"tags.team = 'x'":             tag("team", "=", "x"),
		"tag.`a b` LIKE '%x'":         tag("a b", "LIKE", "%x"),
		"timestamp > 5":               attrNum("last_updated_time", ">", 5),
		"last_updated_timestamp <= 5": attrNum("last_updated_time", "<=", 5),
		"creation_timestamp >= 1":     attrNum("creation_time", ">=", 1),
	} {
		got, err := tracking.ParseFilter(registry.RegisteredModelSchema, in)
		require.NoError(t, err, in)
		require.Equal(t, tracking.Filter{want}, got, in)
	}
	for in, msg := range map[string]string{
		"metrics.a > 1":       "metric keys cannot be used to search registered models",
		"params.p = 'x'":      "param keys cannot be used to search registered models",
		"datasets.name = 'x'": "dataset keys cannot be used to search registered models",
		"run_id = 'r'":        `unknown attribute "run_id" at position 0: expected one of creation_timestamp, last_updated_timestamp, name, timestamp`,
		"version_number = 1":  `unknown attribute "version_number" at position 0: expected one of creation_timestamp, last_updated_timestamp, name, timestamp`,
		"timestamp IN ('1')":  `IN is not supported for attribute "last_updated_time"`,
		"timestamp = 'x'":     `expected a number for attribute "last_updated_time", found 'x'`,
		"name > 'a'":          `operator > is not supported for attribute "name": use = != LIKE ILIKE`,
		"name = 1":            `expected a quoted string value for attribute "name" (e.g. 'my-value'), found "1"`,
	} {
		_, err := tracking.ParseFilter(registry.RegisteredModelSchema, in)
		require.Equal(t, errs.Invalid, errs.KindOf(err), in)
		require.Equal(t, fmt.Sprintf("invalid filter %q: %s", in, msg), errs.MessageOf(err), in)
	}
}

func TestModelVersionSchema(t *testing.T) {
	for in, want := range map[string]tracking.Clause{
		"name = 'm'":                                 attr("name", "=", "m"),
		"version_number = 3":                         attrNum("version", "=", 3),
		"version >= 2":                               attrNum("version", ">=", 2),
		"source_path = 's3://b/x'":                   attr("source", "=", "s3://b/x"),
		"source LIKE 's3://%'":                       attr("source", "LIKE", "s3://%"),
		"run_id = 'r'":                               attr("run_id", "=", "r"),
		"run_id IN ('a', 'b')":                       attrList("run_id", "IN", "a", "b"),
		"current_stage = 'Production'":               attr("current_stage", "=", "Production"),
		"current_stage IN ('Staging', 'Production')": attrList("current_stage", "IN", "Staging", "Production"),
		"user_id NOT IN ('a')":                       attrList("user_id", "NOT IN", "a"),
		"source_path IN ('s3://b/x')":                attrList("source", "IN", "s3://b/x"),
		"tags.t = 'x'":                               tag("t", "=", "x"),
		"timestamp < 9":                              attrNum("last_updated_time", "<", 9),
		"creation_timestamp > 1":                     attrNum("creation_time", ">", 1),
	} {
		got, err := tracking.ParseFilter(registry.ModelVersionSchema, in)
		require.NoError(t, err, in)
		require.Equal(t, tracking.Filter{want}, got, in)
	}
	const attrs = "creation_timestamp, current_stage, last_updated_timestamp, name, run_id, source, source_path, timestamp, user_id, version, version_number"
	for in, msg := range map[string]string{
		"metrics.a > 1":            "metric keys cannot be used to search model versions",
		"version_number IN ('1')":  `IN is not supported for attribute "version"`,
		"version_number = '3'":     `expected a number for attribute "version", found '3'`,
		"version_number LIKE '3%'": `LIKE is not supported for numeric attribute "version"; use = != > >= < <=`,
		"status = 'READY'":         `unknown attribute "status" at position 0: expected one of ` + attrs,
		"run_id > 'a'":             `operator > is not supported for attribute "run_id": use = != LIKE ILIKE`,
	} {
		_, err := tracking.ParseFilter(registry.ModelVersionSchema, in)
		require.Equal(t, errs.Invalid, errs.KindOf(err), in)
		require.Equal(t, fmt.Sprintf("invalid filter %q: %s", in, msg), errs.MessageOf(err), in)
	}
}

func TestRegistryOrderBy(t *testing.T) {
	a := tracking.KindAttribute
	got, err := tracking.ParseOrderBy(registry.RegisteredModelSchema, []string{"timestamp DESC", "name", "last_updated_timestamp", "creation_timestamp ASC"})
	require.NoError(t, err)
	require.Equal(t, []tracking.OrderBy{{Kind: a, Key: "last_updated_time", Desc: true}, {Kind: a, Key: "name"},
		{Kind: a, Key: "last_updated_time"}, {Kind: a, Key: "creation_time"}}, got)

	got, err = tracking.ParseOrderBy(registry.ModelVersionSchema, []string{"version_number DESC", "creation_timestamp", "source_path", "current_stage desc"})
	require.NoError(t, err)
	require.Equal(t, []tracking.OrderBy{{Kind: a, Key: "version", Desc: true}, {Kind: a, Key: "creation_time"},
		{Kind: a, Key: "source"}, {Kind: a, Key: "current_stage", Desc: true}}, got)

	_, err = tracking.ParseOrderBy(registry.RegisteredModelSchema, []string{"metrics.acc"})
	require.Equal(t, `invalid order_by "metrics.acc": metric keys cannot be used to search registered models`, errs.MessageOf(err))
	_, err = tracking.ParseOrderBy(registry.ModelVersionSchema, []string{"version_number SIDEWAYS"})
	require.Equal(t, `invalid order_by "version_number SIDEWAYS": expected ASC or DESC, found "SIDEWAYS"`, errs.MessageOf(err))
}
