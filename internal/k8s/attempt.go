package k8s

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cairn-mlops/cairn/internal/exec"
)

// attempt is one Execute call watching its Job.
type attempt struct {
	e      *Executor
	job    *exec.Job
	name   string
	uid    types.UID
	log    *lockedWriter
	start  time.Time
	wakeup chan struct{}

	seen         bool // the informer has shown the Job
	started      bool
	pendingSince time.Time
	said         string
	// logs follow each pod of the Job that has started, by pod name: one,
	// or one per shard of an Indexed Job (lines prefixed "[shard I] ").
	logs    map[string]*logStream
	logLock sync.Mutex // shared by the shards' prefixing writers
}

// maxTerminationMessage is what a kubelet keeps of a container's
// termination message; a message this long may have been cut.
const maxTerminationMessage = 4096

// fatalWaiting are the reasons a container waits for that retrying the
// same pod does not cure.
var fatalWaiting = map[string]bool{"ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true}

func (a *attempt) watch(ctx context.Context) exec.Result {
	var deadline <-chan time.Time
	if a.job.Timeout > 0 {
		// activeDeadlineSeconds ends the Job on time; this is for a cluster
		// that does not.
		t := time.NewTimer(time.Until(a.start.Add(a.job.Timeout + 30*time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		if res, done := a.observe(ctx); done {
			return res
		}
		select {
		case <-a.wakeup:
		case <-tick.C:
		case <-deadline:
			return a.finish(ctx, exec.Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("timed out after %s", a.job.Timeout)}, true)
		case <-ctx.Done():
			return a.interrupted(ctx, context.Cause(ctx))
		}
	}
}

// observe looks at the Job and its pod and says whether the attempt has
// ended, and how.
func (a *attempt) observe(ctx context.Context) (exec.Result, bool) {
	kj, err := a.e.jobs.Get(a.name)
	if apierrors.IsNotFound(err) || err == nil && kj.UID != a.uid {
		if !a.seen && time.Since(a.start) < time.Minute {
			return exec.Result{}, false // the informer has not caught up with the create
		}
		return a.finish(ctx, exec.Result{ExitCode: -1, Err: fmt.Errorf("Job %s/%s was deleted before it finished", a.e.opts.Namespace, a.name)}, false), true
	}
	if err != nil {
		return exec.Result{}, false
	}
	a.seen = true
	pods := a.pods()
	var pod *corev1.Pod // the one a result speaks of: shard 0's, or the failed one's
	var term *corev1.ContainerStateTerminated
	for _, p := range pods {
		cs := containerStatus(p)
		var t *corev1.ContainerStateTerminated
		if cs != nil {
			t = cs.State.Terminated
		}
		if pod == nil || t != nil && t.ExitCode != 0 && (term == nil || term.ExitCode == 0) {
			pod, term = p, t
		}
		running := p.Status.Phase == corev1.PodRunning || t != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		if running && a.logs[p.Name] == nil {
			if !a.started {
				a.started = true
				a.pendingSince = time.Time{}
				if a.job.Started != nil {
					a.job.Started(0)
				}
			}
			a.logs[p.Name] = a.streamLogs(p.Name, a.shardLog(p))
		}
		if !running {
			if res, done := a.pending(ctx, p, cs); done {
				return res, true
			}
		}
	}
	for _, c := range kj.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			res := exec.Result{}
			if term != nil {
				res.ExitCode = int(term.ExitCode)
				if a.job.OutputsFile != "" {
					res.Outputs = []byte(term.Message)
					if len(term.Message) >= maxTerminationMessage {
						res.ExitCode, res.Err = 1, fmt.Errorf("the task's output values are %d bytes or more, which a pod's termination message cannot hold; write large values to a file", maxTerminationMessage)
					}
				}
			}
			return a.finish(ctx, res, false), true
		case batchv1.JobFailed:
			if c.Reason == batchv1.JobReasonDeadlineExceeded {
				return a.finish(ctx, exec.Result{ExitCode: -1, TimedOut: true, Err: fmt.Errorf("timed out after %s (the Job's activeDeadlineSeconds)", a.job.Timeout)}, false), true
			}
			res := failure(pod, term, c)
			if a.job.Shards > 1 && pod != nil && term != nil {
				res.Err = fmt.Errorf("shard %d of %d: %w", shardIndex(pod), a.job.Shards, res.Err)
			}
			return a.finish(ctx, res, false), true
		}
	}
	return exec.Result{}, false
}

// pending reports why a pod has not started, and fails the attempt when
// it will not.
func (a *attempt) pending(ctx context.Context, pod *corev1.Pod, cs *corev1.ContainerStatus) (exec.Result, bool) {
	msg := ""
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			msg = "unschedulable: " + c.Message
		}
	}
	for i := range pod.Status.InitContainerStatuses {
		if ic := &pod.Status.InitContainerStatuses[i]; ic.State.Waiting != nil && ic.State.Waiting.Reason != "PodInitializing" {
			cs = ic // its image, say, cannot be pulled
		}
	}
	if cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing" {
		w := cs.State.Waiting
		msg = w.Reason
		if w.Message != "" {
			msg += ": " + w.Message
		}
		if fatalWaiting[w.Reason] {
			return a.finish(ctx, exec.Result{ExitCode: -1, Err: fmt.Errorf("the container could not start: image %s: %s", cs.Image, msg)}, true), true
		}
	}
	if msg == "" {
		a.pendingSince = time.Time{}
		return exec.Result{}, false
	}
	if a.pendingSince.IsZero() {
		a.pendingSince = time.Now()
	}
	if msg != a.said {
		a.said = msg
		fmt.Fprintf(a.log, "=== pod %s is pending: %s\n", pod.Name, msg)
		if a.job.Status != nil {
			a.job.Status(msg)
		}
	}
	if time.Since(a.pendingSince) > a.e.opts.PendingTimeout {
		return a.finish(ctx, exec.Result{ExitCode: -1, Err: fmt.Errorf("the pod did not start in %s: %s", a.e.opts.PendingTimeout, msg)}, true), true
	}
	return exec.Result{}, false
}

