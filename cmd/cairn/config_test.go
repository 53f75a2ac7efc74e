package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// writeConfig writes a configuration file named cairn.yaml in a fresh folder.
func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	return path
}

func noFlags(string) bool { return false }

func TestConfigFileSetsEverySetting(t *testing.T) {
	path := writeConfig(t, `# the server's settings
data: /srv/cairn
addr: 0.0.0.0:5001
db: postgres://cairn:secret@db:5432/cairn
artifacts: s3://bucket/prefix
default_artifact_root: s3://bucket/experiments
allowed_artifact_roots: [s3://other/a, file:///srv/shared]
auth: true
max_artifact_bytes: 1048576
gpus: 2
allowed_hosts:
  - cairn.example.com
allowed_origins: [https://notebook.example.com]
task_env: [HF_*, WANDB_API_KEY]
task_sandbox: false
executor: kubernetes
kubeconfig: /etc/cairn/kubeconfig
kube_namespace: ml
kube_image: registry.example.com/team/cairn:0.5.0
kube_server_url: http://cairn.ml.svc:5000
kube_pending_timeout: 15m
kube_service_accounts: [cairn-trials]
`)
	cfg := DefaultConfig()
	require.NoError(t, applyConfigFile(&cfg, path, noFlags))
	want := DefaultConfig()
	want.Data, want.Addr, want.DB, want.Artifacts = "/srv/cairn", "0.0.0.0:5001", "postgres://cairn:secret@db:5432/cairn", "s3://bucket/prefix"
	want.DefaultArtifactRoot, want.AllowedArtifactRoots = "s3://bucket/experiments", []string{"s3://other/a", "file:///srv/shared"}
	want.Auth, want.MaxArtifactBytes, want.GPUs = true, 1<<20, 2
	want.Guard.Hosts, want.Guard.Origins = []string{"cairn.example.com"}, []string{"https://notebook.example.com"}
	want.TaskEnv, want.Unsandboxed = []string{"HF_*", "WANDB_API_KEY"}, true
	want.Executor = "kubernetes"
	want.Kube = kubeConfig{Kubeconfig: "/etc/cairn/kubeconfig", Namespace: "ml", Image: "registry.example.com/team/cairn:0.5.0",
		ServerURL: "http://cairn.ml.svc:5000", PendingTimeout: 15 * time.Minute, ServiceAccounts: []string{"cairn-trials"}}
	require.Equal(t, want, cfg)
	require.NoError(t, cfg.Validate())
}

// Every flag of 'cairn server' but --config has a key, so the file never
// falls behind the flags.
func TestConfigFileHasAKeyForEveryFlag(t *testing.T) {
	cfg := DefaultConfig()
	keys := configKeys(&cfg)
	newServerCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" {
			require.Contains(t, keys, f.Name, "flag --%s has no key in the configuration file", f.Name)
		}
	})
}

func TestConfigFileFlagsWin(t *testing.T) {
	path := writeConfig(t, "addr: 0.0.0.0:5001\nauth: true\ntask_sandbox: false\nallowed_hosts: [a.example.com]\n")
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:6000" // as the flags left it
	given := map[string]bool{"addr": true, "task-sandbox": true}
	require.NoError(t, applyConfigFile(&cfg, path, func(f string) bool { return given[f] }))
	require.Equal(t, "127.0.0.1:6000", cfg.Addr)
	require.False(t, cfg.Unsandboxed)
	require.True(t, cfg.Auth)
	require.Equal(t, []string{"a.example.com"}, cfg.Guard.Hosts)
}

