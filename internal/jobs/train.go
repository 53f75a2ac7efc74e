package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"github.com/cairn-mlops/cairn/internal/train"
)

// Training is one tracked training run: a prepared dataset, the training
// options, and where the run is recorded.
type Training struct {
	Dataset    string        // folder of a prepared dataset (data.Save)
	Options    train.Options // Model, LearningRate, Epochs, ...
	Experiment string        // experiment name, created if missing (ignored when RunID is set)
	RunName    string
	RunID      string // log into this existing run (a pipeline task's) instead of creating one
	ParentRun  string // mlflow.parentRunId of a new run (a sweep's)
	// WorkDir holds checkpoints and the package before upload; a job run
	// again with the same WorkDir and options resumes after its last epoch
	// and continues the same tracking run.
	WorkDir string
	Tags    map[string]string
	// CVFolds, when 2 or more, first runs k-fold cross-validation on the
	// train and validation examples and logs its mean and spread.
	CVFolds int
	// CVRepeats repeats the cross-validation with other splits (0 or 1: once).
	CVRepeats int
}

// Trained is what a tracked training run produced.
type Trained struct {
	RunID      string
	Package    string // local folder of the model package
	ArtifactID string // artifact path of the package in the run: "model"
	Result     *train.Result
	Pkg        *train.Package
	CV         *train.CrossValidation
}

// resumeFile, in a job's WorkDir, remembers the tracking run to continue.
const resumeFile = "run.json"

// PackageArtifact is the run artifact folder of the model package.
const PackageArtifact = "model"

