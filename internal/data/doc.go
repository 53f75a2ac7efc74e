// Package data prepares datasets for training: image folders (the fingers
// naming and class folders), seeded splits and folds, synthetic stand-ins,
// and a compact on-disk format (manifest plus tensors) cached by a content
// hash of inputs and parameters. CSV tables live in internal/data/table,
// which builds on this package.
//
// It imports only internal/errs, the standard library and golang.org/x/image
// (resampling); it never imports its subpackages, nor GoMLX (that lives in
// internal/train).
package data
