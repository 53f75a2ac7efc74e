package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline"
	"github.com/cairn-mlops/cairn/internal/steps"
)

// smallStack makes a runaway recursion fail the test at once instead of
// growing the goroutine's stack to a gigabyte first.
func smallStack(t *testing.T) {
	old := debug.SetMaxStack(8 << 20)
	t.Cleanup(func() { debug.SetMaxStack(old) })
}

func loadErr(t *testing.T, spec string) string {
	t.Helper()
	_, err := pipeline.Load("test.yaml", []byte(spec), steps.Default())
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
	e := setup(t, func(o *pipeline.Options) { o.Limits.Tasks = 100000 }).e
	_, err := e.Load("cycle.yaml", []byte(cycleSpec(50000)))
	require.Error(t, err)
	require.Equal(t, "invalid pipeline:\ncycle.yaml:150002: cycle: t49999 -> t49998 -> t49997 -> t49996 -> t49995 -> t49994 -> "+
		"t49993 -> t49992 -> t49991 -> t49990 -> t49989 -> t49988 -> t49987 -> t49986 -> t49985 -> t49984 -> t49983 -> t49982 -> "+
		"t49981 -> t49980 -> ... (50000 tasks in all) -> t49999", err.Error())
	plan, err := pipeline.Load("chain.yaml", []byte(chainSpec(1000)), steps.Default())
	require.NoError(t, err)
	require.Len(t, plan.Order, 1000)
	require.Equal(t, 999, plan.Order[999].Level)
	require.Len(t, plan.Order[999].Ancestors, 999)
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
	_, err := pipeline.Load("x.yaml", []byte("name: x\ntasks:\n  fan:\n    run: echo\n    for_each: "+listOf(10000)+"\n"), steps.Default())
	require.NoError(t, err)
	spec := "name: x\ntasks:\n  a:\n    run: echo\n    for_each: " + listOf(6000) + "\n  b:\n    run: echo\n    for_each: " + listOf(6000) + "\n"
	require.Contains(t, loadErr(t, spec), "the for_each tasks have 12000 items together, more than the 10000 a run may have")
}

// keys writes n map entries k0: [0, 1], k1: [0, 1], ...
func keys(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf("k%d: [0, 1]", i)
	}
	return strings.Join(l, ", ")
}

func TestForEachLimitsAreOptionsAndHoldAtRunTime(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.Limits = pipeline.Limits{TaskItems: 3, RunItems: 5} })
	_, err := f.e.Submit(context.Background(), pipeline.Submission{File: "x.yaml", Trigger: "test",
		Source: []byte("name: x\ntasks:\n  fan:\n    run: echo\n    for_each: [1, 2, 3, 4]\n")})
	require.Error(t, err)
	require.Contains(t, err.Error(), `task "fan" for_each: 4 items, more than the 3 a task may fan out to`)

	spec := `name: dyn
params:
  xs: {type: list, default: [1, 2, 3]}
tasks:
  a:
    run: echo ${{ item }}
    for_each: ${{ params.xs }}
  b:
    needs: [a]
    run: echo ${{ item }}
    for_each: ${{ params.xs }}
`
	got := f.run(spec, map[string]any{"xs": []any{1, 2, 3, 4}})
	require.Equal(t, pipeline.Failed, got.Phase)
	require.Equal(t, "for_each: 4 items, more than the 3 a task may fan out to", task(got, "a").Message)

	got = f.run(spec, nil)
	require.Equal(t, pipeline.Failed, got.Phase)
	require.Equal(t, pipeline.Succeeded, task(got, "a").Phase)
	require.Equal(t, "for_each: 3 items, and the run's for_each tasks would have 6 together, more than the 5 a run may have",
		task(got, "b").Message)
}

func task(r *pipeline.Run, node string) *pipeline.TaskRun {
	for _, t := range r.Tasks {
		if t.Node == node {
			return t
		}
	}
	return nil
}

func TestExpressionLengthAndDepthAreCapped(t *testing.T) {
	smallStack(t)
	deep := strings.Repeat("(", 100000) + "true" + strings.Repeat(")", 100000)
	for name, c := range map[string]struct{ expr, want string }{
		"long":      {"params.a == '" + strings.Repeat("x", pipeline.MaxExprLength) + "'", "the expression is 4110 bytes long, more than the 4096 allowed"},
		"parens":    {strings.Repeat("(", 33) + "true" + strings.Repeat(")", 33), `"(" at column 33 nests deeper than the 32 levels allowed`},
		"nots":      {strings.Repeat("!", 33) + "true", `"!" at column 33 nests deeper than the 32 levels allowed`},
		"very deep": {deep, "the expression is 200004 bytes long"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pipeline.ParseExpr(c.expr)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	for _, ok := range []string{strings.Repeat("(", 32) + "true" + strings.Repeat(")", 32), strings.Repeat("!", 32) + "true",
		strings.Repeat("(!", 16) + "true" + strings.Repeat(")", 16), strings.TrimSuffix(strings.Repeat("true && ", 500), " && ")} {
		_, err := pipeline.ParseExpr(ok)
		require.NoError(t, err)
	}
	// A template quotes at most the start of an expression it refuses.
	_, err := pipeline.ParseTemplate("echo ${{ " + deep + " }}")
	require.Error(t, err)
	require.Less(t, len(err.Error()), 400)
	_, err = pipeline.ParseTemplate("echo ${{ " + strings.Repeat("x", 100000))
	require.Error(t, err)
	require.Less(t, len(err.Error()), 400)
	// In a spec the problem names the task and field.
	msg := loadErr(t, "name: x\ntasks:\n  a:\n    run: echo\n    when: '"+strings.Repeat("!", 40)+"true'\n")
	require.Contains(t, msg, `test.yaml:5: task "a" when: "!" at column 33 nests deeper than the 32 levels allowed`)
}

// TestRetryRerunsOnlyFailedItems: retrying a run whose for_each task failed
// runs again only the items that did not succeed, within the run's limit.
func TestRetryRerunsOnlyFailedItems(t *testing.T) {
	f := setup(t, func(o *pipeline.Options) { o.Limits = pipeline.Limits{TaskItems: 3, RunItems: 3} })
	flag := filepath.Join(f.dir, "ok")
	r := f.run(`
name: retry
tasks:
  fan:
    run: test ${{ item }} != 2 || test -f `+flag+`
    for_each: [1, 2, 3]
  after: {needs: [fan], run: "true"}
`, nil)
	require.Equal(t, pipeline.Failed, r.Phase)
	started := task(r, "fan[0]").Started.UnixMilli()
	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	_, err := f.e.Retry(context.Background(), r.ID, "")
	require.NoError(t, err)
	got, err := f.e.Execute(context.Background(), r.ID)
	require.NoError(t, err)
	require.Equal(t, pipeline.Succeeded, got.Phase, got.Message)
	require.Equal(t, started, task(got, "fan[0]").Started.UnixMilli(), "a succeeded item does not run again")
	require.Len(t, got.Tasks, 5, "the parent, its three items and after, once each")
	for node, attempts := range map[string]int{"fan[0]": 1, "fan[1]": 1, "fan[2]": 1, "after": 1} {
		require.Equal(t, pipeline.Succeeded, task(got, node).Phase, node)
		require.Equal(t, attempts, task(got, node).Attempts, node)
	}
}
