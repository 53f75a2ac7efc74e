package train

import (
	"fmt"
	"sort"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers/activations"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Kinds of model, as written in a package manifest.
const (
	KindImage = "image-classifier"
	KindTable = "table-classifier"
	KindONNX  = "onnx"
)

// Architecture builds a model's logits [B, classes] from its input batch
// ([B, H, W, C] for images, [B, F] for tables). Variables are created in ctx.
type Architecture struct {
	Name        string
	Kind        string
	Description string
	build       func(ctx *context.Context, x *Node, classes int) *Node
}

// The named architectures. The four CNNs are the variants a fingers sweep
// compares; "logistic" and "mlp" are for tables.
var architectures = map[string]Architecture{
	"small": {Name: "small", Kind: KindImage, Description: "3 conv layers 16/32/64 with 2x2 max-pool, dense 64",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			return cnn(ctx, x, classes, []int{16, 32, 64}, 1, false, 64)
		}},
	"wide": {Name: "wide", Kind: KindImage, Description: "3 conv layers 32/64/128 with 2x2 max-pool, dense 128",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			return cnn(ctx, x, classes, []int{32, 64, 128}, 1, false, 128)
		}},
	"deep": {Name: "deep", Kind: KindImage, Description: "3 stages of 2 conv layers 16/32/64 with 2x2 max-pool, dense 64",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			return cnn(ctx, x, classes, []int{16, 32, 64}, 2, false, 64)
		}},
	"residual": {Name: "residual", Kind: KindImage, Description: "3 residual stages 16/32/64 (two 3x3 convs and a skip each), global average pool",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			return cnn(ctx, x, classes, []int{16, 32, 64}, 2, true, 0)
		}},
	"logistic": {Name: "logistic", Kind: KindTable, Description: "logistic regression (one linear layer, softmax)",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			return dense(ctx.In("000_out"), x, classes)
		}},
	ModelGBDT: {Name: ModelGBDT, Kind: KindTable, Description: "gradient-boosted trees (histogram, leaf-wise, early-stopped on validation; LightGBM format)"},
	ModelRF:   {Name: ModelRF, Kind: KindTable, Description: "random forest (bootstrap rows, half the features per split; LightGBM format)"},
	ModelEnsemble: {Name: ModelEnsemble, Kind: KindTable,
		Description: "soft-voting ensemble: the mean class probabilities of its members (default gbdt, rf, mlp)"},
	"mlp": {Name: "mlp", Kind: KindTable, Description: "MLP with two hidden layers of 32 (ReLU, dropout 0.2)",
		build: func(ctx *context.Context, x *Node, classes int) *Node {
			x = activations.Relu(dense(ctx.In("000_hidden"), x, 32))
			x = dropout(ctx.In("001_dropout"), x, 0.2)
			x = activations.Relu(dense(ctx.In("002_hidden"), x, 32))
			return dense(ctx.In("003_out"), x, classes)
		}},
}

// LookupArchitecture returns the architecture called name, or an Invalid
// error listing the names of the given kind.
func LookupArchitecture(name, kind string) (Architecture, error) {
	a, ok := architectures[name]
	if !ok || (kind != "" && a.Kind != kind) {
		return Architecture{}, errs.Invalidf("model %q: expected one of %v", name, ArchitectureNames(kind))
	}
	return a, nil
}

// ArchitectureNames lists the architectures of a kind ("" for all), sorted.
func ArchitectureNames(kind string) []string {
	var names []string
	for n, a := range architectures {
		if kind == "" || a.Kind == kind {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// cnn stacks stages of convsPerStage 3x3 convolutions (ReLU) with a 2x2
// max-pool after each, optionally residual, then a dense head (or a global
// average pool when hidden is 0).
func cnn(ctx *context.Context, x *Node, classes int, channels []int, convsPerStage int, residual bool, hidden int) *Node {
	layer := 0
	next := func(name string) *context.Context {
		c := ctx.In(fmt.Sprintf("%03d_%s", layer, name))
		layer++
		return c
	}
	for _, ch := range channels {
		in := x
		for i := 0; i < convsPerStage; i++ {
			x = conv2d(next("conv"), x, ch, 3, 1)
			if !(residual && i == convsPerStage-1) {
				x = activations.Relu(x)
			}
		}
		if residual {
			skip := in
			if in.Shape().Dimensions[3] != ch {
				skip = conv2d(next("skip"), in, ch, 1, 1)
			}
			x = activations.Relu(Add(x, skip))
		}
		x = maxPool2(x)
	}
	if hidden > 0 {
		x = flatten(x)
		x = activations.Relu(dense(next("dense"), x, hidden))
		x = dropout(next("dropout"), x, 0.3)
	} else {
		x = globalAvgPool(x)
	}
	return dense(next("dense"), x, classes)
}
