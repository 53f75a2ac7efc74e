// Package registry holds the model registry domain: registered models, their
// versions, stages, tags and aliases, and the resolution of models:/ URIs
// (models:/name/version, models:/name@alias, models:/name/stage). It declares
// the Store it needs and a Service that validates input. It imports errs.
package registry
