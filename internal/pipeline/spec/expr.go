package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Expressions appear in `when:` and inside `${{ }}` templates:
//
//	params.lr > 0.001 && tasks.eval.outputs.accuracy >= 0.9 || !params.quick
//
// Operands are references (params.NAME, tasks.TASK.outputs.NAME,
// tasks.TASK.artifacts[.NAME], item, item.KEY, item[N], run.id, pipeline.name),
// numbers, 'single' or "double" quoted strings, true, false and null.
// Operators, loosest first: ||, &&, !, then == != < > <= >= (not chained),
// and parentheses. Comparisons are numeric when both sides read as numbers
// (outputs are strings, so "0.93" > 0.9 holds), else == and != compare text.

// The limits of one expression: longer or more deeply nested ones are
// refused with a message, before they are evaluated. Depth counts
// parentheses and '!'.
const (
	MaxExprLength = 4096
	MaxExprDepth  = 32
)

// Expr is a parsed expression.
type Expr struct {
	src  string
	root node
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Scope resolves references while an expression is evaluated.
type Scope interface {
	// Lookup returns the value at a reference path such as
	// ["params", "lr"] or ["tasks", "a", "outputs", "y"].
	Lookup(path []string) (any, error)
}

// Eval evaluates the expression in scope.
func (e *Expr) Eval(s Scope) (any, error) { return e.root.eval(s) }

// EvalBool evaluates the expression as a condition.
func (e *Expr) EvalBool(s Scope) (bool, error) {
	v, err := e.root.eval(s)
	if err != nil {
		return false, err
	}
	return truth(v)
}

// Refs returns every reference path in the expression.
func (e *Expr) Refs() [][]string {
	var out [][]string
	e.root.walk(func(r *refNode) { out = append(out, r.path) })
	return out
}

type node interface {
	eval(s Scope) (any, error)
	walk(func(*refNode))
}

type litNode struct{ v any }

func (n *litNode) eval(Scope) (any, error) { return n.v, nil }
func (n *litNode) walk(func(*refNode))     {}

type refNode struct{ path []string }

func (n *refNode) eval(s Scope) (any, error) { return s.Lookup(n.path) }
func (n *refNode) walk(f func(*refNode))     { f(n) }

type notNode struct{ x node }

func (n *notNode) eval(s Scope) (any, error) {
	v, err := n.x.eval(s)
	if err != nil {
		return nil, err
	}
	b, err := truth(v)
	return !b, err
}
func (n *notNode) walk(f func(*refNode)) { n.x.walk(f) }

type binNode struct {
	op   string
	l, r node
}

func (n *binNode) walk(f func(*refNode)) { n.l.walk(f); n.r.walk(f) }

func (n *binNode) eval(s Scope) (any, error) {
	l, err := n.l.eval(s)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "&&", "||":
		lb, err := truth(l)
		if err != nil {
			return nil, err
		}
		if (n.op == "&&" && !lb) || (n.op == "||" && lb) {
			return lb, nil
		}
		r, err := n.r.eval(s)
		if err != nil {
			return nil, err
		}
		return truth(r)
	}
	r, err := n.r.eval(s)
	if err != nil {
		return nil, err
	}
	return compare(n.op, l, r)
}

func compare(op string, l, r any) (bool, error) {
	lf, lok := asNumber(l)
	rf, rok := asNumber(r)
	if lok && rok {
		switch op {
		case "==":
			return lf == rf, nil
		case "!=":
			return lf != rf, nil
		case "<":
			return lf < rf, nil
		case ">":
			return lf > rf, nil
		case "<=":
			return lf <= rf, nil
		case ">=":
			return lf >= rf, nil
		}
	}
	switch op {
	case "==", "!=":
		eq := equalText(l, r)
		return eq == (op == "=="), nil
	}
	return false, fmt.Errorf("cannot compare %s %s %s: both sides must be numbers", Render(l), op, Render(r))
}

func equalText(l, r any) bool {
	// A bool compares with the strings "true"/"false" in any case.
	if lb, ok := l.(bool); ok {
		if rb, err := truth(r); err == nil {
			return lb == rb
		}
	}
	if rb, ok := r.(bool); ok {
		if lb, err := truth(l); err == nil {
			return lb == rb
		}
	}
	return Render(l) == Render(r)
}

func asNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

func truth(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(x))); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("%s is not true or false", quoteValue(v))
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return Render(v)
}

// Render turns a value into the text a template substitutes: strings as they
// are, numbers in their shortest form, lists and maps as JSON, null as "".
func Render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// ParseExpr parses an expression.
func ParseExpr(src string) (*Expr, error) {
	if len(src) > MaxExprLength {
		return nil, fmt.Errorf("the expression is %d bytes long, more than the %d allowed", len(src), MaxExprLength)
	}
	p := &parser{src: src}
	if err := p.lex(); err != nil {
		return nil, err
	}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at column %d", p.toks[p.i].text, p.toks[p.i].pos+1)
	}
	return &Expr{src: src, root: n}, nil
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokNum
	tokStr
	tokOp
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int // '(' and '!' being parsed
}

