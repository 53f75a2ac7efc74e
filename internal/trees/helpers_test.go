package trees

import (
	"math"
	"math/rand/v2"
)

// gaussians draws n rows of d features: class c's first len(means[c])
// features are normal around means[c] with unit variance, the rest pure
// noise; classes are equally likely. It also returns, for each row, the
// class the Bayes classifier picks (the nearest mean, as the covariance is
// the identity and the priors equal).
func gaussians(rng *rand.Rand, n, d int, means [][]float64) (Dataset, []int) {
	ds := Dataset{X: make([]float64, n*d), Rows: n, Cols: d, Y: make([]float64, n)}
	bayes := make([]int, n)
	for i := range n {
		c := rng.IntN(len(means))
		ds.Y[i] = float64(c)
		row := ds.Row(i)
		for j := range row {
			row[j] = rng.NormFloat64()
			if j < len(means[c]) {
				row[j] += means[c][j]
			}
		}
		best := math.Inf(1)
		for k, mu := range means {
			var dist float64
			for j, m := range mu {
				dist += (row[j] - m) * (row[j] - m)
			}
			if dist < best {
				best, bayes[i] = dist, k
			}
		}
	}
	return ds, bayes
}

// accuracy is the share of rows whose predicted class is their label.
func accuracy(m *Model, ds Dataset) float64 {
	out, err := m.PredictBatch(ds.X, ds.Rows)
	if err != nil {
		panic(err)
	}
	k := m.NumOutputs()
	hits := 0
	for i := range ds.Rows {
		var c int
		if k == 1 {
			if out[i] > 0.5 {
				c = 1
			}
		} else {
			for j := 1; j < k; j++ {
				if out[i*k+j] > out[i*k+c] {
					c = j
				}
			}
		}
		if float64(c) == ds.Y[i] {
			hits++
		}
	}
	return float64(hits) / float64(ds.Rows)
}

// bayesAccuracy is the share of rows whose Bayes class is their label.
func bayesAccuracy(ds Dataset, bayes []int) float64 {
	hits := 0
	for i, c := range bayes {
		if float64(c) == ds.Y[i] {
			hits++
		}
	}
	return float64(hits) / float64(ds.Rows)
}

// withMissing sets a share of the values of the given columns to NaN.
func withMissing(rng *rand.Rand, ds Dataset, share float64, cols ...int) Dataset {
	ds.X = append([]float64(nil), ds.X...)
	for i := range ds.Rows {
		for _, j := range cols {
			if rng.Float64() < share {
				ds.X[i*ds.Cols+j] = math.NaN()
			}
		}
	}
	return ds
}
