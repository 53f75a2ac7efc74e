package client_test

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/web"
	"github.com/cairn-mlops/cairn/internal/webtest"
)

func newClient(t *testing.T) (*client.Client, string) {
	srv := webtest.Start(t, web.Options{})
	c, err := client.New(srv.URL, client.DefaultOptions())
	require.NoError(t, err)
	return c, srv.URL
}

func TestClientRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, base := newClient(t)
	expID, err := c.CreateExperiment(ctx, "client-test", tracking.Tag{Key: "k", Value: "v"})
	require.NoError(t, err)
	_, err = c.CreateExperiment(ctx, "client-test")
	require.Equal(t, errs.Conflict, errs.KindOf(err))
	exp, err := c.GetExperimentByName(ctx, "client-test")
	require.NoError(t, err)
	require.Equal(t, expID, exp.ID)

	run, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: "r"})
	require.NoError(t, err)
	// 2500 metrics and 150 params: the client splits them into batches within MLflow's limits.
	var ms []tracking.Metric
	for i := 0; i < 2500; i++ {
		ms = append(ms, tracking.Metric{Key: "loss", Value: 1 / float64(i+1), Timestamp: 1, Step: int64(i)})
	}
	ms = append(ms, tracking.Metric{Key: "nan", Value: math.NaN(), Timestamp: 1})
	var ps []tracking.Param
	for i := 0; i < 150; i++ {
		ps = append(ps, tracking.Param{Key: "p" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: "v"})
	}
	require.NoError(t, c.LogBatch(ctx, run.Info.RunID, ms, ps, nil))
	hist, err := c.MetricHistory(ctx, run.Info.RunID, "loss")
	require.NoError(t, err)
	require.Len(t, hist, 2500)
	got, err := c.GetRun(ctx, run.Info.RunID)
	require.NoError(t, err)
	require.Len(t, got.Params, 150)
	for _, m := range got.Metrics {
		if m.Key == "nan" {
			require.True(t, math.IsNaN(m.Value))
		}
	}
	runs, _, err := c.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: []string{expID}, Filter: "metrics.loss < 0.01"})
	require.NoError(t, err)
	require.Len(t, runs, 1)

	require.NoError(t, c.UploadArtifact(ctx, got, "dir/a.txt", strings.NewReader("content")))
	resp, err := http.Get(base + "/api/2.0/mlflow-artifacts/artifacts/" + expID + "/" + run.Info.RunID + "/artifacts/dir/a.txt")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "content", string(b))

	require.NoError(t, c.UpdateRun(ctx, run.Info.RunID, tracking.StatusFinished, 5))
	_, err = c.GetRun(ctx, "ffffffffffffffffffffffffffffffff")
	require.Equal(t, errs.NotFound, errs.KindOf(err))
}

func TestClientUnreachable(t *testing.T) {
	opts := client.DefaultOptions()
	opts.Retries = 1
	c, err := client.New("http://127.0.0.1:1", opts)
	require.NoError(t, err)
	_, err = c.GetRun(context.Background(), "x")
	require.Equal(t, errs.Unavailable, errs.KindOf(err))
	_, err = client.New("ftp://x", opts)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
}

func TestEnsureExperiment(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	id, err := c.EnsureExperiment(ctx, "ensured", tracking.Tag{Key: "team", Value: "vision"})
	require.NoError(t, err)
	again, err := c.EnsureExperiment(ctx, "ensured")
	require.NoError(t, err)
	require.Equal(t, id, again, "an existing experiment is found, not created twice")
	exp, err := c.GetExperiment(ctx, id)
	require.NoError(t, err)
	require.Contains(t, exp.Tags, tracking.Tag{Key: "team", Value: "vision"})
}
