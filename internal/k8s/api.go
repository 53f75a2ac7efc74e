package k8s

import (
	"context"
	"io"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
)

// api is the part of the Kubernetes API the executor calls, over two REST
// clients (batch/v1 and core/v1) whose scheme knows only those groups: the
// generated clientset registers all fifty-odd API groups, which would add
// some 20 MB to the cairn binary for nothing it uses.
type api struct {
	batch, core rest.Interface
	ns          string
}

var (
	scheme = runtime.NewScheme()
	codecs = serializer.NewCodecFactory(scheme)
	params = runtime.NewParameterCodec(scheme)
)

func init() {
	utilruntime.Must(batchv1.AddToScheme(scheme))
	utilruntime.Must(corev1.AddToScheme(scheme))
}

func newAPI(cfg *rest.Config, ns string) (*api, error) {
	client := func(gv schema.GroupVersion, path string) (rest.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion, c.APIPath, c.NegotiatedSerializer = &gv, path, codecs.WithoutConversion()
		if c.UserAgent == "" {
			c.UserAgent = "cairn"
		}
		return rest.RESTClientFor(c)
	}
	batch, err := client(batchv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	core, err := client(corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	return &api{batch: batch, core: core, ns: ns}, nil
}

func (a *api) getJob(ctx context.Context, name string) (*batchv1.Job, error) {
	out := &batchv1.Job{}
	return out, a.batch.Get().Namespace(a.ns).Resource("jobs").Name(name).Do(ctx).Into(out)
}

func (a *api) createJob(ctx context.Context, j *batchv1.Job) (*batchv1.Job, error) {
	out := &batchv1.Job{}
	return out, a.batch.Post().Namespace(a.ns).Resource("jobs").Body(j).Do(ctx).Into(out)
}

func (a *api) deleteJob(ctx context.Context, name string, opts *metav1.DeleteOptions) error {
	return a.batch.Delete().Namespace(a.ns).Resource("jobs").Name(name).Body(opts).Do(ctx).Error()
}

func (a *api) getSecret(ctx context.Context, name string) (*corev1.Secret, error) {
	out := &corev1.Secret{}
	return out, a.core.Get().Namespace(a.ns).Resource("secrets").Name(name).Do(ctx).Into(out)
}

func (a *api) createSecret(ctx context.Context, s *corev1.Secret) error {
	return a.core.Post().Namespace(a.ns).Resource("secrets").Body(s).Do(ctx).Error()
}

func (a *api) updateSecret(ctx context.Context, s *corev1.Secret) error {
	return a.core.Put().Namespace(a.ns).Resource("secrets").Name(s.Name).Body(s).Do(ctx).Error()
}

func (a *api) deleteSecret(ctx context.Context, name string) error {
	return a.core.Delete().Namespace(a.ns).Resource("secrets").Name(name).Body(&metav1.DeleteOptions{}).Do(ctx).Error()
}

func (a *api) podLogs(ctx context.Context, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return a.core.Get().Namespace(a.ns).Resource("pods").Name(pod).SubResource("log").VersionedParams(opts, params).Stream(ctx)
}