// Train trains a model as a tracked run: params, per-epoch metrics
// (step = epoch), the dataset as a run input, final validation and test
// metrics, confusion matrices (JSON and PNG) and the model package as
// artifacts. progress, when not nil, receives (epoch, batch, batches) calls.
func Train(ctx context.Context, c *client.Client, job Training, progress func(epoch, done, total int), log io.Writer) (out *Trained, err error) {
	ds, err := data.Load(job.Dataset)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = io.Discard
	}
	if job.WorkDir == "" {
		return nil, errs.Invalidf("train: a work folder is required")
	}
	if err := os.MkdirAll(job.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	run, resumed, err := trainingRun(ctx, c, job, ds)
	if err != nil {
		return nil, err
	}
	// From here on, a failure marks the run FAILED (a kill leaves it
	// RUNNING, and the next start with the same WorkDir resumes it).
	owned := job.RunID == "" // a given run's owner (the pipeline engine) ends it
	defer func() {
		if err != nil && owned {
			_ = c.UpdateRun(context.WithoutCancel(ctx), run.Info.RunID, "FAILED", time.Now().UnixMilli())
		}
	}()
	if !resumed {
		if err := c.LogBatch(ctx, run.Info.RunID, nil, newParams(run, trainParams(job.Options, ds)), nil); err != nil {
			return nil, fmt.Errorf("train: log params: %w", err)
		}
		if err := c.LogInputs(ctx, run.Info.RunID, []tracking.DatasetInput{datasetInput(job.Dataset, ds)}); err != nil {
			return nil, fmt.Errorf("train: log dataset: %w", err)
		}
	}
	opt := job.Options
	opt.CheckpointDir = filepath.Join(job.WorkDir, "checkpoints")
	opt.OnBatch = progress
	// A kill can land between an epoch's checkpoint and its metrics reaching
	// the server: on resume, restored epochs whose metrics are missing are
	// logged now, and none twice.
	logged := map[int64]bool{}
	if resumed {
		hist, err := c.MetricHistory(ctx, run.Info.RunID, "val_loss")
		if err != nil {
			return nil, fmt.Errorf("train: read logged epochs: %w", err)
		}
		for _, m := range hist {
			logged[m.Step] = true
		}
	}
	opt.OnEpoch = func(e train.EpochMetrics) error {
		if e.Restored {
			fmt.Fprintf(log, "epoch %d restored from checkpoint\n", e.Epoch)
			if logged[int64(e.Epoch)] {
				return nil
			}
		}
		fmt.Fprintf(log, "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  lr %.2g  %s\n",
			e.Epoch, opt.Epochs, e.TrainLoss, e.TrainAcc, e.ValLoss, e.ValAcc, e.LearningRate, e.Duration.Round(time.Millisecond))
		now := time.Now().UnixMilli()
		step := int64(e.Epoch)
		m := func(k string, v float64) tracking.Metric {
			return tracking.Metric{Key: k, Value: v, Timestamp: now, Step: step}
		}
		return c.LogBatch(ctx, run.Info.RunID, []tracking.Metric{
			m("train_loss", e.TrainLoss), m("train_accuracy", e.TrainAcc), m("val_loss", e.ValLoss),
			m("val_accuracy", e.ValAcc), m("learning_rate", e.LearningRate),
			m("epoch_seconds", e.Duration.Seconds()), m("train_examples_per_second", float64(e.Images)/e.Duration.Seconds()),
		}, nil, nil)
	}
	var cv *train.CrossValidation
	if job.CVFolds >= 2 {
		repeats := max(job.CVRepeats, 1)
		fmt.Fprintf(log, "%d-fold cross-validation, %d time(s)...\n", job.CVFolds, repeats)
		if cv, err = train.CrossValidateRepeated(ctx, ds, job.Options, job.CVFolds, repeats); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "cross-validation accuracy %.4f ± %.4f over %d folds (repeat means %v ± %.4f)\n", cv.Mean, cv.Std,
			len(cv.Accuracy), cv.RepeatMeans, cv.RepeatStd)
		now := time.Now().UnixMilli()
		if err := c.LogBatch(ctx, run.Info.RunID, []tracking.Metric{
			{Key: "cv_accuracy_mean", Value: cv.Mean, Timestamp: now},
			{Key: "cv_accuracy_std", Value: cv.Std, Timestamp: now},
			{Key: "cv_repeat_std", Value: cv.RepeatStd, Timestamp: now},
		}, []tracking.Param{{Key: "cv_folds", Value: strconv.Itoa(job.CVFolds)}, {Key: "cv_repeats", Value: strconv.Itoa(repeats)}}, nil); err != nil {
			return nil, fmt.Errorf("train: log cross-validation: %w", err)
		}
	}
	model, res, err := train.Train(ctx, ds, opt)
	if err != nil {
		return nil, err
	}
	final := map[string]float64{"best_epoch": float64(res.BestEpoch)}
	for _, ev := range []*train.Evaluation{res.Validation, res.Test} {
		if ev == nil {
			continue
		}
		prefix := "val"
		if ev.Split == data.SplitTest {
			prefix = "test"
		}
		final[prefix+"_accuracy"], final[prefix+"_loss"] = ev.Accuracy, ev.Loss
	}
	var metrics []tracking.Metric
	now := time.Now().UnixMilli()
	for k, v := range final {
		key := k
		if k == "val_accuracy" || k == "val_loss" {
			key = "best_" + k // the per-epoch curves keep the plain names
		}
		metrics = append(metrics, tracking.Metric{Key: key, Value: v, Timestamp: now, Step: int64(len(res.History))})
	}
	tags := []tracking.Tag{{Key: "cairn.best_epoch", Value: strconv.Itoa(res.BestEpoch)}}
	if res.Stopped != "" {
		tags = append(tags, tracking.Tag{Key: "cairn.stopped", Value: res.Stopped})
	}
	if err := c.LogBatch(ctx, run.Info.RunID, metrics, nil, tags); err != nil {
		return nil, fmt.Errorf("train: log final metrics: %w", err)
	}

	pkgDir := filepath.Join(job.WorkDir, "package")
	pkg, err := model.SavePackage(pkgDir, final, stringParams(trainParams(job.Options, ds)))
	if err != nil {
		return nil, err
	}
	for _, ev := range []*train.Evaluation{res.Validation, res.Test} {
		if ev == nil {
			continue
		}
		if err := uploadEvaluation(ctx, c, run, ev); err != nil {
			return nil, err
		}
	}
	if err := uploadImportance(ctx, c, run, model, ds, job.Options.Seed, log); err != nil {
		return nil, err
	}
	if err := uploadDir(ctx, c, run, pkgDir, PackageArtifact); err != nil {
		return nil, err
	}
	if owned {
		if err := c.UpdateRun(ctx, run.Info.RunID, "FINISHED", time.Now().UnixMilli()); err != nil {
			return nil, fmt.Errorf("train: finish run: %w", err)
		}
	}
	_ = os.Remove(filepath.Join(job.WorkDir, resumeFile))
	return &Trained{RunID: run.Info.RunID, Package: pkgDir, ArtifactID: PackageArtifact, Result: res, Pkg: pkg, CV: cv}, nil
}

