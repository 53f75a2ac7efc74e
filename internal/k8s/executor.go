package k8s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/cairn-mlops/cairn/internal/exec"
)

// Labels and annotations on every Job, pod and Secret the executor makes.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "cairn"
	LabelRun       = exec.LabelRun
	LabelTask      = exec.LabelTask
	LabelAttempt   = exec.LabelAttempt
	// AnnotationName holds the attempt's full name (exec.Job.Name), which
	// the Job's name is a hash of.
	AnnotationName = "cairn.dev/name"
	// Container is the name of the container that runs the attempt, and
	// InitContainer of the one that runs its exec.Job.Init.
	Container     = "task"
	InitContainer = "tools"
	jobNameLabel  = "batch.kubernetes.io/job-name"
)

// GPUResource is the extended resource a task's GPUs are asked for as.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// Options configure the executor.
type Options struct {
	Namespace string // default "default"
	// Image runs attempts whose job names none (the steps, and run:
	// commands without an image of their own).
	Image      string
	PullPolicy corev1.PullPolicy // default IfNotPresent
	// PendingTimeout is how long a pod may stay unschedulable, or wait for
	// its container to be created, before the attempt fails. Default 10 min.
	PendingTimeout time.Duration
	// TTLAfterFinished is how long Kubernetes keeps a finished Job that the
	// executor did not delete itself (it deletes each Job once it has seen
	// the end and read the log). Default 1 h.
	TTLAfterFinished time.Duration
	// CancelGrace is how long a cancelled attempt's Job gets to go before
	// Execute returns anyway. Default 30 s.
	CancelGrace time.Duration
	// PodLabels and PodAnnotations go on every task pod (a service mesh's
	// opt-out, a cost-allocation label, ...).
	PodLabels      map[string]string
	PodAnnotations map[string]string
	Logger         *slog.Logger
}

func (o *Options) defaults() {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.PullPolicy == "" {
		o.PullPolicy = corev1.PullIfNotPresent
	}
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = 10 * time.Minute
	}
	if o.TTLAfterFinished <= 0 {
		o.TTLAfterFinished = time.Hour
	}
	if o.CancelGrace <= 0 {
		o.CancelGrace = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Executor runs attempts as Jobs in one namespace.
type Executor struct {
	api  *api
	opts Options

	startOnce sync.Once
	startErr  error
	stop      chan struct{}
	jobs      batchlisters.JobNamespaceLister
	pods      corelisters.PodNamespaceLister
	quotas    corelisters.ResourceQuotaNamespaceLister

	mu       sync.Mutex
	waiters  map[string]map[chan struct{}]bool // Job name -> wake-ups
	quotaCh  chan struct{}                     // closed and replaced on each quota change
	reserved map[string]corev1.ResourceList    // Jobs created whose pod is not counted by a quota yet
}

// New returns an executor of the cluster cfg reaches; its informers start
// with the first attempt.
func New(cfg *rest.Config, opts Options) (*Executor, error) {
	opts.defaults()
	if opts.Image == "" {
		return nil, errors.New("kubernetes executor: no image for the tasks")
	}
	a, err := newAPI(cfg, opts.Namespace)
	if err != nil {
		return nil, fmt.Errorf("kubernetes executor: %w", err)
	}
	return &Executor{api: a, opts: opts, stop: make(chan struct{}),
		waiters: map[string]map[chan struct{}]bool{}, quotaCh: make(chan struct{}), reserved: map[string]corev1.ResourceList{}}, nil
}

// Close stops the informers.
func (e *Executor) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
}

