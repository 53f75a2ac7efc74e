package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	gtrain "github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/metrics"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/images"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/trees"
)

// Options configures one training run.
type Options struct {
	Model        string  // architecture name, see ArchitectureNames
	Backend      string  // "go" (default) or "xla:/abs/plugin.so"
	LearningRate float64 // peak learning rate of Adam
	Epochs       int
	BatchSize    int
	Seed         uint64
	// Schedule is the learning-rate schedule over epochs: "cosine" (default:
	// decays to 1% of LearningRate), "step" (halves every third of the run)
	// or "constant".
	Schedule string
	// Patience stops training after this many epochs without a better
	// validation loss (0: never stop early). The best epoch's weights are kept.
	Patience int
	// WeightDecay is an L2 penalty on weights (0: none).
	WeightDecay float64
	// Augment, for images, is applied to every training example each epoch.
	Augment *images.AugmentOptions
	// CheckpointDir, when set, receives a checkpoint after every epoch; a run
	// started again with the same folder resumes after its last epoch.
	CheckpointDir string
	// OnEpoch is called after every epoch (and for epochs restored on resume,
	// with Restored set); an error stops training.
	OnEpoch func(EpochMetrics) error
	// OnBatch is called after every training batch with the number of
	// batches done in this epoch and the epoch's total.
	OnBatch func(epoch, done, total int)
	// Trees configures the gbdt and rf models (see TreeOptions); the
	// networks' LearningRate, Epochs and BatchSize do not apply to them.
	Trees TreeOptions
	// Members are the models of an ensemble (Model ModelEnsemble; default
	// DefaultEnsemble), each trained with these options.
	Members []string
}

// DefaultOptions returns options that train the reference models well.
func DefaultOptions() Options {
	return Options{Backend: DefaultBackend, LearningRate: 1e-3, Epochs: 10, BatchSize: 32, Seed: 1, Schedule: "cosine", Patience: 0}
}

// Validate checks the options against the dataset's kind.
func (o *Options) Validate(kind string) error {
	if _, err := LookupArchitecture(o.Model, kind); err != nil {
		return err
	}
	if o.Model == ModelEnsemble {
		return o.validateEnsemble(kind)
	}
	if len(o.Members) > 0 {
		return errs.Invalidf("members %v: only an ensemble has members", o.Members)
	}
	if IsTreeModel(o.Model) {
		return o.Trees.WithDefaults(o.Model).Validate()
	}
	switch {
	case !(o.LearningRate > 0 && o.LearningRate < 10):
		return errs.Invalidf("learning rate %g: expected a number in (0, 10)", o.LearningRate)
	case o.Epochs < 1:
		return errs.Invalidf("epochs %d: expected at least 1", o.Epochs)
	case o.BatchSize < 1 || o.BatchSize > 4096:
		return errs.Invalidf("batch size %d: expected 1..4096", o.BatchSize)
	case o.Patience < 0:
		return errs.Invalidf("patience %d: expected 0 (off) or more", o.Patience)
	case o.WeightDecay < 0:
		return errs.Invalidf("weight decay %g: expected 0 or more", o.WeightDecay)
	}
	switch o.Schedule {
	case "", "cosine", "step", "constant":
	default:
		return errs.Invalidf("schedule %q: expected cosine, step or constant", o.Schedule)
	}
	return nil
}

// EpochMetrics are one epoch's results.
type EpochMetrics struct {
	Epoch        int           `json:"epoch"` // 1-based
	TrainLoss    float64       `json:"train_loss"`
	TrainAcc     float64       `json:"train_accuracy"` // mean over the epoch's batches, as trained
	ValLoss      float64       `json:"val_loss"`
	ValAcc       float64       `json:"val_accuracy"`
	LearningRate float64       `json:"learning_rate"`
	Duration     time.Duration `json:"duration_ns"`
	Images       int           `json:"examples"` // training examples seen
	Restored     bool          `json:"-"`
}

