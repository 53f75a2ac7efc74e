package spec_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/steps"
)

// FuzzSpec decodes and validates arbitrary pipeline files, seeded with the
// good and bad specs of testdata and cycles of every shape. Validation never
// panics; it refuses with an Invalid *ValidationError of at most 101
// problems, or returns a plan whose order holds every task once, each after
// the tasks it needs.
//
//	go test -run '^$' -fuzz '^FuzzSpec$' -fuzztime 2m ./internal/pipeline/spec/
func FuzzSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"name: x\ntasks:\n  a:\n    needs: [a]\n    run: echo\n",
		"name: x\ntasks:\n  a:\n    needs: b\n    run: echo\n  b:\n    needs: a\n    run: echo\n",
		"name: x\ntasks:\n  x: {needs: [a], run: echo}\n  a: {needs: [b], run: echo}\n  b: {needs: [c], run: echo}\n  c: {needs: [a], run: echo}\n",
		"name: x\ntasks:\n  a: {run: 'echo ${{ tasks.a.outputs.y }}', outputs: [y]}\n",
		"name: x\ntasks:\n  a: {run: echo, when: '${{ tasks.b.outputs.y }} == 1', needs: [b]}\n  b: {run: echo, needs: [a], outputs: [y]}\n",
		"name: x\ntasks:\n  a: {run: 'echo ${{ item }}', for_each: '${{ tasks.a.outputs.l }}'}\n",
		"name: x\ntasks:\n  a: {run: echo, for_each: {a: [1, 2], b: [3, 4], c: [5]}}\n",
		"name: x\nparams: {l: [1, 2]}\ntasks:\n  a: {run: 'echo ${{ item }}', for_each: '${{ params.l }}', concurrency: 1}\n",
		"name: x\ntasks:\n  a: {run: 'echo ${{ ((!(params.p))) }}'}\nparams: {p: true}\n",
		"name: x\ntasks:\n  a: {run: echo, needs: [a, a, b, zz]}\n  b: {run: echo, needs: [b]}\n",
		"name: x\ntasks:\n  a: &x {run: echo}\n  b: *x\n",
		"name: x\ntasks: {}\n", "tasks:\n", "[]", "", "name: x\n---\nname: y\n",
	} {
		f.Add([]byte(s))
	}
	cat := steps.Default()
	f.Fuzz(func(t *testing.T, src []byte) {
		plan, err := spec.Load("fuzz.yaml", src, cat, spec.Limits{})
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("error of kind %v, not Invalid: %v", errs.KindOf(err), err)
			}
			var ve *spec.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || len(ve.Problems) > 101 {
				t.Fatalf("not a ValidationError of 1 to 101 problems: %v", err)
			}
			return
		}
		checkOrder(t, plan)
		_ = plan.String()
	})
}

// checkOrder fails unless the plan's order holds every task once, each
// after the tasks it needs and at a deeper level.
func checkOrder(t *testing.T, plan *spec.Plan) {
	t.Helper()
	at := map[string]int{}
	for i, pt := range plan.Order {
		if _, dup := at[pt.Name]; dup {
			t.Fatalf("task %q is in the order twice", pt.Name)
		}
		at[pt.Name] = i
	}
	if len(at) != len(plan.Spec.Tasks) {
		t.Fatalf("the order holds %d of %d tasks", len(at), len(plan.Spec.Tasks))
	}
	for _, pt := range plan.Order {
		for _, n := range pt.Needs {
			need := plan.Task(n)
			if need == nil || at[n] >= at[pt.Name] || need.Level >= pt.Level || !pt.Ancestors[n] {
				t.Fatalf("task %q (at %d, level %d) needs %q, which is not before it", pt.Name, at[pt.Name], pt.Level, n)
			}
		}
	}
}

