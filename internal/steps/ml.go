package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/train"
)

// The machine-learning steps: prepare data, train, register the best model.
// They share the dataset cache and work folders under the data folder that
// 'cairn run' and 'cairn server' pass as CAIRN_DATA_DIR.
func init() {
	Register(Info{ID: "data.images", Version: "1", Doc: "prepare an image folder, zip or URL into a cached dataset",
		Outputs: []string{"dataset", "hash", "count", "synthetic"}, Shardable: true,
		New: func() Step { return &PrepareImages{Size: 32, Channels: 1, Val: 0.15, Test: 0.15, Seed: 1} }})
	Register(Info{ID: "data.csv", Version: "1", Doc: "prepare a CSV table (typed columns, features, fitted transform) into a cached dataset",
		Outputs: []string{"dataset", "hash", "count", "synthetic"}, New: func() Step { return &PrepareTable{Val: 0.2, Seed: 1} }})
	Register(Info{ID: "data.synth", Version: "1", Doc: "generate a synthetic stand-in dataset (fingers images or titanic passengers)",
		Outputs: []string{"path"}, New: func() Step { return &Synth{Seed: 1} }})
	Register(Info{ID: "train.cnn", Version: "1", Doc: "train an image CNN as the task's tracking run; logs the model package",
		Outputs: trainOutputs, New: func() Step { return newTrainStep(train.KindImage, "small") }})
	Register(Info{ID: "train.tabular", Version: "1", Doc: "train a table model (logistic, mlp, gbdt or rf) as the task's tracking run",
		Outputs: trainOutputs, New: func() Step { return newTrainStep(train.KindTable, "mlp") }})
	Register(Info{ID: "registry.promote", Version: "1", Doc: "register the best of some runs by a metric (if it reaches min) and point an alias at it",
		Outputs: []string{"promoted", "version", "run_id", "metric", "model_uri"}, New: func() Step {
			return &Promote{Metric: "val_accuracy", Mode: "max", Alias: "champion", Artifact: jobs.PackageArtifact}
		}})
}

// dataDir is the data folder of the process that runs the pipeline.
func dataDir(env Env) string {
	if v := envValue(env.Environ, "CAIRN_DATA_DIR"); v != "" {
		return v
	}
	return "cairn-data"
}

// inputPath resolves a path input: relative paths are taken from the
// folder the run started in (the step's working directory).
func inputPath(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.Contains(p, "://") {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

func datasetOutputs(dir, hash string, m data.Manifest) map[string]string {
	return map[string]string{"dataset": dir, "hash": hash, "count": strconv.Itoa(m.Count), "synthetic": strconv.FormatBool(m.Synthetic)}
}

// taskDataset places a prepared dataset among the task's files, so that
// it travels with them (a pipeline keeps every task's files in the
// artifact store, on every executor, and fetches them where they are
// missing): a dataset in the data folder's cache is linked, or copied, to
// $CAIRN_OUTPUTS_DIR/.cairn-data/datasets/HASH, and that path is the
// output. One prepared inside the outputs folder already (in a pod) stays.
func taskDataset(env Env, dir, hash string) (string, error) {
	if env.OutputsDir == "" {
		return dir, nil
	}
	if rel, err := filepath.Rel(env.OutputsDir, dir); err == nil && !strings.HasPrefix(rel, "..") {
		return dir, nil
	}
	dst := filepath.Join(env.OutputsDir, ".cairn-data", "datasets", hash)
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a file", p)
		}
		if os.Link(p, to) == nil {
			return nil
		}
		return copyFile(p, to)
	})
	if err != nil {
		return "", fmt.Errorf("place the dataset among the task's files: %w", err)
	}
	return dst, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// PrepareImages is the data.images step.
