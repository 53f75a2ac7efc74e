package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// job is one attempt of a task or item, run on its own goroutine.
type job struct {
	x        *execution
	node     string
	pt       *spec.PlanTask
	row      *TaskRun
	gpus     []int
	scope    *scope
	keyScope *scope
	needs    map[string]*upstream
	secrets  []string // values masked in the attempt's log and outputs
	reattach bool     // run the last attempt again: it may still be running remotely
}

// resolved is what an attempt runs, with its templates substituted.
type resolved struct {
	command string         // run:
	inputs  map[string]any // uses:
	env     map[string]string
}

func (j *job) resolve(s *scope) (*resolved, error) {
	r := &resolved{env: map[string]string{}}
	if j.pt.Compiled.Run != nil {
		v, err := j.pt.Compiled.Run.Eval(s)
		if err != nil {
			return nil, fmt.Errorf("run: %w", err)
		}
		r.command = spec.Render(v)
	}
	if j.pt.Compiled.With != nil {
		v, err := spec.EvalValue(j.pt.Compiled.With, s)
		if err != nil {
			return nil, fmt.Errorf("with: %w", err)
		}
		r.inputs = v.(map[string]any)
	}
	for k, t := range j.pt.Compiled.Env {
		v, err := t.Eval(s)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", k, err)
		}
		r.env[k] = spec.Render(v)
	}
	return r, nil
}

