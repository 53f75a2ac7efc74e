package tune_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tune"
)

// FuzzTuneSpec decodes arbitrary tune specs. ParseSpec never panics and
// refuses only with Invalid errors; a spec it accepts validates, survives
// the JSON wire form (a pipeline step's inputs) unchanged, and gives a
// sampler whose first suggestions are drawn without error.
//
//	go test -run '^$' -fuzz '^FuzzTuneSpec$' -fuzztime 2m ./internal/tune/
func FuzzTuneSpec(f *testing.F) {
	bad, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		exampleYAML, exampleYAML + nestedSpace, string(bad),
		"metric: m\nmode: min\nspace: {x: 1}\n",
		"metric: m\nmode: max\nsampler: {type: tpe, seed: 3, startup: 2}\nsamples: 4\nspace: {x: {uniform: [0, 1]}, y: {choice: [a, b]}}\n",
		"metric: m\nmode: max\nsampler: {type: random}\nscheduler: {type: median, grace_period: 2, min_samples: 2}\nspace: {x: {loguniform: [1e-5, 1]}}\n",
		"metric: m\nmode: max\nspace: {g: {grid: [1, 2, 3]}, h: {grid: {a: {k: {grid: [1, 2]}}, b: {}}}}\n",
		`{"metric": "m", "mode": "max", "space": {"x": {"qrandint": [1, 9, 2]}}, "resources": {"memory": "1Gi"}}`,
		"metric: m\nmode: max\nspace: {x: {uniform: [1, 0]}}\n", "metric: m\nmode: max\nspace: {x: {randint: [0, 9223372036854775807]}}\n",
		"metric: m\nmode: max\nspace: &a {x: *a}\n", "", "---\n---\n", "[]", "metric: m\nmode: sideways\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := tune.ParseSpec(src)
		if err != nil {
			if errs.KindOf(err) != errs.Invalid {
				t.Fatalf("error of kind %v, not Invalid: %v", errs.KindOf(err), err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSpec accepted a spec that does not validate: %v", err)
		}
		wire, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back tune.Spec
		dec := json.NewDecoder(bytes.NewReader(wire))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("the JSON form %s does not decode: %v", wire, err)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("the JSON form %s does not validate: %v", wire, err)
		}
		again, err := json.Marshal(&back)
		if err != nil || !bytes.Equal(wire, again) {
			t.Fatalf("JSON round trip changed the spec:\n%s\n%s", wire, again)
		}
		if s.Size() <= 0 {
			t.Fatalf("an accepted spec of size %d", s.Size())
		}
		sm, err := tune.NewSampler(s)
		if err != nil {
			t.Fatalf("sampler: %v", err)
		}
		for n := range 3 {
			if _, _, err := sm.Suggest(n, nil); err != nil {
				t.Fatalf("suggestion %d: %v", n, err)
			}
		}
	})
}
