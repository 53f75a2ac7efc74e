package k8s_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/k8s/k8stest"
)

// env is one namespace of the shared test cluster, with an executor in it.
type env struct {
	t  *testing.T
	c  *k8stest.Cluster
	ns string
}

var nsSeq atomic.Int64

func newEnv(t *testing.T, c *k8stest.Cluster) *env {
	ns := fmt.Sprintf("t%d", nsSeq.Add(1))
	_, err := c.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return &env{t: t, c: c, ns: ns}
}

func (v *env) executor(opts k8s.Options) *k8s.Executor {
	opts.Namespace = v.ns
	if opts.Image == "" {
		opts.Image = "cairn:test"
	}
	x, err := k8s.New(v.c.Config, opts)
	require.NoError(v.t, err)
	v.t.Cleanup(x.Close)
	return x
}

// job is an attempt named after the test, with its log in a buffer.
func (v *env) job(args ...string) (*exec.Job, *syncBuffer) {
	log := &syncBuffer{}
	return &exec.Job{Args: args, Log: log, Name: v.ns + "/" + v.t.Name() + "/1",
		Labels: map[string]string{k8s.LabelRun: v.ns, k8s.LabelTask: "train[0]", k8s.LabelAttempt: "1"}}, log
}

func (v *env) jobs() int {
	l, err := v.c.Client.BatchV1().Jobs(v.ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(v.t, err)
	return len(l.Items)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestExecutor(t *testing.T) {
	c := k8stest.Start(t)

	t.Run("RunsAJob", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, log := v.job("cairn", "step", "exec", "data.images")
		job.Env = []string{k8stest.RunForEnv + "=2s", "MLFLOW_TRACKING_TOKEN=s3cret", "BROKEN", k8stest.OutputsEnv + "=accuracy=0.9\n"}
		job.Scratch, job.OutputsFile = []string{"/cairn/in", "/cairn/out"}, "/dev/termination-log"
		job.SecretEnv = []string{"MLFLOW_TRACKING_TOKEN"}
		job.Timeout = 90 * time.Second
		job.Resources = exec.Resources{CPU: 0.5, Memory: 64 << 20}
		job.Placement = exec.Placement{NodeSelector: map[string]string{"type": "kwok"},
			Tolerations: []exec.Toleration{{Key: "dedicated", Operator: "Equal", Value: "ml", Effect: "NoSchedule"}}}
		var started atomic.Int32
		var checked error
		job.Started = func(pid int) {
			started.Add(1)
			checked = v.checkRunning(job)
		}
		res := x.Execute(context.Background(), job)
		require.NoError(t, res.Err, log.String())
		require.Equal(t, 0, res.ExitCode)
		require.Equal(t, "accuracy=0.9\n", string(res.Outputs), "the termination message")
		require.EqualValues(t, 1, started.Load())
		require.NoError(t, checked)
		require.Contains(t, log.String(), "=== Kubernetes Job "+v.ns+"/cairn-train-0-")
		require.Contains(t, log.String(), k8stest.LogLine+"\n", "the pod's log is copied without its timestamps")
		require.NotContains(t, log.String(), "2026-01-01T00:00:00")
		// The Job and its Secret are gone once the attempt has ended.
		require.Eventually(t, func() bool { return v.jobs() == 0 }, 10*time.Second, 100*time.Millisecond)
		_, err := c.Client.CoreV1().Secrets(v.ns).Get(context.Background(), k8s.JobName(job.Name, job.Labels), metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err), "secret: %v", err)
	})

	t.Run("IndexedJobForShards", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, log := v.job("cairn", "step", "exec", "data.images")
		job.Env = []string{k8stest.RunForEnv + "=1s"}
		job.Shards = 3
		var kj *batchv1.Job
		job.Started = func(int) {
			kj, _ = c.Client.BatchV1().Jobs(v.ns).Get(context.Background(), k8s.JobName(job.Name, job.Labels), metav1.GetOptions{})
		}
		res := x.Execute(context.Background(), job)
		require.NoError(t, res.Err, log.String())
		require.NotNil(t, kj)
		require.Equal(t, batchv1.IndexedCompletion, *kj.Spec.CompletionMode)
		require.EqualValues(t, 3, *kj.Spec.Completions)
		require.EqualValues(t, 3, *kj.Spec.Parallelism, "every shard at once")
		require.EqualValues(t, 0, *kj.Spec.BackoffLimit)
		for i := range 3 {
			require.Contains(t, log.String(), fmt.Sprintf("[shard %d] %s\n", i, k8stest.LogLine), "each shard's log, prefixed")
		}
	})

	t.Run("AFailedShardFailsTheAttempt", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, log := v.job("cairn", "step", "exec", "data.images")
		job.Env = []string{k8stest.RunForEnv + "=60s", k8stest.FailShardEnv + "=1"}
		job.Shards = 3
		start := time.Now()
		res := x.Execute(context.Background(), job)
		require.EqualError(t, res.Err, "shard 1 of 3: exit status 3", log.String())
		require.Equal(t, 3, res.ExitCode)
		require.Less(t, time.Since(start), 45*time.Second, "the other shards do not run out their minute")
	})

	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, log := v.job("false")
		job.Env = []string{k8stest.ExitCodeEnv + "=3"}
		res := x.Execute(context.Background(), job)
		require.Equal(t, 3, res.ExitCode, log.String())
		require.EqualError(t, res.Err, "exit status 3")
	})

	t.Run("OutputsTooLarge", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, _ := v.job("train")
		job.Env = []string{k8stest.OutputsEnv + "=v=" + strings.Repeat("x", 4094)}
		job.OutputsFile = "/dev/termination-log"
		res := x.Execute(context.Background(), job)
		require.Equal(t, 1, res.ExitCode)
		require.ErrorContains(t, res.Err, "output values are 4096 bytes or more")
	})

	t.Run("OOMKilled", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{PodLabels: map[string]string{k8stest.FailLabel: "true"},
			PodAnnotations: map[string]string{k8stest.FailExitCode: "137", k8stest.FailLabel + "/reason": "OOMKilled",
				k8stest.FailLabel + "/delay": "0s", k8stest.FailLabel + "/jitter-delay": "0s"}})
		job, _ := v.job("train")
		job.Resources.Memory = 64 << 20
		res := x.Execute(context.Background(), job)
		require.Equal(t, 137, res.ExitCode)
		require.EqualError(t, res.Err, "OOMKilled: the task went over its memory limit of 64Mi (exit status 137)")
	})

	t.Run("Timeout", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, _ := v.job("sleep", "60")
		job.Env = []string{k8stest.RunForEnv + "=60s"}
		job.Timeout = 2 * time.Second
		start := time.Now()
		res := x.Execute(context.Background(), job)
		require.True(t, res.TimedOut, "%+v", res)
		require.ErrorContains(t, res.Err, "timed out after 2s")
		require.Less(t, time.Since(start), 30*time.Second)
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, _ := v.job("sleep", "60")
		job.Env = []string{k8stest.RunForEnv + "=60s"}
		ctx, cancel := context.WithCancelCause(context.Background())
		job.Started = func(int) { go func() { time.Sleep(200 * time.Millisecond); cancel(exec.ErrCancelled) }() }
		start := time.Now()
		res := x.Execute(ctx, job)
		require.True(t, res.Canceled, "%+v", res)
		require.EqualError(t, res.Err, "cancelled")
		require.Less(t, time.Since(start), 30*time.Second)
		require.Equal(t, 0, v.jobs(), "a cancelled attempt's Job is deleted before Execute returns")
	})

	t.Run("ReattachAfterRestart", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		opts := k8s.Options{}
		first := v.executor(opts)
		job, log := v.job("train")
		job.Env = []string{k8stest.RunForEnv + "=4s"}
		ctx, stop := context.WithCancel(context.Background())
		job.Started = func(int) { stop() } // this server goes away while the pod runs
		res := first.Execute(ctx, job)
		require.True(t, res.Canceled)
		require.ErrorIs(t, res.Err, exec.ErrDetached)
		kj, err := c.Client.BatchV1().Jobs(v.ns).Get(context.Background(), k8s.JobName(job.Name, job.Labels), metav1.GetOptions{})
		require.NoError(t, err, "the Job runs on without the server")
		first.Close()

		second := v.executor(opts) // the restarted server
		job.Started = nil
		res = second.Execute(context.Background(), job)
		require.NoError(t, res.Err, log.String())
		require.Contains(t, log.String(), "=== attached to Kubernetes Job "+v.ns+"/"+kj.Name)
		require.Equal(t, 1, strings.Count(log.String(), "=== Kubernetes Job "), "one Job, created once")
		require.Contains(t, log.String(), k8stest.LogLine)
	})

	t.Run("AttachRefusesAnotherAttemptsJob", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, _ := v.job("train")
		_, err := c.Client.BatchV1().Jobs(v.ns).Create(context.Background(), otherJob(k8s.JobName(job.Name, job.Labels)), metav1.CreateOptions{})
		require.NoError(t, err)
		res := x.Execute(context.Background(), job)
		require.Equal(t, -1, res.ExitCode)
		require.ErrorContains(t, res.Err, "is not this attempt's")
	})

	t.Run("Unschedulable", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{PendingTimeout: 3 * time.Second})
		job, log := v.job("train")
		job.Placement.NodeSelector = map[string]string{"accelerator": "a100"}
		var said []string
		var mu sync.Mutex
		job.Status = func(msg string) { mu.Lock(); said = append(said, msg); mu.Unlock() }
		res := x.Execute(context.Background(), job)
		require.Equal(t, -1, res.ExitCode)
		require.ErrorContains(t, res.Err, "the pod did not start in 3s: unschedulable: 0/1 nodes are available")
		require.ErrorContains(t, res.Err, "node affinity/selector")
		mu.Lock()
		require.NotEmpty(t, said)
		require.Contains(t, said[0], "unschedulable")
		mu.Unlock()
		require.Contains(t, log.String(), "is pending: unschedulable")
		require.Eventually(t, func() bool { return v.jobs() == 0 }, 10*time.Second, 100*time.Millisecond)
	})

	t.Run("ImagePullBackOff", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{PodLabels: map[string]string{k8stest.ImagePullLabel: "true"}})
		job, _ := v.job("python", "train.py")
		job.Image = "registry.example.com/team/trainer:missing"
		res := x.Execute(context.Background(), job)
		require.Equal(t, -1, res.ExitCode)
		require.EqualError(t, res.Err, `the container could not start: image registry.example.com/team/trainer:missing: ImagePullBackOff: Back-off pulling image "registry.example.com/team/trainer:missing"`)
	})

	t.Run("DeletedFromOutside", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		x := v.executor(k8s.Options{})
		job, _ := v.job("train")
		job.Env = []string{k8stest.RunForEnv + "=60s"}
		job.Started = func(int) {
			go func() {
				_ = c.Client.BatchV1().Jobs(v.ns).Delete(context.Background(), k8s.JobName(job.Name, job.Labels), metav1.DeleteOptions{})
			}()
		}
		res := x.Execute(context.Background(), job)
		require.ErrorContains(t, res.Err, "was deleted before it finished")
	})

	t.Run("ResourceQuota", func(t *testing.T) {
		t.Parallel()
		v := newEnv(t, c)
		_, err := c.Client.CoreV1().ResourceQuotas(v.ns).Create(context.Background(), &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "team"},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"pods": resource.MustParse("2"), "requests.cpu": resource.MustParse("4")}},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			q, err := c.Client.CoreV1().ResourceQuotas(v.ns).Get(context.Background(), "team", metav1.GetOptions{})
			return err == nil && len(q.Status.Hard) > 0
		}, 20*time.Second, 100*time.Millisecond, "the quota controller fills in the quota's status")
		x := v.executor(k8s.Options{})

		var most atomic.Int32
		var waited atomic.Bool
		watching, stopWatching := context.WithCancel(context.Background())
		watched := make(chan struct{})
		go func() { // the most pods not yet finished at any time
			defer close(watched)
			for watching.Err() == nil {
				pods, err := c.Client.CoreV1().Pods(v.ns).List(watching, metav1.ListOptions{})
				if err == nil {
					n := int32(0)
					for _, p := range pods.Items {
						if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
							n++
						}
					}
					if n > most.Load() {
						most.Store(n)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		var wg sync.WaitGroup
		results := make([]exec.Result, 5)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				job, _ := v.job("train")
				job.Name = fmt.Sprintf("%s/%d", job.Name, i)
				job.Resources.CPU = 1
				job.Env = []string{k8stest.RunForEnv + "=1500ms"}
				job.Status = func(msg string) {
					if strings.HasPrefix(msg, "waiting for room under ResourceQuota team: pods 2 used of 2") {
						waited.Store(true)
					}
				}
				results[i] = x.Execute(context.Background(), job)
			}()
		}
		wg.Wait()
		stopWatching()
		<-watched
		for i, r := range results {
			require.NoError(t, r.Err, "attempt %d", i)
		}
		require.LessOrEqual(t, most.Load(), int32(2), "never more pods than the quota allows")
		require.True(t, waited.Load(), "the attempts past the quota said what they waited for")

		job, _ := v.job("train")
		job.Name += "/big"
		job.Resources.CPU = 8
		res := x.Execute(context.Background(), job)
		require.Equal(t, -1, res.ExitCode)
		require.EqualError(t, res.Err, "the task needs requests.cpu 8, more than ResourceQuota team allows at all (4)")
	})
}

