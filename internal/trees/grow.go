package trees

import (
	"math"
	"math/rand/v2"
)

// stat sums the gradients, hessians and rows of a set of rows.
type stat struct {
	g, h float64
	n    int
}

func (s stat) add(o stat) stat { return stat{s.g + o.g, s.h + o.h, s.n + o.n} }
func (s stat) sub(o stat) stat { return stat{s.g - o.g, s.h - o.h, s.n - o.n} }

// score is a node's part of the objective, LightGBM's leaf gain: G²/(H+λ).
// The loss a leaf with the optimal value -G/(H+λ) saves is half of it;
// gains here and in the saved model leave the 1/2 out, as LightGBM does.
func score(s stat, lambda float64) float64 {
	d := s.h + lambda
	if d <= 0 {
		return 0
	}
	return s.g * s.g / d
}

// leafOutput is the value that minimises the second-order loss of a leaf.
func leafOutput(s stat, lambda float64) float64 {
	d := s.h + lambda
	if d <= 0 {
		return 0
	}
	return -s.g / d
}

// growParams are the limits a tree grows within.
type growParams struct {
	maxLeaves int // 0: as many as the other limits allow
	maxDepth  int // 0: no limit
	minData   int
	minHess   float64
	lambda    float64
	minGain   float64
	// nodeFraction is the share of the tree's features each split may
	// choose from, drawn anew for every leaf (a random forest's mtry).
	nodeFraction float64
	workers      int
}

// split is the best way found to cut a leaf in two.
type split struct {
	ok          bool
	feature     int
	bin         int // rows with codes <= bin go left
	defaultLeft bool
	gain        float64
	left, right stat
}

// leafState is a leaf of the tree being grown: its rows are
// order[start:end].
type leafState struct {
	start, end int
	sum        stat
	depth      int
	hist       []stat // nil once the leaf will not be split
	best       split
}

// builder grows trees on one binned dataset, reusing its buffers.
type builder struct {
	data  *binned
	p     growParams
	order []int32 // the tree's rows, leaf by leaf
	tmp   []int32
	gh    []stat
	pool  [][]stat
	// per tree
	features    []int
	featureBins int // histogram bins of the features
	leaves      []leafState
	binThr      []int // per node: the split's bin
	rng         *rand.Rand
}

func newBuilder(data *binned, p growParams) *builder {
	return &builder{data: data, p: p}
}

// grow builds one tree on rows (sorted, distinct) from the rows' gradients
// and hessians, splitting only on features. Growth is leaf-wise: with a
// leaf limit, the leaf whose best split gains most is split next, as in
// LightGBM; without one every leaf that can be split is, depth first,
// which yields the same tree while holding only O(depth) histograms. Each
// child's histogram comes from the smaller child's rows and a subtraction
// from its parent's. The leaf values are the unshrunk optimal outputs.
func (b *builder) grow(rows []int32, grad, hess []float64, features []int, rng *rand.Rand) *Tree {
	b.features, b.rng = features, rng
	b.featureBins = 0
	for _, f := range features {
		b.featureBins += b.data.mappers[f].numBins() + 1
	}
	b.order = append(b.order[:0], rows...)
	if cap(b.tmp) < len(rows) {
		b.tmp = make([]int32, len(rows))
		b.gh = make([]stat, len(rows))
	}
	var sum stat
	for _, r := range rows {
		sum.g, sum.h = sum.g+grad[r], sum.h+hess[r]
	}
	sum.n = len(rows)
	root := leafState{start: 0, end: len(rows), sum: sum, hist: b.newHist()}
	b.buildHist(root.hist, b.order, grad, hess)
	b.leaves = append(b.leaves[:0], root)
	b.binThr = b.binThr[:0]
	b.findBest(0)
	t := &Tree{Shrinkage: 1}
	leafParent := []int{-1}
	var pending []int
	if b.leaves[0].best.ok {
		pending = append(pending, 0)
	}
	for len(pending) > 0 && (b.p.maxLeaves == 0 || len(b.leaves) < b.p.maxLeaves) {
		pick := len(pending) - 1
		if b.p.maxLeaves > 0 {
			for i, l := range pending {
				if b.leaves[l].best.gain > b.leaves[pending[pick]].best.gain ||
					(b.leaves[l].best.gain == b.leaves[pending[pick]].best.gain && l < pending[pick]) {
					pick = i
				}
			}
		}
		l := pending[pick]
		pending = append(pending[:pick], pending[pick+1:]...)
		r := b.split(t, l, leafParent, grad, hess)
		leafParent = append(leafParent, leafParent[l])
		for _, c := range []int{l, r} {
			if b.leaves[c].best.ok {
				pending = append(pending, c)
			} else {
				b.release(c)
			}
		}
	}
	for l := range b.leaves {
		b.release(l)
		lf := &b.leaves[l]
		t.LeafValue = append(t.LeafValue, leafOutput(lf.sum, b.p.lambda))
		t.LeafWeight = append(t.LeafWeight, lf.sum.h)
		t.LeafCount = append(t.LeafCount, lf.sum.n)
	}
	t.NumLeaves = len(b.leaves)
	return t
}

