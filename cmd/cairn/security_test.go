package main

// The security tests attack a real `cairn server` process (this test binary
// standing in for cairn, see TestMain) the way an outside probe did, and
// assert the safe outcome.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// serverProcess is a `cairn server` child process.
type serverProcess struct {
	URL  string
	Data string
	cmd  *exec.Cmd
	mu   sync.Mutex // guards log
	log  strings.Builder
}

// Log returns what the server has written to stderr so far.
func (p *serverProcess) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var listeningURL = regexp.MustCompile(`cairn server listening"? url=(http://\S+)`)

// startServerProcess starts `cairn server --addr 127.0.0.1:0 --data DIR ARGS`
// as a child process and waits until it listens. It is stopped (SIGTERM)
// when the test ends.
func startServerProcess(t *testing.T, data string, args ...string) *serverProcess {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, append([]string{"server", "--addr", "127.0.0.1:0", "--data", data}, args...)...)
	// A credential in the server's environment, which its tasks must not see.
	cmd.Env = append(os.Environ(), "CAIRN_TEST_AS_CAIRN=1", "AWS_SECRET_ACCESS_KEY=server-only-secret")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serverProcess{Data: data, cmd: cmd}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listeningURL.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		close(urls)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case u, ok := <-urls:
		require.True(t, ok, "server exited before listening")
		p.URL = u
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	return p
}

// jsonType is the header of a JSON request body.
var jsonType = map[string]string{"Content-Type": "application/json"}

