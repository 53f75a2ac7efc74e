package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SandboxEnv carries a task's Sandbox, as JSON, to the sandbox command
// that applies it and then runs the task.
const SandboxEnv = "CAIRN_SANDBOX"

// Sandbox is what a task's processes may do to the file system: read
// everything except Hidden (but Readable inside it), and write only
// Writable. It is enforced by the kernel (Linux Landlock) on the task and
// everything it starts, which also may not signal or trace processes
// outside it.
type Sandbox struct {
	Hidden   []string `json:"hidden"`
	Readable []string `json:"readable,omitempty"`
	Writable []string `json:"writable,omitempty"`
}

// devices are the device files every task may read and write; the rest of
// /dev (disks, among them) is out of reach.
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}

// deviceDirs are /dev's folders every task may read and write.
var deviceDirs = []string{"/dev/pts", "/dev/shm"}

// SandboxOptions configure the sandbox of an engine's tasks.
type SandboxOptions struct {
	// Command starts the sandbox: the task's argv is appended after "--".
	// Default: this executable with "sandbox".
	Command []string
	// Hidden are what tasks may neither read nor write: the server's data
	// folder, its database, a local artifact store.
	Hidden []string
	// Shared are folders inside Hidden that every task may read and built-in
	// steps may write: the dataset cache.
	Shared []string
	// PerRun are folders inside Hidden under which a run's built-in steps
	// write DIR/RUN_ID (a sweep's state).
	PerRun []string
}

// For returns the sandbox of one attempt: it reads the pipelines'
// task folders (its inputs link to them) and Shared; it writes its own
// folder, /tmp and the devices; built-in steps also write Shared and their
// run's PerRun folders; and a task's writable: paths are added. Errors:
// Invalid (a writable path inside a hidden one).
func (o *SandboxOptions) For(root, runID, taskDir, workDir string, step bool, writable []string) (*Sandbox, error) {
	sb := &Sandbox{Hidden: o.Hidden, Readable: append([]string{root}, o.Shared...)}
	sb.Writable = append([]string{taskDir, os.TempDir()}, deviceDirs...)
	if step {
		sb.Writable = append(sb.Writable, o.Shared...)
		for _, d := range o.PerRun {
			p := filepath.Join(d, runID)
			if err := os.MkdirAll(p, 0o700); err != nil {
				return nil, fmt.Errorf("sandbox: %w", err)
			}
			sb.Writable = append(sb.Writable, p)
		}
	}
	for _, w := range writable {
		p := w
		if !filepath.IsAbs(p) {
			p = filepath.Join(workDir, p)
		}
		p = filepath.Clean(p)
		for _, h := range o.Hidden {
			if within(p, h) || within(h, p) {
				return nil, fmt.Errorf("writable path '%s' reaches into the server's data (%s), which tasks may never write", w, h)
			}
		}
		sb.Writable = append(sb.Writable, p)
	}
	return sb, nil
}

// within reports whether path p is dir or inside it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// Encode returns the sandbox as the value of SandboxEnv.
func (s *Sandbox) Encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// DecodeSandbox reads a sandbox encoded by Encode. Errors: a malformed
// value, or a path that is not absolute.
func DecodeSandbox(v string) (*Sandbox, error) {
	var s Sandbox
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil, fmt.Errorf("%s: %w", SandboxEnv, err)
	}
	for _, p := range slices.Concat(s.Hidden, s.Readable, s.Writable) {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%s: path %q is not absolute", SandboxEnv, p)
		}
	}
	return &s, nil
}

// paths says what a sandbox lets a task reach, as folders and files to
// grant: everything from / except the hidden paths for reading, Readable
// and Writable as given. A grant covers everything below it, so a granted
// folder that holds a hidden path (/ itself, or /tmp when the data folder
// is in it) is replaced by its entries except the ones leading to the hidden
// path, down to it; grants inside a hidden path are deliberate exceptions
// and kept. /dev is hidden too (see devices). Entries that appear later in
// a replaced folder are not granted; symbolic links that resolve into, or
// above, a hidden path are not granted.
func (s *Sandbox) paths() (read, write grants, err error) {
	hidden := []string{"/dev"}
	for _, h := range s.Hidden {
		if r, err := filepath.EvalSymlinks(h); err == nil {
			h = r
		}
		hidden = append(hidden, filepath.Clean(h))
	}
	if read, err = expand([]string{"/"}, hidden); err != nil {
		return read, write, err
	}
	more, err := expand(s.Readable, hidden)
	if err != nil {
		return read, write, err
	}
	read.add(more)
	write, err = expand(s.Writable, hidden)
	return read, write, err
}

// grants are folders and files to grant access to.
type grants struct{ dirs, files []string }

func (g *grants) add(o grants) {
	g.dirs = append(g.dirs, o.dirs...)
	g.files = append(g.files, o.files...)
}

// expand returns roots as grants, each replaced by its entries where it
// holds a hidden path (see paths). Roots that do not exist are left out.
func expand(roots, hidden []string) (grants, error) {
	var g grants
	insideHidden := func(p string) bool {
		for _, h := range hidden {
			if within(p, h) {
				return true
			}
		}
		return false
	}
	holdsHidden := func(p string) bool {
		for _, h := range hidden {
			if within(h, p) {
				return true
			}
		}
		return false
	}
	var visit func(p string, top bool) error
	visit = func(p string, top bool) error {
		target, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // missing or dangling: nothing to grant
		}
		if !top && insideHidden(target) {
			return nil
		}
		if top && insideHidden(target) && !holdsHidden(target) {
			// A deliberate exception inside a hidden path.
		} else if holdsHidden(target) {
			if target != filepath.Clean(p) {
				return nil // a link to above a hidden path
			}
			if slices.Contains(hidden, target) {
				return nil
			}
			entries, err := os.ReadDir(target)
			if err != nil {
				if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
					return nil
				}
				return err
			}
			for _, e := range entries {
				if err := visit(filepath.Join(target, e.Name()), false); err != nil {
					return err
				}
			}
			return nil
		}
		fi, err := os.Stat(target)
		if err != nil {
			return nil
		}
		if fi.IsDir() {
			g.dirs = append(g.dirs, p)
		} else {
			g.files = append(g.files, p)
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(filepath.Clean(r), true); err != nil {
			return g, err
		}
	}
	return g, nil
}
