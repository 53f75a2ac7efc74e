package tracking

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Entity kinds a filter clause or order-by key can name.
const (
	KindMetric    = "metric"
	KindParam     = "param"
	KindTag       = "tag"
	KindAttribute = "attribute"
	KindDataset   = "dataset"
)

// Clause is one comparison of a filter: Kind.Key Op Value.
type Clause struct {
	Kind string   // KindMetric, KindParam, ...
	Key  string   // canonical key; attributes are normalised (created -> start_time)
	Op   string   // = != > >= < <= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL
	Str  string   // string operand
	Num  float64  // numeric operand (metrics and numeric attributes)
	List []string // IN / NOT IN operand
}

// Filter is a conjunction of clauses; an empty filter matches everything.
type Filter []Clause

// OrderBy is one sort key.
type OrderBy struct {
	Kind string
	Key  string
	Desc bool
}

var kindPrefixes = map[string]string{
	"metric": KindMetric, "metrics": KindMetric,
	"param": KindParam, "params": KindParam, "parameter": KindParam, "parameters": KindParam,
	"tag": KindTag, "tags": KindTag,
	"attribute": KindAttribute, "attributes": KindAttribute, "attr": KindAttribute, "run": KindAttribute,
	"dataset": KindDataset, "datasets": KindDataset,
}

// Run attributes that filters and order-by may name, with their canonical names.
var runAttributes = map[string]string{
	"run_id": "run_id", "run_uuid": "run_id", "run_name": "run_name", "status": "status",
	"artifact_uri": "artifact_uri", "user_id": "user_id", "start_time": "start_time",
	"end_time": "end_time", "created": "start_time", "Created": "start_time",
}

// NumericRunAttribute reports whether a canonical run attribute is numeric.
func NumericRunAttribute(key string) bool { return key == "start_time" || key == "end_time" }

var datasetKeys = map[string]bool{"name": true, "digest": true, "context": true}

// Schema says which entity kinds and attributes a filter may use, and how.
type Schema struct {
	What       string            // "runs", "experiments", "model versions": used in messages
	Kinds      map[string]bool   // allowed kinds
	Attributes map[string]string // allowed attribute names -> canonical
	Numeric    map[string]bool   // canonical attributes compared as numbers
	ListAttrs  map[string]bool   // canonical attributes that accept IN / NOT IN
	// Bare names a key without a kind prefix resolves to KindAttribute; when
	// false such a name is an error.
	Bare bool
}

// RunSchema is the filter schema of runs/search.
var RunSchema = Schema{
	What:       "runs",
	Kinds:      map[string]bool{KindMetric: true, KindParam: true, KindTag: true, KindAttribute: true, KindDataset: true},
	Attributes: runAttributes,
	Numeric:    map[string]bool{"start_time": true, "end_time": true},
	ListAttrs:  map[string]bool{"run_id": true, "run_name": true, "status": true, "user_id": true, "artifact_uri": true},
	Bare:       true,
}

// ExperimentSchema is the filter schema of experiments/search.
var ExperimentSchema = Schema{
	What:  "experiments",
	Kinds: map[string]bool{KindTag: true, KindAttribute: true},
	Attributes: map[string]string{"name": "name", "experiment_id": "experiment_id",
		"creation_time": "creation_time", "last_update_time": "last_update_time"},
	Numeric:   map[string]bool{"creation_time": true, "last_update_time": true},
	ListAttrs: map[string]bool{"experiment_id": true, "name": true},
	Bare:      true,
}

// The limits of one search, beyond which the request is refused as invalid.
// MLflow documents none; these keep every filter the parser accepts within
// what SQLite runs (999 terms of INTERSECT are 500 too many, 32,766
// variables, 64 tables in a join, 50,000-byte LIKE patterns) with room to
// spare, and bound the work one request makes. A filter of the most clauses
// and values, over the most experiments, is tested against both databases.
const (
	// MaxFilterLength fits an IN list of MaxFilterValues 32-character run IDs.
	MaxFilterLength = 512 << 10
	// MaxFilterClauses caps the AND-joined comparisons of one filter.
	MaxFilterClauses = 100
	// MaxFilterValues caps the values of a filter's IN lists, together.
	MaxFilterValues = 10000
	// MaxPatternLength caps a LIKE or ILIKE pattern; no value stored is
	// longer than 8,000 characters.
	MaxPatternLength = 10000
	// MaxOrderBy caps the order_by keys of one search.
	MaxOrderBy = 20
	// MaxSearchExperiments caps the experiment_ids of one search.
	MaxSearchExperiments = 1000
)