// trainingRun returns the run to log into: the job's, the one a previous
// attempt in the same WorkDir started (resumed), or a new one.
func trainingRun(ctx context.Context, c *client.Client, job Training, ds *data.Dataset) (*tracking.Run, bool, error) {
	if job.RunID != "" {
		run, err := c.GetRun(ctx, job.RunID)
		return run, false, err
	}
	var saved struct {
		RunID string `json:"run_id"`
	}
	if b, err := os.ReadFile(filepath.Join(job.WorkDir, resumeFile)); err == nil && json.Unmarshal(b, &saved) == nil && saved.RunID != "" {
		if run, err := c.GetRun(ctx, saved.RunID); err == nil && run.Info.Status == "RUNNING" {
			return run, true, nil
		}
	}
	expName := job.Experiment
	if expName == "" {
		expName = "Default"
	}
	expID, err := c.EnsureExperiment(ctx, expName)
	if err != nil {
		return nil, false, fmt.Errorf("train: experiment %q: %w", expName, err)
	}
	tags := []tracking.Tag{
		{Key: "mlflow.source.type", Value: "LOCAL"},
		{Key: "mlflow.source.name", Value: "cairn train"},
		{Key: "cairn.model", Value: job.Options.Model},
		{Key: "cairn.dataset.hash", Value: ds.Manifest.Hash},
		{Key: "cairn.synthetic", Value: strconv.FormatBool(ds.Manifest.Synthetic)},
	}
	if job.ParentRun != "" {
		tags = append(tags, tracking.Tag{Key: "mlflow.parentRunId", Value: job.ParentRun})
	}
	for k, v := range job.Tags {
		tags = append(tags, tracking.Tag{Key: k, Value: v})
	}
	name := job.RunName
	if name == "" {
		name = fmt.Sprintf("%s-lr%g", job.Options.Model, job.Options.LearningRate)
	}
	run, err := c.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: expID, RunName: name, Tags: tags})
	if err != nil {
		return nil, false, fmt.Errorf("train: create run: %w", err)
	}
	b, _ := json.Marshal(map[string]string{"run_id": run.Info.RunID})
	if err := os.WriteFile(filepath.Join(job.WorkDir, resumeFile), b, 0o644); err != nil {
		return nil, false, fmt.Errorf("train: %w", err)
	}
	return run, false, nil
}