// Evaluation is a model's score on one split.
type Evaluation struct {
	Split     string    `json:"split"`
	Count     int       `json:"count"`
	Loss      float64   `json:"loss"`
	Accuracy  float64   `json:"accuracy"`
	Confusion [][]int   `json:"confusion"` // [true][predicted]
	Classes   []string  `json:"classes"`
	Probs     []float32 `json:"-"` // [Count*classes], in split order
}

// Result is what Train returns besides the model.
type Result struct {
	History    []EpochMetrics `json:"history"`
	BestEpoch  int            `json:"best_epoch"`
	Stopped    string         `json:"stopped,omitempty"` // why training ended before Epochs
	Validation *Evaluation    `json:"validation,omitempty"`
	Test       *Evaluation    `json:"test,omitempty"`
	Resumed    int            `json:"resumed_epochs"` // epochs restored from a checkpoint
}

// Model is a trained network: its architecture, its variables and the
// dataset manifest it was trained on (input shape, classes, preprocessing).
type Model struct {
	Arch     Architecture
	Manifest data.Manifest
	backend  backends.Backend
	ctx      *gctx.Context
	predict  *gctx.Exec
	modelState
	trees   *trees.Model // a tree ensemble instead of a network (gbdt, rf)
	members []*Model     // the members of a soft-voting ensemble instead
}

// modelScope is where model variables live; everything else in the context
// (optimizer state, global step) stays out of model packages.
const modelScope = "model"

// stateParam is the context parameter that carries the loop's own state
// (history, best epoch) inside each checkpoint, so weights and state are
// saved, and restored, together.
const stateParam = "cairn_train_state"

type loopState struct {
	History    []EpochMetrics `json:"history"`
	BestEpoch  int            `json:"best_epoch"`
	BestLoss   float64        `json:"best_loss"`
	Stale      int            `json:"stale"`
	ConfigHash string         `json:"config"`
}