type PrepareImages struct {
	Source   string  `json:"source"`
	SHA256   string  `json:"sha256"`
	Size     int     `json:"size"`
	Channels int     `json:"channels"`
	Val      float64 `json:"val"`
	Test     float64 `json:"test"`
	Seed     uint64  `json:"seed"`
	SkipBad  bool    `json:"skip_bad"`
	// Labels is count (classes 0..5) or count_hand (0L..5R) for the fingers naming.
	Labels string `json:"labels"`
}

// Validate implements Validator.
func (p *PrepareImages) Validate() error {
	if p.Source == "" {
		return fmt.Errorf(`input "source" is required: a folder, a .zip file or an http(s) URL`)
	}
	return nil
}

// Run implements Step.
func (p *PrepareImages) Run(ctx context.Context, env Env) (map[string]string, error) {
	opt := images.DefaultPrepareOptions()
	opt.Source, opt.SHA256, opt.Seed, opt.SkipBad = inputPath(p.Source), p.SHA256, p.Seed, p.SkipBad
	opt.Image.Size, opt.Image.Channels, opt.Labels = p.Size, p.Channels, p.Labels
	opt.Split = data.SplitFractions{Validation: p.Val, Test: p.Test}
	opt.CacheDir = filepath.Join(dataDir(env), "datasets")
	shard, shards, err := shardOf(env)
	if err != nil {
		return nil, err
	}
	parts := filepath.Join(env.OutputsDir, ".cairn-shards")
	var res *images.PrepareResult
	switch {
	case shards > 1 && shard >= 0:
		r, err := images.PrepareShard(ctx, opt, shard, shards, filepath.Join(parts, strconv.Itoa(shard)))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stdout, "shard %d of %d: images %d to %d of %d decoded in %s\n", shard, shards, r.First, r.First+r.Count, r.Files,
			r.Duration.Round(time.Millisecond))
		return nil, nil // the merge writes the outputs
	case shards > 1:
		dirs := make([]string, shards)
		for i := range dirs {
			dirs[i] = filepath.Join(parts, strconv.Itoa(i))
		}
		if res, err = images.MergeShards(ctx, opt, dirs); err != nil {
			return nil, err
		}
		if err := os.RemoveAll(parts); err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stdout, "merged %d shards: ", shards)
	default:
		if res, err = images.Prepare(ctx, opt); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(env.Stdout, "dataset %s: %d images (%s, %s)\n", res.Dir, res.Manifest.Count, hitWord(res.Hit), res.Duration)
	dir, err := taskDataset(env, res.Dir, res.Hash)
	if err != nil {
		return nil, err
	}
	return datasetOutputs(dir, res.Hash, res.Manifest), nil
}

// shardOf reads which part of a task split by shards: this process is:
// shard JOB_COMPLETION_INDEX of CAIRN_SHARDS, or with no index their merge
// (shard -1); shards is 1 for a task not split.
func shardOf(env Env) (shard, shards int, err error) {
	shard, shards = -1, 1
	if v := envValue(env.Environ, "CAIRN_SHARDS"); v != "" {
		if shards, err = strconv.Atoi(v); err != nil || shards < 1 || shards > images.MaxShards {
			return 0, 0, errs.Invalidf("CAIRN_SHARDS=%q: expected a number of shards from 1 to %d", v, images.MaxShards)
		}
	}
	if v := envValue(env.Environ, "JOB_COMPLETION_INDEX"); v != "" && shards > 1 {
		if shard, err = strconv.Atoi(v); err != nil || shard < 0 || shard >= shards {
			return 0, 0, errs.Invalidf("JOB_COMPLETION_INDEX=%q: expected a shard from 0 to %d", v, shards-1)
		}
	}
	return shard, shards, nil
}

// PrepareTable is the data.csv step.
type PrepareTable struct {
	Source string `json:"source"`
	// Target (or its older name Label) is the column to predict.
	Target string `json:"target"`
	Label  string `json:"label"`
	// Schema is a YAML file overriding inferred columns (see table.ParseSchema).
	Schema string  `json:"schema"`
	Preset string  `json:"preset"`
	Val    float64 `json:"val"`
	Test   float64 `json:"test"`
	Seed   uint64  `json:"seed"`
}