// CheckSearchExperiments refuses a search of more than MaxSearchExperiments
// experiments. Errors: Invalid.
func CheckSearchExperiments(ids []string) error {
	if len(ids) > MaxSearchExperiments {
		return errs.Invalidf("a search may name at most %d experiment_ids, got %d", MaxSearchExperiments, len(ids))
	}
	return nil
}

// clip shortens a filter quoted in a message to its first 200 bytes.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}

// ParseFilter parses an MLflow search filter such as
// `metrics.acc > 0.9 AND params.lr = '0.01' AND tags."my tag" LIKE 'x%'`
// against schema s. Errors are errs.Invalid naming the offending clause.
func ParseFilter(s Schema, filter string) (Filter, error) {
	if len(filter) > MaxFilterLength {
		return nil, errs.Invalidf("invalid filter %q: it is %d bytes long, more than the %d allowed", clip(filter), len(filter), MaxFilterLength)
	}
	toks, err := lex(filter)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, schema: s, src: filter}
	var out Filter
	for p.more() {
		if len(out) == MaxFilterClauses {
			return nil, errs.Invalidf("invalid filter %q: more than the %d clauses allowed", clip(filter), MaxFilterClauses)
		}
		c, err := p.clause()
		if err != nil {
			return nil, errs.Invalidf("invalid filter %q: %s", clip(filter), err)
		}
		out = append(out, c)
		if !p.more() {
			break
		}
		if t := p.next(); !t.isWord("AND") {
			return nil, errs.Invalidf("invalid filter %q: expected AND at position %d, found %q (only AND joins clauses)", clip(filter), t.pos, t.text)
		}
		if !p.more() {
			return nil, errs.Invalidf("invalid filter %q: AND at the end has no clause after it", clip(filter))
		}
	}
	return out, nil
}

// ParseOrderBy parses order-by expressions such as "metrics.acc DESC" or
// "attributes.start_time" against schema s.
func ParseOrderBy(s Schema, exprs []string) ([]OrderBy, error) {
	if len(exprs) > MaxOrderBy {
		return nil, errs.Invalidf("invalid order_by: %d keys, more than the %d allowed", len(exprs), MaxOrderBy)
	}
	var out []OrderBy
	for _, e := range exprs {
		if len(e) > MaxFilterLength {
			return nil, errs.Invalidf("invalid order_by %q: it is %d bytes long, more than the %d allowed", clip(e), len(e), MaxFilterLength)
		}
		toks, err := lex(e)
		if err != nil {
			return nil, errs.Invalidf("invalid order_by %q: %s", clip(e), errs.MessageOf(err))
		}
		if len(toks) == 0 {
			return nil, errs.Invalidf("invalid order_by %q: expected <key> [ASC|DESC]", clip(e))
		}
		p := &parser{toks: toks, schema: s, src: e}
		kind, key, err := p.identifier()
		if err != nil {
			return nil, errs.Invalidf("invalid order_by %q: %s", clip(e), err)
		}
		if kind == KindDataset {
			return nil, errs.Invalidf("invalid order_by %q: datasets cannot be sorted on", clip(e))
		}
		ob := OrderBy{Kind: kind, Key: key}
		if p.more() {
			t := p.next()
			switch {
			case t.isWord("DESC"):
				ob.Desc = true
			case t.isWord("ASC"):
			default:
				return nil, errs.Invalidf("invalid order_by %q: expected ASC or DESC, found %q", clip(e), t.text)
			}
		}
		if p.more() {
			return nil, errs.Invalidf("invalid order_by %q: expected <key> [ASC|DESC], found more after it", clip(e))
		}
		out = append(out, ob)
	}
	return out, nil
}

type tokKind int

const (
	tWord   tokKind = iota // bare identifier or keyword or number
	tQuoted                // 'single' or "double" quoted string
	tBack                  // `backticked`
	tOp                    // = != <> > >= < <=
	tLParen
	tRParen
	tComma
)

type token struct {
	kind  tokKind
	text  string // unquoted text
	quote byte
	pos   int
}

func (t token) isWord(w string) bool { return t.kind == tWord && strings.EqualFold(t.text, w) }

