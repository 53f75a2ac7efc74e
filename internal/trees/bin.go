package trees

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
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
	return uint8(sort.SearchFloat64s(m.upper, x))
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
	vals, cnt := []float64{sorted[0]}, []int{1}
	for _, v := range sorted[1:] {
		if v == vals[len(vals)-1] {
			cnt[len(cnt)-1]++
			continue
		}
		vals, cnt = append(vals, v), append(cnt, 1)
	}
	m := &binMapper{min: vals[0], max: vals[len(vals)-1]}
	var cuts []int // bin boundary after distinct value cuts[i]
	if len(vals) <= maxBin {
		for i := 0; i < len(vals)-1; i++ {
			cuts = append(cuts, i)
		}
	} else {
		per := float64(len(sorted)) / float64(maxBin)
		cum, next := 0, 1.0
		for i := 0; i < len(vals)-1; i++ {
			cum += cnt[i]
			if float64(cum) >= next*per {
				cuts = append(cuts, i)
				for float64(cum) >= next*per {
					next++
				}
			}
		}
	}
	for _, i := range cuts {
		a, b := vals[i], vals[i+1]
		mid := a + (b-a)/2
		if mid >= b { // a and b are adjacent floats
			mid = a
		}
		m.upper = append(m.upper, mid)
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
// most binSampleRows rows and codes the whole table, one feature per
// goroutine at a time. A feature whose values are all missing is an error:
// it cannot be split on and most likely means a broken column.
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
		m := newBinMapper(vals, maxBin)
		col := b.col(f)
		for i := range col {
			x := d.X[i*d.Cols+f]
			c := m.code(x)
			if math.IsNaN(x) {
				m.hasNaN = true
			} else {
				m.min, m.max = min(m.min, x), max(m.max, x)
			}
			col[i] = c
		}
		b.mappers[f] = m
	})
	for _, err := range fail {
		if err != nil {
			return nil, err
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
