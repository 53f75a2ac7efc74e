package train

import (
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/checkpoints"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// evalBatch is the largest batch of evaluation and batched prediction.
const evalBatch = 64

// newModel builds a Model for inference from saved variables.
func newModel(backend backends.Backend, arch Architecture, man data.Manifest, vars map[string]*tensors.Tensor) (*Model, error) {
	c := gctx.New()
	for name, t := range vars {
		scope, vn := gctx.VariableScopeAndNameFromParameterName(name)
		c.InAbsPath(scope).VariableWithValue(vn, t)
	}
	return &Model{Arch: arch, Manifest: man, backend: backend, ctx: c.Reuse()}, nil
}

// logitsExec compiles (once) the inference graph: inputs [B, shape...] to
// class probabilities [B, classes].
func (m *Model) logitsExec() (*gctx.Exec, error) {
	m.once.Do(func() {
		classes := len(m.Manifest.Classes)
		c := m.ctx.Reuse()
		if m.randomInit {
			c = m.ctx.Checked(false)
		}
		m.predict, m.predictErr = gctx.NewExec(m.backend, c, func(c *gctx.Context, x *Node) *Node {
			return Softmax(m.Arch.build(c.In(modelScope), x, classes), -1)
		})
	})
	return m.predict, m.predictErr
}

// PredictBatch returns class probabilities [n][classes] for n examples given
// flat in x (n * ExampleSize values, already normalised). Safe for
// concurrent use.
func (m *Model) PredictBatch(x []float32, n int) (probs [][]float32, err error) {
	if m.trees != nil {
		return treeNet{m.trees}.PredictBatch(x, n)
	}
	if m.members != nil {
		return m.memberNets().PredictBatch(x, n)
	}
	defer recoverInto(&err, "predict")
	size := 1
	for _, d := range m.Manifest.Shape {
		size *= d
	}
	if len(x) != n*size {
		return nil, errs.Invalidf("predict: %d input values for %d examples of shape %v", len(x), n, m.Manifest.Shape)
	}
	exec, err := m.logitsExec()
	if err != nil {
		return nil, err
	}
	classes := len(m.Manifest.Classes)
	probs = make([][]float32, 0, n)
	for start := 0; start < n; start += evalBatch {
		k := min(evalBatch, n-start)
		// Pad to a power of two: at most seven compiled graphs serve every
		// batch size, and a single example does not pay for 64.
		b := 1
		for b < k {
			b *= 2
		}
		buf := make([]float32, b*size)
		copy(buf, x[start*size:(start+k)*size])
		shape := append([]int{b}, m.Manifest.Shape...)
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(buf, shape...))
		if err != nil {
			return nil, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		for i := 0; i < k; i++ {
			probs = append(probs, flat[i*classes:(i+1)*classes])
		}
	}
	return probs, nil
}

// evaluate scores the model on the examples idx of ds.
func (m *Model) evaluate(ds *data.Dataset, split string, idx []int) (*Evaluation, error) {
	size := ds.ExampleSize()
	x := make([]float32, len(idx)*size)
	for j, i := range idx {
		ds.Example(i, x[j*size:(j+1)*size])
	}
	probs, err := m.PredictBatch(x, len(idx))
	if err != nil {
		return nil, err
	}
	classes := len(ds.Manifest.Classes)
	ev := &Evaluation{Split: split, Count: len(idx), Classes: ds.Manifest.Classes, Confusion: make([][]int, classes),
		Probs: make([]float32, 0, len(idx)*classes)}
	for c := range ev.Confusion {
		ev.Confusion[c] = make([]int, classes)
	}
	correct := 0
	for j, i := range idx {
		p := probs[j]
		ev.Probs = append(ev.Probs, p...)
		label := int(ds.Labels[i])
		pred := argmax(p)
		if pred == label {
			correct++
		}
		ev.Confusion[label][pred]++
		ev.Loss -= math.Log(math.Max(float64(p[label]), 1e-12))
	}
	if len(idx) > 0 {
		ev.Loss /= float64(len(idx))
		ev.Accuracy = float64(correct) / float64(len(idx))
	}
	return ev, nil
}

func argmax(p []float32) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// modelVariables returns the model's variables (no optimizer state).
func (m *Model) modelVariables() (map[string]*tensors.Tensor, error) {
	vars := map[string]*tensors.Tensor{}
	for v := range m.ctx.IterVariables() {
		if !inModelScope(v.Scope()) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return nil, err
		}
		c, err := val.LocalClone()
		if err != nil {
			return nil, err
		}
		vars[v.ParameterName()] = c
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("model has no variables")
	}
	return vars, nil
}

// keepBest copies the current model variables in memory.
func (m *Model) keepBest() (err error) {
	m.best, err = m.modelVariables()
	return err
}

// saveWeights writes the model variables, and nothing else, as a GoMLX
// checkpoint in dir (replacing what was there).
func (m *Model) saveWeights(dir string) error {
	vars, err := m.modelVariables()
	if err != nil {
		return err
	}
	return saveWeights(dir, vars)
}

func saveWeights(dir string, vars map[string]*tensors.Tensor) (err error) {
	defer recoverInto(&err, "save weights")
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	c := gctx.New()
	for name, t := range vars {
		scope, vn := gctx.VariableScopeAndNameFromParameterName(name)
		c.InAbsPath(scope).VariableWithValue(vn, t)
	}
	h, err := checkpoints.Build(c).Dir(tmp).Keep(1).ExcludeAllParams().Done()
	if err != nil {
		return err
	}
	if err := h.Save(); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// loadWeights reads variables written by saveWeights.
func loadWeights(dir string) (vars map[string]*tensors.Tensor, err error) {
	defer recoverInto(&err, "load weights")
	if !fileExists(dir) {
		return nil, fmt.Errorf("load weights %s: %w", dir, errNoWeights)
	}
	c := gctx.New()
	h, err := checkpoints.Build(c).Dir(dir).Immediate().Done()
	if err != nil {
		return nil, fmt.Errorf("load weights %s: %w", dir, err)
	}
	_ = h
	vars = map[string]*tensors.Tensor{}
	for v := range c.IterVariables() {
		if !inModelScope(v.Scope()) {
			continue // the checkpoint format always adds a global step
		}
		val, err := v.Value()
		if err != nil {
			return nil, err
		}
		vars[v.ParameterName()] = val
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("load weights %s: %w", dir, errNoWeights)
	}
	return vars, nil
}

// modelState is the part of Model guarded for lazy compilation.
type modelState struct {
	once       sync.Once
	predictErr error
	best       map[string]*tensors.Tensor
	// randomInit lets prediction create missing variables (benchmarks of
	// untrained models); a loaded package never sets it.
	randomInit bool
}
