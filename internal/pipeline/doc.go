// Package pipeline is Cairn's DAG engine: the YAML spec and its strict
// decoding, validation that reports every problem at once, the plan
// (topological order), `${{ }}` templates and `when:` expressions, node phases
// (Pending Running Succeeded Failed Cancelled Skipped Omitted), the scheduler that runs a
// pipeline run with retries, timeouts, fan-out, caching, resume and resource
// packing, and cron schedules. Its tasks run through an exec.Executor. It declares the Store, Tracker and Catalog it needs;
// store/meta, an adapter over tracking and internal/steps provide them.
// It imports errs, exec and tracking.
package pipeline
