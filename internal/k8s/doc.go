// Package k8s runs task attempts as Kubernetes Jobs: an exec.Executor that
// creates one batch/v1 Job per attempt (backoffLimit 0: retries are the
// engine's), watches it with informers, streams its pod's log into the
// attempt's log, reports why a pod cannot start or why it ended
// (Unschedulable, ImagePullBackOff, OOMKilled, exit codes), keeps the
// attempt's credentials in a Secret the Job owns, waits for room under the
// namespace's ResourceQuotas, and attaches again to a Job that outlived a
// restart of this process.
package k8s