// split cuts leaf l along its best split: l keeps the left rows and a new
// leaf, whose index it returns, takes the right ones; the new node takes
// l's place under its parent, as LightGBM's Tree::Split numbers them.
func (b *builder) split(t *Tree, l int, leafParent []int, grad, hess []float64) int {
	lf := &b.leaves[l]
	s := lf.best
	node := len(b.leaves) - 1
	if p := leafParent[l]; p >= 0 {
		if t.LeftChild[p] == ^l {
			t.LeftChild[p] = node
		} else {
			t.RightChild[p] = node
		}
	}
	leafParent[l] = node
	m := b.data.mappers[s.feature]
	dt := uint8(0)
	if s.defaultLeft {
		dt |= decisionDefaultLeft
	}
	if m.hasNaN {
		dt |= missingNaN << 2
	}
	r := len(b.leaves)
	t.SplitFeature = append(t.SplitFeature, s.feature)
	t.SplitGain = append(t.SplitGain, s.gain)
	t.Threshold = append(t.Threshold, thresholdValue(m.upper[s.bin]))
	t.DecisionType = append(t.DecisionType, dt)
	t.LeftChild = append(t.LeftChild, ^l)
	t.RightChild = append(t.RightChild, ^r)
	t.InternalValue = append(t.InternalValue, leafOutput(lf.sum, b.p.lambda))
	t.InternalWeight = append(t.InternalWeight, lf.sum.h)
	t.InternalCount = append(t.InternalCount, lf.sum.n)
	b.binThr = append(b.binThr, s.bin)

	// Partition the rows, keeping each side in row order.
	col := b.data.col(s.feature)
	nan := m.nanCode()
	thr := uint8(s.bin)
	seg := b.order[lf.start:lf.end]
	nl, nr := 0, 0
	for _, row := range seg {
		c := col[row]
		if c <= thr || (c == nan && s.defaultLeft) {
			seg[nl] = row
			nl++
		} else {
			b.tmp[nr] = row
			nr++
		}
	}
	copy(seg[nl:], b.tmp[:nr])
	mid := lf.start + nl

	left := leafState{start: lf.start, end: mid, sum: s.left, depth: lf.depth + 1}
	right := leafState{start: mid, end: lf.end, sum: s.right, depth: lf.depth + 1}
	parent := lf.hist
	small, large := &left, &right
	if right.end-right.start < left.end-left.start {
		small, large = &right, &left
	}
	small.hist = b.newHist()
	b.buildHist(small.hist, b.order[small.start:small.end], grad, hess)
	if n := large.end - large.start; n*len(b.features) < b.featureBins {
		// Summing the large child's few rows costs less than subtracting
		// every bin.
		large.hist = b.newHist()
		b.buildHist(large.hist, b.order[large.start:large.end], grad, hess)
		b.pool = append(b.pool, parent)
	} else {
		for _, f := range b.features {
			off := b.data.offsets[f]
			for i := off; i <= off+b.data.mappers[f].numBins(); i++ {
				parent[i] = parent[i].sub(small.hist[i])
			}
		}
		large.hist = parent
	}
	b.leaves[l] = left
	b.leaves = append(b.leaves, right)
	b.findBest(l)
	b.findBest(r)
	return r
}

// newHist returns a zeroed histogram from the pool or a new one.
func (b *builder) newHist() []stat {
	if n := len(b.pool); n > 0 {
		h := b.pool[n-1]
		b.pool = b.pool[:n-1]
		clear(h)
		return h
	}
	return make([]stat, b.data.totalBins)
}

// release returns leaf l's histogram to the pool.
func (b *builder) release(l int) {
	if h := b.leaves[l].hist; h != nil {
		b.pool = append(b.pool, h)
		b.leaves[l].hist = nil
	}
}

