// Package mlflow serves MLflow's REST API 2.0 (tracking, model registry,
// logged models and the mlflow-artifacts proxy) over Cairn's tracking and
// registry services and artifact store, so the real MLflow client works
// against cairn server unchanged. Wire types live here, apart from domain
// types. It imports errs, tracking, registry, artifact (the store contract;
// cmd hands it the backends) and api (with api/wire); never store/*.
package mlflow