func trainParams(o train.Options, ds *data.Dataset) []tracking.Param {
	if o.Model == train.ModelEnsemble {
		// The ensemble's own, then each member's settings under its name
		// ("gbdt.tree_iterations", "mlp.learning_rate", ...).
		members := o.Members
		if len(members) == 0 {
			members = train.DefaultEnsemble
		}
		ps := []tracking.Param{{Key: "model", Value: o.Model}, {Key: "members", Value: strings.Join(members, ",")},
			{Key: "seed", Value: strconv.FormatUint(o.Seed, 10)}, {Key: "input_shape", Value: fmt.Sprint(ds.Manifest.Shape)},
			{Key: "train_examples", Value: strconv.Itoa(len(ds.Manifest.Splits[data.SplitTrain]))}}
		for _, name := range members {
			mo := o
			mo.Model, mo.Members = name, nil
			for _, p := range trainParams(mo, ds) {
				switch p.Key {
				case "model", "seed", "input_shape", "train_examples":
				default:
					ps = append(ps, tracking.Param{Key: name + "." + p.Key, Value: p.Value})
				}
			}
		}
		return ps
	}
	if train.IsTreeModel(o.Model) {
		t := o.Trees.WithDefaults(o.Model)
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		return []tracking.Param{
			{Key: "model", Value: o.Model}, {Key: "seed", Value: strconv.FormatUint(o.Seed, 10)},
			{Key: "tree_iterations", Value: strconv.Itoa(t.Iterations)}, {Key: "tree_learning_rate", Value: f(t.LearningRate)},
			{Key: "tree_leaves", Value: strconv.Itoa(t.Leaves)}, {Key: "tree_max_depth", Value: strconv.Itoa(t.MaxDepth)},
			{Key: "tree_min_leaf", Value: strconv.Itoa(t.MinLeaf)}, {Key: "tree_l2", Value: f(t.L2)},
			{Key: "tree_subsample", Value: f(t.Subsample)}, {Key: "tree_feature_fraction", Value: f(t.FeatureFraction)},
			{Key: "tree_early_stop", Value: strconv.Itoa(t.EarlyStop)}, {Key: "tree_balanced", Value: strconv.FormatBool(t.Balanced)},
			{Key: "input_shape", Value: fmt.Sprint(ds.Manifest.Shape)},
			{Key: "train_examples", Value: strconv.Itoa(len(ds.Manifest.Splits[data.SplitTrain]))},
		}
	}
	ps := []tracking.Param{
		{Key: "model", Value: o.Model},
		{Key: "learning_rate", Value: strconv.FormatFloat(o.LearningRate, 'g', -1, 64)},
		{Key: "epochs", Value: strconv.Itoa(o.Epochs)},
		{Key: "batch_size", Value: strconv.Itoa(o.BatchSize)},
		{Key: "seed", Value: strconv.FormatUint(o.Seed, 10)},
		{Key: "schedule", Value: o.Schedule},
		{Key: "patience", Value: strconv.Itoa(o.Patience)},
		{Key: "weight_decay", Value: strconv.FormatFloat(o.WeightDecay, 'g', -1, 64)},
		{Key: "backend", Value: o.Backend},
		{Key: "input_shape", Value: fmt.Sprint(ds.Manifest.Shape)},
		{Key: "train_examples", Value: strconv.Itoa(len(ds.Manifest.Splits[data.SplitTrain]))},
	}
	if o.Augment != nil && o.Augment.Enabled() {
		b, _ := json.Marshal(o.Augment)
		ps = append(ps, tracking.Param{Key: "augment", Value: string(b)})
	}
	return ps
}

// newParams drops the params a run already has (a pipeline task's run
// carries its inputs): MLflow params cannot be logged twice.
func newParams(run *tracking.Run, ps []tracking.Param) []tracking.Param {
	have := map[string]bool{}
	for _, p := range run.Params {
		have[p.Key] = true
	}
	out := ps[:0:0]
	for _, p := range ps {
		if !have[p.Key] {
			out = append(out, p)
		}
	}
	return out
}

func stringParams(ps []tracking.Param) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.Key] = p.Value
	}
	return m
}

// datasetInput describes a prepared dataset as an MLflow run input, with its
// content hash as the digest for lineage.
func datasetInput(dir string, ds *data.Dataset) tracking.DatasetInput {
	m := ds.Manifest
	profile, _ := json.Marshal(map[string]any{"count": m.Count, "splits": map[string]int{
		data.SplitTrain: len(m.Splits[data.SplitTrain]), data.SplitValidation: len(m.Splits[data.SplitValidation]),
		data.SplitTest: len(m.Splits[data.SplitTest])}, "classes": m.Classes, "synthetic": m.Synthetic})
	schema, _ := json.Marshal(map[string]any{"kind": m.Kind, "shape": m.Shape, "dtype": m.DType, "features": m.Features})
	digest := m.Hash
	if len(digest) > 36 {
		digest = digest[:36]
	}
	source := m.Source
	if source == "" {
		source = dir
	}
	src, _ := json.Marshal(map[string]string{"uri": source, "prepared": dir})
	return tracking.DatasetInput{
		Dataset: tracking.Dataset{Name: filepath.Base(filepath.Clean(source)), Digest: digest, SourceType: "local",
			Source: string(src), Schema: string(schema), Profile: string(profile)},
		Tags: []tracking.Tag{{Key: "mlflow.data.context", Value: "training"}},
	}
}

