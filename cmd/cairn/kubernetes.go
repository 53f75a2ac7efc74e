package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/k8s"
	"github.com/cairn-mlops/cairn/internal/pipeline"
)

// imageBinary is where Cairn's image (make image) keeps the executable.
const imageBinary = "/usr/local/bin/cairn"

// imageDataDir is the data folder of Cairn's image.
const imageDataDir = "/data"

// kubeConfig is how the server runs tasks on Kubernetes.
type kubeConfig struct {
	Kubeconfig string // default: in-cluster, $KUBECONFIG, ~/.kube/config
	Namespace  string // default: the pod's, or the kubeconfig context's
	Image      string // Cairn's image, which runs the steps
	ServerURL  string // how task pods reach this server
	// PendingTimeout is how long a task's pod may stay unschedulable or
	// waiting for its container before the attempt fails.
	PendingTimeout time.Duration
	// ServiceAccounts are those specs may name (their pods act with their
	// rights on the cluster).
	ServiceAccounts []string
}

// enabled says whether the kubernetes executor is configured.
func (k kubeConfig) enabled(executor string) bool { return executor == "kubernetes" || k.Image != "" }

func kubeFlags(f *pflag.FlagSet, executor *string, k *kubeConfig) {
	f.StringVar(executor, "executor", "local", "where pipeline tasks run when their spec names no executor: local (child processes) or kubernetes (a Job per attempt)")
	f.StringVar(&k.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster tasks run on (default: the pod's service account inside a cluster, else $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&k.Namespace, "kube-namespace", "", "namespace of the tasks' Jobs (default: the pod's, or the kubeconfig context's)")
	f.StringVar(&k.Image, "kube-image", "", "Cairn's image for tasks on Kubernetes, e.g. registry.example.com/cairn:0.5.0 (make image; PUSH=ref pushes it); giving it enables the kubernetes executor")
	f.StringVar(&k.ServerURL, "kube-server-url", "", "URL task pods reach this server at, e.g. http://cairn.ml.svc:5000")
	f.StringSliceVar(&k.ServiceAccounts, "kube-service-accounts", nil, "service accounts a pipeline's kubernetes: service_account: may name, e.g. cairn-trials (a task's pod acts with its rights; none by default; comma-separated or repeated)")
	f.DurationVar(&k.PendingTimeout, "kube-pending-timeout", 10*time.Minute, "how long a task's pod may stay unschedulable or waiting for its image before the attempt fails (longer where a cluster autoscaler adds nodes)")
}

func (c *Config) validateExecutor() error {
	switch c.Executor {
	case "", "local", "kubernetes":
	default:
		return usageError{fmt.Errorf("invalid --executor %q: local or kubernetes", c.Executor)}
	}
	if !c.Kube.enabled(c.Executor) {
		return nil
	}
	if c.Kube.Image == "" {
		return usageError{errors.New("--executor kubernetes needs --kube-image: Cairn's image, which runs the steps in the cluster")}
	}
	if c.Kube.PendingTimeout == 0 {
		c.Kube.PendingTimeout = 10 * time.Minute
	}
	if c.Kube.PendingTimeout < time.Second {
		return usageError{fmt.Errorf("invalid --kube-pending-timeout %s: at least 1s", c.Kube.PendingTimeout)}
	}
	if c.Kube.ServerURL == "" {
		return usageError{errors.New("the kubernetes executor needs --kube-server-url: the URL task pods reach this server at")}
	}
	u, err := url.Parse(c.Kube.ServerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return usageError{fmt.Errorf("invalid --kube-server-url %q: expected http(s)://host[:port][/path]", c.Kube.ServerURL)}
	}
	// Task pods call this server by that name: the Host guard must let
	// them (an IP literal it lets through anyway).
	if net.ParseIP(u.Hostname()) == nil && !slices.Contains(c.Guard.Hosts, u.Hostname()) {
		c.Guard.Hosts = append(c.Guard.Hosts, u.Hostname())
	}
	return nil
}

// kubeExecutor connects to the cluster and returns the executor for the
// engine, and a function that stops its informers.
func kubeExecutor(c Config, log *slog.Logger) (*pipeline.RemoteExecutor, func(), error) {
	cfg, ns, err := k8s.Connect(c.Kube.Kubeconfig, c.Kube.Namespace)
	if err != nil {
		return nil, nil, err
	}
	x, err := k8s.New(cfg, k8s.Options{Namespace: ns, Image: c.Kube.Image, PendingTimeout: c.Kube.PendingTimeout, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	log.Info("pipeline tasks can run on Kubernetes", "namespace", ns, "image", c.Kube.Image, "default", c.Executor == "kubernetes")
	return &pipeline.RemoteExecutor{
		Executor:        x,
		StepCommand:     []string{imageBinary, "step", "exec"},
		Shell:           []string{imageBinary, "sh"},
		Environ:         []string{"HOME=" + imageDataDir, envKubeImage + "=" + c.Kube.Image, envKubeNamespace + "=" + ns},
		TrackingURI:     c.Kube.ServerURL,
		ServiceAccounts: c.Kube.ServiceAccounts,
		Root:            "/cairn",
		OutputsFile:     "/dev/termination-log", // the container's termination message
		// The task's files travel through this server: cairn, copied into
		// the pod from Cairn's image, fetches and stores them around the
		// command, whatever the task's image.
		Init:    []string{imageBinary, "pod", "install", "/cairn/bin"},
		Wrapper: []string{"/cairn/bin/cairn", "pod", "run", "--"},
	}, x.Close, nil
}

// The variables the server gives every task pod, with which a sweep in one
// starts its trials as Jobs of their own.
const (
	envKubeImage        = "CAIRN_KUBE_IMAGE"
	envKubeNamespace    = "CAIRN_KUBE_NAMESPACE"
	serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// kubeTrials is how a sweep step running in a task pod starts its trials:
// as Jobs of their own when the server gave the pod Cairn's image and the
// pod has a service account token to create them with (the tune task's
// kubernetes: service_account:), else nil (the trials run in the pod).
// Each trial pod fetches the sweep task's input files, as the task did.
func kubeTrials(log *slog.Logger) (exec.Executor, func(*exec.Job, jobs.TrialAttempt), func()) {
	img := os.Getenv(envKubeImage)
	if img == "" || os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, nil, nil
	}
	if _, err := os.Stat(serviceAccountToken); err != nil {
		log.Info("trials run in this pod: it has no service account to start Jobs with (give the task kubernetes: service_account:)")
		return nil, nil, nil
	}
	x, files, err := inClusterTrials(img, log)
	if err != nil {
		log.Warn("trials run in this pod: cannot start Jobs", "err", err)
		return nil, nil, nil
	}
	return x, trialPod(files), x.Close
}

func inClusterTrials(img string, log *slog.Logger) (*k8s.Executor, *jobs.TaskFiles, error) {
	files, err := jobs.ParseTaskFiles(os.Getenv("CAIRN_TASK_FILES"))
	if err != nil {
		return nil, nil, err
	}
	cfg, ns, err := k8s.Connect("", os.Getenv(envKubeNamespace))
	if err != nil {
		return nil, nil, err
	}
	x, err := k8s.New(cfg, k8s.Options{Namespace: ns, Image: img, Logger: log})
	return x, files, err
}

// trialPod makes a trial's job one for a pod of Cairn's image: inputs
// inline, the sweep task's input files fetched, values back through the
// termination message.
func trialPod(task *jobs.TaskFiles) func(*exec.Job, jobs.TrialAttempt) {
	const root = "/cairn"
	return func(job *exec.Job, a jobs.TrialAttempt) {
		out := fmt.Sprintf("%s/trials/%s/%d/out", filepath.Dir(task.Outputs), a.Trial, a.Attempt)
		files, _ := json.Marshal(jobs.TaskFiles{Root: task.Root, Inputs: task.Inputs, Outputs: out, RunID: a.RunID})
		args := job.Args
		if n := len(args); n >= 2 && args[n-2] == "--inputs" {
			args = append(args[:n-2:n-2], "--inputs-json", string(a.Inputs))
		}
		job.Args = append([]string{root + "/bin/cairn", "pod", "run", "--"}, args...)
		job.Name = fmt.Sprintf("%s/%s/%d", a.Parent, a.Trial, a.Attempt)
		job.Labels = map[string]string{exec.LabelRun: a.Parent, exec.LabelTask: a.Trial, exec.LabelAttempt: strconv.Itoa(a.Attempt)}
		job.Resources = exec.Resources{CPU: a.Resources.CPU, Memory: int64(a.Resources.Memory), GPU: int(math.Ceil(a.Resources.GPU))}
		job.Scratch, job.Init, job.OutputsFile = []string{root}, []string{imageBinary, "pod", "install", root + "/bin"}, "/dev/termination-log"
		env := make([]string, 0, len(job.Env)+4)
		for _, kv := range job.Env {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "CAIRN_OUTPUTS_DIR", "CAIRN_OUTPUTS", "CAIRN_DATA_DIR", "CAIRN_TASK_FILES", "HOSTNAME":
				continue
			case "MLFLOW_TRACKING_TOKEN":
				job.SecretEnv = []string{k}
			}
			env = append(env, kv)
		}
		job.Env = append(env, "CAIRN_OUTPUTS_DIR="+out, "CAIRN_OUTPUTS="+job.OutputsFile, "CAIRN_DATA_DIR="+out+"/.cairn-data",
			"CAIRN_TASK_FILES="+string(files))
	}
}
