// Package pipeline is Cairn's DAG engine: the YAML spec and its strict
// decoding, validation that reports every problem at once, the plan
// (topological order), `${{ }}` templates and `when:` expressions, node phases
// (Pending Running Succeeded Failed Cancelled Skipped Omitted), the scheduler that runs a
// pipeline run with retries, timeouts, fan-out, caching, resume and resource
// packing, the local executor (child processes in their own process group),
// and cron schedules. It declares the Store, Tracker and Catalog it needs;
// store/meta, an adapter over tracking and internal/steps provide them.
// It imports errs and tracking.
package pipeline
