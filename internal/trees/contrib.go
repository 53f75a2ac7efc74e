package trees

import "github.com/cairn-mlops/cairn/internal/errs"

// Contributions splits row's raw scores into one part per feature and a
// bias, by the path the row takes through each tree (Saabas's
// attribution): at every split on the way, the change from the node's
// value to the value of the child the row goes to is the split feature's;
// the roots' values are the bias. For output k, out[k*(F+1)+j] is feature
// j's part and out[k*(F+1)+F] the bias, and they add up to PredictRaw's
// score k (averaged over the trees for a forest, as the score is).
func (m *Model) Contributions(row []float64) ([]float64, error) {
	f := m.NumFeatures()
	if len(row) != f {
		return nil, errs.Invalidf("contributions: row has %d values, the model takes %d features", len(row), f)
	}
	k := m.NumClass
	out := make([]float64, k*(f+1))
	for ti, t := range m.Trees {
		part := out[(ti%k)*(f+1) : (ti%k+1)*(f+1)]
		if len(t.nodes) == 0 {
			part[f] += t.LeafValue[0]
			continue
		}
		i := int32(0)
		v := t.InternalValue[0]
		part[f] += v
		for {
			next := t.next(i, row)
			var nv float64
			if next < 0 {
				nv = t.LeafValue[^next]
			} else {
				nv = t.InternalValue[next]
			}
			part[t.nodes[i].feature] += nv - v
			if next < 0 {
				break
			}
			i, v = next, nv
		}
	}
	if m.Forest && len(m.Trees) > 0 {
		inv := 1 / float64(len(m.Trees)/k)
		for j := range out {
			out[j] *= inv
		}
	}
	return out, nil
}
