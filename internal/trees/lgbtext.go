package trees

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// modelVersion is the format version written. LightGBM 4 writes v4, whose
// tree blocks are v3's; github.com/dmitryikh/leaves reads only v2 and v3.
const modelVersion = "v3"

// WriteTo writes the model in LightGBM's text model format (what
// Booster.save_model writes), which LightGBM, its Python package and
// github.com/dmitryikh/leaves load. A forest is written with
// average_output and without an objective line, so that every reader
// returns the average of its leaf values (class frequencies) untransformed.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	var trees []string
	for i, t := range m.Trees {
		trees = append(trees, "Tree="+strconv.Itoa(i)+"\n"+t.text()+"\n\n")
	}
	var b bytes.Buffer
	b.WriteString("tree\nversion=" + modelVersion + "\n")
	fmt.Fprintf(&b, "num_class=%d\nnum_tree_per_iteration=%d\nlabel_index=0\nmax_feature_idx=%d\n", m.NumClass, m.NumClass, len(m.FeatureNames)-1)
	if m.objectiveLine != "" {
		b.WriteString("objective=" + m.objectiveLine + "\n")
	}
	if m.Forest {
		b.WriteString("average_output\n")
	}
	b.WriteString("feature_names=" + strings.Join(m.FeatureNames, " ") + "\n")
	b.WriteString("feature_infos=" + strings.Join(m.featureInfos(), " ") + "\n")
	sizes := make([]string, len(trees))
	for i, t := range trees {
		sizes[i] = strconv.Itoa(len(t))
	}
	b.WriteString("tree_sizes=" + strings.Join(sizes, " ") + "\n\n")
	for _, t := range trees {
		b.WriteString(t)
	}
	b.WriteString("end of trees\n\nfeature_importances:\n")
	counts := m.SplitCounts()
	order := make([]int, len(counts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(counts[b], counts[a]) })
	for _, f := range order {
		if counts[f] > 0 {
			fmt.Fprintf(&b, "%s=%d\n", m.FeatureNames[f], counts[f])
		}
	}
	b.WriteString("\nparameters:\n")
	for _, p := range m.Params {
		fmt.Fprintf(&b, "[%s: %s]\n", p.Name, p.Value)
	}
	b.WriteString("\nend of parameters\n")
	n, err := w.Write(b.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("write lightgbm model: %w", err)
	}
	return int64(n), nil
}

// SplitCounts returns, per feature, how many splits use it (LightGBM's
// "split" feature importance: splits with a positive gain).
func (m *Model) SplitCounts() []int {
	counts := make([]int, len(m.FeatureNames))
	for _, t := range m.Trees {
		for i, f := range t.SplitFeature {
			if t.SplitGain[i] > 0 {
				counts[f]++
			}
		}
	}
	return counts
}

func (m *Model) featureInfos() []string {
	if len(m.FeatureInfos) == len(m.FeatureNames) {
		return m.FeatureInfos
	}
	infos := make([]string, len(m.FeatureNames))
	for i := range infos {
		infos[i] = "none"
	}
	return infos
}

