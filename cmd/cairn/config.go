package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/artifact"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/store/artifacts"
	"github.com/cairn-mlops/cairn/internal/strictyaml"
	"github.com/cairn-mlops/cairn/internal/web"
)

// Config is the server's whole configuration, from flags, environment and
// a configuration file (--config).
type Config struct {
	Data      string // folder for the default SQLite database and artifacts
	Addr      string
	DB        string // metadata URI; default sqlite in Data
	Artifacts string // artifact root URI; default file:// under Data
	// DefaultArtifactRoot is where new experiments keep artifacts. Empty means
	// "mlflow-artifacts:/", so clients upload through this server.
	DefaultArtifactRoot string
	// AllowedArtifactRoots are more roots, besides Artifacts and
	// DefaultArtifactRoot, under which experiments may keep artifacts that
	// the server reads and writes.
	AllowedArtifactRoots []string
	Auth                 bool
	MaxArtifactBytes     int64
	GPUs                 int // GPUs pipeline tasks may request
	Guard                guardConfig
	TaskEnv              []string // more variables pipeline tasks inherit
	Unsandboxed          bool     // --task-sandbox=false
	S3                   artifacts.Options
	// Executor is where tasks run when their spec names none.
	Executor string
	Kube     kubeConfig
}

// DefaultConfig returns the zero-setup configuration: everything under ./cairn-data on loopback.
func DefaultConfig() Config {
	return Config{Data: "cairn-data", Addr: "127.0.0.1:5000", S3: artifacts.DefaultOptions(), Executor: "local",
		Kube: kubeConfig{PendingTimeout: 10 * time.Minute}}
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if c.Data == "" && (c.DB == "" || c.Artifacts == "") {
		return usageError{errors.New("--data is required unless both --db and --artifacts are given")}
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return usageError{fmt.Errorf("invalid --addr %q: expected host:port, e.g. 127.0.0.1:5000", c.Addr)}
	}
	if c.DB == "" {
		c.DB = filepath.Join(c.Data, "cairn.db")
	}
	if c.Artifacts == "" {
		abs, err := filepath.Abs(filepath.Join(c.Data, "artifacts"))
		if err != nil {
			return err
		}
		c.Artifacts = abs
	}
	if err := c.validateArtifactRoots(); err != nil {
		return err
	}
	if err := c.validateExecutor(); err != nil {
		return err
	}
	if err := c.Guard.Validate(); err != nil {
		return err
	}
	if c.MaxArtifactBytes < 0 {
		return usageError{errors.New("--max-artifact-bytes must be 0 (no limit) or positive")}
	}
	return nil
}

// validateArtifactRoots checks the default and allowed artifact roots, and
// makes a relative default root absolute, as MLflow does.
func (c *Config) validateArtifactRoots() error {
	if r := c.DefaultArtifactRoot; r != "" && artifact.Scheme(r) == "" && !filepath.IsAbs(r) {
		abs, err := filepath.Abs(r)
		if err != nil {
			return err
		}
		c.DefaultArtifactRoot = abs
	}
	if r := c.DefaultArtifactRoot; r != "" {
		if _, err := artifacts.ParseLocation(r); err != nil {
			return usageError{fmt.Errorf("--default-artifact-root: %s", errs.MessageOf(err))}
		}
	}
	for _, r := range c.AllowedArtifactRoots {
		loc, err := artifacts.ParseLocation(r)
		if err == nil && loc.Scheme != "file" && loc.Scheme != "s3" {
			err = errs.Invalidf("artifact root '%s' is not a file:// or s3:// URI", r)
		}
		if err != nil {
			return usageError{fmt.Errorf("--allowed-artifact-roots: %s", errs.MessageOf(err))}
		}
	}
	return nil
}

// artifactRoots opens the stores the API serves besides art, the server's
// own: the default artifact root, when it is not proxied, and the allowed
// roots. A root inside one already served is served by that one's store.
func (c *Config) artifactRoots(ctx context.Context, art artifacts.Store) (*artifacts.Roots, error) {
	roots := artifacts.NewRoots(art)
	uris := c.AllowedArtifactRoots
	if s := artifact.Scheme(c.DefaultArtifactRoot); s != "mlflow-artifacts" && c.DefaultArtifactRoot != "" {
		uris = append([]string{c.DefaultArtifactRoot}, uris...)
	}
	for _, uri := range uris {
		if _, _, err := roots.Resolve(uri); err == nil {
			continue
		}
		st, err := artifacts.Open(ctx, uri, c.S3)
		if err == nil {
			err = roots.Add(st)
		}
		if err != nil {
			return nil, fmt.Errorf("artifact root %s: %w", uri, err)
		}
	}
	return roots, nil
}

