package data

import (
	"math/rand/v2"
	"slices"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Fold is one round of cross-validation: example indices to train on and
// to validate on.
type Fold struct {
	Train      []int `json:"train"`
	Validation []int `json:"validation"`
}

// StratifiedFolds splits indices (into labels) into k folds that keep the
// class balance, deterministic for a seed: fold i validates on the i-th
// part and trains on the rest. Fold sizes differ by at most one. Errors
// are Invalid.
func StratifiedFolds(labels []int32, indices []int, k int, seed uint64) ([]Fold, error) {
	if k < 2 {
		return nil, errs.Invalidf("folds: k = %d: expected at least 2", k)
	}
	if len(indices) < k {
		return nil, errs.Invalidf("folds: %d examples for %d folds", len(indices), k)
	}
	byLabel := map[int32][]int{}
	seen := make(map[int]bool, len(indices))
	for _, i := range indices {
		if i < 0 || i >= len(labels) {
			return nil, errs.Invalidf("folds: index %d outside the %d examples", i, len(labels))
		}
		if seen[i] {
			return nil, errs.Invalidf("folds: index %d given twice", i)
		}
		seen[i] = true
		byLabel[labels[i]] = append(byLabel[labels[i]], i)
	}
	keys := make([]int32, 0, len(byLabel))
	for l := range byLabel {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	rng := rand.New(rand.NewPCG(seed, 0x5f0c_f01d_c0ff_ee11))
	part := make([][]int, k)
	next := 0 // dealing continues across classes, so sizes stay balanced
	for _, l := range keys {
		idx := slices.Clone(byLabel[l])
		slices.Sort(idx)
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for _, i := range idx {
			part[next%k] = append(part[next%k], i)
			next++
		}
	}
	folds := make([]Fold, k)
	for f := range folds {
		val := slices.Clone(part[f])
		slices.Sort(val)
		train := make([]int, 0, len(indices)-len(val))
		for g := range part {
			if g != f {
				train = append(train, part[g]...)
			}
		}
		slices.Sort(train)
		folds[f] = Fold{Train: train, Validation: val}
	}
	return folds, nil
}

// CVFolds returns k stratified folds over the dataset's train and
// validation examples (the test split stays out), for k-fold
// cross-validation. Note that a table's transform was fitted on the train
// split once: its label-free statistics (fills, means) are shared by the
// folds rather than refitted per fold.
func (d *Dataset) CVFolds(k int, seed uint64) ([]Fold, error) {
	idx := append(slices.Clone(d.Manifest.Splits[SplitTrain]), d.Manifest.Splits[SplitValidation]...)
	slices.Sort(idx)
	return StratifiedFolds(d.Labels, idx, k, seed)
}
