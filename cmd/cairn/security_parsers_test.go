package main

// Inputs that once crashed the server or made it answer 500, sent to a real
// `cairn server` process: each must be refused with a 400 that says why,
// and the server must go on serving.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// specBody is the JSON body of pipelines/create for a YAML spec.
func specBody(t *testing.T, spec string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"spec": spec})
	require.NoError(t, err)
	return string(b)
}

// requireServing fails unless the server still answers.
func requireServing(t *testing.T, p *serverProcess) {
	t.Helper()
	status, body := p.send(t, "GET", "/health", "", nil)
	require.Equal(t, 200, status, "the server stopped serving: %s\n%s", body, p.log)
}

func TestSecurityPipelineCycles(t *testing.T) {
	p := startServerProcess(t, t.TempDir())
	for name, c := range map[string]struct{ spec, want string }{
		"self":        {"name: selfish\ntasks:\n  a:\n    needs: [a]\n    run: echo a\n", `task \"a\" needs itself`},
		"two":         {"name: pair\ntasks:\n  a: {needs: [b], run: echo}\n  b: {needs: [a], run: echo}\n", "cycle: b -> a -> b"},
		"from a task": {"name: tail\ntasks:\n  x: {needs: [a], run: echo}\n  a: {needs: [a, x], run: echo}\n", `task \"a\" needs itself`},
	} {
		status, body := p.send(t, "POST", "/api/2.0/cairn/pipelines/create", specBody(t, c.spec), jsonType)
		require.Equal(t, 400, status, "%s: %s", name, body)
		require.Contains(t, body, "INVALID_PARAMETER_VALUE", name)
		require.Contains(t, body, c.want, name)
		requireServing(t, p)
	}
	// Ten thousand tasks in one cycle, more than a pipeline may hold.
	var b strings.Builder
	b.WriteString("name: ring\ntasks:\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "  t%d: {needs: [t%d], run: echo}\n", i, (i+1)%10000)
	}
	status, body := p.send(t, "POST", "/api/2.0/cairn/pipelines/create", specBody(t, b.String()), jsonType)
	require.Equal(t, 400, status, body)
	require.Contains(t, body, "the pipeline has 10000 tasks, more than the 1000 a pipeline may have")
	requireServing(t, p)
}

func TestSecurityPipelineForEachFanOut(t *testing.T) {
	p := startServerProcess(t, t.TempDir())
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprint(i)
	}
	l := "[" + strings.Join(hundred, ", ") + "]"
	spec := "name: cube\ntasks:\n  fan:\n    run: echo ${{ item.a }}\n    for_each: {a: " + l + ", b: " + l + ", c: " + l + "}\n"
	for _, path := range []string{"/api/2.0/cairn/pipelines/create", "/api/2.0/cairn/pipelines/runs/submit"} {
		status, body := p.send(t, "POST", path, specBody(t, spec), jsonType)
		require.Equal(t, 400, status, "%s: %s", path, body)
		require.Contains(t, body, `task \"fan\" for_each: 1000000 items, more than the 10000 a task may fan out to`, path)
		requireServing(t, p)
	}
}

func TestSecurityRunsSearchLimits(t *testing.T) {
	p := startServerProcess(t, t.TempDir())
	values := make([]string, 40000)
	for i := range values {
		values[i] = fmt.Sprintf("'%d'", i)
	}
	for name, c := range map[string]struct {
		req  map[string]any
		want string
	}{
		"501 clauses": {map[string]any{"experiment_ids": []string{"0"},
			"filter": strings.TrimSuffix(strings.Repeat("metrics.a > 0 AND ", 501), " AND ")}, "more than the 100 clauses allowed"},
		"40,000 values": {map[string]any{"experiment_ids": []string{"0"}, "filter": "run_id IN (" + strings.Join(values, ",") + ")"},
			"the IN lists hold more than the 10000 values allowed in one filter"},
		"order_by": {map[string]any{"experiment_ids": []string{"0"}, "order_by": strings.Split(strings.Repeat("metrics.a,", 21), ",")[:21]},
			"invalid order_by: 21 keys, more than the 20 allowed"},
	} {
		body, err := json.Marshal(c.req)
		require.NoError(t, err)
		status, out := p.send(t, "POST", "/api/2.0/mlflow/runs/search", string(body), jsonType)
		require.Equal(t, 400, status, "%s: %.500s", name, out)
		require.Contains(t, out, "INVALID_PARAMETER_VALUE", name)
		require.Contains(t, out, c.want, name)
		require.Less(t, len(out), 2000, name)
		requireServing(t, p)
	}
	// The largest filter the limits allow runs.
	filter := strings.TrimSuffix(strings.Repeat("params.p = 'v' AND ", 99), " AND ") + " AND run_id IN (" + strings.Join(values[:10000], ",") + ")"
	body, err := json.Marshal(map[string]any{"experiment_ids": []string{"0"}, "filter": filter})
	require.NoError(t, err)
	status, out := p.send(t, "POST", "/api/2.0/mlflow/runs/search", string(body), jsonType)
	require.Equal(t, 200, status, "%.500s", out)
}

// TestSecurityRunSelfCycle: `cairn run` refuses a spec whose task needs
// itself instead of overflowing its stack.
func TestSecurityRunSelfCycle(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "selfish.yaml")
	require.NoError(t, os.WriteFile(spec, []byte("name: selfish\ntasks:\n  a:\n    needs: [a]\n    run: echo a\n"), 0o644))
	out, err := run(t, "run", spec, "--data", dir, "--log-level", "warn")
	require.Error(t, err)
	require.Contains(t, out+err.Error(), `selfish.yaml:4: task "a" needs itself`)
}