// uploadEvaluation stores an evaluation's confusion matrix as JSON and PNG.
func uploadEvaluation(ctx context.Context, c *client.Client, run *tracking.Run, ev *train.Evaluation) error {
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	if err := c.UploadArtifact(ctx, run, "evaluation/"+ev.Split+"_confusion.json", bytes.NewReader(b)); err != nil {
		return fmt.Errorf("train: upload confusion matrix: %w", err)
	}
	png, err := train.ConfusionPNG(ev, fmt.Sprintf("%s: accuracy %.4f (%d examples)", ev.Split, ev.Accuracy, ev.Count))
	if err != nil {
		return err
	}
	if err := c.UploadArtifact(ctx, run, "evaluation/"+ev.Split+"_confusion.png", bytes.NewReader(png)); err != nil {
		return fmt.Errorf("train: upload confusion matrix: %w", err)
	}
	return nil
}

// uploadImportance logs a table model's permutation importance on the
// validation split (5 shuffles per column) as evaluation/importance.json
// and .png, and prints the top columns.
func uploadImportance(ctx context.Context, c *client.Client, run *tracking.Run, m *train.Model, ds *data.Dataset, seed uint64, log io.Writer) error {
	if ds.Manifest.Kind != "table" || len(ds.Manifest.Splits[data.SplitValidation]) == 0 {
		return nil
	}
	imp, err := m.PermutationImportance(ds, data.SplitValidation, 5, seed)
	if err != nil {
		return fmt.Errorf("train: importance: %w", err)
	}
	var top []string
	for _, f := range imp.Features[:min(5, len(imp.Features))] {
		top = append(top, fmt.Sprintf("%s %.3f", f.Name, f.Drop))
	}
	fmt.Fprintf(log, "permutation importance (validation accuracy drop): %s\n", strings.Join(top, ", "))
	b, err := json.MarshalIndent(imp, "", "  ")
	if err != nil {
		return err
	}
	if err := c.UploadArtifact(ctx, run, "evaluation/importance.json", bytes.NewReader(b)); err != nil {
		return fmt.Errorf("train: upload importance: %w", err)
	}
	png, err := train.ImportancePNG(imp, fmt.Sprintf("permutation importance on %s (accuracy %.4f, %d examples)", imp.Split, imp.Accuracy, imp.Count))
	if err != nil {
		return err
	}
	if err := c.UploadArtifact(ctx, run, "evaluation/importance.png", bytes.NewReader(png)); err != nil {
		return fmt.Errorf("train: upload importance: %w", err)
	}
	return nil
}

// uploadDir uploads every file under dir to the run's artifact folder dst.
func uploadDir(ctx context.Context, c *client.Client, run *tracking.Run, dir, dst string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := c.UploadArtifact(ctx, run, dst+"/"+filepath.ToSlash(rel), f); err != nil {
			return fmt.Errorf("train: upload %s: %w", rel, err)
		}
		return nil
	})
}

// LoadModel loads a model package for prediction from a local folder or a
// registry URI (models:/name@alias, models:/name/3, models:/name/latest),
// which is fetched once into cacheDir from models.
func LoadModel(ctx context.Context, models ModelSource, uri, cacheDir, backend string) (*train.Predictor, error) {
	dir := uri
	if strings.HasPrefix(uri, "models:/") {
		if models == nil {
			return nil, errs.Invalidf("load model %s: a tracking server is needed to resolve models:/ URIs", uri)
		}
		d, err := models.FetchModel(ctx, uri, cacheDir)
		if err != nil {
			return nil, fmt.Errorf("load model %s: %w", uri, err)
		}
		dir = filepath.Join(d, PackageArtifact)
		if _, err := os.Stat(filepath.Join(dir, train.PackageFile)); err != nil {
			dir = d // the version's source is the package folder itself
		}
	}
	return train.LoadPredictor(dir, backend)
}
