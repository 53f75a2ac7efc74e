package k8s

import (
	"fmt"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// inClusterNamespace is where a pod's service account says its namespace is.
const inClusterNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Connect returns a client of the cluster and the namespace to use: inside
// a pod (and no kubeconfig named) its service account's; otherwise the
// kubeconfig file kubeconfig, else $KUBECONFIG, else ~/.kube/config, with
// its current context's namespace. namespace, when not empty, overrides.
func Connect(kubeconfig, namespace string) (*rest.Config, string, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" && os.Getenv("KUBECONFIG") == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		if cfg, err = rest.InClusterConfig(); err != nil {
			return nil, "", fmt.Errorf("in-cluster Kubernetes config: %w", err)
		}
		if namespace == "" {
			b, err := os.ReadFile(inClusterNamespace)
			if err != nil {
				return nil, "", fmt.Errorf("in-cluster Kubernetes namespace: %w", err)
			}
			namespace = strings.TrimSpace(string(b))
		}
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = kubeconfig
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
		if cfg, err = cc.ClientConfig(); err != nil {
			return nil, "", fmt.Errorf("kubeconfig: %w", err)
		}
		if namespace == "" {
			if namespace, _, err = cc.Namespace(); err != nil {
				return nil, "", fmt.Errorf("kubeconfig namespace: %w", err)
			}
		}
	}
	cfg.UserAgent = "cairn"
	// Many attempts at once each create a Job and a Secret and read logs.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, namespace, nil
}