// parallelRows is the size (rows x features) above which a histogram is
// built on several goroutines; below it starting them costs more than it
// saves.
const parallelRows = 1 << 16

// buildHist sums the gradients of rows into h, bin by bin, for the tree's
// features. Each feature is summed by one goroutine in row order, so the
// result is the same for any number of them.
func (b *builder) buildHist(h []stat, rows []int32, grad, hess []float64) {
	gh := b.gh[:len(rows)]
	for i, r := range rows {
		gh[i] = stat{g: grad[r], h: hess[r]}
	}
	w := b.p.workers
	if len(rows)*len(b.features) < parallelRows {
		w = 1
	}
	parallelFor(len(b.features), w, func(i int) {
		f := b.features[i]
		col := b.data.col(f)
		off := b.data.offsets[f]
		hf := h[off : off+b.data.mappers[f].numBins()+1]
		for k, r := range rows {
			p := &hf[col[r]]
			p.g += gh[k].g
			p.h += gh[k].h
			p.n++
		}
	})
}

// findBest finds leaf l's best split over the tree's features (or, with a
// node fraction, a random share of them drawn for this leaf).
func (b *builder) findBest(l int) {
	lf := &b.leaves[l]
	lf.best = split{}
	if (b.p.maxDepth > 0 && lf.depth >= b.p.maxDepth) || lf.sum.n < 2*b.p.minData || lf.sum.n < 2 {
		return
	}
	features := b.features
	if b.p.nodeFraction < 1 {
		k := max(1, int(b.p.nodeFraction*float64(len(features))+0.5))
		features = sampleFeatures(features, k, b.rng)
	}
	best := split{gain: b.p.minGain}
	for _, f := range features {
		off := b.data.offsets[f]
		nb := b.data.mappers[f].numBins()
		bestSplitOn(&best, f, lf.hist[off:off+nb+1], lf.sum, b.p)
	}
	lf.best = best
}

// bestSplitOn scans the thresholds of feature f, whose histogram hf has
// the value bins first and the missing-value bin last, and replaces best
// with any split that gains more. Rows with a missing value try both
// sides; when the leaf has none, they are sent to the side with more rows,
// the likelier guess for values never seen.
func bestSplitOn(best *split, f int, hf []stat, sum stat, p growParams) {
	nb := len(hf) - 1
	miss := hf[nb]
	parent := score(sum, p.lambda)
	try := func(bin int, left stat, defaultLeft bool) {
		right := sum.sub(left)
		if left.n < p.minData || right.n < p.minData || left.n == 0 || right.n == 0 ||
			left.h < p.minHess || right.h < p.minHess {
			return
		}
		gain := score(left, p.lambda) + score(right, p.lambda) - parent
		if gain > best.gain {
			*best = split{ok: true, feature: f, bin: bin, defaultLeft: defaultLeft, gain: gain, left: left, right: right}
		}
	}
	var acc stat
	for t := 0; t < nb-1; t++ {
		acc = acc.add(hf[t])
		// An empty bin cuts the rows as the one before it did, and a tie
		// keeps the earlier threshold anyway.
		if hf[t].n == 0 || acc.n < p.minData {
			continue
		}
		if sum.n-acc.n < p.minData {
			break
		}
		if miss.n == 0 {
			try(t, acc, 2*acc.n >= sum.n)
			continue
		}
		try(t, acc, false)
		try(t, acc.add(miss), true)
	}
	if miss.n > 0 { // values left, missing right
		try(nb-1, acc.add(hf[nb-1]), false)
	}
}

// thresholdValue is the threshold saved for a bin bound: the last bound,
// +Inf, becomes 1e300 as LightGBM writes it, which every finite value is
// below too.
func thresholdValue(upper float64) float64 {
	if math.IsInf(upper, 1) {
		return 1e300
	}
	return upper
}

// sampleFeatures returns k of features, in their order, drawn without
// replacement.
func sampleFeatures(features []int, k int, rng *rand.Rand) []int {
	if k >= len(features) {
		return features
	}
	idx := rng.Perm(len(features))[:k]
	keep := make([]bool, len(features))
	for _, i := range idx {
		keep[i] = true
	}
	out := make([]int, 0, k)
	for i, f := range features {
		if keep[i] {
			out = append(out, f)
		}
	}
	return out
}
