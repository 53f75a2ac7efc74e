package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

func init() {
	Register(Info{ID: spec.ShellStep, Version: "1", Doc: "run a shell command (the run: form)",
		New: func() Step { return &Shell{Shell: "sh"} }})
	Register(Info{ID: "core.download", Version: "1", Doc: "download a URL into the output folder, checking its SHA-256",
		Outputs: []string{"file", "sha256", "bytes"},
		New:     func() Step { return &Download{Timeout: "10m"} }})
}

// Shell runs a command with `sh -c`, as a `run:` task does.
type Shell struct {
	Command string `json:"command"`
	Shell   string `json:"shell"`
}

// Validate implements Validator.
func (s *Shell) Validate() error {
	if strings.TrimSpace(s.Command) == "" {
		return errors.New("input \"command\" is required")
	}
	return nil
}

// Run implements Step.
func (s *Shell) Run(ctx context.Context, env Env) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, s.Shell, "-c", s.Command)
	cmd.Stdout, cmd.Stderr, cmd.Env, cmd.Dir = env.Stdout, env.Stderr, env.Environ, env.OutputsDir
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s -c: %w", s.Shell, err)
	}
	return nil, nil
}

// Download fetches a URL into the output folder.
type Download struct {
	URL     string `json:"url"`
	File    string `json:"file"`    // name in the output folder; default: the URL's last segment
	SHA256  string `json:"sha256"`  // expected digest, hex; empty skips the check
	Timeout string `json:"timeout"` // e.g. 10m
}

// Validate implements Validator.
func (d *Download) Validate() error {
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("input \"url\" must be an http or https URL, got %q", d.URL)
	}
	if d.File != "" && (filepath.Base(d.File) != d.File || d.File == "." || d.File == "..") {
		return fmt.Errorf("input \"file\" must be a plain file name, got %q", d.File)
	}
	if d.SHA256 != "" {
		if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != sha256.Size {
			return fmt.Errorf("input \"sha256\" must be 64 hex digits")
		}
	}
	if _, err := time.ParseDuration(d.Timeout); err != nil {
		return fmt.Errorf("input \"timeout\" must be a duration such as 10m, got %q", d.Timeout)
	}
	return nil
}

// Run implements Step.
func (d *Download) Run(ctx context.Context, env Env) (map[string]string, error) {
	timeout, _ := time.ParseDuration(d.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := d.File
	if name == "" {
		u, _ := url.Parse(d.URL)
		name = path.Base(u.Path)
		if name == "/" || name == "." || name == "" {
			name = "download"
		}
	}
	// data.Download verifies the digest and never leaves a partial file;
	// it names the file by its digest, so move it to the name asked for.
	tmp, err := os.MkdirTemp(env.OutputsDir, ".download-*")
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	defer os.RemoveAll(tmp)
	got, sum, err := data.Download(ctx, nil, d.URL, d.SHA256, tmp)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(got)
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	n := fi.Size()
	if err := os.Rename(got, filepath.Join(env.OutputsDir, name)); err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	fmt.Fprintf(env.Stdout, "downloaded %s (%d bytes, sha256 %s) to %s\n", d.URL, n, sum, name)
	return map[string]string{"file": name, "sha256": sum, "bytes": strconv.FormatInt(n, 10)}, nil
}
