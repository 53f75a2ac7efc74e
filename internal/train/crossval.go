package train

import (
	"context"
	"fmt"
	"math"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// CrossValidation is the result of k-fold cross-validation.
type CrossValidation struct {
	Folds    int       `json:"folds"`
	Accuracy []float64 `json:"accuracy"` // validation accuracy per fold
	Mean     float64   `json:"mean"`
	Std      float64   `json:"std"`
}

// CrossValidate trains one model per fold of the dataset's train and
// validation examples (stratified, seeded) and reports the validation
// accuracy of each. The test split is never used. Checkpoints and callbacks
// of opt are ignored.
func CrossValidate(ctx context.Context, ds *data.Dataset, opt Options, k int) (*CrossValidation, error) {
	if k < 2 {
		return nil, errs.Invalidf("cross-validation: %d folds: expected at least 2", k)
	}
	folds, err := ds.CVFolds(k, opt.Seed)
	if err != nil {
		return nil, err
	}
	opt.CheckpointDir, opt.OnEpoch, opt.OnBatch = "", nil, nil
	cv := &CrossValidation{Folds: k}
	for i, f := range folds {
		fold := *ds
		fold.Manifest.Splits = map[string][]int{data.SplitTrain: f.Train, data.SplitValidation: f.Validation}
		_, res, err := Train(ctx, &fold, opt)
		if err != nil {
			return nil, fmt.Errorf("cross-validation fold %d: %w", i+1, err)
		}
		cv.Accuracy = append(cv.Accuracy, res.Validation.Accuracy)
	}
	for _, a := range cv.Accuracy {
		cv.Mean += a / float64(k)
	}
	for _, a := range cv.Accuracy {
		cv.Std += (a - cv.Mean) * (a - cv.Mean) / float64(k)
	}
	cv.Std = math.Sqrt(cv.Std)
	return cv, nil
}
