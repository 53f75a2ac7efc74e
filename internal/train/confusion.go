package train

import (
	"bytes"
	"fmt"
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// confusionGrid adapts a confusion matrix ([true][predicted]) to a heat map
// grid: columns are predicted classes, rows true classes (top row first).
type confusionGrid [][]int

func (g confusionGrid) Dims() (c, r int)   { return len(g), len(g) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// ConfusionPNG draws an evaluation's confusion matrix as a PNG heat map with
// the count in each cell.
func ConfusionPNG(ev *Evaluation, title string) ([]byte, error) {
	n := len(ev.Confusion)
	if n == 0 {
		return nil, fmt.Errorf("confusion matrix: no classes")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	grid := confusionGrid(ev.Confusion)
	pal := moreland.SmoothBlueRed().Palette(64)
	hm := plotter.NewHeatMap(grid, pal)
	p.Add(hm)
	var labels plotter.XYLabels
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(r)})
			labels.Labels = append(labels.Labels, strconv.Itoa(int(grid.Z(c, r))))
		}
	}
	lp, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	for i := range lp.TextStyle {
		lp.TextStyle[i].Color = color.Black
		lp.TextStyle[i].XAlign = -0.5
		lp.TextStyle[i].YAlign = -0.5
	}
	p.Add(lp)
	ticks := make([]plot.Tick, n)
	yticks := make([]plot.Tick, n)
	for i := 0; i < n; i++ {
		name := strconv.Itoa(i)
		if i < len(ev.Classes) {
			name = ev.Classes[i]
		}
		ticks[i] = plot.Tick{Value: float64(i), Label: name}
		yticks[i] = plot.Tick{Value: float64(n - 1 - i), Label: name}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Tick.Marker = plot.ConstantTicks(yticks)
	wt, err := p.WriterTo(5*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("confusion matrix: %w", err)
	}
	return buf.Bytes(), nil
}
