package steps

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/train"
)

func TestServedModelInfo(t *testing.T) {
	for _, tc := range []struct {
		classes []string
		hands   bool
	}{
		{[]string{"0", "1", "2", "3", "4", "5"}, false},
		{[]string{"0L", "0R", "1L", "1R"}, true},
	} {
		m, err := NewServedModel(&train.Predictor{Package: &train.Package{Kind: train.KindImage, Classes: tc.classes, InputShape: []int{8, 8, 1}}})
		require.NoError(t, err)
		info := m.Info()
		require.Equal(t, "image", info.Kind)
		require.Equal(t, tc.hands, info.Hands, "%v", tc.classes)
	}
	_, err := NewServedModel(&train.Predictor{Package: &train.Package{Kind: train.KindTable, Classes: []string{"0", "1"}}, Dir: "/m"})
	require.ErrorContains(t, err, "cannot be served")
}
