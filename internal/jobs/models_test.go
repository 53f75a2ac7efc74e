package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/serve"
	"github.com/cairn-mlops/cairn/internal/train"
)

func TestServedModelInfo(t *testing.T) {
	for _, tc := range []struct {
		classes   []string
		marginals []serve.Marginal
	}{
		{[]string{"0", "1", "2"}, []serve.Marginal{{Name: "fingers", Values: []string{"0", "1", "2"}, Numeric: true}}},
		{[]string{"0L", "0R", "1L", "1R"}, []serve.Marginal{{Name: "fingers", Values: []string{"0", "0", "1", "1"}, Numeric: true},
			{Name: "hand", Values: []string{"L", "R", "L", "R"}}}},
		{[]string{"cat", "dog"}, nil},
	} {
		m, err := NewServedModel(&train.Predictor{Package: &train.Package{Kind: train.KindImage, Classes: tc.classes, InputShape: []int{8, 8, 1}}})
		require.NoError(t, err)
		info := m.Info()
		require.Equal(t, "image", info.Kind)
		require.Equal(t, tc.marginals, info.Marginals, "%v", tc.classes)
	}
	_, err := NewServedModel(&train.Predictor{Package: &train.Package{Kind: train.KindTable, Classes: []string{"0", "1"}}, Dir: "/m"})
	require.ErrorContains(t, err, "cannot be served")
}
