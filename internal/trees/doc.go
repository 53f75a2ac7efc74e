// Package trees trains and runs tree ensembles on dense tables:
// histogram-based gradient-boosted decision trees (binary logloss,
// multiclass softmax, L2 regression) and random forests, in pure Go.
//
// Training follows LightGBM's design. Each feature's values are cut once
// into at most 255 quantile bins (computed from a sample of 200,000 rows),
// and trees are grown on the uint8 bin codes: a node's histogram of
// gradient and hessian sums per bin gives every candidate threshold in one
// pass, a child's histogram is built from the smaller child's rows and
// subtracted from its parent's for the other, and trees grow leaf-wise,
// best split first, up to num_leaves. Missing values (NaN) have their own
// bin and go to whichever side of a split gains more; the direction is
// saved as LightGBM's default_left with missing type NaN. Histograms are
// built on runtime.GOMAXPROCS goroutines, one feature each, and every sum
// runs in row order, so a fixed seed gives the same model on any machine.
// A forest grows deep trees on bootstrap samples, choosing each split among
// a random share of the features, and averages their leaf values (class
// frequencies or values).
//
// Models are saved and loaded in LightGBM's text model format (the format
// of Booster.save_model, version v3), so a model trained here can be served
// by LightGBM or by github.com/dmitryikh/leaves, and a model trained by
// LightGBM, categorical splits included, can be served here. The tests
// check that leaves predicts exactly what this package does.
//
// Cairn has its own trainer because no maintained one exists in Go: the Go
// libraries for these models predict only, or are abandoned, and binding
// LightGBM's C++ library would take cgo into a binary built without it.
//
// It imports only internal/errs. It reads no files: WriteTo and ReadModel
// take an io.Writer and an io.Reader.
package trees
