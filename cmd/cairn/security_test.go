package main

// The security tests attack a real `cairn server` process (this test binary
// standing in for cairn, see TestMain) the way an outside probe did, and
// assert the safe outcome.

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serverProcess is a `cairn server` child process.
type serverProcess struct {
	URL  string
	Data string
	cmd  *exec.Cmd
	log  *strings.Builder
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
	cmd.Env = append(os.Environ(), "CAIRN_TEST_AS_CAIRN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &serverProcess{Data: data, cmd: cmd, log: &strings.Builder{}}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.log.WriteString(sc.Text() + "\n")
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
