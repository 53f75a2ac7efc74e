package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDataImagesCLI(t *testing.T) {
	dir := t.TempDir()
	synth := filepath.Join(dir, "synth")
	cache := filepath.Join(dir, "cache")
	out, err := run(t, "data", "synth", "fingers", "--out", synth, "--n", "36", "--seed", "3", "--size", "32")
	require.NoError(t, err, out)
	require.Contains(t, out, "wrote 36 SYNTHETIC hand images")

	args := []string{"data", "prepare", "images", "--source", synth, "--size", "16", "--cache", cache, "--workers", "2"}
	out, err = run(t, args...)
	require.NoError(t, err, out)
	require.Contains(t, out, "cache      miss: prepared")
	require.Contains(t, out, "synthetic  YES")
	require.Contains(t, out, "images     36, 16x16x1, fingers layout")
	require.Regexp(t, `all\s+6\s+6\s+6\s+6\s+6\s+6\s+36`, out)

	out, err = run(t, append(args, "--json")...)
	require.NoError(t, err, out)
	var res struct {
		Dir       string                    `json:"dir"`
		Hit       bool                      `json:"hit"`
		Count     int                       `json:"count"`
		Synthetic bool                      `json:"synthetic"`
		Counts    map[string]map[string]int `json:"counts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.True(t, res.Hit)
	require.True(t, res.Synthetic)
	require.Equal(t, 36, res.Count)
	require.FileExists(t, filepath.Join(res.Dir, "manifest.json"))

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"empty folder", []string{"--source", empty}, 2, "no images found"},
		{"missing folder", []string{"--source", filepath.Join(dir, "nope")}, 3, "no such folder"},
		{"bad channels", []string{"--source", synth, "--channels", "2"}, 2, "expected 1 (grayscale) or 3 (RGB)"},
		{"no source", nil, 2, "--source is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, append([]string{"data", "prepare", "images", "--cache", cache}, tt.args...)...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.msg)
			require.Equal(t, tt.code, exitCode(err))
		})
	}
}
