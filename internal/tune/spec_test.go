package tune_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tune"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./internal/tune -update to create the golden file")
	require.Equal(t, string(want), got)
}

const exampleYAML = `
metric: val_accuracy
mode: max            # or min
samples: 2
sampler: {type: grid, seed: 1}
scheduler: {type: asha, max_t: 10, grace_period: 1, reduction_factor: 3}
max_concurrent: 2
max_failures: 2
resources: {cpu: 1, gpu: 0.5, memory: 1GiB}
space:
  model: {grid: [small, wide, deep, residual]}
  lr: {grid: [0.001, 0.003]}
  dropout: {uniform: [0.0, 0.5]}
  batch: {choice: [32, 64]}
  wd: {loguniform: [1e-5, 1e-3]}
  layers: {randint: [1, 4]}
  width: {qrandint: [32, 256, 32]}
  momentum: {quniform: [0.8, 0.99, 0.01]}
  eps: {qloguniform: [1e-8, 1e-4, 1e-8]}
  epochs: 10
`

func TestParseSpec(t *testing.T) {
	s, err := tune.ParseSpec([]byte(exampleYAML))
	require.NoError(t, err)
	require.Equal(t, "val_accuracy", s.Metric)
	require.Equal(t, tune.Max, s.Mode)
	require.Equal(t, 2, s.Samples)
	require.Equal(t, tune.SamplerSpec{Type: "grid", Seed: 1}, s.Sampler)
	require.Equal(t, tune.SchedulerSpec{Type: "asha", MaxT: 10, GracePeriod: 1, ReductionFactor: 3}, s.Scheduler)
	require.Equal(t, 2, s.MaxConcurrent)
	require.Equal(t, 2, s.MaxFailures)
	require.Equal(t, tune.Resources{CPU: 1, GPU: 0.5, Memory: 1 << 30}, s.Resources)
	require.Equal(t, tune.Param{Kind: tune.Grid, Values: []any{"small", "wide", "deep", "residual"}}, s.Space["model"])
	require.Equal(t, tune.Param{Kind: tune.Choice, Values: []any{32, 64}}, s.Space["batch"])
	require.Equal(t, tune.Param{Kind: tune.LogUniform, Low: 1e-5, High: 1e-3}, s.Space["wd"])
	require.Equal(t, tune.Param{Kind: tune.QRandInt, Low: 32, High: 256, Q: 32}, s.Space["width"])
	require.Equal(t, tune.Param{Kind: tune.Const, Value: 10}, s.Space["epochs"])
	require.Equal(t, 16, s.Size()) // 4 models x 2 rates x 2 repeats
}

// TestJSONMatchesYAML decodes the same spec from YAML and, as a step's
// `with:` would be, from strict JSON: both must agree.
func TestJSONMatchesYAML(t *testing.T) {
	fromYAML, err := tune.ParseSpec([]byte(exampleYAML + nestedSpace))
	require.NoError(t, err)
	wire, err := json.Marshal(fromYAML)
	require.NoError(t, err)

	var fromJSON tune.Spec
	dec := json.NewDecoder(bytes.NewReader(wire))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&fromJSON))
	require.NoError(t, fromJSON.Validate())
	again, err := json.Marshal(&fromJSON)
	require.NoError(t, err)
	require.JSONEq(t, string(wire), string(again))
	require.Equal(t, fromYAML.Space, fromJSON.Space, "ints stay ints, floats floats")
}

const nestedSpace = `  arch:
    choice:
      cnn: {kernel: {choice: [3, 5]}, lr2: {loguniform: [1e-4, 1e-2]}}
      mlp: {lr2: {loguniform: [1e-3, 3e-2]}}
      linear: {}
`

