package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
)

// TaskFilesPrefix is where a task's files go in its tracking run.
const TaskFilesPrefix = exec.TaskFilesPrefix

// TaskFiles is how the files of a task that runs in a container travel:
// before the command, each input's files come from its task's tracking run
// into Dir (the folder that task wrote them to, at the same path, so that
// paths in its output values hold) with a link at Link; after it, the
// command's outputs folder goes to the task's own run. The engine passes it
// as JSON in $CAIRN_TASK_FILES.
type TaskFiles struct {
	// Root holds every folder and link below: nothing outside it is
	// removed, written or linked.
	Root      string      `json:"root"`
	Inputs    []TaskInput `json:"inputs,omitempty"`
	Outputs   string      `json:"outputs"`             // the outputs folder
	RunID     string      `json:"run_id"`              // the task's tracking run
	Artifacts []string    `json:"artifacts,omitempty"` // what the task must leave in Outputs
	// Prefix is the folder of the run the outputs go to; default
	// TaskFilesPrefix (the shards of a split task store their parts apart).
	Prefix string `json:"prefix,omitempty"`
}

// TaskInput is the files of one upstream task.
type TaskInput struct {
	RunID string `json:"run_id"`
	Dir   string `json:"dir"`
	Link  string `json:"link,omitempty"`
	// Prefix is the folder of the run they come from; default TaskFilesPrefix.
	Prefix string `json:"prefix,omitempty"`
}

func prefixOr(p string) string {
	if p == "" {
		return TaskFilesPrefix
	}
	return p
}

// FetchInputs brings every input's files to its folder and makes the links
// and the outputs folder.
func (f *TaskFiles) FetchInputs(ctx context.Context, c *client.Client, log io.Writer) error {
	if !f.inRoot(f.Outputs) {
		return errs.Invalidf("task files: outputs folder %q must be inside %s", f.Outputs, f.Root)
	}
	if err := os.MkdirAll(f.Outputs, 0o755); err != nil {
		return err
	}
	for _, in := range f.Inputs {
		if !f.inRoot(in.Dir) || in.Link != "" && !f.inRoot(in.Link) {
			return errs.Invalidf("task files: input folder %q and link %q must be inside %s", in.Dir, in.Link, f.Root)
		}
		// A fresh copy: what an earlier attempt in the same place fetched goes.
		if err := os.RemoveAll(in.Dir); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(in.Dir), 0o755); err != nil {
			return err
		}
		err := c.DownloadArtifacts(ctx, in.RunID, prefixOr(in.Prefix), in.Dir)
		switch {
		case errs.KindOf(err) == errs.NotFound: // the task left no files, or the run is gone
			if _, err = c.GetRun(ctx, in.RunID); err == nil {
				err = os.MkdirAll(in.Dir, 0o755)
			}
		case err == nil:
			fmt.Fprintf(log, "=== fetched the files of run %s into %s\n", in.RunID, in.Dir)
		}
		if err != nil {
			return fmt.Errorf("fetch the files of run %s: %w", in.RunID, err)
		}
		if in.Link != "" {
			if err := os.MkdirAll(filepath.Dir(in.Link), 0o755); err != nil {
				return err
			}
			if err := os.Remove(in.Link); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if err := os.Symlink(in.Dir, in.Link); err != nil {
				return err
			}
		}
	}
	return nil
}

// StoreOutputs checks the declared artifacts are there and uploads the
// outputs folder to the task's tracking run.
func (f *TaskFiles) StoreOutputs(ctx context.Context, c *client.Client, log io.Writer) error {
	var missing []string
	for _, a := range f.Artifacts {
		if _, err := os.Lstat(filepath.Join(f.Outputs, a)); err != nil {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the task did not write declared artifacts %s to $CAIRN_OUTPUTS_DIR", strings.Join(missing, ", "))
	}
	run, err := c.GetRun(ctx, f.RunID)
	if err != nil {
		return fmt.Errorf("store the task's files: %w", err)
	}
	n := 0
	err = filepath.WalkDir(f.Outputs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if err := uploadDir(ctx, c, run, f.Outputs, prefixOr(f.Prefix)); err != nil {
		return fmt.Errorf("store the task's files: %w", err)
	}
	fmt.Fprintf(log, "=== stored %d files of %s in run %s\n", n, f.Outputs, f.RunID)
	return nil
}

// inRoot reports whether p is an absolute path strictly inside Root.
func (f *TaskFiles) inRoot(p string) bool {
	if !filepath.IsAbs(p) || !filepath.IsAbs(f.Root) {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(f.Root), filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// ParseTaskFiles reads $CAIRN_TASK_FILES.
func ParseTaskFiles(s string) (*TaskFiles, error) {
	var f TaskFiles
	d := json.NewDecoder(strings.NewReader(s))
	d.DisallowUnknownFields()
	if err := d.Decode(&f); err != nil {
		return nil, errs.Invalidf("CAIRN_TASK_FILES: %v", err)
	}
	if !f.inRoot(f.Outputs) || f.RunID == "" {
		return nil, errs.Invalidf("CAIRN_TASK_FILES: an absolute root, an outputs folder inside it and a run_id are needed")
	}
	return &f, nil
}
