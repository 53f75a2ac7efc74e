package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bin, certs, out := filepath.Join(dir, "cairn"), filepath.Join(dir, "ca.pem"), filepath.Join(dir, "out", "image.tar")
	require.NoError(t, os.WriteFile(bin, append([]byte("\x7fELF"), bytes.Repeat([]byte{1}, 100)...), 0o755))
	require.NoError(t, os.WriteFile(certs, []byte("certs"), 0o644))
	args := []string{"--binary", bin, "--ca-certs", certs, "--out", out, "--tag", "cairn:1.2.3", "--created", "1764583200", "--revision", "abc"}
	require.NoError(t, run(t.Context(), args))
	first, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, run(t.Context(), args))
	second, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, first, second, "the same inputs write the same bytes")
	tag, _ := name.NewTag("cairn:1.2.3")
	img, err := tarball.ImageFromPath(out, &tag)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	require.Equal(t, "1.2.3", cfg.Config.Labels["org.opencontainers.image.version"])
	require.Equal(t, "abc", cfg.Config.Labels["org.opencontainers.image.revision"])
	require.Equal(t, int64(1764583200), cfg.Created.Unix())

	for _, bad := range [][]string{
		{"--created", "1"},                                 // no binary
		{"--binary", bin, "--created", "yesterday"},        // not seconds
		{"--binary", bin, "--created", ""},                 // no time
		{"--binary", bin, "--created", "1", "--nope", "x"}, // unknown flag
	} {
		err := run(t.Context(), bad)
		var u usageError
		require.True(t, errors.As(err, &u), "%v: %v", bad, err)
	}
	err = run(t.Context(), []string{"--binary", certs, "--ca-certs", certs, "--created", "1", "--out", out})
	require.ErrorContains(t, err, "not a Linux (ELF) binary")
}
