package data

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestStratifiedFolds(t *testing.T) {
	labels := make([]int32, 103)
	for i := range labels {
		if i%3 == 0 {
			labels[i] = 1
		}
	}
	idx := make([]int, 0, len(labels))
	for i := range labels {
		if i != 50 { // leave one out, as a test split would
			idx = append(idx, i)
		}
	}
	folds, err := StratifiedFolds(labels, idx, 5, 7)
	require.NoError(t, err)
	require.Len(t, folds, 5)
	again, err := StratifiedFolds(labels, slices.Clone(idx), 5, 7)
	require.NoError(t, err)
	require.Equal(t, folds, again)
	other, err := StratifiedFolds(labels, idx, 5, 8)
	require.NoError(t, err)
	require.NotEqual(t, folds, other)

	seen := map[int]int{}
	for _, f := range folds {
		require.Len(t, f.Train, len(idx)-len(f.Validation))
		require.True(t, slices.IsSorted(f.Validation) && slices.IsSorted(f.Train))
		require.InDelta(t, len(idx)/5, len(f.Validation), 1)
		pos := 0
		for _, i := range f.Validation {
			seen[i]++
			pos += int(labels[i])
			require.NotContains(t, f.Train, i)
		}
		require.InDelta(t, 35.0/5, pos, 1, "positives per fold")
	}
	require.Len(t, seen, len(idx))
	for i, n := range seen {
		require.Equal(t, 1, n, "index %d validated %d times", i, n)
	}

	for _, tc := range []struct {
		name string
		idx  []int
		k    int
		msg  string
	}{
		{"k too small", idx, 1, "k = 1: expected at least 2"},
		{"too few", []int{1, 2}, 3, "2 examples for 3 folds"},
		{"out of range", []int{1, 2, 500}, 2, "index 500 outside"},
		{"duplicate", []int{1, 2, 2}, 2, "index 2 given twice"},
	} {
		_, err := StratifiedFolds(labels, tc.idx, tc.k, 1)
		require.True(t, errs.Is(err, errs.Invalid), tc.name)
		require.ErrorContains(t, err, tc.msg, tc.name)
	}

	d := &Dataset{Labels: labels, Manifest: Manifest{Splits: map[string][]int{
		SplitTrain: idx[:80], SplitValidation: idx[80:], SplitTest: {50},
	}}}
	cv, err := d.CVFolds(5, 7)
	require.NoError(t, err)
	require.Equal(t, folds, cv)
}