// failure says why a Job failed, from its pod's container if it ran.
func failure(pod *corev1.Pod, term *corev1.ContainerStateTerminated, c batchv1.JobCondition) exec.Result {
	if term != nil {
		code := int(term.ExitCode)
		switch term.Reason {
		case "OOMKilled":
			limit := ""
			if cs := pod.Spec.Containers[0].Resources.Limits; cs != nil {
				if m, ok := cs[corev1.ResourceMemory]; ok {
					limit = " of " + m.String()
				}
			}
			return exec.Result{ExitCode: code, Err: fmt.Errorf("OOMKilled: the task went over its memory limit%s (exit status %d)", limit, code)}
		case "StartError", "ContainerCannotRun":
			return exec.Result{ExitCode: -1, Err: fmt.Errorf("the container could not start: %s", term.Message)}
		}
		return exec.Result{ExitCode: code, Err: fmt.Errorf("exit status %d", code)}
	}
	if pod != nil {
		for _, ic := range pod.Status.InitContainerStatuses {
			if t := ic.State.Terminated; t != nil && t.ExitCode != 0 {
				return exec.Result{ExitCode: -1, Err: fmt.Errorf("the %s init container failed: exit status %d: %s", ic.Name, t.ExitCode, strings.TrimSpace(t.Message))}
			}
		}
	}
	if pod != nil && pod.Status.Reason != "" {
		return exec.Result{ExitCode: 1, Err: fmt.Errorf("the pod failed: %s: %s", pod.Status.Reason, pod.Status.Message)}
	}
	return exec.Result{ExitCode: 1, Err: fmt.Errorf("the Job failed: %s: %s", c.Reason, c.Message)}
}

// pods are the attempt's Job's pods: the newest one, or of an Indexed Job
// the newest of each index, in index order.
func (a *attempt) pods() []*corev1.Pod {
	pods, err := a.e.pods.List(labels.SelectorFromSet(labels.Set{jobNameLabel: a.name}))
	if err != nil {
		return nil
	}
	newest := map[string]*corev1.Pod{}
	for _, p := range pods {
		for _, o := range p.OwnerReferences {
			if o.UID != a.uid {
				continue
			}
			ix := ""
			if a.job.Shards > 1 {
				ix = p.Annotations[completionIndex]
			}
			if q := newest[ix]; q == nil || p.CreationTimestamp.After(q.CreationTimestamp.Time) {
				newest[ix] = p
			}
		}
	}
	out := make([]*corev1.Pod, 0, len(newest))
	for _, p := range newest {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return shardIndex(out[i]) < shardIndex(out[j]) })
	return out
}

// completionIndex is the annotation of an Indexed Job's pod with its index.
const completionIndex = "batch.kubernetes.io/job-completion-index"

func shardIndex(p *corev1.Pod) int {
	i, err := strconv.Atoi(p.Annotations[completionIndex])
	if err != nil {
		return -1
	}
	return i
}

// shardLog is where pod p's log lines go: the attempt's log, through a
// "[shard I] " prefix for an Indexed Job's pods.
func (a *attempt) shardLog(p *corev1.Pod) io.Writer {
	if a.job.Shards <= 1 {
		return a.log
	}
	return exec.ShardLog(a.log, &a.logLock, shardIndex(p))
}

func containerStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == Container {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// finish reads the rest of the log, deletes the Job (and so its pod and
// Secret) and returns res.
func (a *attempt) finish(ctx context.Context, res exec.Result, stop bool) exec.Result {
	for _, l := range a.logs {
		l.drain(ctx)
	}
	policy := metav1.DeletePropagationBackground
	if stop {
		policy = metav1.DeletePropagationForeground
	}
	a.delete(context.WithoutCancel(ctx), policy)
	res.Duration = time.Since(a.start)
	return res
}

func (a *attempt) delete(ctx context.Context, policy metav1.DeletionPropagation) {
	pre := metav1.Preconditions{UID: &a.uid}
	err := a.e.api.deleteJob(ctx, a.name, &metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &pre})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		a.e.opts.Logger.Warn("delete the attempt's Job; its TTL removes it later", "job", a.name, "err", err)
	}
	// The Job owns the Secret; deleting it here too does not wait for the
	// garbage collector, and covers a Secret whose owner was never set.
	if err := a.e.api.deleteSecret(ctx, a.name); err != nil && !apierrors.IsNotFound(err) {
		a.e.opts.Logger.Warn("delete the attempt's Secret", "secret", a.name, "err", err)
	}
}

// interrupted ends an attempt whose context is done: cancelled on purpose,
// its Job is deleted (pods first) and waited for; otherwise this process
// is going away and the Job is left running, to be attached to again.
func (a *attempt) interrupted(ctx context.Context, cause error) exec.Result {
	bg := context.WithoutCancel(ctx)
	res := exec.Result{ExitCode: -1, Canceled: true, Err: errors.New("cancelled")}
	if a.uid == "" { // no Job made yet
		res.Duration = time.Since(a.start)
		return res
	}
	if !errors.Is(cause, exec.ErrCancelled) {
		for _, l := range a.logs {
			l.stop()
		}
		fmt.Fprintf(a.log, "=== left Kubernetes Job %s/%s running: this server stopped watching it\n", a.e.opts.Namespace, a.name)
		res.Err = exec.ErrDetached
		res.Duration = time.Since(a.start)
		return res
	}
	a.delete(bg, metav1.DeletePropagationForeground)
	grace := time.NewTimer(a.e.opts.CancelGrace)
	defer grace.Stop()
	for {
		if _, err := a.e.jobs.Get(a.name); apierrors.IsNotFound(err) {
			break
		}
		select {
		case <-a.wakeup:
			continue
		case <-time.After(time.Second):
			continue
		case <-grace.C:
		}
		break
	}
	for _, l := range a.logs {
		l.stop()
	}
	res.Duration = time.Since(a.start)
	return res
}

// logStream copies a pod's log into the attempt's log as it is written,
// reconnecting (from the last line's time) when the connection drops.
type logStream struct {
	a      *attempt
	pod    string
	w      io.Writer
	cancel context.CancelFunc
	done   chan struct{}
	last   time.Time // of the last line copied; read after done
}

func (l *logStream) stop() { l.cancel(); <-l.done }

// drain stops following the log of a pod that has ended and reads what is
// left of it in one request: a kubelet ends a follow when the container
// exits, but not every node does, and the lines are complete by now.
func (l *logStream) drain(ctx context.Context) {
	l.stop()
	opts := &corev1.PodLogOptions{Container: Container, Timestamps: true}
	if !l.last.IsZero() {
		opts.SinceTime = &metav1.Time{Time: l.last}
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rc, err := l.a.e.api.podLogs(rctx, l.pod, opts)
	if err == nil {
		_, err = copyLog(rc, l.w, l.last)
		rc.Close()
	}
	if err != nil {
		fmt.Fprintf(l.a.log, "=== could not read the end of pod %s's log: %v\n", l.pod, err)
	}
}

func (a *attempt) streamLogs(pod string, w io.Writer) *logStream {
	ctx, cancel := context.WithCancel(context.Background())
	l := &logStream{a: a, pod: pod, w: w, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for tries := 0; ; tries++ {
			opts := &corev1.PodLogOptions{Container: Container, Follow: true, Timestamps: true}
			if !l.last.IsZero() {
				opts.SinceTime = &metav1.Time{Time: l.last}
			}
			rc, err := a.e.api.podLogs(ctx, pod, opts)
			if err == nil {
				l.last, err = copyLog(rc, w, l.last)
				rc.Close()
			}
			if ctx.Err() != nil || err == nil {
				return // the end of the log, or stopped to be drained
			}
			if tries >= 5 {
				fmt.Fprintf(a.log, "=== could not follow pod %s's log: %v\n", pod, err)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(tries+1) * 500 * time.Millisecond):
			}
		}
	}()
	return l
}

// copyLog writes the lines of a timestamped pod log to w without their
// timestamps, skipping lines not after since (already written before a
// reconnect), and returns the time of the last line.
func copyLog(r io.Reader, w io.Writer, since time.Time) (time.Time, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	last, midLine, skip := since, false, false
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			first := !midLine
			midLine = line[len(line)-1] != '\n'
			if first {
				skip = false
				if ts, rest, ok := bytes.Cut(line, []byte(" ")); ok {
					if t, perr := time.Parse(time.RFC3339Nano, string(ts)); perr == nil {
						if t.After(since) {
							last, line = t, rest
						} else {
							skip = true
						}
					}
				}
			}
			if !skip {
				if _, werr := w.Write(line); werr != nil {
					return last, werr
				}
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return last, nil
		case err != nil:
			return last, err
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}