func TestJSONStrict(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown top field", `{"metric":"m","mode":"max","space":{"x":1},"samplez":3}`, `unknown field "samplez"`},
		{"unknown kind", `{"metric":"m","mode":"max","space":{"x":{"unifrom":[0,1]}}}`, `space.x: unknown kind "unifrom"`},
		{"bad shape", `{"metric":"m","mode":"max","space":{"x":{"uniform":[0]}}}`, `space.x: uniform takes [low, high] as numbers, got [0]`},
		{"nested", `{"metric":"m","mode":"max","space":{"m":{"choice":{"a":{"lr":{"uniform":1}}}}}}`, `space.m.choice.a.lr: uniform takes [low, high] as numbers, got 1`},
		{"memory", `{"metric":"m","mode":"max","space":{"x":1},"resources":{"memory":"lots"}}`, `"lots" is not a size`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s tune.Spec
			dec := json.NewDecoder(strings.NewReader(tt.json))
			dec.DisallowUnknownFields()
			err := dec.Decode(&s)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseSpecProblems(t *testing.T) {
	const head = "metric: m\nmode: max\n"
	tests := []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"unknown field names field and line", head + "samples: 2\nsampler: {typ: tpe}\nspace: {x: 1}\n",
			[]string{`line 4: sampler: unknown field "typ" of sampler (known: type, seed, startup, gamma, candidates)`}},
		{"unknown top field", head + "space: {x: 1}\nmax_concurent: 2\n",
			[]string{`line 4: unknown field "max_concurent"`}},
		{"low >= high", head + "space:\n  x: {uniform: [1, 1]}\n", []string{"line 4: space.x: uniform low 1 must be below high 1"}},
		{"loguniform low <= 0", head + "space:\n  x: {loguniform: [0, 1]}\n", []string{"line 4: space.x: loguniform low must be above 0, got 0"}},
		{"empty choice", head + "space:\n  x: {choice: []}\n", []string{"line 4: space.x: choice needs at least one value"}},
		{"unknown kind", head + "space:\n  x: {normal: [0, 1]}\n", []string{`line 4: space.x: unknown kind "normal" (known: grid, choice,`}},
		{"q <= 0", head + "space:\n  x: {quniform: [0, 1, 0]}\n", []string{"line 4: space.x: quniform q must be above 0, got 0"}},
		{"no multiple of q", head + "space:\n  x: {quniform: [0.1, 0.2, 1]}\n", []string{"space.x: quniform has no multiple of 1 between 0.1 and 0.2"}},
		{"randint bounds", head + "space:\n  x: {randint: [0.5, 3]}\n", []string{"space.x: randint bounds must be integers"}},
		{"qrandint q", head + "space:\n  x: {qrandint: [0, 8, 1.5]}\n", []string{"space.x: qrandint q must be an integer"}},
		{"randint past 2^53", head + "space:\n  x: {randint: [0, 9223372036854775807]}\n",
			[]string{"space.x: randint bounds must lie within -2^53 and 2^53, got 0 and 9.223372036854776e+18"}},
		{"qrandint past 2^53", head + "space:\n  x: {qrandint: [-1e300, 0, 2]}\n", []string{"space.x: qrandint bounds must lie within -2^53 and 2^53"}},
		{"quniform steps past 2^53", head + "space:\n  x: {quniform: [0, 1, 1e-300]}\n",
			[]string{"space.x: quniform bounds 0 and 1 are more than 2^53 multiples of q 1e-300 from 0"}},
		{"uniform wider than a float", head + "space:\n  x: {uniform: [-1e308, 1e308]}\n",
			[]string{"space.x: uniform range -1e+308 to 1e+308 is wider than a number holds"}},
		{"duplicate value", head + "space:\n  x: {grid: [1, 2, 1]}\n", []string{"space.x: grid lists 1 twice"}},
		{"bare list", head + "space:\n  x: [1, 2]\n", []string{"space.x: a list of values must be written {grid: [...]} or {choice: [...]}"}},
		{"two kinds", head + "space:\n  x: {uniform: [0, 1], choice: [1]}\n", []string{"space.x: must be one distribution"}},
		{"nested problem", head + "space:\n  m:\n    choice:\n      a: {lr: {loguniform: [-1, 1]}}\n",
			[]string{"line 6: space.m.choice.a.lr: loguniform low must be above 0, got -1"}},
		{"name clash", head + "space:\n  lr: {uniform: [0, 1]}\n  m:\n    choice:\n      a: {lr: {uniform: [0, 1]}}\n",
			[]string{`space.m: parameter "lr" is also given under "lr"`}},
		{"name of an ancestor", head + "space:\n  m:\n    choice:\n      a: {m: {uniform: [0, 1]}}\n",
			[]string{`line 6: space.m.choice.a.m: parameter "m" is nested under a parameter of the same name`}},
		{"options may share names", head + "space:\n  m:\n    choice:\n      a: {lr: {uniform: [0, 1]}}\n      b: {lr: {uniform: [0, 2]}}\n  x: {uniform: [1, 0]}\n",
			[]string{"space.x: uniform low 1 must be below high 0"}},
		{"no space", head, []string{"space: is required"}},
		{"missing metric and mode", "space: {x: 1}\n", []string{"metric: is required", `mode: must be max or min, got ""`}},
		{"wrong type", head + "samples: many\nspace: {x: 1}\n", []string{`line 3: samples: must be an integer, got "many"`}},
		{"duplicate key", head + "space: {x: 1}\nmetric: n\n", []string{`line 4: field "metric" is given twice`}},
		{"scheduler settings", head + "space: {x: 1}\nscheduler: {type: median, reduction_factor: 3}\n",
			[]string{"scheduler: max_t and reduction_factor apply to the asha scheduler only"}},
		{"asha grace above max_t", head + "space: {x: 1}\nscheduler: {type: asha, max_t: 3, grace_period: 5}\n",
			[]string{"scheduler.grace_period: 5 must not exceed max_t 3"}},
		{"tpe settings on grid", head + "space: {x: 1}\nsampler: {startup: 3}\n", []string{"sampler: startup, gamma and candidates apply to the tpe sampler only"}},
		{"bad yaml", "metric: [\n", []string{"invalid YAML"}},
		{"two documents", head + "space: {x: 1}\n---\nmetric: n\n", []string{"one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tune.ParseSpec([]byte(tt.yaml))
			require.Error(t, err)
			require.Equal(t, errs.Invalid, errs.KindOf(err))
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			if tt.name == "options may share names" {
				require.NotContains(t, err.Error(), "lr")
			}
		})
	}
}

