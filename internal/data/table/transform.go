package table

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// TransformVersion is the version of the Transform JSON layout.
const TransformVersion = 1

// Transform is a Spec fitted on a train split: the fill values of
// every imputation, the categories of every one-hot feature and the mean and
// standard deviation of every standardised number. It is plain JSON, stored
// in Manifest.Transform and copied into a model package, so serving turns a
// record into exactly the vector training saw. Applying it is deterministic
// and safe for concurrent use.
type Transform struct {
	Version int      `json:"version"`
	Label   string   `json:"label"`
	Classes []string `json:"classes"`
	ID      string   `json:"id,omitempty"`
	// Columns are the spec's columns with their fitted statistics.
	Columns []FittedColumn `json:"columns"`
	// Features are the columns encoded into the vector, in order.
	Features []string `json:"features"`
	// FeatureNames names each value of the vector: "Age", "Sex=female",
	// "Sex=<unknown>", ...
	FeatureNames []string `json:"feature_names"`

	c tableCompiled
}

// FittedColumn is a column with the statistics fitted on the train split.
type FittedColumn struct {
	ColumnSpec
	// FillNumber / FillCategory fill a missing value; FillNumberBy /
	// FillCategoryBy hold the fill per value of Impute.By.
	FillNumber     float64            `json:"fill_number,omitempty"`
	FillCategory   string             `json:"fill_category,omitempty"`
	FillNumberBy   map[string]float64 `json:"fill_number_by,omitempty"`
	FillCategoryBy map[string]string  `json:"fill_category_by,omitempty"`
	// Categories are the sorted train values of a category feature: its
	// one-hot slots (UnknownCategory follows them), or the values Frequency
	// and TargetCounts describe.
	Categories []string `json:"categories,omitempty"`
	// Frequency[k] is the share of train rows holding Categories[k]
	// (EncodeFrequency).
	Frequency []float64 `json:"frequency,omitempty"`
	// TargetCounts[k][c] counts the train rows holding Categories[k] with
	// class c, and TargetPrior[c] is the share of train rows of class c
	// (EncodeTarget).
	TargetCounts [][]int   `json:"target_counts,omitempty"`
	TargetPrior  []float64 `json:"target_prior,omitempty"`
	// Mean and Std standardise a number feature.
	Mean float64 `json:"mean,omitempty"`
	Std  float64 `json:"std,omitempty"`
	// Missing counts the train rows this column was empty in: a record may
	// then leave the field out, as unknown (null), like those cells.
	Missing int `json:"missing,omitempty"`
	// Range is the smallest and largest train value of a number or date
	// input column, for clients that guide what to send (not enforced).
	Range []float64 `json:"range,omitempty"`
}

// Field is what a client sends for one input column: its name and type,
// whether it may be left out or null, and, where training fixes them, the
// values a category takes (one-hot categories only: a value outside them
// reads as unknown) and the train range of a number.
type Field struct {
	Name     string     `json:"name"`
	Type     ColumnType `json:"type"`
	Optional bool       `json:"optional"`
	Choices  []string   `json:"choices,omitempty"`
	Min      *float64   `json:"min,omitempty"`
	Max      *float64   `json:"max,omitempty"`
}

// Fields describes the input columns a record carries (see Inputs), with
// the choices and ranges training saw.
func (t *Transform) Fields() []Field {
	var out []Field
	for _, c := range t.Columns {
		if c.Derive != nil {
			continue
		}
		f := Field{Name: c.Name, Type: c.Type, Optional: c.Optional || c.Missing > 0}
		if c.Type == Category && c.encoding() == EncodeOneHot && t.c.cats[t.c.index[c.Name]] != nil {
			f.Choices = slices.Clone(c.Categories)
		}
		if len(c.Range) == 2 {
			lo, hi := c.Range[0], c.Range[1]
			f.Min, f.Max = &lo, &hi
		}
		out = append(out, f)
	}
	return out
}

// tableCompiled holds what a Transform derives from its JSON to apply fast.
type tableCompiled struct {
	index  map[string]int
	res    []*regexp.Regexp // per column, for DeriveExtract
	inputs [][]int          // per column, derive inputs
	by     []int            // per column, imputation group column or -1
	cats   []map[string]int // per column, index of each category in Categories
	feat   []int            // column of each feature
	offset []int            // vector offset of each feature
	width  int
	// unfitted skips the checks of fitted statistics, while fitting.
	unfitted bool
}

// Spec returns the spec the transform was fitted from.
func (t *Transform) Spec() Spec {
	s := Spec{Label: t.Label, Classes: slices.Clone(t.Classes), ID: t.ID, Features: slices.Clone(t.Features)}
	for _, c := range t.Columns {
		s.Columns = append(s.Columns, c.ColumnSpec)
	}
	return s
}

// Inputs returns the fields a record carries: the non-derived columns, with
// their types and whether they may be absent. Other fields are ignored.
func (t *Transform) Inputs() []ColumnSpec { return t.Spec().Inputs() }

// Size is the length of the feature vector.
func (t *Transform) Size() int { return t.c.width }