// send makes one request; hdr may set Host. It returns the status and body.
func (p *serverProcess) send(t *testing.T, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSecurityCrossSite reproduces a page on another site driving the
// server on loopback: a text/plain POST that submits a pipeline with a run:
// task, a plain HTML form creating an experiment, and a DNS-rebound name.
// None of them may change anything; the same calls from a real client work.
func TestSecurityCrossSite(t *testing.T) {
	p := startServerProcess(t, t.TempDir())
	marker := filepath.Join(t.TempDir(), "pwned")
	spec := `{"spec": "name: x\ntasks:\n  - name: a\n    run: touch ` + marker + `\n"}`
	const submit = "/api/2.0/cairn/pipelines/create"

	attacks := []struct {
		name   string
		method string
		path   string
		body   string
		hdr    map[string]string
		status int
	}{
		{"fetch text/plain from another site", "POST", submit, spec,
			map[string]string{"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"form post, no body", "POST", "/api/2.0/mlflow/experiments/create?name=pwned", "",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}, 403},
		{"no Origin, text/plain", "POST", "/api/2.0/mlflow/experiments/create?name=pwned", "", map[string]string{"Content-Type": "text/plain"}, 415},
		{"no Origin, no type", "POST", "/api/2.0/mlflow/experiments/create?name=pwned", "", nil, 415},
		{"DNS rebinding", "POST", submit, spec,
			map[string]string{"Content-Type": "application/json", "Host": "rebind.evil.example:5000", "Origin": "http://rebind.evil.example:5000"}, 403},
		{"DNS rebinding, read", "GET", "/api/2.0/mlflow/experiments/search?max_results=10", "", map[string]string{"Host": "rebind.evil.example"}, 403},
	}
	for _, a := range attacks {
		status, body := p.send(t, a.method, a.path, a.body, a.hdr)
		require.Equal(t, a.status, status, "%s: %s", a.name, body)
	}
	_, body := p.send(t, "GET", "/api/2.0/mlflow/experiments/search?max_results=100", "", nil)
	require.NotContains(t, body, "pwned", "no experiment was created")
	_, body = p.send(t, "GET", "/api/2.0/cairn/pipelines/list", "", nil)
	require.NotContains(t, body, `"x"`, "no pipeline was created")
	_, err := os.Stat(marker)
	require.ErrorIs(t, err, os.ErrNotExist, "no task ran")

	// A real client, and the UI on its own origin.
	status, body := p.send(t, "POST", "/api/2.0/mlflow/experiments/create", `{"name":"ok"}`, map[string]string{"Content-Type": "application/json"})
	require.Equal(t, 200, status, body)
	status, body = p.send(t, "POST", "/api/2.0/mlflow/experiments/create", `{"name":"ok2"}`, map[string]string{
		"Content-Type": "application/json", "Origin": strings.Replace(p.URL, "127.0.0.1", "localhost", 1),
		"Host": strings.TrimPrefix(strings.Replace(p.URL, "127.0.0.1", "localhost", 1), "http://"), "Sec-Fetch-Site": "same-origin"})
	require.Equal(t, 200, status, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &out))
}

// TestSecurityAllowedHostsAndOrigins: a server behind a name, with a UI
// served elsewhere, takes that name and that origin and nothing else.
func TestSecurityAllowedHostsAndOrigins(t *testing.T) {
	p := startServerProcess(t, t.TempDir(), "--allowed-hosts", "cairn.example.com", "--allowed-origins", "https://notebook.example.com")
	status, body := p.send(t, "POST", "/api/2.0/mlflow/experiments/create", `{"name":"n"}`, map[string]string{
		"Content-Type": "application/json", "Host": "cairn.example.com", "Origin": "https://notebook.example.com", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, 200, status, body)
	status, body = p.send(t, "POST", "/api/2.0/mlflow/experiments/create", `{"name":"m"}`, map[string]string{
		"Content-Type": "application/json", "Host": "cairn.example.com", "Origin": "https://other.example.com", "Sec-Fetch-Site": "cross-site"})
	require.Equal(t, 403, status, body)
	status, _ = p.send(t, "GET", "/health", "", map[string]string{"Host": "other.example.com"})
	require.Equal(t, 403, status)

	_, err := run(t, "server", "--allowed-origins", "notebook.example.com", "--data", t.TempDir())
	require.ErrorContains(t, err, "--allowed-origins: invalid origin 'notebook.example.com'")
	require.Equal(t, 2, exitCode(err))
}

// addUser adds a user with role to the database in data and returns a
// token of theirs.
func addUser(t *testing.T, data, name, role string) string {
	t.Helper()
	cmd := newRootCmd()
	cmd.SetIn(strings.NewReader(name + "-password\n"))
	cmd.SetOut(io.Discard)
	cmd.SetArgs([]string{"users", "add", name, "--role", role, "--password-stdin", "--data", data})
	require.NoError(t, cmd.ExecuteContext(context.Background()))
	out, err := run(t, "tokens", "create", name, "--name", "t", "--data", data)
	require.NoError(t, err)
	return strings.TrimSpace(strings.Split(out, "\n")[0])
}

// TestSecurityTasks reproduces an edit user turning a run: task into a
// root shell: reading the task's secret from its environment, a read user
// fetching it from the task log, the secret outliving its user, and a task
// creating an admin by running the server's own binary on its database.
func TestSecurityTasks(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	admin := addUser(t, data, "root", "admin")
	eddie := addUser(t, data, "eddie", "edit")
	rick := addUser(t, data, "rick", "run")
	rita := addUser(t, data, "rita", "read")
	p := startServerProcess(t, data, "--auth")
	as := func(tok string) *client.Client {
		c, err := client.New(p.URL, client.Options{Token: tok})
		require.NoError(t, err)
		return c
	}
	drop := t.TempDir() // where the task leaves its token: /tmp is writable
	probe := `name: probe
tasks:
  probe:
    run: |
      echo "my token is $MLFLOW_TRACKING_TOKEN"
      echo "token=$MLFLOW_TRACKING_TOKEN" >> "$CAIRN_OUTPUTS"
      echo "$MLFLOW_TRACKING_TOKEN" > ` + drop + `/token
      head -c 16 "$CAIRN_DATA_DIR/cairn.db" && echo READ-THE-DB
      touch "$CAIRN_DATA_DIR/planted" && echo WROTE-THE-DATA-FOLDER
      echo s3cret-pass1 | /proc/$PPID/exe users add evil --role admin --password-stdin --data "$CAIRN_DATA_DIR" && echo MADE-AN-ADMIN
      env | grep -q AWS_SECRET_ACCESS_KEY && echo SAW-THE-SERVER-ENV
      kill -0 $PPID && echo SIGNALLED-THE-SERVER
      tr '\0' '\n' < /proc/$PPID/environ | grep -q AWS_SECRET_ACCESS_KEY && echo READ-THE-SERVER-PROCESS
      while [ ! -e ` + drop + `/done ]; do sleep 0.05; done
    outputs: [token]
`
	submit := func(tok, spec string) (string, error) {
		var out struct {
			Run struct {
				RunID string `json:"run_id"`
			} `json:"run"`
		}
		err := as(tok).Do(ctx, "POST", "/api/2.0/cairn/pipelines/runs/submit", map[string]any{"spec": spec}, &out)
		return out.Run.RunID, err
	}

	// edit runs built-in steps only.
	_, err := submit(eddie, probe)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	require.Contains(t, err.Error(), "role 'run' or 'admin'")
	err = as(eddie).Do(ctx, "POST", "/api/2.0/cairn/pipelines/create", map[string]any{"spec": probe}, nil)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "nor store one to run later: %v", err)
	_, err = submit(eddie, "name: s\ntasks:\n  sh:\n    uses: core.shell\n    with: {command: id}\n")
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "nor through the shell step: %v", err)
	_, err = submit(eddie, "name: w\ntasks:\n  synth:\n    uses: data.synth\n    with: {kind: titanic, n: 50}\n    writable: [/srv/out]\n")
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "asking to write outside the sandbox is as strong: %v", err)
	builtin, err := submit(eddie, "name: builtin\ntasks:\n  synth:\n    uses: data.synth\n    with: {kind: titanic, n: 50, seed: 1}\n")
	require.NoError(t, err)

	// run may; the task runs sandboxed with a credential of its own.
	id, err := submit(rick, probe)
	require.NoError(t, err)
	var token string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(drop, "token"))
		token = strings.TrimSpace(string(b))
		return token != ""
	}, 60*time.Second, 50*time.Millisecond)

	var logs struct {
		Data string `json:"data"`
	}
	require.Eventually(t, func() bool {
		require.NoError(t, as(rita).Do(ctx, "GET", "/api/2.0/cairn/pipelines/runs/logs?run_id="+id+"&task=probe", nil, &logs))
		return strings.Contains(logs.Data, "my token is")
	}, 30*time.Second, 50*time.Millisecond)
	require.Contains(t, logs.Data, "my token is ***", "a read user sees the log masked")
	require.NotContains(t, logs.Data, token)
	for _, bad := range []string{"READ-THE-DB", "WROTE-THE-DATA-FOLDER", "MADE-AN-ADMIN", "SAW-THE-SERVER-ENV", "SIGNALLED-THE-SERVER", "READ-THE-SERVER-PROCESS"} {
		require.NotContains(t, logs.Data, bad, logs.Data)
	}

	task := as(token)
	err = task.Do(ctx, "GET", "/api/2.0/cairn/users/list", nil, nil)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	_, err = task.CreateExperiment(ctx, "elsewhere")
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	_, err = submit(token, probe)
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "a task starts no pipelines: %v", err)

	// Demoting the user demotes the task; deleting them ends it.
	var got struct {
		Run struct {
			ExperimentID string `json:"experiment_id"`
			Phase        string `json:"phase"`
			Tasks        []struct {
				Outputs map[string]string `json:"outputs"`
			} `json:"tasks"`
		} `json:"run"`
	}
	require.NoError(t, as(admin).Do(ctx, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, &got))
	_, err = task.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: got.Run.ExperimentID})
	require.NoError(t, err)
	_, err = run(t, "users", "set-role", "rick", "read", "--data", data)
	require.NoError(t, err)
	_, err = task.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: got.Run.ExperimentID})
	require.Equal(t, errs.PermissionDenied, errs.KindOf(err), "%v", err)
	_, err = run(t, "users", "delete", "rick", "--data", data)
	require.NoError(t, err)
	_, err = task.GetExperiment(ctx, got.Run.ExperimentID)
	require.Equal(t, errs.Unauthenticated, errs.KindOf(err), "%v", err)

	require.NoError(t, os.WriteFile(filepath.Join(drop, "done"), nil, 0o600))
	require.Eventually(t, func() bool {
		require.NoError(t, as(admin).Do(ctx, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+id, nil, &got))
		return got.Run.Phase == "Succeeded" || got.Run.Phase == "Failed"
	}, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, "***", got.Run.Tasks[0].Outputs["token"], "outputs are masked too")

	users, err := run(t, "users", "list", "--data", data)
	require.NoError(t, err)
	require.NotContains(t, users, "evil")
	_, err = os.Stat(filepath.Join(data, "planted"))
	require.ErrorIs(t, err, os.ErrNotExist)

	require.Eventually(t, func() bool {
		require.NoError(t, as(admin).Do(ctx, "GET", "/api/2.0/cairn/pipelines/runs/get?run_id="+builtin, nil, &got))
		return got.Run.Phase == "Succeeded"
	}, 60*time.Second, 100*time.Millisecond, "the edit user's built-in pipeline ran")
}
