// Package table prepares CSV tables for training: reading CSV with a header
// (ReadCSV), typed column specs and presets (Spec, Preset, TitanicSpec),
// the transform fitted on the train split and applied again at serving
// (Transform, FitTransform, UnmarshalTransform), synthetic Titanic
// passengers (SynthPassengers), and Prepare, which turns a CSV into a
// cached float32 dataset.
//
// It imports internal/data for the dataset format, the cache and splits,
// internal/errs and the standard library; never internal/data/images or
// GoMLX (that lives in internal/train).
package table