// cacheKey hashes what determines a task's results: its code (command, or
// step ID and version), its resolved inputs with upstream artifacts named by
// content digest, its item, and the digests of the tasks it needs.
func (j *job) cacheKey(r *resolved) string {
	h := sha256.New()
	fmt.Fprintf(h, "cairn-cache-v1\n%s\n%s\n", j.pt.CodeHash(), r.command)
	b, _ := json.Marshal(r.inputs)
	h.Write(b)
	b, _ = json.Marshal(r.env)
	h.Write(b)
	fmt.Fprintf(h, "\nitem %s\n", j.row.ItemValue)
	needs := make([]string, 0, len(j.needs))
	for n := range j.needs {
		needs = append(needs, n)
	}
	sort.Strings(needs)
	for _, n := range needs {
		u := j.needs[n]
		d := u.digest
		if u.fanout {
			var parts []string
			for _, it := range u.items {
				parts = append(parts, it.digest)
			}
			d = strings.Join(parts, ",")
		}
		fmt.Fprintf(h, "need %s %s %s\n", n, u.phase, d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (j *job) run(ctx context.Context) jobEvent {
	x, e, row := j.x, j.x.e, j.row
	bg := context.WithoutCancel(ctx)
	ev := jobEvent{node: j.node}
	res, err := j.resolve(j.scope)
	if err != nil {
		j.end(bg, Failed, "resolve inputs: "+err.Error(), tracking.StatusFailed)
		return ev
	}
	var keyRes *resolved
	// On a remote executor a cached task's files are in the run that made
	// them, which downstream pods do not know to ask: run it again.
	if j.pt.Cache && !x.where.remote {
		if keyRes, err = j.resolve(j.keyScope); err != nil {
			j.end(bg, Failed, "resolve inputs: "+err.Error(), tracking.StatusFailed)
			return ev
		}
		row.CacheKey = j.cacheKey(keyRes)
		fromRun, hit, err := e.store.FindCachedTaskRun(ctx, row.CacheKey)
		switch {
		case err == nil:
			return j.reuse(bg, res, fromRun, hit)
		case errs.KindOf(err) != errs.NotFound:
			e.opts.Logger.Warn("cache lookup failed; running the task", "run", x.run.ID, "task", j.node, "err", err)
		}
	}
	if row.TrackingRunID == "" {
		if err := j.track(ctx, res, nil); err != nil {
			j.end(bg, Failed, err.Error(), "")
			return ev
		}
	}
	dir := filepath.Join(e.opts.Root, x.run.ID, j.node)
	out, in := filepath.Join(dir, "out"), filepath.Join(dir, "in")
	outputsFile := filepath.Join(dir, "outputs")
	if !j.reattach {
		if err := j.prepare(dir, out, in, outputsFile); err != nil {
			j.end(bg, Failed, "prepare task folder: "+err.Error(), tracking.StatusFailed)
			return ev
		}
	}
	row.OutputDir, row.LogPath = out, filepath.Join(dir, "log")
	where := x.where
	shell := where.shell
	if j.pt.Image != "" {
		shell = []string{"sh"} // the task's own image
	}
	args := append(append([]string{}, shell...), "-c", res.command)
	if j.pt.Step != nil {
		inputsFile := filepath.Join(dir, "inputs.json")
		b, _ := json.MarshalIndent(res.inputs, "", "  ")
		if err := os.WriteFile(inputsFile, b, 0o644); err != nil {
			j.end(bg, Failed, "write inputs: "+err.Error(), tracking.StatusFailed)
			return ev
		}
		args = append(append([]string{}, where.stepCommand...), j.pt.Uses, "--inputs", inputsFile)
		if where.remote { // the file is on this machine
			args = append(append([]string{}, where.stepCommand...), j.pt.Uses, "--inputs-json", string(b))
		}
	}
	f, err := os.OpenFile(row.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		j.end(bg, Failed, "open log: "+err.Error(), tracking.StatusFailed)
		return ev
	}
	defer f.Close()
	env := j.environ(res, in, out, outputsFile)
	if where.remote {
		files, err := j.taskFiles(false)
		if err != nil {
			j.end(bg, Failed, err.Error(), tracking.StatusFailed)
			return ev
		}
		podOut := where.outputsDir(j.node)
		env = append(j.environ(res, where.inputsDir(), podOut, where.outputsFile), "CAIRN_DATA_DIR="+podOut+"/.cairn-data", "CAIRN_TASK_FILES="+files)
		args = append(append([]string{}, where.wrapper...), args...)
	}
	j.secrets = exec.Secrets(env, x.token)
	if sbo := where.sandbox; sbo != nil {
		sb, err := sbo.For(e.opts.Root, x.run.ID, dir, x.run.WorkDir, !j.pt.RunsCommands(), j.pt.Writable)
		if err != nil {
			j.end(bg, Failed, err.Error(), tracking.StatusFailed)
			return ev
		}
		// The system's temporary folder may hold the data folder, so the
		// sandbox grants only what is in it already: a task makes its
		// temporary files in a folder of its own, removed after the attempt.
		tmp := filepath.Join(dir, "tmp")
		if err := os.RemoveAll(tmp); err == nil {
			err = os.Mkdir(tmp, 0o700)
		}
		if err != nil {
			j.end(bg, Failed, "prepare task folder: "+err.Error(), tracking.StatusFailed)
			return ev
		}
		defer os.RemoveAll(tmp)
		args = append(append(append([]string{}, sbo.Command...), "--"), args...)
		env = append(env, exec.SandboxEnv+"="+sb.Encode(), "TMPDIR="+tmp)
	}
	logf := exec.NewMaskWriter(f, j.secrets)
	defer logf.Close()
	if j.reattach && row.Attempts > 0 {
		fmt.Fprintf(logf, "=== %s attempt %d again at %s (it was running when the last server stopped)\n", j.node, row.Attempts, time.Now().UTC().Format(time.RFC3339Nano))
	} else {
		row.Attempts++
		fmt.Fprintf(logf, "=== %s attempt %d at %s\n", j.node, row.Attempts, time.Now().UTC().Format(time.RFC3339Nano))
	}
	jb := &exec.Job{Args: args, Env: env, Dir: x.run.WorkDir, Log: logf, Timeout: j.pt.Timeout,
		Started: func(pid int) {
			row.Phase, row.PID, row.PIDStart, row.Message = Running, pid, "", ""
			if pid > 0 {
				row.PIDStart = exec.ProcStart(pid)
			}
			if row.Started.IsZero() {
				row.Started = time.Now().UTC()
			}
			x.save(bg, row)
		}}
	if jb.Dir == "" {
		jb.Dir = out
	}
	if where.remote {
		j.remoteJob(jb)
		jb.Scratch, jb.OutputsFile, jb.Init = []string{where.root}, where.outputsFile, where.init
	}
	files := e.opts.Files
	if where.remote {
		files = nil // the pod fetches and stores them itself
	}
	var r exec.Result
	if files != nil {
		r.Err = j.fetchInputs(ctx, logf)
	}
	if n := j.pt.Shards; n > 1 && r.Err == nil {
		r = j.runShards(ctx, jb, n, logf)
		jb.Env = append(jb.Env, fmt.Sprintf("CAIRN_SHARDS=%d", n))
		if r.Err == nil {
			fmt.Fprintf(logf, "=== %s: %d shards succeeded in %s; merging them\n", j.node, n, r.Duration.Round(time.Millisecond))
		}
	}
	if r.Err == nil {
		r = where.executor.Execute(ctx, jb)
	}
	row.ExitCode, row.PID, row.PIDStart = r.ExitCode, 0, ""
	if errors.Is(r.Err, exec.ErrDetached) {
		// Still running in the cluster: the run's next owner attaches to it.
		fmt.Fprintf(logf, "=== %s attempt %d left running; resuming the run attaches to it\n", j.node, row.Attempts)
		row.Phase, row.Message = Running, "left running when the server stopped; resume attaches to it"
		x.save(bg, row)
		ev.detached = true
		return ev
	}
	if r.Err == nil && where.remote {
		r.Err = os.WriteFile(outputsFile, r.Outputs, 0o644)
	}
	if r.Err == nil {
		err = j.collect(outputsFile, out, where.remote)
		if err == nil && files != nil {
			var n int
			if n, err = files.Store(ctx, row.TrackingRunID, out); err == nil && n > 0 {
				fmt.Fprintf(logf, "=== stored %d files of %s in run %s\n", n, out, row.TrackingRunID)
			} else if err != nil {
				err = fmt.Errorf("store the task's files: %w", err)
			}
		}
		if err == nil {
			fmt.Fprintf(logf, "=== %s succeeded in %s\n", j.node, r.Duration.Round(time.Millisecond))
			j.end(bg, Succeeded, "", tracking.StatusFinished)
			return ev
		}
		r.Err = err
	}
	msg := fmt.Sprintf("attempt %d: %v", row.Attempts, r.Err)
	if r.ExitCode == 127 {
		msg += " (command not found)"
	}
	fmt.Fprintf(logf, "=== %s %s\n", j.node, msg)
	switch {
	case r.Canceled && errors.Is(context.Cause(ctx), errCancelled):
		j.end(bg, Cancelled, "cancelled", tracking.StatusKilled)
	case r.Canceled:
		row.Phase, row.Message = Pending, "interrupted"
		x.save(bg, row)
	case r.ExitCode == -1 && !r.TimedOut:
		j.end(bg, Failed, msg, tracking.StatusFailed) // could not start: retrying will not help
	case row.Attempts <= j.pt.Retries.Limit:
		ev.retry, ev.retryIn = true, j.pt.Retries.Delay(row.Attempts)
		row.Phase, row.Message = Pending, fmt.Sprintf("%s; retry %d of %d in %s", msg, row.Attempts, j.pt.Retries.Limit, ev.retryIn)
		x.save(bg, row)
	default:
		j.end(bg, Failed, msg, tracking.StatusFailed)
	}
	return ev
}

// prepare makes a clean output folder, the input folder of links to the
// needed tasks' outputs, and an empty outputs file.
func (j *job) prepare(dir, out, in, outputsFile string) error {
	for _, d := range []string{out, in} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for n, u := range j.needs {
		if u.phase != Succeeded {
			continue
		}
		if !u.fanout {
			if err := os.Symlink(u.dir, filepath.Join(in, n)); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Join(in, n), 0o755); err != nil {
			return err
		}
		for i, it := range u.items {
			if err := os.Symlink(it.dir, filepath.Join(in, n, strconv.Itoa(i))); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(outputsFile, nil, 0o644)
}

// runShards runs the n copies of a split task's step (one Indexed Job on
// Kubernetes), each with its index; their parts stay in the outputs folder
// here, or go to the task's run under shardFiles from pods, for the merge
// that jb then runs.
func (j *job) runShards(ctx context.Context, jb *exec.Job, n int, log io.Writer) exec.Result {
	sj := *jb
	sj.Shards = n
	sj.Env = append([]string{}, jb.Env...)
	if j.x.where.remote {
		files, err := j.taskFiles(true)
		if err != nil {
			return exec.Result{ExitCode: -1, Err: err}
		}
		for i, kv := range sj.Env {
			if strings.HasPrefix(kv, "CAIRN_TASK_FILES=") {
				sj.Env[i] = "CAIRN_TASK_FILES=" + files
			}
		}
		sj.Name = jb.Name + "/shards"
		sj.OutputsFile = "" // the merge writes the outputs
	}
	sj.Env = append(sj.Env, fmt.Sprintf("CAIRN_SHARDS=%d", n))
	fmt.Fprintf(log, "=== %s: %d shards at once\n", j.node, n)
	return j.x.where.executor.Execute(ctx, &sj)
}

// fetchInputs makes every needed task's folder on this machine what that
// task produced, from the artifact store where it is not (Files).
func (j *job) fetchInputs(ctx context.Context, log io.Writer) error {
	for _, u := range j.needs {
		if u.phase != Succeeded {
			continue
		}
		ups := []*upstream{u}
		if u.fanout {
			ups = u.items
		}
		for _, it := range ups {
			if it.phase != Succeeded {
				continue
			}
			if err := j.x.e.ensureInput(ctx, it, log); err != nil {
				return err
			}
		}
	}
	return nil
}

// taskFiles is $CAIRN_TASK_FILES of a remote attempt: where its upstream
// tasks' files come from and go, and what it must leave.
//
// Of a task split into shards, the shards' pods store their parts under
// shardFiles, and the merge fetches them first.
func (j *job) taskFiles(shards bool) (string, error) {
	where := j.x.where
	f := taskFiles{Root: where.root, Outputs: where.outputsDir(j.node), RunID: j.row.TrackingRunID, Artifacts: j.pt.ArtifactNames()}
	if shards {
		f.Artifacts, f.Prefix = nil, shardFiles
	} else if j.pt.Shards > 1 {
		f.Inputs = append(f.Inputs, taskInput{RunID: j.row.TrackingRunID, Dir: f.Outputs + "/" + shardParts, Prefix: shardFiles + "/" + shardParts})
	}
	names := make([]string, 0, len(j.needs))
	for n := range j.needs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := j.needs[n]
		if u.phase != Succeeded {
			continue
		}
		if !u.fanout {
			f.Inputs = append(f.Inputs, taskInput{RunID: u.runID, Dir: u.dir, Link: where.inputsDir() + "/" + n})
			continue
		}
		for i, it := range u.items {
			f.Inputs = append(f.Inputs, taskInput{RunID: it.runID, Dir: it.dir, Link: fmt.Sprintf("%s/%s/%d", where.inputsDir(), n, i)})
		}
	}
	b, err := json.Marshal(f)
	return string(b), err
}

// taskFiles and taskInput are jobs.TaskFiles as the engine writes it (the
// engine does not import jobs; cmd/cairn's pod command reads it).
type taskFiles struct {
	Root      string      `json:"root"`
	Inputs    []taskInput `json:"inputs,omitempty"`
	Outputs   string      `json:"outputs"`
	RunID     string      `json:"run_id"`
	Artifacts []string    `json:"artifacts,omitempty"`
	Prefix    string      `json:"prefix,omitempty"`
}

type taskInput struct {
	RunID  string `json:"run_id"`
	Dir    string `json:"dir"`
	Link   string `json:"link,omitempty"`
	Prefix string `json:"prefix,omitempty"`
}

// shardFiles is the folder of a split task's run its shards' pods store
// their parts in, apart from the task's files.
const shardFiles = exec.TaskFilesPrefix + "-shards"

// shardParts is the folder of its outputs folder a split step keeps its
// shards' parts in (see steps' data.images).
const shardParts = ".cairn-shards"

// remoteJob fills in what a remote executor needs to know of the attempt.
func (j *job) remoteJob(jb *exec.Job) {
	x, row := j.x, j.row
	jb.Dir = "" // a folder of this machine
	jb.Name = fmt.Sprintf("%s/%s/%d", x.run.ID, row.Node, row.Attempts)
	jb.Labels = map[string]string{exec.LabelRun: x.run.ID, exec.LabelTask: row.Node, exec.LabelAttempt: strconv.Itoa(row.Attempts)}
	jb.Image = j.pt.Image
	req := x.e.request(j.pt)
	jb.Resources = exec.Resources{CPU: req.CPU, Memory: req.Memory, GPU: req.GPU}
	k := x.plan.Spec.Kubernetes.Merge(j.pt.Kubernetes)
	jb.Placement = exec.Placement{NodeSelector: k.NodeSelector, ServiceAccount: k.ServiceAccount}
	for _, t := range k.Tolerations {
		jb.Placement.Tolerations = append(jb.Placement.Tolerations, exec.Toleration(t))
	}
	if x.token != "" {
		jb.SecretEnv = []string{"MLFLOW_TRACKING_TOKEN"}
	}
	bg := context.Background()
	jb.Status = func(msg string) {
		row.Message = msg
		x.save(bg, row)
	}
}

func (j *job) environ(r *resolved, in, out, outputsFile string) []string {
	x, row := j.x, j.row
	env := append([]string{}, x.where.environ...)
	set := func(k, v string) { env = append(env, k+"="+v) }
	if x.where.trackingURI != "" {
		set("MLFLOW_TRACKING_URI", x.where.trackingURI)
	}
	if x.token != "" {
		set("MLFLOW_TRACKING_TOKEN", x.token)
	}
	set("MLFLOW_RUN_ID", row.TrackingRunID)
	set("MLFLOW_EXPERIMENT_ID", x.run.ExperimentID)
	set("CAIRN_PIPELINE", x.run.Pipeline)
	set("CAIRN_RUN_ID", x.run.ID)
	set("CAIRN_TASK", row.Task)
	set("CAIRN_INPUTS_DIR", in)
	set("CAIRN_OUTPUTS_DIR", out)
	set("CAIRN_OUTPUTS", outputsFile)
	if row.Item >= 0 {
		var v any
		_ = json.Unmarshal([]byte(row.ItemValue), &v)
		set("CAIRN_ITEM", spec.Render(v))
		set("CAIRN_ITEM_INDEX", strconv.Itoa(row.Item))
	}
	if x.e.opts.Capacity.GPU > 0 && !x.where.remote {
		ids := make([]string, len(j.gpus))
		for i, g := range j.gpus {
			ids[i] = strconv.Itoa(g)
		}
		set("CUDA_VISIBLE_DEVICES", strings.Join(ids, ","))
	}
	keys := make([]string, 0, len(r.env))
	for k := range r.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set(k, r.env[k])
	}
	return env
}

// collect reads the outputs a successful attempt wrote and checks that the
// declared ones are there.
func (j *job) collect(outputsFile, out string, remote bool) error {
	f, err := os.Open(outputsFile)
	if err != nil {
		return fmt.Errorf("read outputs: %w", err)
	}
	vals, err := spec.ParseOutputs(f)
	f.Close()
	if err != nil {
		return err
	}
	for k, v := range vals {
		vals[k] = exec.MaskString(v, j.secrets)
	}
	var missing []string
	for _, o := range j.pt.ValueOutputs() {
		if _, ok := vals[o]; !ok {
			missing = append(missing, o)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the task did not write declared outputs %s to $CAIRN_OUTPUTS (lines name=value)", strings.Join(missing, ", "))
	}
	for _, a := range j.pt.ArtifactNames() {
		if remote {
			break // checked in the container, before its files were stored
		}
		if _, err := os.Lstat(filepath.Join(out, a)); err != nil {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the task did not write declared artifacts %s to $CAIRN_OUTPUTS_DIR", strings.Join(missing, ", "))
	}
	d, err := digest(vals, out)
	if err != nil {
		return err
	}
	j.row.Outputs, j.row.Digest = vals, d
	return nil
}

// reuse completes a task from an earlier success with the same cache key.
func (j *job) reuse(ctx context.Context, res *resolved, fromRun string, hit *TaskRun) jobEvent {
	row := j.row
	row.Outputs, row.OutputDir, row.Digest = hit.Outputs, hit.OutputDir, hit.Digest
	row.CachedFrom = fromRun + "/" + hit.Node
	if row.TrackingRunID == "" {
		if err := j.track(ctx, res, map[string]string{"cairn.cached": "true", "cairn.cachedFrom": row.CachedFrom}); err != nil {
			j.end(ctx, Failed, err.Error(), "")
			return jobEvent{node: j.node}
		}
	}
	now := time.Now().UTC()
	if row.Started.IsZero() {
		row.Started = now
	}
	j.end(ctx, Succeeded, "cached: reused "+row.CachedFrom, tracking.StatusFinished)
	return jobEvent{node: j.node}
}

// track creates the task's tracking run, a child of the pipeline's.
func (j *job) track(ctx context.Context, res *resolved, tags map[string]string) error {
	x, row := j.x, j.row
	params := map[string]string{}
	if j.pt.Step != nil {
		params["cairn.step"] = j.pt.Uses
		for k, v := range res.inputs {
			params[k] = spec.Render(v)
		}
	} else {
		params["cairn.command"] = res.command
	}
	if row.Item >= 0 {
		params["cairn.item"] = row.ItemValue
	}
	all := map[string]string{"cairn.pipeline": x.run.Pipeline, "cairn.pipelineRun": x.run.ID, "cairn.task": row.Task, "cairn.node": row.Node}
	for k, v := range tags {
		all[k] = v
	}
	id, _, err := x.e.tracker.StartRun(ctx, TrackedRun{Experiment: x.run.Pipeline, Name: row.Node, ParentRunID: x.run.TrackingRunID,
		Params: params, Tags: all})
	if err != nil {
		return fmt.Errorf("create tracking run: %w", err)
	}
	row.TrackingRunID = id
	return nil
}

// end records a final phase and ends the task's tracking run.
func (j *job) end(ctx context.Context, p Phase, msg, status string) {
	row := j.row
	row.Phase, row.Message, row.Finished, row.PID, row.PIDStart = p, msg, time.Now().UTC(), 0, ""
	j.x.save(ctx, row)
	if status != "" && row.TrackingRunID != "" {
		if err := j.x.e.tracker.SetStatus(ctx, row.TrackingRunID, status); err != nil {
			j.x.e.opts.Logger.Warn("end task tracking run", "run", j.x.run.ID, "task", row.Node, "err", err)
		}
	}
}