// TestEveryProblemAtOnce checks the full report of a spec with many mistakes.
func TestEveryProblemAtOnce(t *testing.T) {
	src, err := os.ReadFile("testdata/bad.yaml")
	require.NoError(t, err)
	_, err = tune.ParseSpec(src)
	require.Error(t, err)
	var ve *tune.ValidationError
	require.ErrorAs(t, err, &ve)
	require.GreaterOrEqual(t, len(ve.Problems), 8)
	golden(t, "bad.golden", err.Error()+"\n")
}

func TestValidateBuiltInGo(t *testing.T) {
	s := &tune.Spec{Metric: "loss", Mode: tune.Min, Space: tune.Space{
		"lr": {Kind: tune.LogUniform, Low: 0, High: 1},
		"x":  {Kind: tune.Choice, Values: []any{[]int{1}}},
		"y":  {Kind: "gaussian"},
		"z":  {Kind: tune.Uniform, Low: 0, High: 1, Options: map[string]tune.Space{"a": nil}},
	}}
	err := s.Validate()
	require.Equal(t, errs.Invalid, errs.KindOf(err))
	var ve *tune.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []tune.Problem{
		{Path: "space.lr", Msg: "loguniform low must be above 0, got 0"},
		{Path: "space.x", Msg: "choice values must be strings, numbers or booleans, got []int"},
		{Path: "space.y", Msg: `unknown kind "gaussian" (known: grid, choice, uniform, loguniform, randint, quniform, qloguniform, qrandint)`},
		{Path: "space.z", Msg: "uniform takes no options: only grid and choice do"},
	}, ve.Problems)
}

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   tune.Spec
		want tune.Spec
	}{
		{"grid", tune.Spec{}, tune.Spec{Samples: 1, Sampler: tune.SamplerSpec{Type: "grid"},
			Scheduler: tune.SchedulerSpec{Type: "fifo"}, Resources: tune.Resources{CPU: 1}}},
		{"tpe and asha", tune.Spec{Sampler: tune.SamplerSpec{Type: "tpe"}, Scheduler: tune.SchedulerSpec{Type: "asha"}},
			tune.Spec{Samples: 10, Sampler: tune.SamplerSpec{Type: "tpe", Startup: 10, Gamma: 0.25, Candidates: 24},
				Scheduler: tune.SchedulerSpec{Type: "asha", MaxT: 100, GracePeriod: 1, ReductionFactor: 4}, Resources: tune.Resources{CPU: 1}}},
		{"median", tune.Spec{Sampler: tune.SamplerSpec{Type: "random"}, Scheduler: tune.SchedulerSpec{Type: "median"}, Resources: tune.Resources{GPU: 1}},
			tune.Spec{Samples: 10, Sampler: tune.SamplerSpec{Type: "random"},
				Scheduler: tune.SchedulerSpec{Type: "median", GracePeriod: 1, MinSamples: 3}, Resources: tune.Resources{CPU: 1, GPU: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.in.WithDefaults())
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want tune.Bytes
		show string
	}{
		{"1GiB", 1 << 30, "1GiB"},
		{"512Mi", 512 << 20, "512MiB"},
		{"1.5G", 1500000000, "1.4GiB"},
		{"1048576", 1 << 20, "1MiB"},
		{"100", 100, "100B"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			b, err := tune.ParseBytes(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, b)
			require.Equal(t, tt.show, b.String())
		})
	}
	_, err := tune.ParseBytes("2 parsecs")
	require.Error(t, err)
}