// hiddenFromTasks lists what tasks may not touch besides the data folder: a
// SQLite database and a local artifact folder kept elsewhere.
func (c *Config) hiddenFromTasks() []string {
	var out []string
	db := strings.TrimPrefix(c.DB, "sqlite://")
	if !strings.Contains(db, "://") {
		if abs, err := filepath.Abs(db); err == nil {
			out = append(out, abs, abs+"-wal", abs+"-shm", abs+"-journal")
		}
	}
	if !strings.Contains(c.Artifacts, "://") || strings.HasPrefix(c.Artifacts, "file://") {
		if abs, err := filepath.Abs(strings.TrimPrefix(c.Artifacts, "file://")); err == nil {
			out = append(out, abs)
		}
	}
	return out
}

// s3FromEnv fills S3 options from the variables MLflow and the AWS SDK use.
func s3FromEnv(o *artifacts.Options) {
	for _, k := range []string{"MLFLOW_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			o.S3Endpoint = v
			break
		}
	}
	if v := os.Getenv("AWS_REGION"); v != "" {
		o.S3Region = v
	} else if v := os.Getenv("AWS_DEFAULT_REGION"); v != "" {
		o.S3Region = v
	}
}

// guardConfig widens what a server's browser guard accepts.
type guardConfig struct {
	Hosts   []string // more names accepted in the Host header
	Origins []string // browser origins allowed to call the API cross-site
}

// Validate checks every entry.
func (g guardConfig) Validate() error {
	for _, h := range g.Hosts {
		if _, err := web.ParseAllowedHost(h); err != nil {
			return usageError{fmt.Errorf("--allowed-hosts: %w", err)}
		}
	}
	for _, o := range g.Origins {
		if _, err := web.ParseOrigin(o); err != nil {
			return usageError{fmt.Errorf("--allowed-origins: %w", err)}
		}
	}
	return nil
}

// configKeys maps every flag a configuration file may set to the setting
// it fills. A file's keys are the flags' names in snake_case.
func configKeys(c *Config) map[string]any {
	return map[string]any{
		"data": &c.Data, "addr": &c.Addr, "db": &c.DB, "artifacts": &c.Artifacts,
		"default-artifact-root": &c.DefaultArtifactRoot, "allowed-artifact-roots": &c.AllowedArtifactRoots,
		"auth": &c.Auth, "max-artifact-bytes": &c.MaxArtifactBytes, "gpus": &c.GPUs,
		"allowed-hosts": &c.Guard.Hosts, "allowed-origins": &c.Guard.Origins,
		"task-env": &c.TaskEnv, "task-sandbox": (*negated)(&c.Unsandboxed),
		"executor": &c.Executor, "kubeconfig": &c.Kube.Kubeconfig, "kube-namespace": &c.Kube.Namespace,
		"kube-image": &c.Kube.Image, "kube-server-url": &c.Kube.ServerURL, "kube-pending-timeout": &c.Kube.PendingTimeout,
		"kube-service-accounts": &c.Kube.ServiceAccounts,
	}
}

// maxConfigBytes bounds what --config reads: a settings file is a few
// hundred bytes, and a path such as /dev/zero must not be read forever.
const maxConfigBytes = 1 << 20

// readConfigFile reads a regular file of at most maxConfigBytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	src, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a settings file", path, maxConfigBytes)
	}
	return src, nil
}

// negated is a setting kept as its opposite: task_sandbox fills Unsandboxed.
type negated bool

// applyConfigFile sets what the YAML configuration file at path gives,
// except the settings whose flag changed reports as given on the command
// line. Every problem in the file (broken YAML, an unknown or repeated key,
// a value of the wrong type) is a line "FILE:LINE: message" naming the
// key; together they are one usage error, as is a file that cannot be read
// and a password in a file that every user may read. An empty file changes
// nothing.
func applyConfigFile(c *Config, path string, changed func(flag string) bool) error {
	src, err := readConfigFile(path)
	if err != nil {
		return usageError{fmt.Errorf("--config: %w", err)}
	}
	problems := decodeConfig(c, src, changed)
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o007 != 0 {
		problems = append(problems, exposedPasswords(src, path, fi.Mode().Perm())...)
	}
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		if p.Line > 0 {
			msgs[i] = fmt.Sprintf("%s:%d: %s", path, p.Line, p.Msg)
		} else {
			msgs[i] = fmt.Sprintf("%s: %s", path, p.Msg)
		}
	}
	return usageError{errors.New(strings.Join(msgs, "\n"))}
}

const emptyConfig = "the file is empty"

