package table

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// ColumnType is the type of a table column.
type ColumnType string

// Column types. Numbers are finite decimals; categories are a small set of
// labels, one-hot encoded as features; text is free text, used only as the
// input of derived columns (e.g. a title extracted from a name).
const (
	Number   ColumnType = "number"
	Category ColumnType = "category"
	Text     ColumnType = "text"
)

// Imputation strategies: how a missing value (an empty CSV cell, a JSON null
// or an absent optional field) is filled, from statistics of the train split.
const (
	ImputeMedian   = "median"   // numbers (the default for numbers)
	ImputeMean     = "mean"     // numbers
	ImputeMode     = "mode"     // the most frequent value (the default for categories); ties go to the smallest
	ImputeConstant = "constant" // Impute.Value
)

// Scalings of number features.
const (
	ScaleStandard = "standard" // (x - mean) / std over the train split (the default)
	ScaleNone     = "none"     // the value as is (e.g. 0/1 flags)
)

// Operations that derive a column from earlier ones.
const (
	// DeriveExtract takes the first group of Pattern in a text or category
	// input, maps it through Map (values not in Map become Default, when set)
	// and gives a category. No match gives Default, or missing when empty.
	DeriveExtract = "extract"
	// DeriveSum adds number inputs and Add. Any missing input gives missing.
	DeriveSum = "sum"
	// DeriveRatio divides the first number input by the second; missing or
	// division by zero gives missing.
	DeriveRatio = "ratio"
	// DeriveEquals gives 1 when the number input equals Value, else 0.
	DeriveEquals = "equals"
	// DerivePresent gives 1 when the input (of any type) is not missing, else 0.
	DerivePresent = "present"
)

// UnknownCategory names the one-hot slot that catches category values not
// seen in the train split (e.g. "Embarked=<unknown>").
const UnknownCategory = "<unknown>"

// Spec declares a table pipeline: the typed input columns a record
// carries, the columns derived from them, how each is imputed and scaled,
// and which become features, in order. It is fitted on the train split into
// a Transform.
type Spec struct {
	// Label is the label column; it is read from CSV files for training and
	// is never part of a record at serving.
	Label string `json:"label"`
	// Classes fixes the label classes and their order; empty means the sorted
	// distinct label values (numerically when all are numbers).
	Classes []string `json:"classes,omitempty"`
	// ID optionally names a column kept as per-example metadata ("id").
	ID string `json:"id,omitempty"`
	// Columns are the input and derived columns, in evaluation order: a
	// derived column or an imputation group may refer only to earlier ones.
	Columns []ColumnSpec `json:"columns"`
	// Features names the non-text columns that make up the feature vector:
	// a number gives one value, a category one slot per train value plus
	// UnknownCategory.
	Features []string `json:"features"`
}

// ColumnSpec declares one column.
type ColumnSpec struct {
	Name string     `json:"name"`
	Type ColumnType `json:"type"`
	// Optional input columns may be absent from the CSV header and from a
	// record; they are then missing and imputed. A required column must be
	// present, though its values may be empty (CSV) or null (JSON).
	Optional bool `json:"optional,omitempty"`
	// Derive computes this column from earlier ones instead of reading it.
	Derive *Derive `json:"derive,omitempty"`
	Impute Impute  `json:"impute,omitzero"`
	// Scale is ScaleStandard (default) or ScaleNone; numbers only.
	Scale string `json:"scale,omitempty"`
}

// Derive computes a column from earlier columns.
type Derive struct {
	Op     string   `json:"op"` // one of the Derive* operations
	Inputs []string `json:"inputs"`
	// Pattern, Map and Default configure DeriveExtract.
	Pattern string            `json:"pattern,omitempty"`
	Map     map[string]string `json:"map,omitempty"`
	Default string            `json:"default,omitempty"`
	// Add is the constant DeriveSum adds.
	Add float64 `json:"add,omitempty"`
	// Value is what DeriveEquals compares with.
	Value float64 `json:"value,omitempty"`
}

// Impute says how missing values of a column are filled.
type Impute struct {
	// Strategy is one of the Impute* strategies; empty means median for
	// numbers and mode for categories. Text is never imputed.
	Strategy string `json:"strategy,omitempty"`
	// By names an earlier category column: the statistic is taken within each
	// of its values (e.g. the median age per title), falling back to the
	// overall statistic for a group not seen in train.
	By string `json:"by,omitempty"`
	// Value is the fill of ImputeConstant (a number for number columns).
	Value string `json:"value,omitempty"`
}

// Inputs returns the columns a record must or may carry: the non-derived ones.
func (s Spec) Inputs() []ColumnSpec {
	var in []ColumnSpec
	for _, c := range s.Columns {
		if c.Derive == nil {
			in = append(in, c)
		}
	}
	return in
}

// RequiredColumns returns the header columns a training CSV must have: the
// label and the required input columns.
func (s Spec) RequiredColumns() []string {
	req := []string{s.Label}
	for _, c := range s.Inputs() {
		if !c.Optional {
			req = append(req, c.Name)
		}
	}
	return req
}

