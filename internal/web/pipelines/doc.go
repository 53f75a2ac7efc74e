// Package pipelines is the REST API for pipelines under
// /api/2.0/cairn/pipelines/: definitions, runs with their tasks and phases,
// task logs, submit, cancel and retry. It is what the UI uses. It imports
// errs, auth, tracking, pipeline and api.
package pipelines
