package spec_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/pipeline/spec"
	"github.com/cairn-mlops/cairn/internal/steps"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>.golden, rewriting it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/pipeline/spec -update to create the golden file")
	require.Equal(t, string(want), got)
}

func TestGoodSpecsPlan(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			plan, err := spec.Load(filepath.Base(f), src, steps.Default(), spec.Limits{})
			require.NoError(t, err)
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", plan.String())
		})
	}
}

func TestBadSpecsReportEveryProblem(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			require.NoError(t, err)
			_, err = spec.Load(filepath.Base(f), src, steps.Default(), spec.Limits{})
			require.Error(t, err)
			require.Equal(t, errs.Invalid, errs.KindOf(err))
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

func TestRetryDelay(t *testing.T) {
	r := spec.Retry{Limit: 5, Backoff: time.Second, Factor: 2, Max: 5 * time.Second}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, r.Delay(n))
	}
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}, got)
	require.Equal(t, time.Duration(0), spec.Retry{Limit: 1}.Delay(1))
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512Mi": 512 << 20, "2GiB": 2 << 30, "1.5G": 1.5e9, "1024": 1024, "10k": 10e3} {
		got, err := spec.ParseBytes(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "lots", "1Q", "-1G"} {
		_, err := spec.ParseBytes(in)
		require.Error(t, err, in)
	}
}

type scope map[string]any

func (s scope) Lookup(path []string) (any, error) {
	v, ok := s[strings.Join(path, ".")]
	if !ok {
		return nil, errs.NotFoundf("no %s", strings.Join(path, "."))
	}
	return v, nil
}

func TestExpressions(t *testing.T) {
	s := scope{"params.n": int64(3), "params.quick": false, "params.name": "wide", "tasks.a.outputs.acc": "0.93",
		"tasks.a.outputs.ok": "True"}
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"params.n > 2", true},
		{"params.n >= 3 && params.n <= 3", true},
		{"params.n < 3", false},
		{"!params.quick", true},
		{"params.quick || params.n == 3", true},
		{"params.name == 'wide'", true},
		{`params.name != "wide"`, false},
		{"tasks.a.outputs.acc > 0.9", true},
		{"tasks.a.outputs.ok == true", true},
		{"(params.n == 1 || params.n == 3) && !(params.name == 'x')", true},
		{"params.n == 3.0", true},
		{"-1 < params.n", true},
	} {
		e, err := spec.ParseExpr(c.expr)
		require.NoError(t, err, c.expr)
		got, err := e.EvalBool(s)
		require.NoError(t, err, c.expr)
		require.Equal(t, c.want, got, c.expr)
	}
	for _, bad := range []string{"", "params.n =", "params.n = 3", "(params.n", "params.n > > 1", "'open", "params.", "a ~ b"} {
		_, err := spec.ParseExpr(bad)
		require.Error(t, err, bad)
	}
	e, err := spec.ParseExpr("params.name > 1")
	require.NoError(t, err)
	_, err = e.EvalBool(s)
	require.ErrorContains(t, err, "both sides must be numbers")
	e, err = spec.ParseExpr("params.name")
	require.NoError(t, err)
	_, err = e.EvalBool(s)
	require.ErrorContains(t, err, `"wide" is not true or false`)
}

func TestTemplates(t *testing.T) {
	s := scope{"params.models": []any{"a", "b"}, "params.lr": 0.01, "item": "a"}
	tp, err := spec.ParseTemplate("${{ params.models }}")
	require.NoError(t, err)
	v, err := tp.Eval(s)
	require.NoError(t, err)
	require.Equal(t, []any{"a", "b"}, v, "a lone template keeps its type")
	tp, err = spec.ParseTemplate("train ${{ item }} at ${{params.lr}} over ${{ params.models }}")
	require.NoError(t, err)
	v, err = tp.Eval(s)
	require.NoError(t, err)
	require.Equal(t, `train a at 0.01 over ["a","b"]`, v)
	_, err = spec.ParseTemplate("x ${{ params.lr")
	require.ErrorContains(t, err, "unclosed")
}

