package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/exec"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
)

// Step is a step type's inputs and behaviour. New returns a fresh value (a
// pointer to a struct holding the defaults) for every run; the task's `with:`
// is decoded into it.
type Step interface {
	// Run does the work and returns the step's small output values. It
	// writes files to env.OutputsDir and logs to env.Stdout/env.Stderr.
	Run(ctx context.Context, env Env) (map[string]string, error)
}

// Validator is implemented by steps that check their decoded inputs.
type Validator interface {
	// Validate returns a problem with the inputs, naming the input.
	Validate() error
}

// Env is what a running step gets from the executor.
type Env struct {
	InputsDir    string // one folder per needed task, named after it, holding its artifacts
	OutputsDir   string // where the step writes its artifacts
	TrackingURI  string // MLFLOW_TRACKING_URI
	RunID        string // the task's tracking run (MLFLOW_RUN_ID)
	ExperimentID string
	Stdout       io.Writer
	Stderr       io.Writer
	Logger       *slog.Logger
	// Environ is the environment a step passes on to commands it starts.
	Environ []string
	// Trials, when set, runs a sweep's trials instead of child processes
	// of the step (on a cluster, as Jobs), with TrialPod making each trial's
	// job one for it.
	Trials   exec.Executor
	TrialPod func(*exec.Job, jobs.TrialAttempt)
}

// Info registers a step type.
type Info struct {
	ID      string // namespace.name, e.g. "data.images"
	Version string // bump when results change: it is part of every cache key
	Doc     string // one line for 'cairn step list'
	// New returns a fresh step holding its defaults (a pointer to a struct).
	New func() Step
	// Outputs and Artifacts name what the step writes, so later tasks'
	// references to them are checked before anything runs.
	Outputs   []string
	Artifacts []string
	// Shardable says the step can split its work over copies of itself
	// (a task's shards:; see spec.Sharder).
	Shardable bool
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// Registry holds step types by ID. It implements spec.Catalog.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*Info
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*Info{}} }

var defaultRegistry = NewRegistry()

// Default returns the registry that Register adds to: every built-in step.
func Default() *Registry { return defaultRegistry }

// Register adds a step type to the default registry; call it from init.
// It panics on a malformed or duplicate ID, which is a programming error.
func Register(info Info) {
	if err := defaultRegistry.Add(info); err != nil {
		panic(err)
	}
}

// Add registers a step type. Errors: Invalid (bad ID, no New), Conflict (ID taken).
func (r *Registry) Add(info Info) error {
	if !idRE.MatchString(info.ID) {
		return errs.Invalidf("step ID %q must be namespace.name in lowercase, e.g. data.images", info.ID)
	}
	if info.New == nil {
		return errs.Invalidf("step %s: New is required", info.ID)
	}
	if reflect.TypeOf(info.New()).Kind() != reflect.Pointer {
		return errs.Invalidf("step %s: New must return a pointer", info.ID)
	}
	if info.Version == "" {
		info.Version = "1"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.types[info.ID]; ok {
		return errs.Conflictf("step %s is registered twice", info.ID)
	}
	r.types[info.ID] = &info
	return nil
}

// Lookup implements spec.Catalog.
func (r *Registry) Lookup(id string) (spec.StepType, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	info, ok := r.types[id]
	if !ok {
		return nil, false
	}
	return stepType{info}, true
}

// stepType adapts an Info to spec.StepType.
type stepType struct{ info *Info }

// List returns every registered step type, sorted by ID.
func (r *Registry) List() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Info, 0, len(r.types))
	for _, i := range r.types {
		out = append(out, *i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s stepType) Version() string     { return s.info.Version }
func (s stepType) Shardable() bool     { return s.info.Shardable }
func (s stepType) Outputs() []string   { return s.info.Outputs }
func (s stepType) Artifacts() []string { return s.info.Artifacts }
func (s stepType) CheckInputs(with map[string]any, dynamic map[string]bool) []error {
	return s.info.CheckInputs(with, dynamic)
}

// Inputs returns the names of the step's inputs (its json-tagged fields).
func (i *Info) Inputs() []string {
	t := reflect.TypeOf(i.New()).Elem()
	if t.Kind() != reflect.Struct {
		return nil
	}
	return jsonFields(t)
}

// jsonFields lists a struct's JSON field names, those of embedded structs
// (which encoding/json promotes) included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for n := 0; n < t.NumField(); n++ {
		f := t.Field(n)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if f.IsExported() && name != "-" {
			if name == "" {
				name = f.Name
			}
			out = append(out, name)
		}
	}
	return out
}