// Validate implements Validator.
func (p *PrepareTable) Validate() error {
	if p.Source == "" {
		return fmt.Errorf(`input "source" is required: a CSV file`)
	}
	if p.Target != "" && p.Label != "" && p.Target != p.Label {
		return fmt.Errorf(`inputs "target" %q and "label" %q disagree: give one`, p.Target, p.Label)
	}
	return nil
}

// Run implements Step.
func (p *PrepareTable) Run(ctx context.Context, env Env) (map[string]string, error) {
	opt := table.DefaultPrepareOptions()
	opt.Path, opt.Label, opt.Preset, opt.Seed = inputPath(p.Source), p.Label, p.Preset, p.Seed
	if p.Target != "" {
		opt.Label = p.Target
	}
	if p.Schema != "" {
		schema, err := table.ReadSchemaFile(inputPath(p.Schema))
		if err != nil {
			return nil, err
		}
		opt.Schema = &schema
	}
	opt.Split = data.SplitFractions{Validation: p.Val, Test: p.Test}
	opt.CacheDir = filepath.Join(dataDir(env), "datasets")
	res, err := table.Prepare(ctx, opt)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "dataset %s: %d rows (%s)\n", res.Dir, res.Manifest.Count, hitWord(res.Hit))
	dir, err := taskDataset(env, res.Dir, res.Hash)
	if err != nil {
		return nil, err
	}
	return datasetOutputs(dir, res.Hash, res.Manifest), nil
}

func hitWord(hit bool) string {
	if hit {
		return "cache hit"
	}
	return "prepared"
}

// Synth is the data.synth step: synthetic stand-ins for offline runs,
// always marked synthetic in the datasets prepared from them.
type Synth struct {
	Kind string `json:"kind"` // fingers or titanic
	N    int    `json:"n"`
	Seed uint64 `json:"seed"`
	Size int    `json:"size"` // fingers: image size (default 128)
}

// Validate implements Validator.
func (s *Synth) Validate() error {
	if s.Kind != "fingers" && s.Kind != "titanic" {
		return fmt.Errorf(`input "kind" must be fingers or titanic, got %q`, s.Kind)
	}
	if s.N < 1 {
		return fmt.Errorf(`input "n" must be at least 1, got %d`, s.N)
	}
	return nil
}

// Run implements Step.
func (s *Synth) Run(ctx context.Context, env Env) (map[string]string, error) {
	if s.Kind == "titanic" {
		p := filepath.Join(env.OutputsDir, "passengers.csv")
		if err := table.SynthPassengersFile(p, s.N, s.Seed); err != nil {
			return nil, err
		}
		fmt.Fprintf(env.Stdout, "wrote %d SYNTHETIC passengers to %s\n", s.N, p)
		return map[string]string{"path": p}, nil
	}
	dir := filepath.Join(env.OutputsDir, "hands")
	if _, err := images.GenerateHands(ctx, images.SynthHandsOptions{Out: dir, N: s.N, Seed: s.Seed, Size: s.Size}); err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stdout, "drew %d SYNTHETIC hands into %s\n", s.N, dir)
	return map[string]string{"path": dir}, nil
}

var trainOutputs = []string{"run_id", "val_accuracy", "test_accuracy", "cv_accuracy_mean", "model_uri", "package"}