func TestResolveParams(t *testing.T) {
	src, err := os.ReadFile("testdata/good/full.yaml")
	require.NoError(t, err)
	plan, err := spec.Load("full.yaml", src, steps.Default(), spec.Limits{})
	require.NoError(t, err)
	flags, err := spec.ParseParamFlags([]string{"epochs=5", "models=a, b ,c", "label=x", "quick=true"})
	require.NoError(t, err)
	p, err := plan.ResolveParams(flags)
	require.NoError(t, err)
	require.Equal(t, spec.Params{"data_url": "https://example.com/data.csv", "epochs": int64(5), "lr": 0.01,
		"quick": true, "models": []any{"a", "b", "c"}, "label": "x"}, p)
	p, err = plan.ResolveParams(map[string]any{"label": "x", "models": `["a", 2]`})
	require.NoError(t, err)
	require.Equal(t, []any{"a", int64(2)}, p["models"])

	_, err = plan.ResolveParams(map[string]any{"epochs": "many", "nope": "1", "quick": "maybe"})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, `unknown parameter "nope"`)
	require.ErrorContains(t, err, `parameter "epochs" must be an integer, got "many"`)
	require.ErrorContains(t, err, `parameter "quick" must be true or false`)
	require.ErrorContains(t, err, `parameter "label" is required`)
	_, err = spec.ParseParamFlags([]string{"novalue"})
	require.Error(t, err)

	// Integers outside int64's range, as JSON floats or as text, are
	// refused; the extremes are kept exactly.
	for _, v := range []any{float64(1 << 63), 1e30, -1e30, math.Inf(1), 2.5, "9223372036854775808", "-9223372036854775809"} {
		_, err = plan.ResolveParams(map[string]any{"label": "x", "epochs": v})
		require.ErrorContains(t, err, `parameter "epochs" must be an integer`, "%v", v)
	}
	for v, want := range map[any]int64{float64(-1 << 63): math.MinInt64, int64(math.MaxInt64): math.MaxInt64, "9223372036854775807": math.MaxInt64, 3.0: 3} {
		p, err = plan.ResolveParams(map[string]any{"label": "x", "epochs": v})
		require.NoError(t, err, "%v", v)
		require.Equal(t, want, p["epochs"], "%v", v)
	}
}

// A param with an enum takes only its listed values; a spec whose enum
// cannot work is refused, naming the param.
func TestParamEnum(t *testing.T) {
	src := `name: e
params:
  scheduler: {type: string, enum: [asha, median, fifo], default: asha}
  size: {type: int, enum: [32, 64], default: 32}
tasks:
  a: {run: "echo ${{ params.scheduler }} ${{ params.size }}"}
`
	plan, err := spec.Load("e.yaml", []byte(src), steps.Default(), spec.Limits{})
	require.NoError(t, err)
	for _, s := range []string{"asha", "median", "fifo"} {
		p, err := plan.ResolveParams(map[string]any{"scheduler": s, "size": "64"})
		require.NoError(t, err, s)
		require.Equal(t, spec.Params{"scheduler": s, "size": int64(64)}, p)
	}
	_, err = plan.ResolveParams(map[string]any{"scheduler": "pbt", "size": 48.0})
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	require.ErrorContains(t, err, `parameter "scheduler" is "pbt": expected one of "asha", "median", "fifo"`)
	require.ErrorContains(t, err, `parameter "size" is 48: expected one of 32, 64`)

	for body, want := range map[string]string{
		`{type: bool, enum: [true], default: true}`: `param "x": enum applies to string, int and float params, not bool`,
		`{type: string, enum: [a, b], default: c}`:  `param "x": default "c" is not one of its enum "a", "b"`,
		`{type: string, enum: [a, a]}`:              `param "x": enum lists "a" twice`,
		`{type: int, enum: [1, two]}`:               `param "x": enum value 2 ("two") is not of type int`,
		`{type: string, enum: []}`:                  `param "x": enum must be a non-empty list`,
		`{type: string, enum: solo}`:                `param "x": enum must be a non-empty list`,
	} {
		_, err := spec.Load("e.yaml", []byte("name: e\nparams:\n  x: "+body+"\ntasks:\n  a: {run: echo}\n"), steps.Default(), spec.Limits{})
		require.ErrorContains(t, err, want, body)
	}
}
