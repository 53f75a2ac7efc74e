package table

import (
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Inference limits: a text column is a one-hot category when it has at most
// maxOneHotCategories distinct values; with more it is a high-cardinality
// category (target encoded) while its values repeat (at most half of its
// non-empty cells are distinct), else text-like and dropped.
const (
	maxOneHotCategories = 50
	// mostlyNumeric: a column whose non-empty cells are numbers but for at
	// most this share (and at most maxStrayCells of them) is a number column
	// with a typo, reported as an error rather than inferred as text.
	mostlyNumeric = 0.02
	maxStrayCells = 5
)

// Drop is the type a schema gives a column to leave it out.
const Drop = "drop"

// Schema overrides what inference decides about some columns of a CSV: the
// small YAML file of 'cairn data prepare table --schema' and the --column
// and --drop flags. Columns not named are inferred.
type Schema struct {
	// Target is the label column (the --target flag wins over it).
	Target string `json:"target,omitempty"`
	// ID names a column kept as per-row metadata, never a feature.
	ID string `json:"id,omitempty"`
	// Columns maps a column to its override.
	Columns map[string]ColumnOverride `json:"columns,omitempty"`
}

// ColumnOverride fixes one column: its type (a ColumnType or Drop), the
// encoding of a category and how missing values are imputed.
type ColumnOverride struct {
	Type   string `json:"type,omitempty"`
	Encode string `json:"encode,omitempty"`
	Impute string `json:"impute,omitempty"`
}

// Dropped is a column inference left out, and why.
type Dropped struct {
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// Validate checks the overrides' types, encodings and imputations.
func (s Schema) Validate() error {
	for _, name := range slices.Sorted(maps.Keys(s.Columns)) {
		o := s.Columns[name]
		switch ColumnType(o.Type) {
		case "", Number, Category, Boolean, Date, Text, Drop:
		default:
			return errs.Invalidf("schema: column %q: type %q: expected one of %s", name, o.Type,
				quoteList([]string{string(Number), string(Category), string(Boolean), string(Date), string(Text), Drop}))
		}
		if o.Encode != "" && o.Encode != EncodeOneHot && o.Encode != EncodeFrequency && o.Encode != EncodeTarget {
			return errs.Invalidf("schema: column %q: encode %q: expected %q, %q or %q", name, o.Encode, EncodeOneHot, EncodeFrequency, EncodeTarget)
		}
		if o.Encode != "" && o.Type != "" && o.Type != string(Category) {
			return errs.Invalidf("schema: column %q: encode applies to categories only, not %s", name, o.Type)
		}
		if o.Impute != "" && !slices.Contains([]string{ImputeMedian, ImputeMean, ImputeMode}, o.Impute) {
			return errs.Invalidf("schema: column %q: impute %q: expected %q, %q or %q", name, o.Impute, ImputeMedian, ImputeMean, ImputeMode)
		}
		if name == s.ID && o.Type != "" {
			return errs.Invalidf("schema: column %q is the id: it has no type", name)
		}
	}
	return nil
}

// idName matches column names that say they are an id: "id", "user_id",
// "PassengerId", "order-ID".
var idName = regexp.MustCompile(`(?i)^id$|[_\s-]id$|[a-z]Id$|[a-z]ID$`)

// columnStats summarises a column's cells for inference.
type columnStats struct {
	filled, distinct     int
	numbers, bools, ints int // cells that parse as each
	dates                int
	firstNonNumber       int // row index of the first non-number cell, -1 when none
	consecutive          bool
	boolValues           [2]bool // which of false and true the boolean cells hold
}

func statsOf(c *CSV, j int) columnStats {
	st := columnStats{firstNonNumber: -1}
	seen := map[string]struct{}{}
	lo, hi := 0.0, 0.0
	datesOK := true
	for i, row := range c.Rows {
		s := strings.TrimSpace(row[j])
		if s == "" {
			continue
		}
		st.filled++
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
		}
		if st.bools == st.filled-1 { // booleans only while every cell was one
			if v, ok := parseBool(s); ok {
				st.bools++
				st.boolValues[int(v)] = true
			}
		}
		if v, ok := parseNumber(s); ok {
			st.numbers++
			if v == float64(int64(v)) && !strings.ContainsAny(s, ".eE") {
				st.ints++
			}
			if st.numbers == 1 || v < lo {
				lo = v
			}
			if st.numbers == 1 || v > hi {
				hi = v
			}
		} else if st.firstNonNumber < 0 {
			st.firstNonNumber = i
		}
		if datesOK { // parse dates only until one cell is not a date
			if _, ok := parseDate(s); ok {
				st.dates++
			} else {
				datesOK = false
			}
		}
	}
	st.distinct = len(seen)
	st.consecutive = st.ints == st.filled && st.distinct == st.filled && hi-lo+1 == float64(st.distinct)
	return st
}

// InferSpec declares the columns of c for training a classifier of label:
// each column's type is inferred (or taken from the schema), columns that
// cannot be features (empty, constant, ids, free text) are dropped and
// reported, and every other column becomes a feature. The rules, in order:
// a column empty in every row or with one value is dropped; two values that
// read as booleans make a boolean; numbers make a number, except distinct
// whole numbers in every row that count up by one or sit in a column named
// like an id, which are the row id and dropped; ISO dates make a date
// with its year, month and weekday as extra features; other text is a
// category, one-hot encoded up to 50 values and target encoded (out of
// fold: see EncodeTarget) above that while its values repeat, and otherwise
// text-like and dropped. A column of numbers with a few cells of text is an
// error naming the first such cell: fix it, or give the column a type.
func InferSpec(c *CSV, label string, schema Schema) (Spec, []Dropped, error) {
	if err := schema.Validate(); err != nil {
		return Spec{}, nil, err
	}
	if label == "" {
		label = schema.Target
	}
	if label == "" {
		return Spec{}, nil, errs.Invalidf("%s: no target column: give --target (or target: in the schema)", c.Name)
	}
	var names []string
	for name := range schema.Columns {
		names = append(names, name)
	}
	if schema.ID != "" {
		names = append(names, schema.ID)
	}
	if err := c.Require(append([]string{label}, names...)...); err != nil {
		return Spec{}, nil, err
	}
	if _, err := labelClasses(Spec{Label: label}, c); err != nil {
		return Spec{}, nil, err // a missing, empty or constant target first
	}
	if _, ok := schema.Columns[label]; ok {
		return Spec{}, nil, errs.Invalidf("schema: column %q is the target: it has no type", label)
	}
	s := Spec{Label: label, ID: schema.ID}
	var dropped []Dropped
	drop := func(col, why string, args ...any) { dropped = append(dropped, Dropped{col, fmt.Sprintf(why, args...)}) }
	// Column statistics are independent: take them on every core.
	stats := make([]columnStats, len(c.Header))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for j, h := range c.Header {
		if h == label || h == schema.ID || schema.Columns[h].Type == Drop {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			stats[j] = statsOf(c, j)
		}()
	}
	wg.Wait()
	for j, h := range c.Header {
		if h == label || h == schema.ID {
			continue
		}
		o := schema.Columns[h]
		if o.Type == Drop {
			drop(h, "dropped by the schema")
			continue
		}
		st := stats[j]
		typ := ColumnType(o.Type)
		if typ == "" {
			var reason string
			var err error
			if typ, reason, err = inferType(c, j, st); err != nil {
				return Spec{}, nil, err
			}
			if reason != "" {
				if strings.HasPrefix(reason, "an id") && s.ID == "" && st.filled == len(c.Rows) {
					s.ID = h
				}
				drop(h, "%s", reason)
				continue
			}
		}
		col := ColumnSpec{Name: h, Type: typ, Encode: o.Encode}
		if o.Impute != "" {
			if o.Impute != ImputeMode && typ != Number && typ != Date {
				return Spec{}, nil, errs.Invalidf("schema: column %q: impute %q needs a number or date column, not %s", h, o.Impute, typ)
			}
			col.Impute.Strategy = o.Impute
		}
		switch typ {
		case Text:
			drop(h, "text: not a feature")
			continue
		case Category:
			if col.Encode == "" && st.distinct > maxOneHotCategories {
				col.Encode = EncodeTarget
			}
		}
		s.Columns = append(s.Columns, col)
		s.Features = append(s.Features, h)
		if typ == Date {
			for _, part := range []string{"year", "month", "weekday"} {
				name := h + "." + part
				if c.Index(name) >= 0 {
					continue
				}
				s.Columns = append(s.Columns, ColumnSpec{Name: name, Type: Number, Derive: &Derive{Op: DeriveDatePart, Inputs: []string{h}, Part: part}})
				s.Features = append(s.Features, name)
			}
		}
	}
	if len(s.Features) == 0 {
		return s, dropped, errs.Invalidf("%s: no column besides the target %q can be a feature (dropped: %s)", c.Name, label, droppedList(dropped))
	}
	return s, dropped, nil
}

// inferType returns the type inference gives column j, or why it is
// dropped (a reason starting "an id" marks the row id).
func inferType(c *CSV, j int, st columnStats) (ColumnType, string, error) {
	switch {
	case st.filled == 0:
		return "", "empty in every row", nil
	case st.distinct == 1:
		return "", "one value in every row", nil
	case st.bools == st.filled && st.boolValues[0] && st.boolValues[1]:
		return Boolean, "", nil
	case st.numbers == st.filled:
		if st.ints == st.filled && st.distinct == st.filled && st.filled == len(c.Rows) && (st.consecutive || idName.MatchString(c.Header[j])) {
			return "", "an id: a distinct whole number in every row", nil
		}
		return Number, "", nil
	case st.dates == st.filled:
		return Date, "", nil
	case st.numbers > 0 && st.filled-st.numbers <= maxStrayCells && float64(st.filled-st.numbers) <= mostlyNumeric*float64(st.filled):
		i := st.firstNonNumber
		return "", "", errs.Invalidf("%s line %d, column %q: %q is not a number, yet %d of the column's %d cells are: fix the cell, or give the column a type (--column %s=category)",
			c.Name, c.Lines[i], c.Header[j], clip(strings.TrimSpace(c.Rows[i][j])), st.numbers, st.filled, c.Header[j])
	case st.distinct <= maxOneHotCategories && 2*st.distinct <= st.filled:
		return Category, "", nil
	case 2*st.distinct <= st.filled:
		return Category, "", nil // high-cardinality: target encoded by the caller
	case st.distinct == st.filled && idName.MatchString(c.Header[j]):
		return "", "an id: a distinct value in every row", nil
	}
	return "", fmt.Sprintf("text-like: %d distinct values in %d rows (free text or an id)", st.distinct, st.filled), nil
}

func droppedList(d []Dropped) string {
	if len(d) == 0 {
		return "none"
	}
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = strconv.Quote(x.Column) + " " + x.Reason
	}
	return strings.Join(parts, "; ")
}