// decodeConfig decodes src strictly into c, leaving alone the settings
// whose flag was given, and returns what is wrong with it; a value of the
// right type is set even when another key is wrong.
func decodeConfig(c *Config, src []byte, changed func(flag string) bool) []strictyaml.Problem {
	root, p := strictyaml.Document(src, strictyaml.Names{Empty: emptyConfig, One: "a configuration file holds one YAML document"})
	if p != nil {
		if p.Msg == emptyConfig { // nothing but comments
			return nil
		}
		return []strictyaml.Problem{*p}
	}
	if len(root.Content) != 1 || root.Content[0].ShortTag() == "!!null" {
		return nil
	}
	doc := root.Content[0]
	if doc.ShortTag() != "!!map" || doc.Alias != nil {
		return []strictyaml.Problem{{Line: doc.Line, Msg: "expected settings as key: value lines, e.g. addr: 127.0.0.1:5000"}}
	}
	keys := configKeys(c)
	var problems []strictyaml.Problem
	addf := func(line int, key, format string, args ...any) {
		problems = append(problems, strictyaml.Problem{Path: key, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		key, flag := k.Value, strings.ReplaceAll(k.Value, "_", "-")
		dst, known := keys[flag]
		switch {
		case !known || strings.Contains(key, "-") || k.ShortTag() != "!!str" || k.Alias != nil:
			hint := ""
			if known {
				hint = fmt.Sprintf(" (keys use underscores: %s)", strings.ReplaceAll(key, "-", "_"))
			}
			addf(k.Line, key, "unknown key %q%s; the keys are %s", key, hint, configKeyNames(keys))
			continue
		case seen[key]:
			addf(k.Line, key, "key %q is given twice", key)
			continue
		case v.Alias != nil:
			addf(v.Line, key, "key %q: aliases are not supported", key)
			continue
		}
		seen[key] = true
		tag, apply := v.ShortTag(), !changed(flag)
		found := describeYAML(tag, v.Value)
		var err error
		switch dst := dst.(type) {
		case *string:
			var s string
			if tag != "!!str" {
				addf(v.Line, key, "key %q: expected a string, found %s", key, found)
			} else if err = v.Decode(&s); err == nil && apply {
				*dst = s
			}
		case *bool, *negated:
			var b bool
			if tag != "!!bool" {
				addf(v.Line, key, "key %q: expected true or false, found %s", key, found)
			} else if err = v.Decode(&b); err == nil && apply {
				if n, ok := dst.(*negated); ok {
					*n = negated(!b)
				} else {
					*dst.(*bool) = b
				}
			}
		case *int:
			var n int
			if tag != "!!int" {
				addf(v.Line, key, "key %q: expected a whole number, found %s", key, found)
			} else if err = v.Decode(&n); err == nil && apply {
				*dst = n
			}
		case *int64:
			var n int64
			if tag != "!!int" {
				addf(v.Line, key, "key %q: expected a whole number, found %s", key, found)
			} else if err = v.Decode(&n); err == nil && apply {
				*dst = n
			}
		case *time.Duration:
			d, perr := time.ParseDuration(v.Value)
			switch {
			case tag != "!!str" || perr != nil:
				addf(v.Line, key, "key %q: expected a duration such as 90s or 15m, found %s", key, found)
			case apply:
				*dst = d
			}
		case *[]string:
			if tag != "!!seq" {
				addf(v.Line, key, "key %q: expected a list of strings, e.g. [a, b], found %s", key, found)
				continue
			}
			list := []string{}
			for _, item := range v.Content {
				if item.ShortTag() != "!!str" || item.Alias != nil {
					addf(item.Line, key, "key %q: expected a string in the list, found %s", key, describeYAML(item.ShortTag(), item.Value))
					list = nil
					break
				}
				list = append(list, item.Value)
			}
			if list != nil && apply {
				*dst = list
			}
		}
		if err != nil {
			addf(v.Line, key, "key %q: %s is out of range", key, found)
		}
	}
	return problems
}

// exposedPasswords reports each key whose value holds a password, in a file
// whose mode lets every user read it: a password is why the file exists
// instead of --db on a command line that every local user can see. A group
// may read it: that is a deliberate grant, and how Kubernetes mounts a
// Secret for a pod with an fsGroup.
func exposedPasswords(src []byte, path string, mode os.FileMode) []strictyaml.Problem {
	root, p := strictyaml.Document(src, strictyaml.Names{})
	if p != nil || len(root.Content) != 1 || root.Content[0].ShortTag() != "!!map" {
		return nil // decodeConfig says what is wrong
	}
	doc := root.Content[0]
	var problems []strictyaml.Problem
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		values := []string{v.Value}
		if v.ShortTag() == "!!seq" {
			values = nil
			for _, item := range v.Content {
				values = append(values, item.Value)
			}
		}
		if slices.ContainsFunc(values, holdsPassword) {
			problems = append(problems, strictyaml.Problem{Path: k.Value, Line: k.Line,
				Msg: fmt.Sprintf("key %q holds a password, but every user may read the file (%s): chmod 600 %s", k.Value, mode, path)})
		}
	}
	return problems
}

// holdsPassword reports whether a value carries a password: a URI with
// user:password@, or a password= parameter.
func holdsPassword(s string) bool {
	if strings.Contains(strings.ToLower(s), "password=") {
		return true
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	pw, ok := u.User.Password()
	return ok && pw != ""
}

// configKeyNames lists a configuration file's keys, sorted.
func configKeyNames(keys map[string]any) string {
	names := make([]string, 0, len(keys))
	for flag := range keys {
		names = append(names, strings.ReplaceAll(flag, "-", "_"))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// describeYAML names a YAML value by its resolved tag, quoting a scalar.
func describeYAML(tag, value string) string {
	switch tag {
	case "!!null":
		return "nothing"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp", "!!binary":
		return fmt.Sprintf("%q", value)
	}
	return "a value tagged " + tag
}
