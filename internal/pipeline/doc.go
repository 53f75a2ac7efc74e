// Package pipeline is Cairn's pipeline runtime: given a plan from
// pipeline/spec, it runs it as a pipeline run, tracking node phases
// (Pending Running Succeeded Failed Cancelled Skipped Omitted), with
// retries, timeouts, fan-out, caching, resume and resource packing, and
// fires cron schedules. Its tasks run through an exec.Executor. It declares
// the Store and Tracker it needs, and takes a spec.Catalog; store/meta, an
// adapter over tracking and internal/steps provide them.
// It imports errs, exec, pipeline/spec and tracking.
package pipeline
