package data

import (
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// SplitFractions are the shares of examples for validation and test; the
// rest goes to train.
type SplitFractions struct {
	Validation float64 `json:"validation"`
	Test       float64 `json:"test"`
}

// Validate checks that both fractions are in [0,1) and leave room for train.
func (f SplitFractions) Validate() error {
	if f.Validation < 0 || f.Test < 0 || f.Validation+f.Test >= 1 {
		return errs.Invalidf("split: validation %.3g + test %.3g must be non-negative and below 1", f.Validation, f.Test)
	}
	return nil
}

// Split assigns example indices to train, validation and test, stratified by
// label so every split keeps the class balance, and deterministic for a seed.
// Examples whose fixed[i] is a split name (e.g. images from a test/ folder)
// stay there; fixed may be nil.
func Split(labels []int32, fixed []string, f SplitFractions, seed uint64) (map[string][]int, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	out := map[string][]int{SplitTrain: {}, SplitValidation: {}, SplitTest: {}}
	byLabel := map[int32][]int{}
	for i, l := range labels {
		if fixed != nil && fixed[i] != "" {
			out[fixed[i]] = append(out[fixed[i]], i)
			continue
		}
		byLabel[l] = append(byLabel[l], i)
	}
	keys := make([]int32, 0, len(byLabel))
	for l := range byLabel {
		keys = append(keys, l)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, l := range keys {
		idx := byLabel[l]
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		nVal := int(float64(len(idx))*f.Validation + 0.5)
		nTest := int(float64(len(idx))*f.Test + 0.5)
		out[SplitValidation] = append(out[SplitValidation], idx[:nVal]...)
		out[SplitTest] = append(out[SplitTest], idx[nVal:nVal+nTest]...)
		out[SplitTrain] = append(out[SplitTrain], idx[nVal+nTest:]...)
	}
	for _, s := range out {
		sort.Ints(s)
	}
	return out, nil
}

// SplitOfFolder maps a top-level folder name of a source (train/, val/,
// test/ and their variants) to the split it fixes, or "" for none.
func SplitOfFolder(name string) string {
	switch strings.ToLower(name) {
	case "train", "training":
		return SplitTrain
	case "val", "valid", "validation":
		return SplitValidation
	case "test", "testing":
		return SplitTest
	}
	return ""
}
