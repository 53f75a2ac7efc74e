package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/serve"
)

// refusingTransport fails every request and counts them.
type refusingTransport struct{ calls atomic.Int64 }

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.calls.Add(1)
	return nil, errors.New("this process may not make HTTP requests here: " + req.URL.String())
}

// TestServerLoadsModelsWithoutHTTP deploys a registered model on the model
// server inside `cairn server` while every HTTP request the process makes
// through the default transport fails: only the test's own client, with a
// transport of its own, reaches the server. The version loads from the
// registry and the artifact store in process, into the data folder's cache.
func TestServerLoadsModelsWithoutHTTP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	ctx := context.Background()
	csv := filepath.Join(t.TempDir(), "passengers.csv")
	require.NoError(t, table.SynthPassengersFile(csv, 120, 1))
	titanic := trainForServing(t, url, "train", "titanic", "--data", csv, "--epochs", "1")

	own := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(own.CloseIdleConnections)
	opts := client.DefaultOptions()
	opts.HTTPClient = own
	c, err := client.New(url, opts)
	require.NoError(t, err)
	v := register(t, c, "titanic", titanic.source, titanic.runID)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, "titanic", "champion", v))

	refuse := &refusingTransport{}
	saved := http.DefaultTransport
	http.DefaultTransport = refuse
	t.Cleanup(func() { http.DefaultTransport = saved })

	req := struct {
		serve.Config
		Wait bool `json:"wait"`
	}{serve.Config{Name: "titanic", ModelURI: "models:/titanic@champion"}, true}
	var resp struct {
		Deployment serve.DeploymentJSON `json:"deployment"`
	}
	require.NoError(t, c.Do(ctx, "POST", serve.APIPrefix+"create", req, &resp))
	require.Equal(t, strconv.FormatInt(v, 10), resp.Deployment.ModelVersion)

	answer, err := own.Post(url+"/serve/titanic/predict", "application/json",
		strings.NewReader(`{"PassengerId": 893, "Name": "Wilkes, Mrs. James", "Pclass": 3, "Sex": "female", "Age": null, "SibSp": 1, "Parch": 0, "Fare": null, "Embarked": null}`))
	require.NoError(t, err)
	answer.Body.Close()
	require.Equal(t, http.StatusOK, answer.StatusCode)
	require.Zero(t, refuse.calls.Load(), "the model server made HTTP requests")

	cached := filepath.Join(cfg.Data, "models", "titanic", strconv.FormatInt(v, 10))
	require.FileExists(t, filepath.Join(cached, client.CompleteMarker))
	marker, err := os.ReadFile(filepath.Join(cached, client.CompleteMarker))
	require.NoError(t, err)
	require.Contains(t, string(marker), titanic.runID, "the marker names where the files came from")

}
