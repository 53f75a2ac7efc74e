// Package images prepares image datasets: decoding PNG and JPEG within
// limits (ReadHeader, CheckSize, DecodeContext, MaxPixels) into the
// model's input (Options, Decode, OptionsOf a manifest), the folder
// layouts (the fingers naming, class folders, split folders; HandClasses),
// augmentation at training time (Augmenter), synthetic hands
// (GenerateHands), and Prepare, which turns a source into a cached uint8
// dataset.
//
// It imports internal/data for the dataset format, cache, splits and
// sources, internal/errs, the standard library and golang.org/x/image
// (resampling; this is its only home); never internal/data/table, nor
// GoMLX (that lives in internal/train).
package images
