package jobs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data/table"
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

// A table model's fields carry what training saw: choices, ranges, and
// which may be left out.
func TestServedModelTableFields(t *testing.T) {
	c, err := table.ReadCSV(strings.NewReader("y,size,colour,note\n1,2.5,red,a\n0,,blue,b\n1,7,red,c\n0,4,green,d\n"), "t.csv")
	require.NoError(t, err)
	spec := table.Spec{Label: "y", Columns: []table.ColumnSpec{{Name: "size", Type: table.Number}, {Name: "colour", Type: table.Category}, {Name: "note", Type: table.Text, Optional: true}},
		Features: []string{"size", "colour"}}
	tr, err := table.FitTransform(context.Background(), spec, c, nil)
	require.NoError(t, err)
	tj, err := json.Marshal(tr)
	require.NoError(t, err)
	m, err := NewServedModel(&train.Predictor{Package: &train.Package{Kind: train.KindTable, Classes: []string{"0", "1"}, Transform: tj}})
	require.NoError(t, err)
	lo, hi := 2.5, 7.0
	require.Equal(t, []serve.Field{
		{Name: "size", Type: "number", Optional: true, Min: &lo, Max: &hi},
		{Name: "colour", Type: "category", Choices: []string{"blue", "green", "red"}},
		{Name: "note", Type: "text", Optional: true},
	}, m.Info().Inputs)
}
