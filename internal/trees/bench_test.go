package trees

import (
	"math"
	"math/rand/v2"
	"testing"
)

// benchTable draws a binary task of n rows and d features: a logistic
// model on the first five features, with 5% missing values in two.
func benchTable(n, d int) Dataset {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	ds := Dataset{X: make([]float64, n*d), Rows: n, Cols: d, Y: make([]float64, n)}
	for i := range n {
		row := ds.Row(i)
		for j := range row {
			row[j] = rng.NormFloat64()
		}
		z := row[0] - 0.5*row[1] + 0.8*row[2]*row[3] + 0.3*row[4]
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			ds.Y[i] = 1
		}
	}
	return withMissing(rng, ds, 0.05, 1, d-1)
}

// BenchmarkTrain trains 100 iterations of 31 leaves on a Titanic-sized
// table (891 x 10) and 10 iterations on 1,000,000 x 30 (BenchmarkTrain/1M).
func BenchmarkTrain(b *testing.B) {
	for _, c := range []struct {
		name       string
		rows, cols int
		iterations int
	}{
		{"891", 891, 10, 100},
		{"1M", 1_000_000, 30, 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			ds := benchTable(c.rows, c.cols)
			o := DefaultOptions(Binary, 0)
			o.NumIterations = c.iterations
			b.ResetTimer()
			for b.Loop() {
				if _, err := Train(ds, nil, o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkTrainForest grows 100 trees on the Titanic-sized table.
func BenchmarkTrainForest(b *testing.B) {
	ds := benchTable(891, 10)
	o := DefaultForestOptions(Binary, 0)
	for b.Loop() {
		if _, err := TrainForest(ds, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPredictRow predicts one row with a 100-tree, 31-leaf model on
// 10 features.
func BenchmarkPredictRow(b *testing.B) {
	ds := benchTable(5000, 10)
	o := DefaultOptions(Binary, 0)
	m, err := Train(ds, nil, o)
	if err != nil {
		b.Fatal(err)
	}
	if len(m.Trees) != 100 {
		b.Fatalf("%d trees", len(m.Trees))
	}
	out := make([]float64, 0, 1)
	i := 0
	for b.Loop() {
		if out, err = m.Predict(out[:0], ds.Row(i%ds.Rows)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
