// Package data is the dataset format and what every kind of dataset
// shares: Manifest and Dataset with their files (Save, Load, ReadManifest),
// the Cache of prepared datasets keyed by a content hash, with its
// per-source file-hash index, seeded stratified splits and cross-validation
// folds, and sources (a folder, a zip archive, or a download checked
// against its SHA-256). Images live in internal/data/images and CSV tables
// in internal/data/table; both build on this package.
//
// It imports only internal/errs and the standard library: never its
// subpackages (they import it), nor GoMLX (that lives in internal/train).
package data