// Train trains a model on the dataset's train split, choosing by its
// validation split, and evaluates the best epoch on validation and test.
// It stops when ctx is cancelled (returning ctx.Err()).
func Train(ctx context.Context, ds *data.Dataset, opt Options) (model *Model, res *Result, err error) {
	kind := KindImage
	if ds.Manifest.Kind == "table" {
		kind = KindTable
	}
	if opt.Schedule == "" {
		opt.Schedule = "cosine"
	}
	if err := opt.Validate(kind); err != nil {
		return nil, nil, err
	}
	trainIdx := ds.Manifest.Splits[data.SplitTrain]
	if len(trainIdx) == 0 {
		return nil, nil, errs.Invalidf("train: dataset has no training examples")
	}
	if opt.Model == ModelEnsemble {
		arch, _ := LookupArchitecture(opt.Model, kind)
		return trainEnsemble(ctx, ds, opt, arch)
	}
	if IsTreeModel(opt.Model) {
		arch, _ := LookupArchitecture(opt.Model, kind)
		return trainTrees(ctx, ds, opt, arch)
	}
	backend, err := OpenBackend(opt.Backend)
	if err != nil {
		return nil, nil, err
	}
	defer recoverInto(&err, "train")
	arch, _ := LookupArchitecture(opt.Model, kind)
	gc := gctx.New()
	gc.SetParam(optimizers.ParamLearningRate, opt.LearningRate)
	gc.SetParam("l2_regularization", opt.WeightDecay)
	if err := gc.SetRNGStateFromSeed(int64(opt.Seed)); err != nil {
		return nil, nil, err
	}
	gc = gc.WithInitializer(initializers.HeFn(gc))
	m := &Model{Arch: arch, Manifest: ds.Manifest, backend: backend, ctx: gc}

	// Resume from the folder's last checkpoint, if it is this same run.
	state := loopState{BestLoss: math.Inf(1), ConfigHash: RunKey(opt, ds.Manifest)}
	var ckpt *checkpoints.Handler
	if opt.CheckpointDir != "" {
		ckpt, err = checkpoints.Build(gc).Dir(filepath.Join(opt.CheckpointDir, "last")).Keep(2).Done()
		if err != nil {
			return nil, nil, fmt.Errorf("train: open checkpoints: %w", err)
		}
		if s, ok := gc.GetParam(stateParam); ok {
			var prev loopState
			if err := json.Unmarshal([]byte(s.(string)), &prev); err != nil {
				return nil, nil, fmt.Errorf("train: checkpoint state in %s: %w", opt.CheckpointDir, err)
			}
			if prev.ConfigHash != state.ConfigHash {
				return nil, nil, errs.E(errs.Conflict, "train: %s holds checkpoints of a different run (other data or options); use a new folder", opt.CheckpointDir)
			}
			state = prev
		}
	}
	res = &Result{Resumed: len(state.History)}
	for _, h := range state.History {
		if opt.OnEpoch != nil {
			h.Restored = true
			if err := opt.OnEpoch(h); err != nil {
				return nil, nil, err
			}
		}
	}

	modelFn := func(c *gctx.Context, _ any, inputs []*Node) []*Node {
		return []*Node{arch.build(c.In(modelScope), inputs[0], len(ds.Manifest.Classes))}
	}
	trainer := gtrain.NewTrainer(backend, gc, modelFn, losses.SparseCategoricalCrossEntropyLogits,
		optimizers.Adam().Done(), []metrics.Interface{metrics.NewSparseCategoricalAccuracy("accuracy", "acc")}, nil)
	if len(state.History) > 0 {
		trainer.SetContext(gc.Reuse())
	}
	batch := min(opt.BatchSize, len(trainIdx))
	steps := len(trainIdx) / batch
	exampleSize := ds.ExampleSize()
	inputs := make([]float32, batch*exampleSize)
	labels := make([]int32, batch)
	shape := append([]int{batch}, ds.Manifest.Shape...)
	var aug *images.Augmenter
	if opt.Augment != nil && opt.Augment.Enabled() && kind == KindImage {
		if f := opt.Augment.FlipClasses; len(f) > 0 && len(f) != len(ds.Manifest.Classes) {
			return nil, nil, errs.Invalidf("augment: flip_classes has %d entries for %d classes", len(f), len(ds.Manifest.Classes))
		}
		if aug, err = images.NewAugmenter(ds.Manifest.Shape, ds.Manifest.Normalize, *opt.Augment); err != nil {
			return nil, nil, err
		}
	}
	lrVar := optimizers.LearningRateVar(gc, dtypes.Float32, opt.LearningRate)

	for epoch := len(state.History) + 1; epoch <= opt.Epochs; epoch++ {
		if opt.Patience > 0 && state.Stale >= opt.Patience {
			res.Stopped = fmt.Sprintf("early stop: validation loss did not improve for %d epochs (best epoch %d)", state.Stale, state.BestEpoch)
			break
		}
		start := time.Now()
		lr := scheduledRate(opt, epoch)
		lrVar.MustSetValue(tensors.FromScalar(float32(lr)))
		rng := rand.New(rand.NewPCG(opt.Seed, uint64(epoch)))
		order := append([]int(nil), trainIdx...)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		if err := trainer.ResetTrainMetrics(); err != nil {
			return nil, nil, err
		}
		var lossSum, acc float64
		for s := 0; s < steps; s++ {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			for b := 0; b < batch; b++ {
				i := order[s*batch+b]
				x := ds.Example(i, inputs[b*exampleSize:(b+1)*exampleSize])
				labels[b] = ds.Labels[i]
				if aug != nil && aug.Apply(rng, x) {
					labels[b] = aug.FlipLabel(labels[b])
				}
			}
			out, err := trainer.TrainStep(nil,
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(inputs, shape...)},
				[]*tensors.Tensor{tensors.FromFlatDataAndDimensions(labels, batch, 1)})
			if err != nil {
				return nil, nil, fmt.Errorf("train step: %w", err)
			}
			lossSum += float64(tensors.ToScalar[float32](out[0]))
			acc = float64(tensors.ToScalar[float32](out[len(out)-1])) // mean since the epoch began
			if opt.OnBatch != nil {
				opt.OnBatch(epoch, s+1, steps)
			}
		}
		// Train accuracy is the mean over the epoch's batches, as trained
		// (augmented, dropout on): no second pass over the training data.
		em := EpochMetrics{Epoch: epoch, TrainLoss: lossSum / float64(steps), TrainAcc: acc, LearningRate: lr, Images: steps * batch}
		em.ValLoss, em.ValAcc = em.TrainLoss, em.TrainAcc
		if val := ds.Manifest.Splits[data.SplitValidation]; len(val) > 0 {
			ev, err := m.evaluate(ds, data.SplitValidation, val)
			if err != nil {
				return nil, nil, err
			}
			em.ValLoss, em.ValAcc = ev.Loss, ev.Accuracy
		}
		em.Duration = time.Since(start)
		state.History = append(state.History, em)
		if em.ValLoss < state.BestLoss || state.BestEpoch == 0 {
			state.BestLoss, state.BestEpoch, state.Stale = em.ValLoss, epoch, 0
			if opt.CheckpointDir != "" {
				if err := m.saveWeights(filepath.Join(opt.CheckpointDir, "best")); err != nil {
					return nil, nil, err
				}
			} else if err := m.keepBest(); err != nil {
				return nil, nil, err
			}
		} else {
			state.Stale++
		}
		if ckpt != nil {
			b, _ := json.Marshal(state)
			gc.SetParam(stateParam, string(b))
			if err := ckpt.Save(); err != nil {
				return nil, nil, fmt.Errorf("train: save checkpoint: %w", err)
			}
		}
		if opt.OnEpoch != nil {
			if err := opt.OnEpoch(em); err != nil {
				return nil, nil, err
			}
		}
	}
	res.History, res.BestEpoch = state.History, state.BestEpoch
	if opt.Patience > 0 && state.Stale >= opt.Patience && res.Stopped == "" && len(state.History) < opt.Epochs {
		res.Stopped = fmt.Sprintf("early stop: validation loss did not improve for %d epochs (best epoch %d)", state.Stale, state.BestEpoch)
	}

	// Continue with the best epoch's weights, without optimizer state.
	best := m.best
	if opt.CheckpointDir != "" {
		best, err = loadWeights(filepath.Join(opt.CheckpointDir, "best"))
		if err != nil {
			return nil, nil, err
		}
	}
	final, err := newModel(backend, arch, ds.Manifest, best)
	if err != nil {
		return nil, nil, err
	}
	for _, split := range []string{data.SplitValidation, data.SplitTest} {
		if idx := ds.Manifest.Splits[split]; len(idx) > 0 {
			ev, err := final.evaluate(ds, split, idx)
			if err != nil {
				return nil, nil, err
			}
			if split == data.SplitValidation {
				res.Validation = ev
			} else {
				res.Test = ev
			}
		}
	}
	return final, res, nil
}