// checkRunning looks at the running attempt's Job, pod and Secret.
func (v *env) checkRunning(job *exec.Job) error {
	ctx := context.Background()
	name := k8s.JobName(job.Name, job.Labels)
	kj, err := v.c.Client.BatchV1().Jobs(v.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	sp := kj.Spec
	pod := sp.Template.Spec
	ctr := pod.Containers[0]
	checks := []struct {
		what string
		ok   bool
	}{
		{"backoffLimit 0", sp.BackoffLimit != nil && *sp.BackoffLimit == 0},
		{"activeDeadlineSeconds 90", sp.ActiveDeadlineSeconds != nil && *sp.ActiveDeadlineSeconds == 90},
		{"labels", kj.Labels[k8s.LabelRun] == v.ns && kj.Labels[k8s.LabelTask] == "train-0" && kj.Labels[k8s.LabelAttempt] == "1" &&
			pod.RestartPolicy == corev1.RestartPolicyNever},
		{"annotation", kj.Annotations[k8s.AnnotationName] == job.Name},
		{"image and command", ctr.Image == "cairn:test" && strings.Join(ctr.Command, " ") == "cairn step exec data.images"},
		{"cpu", ctr.Resources.Requests.Cpu().String() == "500m" && ctr.Resources.Limits.Cpu().String() == "500m"},
		{"memory", ctr.Resources.Limits.Memory().String() == "64Mi"},
		{"node selector", pod.NodeSelector["type"] == "kwok"},
		{"toleration", len(pod.Tolerations) == 1 && pod.Tolerations[0].Key == "dedicated" && pod.Tolerations[0].Effect == corev1.TaintEffectNoSchedule},
		{"no API token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
		{"outputs file", ctr.TerminationMessagePath == "/dev/termination-log" && ctr.TerminationMessagePolicy == corev1.TerminationMessageReadFile},
		{"scratch", len(ctr.VolumeMounts) == 2 && ctr.VolumeMounts[1].MountPath == "/cairn/out" && pod.Volumes[1].EmptyDir != nil},
		{"env", len(ctr.Env) == 3 && ctr.Env[0].Value == "2s" && ctr.Env[1].Value == "" &&
			ctr.Env[1].ValueFrom != nil && ctr.Env[1].ValueFrom.SecretKeyRef.Name == name},
	}
	for _, c := range checks {
		if !c.ok {
			return fmt.Errorf("Job %s: want %s: %+v", name, c.what, kj.Spec)
		}
	}
	s, err := v.c.Client.CoreV1().Secrets(v.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if string(s.Data["MLFLOW_TRACKING_TOKEN"]) != "s3cret" || len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != kj.UID {
		return errors.New("the Secret holds the token and is owned by the Job")
	}
	return nil
}

// otherJob is a Job someone else made under the name an attempt wants.
func otherJob(name string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}}}
}