// CheckInputs checks a task's with: for spec.StepType: unknown inputs are errors, static
// inputs are decoded strictly, and Validate runs when nothing is dynamic.
func (i *Info) CheckInputs(with map[string]any, dynamic map[string]bool) []error {
	var out []error
	known := i.Inputs()
	static := map[string]any{}
	keys := make([]string, 0, len(with))
	for k := range with {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, n := range known {
			found = found || n == k
		}
		if !found {
			out = append(out, fmt.Errorf("unknown input %q (known: %s)", k, strings.Join(known, ", ")))
			continue
		}
		if !dynamic[k] {
			static[k] = with[k]
		}
	}
	if len(out) > 0 {
		return out
	}
	b, err := json.Marshal(static)
	if err != nil {
		return []error{fmt.Errorf("inputs: %v", err)}
	}
	step, err := i.decode(b)
	if err != nil {
		return []error{err}
	}
	if len(dynamic) == 0 {
		if v, ok := step.(Validator); ok {
			if err := v.Validate(); err != nil {
				return []error{err}
			}
		}
	}
	return nil
}

func (i *Info) decode(inputs []byte) (Step, error) {
	step := i.New()
	if len(bytes.TrimSpace(inputs)) == 0 {
		return step, nil
	}
	dec := json.NewDecoder(bytes.NewReader(inputs))
	dec.DisallowUnknownFields()
	if err := dec.Decode(step); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fmt.Errorf("input %q: expected %s, got a JSON %s", te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("inputs: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return step, nil
}

// Decode returns the step id with inputs (a JSON object) decoded strictly and
// validated. Errors: NotFound (no such step), Invalid (bad inputs).
func (r *Registry) Decode(id string, inputs []byte) (Step, error) {
	r.mu.RLock()
	info, ok := r.types[id]
	r.mu.RUnlock()
	if !ok {
		return nil, errs.NotFoundf("unknown step type %q", id)
	}
	step, err := info.decode(inputs)
	if err != nil {
		return nil, errs.Invalidf("step %s: %v", id, err)
	}
	if v, ok := step.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, errs.Invalidf("step %s: %v", id, err)
		}
	}
	return step, nil
}

// Exec decodes and runs one step. The caller writes the outputs with
// spec.WriteOutputs to the file named by $CAIRN_OUTPUTS.
func (r *Registry) Exec(ctx context.Context, id string, inputs []byte, env Env) (map[string]string, error) {
	step, err := r.Decode(id, inputs)
	if err != nil {
		return nil, err
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.NewTextHandler(env.Stderr, nil))
	}
	out, err := step.Run(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", id, err)
	}
	return out, nil
}

// trackingClient is a client for the task's tracking server, with the
// credentials the task was given (MLFLOW_TRACKING_TOKEN, or
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, as MLflow's own
// client reads them).
func trackingClient(env Env) (*client.Client, error) {
	opts := client.DefaultOptions()
	opts.Token = envValue(env.Environ, "MLFLOW_TRACKING_TOKEN")
	opts.Username = envValue(env.Environ, "MLFLOW_TRACKING_USERNAME")
	opts.Password = envValue(env.Environ, "MLFLOW_TRACKING_PASSWORD")
	return client.New(env.TrackingURI, opts)
}