// maxTokens bounds the tokens lex makes, well above what a filter within
// the clause and value limits needs (a clause takes under 10, a value 2).
const maxTokens = 4 * (10*MaxFilterClauses + 2*MaxFilterValues)

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		if len(toks) > maxTokens {
			return nil, errs.Invalidf("invalid filter %q: more than %d terms, beyond the %d clauses and %d IN list values allowed",
				clip(s), maxTokens, MaxFilterClauses, MaxFilterValues)
		}
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c && c != '`' { // doubled quote escapes itself
						b.WriteByte(c)
						j++
						continue
					}
					break
				}
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == c || s[j+1] == '\\') {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, errs.Invalidf("invalid filter %q: unterminated quote %c at position %d", clip(s), c, i)
			}
			k := tQuoted
			if c == '`' {
				k = tBack
			}
			toks = append(toks, token{kind: k, text: b.String(), quote: c, pos: i})
			i = j + 1
		case c == '(':
			toks = append(toks, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, text: ",", pos: i})
			i++
		case c == '=' || c == '!' || c == '<' || c == '>':
			j := i + 1
			if j < len(s) && (s[j] == '=' || (c == '<' && s[j] == '>')) {
				j++
			}
			op := s[i:j]
			if op == "!" {
				return nil, errs.Invalidf("invalid filter %q: '!' at position %d must be followed by '='", clip(s), i)
			}
			if op == "==" {
				op = "="
			}
			if op == "<>" {
				op = "!="
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i = j
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n'\"`()=!<>,", rune(s[j])) {
				j++
			}
			toks = append(toks, token{kind: tWord, text: s[i:j], pos: i})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks   []token
	i      int
	schema Schema
	src    string
	values int // IN list values so far
}

func (p *parser) more() bool { return p.i < len(p.toks) }

func (p *parser) next() token {
	t := p.toks[p.i]
	p.i++
	return t
}