// Validate checks the spec: unique names, known types and operations,
// references to earlier columns only, and features that can be encoded.
func (s Spec) Validate() error {
	if s.Label == "" {
		return errs.Invalidf("table spec: no label column")
	}
	if len(s.Columns) == 0 {
		return errs.Invalidf("table spec: no columns")
	}
	if len(s.Classes) == 1 {
		return errs.Invalidf("table spec: one class %q: expected at least two", s.Classes[0])
	}
	for i, c := range s.Classes {
		if c == "" || slices.Contains(s.Classes[:i], c) {
			return errs.Invalidf("table spec: class %q is empty or repeated", c)
		}
	}
	types := map[string]ColumnType{}
	for _, c := range s.Columns {
		if err := c.validate(s.Label, types); err != nil {
			return fmt.Errorf("table spec: column %q: %w", c.Name, err)
		}
		types[c.Name] = c.Type
	}
	if len(s.Features) == 0 {
		return errs.Invalidf("table spec: no features")
	}
	for i, f := range s.Features {
		t, ok := types[f]
		switch {
		case !ok:
			return errs.Invalidf("table spec: feature %q is not a column", f)
		case t == Text:
			return errs.Invalidf("table spec: feature %q is text: derive a category or number from it", f)
		case slices.Contains(s.Features[:i], f):
			return errs.Invalidf("table spec: feature %q listed twice", f)
		}
	}
	return nil
}

func (c ColumnSpec) validate(label string, earlier map[string]ColumnType) error {
	switch {
	case c.Name == "":
		return errs.Invalidf("no name")
	case c.Name == label:
		return errs.Invalidf("is the label column")
	case earlier[c.Name] != "":
		return errs.Invalidf("declared twice")
	}
	switch c.Type {
	case Number, Category, Text:
	default:
		return errs.Invalidf("type %q: expected %q, %q or %q", c.Type, Number, Category, Text)
	}
	if c.Derive != nil {
		if c.Optional {
			return errs.Invalidf("a derived column cannot be optional")
		}
		if err := c.Derive.validate(c.Type, earlier); err != nil {
			return err
		}
	}
	im := c.Impute
	switch {
	case c.Type == Text && im != (Impute{}):
		return errs.Invalidf("text is not imputed")
	case im.Strategy == "" || im.Strategy == ImputeMode:
	case im.Strategy == ImputeConstant:
		if v, ok := parseNumber(im.Value); c.Type == Number && (!ok || math.IsNaN(v)) {
			return errs.Invalidf("impute value %q is not a number", im.Value)
		}
		if c.Type == Category && strings.TrimSpace(im.Value) == "" {
			return errs.Invalidf("impute constant has no value")
		}
	case im.Strategy == ImputeMedian || im.Strategy == ImputeMean:
		if c.Type != Number {
			return errs.Invalidf("impute %q needs a number column", im.Strategy)
		}
	default:
		return errs.Invalidf("impute strategy %q: expected %q, %q, %q or %q", im.Strategy, ImputeMedian, ImputeMean, ImputeMode, ImputeConstant)
	}
	if im.By != "" && earlier[im.By] != Category {
		return errs.Invalidf("impute by %q: expected an earlier category column", im.By)
	}
	switch {
	case c.Scale == "":
	case c.Type != Number:
		return errs.Invalidf("scale applies to numbers only")
	case c.Scale != ScaleStandard && c.Scale != ScaleNone:
		return errs.Invalidf("scale %q: expected %q or %q", c.Scale, ScaleStandard, ScaleNone)
	}
	return nil
}

func (d *Derive) validate(out ColumnType, earlier map[string]ColumnType) error {
	want := func(n int, types ...ColumnType) error {
		if len(d.Inputs) != n && n >= 0 {
			return errs.Invalidf("derive %q takes %d input(s), got %d", d.Op, n, len(d.Inputs))
		}
		if len(d.Inputs) == 0 {
			return errs.Invalidf("derive %q has no inputs", d.Op)
		}
		for _, in := range d.Inputs {
			t, ok := earlier[in]
			if !ok {
				return errs.Invalidf("derive input %q is not an earlier column", in)
			}
			if len(types) > 0 && !slices.Contains(types, t) {
				return errs.Invalidf("derive %q input %q is %s: expected %v", d.Op, in, t, types)
			}
		}
		return nil
	}
	var err error
	result := Number
	switch d.Op {
	case DeriveExtract:
		result = Category
		if err = want(1, Text, Category); err == nil {
			var re *regexp.Regexp
			if re, err = regexp.Compile(d.Pattern); err != nil {
				err = errs.Invalidf("derive pattern %q: %v", d.Pattern, err)
			} else if re.NumSubexp() < 1 {
				err = errs.Invalidf("derive pattern %q has no group to extract", d.Pattern)
			}
		}
	case DeriveSum:
		err = want(-1, Number)
	case DeriveRatio:
		err = want(2, Number)
	case DeriveEquals:
		err = want(1, Number)
	case DerivePresent:
		err = want(1)
	default:
		return errs.Invalidf("derive op %q: expected %q, %q, %q, %q or %q", d.Op, DeriveExtract, DeriveSum, DeriveRatio, DeriveEquals, DerivePresent)
	}
	if err == nil && out != result {
		err = errs.Invalidf("derive %q gives a %s column, declared %s", d.Op, result, out)
	}
	return err
}