// start runs the Job, pod and ResourceQuota informers of the namespace and
// waits for their first listing.
func (e *Executor) start(ctx context.Context) error {
	e.startOnce.Do(func() {
		ns := e.opts.Namespace
		informer := func(rc rest.Interface, resource string, obj runtime.Object, selector string) cache.SharedIndexInformer {
			lw := cache.NewFilteredListWatchFromClient(rc, resource, ns, func(o *metav1.ListOptions) { o.LabelSelector = selector })
			return cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		}
		managed := LabelManagedBy + "=" + ManagedBy
		ji := informer(e.api.batch, "jobs", &batchv1.Job{}, managed)
		pi := informer(e.api.core, "pods", &corev1.Pod{}, managed)
		qi := informer(e.api.core, "resourcequotas", &corev1.ResourceQuota{}, "")
		e.jobs = batchlisters.NewJobLister(ji.GetIndexer()).Jobs(ns)
		e.pods = corelisters.NewPodLister(pi.GetIndexer()).Pods(ns)
		e.quotas = corelisters.NewResourceQuotaLister(qi.GetIndexer()).ResourceQuotas(ns)
		onJob := func(obj any) {
			if m, ok := meta(obj); ok {
				e.wake(m.GetName())
			}
		}
		onPod := func(obj any) {
			if m, ok := meta(obj); ok {
				if name := m.GetLabels()[jobNameLabel]; name != "" {
					e.podSeen(name)
					e.wake(name)
				}
			}
		}
		onQuota := func(any) { e.quotaChanged() }
		handler := func(f func(any)) cache.ResourceEventHandlerFuncs {
			return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(_, n any) { f(n) }, DeleteFunc: f}
		}
		for _, reg := range []struct {
			inf cache.SharedIndexInformer
			f   func(any)
		}{{ji, onJob}, {pi, onPod}, {qi, onQuota}} {
			if _, err := reg.inf.AddEventHandler(handler(reg.f)); err != nil {
				e.startErr = err
				return
			}
		}
		for _, inf := range []cache.SharedIndexInformer{ji, pi, qi} {
			go inf.Run(e.stop)
		}
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if !cache.WaitForCacheSync(sctx.Done(), ji.HasSynced, pi.HasSynced, qi.HasSynced) {
			e.startErr = fmt.Errorf("kubernetes executor: could not list Jobs, pods and ResourceQuotas in namespace %q (is the cluster reachable, and may this server list them?)", e.opts.Namespace)
		}
	})
	return e.startErr
}

func meta(obj any) (metav1.Object, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	return m, ok
}

func (e *Executor) subscribe(name string) chan struct{} {
	ch := make(chan struct{}, 1)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiters[name] == nil {
		e.waiters[name] = map[chan struct{}]bool{}
	}
	e.waiters[name][ch] = true
	return ch
}

func (e *Executor) unsubscribe(name string, ch chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.waiters[name], ch)
	if len(e.waiters[name]) == 0 {
		delete(e.waiters, name)
	}
	delete(e.reserved, name)
}

func (e *Executor) wake(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.waiters[name] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (e *Executor) podSeen(job string) {
	e.mu.Lock()
	_, ok := e.reserved[job]
	delete(e.reserved, job)
	e.mu.Unlock()
	if ok {
		e.quotaChanged()
	}
}

func (e *Executor) quotaChanged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.quotaCh)
	e.quotaCh = make(chan struct{})
}

// JobName is the name of the Job that runs the attempt called name: a
// readable prefix and a hash of the whole, so it is the same after a
// restart and fits Kubernetes' 63 characters.
func JobName(name string, lbl map[string]string) string {
	sum := sha256.Sum256([]byte(name))
	prefix := "cairn-" + notName.ReplaceAllString(strings.ToLower(lbl[LabelTask]), "-")
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	return strings.TrimRight(prefix, "-") + "-" + hex.EncodeToString(sum[:])[:12]
}

var (
	notLabel = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	notName  = regexp.MustCompile(`[^a-z0-9]+`)
)

// labelValue makes s a valid label value: the characters Kubernetes
// allows, alphanumeric at both ends, at most 63 long.
func labelValue(s string) string {
	s = notLabel.ReplaceAllString(s, "-")
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(s, "-._")
}

