package k8stest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func job(name string, labels, annotations map[string]string) *batchv1.Job {
	zero := int32(0)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{BackoffLimit: &zero, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "main", Image: "cairn:test", Command: []string{"cairn", "step", "exec"}}}},
		}},
	}
}

// waitJob waits until the Job has the condition (Complete or Failed).
func waitJob(t *testing.T, c *Cluster, name string, want batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := c.Client.BatchV1().Jobs("default").Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		for _, cond := range j.Status.Conditions {
			if cond.Status == corev1.ConditionTrue && (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) {
				require.Equal(t, want, cond.Type, "job %s: %s %s", name, cond.Reason, cond.Message)
				return j
			}
		}
		require.True(t, time.Now().Before(deadline), "job %s has not ended after 30 s: %+v", name, j.Status)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterRunsJobs is the harness's own check: a Job completes on the
// KWOK node, a Job whose pod is told to fail fails with its exit code, and
// a pod asking for more than the node has stays Unschedulable.
func TestClusterRunsJobs(t *testing.T) {
	c := Start(t)
	ctx := context.Background()
	jobs := c.Client.BatchV1().Jobs("default")

	_, err := jobs.Create(ctx, job("ok", nil, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	waitJob(t, c, "ok", batchv1.JobComplete)

	_, err = jobs.Create(ctx, job("fails", map[string]string{FailLabel: "true"}, map[string]string{FailExitCode: "3"}), metav1.CreateOptions{})
	require.NoError(t, err)
	waitJob(t, c, "fails", batchv1.JobFailed)
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=fails"})
	require.NoError(t, err)
	require.Len(t, pods.Items, 1)
	st := pods.Items[0].Status.ContainerStatuses
	require.Len(t, st, 1)
	require.NotNil(t, st[0].State.Terminated)
	require.EqualValues(t, 3, st[0].State.Terminated.ExitCode)

	big := job("too-big", nil, nil)
	big.Spec.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("1000")}
	_, err = jobs.Create(ctx, big, metav1.CreateOptions{})
	require.NoError(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=too-big"})
		require.NoError(t, err)
		if len(pods.Items) == 1 {
			var why string
			for _, cond := range pods.Items[0].Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
					why = cond.Reason + ": " + cond.Message
				}
			}
			if why != "" {
				require.Contains(t, why, "Unschedulable")
				require.Contains(t, why, "Insufficient cpu")
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "the too-big pod was never reported unschedulable")
		time.Sleep(100 * time.Millisecond)
	}
}
