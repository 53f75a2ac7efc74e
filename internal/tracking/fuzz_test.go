package tracking

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// FuzzParseFilter parses arbitrary filters and order_by keys against every
// schema. The parser never panics; what it refuses is an Invalid error of
// bounded size; what it accepts is within the search limits, and written
// back out as MLflow syntax it parses to the same clauses.
//
//	go test -run '^$' -fuzz '^FuzzParseFilter$' -fuzztime 2m ./internal/tracking/
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"", "metrics.acc > 0.9", "metric.`my metric` <= -1e3", `params.lr = '0.01' and tags."a b" LIKE 'x%'`,
		`tags.t != "it's"`, "attributes.run_id IN ('a', 'b')", "run_name NOT IN ('x')", "attr.created >= 5",
		"status ILIKE 'fin%'", "datasets.digest IN ('d1','d2') AND datasets.context = 'train'",
		"tags.x IS NULL AND params.y IS NOT NULL", "metrics.a == 1", "metrics.a <> 1", "tags.'q''s' = 'a''b'",
		`tags."d""q" = "x\"y"`, "metrics.a > 1 OR metrics.b > 1", "metrics.a > 1 AND", "params.lr = 'unterminated",
		"run_id IN ('a'", "metrics.a > inf", "metrics.a > NaN", "metrics.a > 1e400", "name = 'm' AND tags.k = 'v'",
		"creation_time > 1 AND experiment_id IN ('1')", "version_number >= 2 AND current_stage = 'Production'",
		"model_id IN ('m-1') AND status = 'LOGGED_MODEL_READY'", "tags.`a.b`.c = 'x'", "!= 'x'", "( ) ,",
	} {
		f.Add(s, "metrics.acc DESC")
	}
	f.Add("metrics.a > 0", "attributes.start_time")
	f.Add("", "params.`a b` asc")
	f.Add("", "name DESC")
	schemas := []Schema{RunSchema, ExperimentSchema, LoggedModelSchema,
		{What: "strict", Kinds: map[string]bool{KindTag: true, KindAttribute: true}, Attributes: map[string]string{"name": "name"},
			ListAttrs: map[string]bool{"name": true}}}
	f.Fuzz(func(t *testing.T, filter, order string) {
		for _, s := range schemas {
			got, err := ParseFilter(s, filter)
			if err != nil {
				checkRefusal(t, err, filter)
			} else {
				checkFilter(t, s, filter, got)
			}
			ob, err := ParseOrderBy(s, strings.Split(order, ";"))
			if err != nil {
				checkRefusal(t, err, order)
				continue
			}
			for _, o := range ob {
				if !s.Kinds[o.Kind] || o.Kind == KindDataset || o.Key == "" {
					t.Fatalf("order_by %q: accepted %+v for %s", order, o, s.What)
				}
			}
		}
	})
}

func checkRefusal(t *testing.T, err error, input string) {
	t.Helper()
	if errs.KindOf(err) != errs.Invalid {
		t.Fatalf("%q: error of kind %v, not Invalid: %v", input, errs.KindOf(err), err)
	}
	// A message may quote a token of the input (%q writes at most 4 bytes
	// a byte) but never more.
	if n := len(err.Error()); n > 4*len(input)+2000 {
		t.Fatalf("%d-byte input: %d-byte message", len(input), n)
	}
}

func checkFilter(t *testing.T, s Schema, filter string, got Filter) {
	t.Helper()
	if len(got) > MaxFilterClauses {
		t.Fatalf("%q: %d clauses accepted", filter, len(got))
	}
	values := 0
	for _, c := range got {
		values += len(c.List)
		if !s.Kinds[c.Kind] || c.Key == "" {
			t.Fatalf("%q: accepted %+v for %s", filter, c, s.What)
		}
		if c.Kind == KindAttribute {
			if _, ok := canonical(s)[c.Key]; !ok {
				t.Fatalf("%q: attribute %q is not canonical for %s", filter, c.Key, s.What)
			}
		}
		if (c.Op == "IN" || c.Op == "NOT IN") != (c.List != nil) {
			t.Fatalf("%q: %+v", filter, c)
		}
	}
	if values > MaxFilterValues {
		t.Fatalf("%q: %d values accepted", filter, values)
	}
	// Round trip: the clauses written back parse to the same clauses.
	back := writeFilter(s, got)
	again, err := ParseFilter(s, back)
	if err != nil {
		t.Fatalf("%q: written back as %q: %v", filter, back, err)
	}
	if !sameFilter(got, again) {
		t.Fatalf("%q: written back as %q parses to %+v, not %+v", filter, back, again, got)
	}
}

func canonical(s Schema) map[string]bool {
	out := map[string]bool{}
	for _, c := range s.Attributes {
		out[c] = true
	}
	return out
}

var kindWords = map[string]string{KindMetric: "metrics", KindParam: "params", KindTag: "tags", KindAttribute: "attributes", KindDataset: "datasets"}

// writeFilter writes a filter in MLflow syntax, every key double-quoted and
// every string single-quoted, backslashes and quotes escaped.
func writeFilter(s Schema, f Filter) string {
	q := func(v string, c byte) string {
		v = strings.ReplaceAll(v, `\`, `\\`)
		return string(c) + strings.ReplaceAll(v, string(c), string(c)+string(c)) + string(c)
	}
	var parts []string
	for _, c := range f {
		b := kindWords[c.Kind] + "." + q(c.Key, '"') + " " + c.Op
		switch {
		case c.Op == "IS NULL" || c.Op == "IS NOT NULL":
		case c.List != nil:
			l := make([]string, len(c.List))
			for i, v := range c.List {
				l[i] = q(v, '\'')
			}
			b += " (" + strings.Join(l, ", ") + ")"
		case c.Kind == KindMetric || c.Kind == KindAttribute && s.Numeric[c.Key]:
			b += " " + strconv.FormatFloat(c.Num, 'g', -1, 64)
		default:
			b += " " + q(c.Str, '\'')
		}
		parts = append(parts, b)
	}
	return strings.Join(parts, " AND ")
}

func sameFilter(a, b Filter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		sameNum := x.Num == y.Num || math.IsNaN(x.Num) && math.IsNaN(y.Num)
		if x.Kind != y.Kind || x.Key != y.Key || x.Op != y.Op || x.Str != y.Str || !sameNum || !slices.Equal(x.List, y.List) {
			return false
		}
	}
	return true
}
