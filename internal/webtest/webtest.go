package webtest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/store/meta"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/web/mlflow"
)

// Server is a running test server and the database behind it.
type Server struct {
	*httptest.Server
	DB        *meta.DB
	Artifacts artifacts.Store // the store the server's artifact API serves
}

// Start starts a server configured by opts (web.DefaultOptions() when zero)
// with the MLflow API and then extra mounted beside it, as cairn server
// mounts them; everything is closed when the test ends.
func Start(t testing.TB, opts web.Options, extra ...web.Mounter) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := meta.Open(ctx, filepath.Join(dir, "cairn.db"), meta.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	art, err := artifacts.Open(ctx, filepath.Join(dir, "artifacts"), artifacts.DefaultOptions())
	require.NoError(t, err)
	if opts.Addr == "" {
		auth := opts.Auth
		opts = web.DefaultOptions()
		opts.Auth = auth
	}
	h := mlflow.NewHandler(tracking.NewService(db), registry.NewService(db, db), art, mlflow.Options{Roots: artifacts.NewRoots(art)})
	srv := httptest.NewServer(web.NewServer(opts, append([]web.Mounter{h}, extra...)...).Handler())
	t.Cleanup(srv.Close)
	return &Server{Server: srv, DB: db, Artifacts: art}
}
