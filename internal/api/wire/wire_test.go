package wire

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInt64Range(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`0`, 0, true},
		{`"42"`, 42, true},
		{`1e3`, 1000, true},
		{`9223372036854775807`, math.MaxInt64, true},
		{`"9223372036854775807"`, math.MaxInt64, true},
		{`-9223372036854775808`, math.MinInt64, true},
		{`-9.223372036854775808e18`, math.MinInt64, true},
		{`9223372036854775808`, 0, false},
		{`-9223372036854775809`, 0, false},
		{`9.223372036854775808e18`, 0, false},
		{`1180591620717411303424`, 0, false},
		{`"1180591620717411303424"`, 0, false},
		{`1e30`, 0, false},
		{`-1e30`, 0, false},
		{`1e400`, 0, false},
		{`1.5`, 0, false},
		{`"NaN"`, 0, false},
		{`"Infinity"`, 0, false},
		{`true`, 0, false},
		{`"x"`, 0, false},
	} {
		var v struct {
			N Int64 `json:"n"`
		}
		err := json.Unmarshal([]byte(`{"n": `+tc.in+`}`), &v)
		if !tc.ok {
			var te *json.UnmarshalTypeError
			require.ErrorAs(t, err, &te, tc.in)
			require.Equal(t, "n", te.Field, tc.in)
			require.Equal(t, "Int64", te.Type.Name(), "a type error says what an Int64 takes: %s", tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, Int64(tc.want), v.N, tc.in)
	}
	require.Equal(t, "an integer from -9223372036854775808 to 9223372036854775807", Int64(0).ExpectedJSON())
	var n Int64
	require.Error(t, n.UnmarshalText([]byte("9223372036854775808")))
	require.NoError(t, n.UnmarshalText([]byte("-9223372036854775808")))
	require.Equal(t, Int64(math.MinInt64), n)
}