// text is the tree's block, as LightGBM's Tree::ToString writes it.
func (t *Tree) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "num_leaves=%d\nnum_cat=%d\n", t.NumLeaves, max(0, len(t.CatBoundaries)-1))
	ints := func(name string, v []int) {
		b.WriteString(name + "=")
		for i, x := range v {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(x))
		}
		b.WriteByte('\n')
	}
	floats := func(name string, v []float64) {
		b.WriteString(name + "=")
		for i, x := range v {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	dt := make([]int, len(t.DecisionType))
	for i, d := range t.DecisionType {
		dt[i] = int(d)
	}
	ints("split_feature", t.SplitFeature)
	floats("split_gain", t.SplitGain)
	floats("threshold", t.Threshold)
	ints("decision_type", dt)
	ints("left_child", t.LeftChild)
	ints("right_child", t.RightChild)
	floats("leaf_value", t.LeafValue)
	floats("leaf_weight", t.LeafWeight)
	ints("leaf_count", t.LeafCount)
	floats("internal_value", t.InternalValue)
	floats("internal_weight", t.InternalWeight)
	ints("internal_count", t.InternalCount)
	if len(t.CatBoundaries) > 1 {
		ints("cat_boundaries", t.CatBoundaries)
		ct := make([]int, len(t.CatThreshold))
		for i, c := range t.CatThreshold {
			ct[i] = int(c)
		}
		ints("cat_threshold", ct)
	}
	b.WriteString("is_linear=0\nshrinkage=" + strconv.FormatFloat(t.Shrinkage, 'g', -1, 64) + "\n")
	return b.String()
}

// ReadModel reads a model in LightGBM's text format (versions v2 to v4),
// written by WriteTo or by LightGBM itself, numeric and categorical splits
// alike; linear trees are not supported. A malformed file is an Invalid
// error naming the line and the field.
func ReadModel(r io.Reader) (*Model, error) {
	p := &parser{s: bufio.NewScanner(r)}
	p.s.Buffer(make([]byte, 64<<10), 1<<30)
	m, err := p.model()
	if err != nil {
		return nil, err
	}
	if err := m.setTransform(); err != nil {
		return nil, err
	}
	m.compile()
	return m, nil
}

// parser reads a model file line by line.
type parser struct {
	s    *bufio.Scanner
	line int
	text string
	eof  bool
	err  error
}

// next advances to the next line; it reports false at the end.
func (p *parser) next() bool {
	if p.eof {
		return false
	}
	if !p.s.Scan() {
		p.eof = true
		if err := p.s.Err(); err != nil {
			p.err = errs.Invalidf("lightgbm model: line %d: %v", p.line+1, err)
		}
		return false
	}
	p.line++
	p.text = strings.TrimRight(p.s.Text(), "\r")
	return true
}

func (p *parser) errorf(field, format string, args ...any) error {
	return errs.Invalidf("lightgbm model: line %d: %s: %s", p.line, field, fmt.Sprintf(format, args...))
}

// keyValue splits a "key=value" line; a bare key has an empty value.
func keyValue(line string) (string, string) {
	k, v, _ := strings.Cut(line, "=")
	return k, v
}

func (p *parser) model() (*Model, error) {
	if !p.next() || strings.TrimSpace(p.text) != "tree" {
		if p.err != nil {
			return nil, p.err
		}
		return nil, p.errorf("header", "want the line \"tree\"")
	}
	type entry struct {
		value string
		line  int
	}
	header := map[string]entry{}
	for p.next() {
		if p.text == "" {
			continue
		}
		if strings.HasPrefix(p.text, "Tree=") || p.text == "end of trees" {
			break
		}
		k, v := keyValue(p.text)
		if k != "feature_names" && strings.Contains(v, "=") {
			return nil, p.errorf(k, "more than one '='")
		}
		header[k] = entry{v, p.line}
	}
	if p.err != nil {
		return nil, p.err
	}
	headerInt := func(key string, required bool, def int) (int, error) {
		e, ok := header[key]
		if !ok {
			if required {
				return 0, errs.Invalidf("lightgbm model: header: no %s", key)
			}
			return def, nil
		}
		v, err := strconv.Atoi(strings.TrimSpace(e.value))
		if err != nil {
			return 0, errs.Invalidf("lightgbm model: line %d: %s: %q is not an integer", e.line, key, e.value)
		}
		return v, nil
	}
	if e, ok := header["version"]; ok && e.value != "v2" && e.value != "v3" && e.value != "v4" {
		return nil, errs.Invalidf("lightgbm model: line %d: version: %q, want v2, v3 or v4", e.line, e.value)
	}
	numClass, err := headerInt("num_class", true, 0)
	if err != nil {
		return nil, err
	}
	perIter, err := headerInt("num_tree_per_iteration", false, numClass)
	if err != nil {
		return nil, err
	}
	maxFeature, err := headerInt("max_feature_idx", true, 0)
	if err != nil {
		return nil, err
	}
	if numClass < 1 || perIter != numClass {
		return nil, errs.Invalidf("lightgbm model: header: num_class %d and num_tree_per_iteration %d: want the same, at least 1", numClass, perIter)
	}
	names, ok := header["feature_names"]
	if !ok {
		return nil, errs.Invalidf("lightgbm model: header: no feature_names")
	}
	m := &Model{NumClass: numClass, FeatureNames: strings.Fields(names.value)}
	if maxFeature < 0 || len(m.FeatureNames) != maxFeature+1 {
		return nil, errs.Invalidf("lightgbm model: line %d: feature_names: %d names, max_feature_idx is %d", names.line, len(m.FeatureNames), maxFeature)
	}
	if e, ok := header["feature_infos"]; ok {
		m.FeatureInfos = strings.Fields(e.value)
		if len(m.FeatureInfos) != len(m.FeatureNames) {
			return nil, errs.Invalidf("lightgbm model: line %d: feature_infos: %d entries for %d features", e.line, len(m.FeatureInfos), len(m.FeatureNames))
		}
	}
	if e, ok := header["objective"]; ok {
		m.objectiveLine = strings.TrimSpace(e.value)
		name, _, _ := strings.Cut(m.objectiveLine, " ")
		m.Objective = Objective(name)
	}
	_, m.Forest = header["average_output"]

	// The trees.
	for !p.eof && p.text != "end of trees" {
		if p.text == "" {
			p.next()
			continue
		}
		k, v := keyValue(p.text)
		if k != "Tree" {
			return nil, p.errorf(k, "want Tree=%d or \"end of trees\"", len(m.Trees))
		}
		if v != strconv.Itoa(len(m.Trees)) {
			return nil, p.errorf("Tree", "%q, want %d", v, len(m.Trees))
		}
		t, err := p.tree(maxFeature)
		if err != nil {
			return nil, err
		}
		m.Trees = append(m.Trees, t)
	}
	if p.err != nil {
		return nil, p.err
	}
	if len(m.Trees) == 0 {
		return nil, errs.Invalidf("lightgbm model: no trees (no Tree=0 line)")
	}
	if len(m.Trees)%numClass != 0 {
		return nil, errs.Invalidf("lightgbm model: %d trees: want a positive multiple of num_class %d", len(m.Trees), numClass)
	}
	if e, ok := header["tree_sizes"]; ok && len(strings.Fields(e.value)) != len(m.Trees) {
		return nil, errs.Invalidf("lightgbm model: line %d: tree_sizes: %d sizes for %d trees", e.line, len(strings.Fields(e.value)), len(m.Trees))
	}

	// The parameters: kept for writing back; the objective of a forest
	// written without an objective line comes from them.
	inParams := false
	for p.next() {
		switch {
		case p.text == "parameters:":
			inParams = true
		case p.text == "end of parameters":
			inParams = false
		case inParams && strings.HasPrefix(p.text, "[") && strings.HasSuffix(p.text, "]"):
			k, v, ok := strings.Cut(p.text[1:len(p.text)-1], ": ")
			if !ok {
				k, v, _ = strings.Cut(p.text[1:len(p.text)-1], ":")
			}
			m.Params = append(m.Params, Param{k, v})
			if k == "objective" && m.Objective == "" {
				m.Objective = Objective(v)
			}
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return m, nil
}

// tree reads the block after a "Tree=" line, up to a blank line.
func (p *parser) tree(maxFeature int) (*Tree, error) {
	fields := map[string]int{} // field: its line
	values := map[string]string{}
	for p.next() && p.text != "" {
		if strings.HasPrefix(p.text, "Tree=") || p.text == "end of trees" {
			break
		}
		k, v := keyValue(p.text)
		if strings.Contains(v, "=") {
			return nil, p.errorf(k, "more than one '='")
		}
		if _, dup := fields[k]; dup {
			return nil, p.errorf(k, "given twice")
		}
		fields[k], values[k] = p.line, v
	}
	if p.err != nil {
		return nil, p.err
	}
	end := p.line
	fail := func(field, format string, args ...any) error {
		line, ok := fields[field]
		if !ok {
			line = end
		}
		return errs.Invalidf("lightgbm model: line %d: %s: %s", line, field, fmt.Sprintf(format, args...))
	}
	// list parses a field of n space-separated values; an absent field
	// is an error when required, n zeros otherwise.
	list := func(field string, n int, required bool, parse func(string) error) error {
		v, ok := values[field]
		if !ok {
			if required && n > 0 {
				return fail(field, "missing")
			}
			for range n {
				if err := parse("0"); err != nil {
					return fail(field, "%v", err)
				}
			}
			return nil
		}
		toks := strings.Fields(v)
		if len(toks) != n {
			return fail(field, "%d values, want %d", len(toks), n)
		}
		for i, s := range toks {
			if err := parse(s); err != nil {
				return fail(field, "value %d: %v", i, err)
			}
		}
		return nil
	}
	intsInto := func(dst *[]int, lo, hi int) func(string) error {
		return func(s string) error {
			v, err := strconv.Atoi(s)
			if err != nil {
				return fmt.Errorf("%q is not an integer", s)
			}
			if v < lo || v > hi {
				return fmt.Errorf("%d is outside %d..%d", v, lo, hi)
			}
			*dst = append(*dst, v)
			return nil
		}
	}
	floatsInto := func(dst *[]float64) func(string) error {
		return func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", s)
			}
			*dst = append(*dst, v)
			return nil
		}
	}
	one := func(field string) (string, bool) {
		v, ok := values[field]
		return strings.TrimSpace(v), ok
	}

	t := &Tree{}
	s, ok := one("num_leaves")
	if !ok {
		return nil, fail("num_leaves", "missing")
	}
	nl, err := strconv.Atoi(s)
	if err != nil || nl < 1 {
		return nil, fail("num_leaves", "%q: want an integer >= 1", s)
	}
	if v, ok := values["leaf_value"]; !ok || len(strings.Fields(v)) != nl {
		// Check the length first: num_leaves alone must not size anything.
		return nil, fail("leaf_value", "want %d values", nl)
	}
	t.NumLeaves = nl
	numCat := 0
	if s, ok := one("num_cat"); ok {
		if numCat, err = strconv.Atoi(s); err != nil || numCat < 0 || numCat > nl {
			return nil, fail("num_cat", "%q: want an integer in 0..num_leaves", s)
		}
	}
	if s, ok := one("is_linear"); ok && s != "0" {
		return nil, fail("is_linear", "%q: linear trees are not supported", s)
	}
	nn := nl - 1
	const big = math.MaxInt32
	var dts []int
	for _, f := range []struct {
		name  string
		n     int
		parse func(string) error
	}{
		{"split_feature", nn, intsInto(&t.SplitFeature, 0, maxFeature)},
		{"threshold", nn, floatsInto(&t.Threshold)},
		{"decision_type", nn, intsInto(&dts, 0, 255)},
		{"left_child", nn, intsInto(&t.LeftChild, -nl, max(0, nn-1))},
		{"right_child", nn, intsInto(&t.RightChild, -nl, max(0, nn-1))},
		{"leaf_value", nl, floatsInto(&t.LeafValue)},
	} {
		if err := list(f.name, f.n, true, f.parse); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name  string
		n     int
		parse func(string) error
	}{
		{"split_gain", nn, floatsInto(&t.SplitGain)},
		{"leaf_weight", nl, floatsInto(&t.LeafWeight)},
		{"leaf_count", nl, intsInto(&t.LeafCount, 0, big)},
		{"internal_value", nn, floatsInto(&t.InternalValue)},
		{"internal_weight", nn, floatsInto(&t.InternalWeight)},
		{"internal_count", nn, intsInto(&t.InternalCount, 0, big)},
	} {
		if err := list(f.name, f.n, false, f.parse); err != nil {
			return nil, err
		}
	}
	t.Shrinkage = 1
	if s, ok := one("shrinkage"); ok {
		if t.Shrinkage, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, fail("shrinkage", "%q is not a number", s)
		}
	}
	for _, d := range dts {
		t.DecisionType = append(t.DecisionType, uint8(d))
	}
	if numCat > 0 {
		v, ok := values["cat_boundaries"]
		if !ok {
			return nil, fail("cat_boundaries", "missing with num_cat %d", numCat)
		}
		if err := list("cat_boundaries", len(strings.Fields(v)), true, intsInto(&t.CatBoundaries, 0, big)); err != nil {
			return nil, err
		}
		if len(t.CatBoundaries) != numCat+1 || t.CatBoundaries[0] != 0 || !slices.IsSorted(t.CatBoundaries) {
			return nil, fail("cat_boundaries", "want %d non-decreasing offsets from 0", numCat+1)
		}
		v = values["cat_threshold"]
		var ct []int
		if err := list("cat_threshold", len(strings.Fields(v)), true, intsInto(&ct, 0, math.MaxUint32)); err != nil {
			return nil, err
		}
		if len(ct) != t.CatBoundaries[numCat] {
			return nil, fail("cat_threshold", "%d words, cat_boundaries ends at %d", len(ct), t.CatBoundaries[numCat])
		}
		for _, c := range ct {
			t.CatThreshold = append(t.CatThreshold, uint32(c))
		}
	}
	if err := t.check(numCat, fail); err != nil {
		return nil, err
	}
	return t, nil
}

