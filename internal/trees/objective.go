package trees

import "math"

// objective supplies the first and second derivatives of a loss.
type objective interface {
	// trees is the number of trees per iteration (raw scores per row).
	trees() int
	// initScores are the constant raw scores training starts from.
	initScores() []float64
	// gradients fills grad and hess (class-major, like scores).
	gradients(scores, grad, hess []float64)
	// loss is the weighted mean loss of class-major scores on labels y.
	loss(scores, y, w []float64) float64
}

// minHessian keeps a row's hessian positive where a probability saturates.
const minHessian = 1e-16

func newObjective(o Objective, classes int, y, w []float64) objective {
	switch o {
	case Binary:
		return &binaryLoss{y: y, w: w}
	case Multiclass:
		return &softmaxLoss{k: classes, y: y, w: w}
	}
	return &squaredLoss{y: y, w: w}
}

func weight(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}

// weightedMean returns the weighted mean of f(i) over n rows.
func weightedMean(n int, w []float64, f func(i int) float64) float64 {
	var s, sw float64
	for i := range n {
		wi := weight(w, i)
		s += wi * f(i)
		sw += wi
	}
	if sw == 0 {
		return 0
	}
	return s / sw
}

// rowChunks runs fn over [0, n) in fixed chunks on all cores.
func rowChunks(n int, fn func(lo, hi int)) {
	const chunk = 1 << 14
	parallelFor((n+chunk-1)/chunk, workers(n/chunk+1), func(c int) {
		fn(c*chunk, min(n, (c+1)*chunk))
	})
}

// clampProb keeps a probability away from 0 and 1 for logs.
func clampProb(p float64) float64 { return min(max(p, 1e-15), 1-1e-15) }

// binaryLoss is the logloss of sigmoid(score) on 0/1 labels.
type binaryLoss struct{ y, w []float64 }

func (l *binaryLoss) trees() int { return 1 }

func (l *binaryLoss) initScores() []float64 {
	p := clampProb(weightedMean(len(l.y), l.w, func(i int) float64 { return l.y[i] }))
	return []float64{math.Log(p / (1 - p))}
}

func (l *binaryLoss) gradients(scores, grad, hess []float64) {
	rowChunks(len(l.y), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p := 1 / (1 + math.Exp(-scores[i]))
			w := weight(l.w, i)
			grad[i] = (p - l.y[i]) * w
			hess[i] = max(p*(1-p), minHessian) * w
		}
	})
}

func (l *binaryLoss) loss(scores, y, w []float64) float64 {
	return weightedMean(len(y), w, func(i int) float64 {
		p := clampProb(1 / (1 + math.Exp(-scores[i])))
		if y[i] == 1 {
			return -math.Log(p)
		}
		return -math.Log(1 - p)
	})
}

// softmaxLoss is the multiclass logloss of softmax(scores).
type softmaxLoss struct {
	k    int
	y, w []float64
}

func (l *softmaxLoss) trees() int { return l.k }

func (l *softmaxLoss) initScores() []float64 {
	init := make([]float64, l.k)
	for c := range init {
		p := weightedMean(len(l.y), l.w, func(i int) float64 {
			if int(l.y[i]) == c {
				return 1
			}
			return 0
		})
		init[c] = math.Log(clampProb(p))
	}
	return init
}

// gradients uses LightGBM's hessian, K/(K-1) p(1-p), which makes one
// Newton step on K trees as large as one on the K-1 free scores.
func (l *softmaxLoss) gradients(scores, grad, hess []float64) {
	n := len(l.y)
	factor := float64(l.k) / float64(l.k-1)
	rowChunks(n, func(lo, hi int) {
		p := make([]float64, l.k)
		for i := lo; i < hi; i++ {
			for c := range p {
				p[c] = scores[c*n+i]
			}
			softmax(p)
			w := weight(l.w, i)
			for c, pc := range p {
				t := 0.0
				if int(l.y[i]) == c {
					t = 1
				}
				grad[c*n+i] = (pc - t) * w
				hess[c*n+i] = max(factor*pc*(1-pc), minHessian) * w
			}
		}
	})
}

func (l *softmaxLoss) loss(scores, y, w []float64) float64 {
	n := len(y)
	p := make([]float64, l.k)
	return weightedMean(n, w, func(i int) float64 {
		for c := range p {
			p[c] = scores[c*n+i]
		}
		softmax(p)
		return -math.Log(clampProb(p[int(y[i])]))
	})
}

// squaredLoss is the L2 loss of a regression, halved so its hessian is 1.
type squaredLoss struct{ y, w []float64 }

func (l *squaredLoss) trees() int { return 1 }

func (l *squaredLoss) initScores() []float64 {
	return []float64{weightedMean(len(l.y), l.w, func(i int) float64 { return l.y[i] })}
}

func (l *squaredLoss) gradients(scores, grad, hess []float64) {
	for i, y := range l.y {
		w := weight(l.w, i)
		grad[i] = (scores[i] - y) * w
		hess[i] = w
	}
}

func (l *squaredLoss) loss(scores, y, w []float64) float64 {
	return weightedMean(len(y), w, func(i int) float64 {
		d := scores[i] - y[i]
		return d * d
	})
}
