package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

// BenchmarkFetchModel fetches a registered version of 16 files of 1 MiB
// into an empty cache: in process (LocalModels, what cairn server does) and
// through the HTTP API and artifact proxy of a server on loopback
// (RemoteModels, what cairn serve does, and what cairn server did before).
//
//	go test -run '^$' -bench FetchModel -benchtime 20x ./internal/jobs/
func BenchmarkFetchModel(b *testing.B) {
	ctx := context.Background()
	srv := webtest.Start(b, web.Options{})
	st := srv.Artifacts
	reg := registry.NewService(srv.DB, srv.DB)
	track := tracking.NewService(srv.DB)
	run, err := track.CreateRun(ctx, tracking.CreateRunInput{})
	require.NoError(b, err)
	root := strings.TrimPrefix(strings.TrimPrefix(run.Info.ArtifactURI, "mlflow-artifacts:"), "/")
	payload := strings.Repeat("w", 1<<20)
	for i := range 16 {
		require.NoError(b, st.Put(ctx, fmt.Sprintf("%s/model/weights/%02d.bin", root, i), strings.NewReader(payload)))
	}
	_, err = reg.CreateRegisteredModel(ctx, "m", "", nil)
	require.NoError(b, err)
	_, err = reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "m", Source: "runs:/" + run.Info.RunID + "/model", RunID: run.Info.RunID})
	require.NoError(b, err)
	c, err := client.New(srv.URL, client.DefaultOptions())
	require.NoError(b, err)
	local := (&localRegistry{reg: reg, track: track, store: st}).source()
	for _, s := range []struct {
		name string
		src  ModelSource
	}{{"in-process", local}, {"http", RemoteModels{Client: c}}} {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(16 << 20)
			for i := 0; b.Loop(); i++ {
				dir, err := s.src.FetchModel(ctx, "models:/m/1", filepath.Join(b.TempDir(), strconv.Itoa(i)))
				if err != nil {
					b.Fatal(err)
				}
				_ = dir
			}
		})
	}
}