// Through the command: the file's value reaches validation, and a flag
// given on the command line replaces it. Both fail before anything starts.
func TestConfigFileThroughServerCommand(t *testing.T) {
	path := writeConfig(t, "addr: from-the-file\n")
	_, err := run(t, "server", "--config", path, "--data", t.TempDir())
	require.ErrorAs(t, err, new(usageError))
	require.ErrorContains(t, err, `invalid --addr "from-the-file"`)
	_, err = run(t, "server", "--config", path, "--data", t.TempDir(), "--addr", "from-the-flag")
	require.ErrorContains(t, err, `invalid --addr "from-the-flag"`)

	_, err = run(t, "server", "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorAs(t, err, new(usageError))
	require.Equal(t, 2, exitCode(err))
}

func TestConfigFileProblems(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "addr: 127.0.0.1:5000\ndata: d\nadr: x\n", []string{`cairn.yaml:3: unknown key "adr"`, "the keys are addr, allowed_artifact_roots"}},
		{"flag spelling", "max-artifact-bytes: 5\n", []string{`cairn.yaml:1: unknown key "max-artifact-bytes" (keys use underscores: max_artifact_bytes)`}},
		{"twice", "addr: a:1\naddr: b:2\n", []string{`cairn.yaml:2: key "addr" is given twice`}},
		{"bool", "auth: yes\n", []string{`cairn.yaml:1: key "auth": expected true or false, found "yes"`}},
		{"int", "\ngpus: two\n", []string{`cairn.yaml:2: key "gpus": expected a whole number, found "two"`}},
		{"string", "addr: 5000\n", []string{`cairn.yaml:1: key "addr": expected a string, found "5000"`}},
		{"list", "task_env: HOME\n", []string{`cairn.yaml:1: key "task_env": expected a list of strings`}},
		{"duration", "kube_pending_timeout: soon\n", []string{`cairn.yaml:1: key "kube_pending_timeout": expected a duration such as 90s or 15m, found "soon"`}},
		{"list item", "task_env:\n  - A\n  - [B]\n", []string{`cairn.yaml:3: key "task_env": expected a string in the list, found a list`}},
		{"null", "db:\n", []string{`cairn.yaml:1: key "db": expected a string, found nothing`}},
		{"out of range", "max_artifact_bytes: 99999999999999999999\n", []string{`cairn.yaml:1: key "max_artifact_bytes"`}},
		{"not a mapping", "- addr\n", []string{"cairn.yaml:1: expected settings as key: value lines"}},
		{"broken YAML", "addr: [\n", []string{"cairn.yaml:", "invalid YAML"}},
		{"two documents", "addr: a:1\n---\naddr: b:2\n", []string{"cairn.yaml:2: a configuration file holds one YAML document"}},
		{"alias", "data: &d x\ndb: *d\n", []string{`cairn.yaml:2: key "db": aliases are not supported`}},
		{"every problem", "adr: x\nauth: 1\n", []string{`cairn.yaml:1: unknown key "adr"`, `cairn.yaml:2: key "auth"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.src)
			cfg := DefaultConfig()
			err := applyConfigFile(&cfg, path, noFlags)
			require.Error(t, err)
			require.ErrorAs(t, err, new(usageError))
			require.Equal(t, 2, exitCode(err))
			for _, w := range tc.want {
				require.Contains(t, err.Error(), strings.Replace(w, "cairn.yaml", path, 1))
			}
		})
	}
}

func TestConfigFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	cfg := DefaultConfig()
	err := applyConfigFile(&cfg, path, noFlags)
	require.ErrorAs(t, err, new(usageError))
	require.ErrorContains(t, err, "no such file")
	require.ErrorContains(t, err, path)
}

// TestConfigFileHostileSources refuses what is not a small regular file:
// a folder, a device that never ends, a file past the size bound.
func TestConfigFileHostileSources(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte("addr: x\n#"+strings.Repeat("x", maxConfigBytes)), 0o600))
	for path, msg := range map[string]string{
		t.TempDir(): "not a regular file",
		"/dev/zero": "not a regular file",
		big:         "larger than",
	} {
		cfg := DefaultConfig()
		err := applyConfigFile(&cfg, path, noFlags)
		require.ErrorAs(t, err, new(usageError), path)
		require.ErrorContains(t, err, msg, path)
		require.Equal(t, DefaultConfig().Addr, cfg.Addr, "nothing applied from %s", path)
	}
}

func TestConfigFileEmptyKeepsDefaults(t *testing.T) {
	for _, src := range []string{"", "\n\n", "# only a comment\n", "---\n", "~\n"} {
		cfg := DefaultConfig()
		require.NoError(t, applyConfigFile(&cfg, writeConfig(t, src), noFlags), "%q", src)
		require.Equal(t, DefaultConfig(), cfg, "%q", src)
	}
}

// A password in a file that every user may read is refused; the same file
// private to its owner or its group is fine, and so is a readable file
// without one.
func TestConfigFilePasswordNeedsAPrivateFile(t *testing.T) {
	for _, src := range []string{
		"db: postgres://cairn:s3cret@db:5432/cairn\n",
		"allowed_artifact_roots: [s3://a/b, 'https://u:s3cret@h/x']\n",
		"db: 'host=db user=cairn password=s3cret'\n",
	} {
		path := writeConfig(t, "addr: 127.0.0.1:1\n"+src)
		require.NoError(t, os.Chmod(path, 0o644))
		cfg := DefaultConfig()
		err := applyConfigFile(&cfg, path, noFlags)
		require.ErrorAs(t, err, new(usageError), "%q", src)
		require.Equal(t, 2, exitCode(err))
		key := strings.SplitN(src, ":", 2)[0]
		require.ErrorContains(t, err, path+`:2: key "`+key+`" holds a password, but every user may read the file (-rw-r--r--): chmod 600 `+path)
		require.NotContains(t, err.Error(), "s3cret")

		for _, mode := range []os.FileMode{0o600, 0o400, 0o640} { // a group may be let in on purpose
			require.NoError(t, os.Chmod(path, mode))
			require.NoError(t, applyConfigFile(&cfg, path, noFlags), "%q %s", src, mode)
		}
	}
	path := writeConfig(t, "db: postgres://cairn@db:5432/cairn\nartifacts: s3://bucket/prefix\n")
	require.NoError(t, os.Chmod(path, 0o644))
	cfg := DefaultConfig()
	require.NoError(t, applyConfigFile(&cfg, path, noFlags), "no password, nothing to hide")
	require.False(t, holdsPassword("postgres://cairn:@db/cairn"))
}

// A configuration file sets up a real server process, and a flag given
// with it wins over the file.
func TestConfigFileServerProcess(t *testing.T) {
	path := writeConfig(t, "max_artifact_bytes: 10\naddr: 127.0.0.1:1\n")
	put := func(p *serverProcess, body string) int {
		req, err := http.NewRequest("PUT", p.URL+"/api/2.0/mlflow-artifacts/artifacts/0/r/artifacts/f.bin", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	// startServerProcess passes --addr 127.0.0.1:0, which wins over the file's.
	p := startServerProcess(t, t.TempDir(), "--config", path)
	require.Equal(t, 413, put(p, strings.Repeat("x", 20)), "max_artifact_bytes from the file")
	p = startServerProcess(t, t.TempDir(), "--config", path, "--max-artifact-bytes", "100")
	require.Equal(t, 200, put(p, strings.Repeat("x", 20)), "the flag wins")
}

// runCairn runs this test binary as cairn and returns its exit status and
// what it wrote to stderr.
func runCairn(t *testing.T, args ...string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "CAIRN_TEST_AS_CAIRN=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stderr.String()
}

// A bad file stops the process before it starts anything, with the exit
// status of a bad flag and every problem named.
func TestConfigFileBadExitsWithUsageStatus(t *testing.T) {
	path := writeConfig(t, "addr: 127.0.0.1:0\nadr: x\ngpus: two\n")
	code, stderr := runCairn(t, "server", "--config", path, "--data", t.TempDir())
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "cairn: "+path+`:2: unknown key "adr"`)
	require.Contains(t, stderr, path+`:3: key "gpus": expected a whole number, found "two"`)
	require.NotContains(t, stderr, "listening")
}

// FuzzConfigFile checks that no file makes the decoder panic and that
// every problem it finds says what is wrong.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{"", "addr: 127.0.0.1:5000\nauth: true\n", "task_env: [A, B]\ngpus: 1\n", "adr: x\n",
		"data: &d x\ndb: *d\n", "- a\n", "a: [\n", "max_artifact_bytes: 1e3\n", "? [a]\n: b\n", "<<: {addr: x}\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg := DefaultConfig()
		problems := decodeConfig(&cfg, src, noFlags)
		problems = append(problems, exposedPasswords(src, "cairn.yaml", 0o644)...)
		for _, p := range problems {
			if p.Msg == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
	})
}
