package mlflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-mlops/cairn/internal/api"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// ChildrenStreamPath streams a run and its child runs (a sweep and its
// trials) as server-sent events.
const ChildrenStreamPath = "/api/2.0/cairn/runs/children/stream"

// Stream pacing: how often the store is read, how often an idle stream
// says it is alive, and how long one stream lasts (the browser's
// EventSource reconnects by itself, so a long watch is a chain of these).
var (
	childrenPoll      = time.Second
	childrenKeepAlive = 15 * time.Second
	childrenMaxLife   = 10 * time.Minute
)

// maxStreamedChildren bounds one snapshot: a sweep's trials, at most.
const maxStreamedChildren = 1000

// streamChildren answers GET ChildrenStreamPath?run_id=P with events
// "runs" ({"run": ..., "children": [...]}, the children newest first) each
// time what the store holds changes, and "end" once the run and every
// child have finished. A bad or unknown run is an ordinary JSON error.
func (h *Handler) streamChildren(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("run_id")
	if id == "" {
		api.Error(w, r, errs.Missing("run_id"))
		return
	}
	// The run must exist before its ID goes into a filter.
	snap, done, err := h.childrenSnapshot(r, id)
	if err != nil {
		api.Error(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy in front must not hold events back
	w.WriteHeader(http.StatusOK)
	send := func(event string, data []byte) bool {
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("runs", snap) {
		return
	}
	if done {
		send("end", []byte("{}"))
		return
	}
	poll := time.NewTicker(childrenPoll)
	defer poll.Stop()
	alive := time.NewTicker(childrenKeepAlive)
	defer alive.Stop()
	life := time.NewTimer(childrenMaxLife)
	defer life.Stop()
	last := snap
	for {
		select {
		case <-r.Context().Done():
			return
		case <-life.C:
			return // the client reconnects and gets a fresh snapshot
		case <-alive.C:
			if _, err := fmt.Fprint(w, ": alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-poll.C:
			snap, done, err := h.childrenSnapshot(r, id)
			if err != nil {
				b, _ := json.Marshal(map[string]string{"message": err.Error()})
				send("error", b)
				return
			}
			if !bytes.Equal(snap, last) {
				if !send("runs", snap) {
					return
				}
				last = snap
			}
			if done {
				send("end", []byte("{}"))
				return
			}
		}
	}
}

// childrenSnapshot reads the run and its children as the stream's JSON, and
// whether all of them have finished.
func (h *Handler) childrenSnapshot(r *http.Request, id string) ([]byte, bool, error) {
	ctx := r.Context()
	run, err := h.tracking.Store().FindRunByID(ctx, id)
	if err != nil {
		return nil, false, err
	}
	kids, _, err := h.tracking.SearchRuns(ctx, tracking.RunQuery{
		ExperimentIDs: []string{run.Info.ExperimentID},
		Filter:        fmt.Sprintf("tags.`mlflow.parentRunId` = '%s'", id),
		OrderBy:       []string{"attributes.start_time DESC"},
		Page:          tracking.Page{MaxResults: maxStreamedChildren},
	})
	if err != nil {
		return nil, false, err
	}
	done := run.Info.Status != tracking.StatusRunning
	out := struct {
		Run      wireRun   `json:"run"`
		Children []wireRun `json:"children"`
	}{Run: toWireRun(run), Children: []wireRun{}}
	for _, k := range kids {
		out.Children = append(out.Children, toWireRun(k))
		if k.Info.Status == tracking.StatusRunning {
			done = false
		}
	}
	b, err := json.Marshal(out)
	return b, done, err
}
