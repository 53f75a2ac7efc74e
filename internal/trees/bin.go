package trees

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// binSampleRows is how many rows the bin bounds are computed from, as
// LightGBM's bin_construct_sample_cnt: quantiles of 200,000 values are as
// good as those of millions, and sorting them is cheap.
const binSampleRows = 200_000

// binMapper maps one feature's values to bin codes. Bin b holds the values
// x with upper[b-1] < x <= upper[b]; the last bound is +Inf. Missing values
// (NaN) get the code len(upper), one past the value bins.
type binMapper struct {
	upper    []float64
	hasNaN   bool // the training data has a missing value in this feature
	min, max float64
}

// numBins is the number of value bins, not counting the missing one.
func (m *binMapper) numBins() int { return len(m.upper) }

// nanCode is the code of a missing value.
func (m *binMapper) nanCode() uint8 { return uint8(len(m.upper)) }

// code returns x's bin code.
func (m *binMapper) code(x float64) uint8 {
	if math.IsNaN(x) {
		return m.nanCode()
	}
	// The first bound >= x; the last one, +Inf, always is.
	u := m.upper
	lo, hi := 0, len(u)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x <= u[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return uint8(lo)
}

// info is the feature's entry in the model's feature_infos: LightGBM's
// "[min:max]" of the training values.
func (m *binMapper) info() string {
	return "[" + strconv.FormatFloat(m.min, 'g', -1, 64) + ":" + strconv.FormatFloat(m.max, 'g', -1, 64) + "]"
}

// newBinMapper computes equal-frequency bin bounds from sorted, finite
// values (at least one): each distinct value gets its own bin when there
// are at most maxBin of them, otherwise the cuts fall where the running
// count crosses multiples of len(sorted)/maxBin. A bound is the midpoint of
// the two distinct values it separates, as LightGBM's thresholds are.
func newBinMapper(sorted []float64, maxBin int) *binMapper {
	distinct := 1
	for i := 1; i < len(sorted); i++ {
		if sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	m := &binMapper{min: sorted[0], max: sorted[len(sorted)-1]}
	per, next := float64(len(sorted))/float64(maxBin), 1.0
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if j == len(sorted) {
			break
		}
		// The run of sorted[i] ends at j: j values lie at or below it.
		if distinct <= maxBin || float64(j) >= next*per {
			a, b := sorted[i], sorted[j]
			mid := a + (b-a)/2
			if mid >= b { // a and b are adjacent floats
				mid = a
			}
			m.upper = append(m.upper, mid)
			for float64(j) >= next*per {
				next++
			}
		}
		i = j
	}
	m.upper = append(m.upper, math.Inf(1))
	return m
}

// binned is a dataset turned into bin codes, feature-major: the code of
// row i in feature f is codes[f*rows+i].
type binned struct {
	rows, cols int
	codes      []uint8
	mappers    []*binMapper
	offsets    []int // offsets[f]: where feature f's bins start in a histogram
	totalBins  int   // histogram length: every feature's value bins plus its missing bin
}

// col returns feature f's codes.
func (b *binned) col(f int) []uint8 { return b.codes[f*b.rows : (f+1)*b.rows] }

// binDataset computes the bin bounds of every feature from a sample of at
// most binSampleRows rows, one feature per goroutine at a time, then codes
// the table in blocks of rows, reading it in order. A feature whose values
// are all missing is an error: it cannot be split on and most likely means
// a broken column.
func binDataset(d *Dataset, maxBin int, seed uint64) (*binned, error) {
	sample := sampleRows(d.Rows, binSampleRows, seed)
	b := &binned{rows: d.Rows, cols: d.Cols, codes: make([]uint8, d.Rows*d.Cols), mappers: make([]*binMapper, d.Cols)}
	fail := make([]error, d.Cols)
	parallelFor(d.Cols, workers(d.Cols), func(f int) {
		vals := make([]float64, 0, len(sample))
		for _, i := range sample {
			if x := d.X[i*d.Cols+f]; !math.IsNaN(x) {
				vals = append(vals, x)
			}
		}
		if len(vals) == 0 { // the sample missed the few values there are
			for i := 0; i < d.Rows; i++ {
				if x := d.X[i*d.Cols+f]; !math.IsNaN(x) {
					vals = append(vals, x)
				}
			}
		}
		if len(vals) == 0 {
			fail[f] = errs.Invalidf("train data: feature %d has only missing values", f)
			return
		}
		slices.Sort(vals)
		b.mappers[f] = newBinMapper(vals, maxBin)
	})
	for _, err := range fail {
		if err != nil {
			return nil, err
		}
	}
	const block = 1 << 14
	blocks := (d.Rows + block - 1) / block
	// Each block keeps its own minimum, maximum and NaN flag per feature;
	// merging them does not depend on the order.
	type extent struct {
		min, max float64
		nan      bool
	}
	ext := make([][]extent, blocks)
	parallelFor(blocks, workers(blocks), func(k int) {
		e := make([]extent, d.Cols)
		for f := range e {
			e[f] = extent{min: math.Inf(1), max: math.Inf(-1)}
		}
		for i := k * block; i < min(d.Rows, (k+1)*block); i++ {
			row := d.X[i*d.Cols : (i+1)*d.Cols]
			for f, x := range row {
				b.codes[f*d.Rows+i] = b.mappers[f].code(x)
				if math.IsNaN(x) {
					e[f].nan = true
				} else {
					e[f].min, e[f].max = min(e[f].min, x), max(e[f].max, x)
				}
			}
		}
		ext[k] = e
	})
	for _, e := range ext {
		for f, m := range b.mappers {
			m.hasNaN = m.hasNaN || e[f].nan
			m.min, m.max = min(m.min, e[f].min), max(m.max, e[f].max)
		}
	}
	b.offsets = make([]int, d.Cols)
	for f, m := range b.mappers {
		b.offsets[f] = b.totalBins
		b.totalBins += m.numBins() + 1
	}
	return b, nil
}

// sampleRows returns the sorted indices of at most k of n rows, drawn
// without replacement with a fixed seed (all rows when n <= k).
func sampleRows(n, k int, seed uint64) []int {
	if n <= k {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	rng := rand.New(rand.NewPCG(seed, 0x62696e73))
	idx := rng.Perm(n)[:k]
	slices.Sort(idx)
	return idx
}

// workers is how many goroutines share n independent pieces of work.
func workers(n int) int { return max(1, min(n, runtime.GOMAXPROCS(0))) }

// parallelFor calls fn(i) for every i in [0, n) on w goroutines, each
// taking the next index in turn; fn must write only to its own slot, so the
// result does not depend on the schedule. It returns when all calls have.
func parallelFor(n, w int, fn func(i int)) {
	if w <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range w {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
