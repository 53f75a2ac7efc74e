package tracking_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// These tests pin the filter grammar of MLflow's SearchUtils
// (mlflow/utils/search_utils.py) as Cairn parses it, and say where Cairn is
// deliberately more lenient.

type grammarCase struct {
	in   string
	want tracking.Filter
}

func requireParses(t *testing.T, s tracking.Schema, cases []grammarCase) {
	t.Helper()
	for _, tc := range cases {
		got, err := tracking.ParseFilter(s, tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func one(c tracking.Clause) tracking.Filter { return tracking.Filter{c} }

func metric(key, op string, n float64) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindMetric, Key: key, Op: op, Num: n}
}

func str(kind, key, op, s string) tracking.Clause {
	return tracking.Clause{Kind: kind, Key: key, Op: op, Str: s}
}

func attrNum(key, op string, n float64) tracking.Clause {
	return tracking.Clause{Kind: tracking.KindAttribute, Key: key, Op: op, Num: n}
}

func list(kind, key, op string, vs ...string) tracking.Clause {
	return tracking.Clause{Kind: kind, Key: key, Op: op, List: vs}
}

func TestFilterGrammarOperators(t *testing.T) {
	requireParses(t, tracking.RunSchema, []grammarCase{
		// Metrics take MLflow's VALID_METRIC_COMPARATORS.
		{"metrics.m = 1", one(metric("m", "=", 1))},
		{"metrics.m != 1", one(metric("m", "!=", 1))},
		{"metrics.m > 1", one(metric("m", ">", 1))},
		{"metrics.m >= 1", one(metric("m", ">=", 1))},
		{"metrics.m < 1", one(metric("m", "<", 1))},
		{"metrics.m <= 1", one(metric("m", "<=", 1))},
		// SQL spellings of = and != are read as them.
		{"metrics.m == 1", one(metric("m", "=", 1))},
		{"metrics.m <> 1", one(metric("m", "!=", 1))},
		// No space is needed around an operator.
		{"metrics.m>=-1", one(metric("m", ">=", -1))},
		// Params and tags take VALID_PARAM_COMPARATORS / VALID_TAG_COMPARATORS.
		{"params.p = 'a'", one(str(tracking.KindParam, "p", "=", "a"))},
		{"params.p != 'a'", one(str(tracking.KindParam, "p", "!=", "a"))},
		{"params.p LIKE 'a%'", one(str(tracking.KindParam, "p", "LIKE", "a%"))},
		{"params.p ILIKE 'A%'", one(str(tracking.KindParam, "p", "ILIKE", "A%"))},
		{"tags.t = 'a'", one(str(tracking.KindTag, "t", "=", "a"))},
		{"tags.t != 'a'", one(str(tracking.KindTag, "t", "!=", "a"))},
		{"tags.t LIKE '%a'", one(str(tracking.KindTag, "t", "LIKE", "%a"))},
		{"tags.t ILIKE '_a'", one(str(tracking.KindTag, "t", "ILIKE", "_a"))},
		// Keywords are case-insensitive and come back upper case.
		{"params.p like 'a%'", one(str(tracking.KindParam, "p", "LIKE", "a%"))},
		{"params.p iLike 'a%'", one(str(tracking.KindParam, "p", "ILIKE", "a%"))},
		// String attributes also take IN and NOT IN.
		{"attributes.run_id IN ('a', 'b')", one(list(tracking.KindAttribute, "run_id", "IN", "a", "b"))},
		{"attributes.run_id NOT IN ('a')", one(list(tracking.KindAttribute, "run_id", "NOT IN", "a"))},
		{"attributes.run_id in ('a')", one(list(tracking.KindAttribute, "run_id", "IN", "a"))},
		{"attributes.run_id not in ('a')", one(list(tracking.KindAttribute, "run_id", "NOT IN", "a"))},
		{"attributes.status LIKE 'FIN%'", one(str(tracking.KindAttribute, "status", "LIKE", "FIN%"))},
		// Numeric attributes take the metric comparators.
		{"attributes.start_time > 10", one(attrNum("start_time", ">", 10))},
		{"attributes.end_time <= 10", one(attrNum("end_time", "<=", 10))},
		// Datasets take VALID_DATASET_COMPARATORS.
		{"datasets.name = 'd'", one(str(tracking.KindDataset, "name", "=", "d"))},
		{"datasets.name != 'd'", one(str(tracking.KindDataset, "name", "!=", "d"))},
		{"datasets.digest LIKE 'ab%'", one(str(tracking.KindDataset, "digest", "LIKE", "ab%"))},
		{"datasets.context ILIKE 'TR%'", one(str(tracking.KindDataset, "context", "ILIKE", "TR%"))},
		{"datasets.name IN ('a', 'b')", one(list(tracking.KindDataset, "name", "IN", "a", "b"))},
		{"datasets.digest NOT IN ('x')", one(list(tracking.KindDataset, "digest", "NOT IN", "x"))},
		{"datasets.context IN ('train')", one(list(tracking.KindDataset, "context", "IN", "train"))},
		// IS NULL and IS NOT NULL, on tags and params only.
		{"tags.t IS NULL", one(tracking.Clause{Kind: tracking.KindTag, Key: "t", Op: "IS NULL"})},
		{"tags.t is not null", one(tracking.Clause{Kind: tracking.KindTag, Key: "t", Op: "IS NOT NULL"})},
		{"params.p IS NOT NULL", one(tracking.Clause{Kind: tracking.KindParam, Key: "p", Op: "IS NOT NULL"})},
		{"params.p Is Null", one(tracking.Clause{Kind: tracking.KindParam, Key: "p", Op: "IS NULL"})},
	})
}

func TestFilterGrammarPrefixes(t *testing.T) {
	for prefix, kind := range map[string]string{
		"metric": tracking.KindMetric, "metrics": tracking.KindMetric,
		"param": tracking.KindParam, "params": tracking.KindParam,
		"parameter": tracking.KindParam, "parameters": tracking.KindParam,
		"tag": tracking.KindTag, "tags": tracking.KindTag,
		"attribute": tracking.KindAttribute, "attributes": tracking.KindAttribute,
		"attr": tracking.KindAttribute, "run": tracking.KindAttribute,
		"dataset": tracking.KindDataset, "datasets": tracking.KindDataset,
		// MLflow matches prefixes case-sensitively; Cairn accepts any case.
		"METRICS": tracking.KindMetric, "Params": tracking.KindParam, "TAGS": tracking.KindTag,
		"Attributes": tracking.KindAttribute, "DataSets": tracking.KindDataset,
	} {
		var in string
		var want tracking.Clause
		switch kind {
		case tracking.KindMetric:
			in, want = prefix+".acc > 0.5", metric("acc", ">", 0.5)
		case tracking.KindParam:
			in, want = prefix+".lr = '0.1'", str(kind, "lr", "=", "0.1")
		case tracking.KindTag:
			in, want = prefix+".team = 'x'", str(kind, "team", "=", "x")
		case tracking.KindAttribute:
			in, want = prefix+".status = 'FINISHED'", str(kind, "status", "=", "FINISHED")
		case tracking.KindDataset:
			in, want = prefix+".name = 'd'", str(kind, "name", "=", "d")
		}
		requireParses(t, tracking.RunSchema, []grammarCase{{in, one(want)}})
	}
	// A key without a prefix is an attribute.
	requireParses(t, tracking.RunSchema, []grammarCase{
		{"status = 'FAILED'", one(str(tracking.KindAttribute, "status", "=", "FAILED"))},
		// Only the first '.' splits the prefix off: the rest is the key.
		{"tags.mlflow.runName = 'r'", one(str(tracking.KindTag, "mlflow.runName", "=", "r"))},
		{"metrics.a.b.c < 2", one(metric("a.b.c", "<", 2))},
		// A key may start with a digit without quotes.
		{"metrics.2nd_loss < 2", one(metric("2nd_loss", "<", 2))},
	})
}

func TestFilterGrammarQuoting(t *testing.T) {
	requireParses(t, tracking.RunSchema, []grammarCase{
		// Keys with spaces or symbols are backticked or double-quoted after the prefix.
		{"tags.`a b` = 'x'", one(str(tracking.KindTag, "a b", "=", "x"))},
		{`tags."a b" = 'x'`, one(str(tracking.KindTag, "a b", "=", "x"))},
		{`params."model-type" = 'x'`, one(str(tracking.KindParam, "model-type", "=", "x"))},
		{"metrics.`error rate` <= 0.1", one(metric("error rate", "<=", 0.1))},
		// MLflow strips single quotes from a key too.
		{"tags.'a b' = 'x'", one(str(tracking.KindTag, "a b", "=", "x"))},
		// A quoted key may itself contain dots.
		{"tags.`mlflow.user` = 'me'", one(str(tracking.KindTag, "mlflow.user", "=", "me"))},
		// A bare backticked or double-quoted key is an attribute.
		{"`run_id` = 'r'", one(str(tracking.KindAttribute, "run_id", "=", "r"))},
		{`"run_name" = 'r'`, one(str(tracking.KindAttribute, "run_name", "=", "r"))},
		// Attribute keys may be quoted after the prefix as well.
		{"attributes.`start_time` > 1", one(attrNum("start_time", ">", 1))},
		// String values take single or double quotes.
		{`params.p = "x"`, one(str(tracking.KindParam, "p", "=", "x"))},
		{`params.p = "it's"`, one(str(tracking.KindParam, "p", "=", "it's"))},
		{`params.p = 'say "hi"'`, one(str(tracking.KindParam, "p", "=", `say "hi"`))},
		{"params.p = ''", one(str(tracking.KindParam, "p", "=", ""))},
		{"params.p = 'a b  c'", one(str(tracking.KindParam, "p", "=", "a b  c"))},
		{"params.p = 'a AND b'", one(str(tracking.KindParam, "p", "=", "a AND b"))},
		// A quote escapes itself by doubling, SQL style, or with a backslash.
		{"params.p = 'it''s'", one(str(tracking.KindParam, "p", "=", "it's"))},
		{`params.p = "say ""hi"""`, one(str(tracking.KindParam, "p", "=", `say "hi"`))},
		{`params.p = 'it\'s'`, one(str(tracking.KindParam, "p", "=", "it's"))},
		{`params.p = "a\"b"`, one(str(tracking.KindParam, "p", "=", `a"b`))},
		{`params.p = 'a\\b'`, one(str(tracking.KindParam, "p", "=", `a\b`))},
		// A backslash before anything else stays, so LIKE escapes and paths pass through.
		{`params.p = 'C:\dir'`, one(str(tracking.KindParam, "p", "=", `C:\dir`))},
		{`params.p LIKE '50\%'`, one(str(tracking.KindParam, "p", "LIKE", `50\%`))},
		// A backslash escapes a backtick in a key; doubled backticks do not.
		{"tags.`a\\`b` = 'x'", one(str(tracking.KindTag, "a`b", "=", "x"))},
		// Whitespace of any kind separates tokens; none is needed around quotes.
		{"params.p='x'", one(str(tracking.KindParam, "p", "=", "x"))},
		{"\tparams.p\n=\r\n'x'  ", one(str(tracking.KindParam, "p", "=", "x"))},
		{"tags.\"a\"='x'AND metrics.`m`>=2", tracking.Filter{str(tracking.KindTag, "a", "=", "x"), metric("m", ">=", 2)}},
	})
}

func TestFilterGrammarNumbers(t *testing.T) {
	for in, want := range map[string]float64{
		"0": 0, "42": 42, "007": 7, "-3": -3, "+3": 3,
		"1.5": 1.5, "-0.25": -0.25, ".5": 0.5, "5.": 5,
		"1e3": 1000, "1E3": 1000, "2.5e-3": 0.0025, "-1e+2": -100, "1.5E2": 150,
		"1700000000000": 1.7e12,
	} {
		requireParses(t, tracking.RunSchema, []grammarCase{
			{"metrics.m > " + in, one(metric("m", ">", want))},
			{"attributes.start_time >= " + in, one(attrNum("start_time", ">=", want))},
		})
	}
	// A number is a string to params, tags and string attributes: their
	// values are compared as text.
	requireParses(t, tracking.RunSchema, []grammarCase{
		{"params.lr = '1e-3'", one(str(tracking.KindParam, "lr", "=", "1e-3"))},
	})
}

func TestFilterGrammarAttributes(t *testing.T) {
	for in, want := range map[string]string{
		"run_id": "run_id", "run_uuid": "run_id", "run_name": "run_name", "status": "status",
		"artifact_uri": "artifact_uri", "user_id": "user_id",
	} {
		requireParses(t, tracking.RunSchema, []grammarCase{
			{"attributes." + in + " = 'v'", one(str(tracking.KindAttribute, want, "=", "v"))},
			{in + " != 'v'", one(str(tracking.KindAttribute, want, "!=", "v"))},
			{in + " IN ('v')", one(list(tracking.KindAttribute, want, "IN", "v"))},
		})
	}
	for in, want := range map[string]string{
		"start_time": "start_time", "end_time": "end_time", "created": "start_time", "Created": "start_time",
	} {
		requireParses(t, tracking.RunSchema, []grammarCase{
			{"attributes." + in + " < 5", one(attrNum(want, "<", 5))},
			{in + " = 5", one(attrNum(want, "=", 5))},
		})
	}
	for _, key := range []string{"start_time", "end_time"} {
		require.True(t, tracking.NumericRunAttribute(key), key)
	}
	for _, key := range []string{"run_id", "status", "created", "metrics"} {
		require.False(t, tracking.NumericRunAttribute(key), key)
	}
}

func TestFilterGrammarSchemas(t *testing.T) {
	requireParses(t, tracking.ExperimentSchema, []grammarCase{
		{"name = 'e'", one(str(tracking.KindAttribute, "name", "=", "e"))},
		{"attributes.name LIKE 'e%'", one(str(tracking.KindAttribute, "name", "LIKE", "e%"))},
		{"name IN ('a', 'b')", one(list(tracking.KindAttribute, "name", "IN", "a", "b"))},
		{"experiment_id = '1'", one(str(tracking.KindAttribute, "experiment_id", "=", "1"))},
		{"attributes.experiment_id NOT IN ('1', '2')", one(list(tracking.KindAttribute, "experiment_id", "NOT IN", "1", "2"))},
		{"creation_time > 5", one(attrNum("creation_time", ">", 5))},
		{"last_update_time <= 7", one(attrNum("last_update_time", "<=", 7))},
		{"tags.team = 'x'", one(str(tracking.KindTag, "team", "=", "x"))},
		{"tag.`a b` IS NULL", one(tracking.Clause{Kind: tracking.KindTag, Key: "a b", Op: "IS NULL"})},
	})
	requireParses(t, tracking.LoggedModelSchema, []grammarCase{
		{"name = 'm'", one(str(tracking.KindAttribute, "name", "=", "m"))},
		{"model_id IN ('m-1', 'm-2')", one(list(tracking.KindAttribute, "model_id", "IN", "m-1", "m-2"))},
		{"status = 'LOGGED_MODEL_READY'", one(str(tracking.KindAttribute, "status", "=", "LOGGED_MODEL_READY"))},
		{"source_run_id NOT IN ('r')", one(list(tracking.KindAttribute, "source_run_id", "NOT IN", "r"))},
		{"model_type = 'sklearn'", one(str(tracking.KindAttribute, "model_type", "=", "sklearn"))},
		{"creation_timestamp > 1", one(attrNum("creation_time", ">", 1))},
		{"creation_time > 1", one(attrNum("creation_time", ">", 1))},
		{"last_updated_timestamp < 2", one(attrNum("last_update_time", "<", 2))},
		{"last_update_time < 2", one(attrNum("last_update_time", "<", 2))},
		{"metrics.acc >= 0.5", one(metric("acc", ">=", 0.5))},
		{"params.p = 'x'", one(str(tracking.KindParam, "p", "=", "x"))},
		{"tags.t != 'x'", one(str(tracking.KindTag, "t", "!=", "x"))},
	})
	// A schema without Bare needs a prefix on every key.
	prefixed := tracking.RunSchema
	prefixed.Bare = false
	requireParses(t, prefixed, []grammarCase{
		{"attributes.status = 'x'", one(str(tracking.KindAttribute, "status", "=", "x"))},
	})
	requireFilterErrors(t, prefixed, []filterErr{
		{"status = 'x'", `key "status" at position 0 needs a prefix such as tags. or attributes.`},
		{"`status` = 'x'", `key "status" at position 0 needs a prefix such as tags. or attributes.`},
	})
	requireFilterErrors(t, tracking.ExperimentSchema, []filterErr{
		{"metrics.a > 1", "metric keys cannot be used to search experiments"},
		{"params.p = 'x'", "param keys cannot be used to search experiments"},
		{"datasets.name = 'x'", "dataset keys cannot be used to search experiments"},
		{"status = 'x'", `unknown attribute "status" at position 0: expected one of creation_time, experiment_id, last_update_time, name`},
		{"run_id = 'x'", `unknown attribute "run_id" at position 0: expected one of creation_time, experiment_id, last_update_time, name`},
		{"creation_time IN ('1')", `IN is not supported for attribute "creation_time"`},
		{"creation_time LIKE '1%'", `LIKE is not supported for numeric attribute "creation_time"; use = != > >= < <=`},
		{"creation_time = '1'", `expected a number for attribute "creation_time", found '1'`},
		{"name > 'a'", `operator > is not supported for attribute "name": use = != LIKE ILIKE`},
		{"name IS NULL", `IS NULL is only supported for tags and params, not attribute "name"`},
	})
	requireFilterErrors(t, tracking.LoggedModelSchema, []filterErr{
		{"datasets.name = 'x'", "dataset keys cannot be used to search logged models"},
		{"model_type IN ('x')", `IN is not supported for attribute "model_type"`},
		{"run_id = 'x'", `unknown attribute "run_id" at position 0: expected one of creation_time, creation_timestamp, last_update_time, last_updated_timestamp, model_id, model_type, name, source_run_id, status`},
	})
}

type filterErr struct{ in, msg string }

// requireFilterErrors checks each filter fails as Invalid with the message
// "invalid filter <filter>: <msg>".
func requireFilterErrors(t *testing.T, s tracking.Schema, cases []filterErr) {
	t.Helper()
	for _, tc := range cases {
		f, err := tracking.ParseFilter(s, tc.in)
		require.Error(t, err, tc.in)
		require.Nil(t, f, tc.in)
		require.Equal(t, errs.Invalid, errs.KindOf(err), tc.in)
		require.Equal(t, fmt.Sprintf("invalid filter %q: %s", tc.in, tc.msg), errs.MessageOf(err), tc.in)
	}
}

const runAttrs = "artifact_uri, created, end_time, run_id, run_name, start_time, status, user_id"

func TestFilterGrammarErrors(t *testing.T) {
	requireFilterErrors(t, tracking.RunSchema, []filterErr{
		// Lexing.
		{"params.p = 'x", "unterminated quote ' at position 11"},
		{`params.p = "x`, `unterminated quote " at position 11`},
		{"tags.`x = 'y'", "unterminated quote ` at position 5"},
		{`params.p = 'x\'`, "unterminated quote ' at position 11"},
		{"metrics.a !~ 1", "'!' at position 10 must be followed by '='"},
		{"metrics.a !", "'!' at position 10 must be followed by '='"},
		// Joining clauses.
		{"metrics.a > 1 OR metrics.b > 1", `expected AND at position 14, found "OR" (only AND joins clauses)`},
		{"metrics.a > 1 metrics.b > 1", `expected AND at position 14, found "metrics.b" (only AND joins clauses)`},
		{"metrics.a > 1, metrics.b > 1", `expected AND at position 13, found "," (only AND joins clauses)`},
		{"metrics.a > 1 AND", "AND at the end has no clause after it"},
		{"metrics.a > 1 and ", "AND at the end has no clause after it"},
		{"AND metrics.a > 1", `unknown attribute "AND" at position 0: expected one of ` + runAttrs},
		{"metrics.a > 1 AND AND metrics.b > 1", `unknown attribute "AND" at position 18: expected one of ` + runAttrs},
		{"(metrics.a > 1)", `expected a key at position 0, found "("`},
		{"metrics.a > 1 AND (metrics.b > 2)", `expected a key at position 18, found "("`},
		// Keys.
		{"= 1", `expected a key at position 0, found "="`},
		{"'status' = 'x'", "expected a key at position 0, found the string 'status'"},
		{"tags. = 'x'", `key after "tags." at position 0 is missing`},
		{"tags. 'x' = 'y'", `key after "tags." at position 0 is missing`},
		{"tags.", `key after "tags." at position 0 is missing`},
		{"tags.(x) = 'y'", `key after "tags." at position 0 is missing`},
		{`tags."" = 'x'`, "empty key at position 0"},
		{"`` = 'x'", "empty key at position 0"},
		{"foo.bar = 'x'", `unknown key prefix "foo" at position 0: expected one of metrics., params., tags., attributes., datasets.`},
		{"metrics.a > 1 AND foo.bar = 'x'", `unknown key prefix "foo" at position 18: expected one of metrics., params., tags., attributes., datasets.`},
		{"nope = 'x'", `unknown attribute "nope" at position 0: expected one of ` + runAttrs},
		{"attributes.RUN_ID = 'x'", `unknown attribute "RUN_ID" at position 0: expected one of ` + runAttrs},
		{"attributes.lifecycle_stage = 'x'", `unknown attribute "lifecycle_stage" at position 0: expected one of ` + runAttrs},
		{"attributes.experiment_id = '0'", `unknown attribute "experiment_id" at position 0: expected one of ` + runAttrs},
		{"datasets.foo = 'x'", `unknown dataset key "foo" at position 0: expected name, digest or context`},
		{"datasets.Name = 'x'", `unknown dataset key "Name" at position 0: expected name, digest or context`},
		// Operators.
		{"metrics.a", "missing comparison operator at the end"},
		{"metrics.a 1", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 10, found "1"`},
		{"metrics.a BETWEEN 1", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 10, found "BETWEEN"`},
		{"metrics.a NOT 1", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 10, found "NOT"`},
		{"params.p NOT LIKE 'x'", "NOT LIKE is not supported; use !="},
		{"tags.t IS 'x'", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 7, found "IS"`},
		{"tags.t IS NOT 'x'", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 7, found "IS"`},
		{"tags.t IS", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 7, found "IS"`},
		{"metrics.a 'x'", `expected a comparison operator (= != > >= < <= LIKE ILIKE IN NOT IN) at position 10, found "x"`},
		// IS NULL is for tags and params only.
		{"metrics.m IS NULL", `IS NULL is only supported for tags and params, not metric "m"`},
		{"run_name IS NOT NULL", `IS NOT NULL is only supported for tags and params, not attribute "run_name"`},
		{"datasets.name IS NULL", `IS NULL is only supported for tags and params, not dataset "name"`},
		// Values.
		{"metrics.a >", "missing value after a >"},
		{"params.p =", "missing value after p ="},
		{"metrics.a = = 1", `expected a number for metric "a", found "="`},
		{"metrics.a > 'x'", `expected a number for metric "a", found 'x'`},
		{`metrics.a > "1"`, `expected a number for metric "a", found "1"`},
		{"metrics.a > `1`", `expected a number for metric "a", found "1"`},
		{"metrics.a > (1)", `expected a number for metric "a", found "("`},
		{"metrics.a > abc", `expected a number for metric "a", found "abc"`},
		{"metrics.a > 1e", `expected a number for metric "a", found "1e"`},
		{"metrics.a > 1.2.3", `expected a number for metric "a", found "1.2.3"`},
		{"metrics.a > 0x10", `expected a number for metric "a", found "0x10"`},
		{"metrics.a > --1", `expected a number for metric "a", found "--1"`},
		{"start_time > 'yesterday'", `expected a number for attribute "start_time", found 'yesterday'`},
		{"metrics.m LIKE '1%'", `LIKE is not supported for numeric metric "m"; use = != > >= < <=`},
		{"metrics.m ILIKE '1%'", `ILIKE is not supported for numeric metric "m"; use = != > >= < <=`},
		{"created LIKE '1%'", `LIKE is not supported for numeric attribute "start_time"; use = != > >= < <=`},
		{"params.p > 'x'", `operator > is not supported for param "p": use = != LIKE ILIKE`},
		{"params.p >= 'x'", `operator >= is not supported for param "p": use = != LIKE ILIKE`},
		{"tags.t < 'x'", `operator < is not supported for tag "t": use = != LIKE ILIKE`},
		{"status <= 'x'", `operator <= is not supported for attribute "status": use = != LIKE ILIKE`},
		{"datasets.name > 'x'", `operator > is not supported for dataset "name": use = != LIKE ILIKE`},
		{"params.p = 1", `expected a quoted string value for param "p" (e.g. 'my-value'), found "1"`},
		{"tags.t = x", `expected a quoted string value for tag "t" (e.g. 'my-value'), found "x"`},
		{"params.p = `x`", `expected a quoted string value for param "p" (e.g. 'my-value'), found "x"`},
		{"status = FINISHED", `expected a quoted string value for attribute "status" (e.g. 'my-value'), found "FINISHED"`},
		{"datasets.name = (x)", `expected a quoted string value for dataset "name" (e.g. 'my-value'), found "("`},
		// IN lists.
		{"metrics.m IN ('1')", `IN is not supported for metric "m"`},
		{"params.p IN ('1')", `IN is not supported for param "p"`},
		{"tags.t NOT IN ('1')", `NOT IN is not supported for tag "t"`},
		{"start_time IN ('1')", `IN is not supported for attribute "start_time"`},
		{"run_id IN 'a'", "expected a parenthesised list of quoted values after IN, e.g. ('a', 'b')"},
		{"run_id IN", "expected a parenthesised list of quoted values after IN, e.g. ('a', 'b')"},
		{"run_id NOT IN a", "expected a parenthesised list of quoted values after IN, e.g. ('a', 'b')"},
		{"run_id IN (", "unterminated list: missing ')'"},
		{"run_id IN ('a'", "unterminated list: missing ')'"},
		{"run_id IN ('a',", "unterminated list: missing ')'"},
		{"run_id IN ()", `expected a quoted string in the list at position 11, found ")"`},
		{"run_id IN ('a',)", `expected a quoted string in the list at position 15, found ")"`},
		{"run_id IN (a)", `expected a quoted string in the list at position 11, found "a"`},
		{"run_id IN (1, 2)", `expected a quoted string in the list at position 11, found "1"`},
		{"run_id IN (`a`)", `expected a quoted string in the list at position 11, found "a"`},
		{"run_id IN ('a' 'b')", `expected ',' or ')' in the list at position 15, found "b"`},
		{"run_id IN ('a'; 'b')", `expected ',' or ')' in the list at position 14, found ";"`},
	})
}

func TestFilterGrammarClauses(t *testing.T) {
	requireParses(t, tracking.RunSchema, []grammarCase{
		// An empty or blank filter matches everything.
		{"", nil},
		{" \t\n ", nil},
		// Clauses keep their order; AND is case-insensitive.
		{"metrics.a > 1 and metrics.b < 2 AND params.c = 'x' And tags.d IS NULL", tracking.Filter{
			metric("a", ">", 1), metric("b", "<", 2),
			str(tracking.KindParam, "c", "=", "x"),
			{Kind: tracking.KindTag, Key: "d", Op: "IS NULL"}}},
		// The same key may appear twice: a range.
		{"metrics.a >= 1 AND metrics.a < 2", tracking.Filter{metric("a", ">=", 1), metric("a", "<", 2)}},
		// Lists may be followed by more clauses, and hold escaped quotes.
		{"run_id IN ('a', \"b\") AND params.p = 'it''s'", tracking.Filter{
			list(tracking.KindAttribute, "run_id", "IN", "a", "b"),
			str(tracking.KindParam, "p", "=", "it's")}},
		{"datasets.name IN ('x') AND datasets.context = 'train'", tracking.Filter{
			list(tracking.KindDataset, "name", "IN", "x"),
			str(tracking.KindDataset, "context", "=", "train")}},
	})
}

// MLflow's run search also accepts "run name", "Run name" and "Run Name" as
// attribute names for run_name (SearchUtils._ALTERNATE_STRING_ATTRIBUTES),
// as it accepts "created" and "Created" for start_time.
func TestFilterGrammarRunNameAliases(t *testing.T) {
	t.Skip(`bug: MLflow reads attributes.` + "`Run Name`" + ` (and "run name", "Run name") as run_name; filter.go knows only the created/Created aliases and rejects these as unknown attributes`)
	for _, alias := range []string{"run name", "Run name", "Run Name"} {
		requireParses(t, tracking.RunSchema, []grammarCase{
			{"attributes.`" + alias + "` = 'r'", one(str(tracking.KindAttribute, "run_name", "=", "r"))},
		})
	}
}

// MLflow takes only decimal integer and float literals as numbers
// (sqlparse's Number.Integer and Number.Float); NaN, Inf, and Go's hex
// floats and digit separators are not numbers to it, and it rejects them.
func TestFilterGrammarRejectsNonDecimalNumbers(t *testing.T) {
	t.Skip("bug: filter.go parses numbers with strconv.ParseFloat, so `metrics.m > NaN`, `> inf`, `> 0x1p-2` and `> 1_000` are accepted; MLflow rejects them, and a NaN operand compares differently on SQLite (bound as NULL) and PostgreSQL (NaN sorts above every number)")
	for _, v := range []string{"NaN", "nan", "inf", "-Inf", "infinity", "0x1p-2", "1_000"} {
		_, err := tracking.ParseFilter(tracking.RunSchema, "metrics.m > "+v)
		require.Error(t, err, v)
	}
}
