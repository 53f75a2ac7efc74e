package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"

	"github.com/spf13/pflag"

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
}

// enabled says whether the kubernetes executor is configured.
func (k kubeConfig) enabled(executor string) bool { return executor == "kubernetes" || k.Image != "" }

func kubeFlags(f *pflag.FlagSet, executor *string, k *kubeConfig) {
	f.StringVar(executor, "executor", "local", "where pipeline tasks run when their spec names no executor: local (child processes) or kubernetes (a Job per attempt)")
	f.StringVar(&k.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster tasks run on (default: the pod's service account inside a cluster, else $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&k.Namespace, "kube-namespace", "", "namespace of the tasks' Jobs (default: the pod's, or the kubeconfig context's)")
	f.StringVar(&k.Image, "kube-image", "", "Cairn's image for tasks on Kubernetes, e.g. registry.example.com/cairn:0.5.0 (make image; PUSH=ref pushes it); giving it enables the kubernetes executor")
	f.StringVar(&k.ServerURL, "kube-server-url", "", "URL task pods reach this server at, e.g. http://cairn.ml.svc:5000")
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
	x, err := k8s.New(cfg, k8s.Options{Namespace: ns, Image: c.Kube.Image, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	log.Info("pipeline tasks can run on Kubernetes", "namespace", ns, "image", c.Kube.Image, "default", c.Executor == "kubernetes")
	return &pipeline.RemoteExecutor{
		Executor:    x,
		StepCommand: []string{imageBinary, "step", "exec"},
		Shell:       []string{imageBinary, "sh"},
		Environ:     []string{"HOME=" + imageDataDir},
		TrackingURI: c.Kube.ServerURL,
		Root:        "/cairn",
		OutputsFile: "/dev/termination-log", // the container's termination message
		// The task's files travel through this server: cairn, copied into
		// the pod from Cairn's image, fetches and stores them around the
		// command, whatever the task's image.
		Init:    []string{imageBinary, "pod", "install", "/cairn/bin"},
		Wrapper: []string{"/cairn/bin/cairn", "pod", "run", "--"},
	}, x.Close, nil
}
