package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/jobs"
	"github.com/cairn-mlops/cairn/internal/train"
)

// workload holds the defaults of one reference workload.
type workload struct {
	name, kind, model string
	lr                float64
	epochs, batch     int
}

var workloads = map[string]workload{
	"fingers": {name: "fingers", kind: train.KindImage, model: "small", lr: 2e-3, epochs: 8, batch: 32},
	"titanic": {name: "titanic", kind: train.KindTable, model: "mlp", lr: 5e-3, epochs: 60, batch: 32},
	// table is any CSV: --target names the column to predict.
	"table": {name: "table", kind: train.KindTable, model: "gbdt", lr: 5e-3, epochs: 60, batch: 32},
}

func newTrainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "train fingers|titanic|table --data PATH",
		Short: "Train a model as a tracked run: metrics per epoch, evaluation, model package",
		Long: `Trains one of the reference models in this process (GoMLX, pure-Go backend by
default) and records it on the tracking server: params, per-epoch train and
validation loss and accuracy (step = epoch), the dataset as a run input, final
validation and test metrics, confusion matrices (JSON and PNG) and the model
package (artifact "model": cairn-model.json, MLmodel, weights).

--data is a prepared dataset folder (from 'cairn data prepare'), or a raw
source that is prepared first (cached by content): for fingers an image folder,
.zip or URL; for titanic a CSV file.

'cairn train table' trains on any CSV file: --target names the column to
predict; the other columns' types are inferred as 'cairn data prepare table'
does (see its help), with --schema, --column and --drop to override them. The
run goes to the experiment named after the file unless --experiment is given,
and --json prints the final metrics (val_accuracy, cv_accuracy_mean, ...) as
one JSON object.

Training checkpoints every epoch into --work (default: a folder derived from
the data and options under --data-dir). Run the same command again after a
kill and it resumes after the last finished epoch, in the same tracking run.`,
		Example: `  cairn train fingers --data ../shared/data/fingers --model small --lr 0.002 --epochs 8
  cairn train titanic --data ../shared/data/titanic/train.csv --model mlp
  cairn train table --data churn.csv --target churned --model gbdt --cv 5 --json`,
		Args: cobra.ExactArgs(1),
		RunE: runTrain,
	}
	f := cmd.Flags()
	f.String("data", "", "prepared dataset folder, or a raw source to prepare (required)")
	f.String("model", "", "architecture: fingers "+strings.Join(train.ArchitectureNames(train.KindImage), "|")+
		"; titanic "+strings.Join(train.ArchitectureNames(train.KindTable), "|"))
	f.Float64("lr", 0, "peak learning rate (default per workload)")
	f.Int("epochs", 0, "epochs (default per workload)")
	f.Int("batch", 0, "batch size (default 32)")
	f.Uint64("seed", 1, "seed for initialisation, shuffling and augmentation")
	f.String("schedule", "cosine", "learning-rate schedule: cosine, step or constant")
	f.Int("patience", 0, "stop after this many epochs without a better validation loss (0: never)")
	f.Float64("weight-decay", 0, "L2 penalty on weights")
	f.Bool("augment", true, "augment training images (flips, shifts, rotations, brightness)")
	f.String("backend", train.DefaultBackend, "compute backend: go, or xla:/abs/path/pjrt_plugin.so")
	f.Int("size", 32, "image size in pixels when preparing a raw image source")
	f.String("labels", images.LabelsCount, "fingers naming, when preparing: count (classes 0-5) or count_hand (0L..5R: the model also tells the hand)")
	f.String("experiment", "", "experiment name (default: the workload's name)")
	f.String("run-name", "", "run name (default: MODEL-lrLR)")
	f.String("work", "", "folder for checkpoints and the package (default: under --data-dir)")
	f.Int("cv", 0, "first run K-fold cross-validation on train+validation and log its mean and std (0: off)")
	f.Int("cv-repeats", 1, "repeat the K-fold cross-validation this many times with other splits (e.g. --cv 5 --cv-repeats 5)")
	d := train.DefaultTreeOptions(train.ModelGBDT)
	f.Int("tree-iterations", 0, fmt.Sprintf("gbdt boosting rounds / rf trees (default %d / %d)", d.Iterations, train.DefaultTreeOptions(train.ModelRF).Iterations))
	f.Float64("tree-lr", 0, fmt.Sprintf("gbdt learning rate (default %g)", d.LearningRate))
	f.Int("tree-leaves", 0, "most leaves per tree (default gbdt 8, rf 64)")
	f.Int("tree-depth", 0, "deepest a tree grows (default gbdt 4, rf 8)")
	f.Int("tree-min-leaf", 0, "fewest training rows in a leaf (default gbdt 10, rf 3)")
	f.Float64("tree-l2", 0, "gbdt L2 penalty on leaf values (default 1)")
	f.Float64("tree-subsample", 0, "share of rows each tree sees (default gbdt 0.8, rf 1: a bootstrap sample)")
	f.Float64("tree-features", 0, "share of features per tree (gbdt, default 0.8) or per split (rf, default 0.5)")
	f.Int("tree-early-stop", 0, "gbdt: stop after this many rounds without a better validation loss (default 50; -1: off)")
	f.Bool("tree-balanced", false, "weigh each class by the inverse of its frequency")
	f.StringSlice("members", nil, "ensemble: the member models, averaged (default "+strings.Join(train.DefaultEnsemble, ",")+")")
	f.String("data-dir", "cairn-data", "folder for the dataset cache and training work folders")
	f.String("target", "", "table: the column to predict (required unless --schema names it)")
	f.Float64("val", 0.2, "table: validation share of a raw CSV")
	f.Float64("test", 0, "table: test share of a raw CSV")
	tableSchemaFlagsOn(cmd)
	clientFlags(cmd)
	return cmd
}

