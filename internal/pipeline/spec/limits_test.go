package spec_test

import (
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/steps"
)

// smallStack makes a runaway recursion fail the test at once instead of
// growing the goroutine's stack to a gigabyte first.
func smallStack(t *testing.T) {
	old := debug.SetMaxStack(8 << 20)
	t.Cleanup(func() { debug.SetMaxStack(old) })
}

func loadErr(t *testing.T, src string) string {
	t.Helper()
	_, err := spec.Load("test.yaml", []byte(src), steps.Default(), spec.Limits{})
	require.Error(t, err)
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	return err.Error()
}

// cycleSpec is n tasks, each needing the next, the last needing the first.
func cycleSpec(n int) string {
	var b strings.Builder
	b.WriteString("name: cycle\ntasks:\n")
	for i := range n {
		fmt.Fprintf(&b, "  t%d:\n    run: \"true\"\n    needs: [t%d]\n", i, (i+1)%n)
	}
	return b.String()
}

func TestCyclesOfEveryShapeAreProblems(t *testing.T) {
	smallStack(t)
	for name, c := range map[string]struct{ spec, want string }{
		"self": {"name: x\ntasks:\n  a:\n    needs: [a]\n    run: echo\n", `task "a" needs itself`},
		"self after a need": {"name: x\ntasks:\n  a:\n    run: echo\n  b:\n    needs: [a, b]\n    run: echo\n",
			`task "b" needs itself`},
		"two":  {"name: x\ntasks:\n  a:\n    needs: b\n    run: echo\n  b:\n    needs: a\n    run: echo\n", "cycle: b -> a -> b"},
		"long": {cycleSpec(12), "cycle: t11 -> t10 -> t9 -> t8 -> t7 -> t6 -> t5 -> t4 -> t3 -> t2 -> t1 -> t0 -> t11"},
		"reached from outside": {"name: x\ntasks:\n  x:\n    needs: [a]\n    run: echo\n  a:\n    needs: [b]\n    run: echo\n" +
			"  b:\n    needs: [a]\n    run: echo\n", "cycle: b -> a -> b"},
	} {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, loadErr(t, c.spec), c.want)
		})
	}
}

func TestGraphWalksKeepTheirOwnStack(t *testing.T) {
	smallStack(t)
	_, err := spec.Load("cycle.yaml", []byte(cycleSpec(50000)), steps.Default(), spec.Limits{Tasks: 100000})
	require.Error(t, err)
	require.Equal(t, "invalid pipeline:\ncycle.yaml:150002: cycle: t49999 -> t49998 -> t49997 -> t49996 -> t49995 -> t49994 -> "+
		"t49993 -> t49992 -> t49991 -> t49990 -> t49989 -> t49988 -> t49987 -> t49986 -> t49985 -> t49984 -> t49983 -> t49982 -> "+
		"t49981 -> t49980 -> ... (50000 tasks in all) -> t49999", err.Error())
	plan, err := spec.Load("chain.yaml", []byte(chainSpec(1000)), steps.Default(), spec.Limits{})
	require.NoError(t, err)
	require.Len(t, plan.Order, 1000)
	require.Equal(t, 999, plan.Order[999].Level)
	require.Len(t, plan.Order[999].Ancestors, 999)
}

// chainSpec is n no-op tasks, each needing the one before.
func chainSpec(n int) string {
	var b strings.Builder
	b.WriteString("name: chain\ntasks:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  t%d:\n    run: \"true\"\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "    needs: [t%d]\n", i-1)
		}
	}
	return b.String()
}

func TestManyCyclesAreReportedBriefly(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: knot\ntasks:\n")
	for i := range 30 {
		var needs []string
		for j := range 30 {
			if j != i {
				needs = append(needs, fmt.Sprintf("t%d", j))
			}
		}
		fmt.Fprintf(&b, "  t%d:\n    run: \"true\"\n    needs: [%s]\n", i, strings.Join(needs, ", "))
	}
	msg := loadErr(t, b.String())
	require.Equal(t, 10, strings.Count(msg, "cycle: "), msg)
	require.Contains(t, msg, "more than 10 cycles: only the first 10 are shown")
}

func TestTooManyTasksOrProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: wide\ntasks:\n")
	for i := range 1001 {
		fmt.Fprintf(&b, "  t%d: {run: \"true\"}\n", i)
	}
	require.Contains(t, loadErr(t, b.String()), "the pipeline has 1001 tasks, more than the 1000 a pipeline may have")

	b.Reset()
	b.WriteString("name: broken\ntasks:\n")
	for i := range 150 {
		fmt.Fprintf(&b, "  t%d: {}\n", i)
	}
	msg := loadErr(t, b.String())
	require.Equal(t, 100, strings.Count(msg, "give either uses:"))
	require.True(t, strings.HasSuffix(msg, "test.yaml: and 50 more problems"), msg[len(msg)-100:])
}

// listOf writes n numbers as a YAML flow list.
func listOf(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprint(i)
	}
	return "[" + strings.Join(l, ", ") + "]"
}

func TestForEachFanOutIsCapped(t *testing.T) {
	for name, c := range map[string]struct{ forEach, want string }{
		"cube": {"{a: " + listOf(100) + ", b: " + listOf(100) + ", c: " + listOf(100) + "}",
			`task "fan" for_each: 1000000 items, more than the 10000 a task may fan out to`},
		"list": {listOf(10001), `task "fan" for_each: 10001 items, more than the 10000 a task may fan out to`},
		"past int64": {"{" + keys(64) + "}",
			`task "fan" for_each: more than 9223372036854775807 items, more than the 10000 a task may fan out to`},
	} {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, loadErr(t, "name: x\ntasks:\n  fan:\n    run: echo\n    for_each: "+c.forEach+"\n"), c.want)
		})
	}
	_, err := spec.Load("x.yaml", []byte("name: x\ntasks:\n  fan:\n    run: echo\n    for_each: "+listOf(10000)+"\n"), steps.Default(), spec.Limits{})
	require.NoError(t, err)
	src := "name: x\ntasks:\n  a:\n    run: echo\n    for_each: " + listOf(6000) + "\n  b:\n    run: echo\n    for_each: " + listOf(6000) + "\n"
	require.Contains(t, loadErr(t, src), "the for_each tasks have 12000 items together, more than the 10000 a run may have")
}

// keys writes n map entries k0: [0, 1], k1: [0, 1], ...
func keys(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf("k%d: [0, 1]", i)
	}
	return strings.Join(l, ", ")
}

func TestExpressionLengthAndDepthAreCapped(t *testing.T) {
	smallStack(t)
	deep := strings.Repeat("(", 100000) + "true" + strings.Repeat(")", 100000)
	for name, c := range map[string]struct{ expr, want string }{
		"long":      {"params.a == '" + strings.Repeat("x", spec.MaxExprLength) + "'", "the expression is 4110 bytes long, more than the 4096 allowed"},
		"parens":    {strings.Repeat("(", 33) + "true" + strings.Repeat(")", 33), `"(" at column 33 nests deeper than the 32 levels allowed`},
		"nots":      {strings.Repeat("!", 33) + "true", `"!" at column 33 nests deeper than the 32 levels allowed`},
		"very deep": {deep, "the expression is 200004 bytes long"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := spec.ParseExpr(c.expr)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	for _, ok := range []string{strings.Repeat("(", 32) + "true" + strings.Repeat(")", 32), strings.Repeat("!", 32) + "true",
		strings.Repeat("(!", 16) + "true" + strings.Repeat(")", 16), strings.TrimSuffix(strings.Repeat("true && ", 500), " && ")} {
		_, err := spec.ParseExpr(ok)
		require.NoError(t, err)
	}
	// A template quotes at most the start of an expression it refuses.
	_, err := spec.ParseTemplate("echo ${{ " + deep + " }}")
	require.Error(t, err)
	require.Less(t, len(err.Error()), 400)
	_, err = spec.ParseTemplate("echo ${{ " + strings.Repeat("x", 100000))
	require.Error(t, err)
	require.Less(t, len(err.Error()), 400)
	// In a spec the problem names the task and field.
	msg := loadErr(t, "name: x\ntasks:\n  a:\n    run: echo\n    when: '"+strings.Repeat("!", 40)+"true'\n")
	require.Contains(t, msg, `test.yaml:5: task "a" when: "!" at column 33 nests deeper than the 32 levels allowed`)
}