func TestParamJSONRoundTrip(t *testing.T) {
	params := []tune.Param{
		{Kind: tune.Const, Value: "adam"},
		{Kind: tune.Grid, Values: []any{"a", 2, 0.5, true}},
		{Kind: tune.Choice, Values: []any{"big", "small"}, Options: map[string]tune.Space{
			"big":   {"lr": {Kind: tune.LogUniform, Low: 1e-4, High: 0.1}},
			"small": nil,
		}},
		{Kind: tune.Uniform, Low: -1, High: 1},
		{Kind: tune.RandInt, Low: 1, High: 10},
		{Kind: tune.QUniform, Low: 0, High: 1, Q: 0.25},
		{Kind: tune.QLogUniform, Low: 1, High: 100, Q: 1},
		{Kind: tune.QRandInt, Low: 8, High: 64, Q: 8},
	}
	for _, p := range params {
		t.Run(string(p.Kind), func(t *testing.T) {
			b, err := json.Marshal(p)
			require.NoError(t, err)
			var back tune.Param
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, p, back, "via %s", b)
		})
	}
	var bad tune.Param
	err := json.Unmarshal([]byte(`{"uniform": [1, "x"]}`), &bad)
	require.ErrorContains(t, err, `param: uniform takes [low, high] as numbers, got [1, "x"]`)
}

func TestMemoryForms(t *testing.T) {
	tests := []struct {
		yaml string
		want tune.Bytes
		err  string
	}{
		{"1048576", 1 << 20, ""},
		{"2Gi", 2 << 30, ""},
		{"1.5", 0, "line 4: resources.memory: must be a whole number of bytes"},
		{"lots", 0, `line 4: resources.memory: "lots" is not a size`},
		{"[1]", 0, "line 4: resources.memory: must be a number, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			s, err := tune.ParseSpec([]byte("metric: m\nmode: min\nspace: {x: 1}\nresources: {memory: " + tt.yaml + "}\n"))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, s.Resources.Memory)
		})
	}
}