// Execute implements exec.Executor.
func (e *Executor) Execute(ctx context.Context, job *exec.Job) exec.Result {
	start := time.Now()
	fail := func(err error) exec.Result {
		return exec.Result{ExitCode: -1, Err: err, Duration: time.Since(start)}
	}
	if len(job.Args) == 0 {
		return fail(errors.New("no command"))
	}
	if err := e.start(ctx); err != nil {
		return fail(err)
	}
	if job.Name == "" {
		job.Name = fmt.Sprintf("adhoc/%d", time.Now().UnixNano())
	}
	lbl := map[string]string{LabelManagedBy: ManagedBy}
	for k, v := range job.Labels {
		lbl[k] = labelValue(v)
	}
	name := JobName(job.Name, job.Labels)
	a := &attempt{e: e, job: job, name: name, log: &lockedWriter{w: job.Log}, start: start, logs: map[string]*logStream{}}
	a.wakeup = e.subscribe(name)
	defer e.unsubscribe(name, a.wakeup)

	existing, err := e.api.getJob(ctx, name)
	switch {
	case err == nil && existing.Annotations[AnnotationName] == job.Name:
		a.uid = existing.UID
		fmt.Fprintf(a.log, "=== attached to Kubernetes Job %s/%s, which outlived the last server\n", e.opts.Namespace, name)
	case err == nil:
		return fail(fmt.Errorf("a Job named %s in namespace %s is not this attempt's (annotation %s is %q)",
			name, e.opts.Namespace, AnnotationName, existing.Annotations[AnnotationName]))
	case apierrors.IsNotFound(err):
		kj, secret, err := e.build(job, name, lbl)
		if err != nil {
			return fail(err)
		}
		need := podResources(&kj.Spec.Template.Spec)
		if job.Shards > 1 { // every shard's pod runs at once
			for r, q := range need {
				q.Mul(int64(job.Shards))
				need[r] = q
			}
		}
		if err := e.admit(ctx, job, name, need); err != nil {
			if ctx.Err() != nil {
				return a.interrupted(ctx, context.Cause(ctx))
			}
			return fail(err)
		}
		if a.uid, err = e.create(ctx, kj, secret); err != nil {
			e.mu.Lock()
			delete(e.reserved, name)
			e.mu.Unlock()
			if ctx.Err() != nil {
				return a.interrupted(ctx, context.Cause(ctx))
			}
			return fail(err)
		}
		fmt.Fprintf(a.log, "=== Kubernetes Job %s/%s, image %s\n", e.opts.Namespace, name, kj.Spec.Template.Spec.Containers[0].Image)
	default:
		if ctx.Err() != nil {
			return a.interrupted(ctx, context.Cause(ctx))
		}
		return fail(fmt.Errorf("look for Job %s in namespace %s: %w", name, e.opts.Namespace, err))
	}
	return a.watch(ctx)
}

