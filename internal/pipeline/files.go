package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// Files keeps the files of tasks that run on this machine where a remote
// executor's pods keep theirs: in the artifact store, under
// exec.TaskFilesPrefix of the task's tracking run. A task's outputs folder
// goes there when it succeeds; a downstream task uses the folder on this
// machine when it is there unchanged (its digest is the recorded one) and
// fetches it otherwise: the run was resumed by another server, or the data
// folder was cleaned. So the artifact store, not this machine's disk, is
// what a run's files are, on both executors.
type Files interface {
	// Store uploads the files under dir to run trackingRunID and returns
	// how many. Errors: Invalid (a link to a folder), NotFound (no run).
	Store(ctx context.Context, trackingRunID, dir string) (int, error)
	// Fetch downloads them into dir, which must not exist, and returns
	// how many. Errors: NotFound (no run).
	Fetch(ctx context.Context, trackingRunID, dir string) (int, error)
}

// ArtifactFiles is Files over the tracking runs' artifact locations.
type ArtifactFiles struct {
	runs  tracking.Store
	roots artifact.Resolver
}

// NewArtifactFiles returns Files that find a run's artifact location in
// runs and its store in roots.
func NewArtifactFiles(runs tracking.Store, roots artifact.Resolver) *ArtifactFiles {
	return &ArtifactFiles{runs: runs, roots: roots}
}

func (a *ArtifactFiles) store(ctx context.Context, runID string) (artifact.Store, string, error) {
	run, err := a.runs.FindRunByID(ctx, runID)
	if err != nil {
		return nil, "", err
	}
	st, base, err := a.roots.Resolve(run.Info.ArtifactURI)
	if err != nil {
		return nil, "", err
	}
	return st, path.Join(base, exec.TaskFilesPrefix), nil
}

// Store implements Files. A link is stored as the file it names.
func (a *ArtifactFiles) Store(ctx context.Context, runID, dir string) (int, error) {
	st, base, err := a.store(ctx, runID)
	if err != nil {
		return 0, err
	}
	// What an earlier attempt stored goes: the run's files are this one's.
	if err := st.Delete(ctx, base); err != nil {
		return 0, err
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return errs.Invalidf("%s is not a file (a link to a folder?): a task's outputs folder holds files and folders only", rel)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := st.Put(ctx, base+"/"+filepath.ToSlash(rel), f); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		n++
		return nil
	})
	return n, err
}

// Fetch implements Files.
func (a *ArtifactFiles) Fetch(ctx context.Context, runID, dir string) (int, error) {
	st, base, err := a.store(ctx, runID)
	if err != nil {
		return 0, err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return 0, err
	}
	return fetchTree(ctx, st, base, dir)
}

func fetchTree(ctx context.Context, st artifact.Store, from, dir string) (int, error) {
	entries, err := st.List(ctx, from)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		name := path.Base(e.Path)
		if name == "." || name == ".." || name == "" || strings.ContainsAny(name, `/\`) {
			return n, errs.Invalidf("artifact %q: not a file name", e.Path)
		}
		dst := filepath.Join(dir, name)
		if e.IsDir {
			if err := os.Mkdir(dst, 0o755); err != nil {
				return n, err
			}
			m, err := fetchTree(ctx, st, e.Path, dst)
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		if err := fetchFile(ctx, st, e.Path, dst); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func fetchFile(ctx context.Context, st artifact.Store, from, dst string) error {
	r, _, err := st.Get(ctx, from)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// folderLocks serialise the fetches of one folder, which two downstream
// tasks of the same upstream may need at once.
type folderLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (l *folderLocks) lock(dir string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m := l.locks[dir]
	if m == nil {
		m = &sync.Mutex{}
		l.locks[dir] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// ensureInput makes u's folder on this machine what u produced: kept when
// its digest is the recorded one, else fetched from the artifact store
// into place.
func (e *Engine) ensureInput(ctx context.Context, u *upstream, log io.Writer) error {
	if u.dir == "" {
		return nil
	}
	unlock := e.fetching.lock(u.dir)
	defer unlock()
	if _, err := os.Stat(u.dir); err == nil {
		if d, err := digest(u.outputs, u.dir); err == nil && d == u.digest {
			return nil
		}
	}
	runID, err := e.filesRun(ctx, u)
	if err != nil {
		return fmt.Errorf("find the files of task %s: %w", u.node, err)
	}
	tmp := filepath.Join(filepath.Dir(u.dir), "."+filepath.Base(u.dir)+".fetch")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return err
	}
	n, err := e.opts.Files.Fetch(ctx, runID, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("fetch the files of task %s from run %s: %w", u.node, runID, err)
	}
	if d, err := digest(u.outputs, tmp); err != nil || d != u.digest {
		os.RemoveAll(tmp)
		return fmt.Errorf("the files of task %s in run %s are not what it produced (digest %s, recorded %s)", u.node, runID, d, u.digest)
	}
	if err := os.RemoveAll(u.dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, u.dir); err != nil {
		return err
	}
	fmt.Fprintf(log, "=== fetched %d files of task %s from run %s into %s (not on this machine)\n", n, u.node, runID, u.dir)
	return nil
}

// filesRun is the tracking run that holds u's files: its own, or for a
// task completed from the cache, that of the task that made them.
func (e *Engine) filesRun(ctx context.Context, u *upstream) (string, error) {
	runID, from := u.runID, u.cachedFrom
	for hops := 0; from != "" && hops < 16; hops++ {
		pr, node, ok := strings.Cut(from, "/")
		if !ok {
			return "", errs.Invalidf("cached from %q: not RUN/TASK", from)
		}
		r, err := e.store.FindPipelineRunByID(ctx, pr)
		if err != nil {
			return "", err
		}
		var hit *TaskRun
		for _, t := range r.Tasks {
			if t.Node == node {
				hit = t
			}
		}
		if hit == nil {
			return "", errs.E(errs.NotFound, "task %s of run %s", node, pr)
		}
		runID, from = hit.TrackingRunID, hit.CachedFrom
	}
	if runID == "" {
		return "", errors.New("it has no tracking run")
	}
	return runID, nil
}