// sweepStep is how a pipeline step may take a sweep in its `with:`: the
// spec's fields inline, next to the step's own, decoded strictly.
type sweepStep struct {
	tune.Spec
	Command string `json:"command"`
}

func TestSpecEmbedsInAStepsInputs(t *testing.T) {
	with := `{"command": "cairn train", "metric": "loss", "mode": "min", "samples": 4,
		"sampler": {"type": "random", "seed": 3}, "resources": {"cpu": 0.5, "memory": "512Mi"},
		"space": {"lr": {"loguniform": [0.0001, 0.1]}, "batch": {"choice": [32, 64]}}}`
	var step sweepStep
	dec := json.NewDecoder(strings.NewReader(with))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&step))
	require.NoError(t, step.Validate())
	require.Equal(t, "cairn train", step.Command)
	require.Equal(t, tune.Bytes(512<<20), step.Resources.Memory)
	require.Equal(t, tune.Param{Kind: tune.Choice, Values: []any{32, 64}}, step.Space["batch"])
	require.Equal(t, 4, step.Size())

	dec = json.NewDecoder(strings.NewReader(`{"command": "x", "metrc": "loss"}`))
	dec.DisallowUnknownFields()
	require.ErrorContains(t, dec.Decode(&step), `unknown field "metrc"`)
}

// Per-scheduler blocks let the type be a parameter: the chosen type's block
// applies, the others are ignored but still checked, and a setting given
// twice is refused.
func TestSchedulerPerTypeSettings(t *testing.T) {
	base := "metric: m\nmode: max\nspace: {lr: {grid: [1, 2]}}\nscheduler:\n  type: %s\n  asha: {max_t: 6, grace_period: 1, reduction_factor: 2}\n  median: {grace_period: 2, min_samples: 2}\n"
	for typ, want := range map[string]tune.SchedulerSpec{
		"asha":   {Type: "asha", MaxT: 6, GracePeriod: 1, ReductionFactor: 2},
		"median": {Type: "median", GracePeriod: 2, MinSamples: 2},
		"fifo":   {Type: "fifo"},
	} {
		s, err := tune.ParseSpec([]byte(strings.ReplaceAll(base, "%s", typ)))
		require.NoError(t, err, typ)
		require.NoError(t, s.Validate(), typ)
		require.Equal(t, want, s.WithDefaults().Scheduler, typ)
		_, err = tune.NewScheduler(s)
		require.NoError(t, err, typ)
	}
	// The same through JSON, as a pipeline step's inputs arrive.
	var js tune.Spec
	require.NoError(t, json.Unmarshal([]byte(`{"metric": "m", "mode": "max", "space": {"lr": {"grid": [1]}},
		"scheduler": {"type": "fifo", "asha": {"max_t": 6}, "median": {"grace_period": 1}}}`), &js))
	require.NoError(t, js.Validate())

	for src, msg := range map[string]string{
		"scheduler: {type: fifo, median: {max_t: 3}}":                "scheduler.median: max_t and reduction_factor apply to the asha scheduler only",
		"scheduler: {type: asha, max_t: 5, asha: {max_t: 6}}":        "scheduler.max_t: is given both here and under scheduler.asha",
		"scheduler: {type: fifo, asha: {reduction_factor: 0.5}}":     "scheduler.asha.reduction_factor: must be above 1",
		"scheduler: {type: asha, asha: {max_t: 2, grace_period: 3}}": "grace_period: 3 must not exceed max_t 2",
		"scheduler: {type: fifo, asha: {beta: 1}}":                   `scheduler.asha: unknown field "beta"`,
	} {
		_, err := tune.ParseSpec([]byte("metric: m\nmode: max\nspace: {lr: {grid: [1]}}\n" + src + "\n"))
		require.Error(t, err, src)
		require.ErrorContains(t, err, msg, src)
	}
}