// build makes the Job (and the Secret of its credentials, if any).
func (e *Executor) build(job *exec.Job, name string, lbl map[string]string) (*batchv1.Job, *corev1.Secret, error) {
	secretNames := map[string]bool{}
	for _, k := range job.SecretEnv {
		secretNames[k] = true
	}
	var env []corev1.EnvVar
	var secret *corev1.Secret
	for _, kv := range job.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if !secretNames[k] {
			env = append(env, corev1.EnvVar{Name: k, Value: v})
			continue
		}
		if secret == nil {
			secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace, Labels: lbl,
				Annotations: map[string]string{AnnotationName: job.Name}}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
		}
		secret.Data[k] = []byte(v)
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: k}}})
	}
	res, err := resources(job.Resources)
	if err != nil {
		return nil, nil, err
	}
	image := job.Image
	if image == "" {
		image = e.opts.Image
	}
	tolerations := make([]corev1.Toleration, 0, len(job.Placement.Tolerations))
	for _, t := range job.Placement.Tolerations {
		tolerations = append(tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator),
			Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	// A task reaches the Kubernetes API only through a service account
	// someone chose for it.
	automount := job.Placement.ServiceAccount != ""
	pod := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		ServiceAccountName:            job.Placement.ServiceAccount,
		AutomountServiceAccountToken:  &automount,
		EnableServiceLinks:            ptr(false),
		NodeSelector:                  job.Placement.NodeSelector,
		Tolerations:                   tolerations,
		TerminationGracePeriodSeconds: ptr(int64(10)),
		Containers: []corev1.Container{{
			Name: Container, Image: image, ImagePullPolicy: e.opts.PullPolicy,
			Command: job.Args, Env: env, Resources: res,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}},
	}
	if job.OutputsFile != "" {
		// The attempt's output values come back as the container's
		// termination message, which the kubelet reads from this file.
		pod.Containers[0].TerminationMessagePath = job.OutputsFile
	}
	for i, dir := range job.Scratch {
		vol := fmt.Sprintf("scratch-%d", i)
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: dir})
	}
	if len(job.Init) > 0 {
		pod.InitContainers = []corev1.Container{{Name: InitContainer, Image: e.opts.Image, ImagePullPolicy: e.opts.PullPolicy,
			Command: job.Init, Resources: res, VolumeMounts: pod.Containers[0].VolumeMounts}}
	}
	podLabels, podAnnotations := map[string]string{}, map[string]string{}
	for k, v := range e.opts.PodLabels {
		podLabels[k] = v
	}
	for k, v := range lbl {
		podLabels[k] = v
	}
	for k, v := range e.opts.PodAnnotations {
		podAnnotations[k] = v
	}
	podAnnotations[AnnotationName] = job.Name
	kj := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.opts.Namespace, Labels: lbl, Annotations: map[string]string{AnnotationName: job.Name}},
		Spec: batchv1.JobSpec{
			BackoffLimit:            ptr(int32(0)),
			TTLSecondsAfterFinished: ptr(int32(e.opts.TTLAfterFinished / time.Second)),
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations}, Spec: pod},
		},
	}
	if n := int32(job.Shards); n > 1 {
		// Each pod gets its index in JOB_COMPLETION_INDEX from the Job
		// controller; one failed shard fails the Job (backoffLimit 0).
		kj.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
		kj.Spec.Completions, kj.Spec.Parallelism = ptr(n), ptr(n)
	}
	if job.Timeout > 0 {
		kj.Spec.ActiveDeadlineSeconds = ptr(int64(math.Ceil(job.Timeout.Seconds())))
	}
	return kj, secret, nil
}

func ptr[T any](v T) *T { return &v }

// resources turns a task's needs into requests equal to limits, so a task
// gets what it asked for and a memory limit it can be OOMKilled at.
func resources(r exec.Resources) (corev1.ResourceRequirements, error) {
	list := corev1.ResourceList{}
	if r.CPU < 0 || r.Memory < 0 || r.GPU < 0 {
		return corev1.ResourceRequirements{}, fmt.Errorf("resources: negative value (cpu %g, memory %d, gpu %d)", r.CPU, r.Memory, r.GPU)
	}
	if r.CPU > 0 {
		list[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Ceil(r.CPU*1000)), resource.DecimalSI)
	}
	if r.Memory > 0 {
		list[corev1.ResourceMemory] = *resource.NewQuantity(r.Memory, resource.BinarySI)
	}
	if r.GPU > 0 {
		list[GPUResource] = *resource.NewQuantity(int64(r.GPU), resource.DecimalSI)
	}
	if len(list) == 0 {
		return corev1.ResourceRequirements{}, nil
	}
	return corev1.ResourceRequirements{Requests: list, Limits: list.DeepCopy()}, nil
}

// create makes the Secret, then the Job, then gives the Secret to the Job
// so that deleting the Job (or its TTL) deletes the credential too.
func (e *Executor) create(ctx context.Context, kj *batchv1.Job, secret *corev1.Secret) (types.UID, error) {
	ns := e.opts.Namespace
	if secret != nil {
		if err := e.api.createSecret(ctx, secret); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return "", fmt.Errorf("create Secret %s/%s: %w", ns, secret.Name, err)
			}
			if err := e.api.updateSecret(ctx, secret); err != nil {
				return "", fmt.Errorf("update Secret %s/%s: %w", ns, secret.Name, err)
			}
		}
	}
	created, err := e.api.createJob(ctx, kj)
	if err != nil {
		if secret != nil {
			_ = e.api.deleteSecret(context.WithoutCancel(ctx), secret.Name)
		}
		return "", fmt.Errorf("create Job %s/%s: %w", ns, kj.Name, err)
	}
	if secret != nil {
		s, err := e.api.getSecret(ctx, secret.Name)
		if err == nil {
			s.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: created.Name, UID: created.UID}}
			err = e.api.updateSecret(ctx, s)
		}
		if err != nil {
			e.opts.Logger.Warn("could not give the attempt's Secret to its Job; it is deleted with the attempt instead", "secret", secret.Name, "err", err)
		}
	}
	return created.UID, nil
}