// nest enters one level of '(' or '!' at token t; the caller leaves it.
func (p *parser) nest(t token) error {
	p.depth++
	if p.depth > MaxExprDepth {
		return fmt.Errorf("%q at column %d nests deeper than the %d levels allowed", t.text, t.pos+1, MaxExprDepth)
	}
	return nil
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || c == '-' || (c >= '0' && c <= '9') }

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			p.toks = append(p.toks, token{tokIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || (c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			p.toks = append(p.toks, token{tokNum, s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return fmt.Errorf("unterminated string starting at column %d", i+1)
			}
			p.toks = append(p.toks, token{tokStr, b.String(), i})
			i = j + 1
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "&&", "||":
				p.toks = append(p.toks, token{tokOp, two, i})
				i += 2
				continue
			}
			switch c {
			case '<', '>', '!', '(', ')', '.', '[', ']':
				p.toks = append(p.toks, token{tokOp, string(c), i})
				i++
				continue
			}
			if c == '=' {
				return fmt.Errorf("'=' at column %d: use '==' to compare", i+1)
			}
			return fmt.Errorf("unexpected character %q at column %d", c, i+1)
		}
	}
	return nil
}

func (p *parser) peek(op string) bool {
	return p.i < len(p.toks) && p.toks[p.i].kind == tokOp && p.toks[p.i].text == op
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	for err == nil && p.peek("||") {
		p.i++
		var r node
		if r, err = p.and(); err == nil {
			l = &binNode{op: "||", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) and() (node, error) {
	l, err := p.not()
	for err == nil && p.peek("&&") {
		p.i++
		var r node
		if r, err = p.not(); err == nil {
			l = &binNode{op: "&&", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) not() (node, error) {
	if p.peek("!") {
		if err := p.nest(p.toks[p.i]); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		p.i++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &notNode{x}, nil
	}
	return p.cmp()
}

func (p *parser) cmp() (node, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if p.peek(op) {
			p.i++
			r, err := p.primary()
			if err != nil {
				return nil, err
			}
			return &binNode{op: op, l: l, r: r}, nil
		}
	}
	return l, nil
}

func (p *parser) primary() (node, error) {
	if p.i >= len(p.toks) {
		return nil, fmt.Errorf("expression ends early: expected a value")
	}
	t := p.toks[p.i]
	p.i++
	switch t.kind {
	case tokNum:
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &litNode{n}, nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q at column %d", t.text, t.pos+1)
		}
		return &litNode{f}, nil
	case tokStr:
		return &litNode{t.text}, nil
	case tokIdent:
		switch t.text {
		case "true":
			return &litNode{true}, nil
		case "false":
			return &litNode{false}, nil
		case "null":
			return &litNode{nil}, nil
		}
		path := []string{t.text}
		for {
			switch {
			case p.peek("."):
				p.i++
				if p.i >= len(p.toks) || p.toks[p.i].kind != tokIdent {
					return nil, fmt.Errorf("expected a name after '.' in %s", strings.Join(path, "."))
				}
				path = append(path, p.toks[p.i].text)
				p.i++
			case p.peek("["):
				p.i++
				if p.i+1 >= len(p.toks) || (p.toks[p.i].kind != tokNum && p.toks[p.i].kind != tokStr) || !(p.toks[p.i+1].kind == tokOp && p.toks[p.i+1].text == "]") {
					return nil, fmt.Errorf("expected [number] or ['key'] after %s", strings.Join(path, "."))
				}
				path = append(path, p.toks[p.i].text)
				p.i += 2
			default:
				return &refNode{path}, nil
			}
		}
	case tokOp:
		if t.text == "(" {
			if err := p.nest(t); err != nil {
				return nil, err
			}
			defer func() { p.depth-- }()
			n, err := p.or()
			if err != nil {
				return nil, err
			}
			if !p.peek(")") {
				return nil, fmt.Errorf("missing ')' for '(' at column %d", t.pos+1)
			}
			p.i++
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q at column %d", t.text, t.pos+1)
}

// Template is a string with `${{ expression }}` parts.
type Template struct {
	src   string
	parts []tmplPart
}

type tmplPart struct {
	text string
	expr *Expr // nil for literal text
}

// ParseTemplate parses s. A string without `${{` is a template of one literal.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	rest := s
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, tmplPart{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, tmplPart{text: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed ${{ in %q", clip(s))
		}
		e, err := ParseExpr(rest[i+3 : i+j])
		if err != nil {
			return nil, fmt.Errorf("in ${{%s}}: %w", clip(rest[i+3:i+j]), err)
		}
		t.parts = append(t.parts, tmplPart{expr: e})
		rest = rest[i+j+2:]
	}
}

// clip shortens text quoted in a message to its first 200 bytes.
func clip(s string) string {
	if len(s) <= 200 {
		return s
	}
	return s[:200] + "..."
}

// IsDynamic reports whether the template holds any expression.
func (t *Template) IsDynamic() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return true
		}
	}
	return false
}

// Refs returns every reference in the template's expressions.
func (t *Template) Refs() [][]string {
	var out [][]string
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr.Refs()...)
		}
	}
	return out
}

// Eval substitutes the template. A template that is exactly one expression
// keeps the expression's type (a list stays a list); otherwise the parts are
// rendered and joined into a string.
func (t *Template) Eval(s Scope) (any, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr.Eval(s)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.expr.Eval(s)
		if err != nil {
			return nil, err
		}
		b.WriteString(Render(v))
	}
	return b.String(), nil
}

// EvalValue copies a value compiled from YAML (a string, number, list, map
// or *Template, nested) with each template evaluated in scope.
func EvalValue(v any, s Scope) (any, error) {
	switch x := v.(type) {
	case *Template:
		return x.Eval(s)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := EvalValue(e, s)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := EvalValue(e, s)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

// whenExpr parses a `when:` condition, written bare or as one ${{ }}.
func whenExpr(s string) (*Expr, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "${{") && strings.HasSuffix(t, "}}") && strings.Count(t, "${{") == 1 {
		t = t[3 : len(t)-2]
	}
	return ParseExpr(t)
}
