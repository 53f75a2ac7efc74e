package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	osexec "os/exec"
	"syscall"
	"time"
)

// Executor runs one attempt of a task.
type Executor interface {
	// Execute runs job and returns when it has ended and every process it
	// started is gone. A job that could not start (a missing executable)
	// returns a Result with Err set and ExitCode -1.
	Execute(ctx context.Context, job *Job) Result
}

// Job is one attempt of a task: a command with its environment.
type Job struct {
	Args    []string // argv; Args[0] is looked up in PATH
	Env     []string
	Dir     string
	Stdin   io.Reader
	Log     io.Writer // stdout and stderr both go here
	Timeout time.Duration
	// Started, when not nil, gets the process ID (also its process group ID)
	// once the process runs; 0 from an executor that runs it elsewhere.
	Started func(pid int)
	// Shards, when more than 1, runs that many copies of Args at once, each
	// with ShardIndexEnv set to its index (0 to Shards-1); the attempt
	// succeeds when every copy does. On Kubernetes it is an Indexed Job.
	Shards int

	// What an executor that runs the attempt away from this machine (in a
	// container) needs besides; the local executor ignores them.

	// Name identifies the attempt across restarts of this process: running
	// the same Name again attaches to the attempt if it still exists.
	Name string
	// Labels say whose the attempt is (run, task, attempt number).
	Labels map[string]string
	// Image is the container image; empty means the executor's own.
	Image     string
	Resources Resources
	Placement Placement
	// SecretEnv names the entries of Env that are credentials, to be kept
	// apart from the rest (in a Kubernetes Secret, say).
	SecretEnv []string
	// Status, when not nil, hears why an attempt is not running yet
	// ("unschedulable: ...", "waiting for quota ...").
	Status func(msg string)
	// Scratch are folders that must exist, empty and writable, where the
	// attempt runs (its inputs and outputs folders).
	Scratch []string
	// Init, when set, runs before Args in the executor's own image, with
	// the Scratch folders: it installs what Args needs from that image
	// (cairn pod install) into an image of the task's own.
	Init []string
	// OutputsFile is where the attempt writes its output values where it
	// runs; the executor brings the file's content back in Result.Outputs.
	OutputsFile string
}

// The keys of Job.Labels the engine and the sweep runner set.
const (
	LabelRun     = "cairn.dev/run"     // the pipeline run or sweep
	LabelTask    = "cairn.dev/task"    // the task node or trial
	LabelAttempt = "cairn.dev/attempt" // the attempt number, from 1
)

// TaskFilesPrefix is the folder of a pipeline task's tracking run that
// holds the files of its $CAIRN_OUTPUTS_DIR once it succeeded, on every
// executor: downstream tasks take their inputs from there when the folder
// is not on their machine.
const TaskFilesPrefix = "cairn-task"

// Resources is what an attempt may use; zero means unset.
type Resources struct {
	CPU    float64 // cores
	Memory int64   // bytes
	GPU    int
}

// Placement says where an attempt may run on a cluster.
type Placement struct {
	NodeSelector   map[string]string
	Tolerations    []Toleration
	ServiceAccount string
}

// Toleration lets an attempt run on nodes with a matching taint.
type Toleration struct {
	Key      string
	Operator string // Equal (default) or Exists
	Value    string
	Effect   string // NoSchedule, PreferNoSchedule, NoExecute, or empty for all
}

// ErrCancelled is the cause of a context cancelled because someone asked
// for the work to stop (not because this process is shutting down): an
// executor whose attempts outlive this process ends them only for this
// cause, and otherwise leaves them to be attached to again.
var ErrCancelled = errors.New("cancelled")

// ErrDetached is the Err of an attempt left running elsewhere when this
// process stopped watching it (its context ended for another cause than
// ErrCancelled): running the same Job.Name again attaches to it.
var ErrDetached = errors.New("detached: the attempt runs on without this process watching it")

// Result is how an attempt ended.
type Result struct {
	ExitCode int // -1 when the process did not start or was killed
	Err      error
	TimedOut bool
	Canceled bool
	Duration time.Duration
	// Outputs is what the attempt wrote to Job.OutputsFile, from an executor
	// that runs it elsewhere.
	Outputs []byte
}

// LocalOptions configure the local executor.
type LocalOptions struct {
	// KillGrace is how long a process group gets between SIGTERM and SIGKILL
	// when its attempt times out or is cancelled.
	KillGrace time.Duration
}

// DefaultLocalOptions returns a 5 s kill grace.
func DefaultLocalOptions() LocalOptions { return LocalOptions{KillGrace: 5 * time.Second} }

// Local runs jobs as child processes of this one, each in its own process
// group, so a timeout or cancellation kills everything the job started.
type Local struct{ opts LocalOptions }

// NewLocal returns a local executor.
func NewLocal(opts LocalOptions) *Local {
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultLocalOptions().KillGrace
	}
	return &Local{opts: opts}
}

// ErrTimeout is the cause of an attempt that ran past its timeout.
var ErrTimeout = errors.New("timed out")

// Execute implements Executor.
func (l *Local) Execute(ctx context.Context, job *Job) Result {
	start := time.Now()
	if len(job.Args) == 0 {
		return Result{ExitCode: -1, Err: errors.New("no command")}
	}
	if job.Shards > 1 {
		return l.executeShards(ctx, job)
	}
	runCtx := ctx
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, job.Timeout, ErrTimeout)
		defer cancel()
	}
	cmd := osexec.Command(job.Args[0], job.Args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdin = job.Env, job.Dir, job.Stdin
	cmd.Stdout, cmd.Stderr = job.Log, job.Log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1, Err: fmt.Errorf("start %s: %w", job.Args[0], err), Duration: time.Since(start)}
	}
	pid := cmd.Process.Pid
	if job.Started != nil {
		job.Started(pid)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-runCtx.Done():
		// SIGTERM the whole group, then SIGKILL what is left after the grace.
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case err = <-waited:
		case <-time.After(l.opts.KillGrace):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			err = <-waited
		}
	}
	// Whatever the leader left behind in its group goes with it.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	res := Result{ExitCode: cmd.ProcessState.ExitCode(), Duration: time.Since(start)}
	switch {
	case errors.Is(context.Cause(runCtx), ErrTimeout):
		res.TimedOut, res.Err = true, fmt.Errorf("timed out after %s", job.Timeout)
	case ctx.Err() != nil:
		res.Canceled, res.Err = true, errors.New("cancelled")
	case err != nil:
		var ee *osexec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				res.Err = fmt.Errorf("killed by signal %s", ws.Signal())
			} else {
				res.Err = fmt.Errorf("exit status %d", res.ExitCode)
			}
		} else {
			res.Err = err
		}
	}
	return res
}

// KillGroup kills the process group that pid leads, left behind by a
// process that died without cleaning up (used when resuming a run after a
// crash), and reports whether it did. It kills only while pid is still the
// process ProcStart identified as start: after a reboot, or once the task's
// process has ended and the ID has been reused, the group is someone
// else's. A group whose leader has ended is not killed either, as nothing
// then tells its members from those of a group that reused the ID.
func KillGroup(pid int, start string) bool {
	if pid <= 1 || start == "" || ProcStart(pid) != start {
		return false
	}
	return syscall.Kill(-pid, syscall.SIGKILL) == nil
}

// ProcessAlive reports whether a process with this ID exists.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