// check verifies that the nodes form one tree: every child of node i is a
// later node (as LightGBM numbers them) or a leaf, and every node but the
// root and every leaf has exactly one parent.
func (t *Tree) check(numCat int, fail func(field, format string, args ...any) error) error {
	nn := t.NumLeaves - 1
	nodeSeen := make([]bool, nn)
	leafSeen := make([]bool, t.NumLeaves)
	for i := range nn {
		for _, c := range []struct {
			field string
			v     int
		}{{"left_child", t.LeftChild[i]}, {"right_child", t.RightChild[i]}} {
			switch {
			case c.v >= 0 && c.v <= i:
				return fail(c.field, "node %d points back to node %d", i, c.v)
			case c.v >= 0 && nodeSeen[c.v], c.v < 0 && leafSeen[^c.v]:
				return fail(c.field, "node %d: child %d has two parents", i, c.v)
			case c.v >= 0:
				nodeSeen[c.v] = true
			default:
				leafSeen[^c.v] = true
			}
		}
		dt := t.DecisionType[i]
		if (dt>>2)&3 == 3 {
			return fail("decision_type", "node %d: missing type 3 is not one of None, Zero, NaN", i)
		}
		if dt&decisionCategorical != 0 {
			thr := t.Threshold[i]
			if thr != math.Trunc(thr) || thr < 0 || int(thr) >= numCat {
				return fail("threshold", "node %d: category set %v, want 0..%d", i, thr, numCat-1)
			}
		}
	}
	for l, seen := range leafSeen {
		if !seen && nn > 0 {
			return fail("left_child", "leaf %d is not reachable", l)
		}
	}
	return nil
}

// setTransform sets the function from raw scores to outputs from the
// objective line, as LightGBM's ConvertOutput does: sigmoid (with its
// sigmoid parameter) for binary and one-vs-all, softmax for multiclass,
// exp for the log-link objectives, none otherwise.
func (m *Model) setTransform() error {
	m.transform = nil
	if m.objectiveLine == "" {
		return nil
	}
	fields := strings.Fields(m.objectiveLine)
	scale := 1.0
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, ":")
		switch k {
		case "sigmoid":
			s, err := strconv.ParseFloat(v, 64)
			if err != nil || !(s > 0) {
				return errs.Invalidf("lightgbm model: objective: sigmoid %q: want a number > 0", v)
			}
			scale = s
		case "num_class":
			if v != strconv.Itoa(m.NumClass) {
				return errs.Invalidf("lightgbm model: objective: num_class:%s, the header says %d", v, m.NumClass)
			}
		}
	}
	switch fields[0] {
	case "binary", "cross_entropy", "xentropy", "multiclassova", "multiclass_ova", "ova", "ovr":
		m.transform = sigmoid(scale)
	case "multiclass", "softmax":
		m.transform = softmax
	case "poisson", "gamma", "tweedie":
		m.transform = exponential
	}
	return nil
}
