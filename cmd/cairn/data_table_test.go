package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDataTableCLI(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "synth.csv")
	cache := filepath.Join(dir, "cache")
	_, err := run(t, "data", "synth", "titanic", "--out", src, "--n", "300", "--seed", "2")
	require.NoError(t, err)
	info, err := os.Stat(src)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	args := []string{"data", "prepare", "table", "--source", src, "--label", "Survived", "--preset", "titanic",
		"--val", "0.2", "--test", "0.1", "--seed", "3", "--cache", cache, "--json"}
	for i, wantHit := range []bool{false, true} {
		out, err := run(t, args...)
		require.NoError(t, err, out)
		var res struct {
			Dir       string         `json:"dir"`
			Hash      string         `json:"hash"`
			Hit       bool           `json:"hit"`
			Rows      int            `json:"rows"`
			Splits    map[string]int `json:"splits"`
			Features  []string       `json:"features"`
			Synthetic bool           `json:"synthetic"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		require.Equal(t, wantHit, res.Hit, "run %d", i)
		require.Equal(t, 300, res.Rows)
		require.Equal(t, 300, res.Splits["train"]+res.Splits["validation"]+res.Splits["test"])
		require.Len(t, res.Features, 27)
		require.True(t, res.Synthetic)
		require.DirExists(t, res.Dir)
	}

	out, err := run(t, "data", "prepare", "table", "--source", src, "--preset", "titanic", "--cache", cache)
	require.NoError(t, err)
	require.Contains(t, out, "rows       300 (train 240, validation 60, test 0)")
	require.Contains(t, out, "synthetic  yes")

	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("Survived,Name\n0,x\n"), 0o644))
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--source", bad, "--preset", "titanic"}, 2, `missing required columns "Pclass", "Sex", "Age"`},
		{[]string{"--source", filepath.Join(dir, "nope.csv"), "--preset", "titanic"}, 3, "no such file"},
		{[]string{"--preset", "titanic"}, 2, "--source is required"},
		{[]string{"--source", src}, 2, "--target is required"},
		{[]string{"--source", src, "--preset", "iris"}, 2, `table preset "iris"`},
		{[]string{"--source", src, "--target", "Survived", "--label", "Sex"}, 2, `--target "Survived" and --label "Sex" disagree`},
		{[]string{"--source", src, "--target", "Survived", "--schema", filepath.Join(dir, "nope.yaml")}, 3, "schema " + filepath.Join(dir, "nope.yaml") + ": no such file"},
		{[]string{"--source", src, "--preset", "titanic", "--drop", "Fare"}, 2, "a schema overrides inferred columns"},
		{[]string{"--source", src, "--target", "Survived", "--column", "Age=color"}, 2, `--column "Age=color": column "Age": type "color"`},
	} {
		_, err := run(t, append([]string{"data", "prepare", "table", "--cache", cache}, tc.args...)...)
		require.Error(t, err, tc.args)
		require.Equal(t, tc.code, exitCode(err), "%v", err)
		require.ErrorContains(t, err, tc.msg)
	}

	// Any CSV: inferred columns, with overrides; the output says what was
	// inferred and what was dropped.
	schema := filepath.Join(dir, "schema.yaml")
	require.NoError(t, os.WriteFile(schema, []byte("target: Survived\ncolumns:\n  Ticket: {type: category, encode: frequency}\n"), 0o644))
	out, err = run(t, "data", "prepare", "table", "--source", src, "--schema", schema, "--drop", "Cabin", "--column", "Pclass=category", "--cache", cache)
	require.NoError(t, err, out)
	require.Contains(t, out, "Pclass category")
	require.Contains(t, out, "Ticket category/frequency")
	require.Contains(t, out, "Age number")
	require.Contains(t, out, "dropped    Cabin (dropped by the schema), Name (text-like: 298 distinct values in 300 rows (free text or an id)), PassengerId (an id: a distinct whole number in every row)")
	out, err = run(t, "data", "prepare", "table", "--source", src, "--target", "Survived", "--cache", cache, "--json")
	require.NoError(t, err, out)
	var res struct {
		Columns []map[string]string `json:"columns"`
		Dropped map[string]string   `json:"dropped"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Contains(t, res.Columns, map[string]string{"name": "Sex", "type": "category"})
	require.Contains(t, res.Dropped, "PassengerId")
}
