package tracking

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
	}{
		{"", nil},
		{"metrics.acc > 0.9", Filter{{Kind: KindMetric, Key: "acc", Op: ">", Num: 0.9}}},
		{"metric.`my metric` <= -1e3", Filter{{Kind: KindMetric, Key: "my metric", Op: "<=", Num: -1000}}},
		{`params.lr = '0.01' and tags."a b" LIKE 'x%'`, Filter{
			{Kind: KindParam, Key: "lr", Op: "=", Str: "0.01"},
			{Kind: KindTag, Key: "a b", Op: "LIKE", Str: "x%"}}},
		{`tags.t != "it's"`, Filter{{Kind: KindTag, Key: "t", Op: "!=", Str: "it's"}}},
		{"attributes.run_id IN ('a', 'b')", Filter{{Kind: KindAttribute, Key: "run_id", Op: "IN", List: []string{"a", "b"}}}},
		{"run_name NOT IN ('x')", Filter{{Kind: KindAttribute, Key: "run_name", Op: "NOT IN", List: []string{"x"}}}},
		{"attr.created >= 5", Filter{{Kind: KindAttribute, Key: "start_time", Op: ">=", Num: 5}}},
		{"status ILIKE 'fin%'", Filter{{Kind: KindAttribute, Key: "status", Op: "ILIKE", Str: "fin%"}}},
		{"datasets.digest IN ('d1','d2') AND datasets.context = 'train'", Filter{
			{Kind: KindDataset, Key: "digest", Op: "IN", List: []string{"d1", "d2"}},
			{Kind: KindDataset, Key: "context", Op: "=", Str: "train"}}},
		{"tags.x IS NULL AND params.y IS NOT NULL", Filter{{Kind: KindTag, Key: "x", Op: "IS NULL"}, {Kind: KindParam, Key: "y", Op: "IS NOT NULL"}}},
		{"metrics.a == 1", Filter{{Kind: KindMetric, Key: "a", Op: "=", Num: 1}}},
	}
	for _, tt := range tests {
		got, err := ParseFilter(RunSchema, tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct{ in, contains string }{
		{"metrics.acc > 'x'", "expected a number"},
		{"params.lr = 0.1", "quoted string"},
		{"foo.bar = 'x'", "unknown key prefix"},
		{"nope = 'x'", "unknown attribute"},
		{"metrics.acc >", "missing value"},
		{"metrics.acc 1", "comparison operator"},
		{"metrics.a > 1 OR metrics.b > 1", "only AND"},
		{"metrics.a > 1 AND", "AND at the end"},
		{"params.lr = 'unterminated", "unterminated quote"},
		{"run_id IN 'a'", "parenthesised list"},
		{"run_id IN ('a'", "missing ')'"},
		{"params.lr > '1'", "operator > is not supported"},
		{"metrics.acc LIKE '1'", "LIKE is not supported"},
		{"start_time IN ('1')", "IN is not supported"},
		{"datasets.foo = 'x'", "unknown dataset key"},
	}
	for _, tt := range tests {
		_, err := ParseFilter(RunSchema, tt.in)
		require.Error(t, err, tt.in)
		require.Equal(t, errs.Invalid, errs.KindOf(err), tt.in)
		require.Contains(t, err.Error(), tt.contains, tt.in)
	}
	_, err := ParseFilter(ExperimentSchema, "metrics.a > 1")
	require.ErrorContains(t, err, "cannot be used to search experiments")
}

func TestParseOrderBy(t *testing.T) {
	got, err := ParseOrderBy(RunSchema, []string{"metrics.acc DESC", "attributes.start_time", "params.`a b` asc", "created desc"})
	require.NoError(t, err)
	require.Equal(t, []OrderBy{
		{Kind: KindMetric, Key: "acc", Desc: true},
		{Kind: KindAttribute, Key: "start_time"},
		{Kind: KindParam, Key: "a b"},
		{Kind: KindAttribute, Key: "start_time", Desc: true},
	}, got)
	for _, bad := range []string{"metrics.acc SIDEWAYS", "", "datasets.name", "a b c"} {
		_, err := ParseOrderBy(RunSchema, []string{bad})
		require.Equal(t, errs.Invalid, errs.KindOf(err), bad)
	}
}

func TestValidateKey(t *testing.T) {
	for _, ok := range []string{"loss", "val/acc", "a b", "x:y", "a.b-c_d"} {
		require.NoError(t, ValidateKey("metric", ok), ok)
	}
	for _, bad := range []string{"", "../x", "/abs", "a//b", "a/./b", ".", "bad\x00", "semi;colon", string(make([]byte, 251))} {
		require.Error(t, ValidateKey("metric", bad), bad)
	}
}

func TestFilterLimits(t *testing.T) {
	clauses := func(n int) string {
		return strings.TrimSuffix(strings.Repeat("metrics.a > 0 AND ", n), " AND ")
	}
	values := func(n int) string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("'%d'", i)
		}
		return strings.Join(l, ", ")
	}
	f, err := ParseFilter(RunSchema, clauses(MaxFilterClauses))
	require.NoError(t, err)
	require.Len(t, f, MaxFilterClauses)
	f, err = ParseFilter(RunSchema, "run_id IN ("+values(MaxFilterValues/2)+") AND run_name NOT IN ("+values(MaxFilterValues/2)+")")
	require.NoError(t, err)
	require.Len(t, f[1].List, MaxFilterValues/2)
	_, err = ParseFilter(RunSchema, "tags.a LIKE '"+strings.Repeat("%", MaxPatternLength)+"'")
	require.NoError(t, err)
	_, err = ParseOrderBy(RunSchema, make([]string, MaxOrderBy+1))
	require.ErrorContains(t, err, "invalid order_by: 21 keys, more than the 20 allowed")
	require.NoError(t, CheckSearchExperiments(make([]string, MaxSearchExperiments)))
	require.ErrorContains(t, CheckSearchExperiments(make([]string, MaxSearchExperiments+1)), "at most 1000 experiment_ids, got 1001")

	for name, c := range map[string]struct{ filter, want string }{
		"clauses":      {clauses(MaxFilterClauses + 1), "more than the 100 clauses allowed"},
		"values":       {"run_id IN (" + values(MaxFilterValues+1) + ")", "the IN lists hold more than the 10000 values allowed in one filter"},
		"length":       {"run_id = '" + strings.Repeat("x", MaxFilterLength) + "'", "it is 524299 bytes long, more than the 524288 allowed"},
		"pattern":      {"params.p ILIKE '" + strings.Repeat("x", MaxPatternLength+1) + "'", "the ILIKE pattern for param \"p\" is 10001 bytes long"},
		"tokens":       {strings.Repeat("(", maxTokens+10), "more than 84000 terms"},
		"long quote":   {"params.p = '" + strings.Repeat("x", 1000), "unterminated quote"},
		"long garbage": {strings.Repeat("x ", 1000), "unknown attribute"},
	} {
		_, err := ParseFilter(RunSchema, c.filter)
		require.Equal(t, errs.Invalid, errs.KindOf(err), name)
		require.ErrorContains(t, err, c.want, name)
		require.Less(t, len(err.Error()), 500, name)
	}
}
