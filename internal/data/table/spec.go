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

// Column types. Numbers are finite decimals; categories are labels, one-hot
// encoded as features by default (see Encode*); booleans are true/false
// (also yes/no, y/n, t/f, 1/0), a 0/1 feature; dates are ISO 8601 dates or
// times (2024-03-01, 2024-03-01T12:30:00Z, "2024-03-01 12:30:00" read as
// UTC), a feature counting days since 1970-01-01 from which DeriveDatePart
// takes the year, month, ...; text is free text, used only as the input of
// derived columns (e.g. a title extracted from a name).
const (
	Number   ColumnType = "number"
	Category ColumnType = "category"
	Boolean  ColumnType = "boolean"
	Date     ColumnType = "date"
	Text     ColumnType = "text"
)

// numeric reports whether values of the type are held as numbers.
func (t ColumnType) numeric() bool { return t == Number || t == Boolean || t == Date }

// Encodings of a category feature.
const (
	// EncodeOneHot gives one 0/1 slot per train value plus UnknownCategory
	// (the default).
	EncodeOneHot = "onehot"
	// EncodeFrequency gives one value: the share of train rows holding the
	// value (0 for a value not seen in train). It suits high-cardinality
	// columns and uses no label.
	EncodeFrequency = "frequency"
	// EncodeTarget gives the smoothed rate of the label among train rows
	// holding the value: one value for two classes (the second class's
	// rate), else one per class. Train rows are encoded without their own
	// label (see TargetEncoding), so the feature does not leak it; other
	// rows and served records use every train row.
	EncodeTarget = "target"
)

// TargetEncoding configures EncodeTarget.
type TargetEncoding struct {
	// Smoothing is the weight, in rows, of the overall class rates a
	// value's rate is pulled toward: (count + Smoothing*prior) /
	// (rows + Smoothing). 0 means the default, 2.
	Smoothing float64 `json:"smoothing,omitempty"`
	// Folds is how many folds train rows are dealt into: each row is
	// encoded from the rows of the other folds only (out of fold). 0 means
	// the default, 5; at most 100.
	Folds int `json:"folds,omitempty"`
}

// Defaults of TargetEncoding.
const (
	DefaultTargetSmoothing = 2
	DefaultTargetFolds     = 5
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
	// DeriveDatePart takes Part (one of DateParts) of a date input, in UTC.
	DeriveDatePart = "date_part"
)

// DateParts are the parts DeriveDatePart takes: the year, the month
// (1-12), the day of the month (1-31), the weekday (0 Sunday to 6
// Saturday), the day of the year (1-366) and the hour (0-23).
var DateParts = []string{"year", "month", "day", "weekday", "dayofyear", "hour"}

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
	// Scale is ScaleStandard (default) or ScaleNone; numbers and dates only
	// (booleans are never scaled).
	Scale string `json:"scale,omitempty"`
	// Encode is how a category feature is encoded: EncodeOneHot (default),
	// EncodeFrequency or EncodeTarget; Target tunes EncodeTarget.
	Encode string          `json:"encode,omitempty"`
	Target *TargetEncoding `json:"target,omitempty"`
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
	// Part is what DeriveDatePart takes (one of DateParts).
	Part string `json:"part,omitempty"`
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
	case Number, Category, Boolean, Date, Text:
	default:
		return errs.Invalidf("type %q: expected %q, %q, %q, %q or %q", c.Type, Number, Category, Boolean, Date, Text)
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
		if v, ok := parseCell(c.Type, im.Value); c.Type.numeric() && (!ok || math.IsNaN(v)) {
			return errs.Invalidf("impute value %q is not a %s", im.Value, c.Type)
		}
		if c.Type == Category && strings.TrimSpace(im.Value) == "" {
			return errs.Invalidf("impute constant has no value")
		}
	case im.Strategy == ImputeMedian || im.Strategy == ImputeMean:
		if c.Type != Number && c.Type != Date {
			return errs.Invalidf("impute %q needs a number or date column", im.Strategy)
		}
	default:
		return errs.Invalidf("impute strategy %q: expected %q, %q, %q or %q", im.Strategy, ImputeMedian, ImputeMean, ImputeMode, ImputeConstant)
	}
	if im.By != "" && earlier[im.By] != Category {
		return errs.Invalidf("impute by %q: expected an earlier category column", im.By)
	}
	switch {
	case c.Scale == "":
	case c.Type != Number && c.Type != Date:
		return errs.Invalidf("scale applies to numbers and dates only")
	case c.Scale != ScaleStandard && c.Scale != ScaleNone:
		return errs.Invalidf("scale %q: expected %q or %q", c.Scale, ScaleStandard, ScaleNone)
	}
	switch {
	case c.Encode == "" && c.Target == nil:
	case c.Type != Category:
		return errs.Invalidf("encode applies to categories only")
	case c.Encode != "" && c.Encode != EncodeOneHot && c.Encode != EncodeFrequency && c.Encode != EncodeTarget:
		return errs.Invalidf("encode %q: expected %q, %q or %q", c.Encode, EncodeOneHot, EncodeFrequency, EncodeTarget)
	case c.Target != nil && c.Encode != EncodeTarget:
		return errs.Invalidf("target settings need encode %q", EncodeTarget)
	case c.Target != nil && (c.Target.Smoothing < 0 || math.IsNaN(c.Target.Smoothing) || math.IsInf(c.Target.Smoothing, 0)):
		return errs.Invalidf("target smoothing %v: expected a finite number >= 0", c.Target.Smoothing)
	case c.Target != nil && (c.Target.Folds == 1 || c.Target.Folds < 0 || c.Target.Folds > 100):
		return errs.Invalidf("target folds %d: expected 2 to 100 (0: the default, 5)", c.Target.Folds)
	}
	return nil
}

// encoding is the column's category encoding, with the default filled in.
func (c ColumnSpec) encoding() string {
	if c.Encode == "" {
		return EncodeOneHot
	}
	return c.Encode
}

// targetSettings returns the column's target encoding with defaults.
func (c ColumnSpec) targetSettings() TargetEncoding {
	var t TargetEncoding
	if c.Target != nil {
		t = *c.Target
	}
	if t.Smoothing == 0 {
		t.Smoothing = DefaultTargetSmoothing
	}
	if t.Folds == 0 {
		t.Folds = DefaultTargetFolds
	}
	return t
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
	case DeriveDatePart:
		if err = want(1, Date); err == nil && !slices.Contains(DateParts, d.Part) {
			err = errs.Invalidf("derive %q part %q: expected one of %s", d.Op, d.Part, quoteList(DateParts))
		}
	default:
		return errs.Invalidf("derive op %q: expected %q, %q, %q, %q, %q or %q", d.Op, DeriveExtract, DeriveSum, DeriveRatio, DeriveEquals, DerivePresent, DeriveDatePart)
	}
	if err == nil && out != result {
		err = errs.Invalidf("derive %q gives a %s column, declared %s", d.Op, result, out)
	}
	return err
}
