package trees

import (
	"math"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Dataset is a dense table of features and its labels.
//
// X is row-major: the value of feature j in row i is X[i*Cols+j]. A flat
// slice is one allocation instead of Rows, it is what a table reader fills
// row by row, and a row is a contiguous sub-slice that Predict walks without
// copying. The trainer turns it once into feature-major uint8 bin codes, the
// layout the histograms are built from.
//
// NaN in X is a missing value. Infinite values are rejected.
type Dataset struct {
	X          []float64
	Rows, Cols int
	// Y holds the labels: class ids 0..K-1 for classification (0 or 1 for
	// binary), any finite value for regression.
	Y []float64
	// Weights, when set, weighs each row's contribution to the loss (one
	// non-negative finite value per row).
	Weights []float64
	// FeatureNames, when set, names the columns in the saved model; names
	// may not contain spaces or '='. Column_0, Column_1, ... otherwise.
	FeatureNames []string
}

// Row returns row i of the features, sharing X's memory.
func (d *Dataset) Row(i int) []float64 { return d.X[i*d.Cols : (i+1)*d.Cols] }

// validate checks the table's shape and values for a task with numClass
// classes (0 for regression). name is "train" or "valid", used in messages.
func (d *Dataset) validate(name string, numClass int) error {
	if d.Rows <= 0 || d.Cols <= 0 {
		return errs.Invalidf("%s data is empty: %d rows x %d columns", name, d.Rows, d.Cols)
	}
	if len(d.X) != d.Rows*d.Cols {
		return errs.Invalidf("%s data: X has %d values, want rows*cols = %d*%d = %d", name, len(d.X), d.Rows, d.Cols, d.Rows*d.Cols)
	}
	if len(d.Y) != d.Rows {
		return errs.Invalidf("%s data: %d labels for %d rows", name, len(d.Y), d.Rows)
	}
	if d.Weights != nil && len(d.Weights) != d.Rows {
		return errs.Invalidf("%s data: %d weights for %d rows", name, len(d.Weights), d.Rows)
	}
	if d.FeatureNames != nil {
		if len(d.FeatureNames) != d.Cols {
			return errs.Invalidf("%s data: %d feature names for %d columns", name, len(d.FeatureNames), d.Cols)
		}
		for j, n := range d.FeatureNames {
			if n == "" || strings.ContainsAny(n, " \t\r\n=") {
				return errs.Invalidf("%s data: feature name %d (%q) must be non-empty, without spaces or '='", name, j, n)
			}
		}
	}
	for i, y := range d.Y {
		switch {
		case math.IsNaN(y) || math.IsInf(y, 0):
			return errs.Invalidf("%s data: label of row %d is %v", name, i, y)
		case numClass > 0 && (y != math.Trunc(y) || y < 0 || int(y) >= numClass):
			return errs.Invalidf("%s data: label of row %d is %v, want a class id in 0..%d", name, i, y, numClass-1)
		}
	}
	for i, w := range d.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return errs.Invalidf("%s data: weight of row %d is %v, want a finite value >= 0", name, i, w)
		}
	}
	for k, x := range d.X {
		if math.IsInf(x, 0) {
			return errs.Invalidf("%s data: row %d, column %d is %v; use NaN for a missing value", name, k/d.Cols, k%d.Cols, x)
		}
	}
	return nil
}

// featureNames returns the names the model will carry.
func (d *Dataset) featureNames() []string {
	if d.FeatureNames != nil {
		return append([]string(nil), d.FeatureNames...)
	}
	names := make([]string, d.Cols)
	for j := range names {
		names[j] = "Column_" + strconv.Itoa(j)
	}
	return names
}