// FuzzNeedsGraph validates pipelines whose needs form an arbitrary graph:
// the first byte gives the number of tasks (1 to 32), each next pair an
// edge (task a needs task b). Validation reports a cycle exactly when the
// graph has one (self-needs included), and otherwise orders the tasks.
//
//	go test -run '^$' -fuzz '^FuzzNeedsGraph$' -fuzztime 2m ./internal/pipeline/spec/
func FuzzNeedsGraph(f *testing.F) {
	for _, g := range [][]byte{
		{1}, {1, 0, 0}, {2, 0, 1, 1, 0}, {3, 0, 1, 1, 2}, {3, 0, 1, 1, 2, 2, 0}, {4, 3, 0, 0, 1, 1, 0},
		{6, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0}, {5, 0, 1, 0, 2, 1, 3, 2, 3, 3, 4}, {3, 0, 1, 0, 1, 1, 2, 2, 2},
		{32, 31, 30, 30, 29, 29, 28, 28, 31}, {8, 0, 1, 1, 0, 2, 3, 3, 2, 4, 5, 5, 4},
	} {
		f.Add(g)
	}
	cat := steps.Default()
	f.Fuzz(func(t *testing.T, g []byte) {
		if len(g) == 0 || len(g) > 1+2*256 {
			return
		}
		n := int(g[0])%32 + 1
		needs := make([][]int, n)
		for i := 1; i+1 < len(g); i += 2 {
			a, b := int(g[i])%n, int(g[i+1])%n
			needs[a] = append(needs[a], b)
		}
		var src strings.Builder
		src.WriteString("name: graph\ntasks:\n")
		for i, ns := range needs {
			l := make([]string, len(ns))
			for j, d := range ns {
				l[j] = fmt.Sprintf("t%d", d)
			}
			fmt.Fprintf(&src, "  t%d:\n    run: \"true\"\n    needs: [%s]\n", i, strings.Join(l, ", "))
		}
		plan, err := spec.Load("graph.yaml", []byte(src.String()), cat, spec.Limits{})
		cyclic := hasCycle(needs)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		reported := strings.Contains(msg, "cycle: ") || strings.Contains(msg, "needs itself")
		if cyclic != reported {
			t.Fatalf("graph %v: cycle %v, validation says %q", needs, cyclic, msg)
		}
		if !cyclic {
			if err != nil && !strings.Contains(msg, "in needs twice") {
				t.Fatalf("graph %v: %v", needs, err)
			}
			if plan != nil {
				checkOrder(t, plan)
			}
		}
	})
}

// hasCycle reports whether a graph has a cycle, by removing tasks that need
// no remaining task until none is left or none can go.
func hasCycle(needs [][]int) bool {
	gone := make([]bool, len(needs))
	for left := len(needs); left > 0; {
		removed := false
		for i, ns := range needs {
			if gone[i] {
				continue
			}
			free := true
			for _, d := range ns {
				if !gone[d] {
					free = false
				}
			}
			if free {
				gone[i], removed = true, true
				left--
			}
		}
		if !removed {
			return true
		}
	}
	return false
}

// FuzzExpr parses arbitrary `when:` expressions and templates and evaluates
// what parses against a scope that answers every reference. Nothing panics;
// an accepted expression is within the length and depth limits, and a
// string without `${{` is a template of itself.
//
//	go test -run '^$' -fuzz '^FuzzExpr$' -fuzztime 2m ./internal/pipeline/spec/
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"params.n > 2", "params.n >= 3 && params.n <= 3", "!params.quick", "params.quick || params.n == 3",
		"params.name == 'wide'", `params.name != "wide"`, "tasks.a.outputs.acc > 0.9", "(params.n == 1 || params.n == 3) && !(params.name == 'x')",
		"-1 < params.n", "item[0] == item['k']", "item.k.j", "run.id == pipeline.name", "null == ''", "1e400 > -1e-400",
		"((((((((true))))))))", "!!!!!!!!false", "params.n = 3", "(params.n", "'open", "a ~ b", "params.",
		"echo ${{ params.n }} and ${{ tasks.a.outputs.y }}", "${{ params.models }}", "${{", "}}", "${{ }}", "$${{ x }}}",
		"echo ${{ 'a}}' }}", "${{ item }}${{ item }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if e, err := spec.ParseExpr(src); err == nil {
			if len(src) > spec.MaxExprLength || depth(src) > spec.MaxExprDepth {
				t.Fatalf("accepted %q: %d bytes, %d deep", src, len(src), depth(src))
			}
			for _, r := range e.Refs() {
				if len(r) == 0 || r[0] == "" {
					t.Fatalf("%q: empty reference %q", src, r)
				}
			}
			_, _ = e.Eval(anyScope{})
			_, _ = e.EvalBool(anyScope{})
		}
		tp, err := spec.ParseTemplate(src)
		if err != nil {
			if len(err.Error()) > 4*len(src)+1000 && len(err.Error()) > 4000 {
				t.Fatalf("%d-byte template: %d-byte message", len(src), len(err.Error()))
			}
			return
		}
		v, _ := tp.Eval(anyScope{})
		if !strings.Contains(src, "${{") && v != src && !(src == "" && v == "") {
			t.Fatalf("literal %q evaluates to %#v", src, v)
		}
		_ = tp.Refs()
	})
}

// depth is a lower bound of how deep the parser nests: '(' outside quotes,
// plus the '!' written right before (which are all still open).
func depth(src string) int {
	d, deepest, run := 0, 0, 0
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			d++
		case c == ')':
			d--
		}
		if c == '!' && (i+1 >= len(src) || src[i+1] != '=') {
			run++
		} else if c != ' ' && c != '(' {
			run = 0
		}
		if d+run > deepest {
			deepest = d + run
		}
	}
	return deepest
}

// anyScope answers every reference: lists for item, numbers for params,
// text for the rest.
type anyScope struct{}

func (anyScope) Lookup(path []string) (any, error) {
	switch path[0] {
	case "item":
		return []any{int64(1), "two", map[string]any{"k": 3.5}}, nil
	case "params":
		return int64(len(path)), nil
	}
	return strings.Join(path, "."), nil
}
