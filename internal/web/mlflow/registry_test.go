package mlflow_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRegistryAPI checks the registry routes' JSON shapes and error codes
// against what MLflow 2.12's server sends (recorded in the client kit's
// traces and probed from a real server).
func TestRegistryAPI(t *testing.T) {
	srv := newServer(t)
	const api = "/api/2.0/mlflow/"
	errCode := func(r apiResult, status int, code string) {
		t.Helper()
		require.Equal(t, status, r.Status, r.Raw)
		require.Equal(t, code, r.Body["error_code"], r.Raw)
	}

	m := ok(t, call(t, srv, "POST", api+"registered-models/create", map[string]any{"name": "m1",
		"tags": []map[string]string{{"key": "team", "value": "ml"}}}))["registered_model"].(map[string]any)
	require.Equal(t, "m1", m["name"])
	require.NotContains(t, m, "description")
	require.NotContains(t, m, "latest_versions")
	errCode(call(t, srv, "POST", api+"registered-models/create", map[string]any{"name": "m1"}), http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS")
	errCode(call(t, srv, "POST", api+"registered-models/create", map[string]any{}), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")

	v := ok(t, call(t, srv, "POST", api+"model-versions/create", map[string]any{"name": "m1", "source": "s3://b/m"}))["model_version"].(map[string]any)
	require.Equal(t, map[string]any{"name": "m1", "version": "1", "creation_timestamp": v["creation_timestamp"],
		"last_updated_timestamp": v["last_updated_timestamp"], "current_stage": "None", "description": "",
		"source": "s3://b/m", "run_id": "", "status": "READY", "run_link": ""}, v)

	ok(t, call(t, srv, "POST", api+"registered-models/alias", map[string]any{"name": "m1", "alias": "champion", "version": "1"}))
	got := ok(t, call(t, srv, "GET", api+"registered-models/alias?name=m1&alias=champion", nil))["model_version"].(map[string]any)
	require.Equal(t, []any{"champion"}, got["aliases"])
	errCode(call(t, srv, "GET", api+"registered-models/alias?name=m1&alias=nope", nil), http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	errCode(call(t, srv, "POST", api+"registered-models/alias", map[string]any{"name": "m1", "alias": "v1", "version": "1"}), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")

	m = ok(t, call(t, srv, "GET", "/ajax-api/2.0/mlflow/registered-models/get?name=m1", nil))["registered_model"].(map[string]any)
	require.Equal(t, []any{map[string]any{"alias": "champion", "version": "1"}}, m["aliases"])
	require.Len(t, m["latest_versions"], 1)
	require.Equal(t, []any{map[string]any{"key": "team", "value": "ml"}}, m["tags"])

	got = ok(t, call(t, srv, "GET", api+"model-versions/get?name=m1&version=1", nil))["model_version"].(map[string]any)
	require.Equal(t, "1", got["version"])
	errCode(call(t, srv, "GET", api+"model-versions/get?name=m1&version=9", nil), http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	r := call(t, srv, "GET", api+"model-versions/get?name=m1&version=x", nil)
	errCode(r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	require.Equal(t, "Model version must be an integer, got 'x'", r.Body["message"])

	got = ok(t, call(t, srv, "PATCH", api+"model-versions/update", map[string]any{"name": "m1", "version": "1", "description": "d"}))["model_version"].(map[string]any)
	require.Equal(t, "d", got["description"])
	got = ok(t, call(t, srv, "POST", api+"model-versions/transition-stage", map[string]any{"name": "m1", "version": "1",
		"stage": "production", "archive_existing_versions": true}))["model_version"].(map[string]any)
	require.Equal(t, "Production", got["current_stage"])
	lv := ok(t, call(t, srv, "GET", api+"registered-models/get-latest-versions?name=m1&stages=Production", nil))
	require.Len(t, lv["model_versions"], 1)
	lv = ok(t, call(t, srv, "POST", api+"registered-models/get-latest-versions", map[string]any{"name": "m1", "stages": []string{"Staging"}}))
	require.NotContains(t, lv, "model_versions")

	uri := ok(t, call(t, srv, "GET", api+"model-versions/get-download-uri?name=m1&version=1", nil))
	require.Equal(t, "s3://b/m", uri["artifact_uri"])

	q := url.Values{"filter": {"name='m1'"}, "max_results": {"10"}}
	vs := ok(t, call(t, srv, "GET", api+"model-versions/search?"+q.Encode(), nil))
	require.Len(t, vs["model_versions"], 1)
	rs := ok(t, call(t, srv, "GET", api+"registered-models/search?"+url.Values{"filter": {"tags.team = 'ml'"}}.Encode(), nil))
	require.Len(t, rs["registered_models"], 1)
	errCode(call(t, srv, "GET", api+"registered-models/search?max_results=1001", nil), http.StatusBadRequest, "INVALID_PARAMETER_VALUE")

	// The client sends bodies with DELETE; missing tags and aliases delete quietly.
	ok(t, call(t, srv, "POST", api+"model-versions/set-tag", map[string]any{"name": "m1", "version": "1", "key": "k", "value": "v"}))
	ok(t, call(t, srv, "DELETE", api+"model-versions/delete-tag", map[string]any{"name": "m1", "version": "1", "key": "k"}))
	ok(t, call(t, srv, "DELETE", api+"model-versions/delete-tag", map[string]any{"name": "m1", "version": "1", "key": "k"}))
	ok(t, call(t, srv, "DELETE", api+"registered-models/delete-tag", map[string]any{"name": "m1", "key": "team"}))
	ok(t, call(t, srv, "DELETE", api+"registered-models/alias", map[string]any{"name": "m1", "alias": "champion"}))
	ok(t, call(t, srv, "DELETE", api+"registered-models/alias", map[string]any{"name": "m1", "alias": "champion"}))

	m = ok(t, call(t, srv, "POST", api+"registered-models/rename", map[string]any{"name": "m1", "new_name": "m2"}))["registered_model"].(map[string]any)
	require.Equal(t, "m2", m["name"])
	m = ok(t, call(t, srv, "PATCH", api+"registered-models/update", map[string]any{"name": "m2", "description": "x"}))["registered_model"].(map[string]any)
	require.Equal(t, "x", m["description"])
	ok(t, call(t, srv, "DELETE", api+"model-versions/delete", map[string]any{"name": "m2", "version": "1"}))
	ok(t, call(t, srv, "DELETE", api+"registered-models/delete", map[string]any{"name": "m2"}))
	errCode(call(t, srv, "GET", api+"registered-models/get?name=m2", nil), http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
}