func runTrain(cmd *cobra.Command, args []string) error {
	w, ok := workloads[args[0]]
	if !ok {
		return usageError{fmt.Errorf("unknown workload %q: expected fingers, titanic or table", args[0])}
	}
	f := cmd.Flags()
	tbl, err := tableTrainFlags(cmd, w)
	if err != nil {
		return err
	}
	src, _ := f.GetString("data")
	if src == "" {
		return usageError{fmt.Errorf("--data is required: a prepared dataset folder or a raw source")}
	}
	dataDir, _ := f.GetString("data-dir")
	size, _ := f.GetInt("size")
	ctx := cmd.Context()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()

	opt := train.DefaultOptions()
	opt.Model, opt.LearningRate, opt.Epochs, opt.BatchSize = w.model, w.lr, w.epochs, w.batch
	if v, _ := f.GetString("model"); v != "" {
		opt.Model = v
	}
	if v, _ := f.GetFloat64("lr"); v != 0 {
		opt.LearningRate = v
	}
	if v, _ := f.GetInt("epochs"); v != 0 {
		opt.Epochs = v
	}
	if v, _ := f.GetInt("batch"); v != 0 {
		opt.BatchSize = v
	}
	opt.Seed, _ = f.GetUint64("seed")
	opt.Schedule, _ = f.GetString("schedule")
	opt.Patience, _ = f.GetInt("patience")
	opt.WeightDecay, _ = f.GetFloat64("weight-decay")
	opt.Backend, _ = f.GetString("backend")
	opt.Trees.Iterations, _ = f.GetInt("tree-iterations")
	opt.Trees.LearningRate, _ = f.GetFloat64("tree-lr")
	opt.Trees.Leaves, _ = f.GetInt("tree-leaves")
	opt.Trees.MaxDepth, _ = f.GetInt("tree-depth")
	opt.Trees.MinLeaf, _ = f.GetInt("tree-min-leaf")
	opt.Trees.L2, _ = f.GetFloat64("tree-l2")
	opt.Trees.Subsample, _ = f.GetFloat64("tree-subsample")
	opt.Trees.FeatureFraction, _ = f.GetFloat64("tree-features")
	opt.Trees.EarlyStop, _ = f.GetInt("tree-early-stop")
	opt.Trees.Balanced, _ = f.GetBool("tree-balanced")
	opt.Members, _ = f.GetStringSlice("members")
	// Bad options fail before any data is prepared.
	if err := opt.Validate(w.kind); err != nil {
		return err
	}
	if _, err := train.OpenBackend(opt.Backend); err != nil {
		return err
	}
	labels, _ := f.GetString("labels")
	dsDir, err := preparedDataset(cmd, w, src, filepath.Join(dataDir, "datasets"), size, labels, tbl)
	if err != nil {
		return err
	}
	if aug, _ := f.GetBool("augment"); aug && w.kind == train.KindImage {
		man, err := data.ReadManifest(dsDir)
		if err != nil {
			return err
		}
		a := images.AugmentOptionsFor(man)
		opt.Augment = &a
	}
	c, err := newClient(cmd)
	if err != nil {
		return err
	}
	job := jobs.Training{Dataset: dsDir, Options: opt, Experiment: w.name}
	if w.name == "table" {
		job.Experiment = experimentFor(src)
	}
	if v, _ := f.GetString("experiment"); v != "" {
		job.Experiment = v
	}
	job.RunName, _ = f.GetString("run-name")
	job.CVFolds, _ = f.GetInt("cv")
	job.CVRepeats, _ = f.GetInt("cv-repeats")
	job.WorkDir, _ = f.GetString("work")
	if job.WorkDir == "" {
		job.WorkDir = filepath.Join(dataDir, "train", workKey(w.name, dsDir, opt))
	}
	bar := newTermBar(errOut, "epoch")
	progress := func(epoch, done, total int) {
		bar.desc = fmt.Sprintf("epoch %d/%d", epoch, opt.Epochs)
		if done == 1 && bar.bar != nil {
			bar.finish()
			bar.bar = nil
		}
		bar.update(done, total)
	}
	res, err := jobs.Train(ctx, c, job, progress, errOut)
	bar.finish()
	if err != nil {
		return err
	}
	if wantJSON(cmd) && w.name == "table" {
		return printJSON(out, tableTrainJSON(res, opt))
	}
	if wantJSON(cmd) {
		return printJSON(out, map[string]any{"run_id": res.RunID, "package": res.Package, "model_uri": "runs:/" + res.RunID + "/" + res.ArtifactID,
			"best_epoch": res.Result.BestEpoch, "cross_validation": res.CV, "validation": res.Result.Validation, "test": res.Result.Test, "history": res.Result.History})
	}
	fmt.Fprintf(out, "run %s: %s, best epoch %d of %d\n", res.RunID, opt.Model, res.Result.BestEpoch, len(res.Result.History))
	for _, ev := range []*train.Evaluation{res.Result.Validation, res.Result.Test} {
		if ev != nil {
			fmt.Fprintf(out, "  %-10s accuracy %.4f  loss %.4f  (%d examples)\n", ev.Split, ev.Accuracy, ev.Loss, ev.Count)
		}
	}
	if res.CV != nil {
		fmt.Fprintf(out, "  %dx%d-fold CV accuracy %.4f ± %.4f (repeat means ± %.4f)\n", res.CV.Repeats, res.CV.Folds, res.CV.Mean, res.CV.Std, res.CV.RepeatStd)
	}
	if res.Pkg.Dataset.Synthetic {
		fmt.Fprintln(out, "  trained on SYNTHETIC data (generated stand-ins, not real photos or passengers)")
	}
	fmt.Fprintf(out, "  model package: %s (artifact runs:/%s/%s)\n", res.Package, res.RunID, res.ArtifactID)
	return nil
}

