// Package auth holds Cairn's access control: users with one role each (read,
// edit, admin), API tokens, and the check that runs before every request when
// the server is started with --auth. It accepts the credentials the MLflow
// client sends: "Authorization: Bearer <token>" (MLFLOW_TRACKING_TOKEN) and
// basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).
//
// Passwords are stored as bcrypt hashes and tokens as SHA-256 hashes; neither
// secret is ever stored. It declares the Store it needs and a Service that the
// HTTP server and the CLI share. It imports errs and golang.org/x/crypto, never
// web: web adapts Service.Authorize to its Authenticator interface.
package auth