// Train is the train.cnn and train.tabular step: a tracked training run in
// the task's own tracking run (MLFLOW_RUN_ID).
type Train struct {
	kind        string
	Dataset     string  `json:"dataset"`
	Model       string  `json:"model"`
	LR          float64 `json:"lr"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	Seed        uint64  `json:"seed"`
	Schedule    string  `json:"schedule"`
	Patience    int     `json:"patience"`
	WeightDecay float64 `json:"weight_decay"`
	Augment     bool    `json:"augment"`
	Backend     string  `json:"backend"`
	CV          int     `json:"cv"`
	CVRepeats   int     `json:"cv_repeats"` // repeat the k-fold CV with other splits
	// Trees configures the gbdt and rf models (iterations, learning_rate,
	// leaves, max_depth, min_leaf, l2, subsample, feature_fraction,
	// early_stop, balanced).
	Trees train.TreeOptions `json:"trees"`
	// Members are an ensemble's models (model: ensemble), e.g. [gbdt, rf, mlp].
	Members []string `json:"members"`
}

func newTrainStep(kind, model string) *Train {
	d := train.DefaultOptions()
	return &Train{kind: kind, Model: model, LR: d.LearningRate, Epochs: d.Epochs, Batch: d.BatchSize, Seed: d.Seed,
		Schedule: d.Schedule, Backend: d.Backend, Augment: kind == train.KindImage}
}

func (t *Train) options() train.Options {
	return train.Options{Model: t.Model, Backend: t.Backend, LearningRate: t.LR, Epochs: t.Epochs, BatchSize: t.Batch,
		Seed: t.Seed, Schedule: t.Schedule, Patience: t.Patience, WeightDecay: t.WeightDecay, Trees: t.Trees, Members: t.Members}
}

// Validate implements Validator.
func (t *Train) Validate() error {
	if t.Dataset == "" {
		return fmt.Errorf(`input "dataset" is required: a prepared dataset folder (a data.images or data.csv output)`)
	}
	o := t.options()
	return o.Validate(t.kind)
}

// Run implements Step.
func (t *Train) Run(ctx context.Context, env Env) (map[string]string, error) {
	c, err := trackingClient(env)
	if err != nil {
		return nil, err
	}
	opt := t.options()
	if t.Augment && t.kind == train.KindImage {
		man, err := data.ReadManifest(t.Dataset)
		if err != nil {
			return nil, err
		}
		a := images.AugmentOptionsFor(man)
		opt.Augment = &a
	}
	job := jobs.Training{Dataset: inputPath(t.Dataset), Options: opt, RunID: env.RunID, CVFolds: t.CV, CVRepeats: t.CVRepeats,
		WorkDir: filepath.Join(env.OutputsDir, "work")}
	out, err := jobs.Train(ctx, c, job, nil, env.Stdout)
	if err != nil {
		return nil, err
	}
	acc := func(ev *train.Evaluation) string {
		if ev == nil {
			return "NaN"
		}
		return strconv.FormatFloat(ev.Accuracy, 'g', -1, 64)
	}
	cv := "NaN"
	if out.CV != nil {
		cv = strconv.FormatFloat(out.CV.Mean, 'g', -1, 64)
	}
	return map[string]string{"run_id": out.RunID, "val_accuracy": acc(out.Result.Validation), "test_accuracy": acc(out.Result.Test),
		"cv_accuracy_mean": cv, "model_uri": "runs:/" + out.RunID + "/" + out.ArtifactID, "package": out.Package}, nil
}

// Promote is the registry.promote step: among candidate runs it picks the
// best by a metric, registers its model package as a new version of a
// registered model and points an alias at it.
type Promote struct {
	Name string `json:"name"` // registered model
	// Runs are the candidate run IDs: a list, or one run ID, or the JSON
	// list a for_each task's output becomes.
	Runs     any    `json:"runs"`
	Metric   string `json:"metric"`
	Mode     string `json:"mode"` // max or min
	Alias    string `json:"alias"`
	Artifact string `json:"artifact"` // the package's folder in the run
	// Min, when set, is the bar the best run's metric must reach (at least
	// it in max mode, at most in min mode) to be registered; below it the
	// step succeeds with promoted=false and registers nothing.
	Min *float64 `json:"min"`
}

// Validate implements Validator.
func (p *Promote) Validate() error {
	if p.Name == "" {
		return fmt.Errorf(`input "name" (the registered model) is required`)
	}
	if p.Mode != "max" && p.Mode != "min" {
		return fmt.Errorf(`input "mode" must be max or min, got %q`, p.Mode)
	}
	if _, err := p.runIDs(); err != nil {
		return err
	}
	return nil
}

func (p *Promote) runIDs() ([]string, error) {
	var ids []string
	switch v := p.Runs.(type) {
	case string:
		if strings.HasPrefix(strings.TrimSpace(v), "[") {
			if err := json.Unmarshal([]byte(v), &ids); err != nil {
				return nil, fmt.Errorf(`input "runs": %q is not a JSON list of run IDs`, v)
			}
		} else if v != "" {
			ids = []string{v}
		}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf(`input "runs" must list run IDs (strings), got %v`, x)
			}
			ids = append(ids, s)
		}
	case nil:
	default:
		return nil, fmt.Errorf(`input "runs" must be a run ID or a list of them, got %T`, v)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf(`input "runs" is required: the candidate run IDs`)
	}
	return ids, nil
}

// Run implements Step.
func (p *Promote) Run(ctx context.Context, env Env) (map[string]string, error) {
	ids, err := p.runIDs()
	if err != nil {
		return nil, err
	}
	c, err := trackingClient(env)
	if err != nil {
		return nil, err
	}
	bestID, best := "", math.NaN()
	var bestURI string
	for _, id := range ids {
		r, err := c.GetRun(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("promote: run %s: %w", id, err)
		}
		v, ok := math.NaN(), false
		for _, m := range r.Metrics {
			if m.Key == p.Metric {
				v, ok = m.Value, true
			}
		}
		if !ok || math.IsNaN(v) {
			fmt.Fprintf(env.Stdout, "run %s has no %s: not a candidate\n", id, p.Metric)
			continue
		}
		fmt.Fprintf(env.Stdout, "run %s: %s = %g\n", id, p.Metric, v)
		if bestID == "" || (p.Mode == "max" && v > best) || (p.Mode == "min" && v < best) {
			bestID, best, bestURI = id, v, r.Info.ArtifactURI
		}
	}
	if bestID == "" {
		return nil, errs.Invalidf("promote: none of the %d runs has a metric %q", len(ids), p.Metric)
	}
	if p.Min != nil && (p.Mode == "max" && best < *p.Min || p.Mode == "min" && best > *p.Min) {
		fmt.Fprintf(env.Stdout, "the best run %s has %s = %g, short of the bar %g: nothing registered\n", bestID, p.Metric, best, *p.Min)
		return map[string]string{"promoted": "false", "version": "", "run_id": bestID, "metric": strconv.FormatFloat(best, 'g', -1, 64),
			"model_uri": ""}, nil
	}
	if _, err := c.EnsureRegisteredModel(ctx, p.Name, "", nil); err != nil {
		return nil, fmt.Errorf("promote: %w", err)
	}
	v, err := c.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: p.Name, RunID: bestID,
		Source: strings.TrimRight(bestURI, "/") + "/" + p.Artifact,
		Tags:   []registry.Tag{{Key: p.Metric, Value: strconv.FormatFloat(best, 'g', -1, 64)}}})
	if err != nil {
		return nil, fmt.Errorf("promote: register: %w", err)
	}
	out := map[string]string{"promoted": "true", "version": strconv.FormatInt(v.Version, 10), "run_id": bestID,
		"metric": strconv.FormatFloat(best, 'g', -1, 64), "model_uri": fmt.Sprintf("models:/%s/%d", p.Name, v.Version)}
	if p.Alias != "" {
		if err := c.SetRegisteredModelAlias(ctx, p.Name, p.Alias, v.Version); err != nil {
			return nil, fmt.Errorf("promote: alias: %w", err)
		}
		out["model_uri"] = "models:/" + p.Name + "@" + p.Alias
	}
	fmt.Fprintf(env.Stdout, "registered %s version %d from run %s (%s %g) as %s\n", p.Name, v.Version, bestID, p.Metric, best, out["model_uri"])
	return out, nil
}
