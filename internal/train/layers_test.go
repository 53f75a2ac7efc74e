package train

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
	"github.com/stretchr/testify/require"
)

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := OpenBackend("go")
	require.NoError(t, err)
	return b
}

func requireClose(t *testing.T, want, got []float32, tol float64) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], got[i], tol*(1+math.Abs(float64(want[i]))), "element %d", i)
	}
}

// TestMatMulGradient checks the hand-written matmul gradient against GoMLX's
// own DotGeneral gradient.
func TestMatMulGradient(t *testing.T) {
	b := testBackend(t)
	a := tensors.FromValue([][]float32{{1, 2, 3}, {-1, 0.5, 2}})
	w := tensors.FromValue([][]float32{{0.1, -0.2}, {0.3, 0.4}, {-0.5, 0.6}})
	grads := func(mm func(x, y *Node) *Node) [][]float32 {
		out, err := MustNewExec(b, func(x, y *Node) []*Node {
			loss := ReduceAllSum(Square(mm(x, y)))
			g := Gradient(loss, x, y)
			return []*Node{loss, g[0], g[1]}
		}).Exec(a, w)
		require.NoError(t, err)
		var res [][]float32
		for _, o := range out {
			res = append(res, tensors.MustCopyFlatData[float32](o))
		}
		return res
	}
	want := grads(func(x, y *Node) *Node { return Dot(x, y) })
	got := grads(matMul)
	for i := range want {
		requireClose(t, want[i], got[i], 1e-5)
	}
}

// TestConv2DMatchesBuiltin checks that conv2d computes what GoMLX's built-in
// convolution computes with the same variables (so checkpoints are portable).
func TestConv2DMatchesBuiltin(t *testing.T) {
	b := testBackend(t)
	for _, tc := range []struct{ k, stride, h, w int }{{3, 1, 5, 4}, {1, 1, 4, 4}, {3, 2, 6, 6}} {
		ctx := context.New()
		x := make([]float32, 2*tc.h*tc.w*3)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		xt := tensors.FromFlatDataAndDimensions(x, 2, tc.h, tc.w, 3)
		ours, err := context.ExecOnce(b, ctx, func(ctx *context.Context, x *Node) *Node {
			return conv2d(ctx.In("l"), x, 4, tc.k, tc.stride)
		}, xt)
		require.NoError(t, err)
		theirs, err := context.ExecOnce(b, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
			return layers.Convolution(ctx.In("l"), x).Channels(4).KernelSize(tc.k).Strides(tc.stride).PadSame().Done()
		}, xt)
		require.NoError(t, err)
		require.Equal(t, theirs.Shape().Dimensions, ours.Shape().Dimensions)
		requireClose(t, tensors.MustCopyFlatData[float32](theirs), tensors.MustCopyFlatData[float32](ours), 1e-4)
	}
}

func TestMaxPool2(t *testing.T) {
	b := testBackend(t)
	x := tensors.FromFlatDataAndDimensions([]float32{1, 5, 2, 0, 3, 4, 9, 1, 0, 0, 0, 0, 7, 1, 2, 8}, 1, 4, 4, 1)
	out, err := MustNewExec(b, func(x *Node) *Node { return maxPool2(x) }).Exec(x)
	require.NoError(t, err)
	require.Equal(t, []float32{5, 9, 7, 8}, tensors.MustCopyFlatData[float32](out[0]))
}
