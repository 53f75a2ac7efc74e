package train

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best with its ops unqualified.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// The layers here train on every backend, the pure-Go one included: they use
// only ops whose gradients that backend has (Gather, Concatenate, DotGeneral,
// Reshape, ReduceMax, Transpose). Variable names and shapes match GoMLX's
// built-in layers ("conv"/"dense" scopes, "weights" and "biases"), so a
// checkpoint also runs with layers.Convolution and layers.Dense.

// matMul returns a·b for a [M, K] and b [K, N]. Its gradient is two matmuls
// (v·bᵀ and aᵀ·v): GoMLX's generic DotGeneral gradient broadcasts to an
// [M, N, K] tensor first, which made a CNN step several times slower.
//
// The trick: the product itself is marked to pass no gradient back, but it
// records the gradient arriving at it; identities of a and b, joined to the
// output through a term that is always zero, then hand a and b their true
// gradients computed from that recorded one. Reverse-mode autodiff visits
// nodes from the newest to the oldest, so the product (built after the
// identities) records before the identities read.
func matMul(a, b *Node) *Node {
	if plainMatMul {
		return Dot(a, b)
	}
	var vy *Node
	ai := IdentityWithCustomGradient(a, func(_, _ *Node) *Node {
		return DotGeneral(vy, []int{1}, nil, b, []int{1}, nil) // [M,N]·[K,N]ᵀ -> [M,K]
	})
	bi := IdentityWithCustomGradient(b, func(_, _ *Node) *Node {
		return DotGeneral(a, []int{0}, nil, vy, []int{0}, nil) // [M,K]ᵀ·[M,N] -> [K,N]
	})
	y := IdentityWithCustomGradient(Dot(a, b), func(_, v *Node) *Node {
		vy = v
		return nil // a and b get their gradients through ai and bi
	})
	zero := MulScalar(Add(ReduceAllSum(ai), ReduceAllSum(bi)), 0)
	return Add(y, zero)
}

// plainMatMul makes matMul use GoMLX's own gradient: the baseline of
// BenchmarkTrainEpoch's comparison (set only by benchmarks).
var plainMatMul bool

// dense is a fully connected layer on x [B, F] with the built-in layer's
// variables (scope "dense": "weights" [F, out], "biases" [out]).
func dense(ctx *context.Context, x *Node, out int) *Node {
	ctx = ctx.In("dense")
	in := x.Shape().Dimensions[1]
	w := ctx.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).ValueGraph(x.Graph())
	b := ctx.VariableWithShape("biases", shapes.Make(x.DType(), out)).ValueGraph(x.Graph())
	return Add(matMul(x, w), InsertAxes(b, 0))
}

// conv2d is a "same"-padded 2D convolution of x [B, H, W, C] (channels last)
// with a k x k kernel and the given stride, as im2col: a Gather builds the
// [B*Ho*Wo, k*k*C] patch matrix (positions outside the image read an appended
// zero row), and one matMul applies the kernel. Variables as the built-in
// layer's: scope "conv", "weights" [k, k, C, out] and "biases" [out].
func conv2d(ctx *context.Context, x *Node, out, k, stride int) *Node {
	ctx = ctx.In("conv")
	dims := x.Shape().Dimensions
	batch, h, w, c := dims[0], dims[1], dims[2], dims[3]
	g := x.Graph()
	kernel := ctx.VariableWithShape("weights", shapes.Make(x.DType(), k, k, c, out)).ValueGraph(g)
	bias := ctx.VariableWithShape("biases", shapes.Make(x.DType(), out)).ValueGraph(g)
	ho, wo := (h+stride-1)/stride, (w+stride-1)/stride
	var patches *Node
	if k == 1 && stride == 1 {
		patches = Reshape(x, batch*h*w, c)
	} else {
		rows := Reshape(x, batch*h*w, c)
		rows = Concatenate([]*Node{rows, Zeros(g, shapes.Make(x.DType(), 1, c))}, 0)
		idx := Const(g, im2colIndices(batch, h, w, k, stride))
		patches = Reshape(Gather(rows, idx), batch*ho*wo, k*k*c)
	}
	y := matMul(patches, Reshape(kernel, k*k*c, out))
	y = Add(y, InsertAxes(bias, 0))
	return Reshape(y, batch, ho, wo, out)
}

// im2colIndices returns, for every output position and kernel tap, the row of
// the flattened [B*H*W (+1 zero row), C] input to read: shape [B*Ho*Wo*k*k, 1].
func im2colIndices(batch, h, w, k, stride int) *tensors.Tensor {
	pad := (k - 1) / 2
	ho, wo := (h+stride-1)/stride, (w+stride-1)/stride
	zero := int32(batch * h * w)
	flat := make([]int32, batch*ho*wo*k*k)
	n := 0
	for b := 0; b < batch; b++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				for ky := 0; ky < k; ky++ {
					iy := oy*stride + ky - pad
					for kx := 0; kx < k; kx++ {
						ix := ox*stride + kx - pad
						v := zero
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							v = int32((b*h+iy)*w + ix)
						}
						flat[n] = v
						n++
					}
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, len(flat), 1)
}

// maxPool2 halves H and W of x [B, H, W, C] by the maximum of each 2x2 window
// (H and W must be even).
func maxPool2(x *Node) *Node {
	d := x.Shape().Dimensions
	if d[1]%2 != 0 || d[2]%2 != 0 {
		panic(fmt.Sprintf("maxPool2: spatial size %dx%d is not even", d[1], d[2]))
	}
	return ReduceMax(Reshape(x, d[0], d[1]/2, 2, d[2]/2, 2, d[3]), 2, 4)
}

// globalAvgPool averages x [B, H, W, C] over H and W to [B, C].
func globalAvgPool(x *Node) *Node {
	return ReduceMean(x, 1, 2)
}

// flatten reshapes x to [B, rest].
func flatten(x *Node) *Node {
	return Reshape(x, x.Shape().Dimensions[0], -1)
}

// dropout zeroes a fraction of x while training and rescales the rest.
func dropout(ctx *context.Context, x *Node, rate float64) *Node {
	if rate <= 0 {
		return x
	}
	return layers.DropoutNormalize(ctx, x, Scalar(x.Graph(), x.DType(), rate), true)
}