// admit waits until the Job's pod fits under every ResourceQuota of the
// namespace, counting pods of Jobs this executor created that the quota
// does not count yet, so that concurrent attempts queue here instead of
// failing at the API. A pod larger than a quota's hard limit fails at once.
func (e *Executor) admit(ctx context.Context, job *exec.Job, name string, need corev1.ResourceList) error {
	said := ""
	for {
		e.mu.Lock()
		ch := e.quotaCh
		quotas, err := e.quotas.List(labels.Everything())
		if err != nil {
			e.mu.Unlock()
			return err
		}
		own := e.ownUsage()
		var waitFor string
		for _, q := range quotas {
			for r, hard := range q.Status.Hard {
				want, ok := need[r]
				if !ok {
					continue
				}
				if want.Cmp(hard) > 0 {
					e.mu.Unlock()
					return &tooBig{quota: q.Name, resource: string(r), want: want.String(), hard: hard.String()}
				}
				// The quota controller recomputes Used from its own cache,
				// which can briefly miss pods just admitted: never count
				// less than this executor's own live pods.
				used := q.Status.Used[r].DeepCopy()
				if o, ok := own[r]; ok && o.Cmp(used) > 0 {
					used = o.DeepCopy()
				}
				for _, rl := range e.reserved {
					if v, ok := rl[r]; ok {
						used.Add(v)
					}
				}
				used.Add(want)
				if used.Cmp(hard) > 0 && waitFor == "" {
					u := q.Status.Used[r]
					waitFor = fmt.Sprintf("waiting for room under ResourceQuota %s: %s %s used of %s, this task needs %s", q.Name, r, u.String(), hard.String(), want.String())
				}
			}
		}
		if waitFor == "" {
			e.reserved[name] = need
			e.mu.Unlock()
			return nil
		}
		e.mu.Unlock()
		if waitFor != said && job.Status != nil {
			job.Status(waitFor)
		}
		said = waitFor
		select {
		case <-ch:
		case <-time.After(30 * time.Second): // the quota's status may change without an event we see
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ownUsage is what this executor's pods that have not ended count against
// a quota, from the pod informer.
func (e *Executor) ownUsage() corev1.ResourceList {
	total := corev1.ResourceList{}
	pods, err := e.pods.List(labels.Everything())
	if err != nil {
		return total
	}
	for _, p := range pods {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || len(p.Spec.Containers) == 0 {
			continue
		}
		for r, q := range podResources(&p.Spec) {
			v := total[r]
			v.Add(q)
			total[r] = v
		}
	}
	return total
}

type tooBig struct{ quota, resource, want, hard string }

func (t *tooBig) Error() string {
	return fmt.Sprintf("the task needs %s %s, more than ResourceQuota %s allows at all (%s)", t.resource, t.want, t.quota, t.hard)
}

// podResources is what one pod of the Job counts against a quota.
func podResources(spec *corev1.PodSpec) corev1.ResourceList {
	out := corev1.ResourceList{"pods": resource.MustParse("1"), "count/pods": resource.MustParse("1")}
	c := spec.Containers[0]
	for r, q := range c.Resources.Requests {
		out["requests."+r] = q
		if r == corev1.ResourceCPU || r == corev1.ResourceMemory {
			out[r] = q
		}
	}
	for r, q := range c.Resources.Limits {
		out["limits."+r] = q
	}
	return out
}
