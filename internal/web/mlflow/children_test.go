package mlflow_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/web"
)

// event is one server-sent event.
type event struct {
	name string
	data string
}

// readEvents reads server-sent events from a stream into a channel.
func readEvents(t *testing.T, resp *http.Response) <-chan event {
	t.Helper()
	ch := make(chan event, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				ch <- ev
				ev = event{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan event, name string) map[string]any {
	t.Helper()
	select {
	case ev, ok := <-ch:
		require.True(t, ok, "the stream ended before %q", name)
		require.Equal(t, name, ev.name, ev.data)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(ev.data), &out))
		return out
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q event", name)
	}
	return nil
}

// A sweep's page follows its trials live: the stream sends the run and its
// children, again when they change, and ends once all have finished.
func TestChildrenStream(t *testing.T) {
	srv := newServer(t)
	exp := ok(t, call(t, srv, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "sweep"}))["experiment_id"].(string)
	create := func(name string, tags ...map[string]any) string {
		t.Helper()
		r := ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp, "run_name": name, "tags": tags}))["run"].(map[string]any)
		return r["info"].(map[string]any)["run_id"].(string)
	}
	parent := create("sweep")
	t1 := create("t000", map[string]any{"key": "mlflow.parentRunId", "value": parent})
	create("unrelated")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/2.0/cairn/runs/children/stream?run_id="+parent, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	ch := readEvents(t, resp)

	first := next(t, ch, "runs")
	require.Equal(t, parent, first["run"].(map[string]any)["info"].(map[string]any)["run_id"])
	require.Len(t, first["children"], 1, "the trial, not the unrelated run")

	// A second trial and a metric arrive without asking again.
	t2 := create("t001", map[string]any{"key": "mlflow.parentRunId", "value": parent})
	ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/log-metric", map[string]any{"run_id": t1, "key": "val_accuracy", "value": 0.5, "timestamp": 1, "step": 1}))
	var snap map[string]any
	for snap == nil || len(snap["children"].([]any)) < 2 || !strings.Contains(mustJSON(t, snap), "val_accuracy") {
		snap = next(t, ch, "runs")
	}

	for _, id := range []string{t1, t2, parent} {
		ok(t, call(t, srv, "POST", "/api/2.0/mlflow/runs/update", map[string]any{"run_id": id, "status": "FINISHED", "end_time": 2}))
	}
	for {
		ev, okk := <-ch
		require.True(t, okk, "the stream ended without an end event")
		if ev.name == "end" {
			break
		}
		require.Equal(t, "runs", ev.name)
	}

	// Bad requests are plain JSON errors.
	r := call(t, srv, "GET", "/api/2.0/cairn/runs/children/stream", nil)
	require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
	r = call(t, srv, "GET", "/api/2.0/cairn/runs/children/stream?run_id=nope'or'1", nil)
	require.Equal(t, http.StatusNotFound, r.Status, r.Raw)
	// A finished sweep streams once and ends.
	r = call(t, srv, "GET", "/api/2.0/cairn/runs/children/stream?run_id="+parent, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Contains(t, r.Raw, "event: runs\n")
	require.True(t, strings.HasSuffix(r.Raw, "event: end\ndata: {}\n\n"), r.Raw)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// The stream is a read, like any GET: a viewer may follow a sweep, and a
// page on another site gets no CORS grant to read it (an EventSource from
// there fails).
func TestChildrenStreamAccess(t *testing.T) {
	req := httptest.NewRequest("GET", "/api/2.0/cairn/runs/children/stream?run_id=x", nil)
	require.Equal(t, web.Read, web.AccessFor(req))
	srv := newServer(t)
	r, err := http.NewRequest("GET", srv.URL+"/api/2.0/cairn/runs/children/stream?run_id=nope", nil)
	require.NoError(t, err)
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := srv.Client().Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}