// ClassIndex returns the index of a label value in Classes.
func (t *Transform) ClassIndex(label string) (int, bool) {
	i := slices.Index(t.Classes, strings.TrimSpace(label))
	return i, i >= 0
}

// UnmarshalTransform decodes and checks a transform saved as JSON (e.g.
// Manifest.Transform). Unknown fields are an error. Errors are Invalid.
func UnmarshalTransform(b []byte) (*Transform, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Transform
	if err := dec.Decode(&t); err != nil {
		return nil, errs.Invalidf("table transform: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.Invalidf("table transform: data after the JSON object")
	}
	if t.Version != TransformVersion {
		return nil, errs.Invalidf("table transform: version %d, expected %d", t.Version, TransformVersion)
	}
	if err := t.compile(); err != nil {
		return nil, err
	}
	return &t, nil
}

// compile validates the transform and fills t.c.
func (t *Transform) compile() error {
	if err := t.Spec().Validate(); err != nil {
		return fmt.Errorf("table transform: %w", err)
	}
	if len(t.Classes) < 2 {
		return errs.Invalidf("table transform: %d classes, expected at least two", len(t.Classes))
	}
	n := len(t.Columns)
	c := tableCompiled{unfitted: t.c.unfitted, index: make(map[string]int, n), res: make([]*regexp.Regexp, n), inputs: make([][]int, n),
		by: make([]int, n), cats: make([]map[string]int, n)}
	for j, col := range t.Columns {
		c.index[col.Name] = j
		c.by[j] = -1
		if col.Impute.By != "" {
			c.by[j] = c.index[col.Impute.By]
		}
		if d := col.Derive; d != nil {
			for _, in := range d.Inputs {
				c.inputs[j] = append(c.inputs[j], c.index[in])
			}
			if d.Op == DeriveExtract {
				c.res[j] = regexp.MustCompile(d.Pattern) // validated above
			}
		}
		if math.IsNaN(col.FillNumber) || math.IsInf(col.FillNumber, 0) || math.IsNaN(col.Mean) ||
			math.IsInf(col.Mean, 0) || col.Std < 0 || math.IsNaN(col.Std) || math.IsInf(col.Std, 0) {
			return errs.Invalidf("table transform: column %q has non-finite statistics", col.Name)
		}
		if err := t.checkEncoding(col); err != nil && !t.c.unfitted {
			return err
		}
		if r := col.Range; r != nil && (len(r) != 2 || !col.Type.numeric() || math.IsNaN(r[0]) || math.IsNaN(r[1]) ||
			math.IsInf(r[0], 0) || math.IsInf(r[1], 0) || r[0] > r[1]) {
			return errs.Invalidf("table transform: column %q: range %v: expected [min, max] of a number or date", col.Name, r)
		}
	}
	var names []string
	for _, f := range t.Features {
		j := c.index[f]
		col := t.Columns[j]
		c.feat = append(c.feat, j)
		c.offset = append(c.offset, len(names))
		if col.Type != Category {
			names = append(names, col.Name)
			continue
		}
		c.cats[j] = make(map[string]int, len(col.Categories))
		for k, v := range col.Categories {
			if _, dup := c.cats[j][v]; dup || v == "" {
				return errs.Invalidf("table transform: feature %q has an empty or repeated category %q", f, v)
			}
			c.cats[j][v] = k
		}
		switch col.encoding() {
		case EncodeFrequency:
			names = append(names, col.Name+"~frequency")
		case EncodeTarget:
			if len(t.Classes) == 2 {
				names = append(names, col.Name+"~target")
				break
			}
			for _, cl := range t.Classes {
				names = append(names, col.Name+"~target="+cl)
			}
		default:
			for _, v := range col.Categories {
				names = append(names, col.Name+"="+v)
			}
			names = append(names, col.Name+"="+UnknownCategory)
		}
	}
	if t.FeatureNames == nil {
		t.FeatureNames = names
	} else if !slices.Equal(t.FeatureNames, names) {
		return errs.Invalidf("table transform: feature_names do not match the features and their categories")
	}
	c.width = len(names)
	t.c = c
	return nil
}

// checkEncoding checks that a fitted category column's encoding statistics
// line up with its categories and the classes.
func (t *Transform) checkEncoding(col FittedColumn) error {
	bad := func(what string) error {
		return errs.Invalidf("table transform: column %q: %s", col.Name, what)
	}
	switch {
	case col.Type != Category || col.encoding() == EncodeOneHot:
		if col.Frequency != nil || col.TargetCounts != nil || col.TargetPrior != nil {
			return bad("encoding statistics without the encoding")
		}
	case col.encoding() == EncodeFrequency:
		if len(col.Frequency) != len(col.Categories) {
			return bad("frequency does not match the categories")
		}
		for _, v := range col.Frequency {
			if !(v >= 0 && v <= 1) {
				return bad("frequency outside [0, 1]")
			}
		}
	case col.encoding() == EncodeTarget:
		if len(col.TargetCounts) != len(col.Categories) || len(col.TargetPrior) != len(t.Classes) {
			return bad("target counts do not match the categories and classes")
		}
		for _, n := range col.TargetCounts {
			if len(n) != len(t.Classes) || slices.ContainsFunc(n, func(v int) bool { return v < 0 }) {
				return bad("target counts do not match the classes")
			}
		}
		for _, v := range col.TargetPrior {
			if !(v >= 0 && v <= 1) {
				return bad("target prior outside [0, 1]")
			}
		}
	}
	return nil
}

// tableFrame holds column values for n rows while a transform runs: NaN is a
// missing number and "" a missing category or text.
type tableFrame struct {
	n   int
	num [][]float64
	str [][]string
}

func (t *Transform) newFrame(n int) *tableFrame {
	f := &tableFrame{n: n, num: make([][]float64, len(t.Columns)), str: make([][]string, len(t.Columns))}
	for j, col := range t.Columns {
		if col.Type.numeric() {
			f.num[j] = make([]float64, n)
		} else {
			f.str[j] = make([]string, n)
		}
	}
	return f
}

// headerPositions maps each input column to its position in c's header (-1
// for derived and absent optional columns), after checking required ones.
func (t *Transform) headerPositions(c *CSV, label bool) ([]int, error) {
	spec := t.Spec()
	req := spec.RequiredColumns()
	if !label {
		req = req[1:]
	}
	if err := c.Require(req...); err != nil {
		return nil, err
	}
	pos := make([]int, len(t.Columns))
	for j, col := range t.Columns {
		pos[j] = -1
		if col.Derive == nil {
			pos[j] = c.Index(col.Name)
		}
	}
	return pos, nil
}

// loadCSV reads the input columns of rows [lo, hi) of c.
func (t *Transform) loadCSV(f *tableFrame, c *CSV, pos []int, lo, hi int) error {
	for j, col := range t.Columns {
		p := pos[j]
		if col.Derive != nil {
			continue
		}
		for i := lo; i < hi; i++ {
			if p < 0 {
				if col.Type.numeric() {
					f.num[j][i] = math.NaN()
				}
				continue
			}
			cell := strings.TrimSpace(c.Rows[i][p])
			if !col.Type.numeric() {
				f.str[j][i] = cell
				continue
			}
			v, ok := parseCell(col.Type, cell)
			if !ok {
				return errs.Invalidf("%s line %d, column %q: %q is not a %s%s", c.Name, c.Lines[i], col.Name, clip(cell), col.Type, typeHint(col.Type))
			}
			f.num[j][i] = v
		}
	}
	return nil
}

// loadRecord reads the input fields of one JSON-like record into row i.
func (t *Transform) loadRecord(f *tableFrame, i int, rec map[string]any) error {
	for j, col := range t.Columns {
		if col.Derive != nil {
			continue
		}
		v, ok := rec[col.Name]
		if !ok && !col.Optional && col.Missing == 0 {
			return errs.Invalidf("field %q is required (null when unknown)", col.Name)
		}
		if col.Type.numeric() {
			x, err := recordValue(col.Name, col.Type, v)
			if err != nil {
				return err
			}
			f.num[j][i] = x
			continue
		}
		s, err := recordString(col.Name, col.Type, v)
		if err != nil {
			return err
		}
		f.str[j][i] = s
	}
	return nil
}

// typeHint says what a cell of a boolean or date column may hold.
func typeHint(t ColumnType) string {
	switch t {
	case Boolean:
		return " (expected true/false, yes/no, y/n, t/f or 1/0)"
	case Date:
		return " (expected an ISO 8601 date such as 2024-03-01 or 2024-03-01T12:30:00Z)"
	}
	return ""
}

// clip shortens a cell quoted in an error, so a huge cell cannot make a
// huge message.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// recordValue reads a record field of a numeric column type: a number, a
// boolean (JSON true/false, 0/1 or one of the words parseBool takes) or a
// date (a string parseDate takes).
func recordValue(name string, typ ColumnType, v any) (float64, error) {
	switch typ {
	case Boolean:
		switch v := v.(type) {
		case bool:
			return flag01(v), nil
		case string:
			if x, ok := parseBool(v); ok {
				return x, nil
			}
			return 0, errs.Invalidf("field %q: %q is not a boolean%s", name, clip(v), typeHint(typ))
		}
		x, err := recordNumber(name, v)
		if err == nil && !math.IsNaN(x) && x != 0 && x != 1 {
			return 0, errs.Invalidf("field %q: %v is not a boolean%s", name, x, typeHint(typ))
		}
		return x, err
	case Date:
		switch v := v.(type) {
		case nil:
			return math.NaN(), nil
		case string:
			if x, ok := parseDate(v); ok {
				return x, nil
			}
			return 0, errs.Invalidf("field %q: %q is not a date%s", name, clip(v), typeHint(typ))
		}
		return 0, errs.Invalidf("field %q: expected a date (a string), got %s", name, jsonKind(v))
	}
	return recordNumber(name, v)
}

func recordNumber(name string, v any) (float64, error) {
	var x float64
	switch v := v.(type) {
	case nil:
		return math.NaN(), nil
	case float64:
		x = v
	case float32:
		x = float64(v)
	case int:
		x = float64(v)
	case int32:
		x = float64(v)
	case int64:
		x = float64(v)
	case json.Number:
		var ok bool
		if x, ok = parseNumber(v.String()); !ok {
			return 0, errs.Invalidf("field %q: %q is not a number", name, v.String())
		}
	default:
		return 0, errs.Invalidf("field %q: expected a number, got %s", name, jsonKind(v))
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, errs.Invalidf("field %q: expected a finite number", name)
	}
	return x, nil
}

func recordString(name string, typ ColumnType, v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case json.Number:
		// 3, 3.0 and 3e0 are the same category, as the CSV cell "3" is:
		// clients (Python's json, pandas) often send whole numbers as floats.
		if x, ok := parseNumber(v.String()); ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		}
		return v.String(), nil
	case float64, float32, int, int32, int64:
		// A number for a category (e.g. Pclass 3) is its shortest decimal,
		// as the CSV cell "3" would be.
		x, err := recordNumber(name, v)
		if err != nil {
			return "", err
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	}
	return "", errs.Invalidf("field %q: expected a %s (a string), got %s", name, typ, jsonKind(v))
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// derive computes the derived columns of rows [lo, hi).
func (t *Transform) derive(f *tableFrame, lo, hi int) {
	for j, col := range t.Columns {
		d := col.Derive
		if d == nil {
			continue
		}
		in := t.c.inputs[j]
		switch d.Op {
		case DeriveExtract:
			re, src := t.c.res[j], f.str[in[0]]
			for i := lo; i < hi; i++ {
				f.str[j][i] = extractCategory(re, d, src[i])
			}
		case DeriveSum:
			for i := lo; i < hi; i++ {
				s := d.Add
				for _, k := range in {
					s += f.num[k][i] // NaN propagates
				}
				f.num[j][i] = s
			}
		case DeriveRatio:
			a, b := f.num[in[0]], f.num[in[1]]
			for i := lo; i < hi; i++ {
				f.num[j][i] = math.NaN()
				if b[i] != 0 && !math.IsNaN(a[i]) && !math.IsNaN(b[i]) {
					f.num[j][i] = a[i] / b[i]
				}
			}
		case DeriveEquals:
			a := f.num[in[0]]
			for i := lo; i < hi; i++ {
				f.num[j][i] = math.NaN()
				if !math.IsNaN(a[i]) {
					f.num[j][i] = flag01(a[i] == d.Value)
				}
			}
		case DeriveDatePart:
			a := f.num[in[0]]
			for i := lo; i < hi; i++ {
				f.num[j][i] = datePart(a[i], d.Part)
			}
		case DerivePresent:
			k := in[0]
			for i := lo; i < hi; i++ {
				if f.num[k] != nil {
					f.num[j][i] = flag01(!math.IsNaN(f.num[k][i]))
				} else {
					f.num[j][i] = flag01(f.str[k][i] != "")
				}
			}
		}
	}
}

func extractCategory(re *regexp.Regexp, d *Derive, s string) string {
	if s == "" {
		return ""
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return d.Default
	}
	v := strings.TrimSpace(m[1])
	if d.Map == nil {
		return v
	}
	if mapped, ok := d.Map[v]; ok {
		return mapped
	}
	if d.Default != "" {
		return d.Default
	}
	return v
}

func flag01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// impute fills missing values of column j in rows [lo, hi).
func (t *Transform) impute(f *tableFrame, j, lo, hi int) {
	col := &t.Columns[j]
	by := t.c.by[j]
	switch {
	case col.Type.numeric():
		v := f.num[j]
		for i := lo; i < hi; i++ {
			if !math.IsNaN(v[i]) {
				continue
			}
			v[i] = col.FillNumber
			if by >= 0 {
				if g, ok := col.FillNumberBy[f.str[by][i]]; ok {
					v[i] = g
				}
			}
		}
	case col.Type == Category:
		v := f.str[j]
		for i := lo; i < hi; i++ {
			if v[i] != "" {
				continue
			}
			v[i] = col.FillCategory
			if by >= 0 {
				if g, ok := col.FillCategoryBy[f.str[by][i]]; ok {
					v[i] = g
				}
			}
		}
	}
}

// encode writes the feature vectors of rows [lo, hi) into dst, which holds
// the whole tableFrame (row i at dst[i*Size():]).
func (t *Transform) encode(f *tableFrame, lo, hi int, dst []float32) {
	w := t.c.width
	for k, j := range t.c.feat {
		col := &t.Columns[j]
		off := t.c.offset[k]
		if col.Type.numeric() {
			mean, std := 0.0, 1.0
			if col.Scale != ScaleNone && col.Type != Boolean {
				mean, std = col.Mean, col.Std
				if std == 0 {
					std = 1
				}
			}
			for i := lo; i < hi; i++ {
				dst[i*w+off] = float32((f.num[j][i] - mean) / std)
			}
			continue
		}
		cats, unknown := t.c.cats[j], len(col.Categories)
		switch col.encoding() {
		case EncodeFrequency:
			for i := lo; i < hi; i++ {
				dst[i*w+off] = 0
				if s, ok := cats[f.str[j][i]]; ok {
					dst[i*w+off] = float32(col.Frequency[s])
				}
			}
		case EncodeTarget:
			m := col.targetSettings().Smoothing
			for i := lo; i < hi; i++ {
				var counts []int
				if s, ok := cats[f.str[j][i]]; ok {
					counts = col.TargetCounts[s]
				}
				writeTargetRates(dst[i*w+off:], counts, col.TargetPrior, m)
			}
		default:
			for i := lo; i < hi; i++ {
				row := dst[i*w+off : i*w+off+unknown+1]
				clear(row)
				if s, ok := cats[f.str[j][i]]; ok {
					row[s] = 1
				} else {
					row[unknown] = 1
				}
			}
		}
	}
}

// writeTargetRates writes the smoothed class rates of a category value with
// the given counts per class (nil: not seen) into dst: the second class's
// rate for two classes, else every class's.
func writeTargetRates(dst []float32, counts []int, prior []float64, m float64) {
	n := 0
	for _, c := range counts {
		n += c
	}
	rate := func(c int) float32 {
		k := 0
		if counts != nil {
			k = counts[c]
		}
		if float64(n)+m <= 0 {
			return float32(prior[c])
		}
		return float32((float64(k) + m*prior[c]) / (float64(n) + m))
	}
	if len(prior) == 2 {
		dst[0] = rate(1)
		return
	}
	for c := range prior {
		dst[c] = rate(c)
	}
}

// transformRows runs derive, impute and encode on rows [lo, hi).
func (t *Transform) transformRows(f *tableFrame, lo, hi int, dst []float32) {
	t.derive(f, lo, hi)
	for j := range t.Columns {
		t.impute(f, j, lo, hi)
	}
	t.encode(f, lo, hi, dst)
}

// ApplyRecord turns one record into a feature vector. A record maps field
// names to JSON values (as encoding/json decodes them: float64, string, nil;
// json.Number and Go ints are accepted too): numbers for number columns,
// strings (or numbers, e.g. Pclass 3) for category and text columns. A null
// or an absent optional field is imputed as in training; fields the
// transform does not use are ignored. A wrong type or an absent required
// field is an Invalid error naming the field and what was expected.
func (t *Transform) ApplyRecord(rec map[string]any) ([]float32, error) {
	return t.AppendRecord(make([]float32, 0, t.c.width), rec)
}

// AppendRecord appends the feature vector of rec to dst, as ApplyRecord.
func (t *Transform) AppendRecord(dst []float32, rec map[string]any) ([]float32, error) {
	f := t.newFrame(1)
	if err := t.loadRecord(f, 0, rec); err != nil {
		return dst, err
	}
	n := len(dst)
	dst = slices.Grow(dst, t.c.width)[:n+t.c.width]
	t.transformRows(f, 0, 1, dst[n:])
	return dst, nil
}

// AppendRecordNoting is AppendRecord that also names the one-hot category
// columns (derived ones included, e.g. a title) whose value training never
// saw: the model reads them as its "unknown" category, and a server counts
// them. Frequency and target encoded columns are not named: an unseen
// value (a new ticket) is routine for them and reads as rare or the prior.
func (t *Transform) AppendRecordNoting(dst []float32, rec map[string]any) ([]float32, []string, error) {
	f := t.newFrame(1)
	if err := t.loadRecord(f, 0, rec); err != nil {
		return dst, nil, err
	}
	n := len(dst)
	dst = slices.Grow(dst, t.c.width)[:n+t.c.width]
	t.transformRows(f, 0, 1, dst[n:])
	var unknown []string
	for _, j := range t.c.feat {
		if t.Columns[j].Type != Category || t.Columns[j].encoding() != EncodeOneHot {
			continue // a frequency or rate has no unknown slot: an unseen value is routine
		}
		if _, ok := t.c.cats[j][f.str[j][0]]; !ok {
			unknown = append(unknown, t.Columns[j].Name)
		}
	}
	return dst, unknown, nil
}

// ApplyRecords turns a batch of records into len(recs) vectors stored flat.
// An error names the record's index.
func (t *Transform) ApplyRecords(recs []map[string]any) ([]float32, error) {
	f := t.newFrame(len(recs))
	for i, r := range recs {
		if err := t.loadRecord(f, i, r); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	dst := make([]float32, len(recs)*t.c.width)
	t.transformRows(f, 0, len(recs), dst)
	return dst, nil
}

// ApplyJSON decodes one JSON object (e.g. a request body) and applies the
// transform to it, as ApplyRecord.
func (t *Transform) ApplyJSON(b []byte) ([]float32, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return nil, errs.Invalidf("record: expected a JSON object: %v", err)
	}
	if rec == nil {
		return nil, errs.Invalidf("record: expected a JSON object, got null")
	}
	return t.ApplyRecord(rec)
}

// ApplyCSV turns every row of c into a feature vector, stored flat (row i
// at [i*Size():]). The label column is not needed. Errors name the file,
// line and column. Rows are transformed on every core.
func (t *Transform) ApplyCSV(ctx context.Context, c *CSV) ([]float32, error) {
	pos, err := t.headerPositions(c, false)
	if err != nil {
		return nil, err
	}
	f := t.newFrame(len(c.Rows))
	dst := make([]float32, len(c.Rows)*t.c.width)
	err = tableRows(ctx, f.n, func(lo, hi int) error {
		if err := t.loadCSV(f, c, pos, lo, hi); err != nil {
			return err
		}
		t.transformRows(f, lo, hi, dst)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// CSVLabels returns the class index of every row's label. An empty or
// unknown label is an Invalid error naming the line.
func (t *Transform) CSVLabels(c *CSV) ([]int32, error) {
	return csvLabels(c, t.Label, t.Classes)
}

func csvLabels(c *CSV, label string, classes []string) ([]int32, error) {
	if err := c.Require(label); err != nil {
		return nil, err
	}
	p := c.Index(label)
	idx := make(map[string]int32, len(classes))
	for i, cl := range classes {
		idx[cl] = int32(i)
	}
	out := make([]int32, len(c.Rows))
	for i, row := range c.Rows {
		v := strings.TrimSpace(row[p])
		if v == "" {
			return nil, errs.Invalidf("%s line %d, column %q: empty label", c.Name, c.Lines[i], label)
		}
		k, ok := idx[v]
		if !ok {
			return nil, errs.Invalidf("%s line %d, column %q: %q is not a class (expected %s)", c.Name, c.Lines[i], label, v, quoteList(classes))
		}
		out[i] = k
	}
	return out, nil
}

// MaxClasses is the most label classes a table may have when its classes
// are taken from the data.
const MaxClasses = 200

// labelClasses returns the spec's classes, or the sorted distinct label
// values of c (numerically when all are numbers).
func labelClasses(spec Spec, c *CSV) ([]string, error) {
	if len(spec.Classes) > 0 {
		return slices.Clone(spec.Classes), nil
	}
	if err := c.Require(spec.Label); err != nil {
		return nil, err
	}
	p := c.Index(spec.Label)
	seen := map[string]bool{}
	var classes []string
	numeric := true
	for i, row := range c.Rows {
		v := strings.TrimSpace(row[p])
		if v == "" {
			return nil, errs.Invalidf("%s line %d, column %q: empty label", c.Name, c.Lines[i], spec.Label)
		}
		if !seen[v] {
			seen[v] = true
			classes = append(classes, v)
			if _, ok := parseNumber(v); !ok {
				numeric = false
			}
		}
	}
	if len(classes) < 2 {
		return nil, errs.Invalidf("%s: label column %q has %d distinct value(s): expected at least two classes", c.Name, spec.Label, len(classes))
	}
	if len(classes) > MaxClasses {
		return nil, errs.Invalidf("%s: label column %q has %d distinct values: table models are classifiers of at most %d classes (is it a quantity to predict?)", c.Name, spec.Label, len(classes), MaxClasses)
	}
	sort.Slice(classes, func(a, b int) bool {
		if numeric {
			x, _ := parseNumber(classes[a])
			y, _ := parseNumber(classes[b])
			if x != y {
				return x < y
			}
		}
		return classes[a] < classes[b]
	})
	return classes, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// FitTransform fits spec on the rows of c listed in train (nil means
// every row): imputation fills, one-hot categories and standardisation use
// those rows only. Errors are Invalid and name the file, line and column.
func FitTransform(ctx context.Context, spec Spec, c *CSV, train []int) (*Transform, error) {
	t, _, err := fitCSV(ctx, spec, c, train, false)
	return t, err
}

// fitCSV fits spec on the train rows of c and, when encode is set, also
// returns the feature vectors of every row (flat), as ApplyCSV would.
func fitCSV(ctx context.Context, spec Spec, c *CSV, train []int, encode bool) (*Transform, []float32, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	classes, err := labelClasses(spec, c)
	if err != nil {
		return nil, nil, err
	}
	t := &Transform{Version: TransformVersion, Label: spec.Label, Classes: classes, ID: spec.ID, Features: spec.Features}
	for _, col := range spec.Columns {
		t.Columns = append(t.Columns, FittedColumn{ColumnSpec: col})
	}
	// Compile with empty statistics to get indices; categories come later.
	t.c.unfitted = true
	err = t.compile()
	t.c.unfitted = false
	if err != nil {
		return nil, nil, err
	}
	pos, err := t.headerPositions(c, true)
	if err != nil {
		return nil, nil, err
	}
	if train == nil {
		train = make([]int, len(c.Rows))
		for i := range train {
			train[i] = i
		}
	}
	if len(train) == 0 {
		return nil, nil, errs.Invalidf("%s: no rows to fit the transform on", c.Name)
	}
	f := t.newFrame(len(c.Rows))
	err = tableRows(ctx, f.n, func(lo, hi int) error {
		if err := t.loadCSV(f, c, pos, lo, hi); err != nil {
			return err
		}
		t.derive(f, lo, hi)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	features := map[string]bool{}
	for _, name := range spec.Features {
		features[name] = true
	}
	var labels []int32
	for _, col := range spec.Columns {
		if features[col.Name] && col.encoding() == EncodeTarget && col.Type == Category {
			if labels, err = csvLabels(c, spec.Label, classes); err != nil {
				return nil, nil, err
			}
			break
		}
	}
	for j := range t.Columns {
		fitColumn(&t.Columns[j], f, j, t.c.by[j], train)
		t.impute(f, j, 0, f.n)
		if features[t.Columns[j].Name] {
			fitEncoding(&t.Columns[j], f, j, train, labels, len(classes))
		}
	}
	t.FeatureNames = nil
	if err := t.compile(); err != nil {
		return nil, nil, err
	}
	if !encode {
		return t, nil, nil
	}
	out := make([]float32, f.n*t.c.width)
	err = tableRows(ctx, f.n, func(lo, hi int) error {
		t.encode(f, lo, hi, out)
		return nil
	})
	if err == nil {
		t.encodeTrainTargets(f, train, labels, out)
	}
	return t, out, err
}

// encodeTrainTargets rewrites the target-encoded features of the train rows
// in out out of fold: the train rows are dealt into TargetEncoding.Folds
// folds (seeded) and each row is encoded from the rows of the other folds
// only, so no train row sees its own label through a feature, and rows of
// one fold share one encoding per value whatever their labels. (Leaving
// just the row out instead leaks: its value (S-y)/(n-1) falls as its own
// label y rises, which trees learn.) Rows outside train keep the encoding
// from every train row, as a served record gets.
func (t *Transform) encodeTrainTargets(f *tableFrame, train []int, labels []int32, out []float32) {
	w := t.c.width
	for k, j := range t.c.feat {
		col := &t.Columns[j]
		if col.Type != Category || col.encoding() != EncodeTarget {
			continue
		}
		off, cats, set := t.c.offset[k], t.c.cats[j], col.targetSettings()
		// The prior a row is pulled toward leaves out the same rows its
		// counts do, so not even the prior carries the row's own label.
		classRows := make([]int, len(t.Classes))
		for _, i := range train {
			classRows[labels[i]]++
		}
		prior := make([]float64, len(t.Classes))
		priorWithout := func(left []int, n int) []float64 {
			for c := range prior {
				prior[c] = col.TargetPrior[c]
				if n > 0 {
					prior[c] = float64(classRows[c]-left[c]) / float64(n)
				}
			}
			return prior
		}
		// Counts per fold; a row's encoding uses the totals less its fold's.
		fold := targetFolds(len(train), set.Folds)
		perFold := make([][][]int, set.Folds)
		foldClass := make([][]int, set.Folds)
		for q := range perFold {
			perFold[q] = make([][]int, len(col.Categories))
			foldClass[q] = make([]int, len(t.Classes))
		}
		for r, i := range train {
			foldClass[fold[r]][labels[i]]++
		}
		foldPrior := make([][]float64, set.Folds)
		for q := range foldPrior {
			n := len(train)
			for _, v := range foldClass[q] {
				n -= v
			}
			foldPrior[q] = slices.Clone(priorWithout(foldClass[q], n))
		}
		for r, i := range train {
			s, ok := cats[f.str[j][i]]
			if !ok {
				continue
			}
			fc := perFold[fold[r]]
			if fc[s] == nil {
				fc[s] = make([]int, len(t.Classes))
			}
			fc[s][labels[i]]++
		}
		counts := make([]int, len(t.Classes))
		for r, i := range train {
			s, ok := cats[f.str[j][i]]
			if !ok {
				writeTargetRates(out[i*w+off:], nil, foldPrior[fold[r]], set.Smoothing)
				continue
			}
			for c := range counts {
				counts[c] = col.TargetCounts[s][c] - perFold[fold[r]][s][c]
			}
			writeTargetRates(out[i*w+off:], counts, foldPrior[fold[r]], set.Smoothing)
		}
	}
}

// targetFolds assigns n train rows to k folds of near-equal size, shuffled
// with a fixed seed so the assignment does not follow the file's order.
func targetFolds(n, k int) []int {
	fold := make([]int, n)
	for r := range fold {
		fold[r] = r % k
	}
	rng := rand.New(rand.NewPCG(0x7a26, uint64(n)))
	rng.Shuffle(n, func(a, b int) { fold[a], fold[b] = fold[b], fold[a] })
	return fold
}

// fitColumn fits the imputation of column j on the train rows.
func fitColumn(col *FittedColumn, f *tableFrame, j, by int, train []int) {
	col.Missing = 0
	for _, i := range train {
		if col.Type.numeric() && math.IsNaN(f.num[j][i]) || !col.Type.numeric() && f.str[j][i] == "" {
			col.Missing++
		}
	}
	strategy := col.Impute.Strategy
	switch {
	case col.Type.numeric():
		if strategy == "" {
			strategy = ImputeMedian
			if col.Type == Boolean {
				strategy = ImputeMode
			}
		}
		if strategy == ImputeConstant {
			col.FillNumber, _ = parseCell(col.Type, col.Impute.Value)
			return
		}
		var all []float64
		groups := map[string][]float64{}
		for _, i := range train {
			v := f.num[j][i]
			if math.IsNaN(v) {
				continue
			}
			all = append(all, v)
			if by >= 0 {
				groups[f.str[by][i]] = append(groups[f.str[by][i]], v)
			}
		}
		col.Range = nil
		if len(all) > 0 && col.Derive == nil && col.Type != Boolean {
			col.Range = []float64{slices.Min(all), slices.Max(all)}
		}
		col.FillNumber = numberStat(strategy, all)
		if by >= 0 {
			col.FillNumberBy = make(map[string]float64, len(groups))
			for g, vs := range groups {
				col.FillNumberBy[g] = numberStat(strategy, vs)
			}
		}
	case col.Type == Category:
		if strategy == ImputeConstant {
			col.FillCategory = strings.TrimSpace(col.Impute.Value)
			return
		}
		var all []string
		groups := map[string][]string{}
		for _, i := range train {
			v := f.str[j][i]
			if v == "" {
				continue
			}
			all = append(all, v)
			if by >= 0 {
				groups[f.str[by][i]] = append(groups[f.str[by][i]], v)
			}
		}
		col.FillCategory = modeString(all)
		if by >= 0 {
			col.FillCategoryBy = make(map[string]string, len(groups))
			for g, vs := range groups {
				col.FillCategoryBy[g] = modeString(vs)
			}
		}
	}
}

// fitEncoding fits the categories (with their frequencies or label counts)
// or the standardisation of feature column j on the (imputed) train rows.
// labels are every row's class index, needed for EncodeTarget only.
func fitEncoding(col *FittedColumn, f *tableFrame, j int, train []int, labels []int32, classes int) {
	if col.Type == Category {
		seen := map[string]bool{}
		for _, i := range train {
			if v := f.str[j][i]; v != "" && !seen[v] {
				seen[v] = true
				col.Categories = append(col.Categories, v)
			}
		}
		sort.Strings(col.Categories)
		index := make(map[string]int, len(col.Categories))
		for k, v := range col.Categories {
			index[v] = k
		}
		switch col.encoding() {
		case EncodeFrequency:
			col.Frequency = make([]float64, len(col.Categories))
			for _, i := range train {
				if k, ok := index[f.str[j][i]]; ok {
					col.Frequency[k]++
				}
			}
			for k := range col.Frequency {
				col.Frequency[k] /= float64(len(train))
			}
		case EncodeTarget:
			col.TargetCounts = make([][]int, len(col.Categories))
			for k := range col.TargetCounts {
				col.TargetCounts[k] = make([]int, classes)
			}
			col.TargetPrior = make([]float64, classes)
			for _, i := range train {
				col.TargetPrior[labels[i]]++
				if k, ok := index[f.str[j][i]]; ok {
					col.TargetCounts[k][labels[i]]++
				}
			}
			for c := range col.TargetPrior {
				col.TargetPrior[c] /= float64(len(train))
			}
		}
		return
	}
	if col.Scale == ScaleNone || col.Type == Boolean {
		return
	}
	var sum float64
	for _, i := range train {
		sum += f.num[j][i]
	}
	mean := sum / float64(len(train))
	var ss float64
	for _, i := range train {
		d := f.num[j][i] - mean
		ss += d * d
	}
	col.Mean = mean
	col.Std = math.Sqrt(ss / float64(len(train)))
	if col.Std < 1e-12 {
		col.Std = 1
	}
}

// numberStat returns the median, mean or mode of vs; 0 when vs is empty.
func numberStat(strategy string, vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	switch strategy {
	case ImputeMean:
		var s float64
		for _, v := range vs {
			s += v
		}
		return s / float64(len(vs))
	case ImputeMode:
		count := map[float64]int{}
		best, bestN := 0.0, 0
		for _, v := range vs {
			count[v]++
		}
		for v, n := range count {
			if n > bestN || (n == bestN && v < best) {
				best, bestN = v, n
			}
		}
		return best
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// modeString returns the most frequent value, the smallest on ties; "" when empty.
func modeString(vs []string) string {
	count := map[string]int{}
	for _, v := range vs {
		count[v]++
	}
	best, bestN := "", 0
	for v, n := range count {
		if n > bestN || (n == bestN && v < best) {
			best, bestN = v, n
		}
	}
	return best
}

// tableRows runs fn over chunks of [0, n) on every core. It returns the
// error of the earliest failing chunk, so errors are deterministic.
func tableRows(ctx context.Context, n int, fn func(lo, hi int) error) error {
	workers := runtime.GOMAXPROCS(0)
	chunk := max(2048, (n+workers-1)/workers)
	chunks := (n + chunk - 1) / chunk
	if chunks <= 1 {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(0, n)
	}
	errsBy := make([]error, chunks)
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for k := range chunks {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				errsBy[k] = err
				return
			}
			errsBy[k] = fn(k*chunk, min(n, (k+1)*chunk))
		}()
	}
	wg.Wait()
	for _, err := range errsBy {
		if err != nil {
			return err
		}
	}
	return nil
}
