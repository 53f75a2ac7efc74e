package exec

import (
	"slices"
	"strings"
)

// taskEnvKeep names the variables a task inherits from the process that
// runs it: what programs need to start, find their tools and libraries,
// speak the user's locale and reach the network through a proxy. Anything
// else (cloud credentials, database URLs, the server's own settings) stays
// with the server unless passed on by name.
var taskEnvKeep = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "LANG", "LANGUAGE", "TMPDIR",
	"LD_LIBRARY_PATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX", "CONDA_DEFAULT_ENV",
	"OMP_NUM_THREADS", "GOMAXPROCS", "GOMLX_BACKEND", "XLA_FLAGS", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
}

// TaskEnviron returns the entries of env (KEY=VALUE) a task inherits: the
// usual ones (PATH, HOME, locale, proxies, library paths; LC_* too) and
// those named in also. A name in also ending in "*" keeps every variable
// with that prefix.
func TaskEnviron(env []string, also ...string) []string {
	keep := func(k string) bool {
		if slices.Contains(taskEnvKeep, k) || strings.HasPrefix(k, "LC_") {
			return true
		}
		for _, a := range also {
			if p, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(k, p) || a == k {
				return true
			}
		}
		return false
	}
	var out []string
	for _, e := range env {
		if k, _, ok := strings.Cut(e, "="); ok && keep(k) {
			out = append(out, e)
		}
	}
	return out
}
