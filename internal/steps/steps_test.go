package steps_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/steps"
)

func TestRegistryDecodesStrictly(t *testing.T) {
	r := steps.NewRegistry()
	require.Equal(t, errs.Invalid, errs.KindOf(r.Add(steps.Info{ID: "NoDot", New: func() steps.Step { return &steps.Shell{} }})))
	require.NoError(t, r.Add(steps.Info{ID: "core.shell", New: func() steps.Step { return &steps.Shell{Shell: "sh"} }}))
	require.Equal(t, errs.Conflict, errs.KindOf(r.Add(steps.Info{ID: "core.shell", New: func() steps.Step { return &steps.Shell{} }})))
	st, ok := r.Lookup("core.shell")
	require.True(t, ok)
	require.Equal(t, "1", st.Version())
	require.Len(t, st.CheckInputs(map[string]any{"command": "x", "typo": 1}, nil), 1)
	require.Empty(t, st.CheckInputs(map[string]any{"command": "${{ params.x }}"}, map[string]bool{"command": true}))
	require.NotEmpty(t, st.CheckInputs(map[string]any{}, nil), "Validate runs when nothing is dynamic")
	_, err := r.Decode("core.shell", []byte(`{"command": "true", "extra": 1}`))
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	_, err = r.Decode("core.nope", nil)
	require.Equal(t, errs.NotFound, errs.KindOf(err))
}

func TestDownload(t *testing.T) {
	body := []byte("a,b\n1,2\n")
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	dir := t.TempDir()
	env := steps.Env{OutputsDir: dir}
	out, err := steps.Default().Exec(context.Background(), "core.download", []byte(`{"url": "`+srv.URL+`/x/data.csv", "sha256": "`+hex.EncodeToString(sum[:])+`"}`), env)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"file": "data.csv", "sha256": hex.EncodeToString(sum[:]), "bytes": "8"}, out)
	got, err := os.ReadFile(filepath.Join(dir, "data.csv"))
	require.NoError(t, err)
	require.Equal(t, body, got)
	_, err = steps.Default().Exec(context.Background(), "core.download", []byte(`{"url": "`+srv.URL+`/y", "sha256": "`+hex.EncodeToString(make([]byte, 32))+`"}`), env)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, "SHA-256 checksum mismatch")
	_, err = os.Stat(filepath.Join(dir, "y"))
	require.True(t, os.IsNotExist(err), "a bad download leaves nothing behind")
}
