// Package data prepares datasets for training: image folders (the fingers
// naming and class folders), CSV tables with fitted transforms, seeded
// splits, synthetic stand-ins, and a compact on-disk format (manifest plus
// tensors) cached by a content hash of inputs and parameters.
//
// It imports only internal/errs, the standard library and golang.org/x/image
// (resampling); it never imports GoMLX (that lives in internal/train).
package data
