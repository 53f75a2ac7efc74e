package tracking

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// TestValidateBatchNamesTheEntry names the entry at fault by list, index
// and field, after valid entries in the same list.
func TestValidateBatchNamesTheEntry(t *testing.T) {
	ms := func(keys ...string) []Metric {
		out := make([]Metric, len(keys))
		for i, k := range keys {
			out[i] = Metric{Key: k, Value: 1, Timestamp: 1}
		}
		return out
	}
	ps := func(kv ...string) []Param {
		var out []Param
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, Param{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	long := strings.Repeat("v", MaxTagValueLength+1)
	for _, tc := range []struct {
		name    string
		metrics []Metric
		params  []Param
		tags    []Tag
		msg     string
	}{
		{"metric key", ms("a", "b", "c", "../d"), nil, nil, "metrics[3].key: invalid metric name: '../d'"},
		{"metric empty key", ms("a", ""), nil, nil, "Missing value for required parameter 'metrics[1].key'"},
		{"param key", nil, ps("a", "1", "b c;", "2"), nil, "params[1].key: invalid param name: 'b c;'"},
		{"param value", nil, ps("a", "1", "b", strings.Repeat("v", MaxParamValueLength+1)), nil, "params[1].value: param 'b' had value length 6001"},
		{"param duplicate", nil, ps("a", "1", "b", "1", "a", "2"), nil, "params[2].value: duplicate parameter keys with different values in the batch: 'a'"},
		{"tag key", nil, nil, []Tag{{"a", "1"}, {"b", "1"}, {"/c", "1"}}, "tags[2].key: invalid tag name: '/c'"},
		{"tag value", nil, nil, []Tag{{"a", "1"}, {"b", long}}, "tags[1].value: tag 'b' had value length 8001"},
		{"tag empty key", nil, nil, []Tag{{"", "1"}}, "Missing value for required parameter 'tags[0].key'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateBatch(tc.metrics, tc.params, tc.tags)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Contains(t, errs.MessageOf(err), tc.msg)
		})
	}
	require.NoError(t, ValidateBatch(ms("a", "b"), ps("a", "1", "a", "1"), []Tag{{"t", "v"}}))
	// The single-entry checks name the request's own fields.
	require.Contains(t, errs.MessageOf(ValidateMetric(Metric{})), "Missing value for required parameter 'key'.")
	require.Contains(t, errs.MessageOf(ValidateParam(Param{Key: "p", Value: strings.Repeat("v", MaxParamValueLength+1)})), "param 'p' had value length")
	require.Contains(t, errs.MessageOf(ValidateTag(Tag{Key: "../t"})), "invalid tag name")
}