// preparedDataset returns a prepared dataset folder for src: src itself when
// it holds a manifest, else src prepared (or found in the cache).
func preparedDataset(cmd *cobra.Command, w workload, src, cache string, size int, labels string, tbl *tableTrain) (string, error) {
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		if _, err := data.ReadManifest(src); err == nil {
			return src, nil
		} else if errs.KindOf(err) != errs.NotFound {
			return "", err
		}
	}
	ctx, errOut := cmd.Context(), cmd.ErrOrStderr()
	if w.kind == train.KindTable {
		opt := table.DefaultPrepareOptions()
		opt.Path, opt.Preset, opt.CacheDir = src, table.PresetTitanic, cache
		if tbl != nil {
			opt.Preset, opt.Label, opt.Schema, opt.Split = "", tbl.target, tbl.schema, tbl.split
		}
		res, err := table.Prepare(ctx, opt)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(errOut, "dataset %s (%d rows, %s)\n", res.Dir, res.Manifest.Count, hitWord(res.Hit))
		if tbl != nil {
			fmt.Fprintf(errOut, "features %s\n", strings.Join(res.Manifest.Features, ", "))
			if d := droppedSummary(res.Manifest); d != "" {
				fmt.Fprintf(errOut, "dropped %s\n", d)
			}
		}
		return res.Dir, nil
	}
	opt := images.DefaultPrepareOptions()
	opt.Source, opt.CacheDir, opt.Labels = src, cache, labels
	opt.Image.Size = size
	bar := newTermBar(errOut, "preparing")
	opt.Progress = bar.update
	res, err := images.Prepare(ctx, opt)
	bar.finish()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(errOut, "dataset %s (%d images, %dpx, %s in %s)\n", res.Dir, res.Manifest.Count, size, hitWord(res.Hit), res.Duration.Round(1e6))
	return res.Dir, nil
}

