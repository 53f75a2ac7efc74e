package steps_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
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

// data.csv infers any table's columns, with a schema file overriding them.
func TestPrepareTableStepWithSchema(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "t.csv")
	var b strings.Builder
	b.WriteString("id,y,n,zone,note\n")
	for i := range 60 {
		fmt.Fprintf(&b, "%d,%d,%d,z%d,text %d\n", i+1, i%2, i%7, i%3, i)
	}
	require.NoError(t, os.WriteFile(csv, []byte(b.String()), 0o644))
	schema := filepath.Join(dir, "s.yaml")
	require.NoError(t, os.WriteFile(schema, []byte("columns:\n  n: category\n  zone: {type: category, encode: frequency}\n"), 0o644))
	env := steps.Env{OutputsDir: filepath.Join(dir, "out"), Environ: []string{"CAIRN_DATA_DIR=" + filepath.Join(dir, "data")}}
	out, err := steps.Default().Exec(context.Background(), "data.csv", []byte(`{"source": "`+csv+`", "target": "y", "schema": "`+schema+`"}`), env)
	require.NoError(t, err)
	m, err := data.ReadManifest(out["dataset"])
	require.NoError(t, err)
	require.Equal(t, []string{"n=0", "n=1", "n=2", "n=3", "n=4", "n=5", "n=6", "n=<unknown>", "zone~frequency"}, m.Features)
	_, err = steps.Default().Exec(context.Background(), "data.csv", []byte(`{"source": "`+csv+`", "target": "y", "label": "n"}`), env)
	require.ErrorContains(t, err, `inputs "target" "y" and "label" "n" disagree`)
	require.NoError(t, os.WriteFile(schema, []byte("columns:\n  n: colour\n"), 0o644))
	_, err = steps.Default().Exec(context.Background(), "data.csv", []byte(`{"source": "`+csv+`", "target": "y", "schema": "`+schema+`"}`), env)
	require.ErrorContains(t, err, `column "n": type "colour"`)
}
