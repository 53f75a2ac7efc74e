package strictyaml

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDocument(t *testing.T) {
	names := Names{Empty: "the file is empty", One: "a file holds one YAML document"}
	for _, tc := range []struct {
		src  string
		want *Problem
	}{
		{"a: 1\n", nil},
		{"", &Problem{Msg: "the file is empty"}},
		{"a: 1\n---\nb: 2\n", &Problem{Line: 2, Msg: "a file holds one YAML document"}},
		{"a: [1, 2\n", &Problem{Line: 1, Msg: "invalid YAML: did not find expected ',' or ']'"}},
		{"a: 1\n b: 2\n", &Problem{Line: 2, Msg: "invalid YAML: mapping values are not allowed in this context"}},
		{"\t- x\n", &Problem{Msg: "invalid YAML: found character that cannot start any token"}},
	} {
		n, p := Document([]byte(tc.src), names)
		require.Equal(t, tc.want, p, "%q", tc.src)
		if tc.want == nil {
			require.NotNil(t, n)
		}
	}
	require.Equal(t, "line 3: a.b: bad", Problem{Path: "a.b", Line: 3, Msg: "bad"}.String())
	require.Equal(t, "bad", Problem{Msg: "bad"}.String())
}
