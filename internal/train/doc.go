// Package train trains Cairn's models on GoMLX: trainable layers that work on
// the pure-Go backend (convolution as im2col with Gather and a matmul with a
// hand-written gradient, max-pooling as reshape and ReduceMax), four CNN
// variants for images and logistic regression and an MLP for tables, a train
// loop with early stopping, a learning-rate schedule and resumable per-epoch
// checkpoints, model packages and a Predictor that loads them, and the
// import of ONNX models (e.g. exported from PyTorch) as packages.
//
// It is the only package that imports GoMLX; GoMLX panics are turned into
// errors before they leave it. It may import internal/errs and internal/data
// (with its images and table packages).
package train
