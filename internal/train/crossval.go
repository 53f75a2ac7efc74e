package train

import (
	"context"
	"fmt"
	"math"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// CrossValidation is the result of (repeated) k-fold cross-validation.
type CrossValidation struct {
	Folds   int `json:"folds"`
	Repeats int `json:"repeats"`
	// Accuracy is the validation accuracy of every fold, repeat after
	// repeat; Mean and Std are over all of them.
	Accuracy []float64 `json:"accuracy"`
	Mean     float64   `json:"mean"`
	Std      float64   `json:"std"`
	// RepeatMeans are each repeat's mean, whose spread (RepeatStd) says how
	// much one k-fold estimate depends on its split.
	RepeatMeans []float64 `json:"repeat_means,omitempty"`
	RepeatStd   float64   `json:"repeat_std"`
}

// CrossValidate trains one model per fold of the dataset's train and
// validation examples (stratified, seeded) and reports the validation
// accuracy of each. The test split is never used. Checkpoints and callbacks
// of opt are ignored.
func CrossValidate(ctx context.Context, ds *data.Dataset, opt Options, k int) (*CrossValidation, error) {
	return CrossValidateRepeated(ctx, ds, opt, k, 1)
}

// CrossValidateRepeated is repeated stratified k-fold cross-validation:
// repeats times k folds, each repeat split with its own seed (opt.Seed,
// opt.Seed+1, ...), which estimates what a model will score on new data
// with less dependence on one split than a single k-fold does.
func CrossValidateRepeated(ctx context.Context, ds *data.Dataset, opt Options, k, repeats int) (*CrossValidation, error) {
	if k < 2 {
		return nil, errs.Invalidf("cross-validation: %d folds: expected at least 2", k)
	}
	if repeats < 1 || repeats > 100 {
		return nil, errs.Invalidf("cross-validation: %d repeats: expected 1 to 100", repeats)
	}
	opt.CheckpointDir, opt.OnEpoch, opt.OnBatch = "", nil, nil
	cv := &CrossValidation{Folds: k, Repeats: repeats}
	for r := range repeats {
		folds, err := ds.CVFolds(k, opt.Seed+uint64(r))
		if err != nil {
			return nil, err
		}
		sum := 0.0
		for i, f := range folds {
			fold := *ds
			fold.Manifest.Splits = map[string][]int{data.SplitTrain: f.Train, data.SplitValidation: f.Validation}
			_, res, err := Train(ctx, &fold, opt)
			if err != nil {
				return nil, fmt.Errorf("cross-validation repeat %d fold %d: %w", r+1, i+1, err)
			}
			cv.Accuracy = append(cv.Accuracy, res.Validation.Accuracy)
			sum += res.Validation.Accuracy
		}
		cv.RepeatMeans = append(cv.RepeatMeans, sum/float64(k))
	}
	cv.Mean, cv.Std = meanStd(cv.Accuracy)
	_, cv.RepeatStd = meanStd(cv.RepeatMeans)
	return cv, nil
}

func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x / float64(len(xs))
	}
	for _, x := range xs {
		std += (x - mean) * (x - mean) / float64(len(xs))
	}
	return mean, math.Sqrt(std)
}