func (p *parser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

// identifier reads kind.key where key may be quoted or backticked, or a bare
// attribute name.
func (p *parser) identifier() (kind, key string, err error) {
	if !p.more() {
		return "", "", fmt.Errorf("expected a key such as metrics.acc")
	}
	t := p.next()
	var prefix string
	switch t.kind {
	case tWord:
		if dot := strings.IndexByte(t.text, '.'); dot >= 0 {
			prefix, key = t.text[:dot], t.text[dot+1:]
			if key == "" { // tags."quoted key"
				nt, ok := p.peek()
				if !ok || (nt.kind != tQuoted && nt.kind != tBack) || nt.pos != t.pos+len(t.text) {
					return "", "", fmt.Errorf("key after %q at position %d is missing", t.text, t.pos)
				}
				p.next()
				key = nt.text
			}
		} else {
			key = t.text
		}
	case tBack, tQuoted:
		if t.kind == tQuoted && t.quote == '\'' {
			return "", "", fmt.Errorf("expected a key at position %d, found the string '%s'", t.pos, t.text)
		}
		key = t.text
	default:
		return "", "", fmt.Errorf("expected a key at position %d, found %q", t.pos, t.text)
	}
	if prefix == "" {
		if !p.schema.Bare {
			return "", "", fmt.Errorf("key %q at position %d needs a prefix such as tags. or attributes.", key, t.pos)
		}
		kind = KindAttribute
	} else {
		k, ok := kindPrefixes[strings.ToLower(prefix)]
		if !ok {
			return "", "", fmt.Errorf("unknown key prefix %q at position %d: expected one of metrics., params., tags., attributes., datasets.", prefix, t.pos)
		}
		kind = k
	}
	if !p.schema.Kinds[kind] {
		return "", "", fmt.Errorf("%s keys cannot be used to search %s", kind, p.schema.What)
	}
	if key == "" {
		return "", "", fmt.Errorf("empty key at position %d", t.pos)
	}
	switch kind {
	case KindAttribute:
		canon, ok := p.schema.Attributes[key]
		if !ok {
			return "", "", fmt.Errorf("unknown attribute %q at position %d: expected one of %s", key, t.pos, attrList(p.schema.Attributes))
		}
		key = canon
	case KindDataset:
		if !datasetKeys[key] {
			return "", "", fmt.Errorf("unknown dataset key %q at position %d: expected name, digest or context", key, t.pos)
		}
	}
	return kind, key, nil
}

func attrList(m map[string]string) string {
	seen := map[string]bool{}
	var names []string
	for k := range m {
		if !seen[k] && k != "Created" && k != "run_uuid" {
			seen[k] = true
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (p *parser) clause() (Clause, error) {
	kind, key, err := p.identifier()
	if err != nil {
		return Clause{}, err
	}
	c := Clause{Kind: kind, Key: key}
	numeric := kind == KindMetric || (kind == KindAttribute && p.schema.Numeric[key])
	op, err := p.operator()
	if err != nil {
		return Clause{}, err
	}
	c.Op = op
	switch op {
	case "IS NULL", "IS NOT NULL":
		if kind != KindTag && kind != KindParam {
			return c, fmt.Errorf("%s is only supported for tags and params, not %s %q", op, kind, key)
		}
		return c, nil
	case "IN", "NOT IN":
		if !(kind == KindDataset || (kind == KindAttribute && p.schema.ListAttrs[key])) {
			return c, fmt.Errorf("%s is not supported for %s %q", op, kind, key)
		}
		list, err := p.list()
		if err != nil {
			return c, err
		}
		c.List = list
		return c, nil
	}
	if !p.more() {
		return c, fmt.Errorf("missing value after %s %s", key, op)
	}
	v := p.next()
	if numeric {
		if op == "LIKE" || op == "ILIKE" {
			return c, fmt.Errorf("%s is not supported for numeric %s %q; use = != > >= < <=", op, kind, key)
		}
		if v.kind != tWord {
			return c, fmt.Errorf("expected a number for %s %q, found %s", kind, key, quoteTok(v))
		}
		f, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return c, fmt.Errorf("expected a number for %s %q, found %q", kind, key, v.text)
		}
		c.Num = f
		return c, nil
	}
	switch op {
	case "=", "!=", "LIKE", "ILIKE":
	default:
		return c, fmt.Errorf("operator %s is not supported for %s %q: use = != LIKE ILIKE", op, kind, key)
	}
	if v.kind != tQuoted {
		return c, fmt.Errorf("expected a quoted string value for %s %q (e.g. 'my-value'), found %s", kind, key, quoteTok(v))
	}
	if (op == "LIKE" || op == "ILIKE") && len(v.text) > MaxPatternLength {
		return c, fmt.Errorf("the %s pattern for %s %q is %d bytes long, more than the %d allowed", op, kind, key, len(v.text), MaxPatternLength)
	}
	c.Str = v.text
	return c, nil
}

func quoteTok(t token) string {
	if t.kind == tQuoted {
		return fmt.Sprintf("%c%s%c", t.quote, t.text, t.quote)
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) operator() (string, error) {
	if !p.more() {
		return "", fmt.Errorf("missing comparison operator at the end")
	}
	t := p.next()
	if t.kind == tOp {
		return t.text, nil
	}
	if t.kind == tWord {
		switch strings.ToUpper(t.text) {
		case "LIKE", "ILIKE", "IN":
			return strings.ToUpper(t.text), nil
		case "NOT":
			if n, ok := p.peek(); ok && n.isWord("IN") {
				p.next()
				return "NOT IN", nil
			}
			if n, ok := p.peek(); ok && n.isWord("LIKE") {
				return "", fmt.Errorf("NOT LIKE is not supported; use !=")
			}
		case "IS":
			if n, ok := p.peek(); ok && n.isWord("NULL") {
				p.next()
				return "IS NULL", nil
			}
			if n, ok := p.peek(); ok && n.isWord("NOT") {
				p.next()
				if n2, ok := p.peek(); ok && n2.isWord("NULL") {
					p.next()
					return "IS NOT NULL", nil
				}
			}
		}
	}
	return "", fmt.Errorf("expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position %d, found %q", t.pos, t.text)
}

func (p *parser) list() ([]string, error) {
	if t, ok := p.peek(); !ok || t.kind != tLParen {
		return nil, fmt.Errorf("expected a parenthesised list of quoted values after IN, e.g. ('a', 'b')")
	}
	p.next()
	var out []string
	for {
		if !p.more() {
			return nil, fmt.Errorf("unterminated list: missing ')'")
		}
		t := p.next()
		if t.kind != tQuoted {
			return nil, fmt.Errorf("expected a quoted string in the list at position %d, found %q", t.pos, t.text)
		}
		if p.values++; p.values > MaxFilterValues {
			return nil, fmt.Errorf("the IN lists hold more than the %d values allowed in one filter", MaxFilterValues)
		}
		out = append(out, t.text)
		if !p.more() {
			return nil, fmt.Errorf("unterminated list: missing ')'")
		}
		t = p.next()
		if t.kind == tRParen {
			return out, nil
		}
		if t.kind != tComma {
			return nil, fmt.Errorf("expected ',' or ')' in the list at position %d, found %q", t.pos, t.text)
		}
	}
}

// LoggedModelSchema is the filter schema of logged-models/search.
var LoggedModelSchema = Schema{
	What:  "logged models",
	Kinds: map[string]bool{KindTag: true, KindParam: true, KindMetric: true, KindAttribute: true},
	Attributes: map[string]string{"name": "name", "model_id": "model_id", "status": "status",
		"model_type": "model_type", "source_run_id": "source_run_id",
		"creation_timestamp": "creation_time", "creation_time": "creation_time",
		"last_updated_timestamp": "last_update_time", "last_update_time": "last_update_time"},
	Numeric:   map[string]bool{"creation_time": true, "last_update_time": true},
	ListAttrs: map[string]bool{"name": true, "model_id": true, "status": true, "source_run_id": true},
	Bare:      true,
}
