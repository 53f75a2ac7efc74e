package exec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/exec"
)

func TestMaskWriter(t *testing.T) {
	secrets := exec.Secrets([]string{"MLFLOW_TRACKING_TOKEN=cairn_abcdefgh", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "PATH=/usr/bin",
		"DB_PASSWORD=short", "GITHUB_TOKEN=cairn_abcdefgh"}, "extra-secret-value")
	require.Equal(t, []string{"extra-secret-value", "cairn_abcdefgh", "wJalrXUtnFEMI"}, secrets, "longest first, no PATH, no short ones, no duplicates")

	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"whole", []string{"token=cairn_abcdefgh\n"}, "token=***\n"},
		{"split across writes", []string{"token=cairn_ab", "cdefgh and wJalr", "XUtnFEMI!"}, "token=*** and ***!"},
		{"byte by byte", strings.Split("x cairn_abcdefgh y", ""), "x *** y"},
		{"a prefix that is no secret", []string{"cairn_abc", "ZZZ"}, "cairn_abcZZZ"},
		{"held back until close", []string{"ends with cairn_abcd"}, "ends with cairn_abcd"},
		{"twice", []string{"cairn_abcdefghcairn_abcdefgh"}, "******"},
		{"nothing secret", []string{"hello\n", "world\n"}, "hello\nworld\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := exec.NewMaskWriter(&buf, secrets)
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				require.NoError(t, err)
				require.Equal(t, len(s), n)
			}
			require.NoError(t, w.Close())
			require.Equal(t, tt.want, buf.String())
		})
	}
	require.Equal(t, "a *** b", exec.MaskString("a cairn_abcdefgh b", secrets))
}

func TestTaskEnviron(t *testing.T) {
	env := []string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "AWS_SECRET_ACCESS_KEY=x", "MLFLOW_TRACKING_TOKEN=y",
		"CAIRN_TEST_AS_CAIRN=1", "PGPASSWORD=z", "MY_VAR=1", "HF_HOME=/h", "HF_TOKEN=t", "NOEQUALS"}
	require.Equal(t, []string{"PATH=/bin", "HOME=/root", "LC_ALL=C"}, exec.TaskEnviron(env))
	require.Equal(t, []string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "MY_VAR=1", "HF_HOME=/h", "HF_TOKEN=t"},
		exec.TaskEnviron(env, "MY_VAR", "HF_*"))
}
