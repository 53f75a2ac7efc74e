package artifact

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestValidatePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		problem  string // in the error message; "" when valid
	}{
		{"", "", ""},
		{".", "", ""},
		{"./", "", ""},
		{"a", "a", ""},
		{"a/b/c.txt", "a/b/c.txt", ""},
		{"a/b/", "a/b", ""},
		{"a//b", "a/b", ""},
		{"./a/./b", "a/b", ""},
		{"..a/b..", "..a/b..", ""},
		{".cairnx/a", ".cairnx/a", ""},
		{"a/.cairn", "a/.cairn", ""},
		{"..", "", `contains ".."`},
		{"../x", "", `contains ".."`},
		{"a/..", "", `contains ".."`},
		{"a/../b", "", `contains ".."`},
		{"a/../../b", "", `contains ".."`},
		{"/abs", "", "is absolute"},
		{"/", "", "is absolute"},
		{`a\b`, "", "backslash"},
		{`..\x`, "", "backslash"},
		{"a\x00b", "", "NUL byte"},
		{".cairn", "", "reserved"},
		{".cairn/tmp/x", "", "reserved"},
		{"./.cairn/x", "", "reserved"},
	} {
		got, err := ValidatePath(tc.in)
		if tc.problem == "" {
			require.NoError(t, err, "%q", tc.in)
			require.Equal(t, tc.want, got, "%q", tc.in)
			continue
		}
		require.True(t, errs.Is(err, errs.Invalid), "%q: %v", tc.in, err)
		require.Contains(t, err.Error(), tc.problem, "%q", tc.in)
		require.Contains(t, err.Error(), "expected a relative slash-separated path", "%q", tc.in)
	}
}