// scheduledRate is the learning rate of a 1-based epoch.
func scheduledRate(o Options, epoch int) float64 {
	switch o.Schedule {
	case "constant":
		return o.LearningRate
	case "step":
		third := max(1, o.Epochs/3)
		return o.LearningRate * math.Pow(0.5, float64((epoch-1)/third))
	}
	if o.Epochs == 1 {
		return o.LearningRate
	}
	t := float64(epoch-1) / float64(o.Epochs-1)
	low := o.LearningRate * 0.01
	return low + (o.LearningRate-low)*0.5*(1+math.Cos(math.Pi*t))
}

// RunKey identifies a training run for resuming: a hash of the dataset and
// of every option that shapes training (not callbacks, backend or folders).
func RunKey(o Options, m data.Manifest) string {
	key := []any{o.Model, o.LearningRate, o.Epochs, o.BatchSize, o.Seed, o.Schedule, o.Patience, o.WeightDecay, o.Augment, m.Hash, m.Shape}
	if o.Model == ModelEnsemble {
		key = append(key, o.ensembleMembers(), o.Trees)
	}
	b, _ := json.Marshal(key)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func inModelScope(scope string) bool {
	p := gctx.ScopeSeparator + modelScope
	return scope == p || len(scope) > len(p) && scope[:len(p)+1] == p+gctx.ScopeSeparator
}

// errNoWeights is returned when a weights folder holds no checkpoint.
var errNoWeights = errors.New("no weights")

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