// tableTrain is what 'cairn train table' adds: the target, the overrides
// of inferred columns and the split of a raw CSV.
type tableTrain struct {
	target string
	schema *table.Schema
	split  data.SplitFractions
}

// tableTrainFlags reads the table-only flags; nil for other workloads, which
// must not be given them.
func tableTrainFlags(cmd *cobra.Command, w workload) (*tableTrain, error) {
	f := cmd.Flags()
	if w.name != "table" {
		for _, name := range []string{"target", "schema", "column", "drop", "val", "test"} {
			if f.Changed(name) {
				return nil, usageError{fmt.Errorf("--%s applies to 'cairn train table' only", name)}
			}
		}
		return nil, nil
	}
	t := &tableTrain{}
	t.target, _ = f.GetString("target")
	t.split.Validation, _ = f.GetFloat64("val")
	t.split.Test, _ = f.GetFloat64("test")
	var err error
	if t.schema, err = tableSchemaFlags(cmd); err != nil {
		return nil, err
	}
	if t.target == "" && (t.schema == nil || t.schema.Target == "") {
		return nil, usageError{fmt.Errorf("--target is required: the column to predict")}
	}
	if err := t.split.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// experimentFor names the experiment of a table run after its file:
// churn.csv trains into "churn".
func experimentFor(src string) string {
	name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "table"
	}
	return name
}

// tableTrainJSON is the one JSON object 'cairn train table --json' prints:
// the run, the model and its final metrics at the top level.
func tableTrainJSON(res *jobs.Trained, opt train.Options) map[string]any {
	out := map[string]any{
		"run_id": res.RunID, "model": opt.Model, "model_uri": "runs:/" + res.RunID + "/" + res.ArtifactID,
		"package": res.Package, "best_epoch": res.Result.BestEpoch, "classes": res.Pkg.Classes,
	}
	if ev := res.Result.Validation; ev != nil {
		out["val_accuracy"], out["val_loss"], out["val_examples"] = ev.Accuracy, ev.Loss, ev.Count
	}
	if ev := res.Result.Test; ev != nil {
		out["test_accuracy"], out["test_loss"], out["test_examples"] = ev.Accuracy, ev.Loss, ev.Count
	}
	if cv := res.CV; cv != nil {
		out["cv_accuracy_mean"], out["cv_accuracy_std"], out["cv_repeat_std"] = cv.Mean, cv.Std, cv.RepeatStd
		out["cv_folds"], out["cv_repeats"] = cv.Folds, cv.Repeats
	}
	return out
}

func hitWord(hit bool) string {
	if hit {
		return "cache hit"
	}
	return "prepared"
}

// workKey names a training work folder after what makes a run the same run,
// so running the same command again resumes it.
func workKey(name, dsDir string, o train.Options) string {
	man, _ := data.ReadManifest(dsDir)
	return fmt.Sprintf("%s-%s-%s", name, o.Model, train.RunKey(o, man)[:12])
}
