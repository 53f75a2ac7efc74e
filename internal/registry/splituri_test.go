package registry

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// splitURI follows Python's urllib.parse.urlparse for the parts source
// validation reads: these are urlparse's scheme, hostname and path for the
// same inputs, except that an IPv6 host keeps its brackets.
func TestSplitURI(t *testing.T) {
	for in, want := range map[string][3]string{
		"":                                 {"", "", ""},
		"/a/b":                             {"", "", "/a/b"},
		"a/b":                              {"", "", "a/b"},
		"s3://bucket/key/x":                {"s3", "bucket", "/key/x"},
		"S3://Bucket/Key":                  {"s3", "bucket", "/Key"},
		"s3://bucket":                      {"s3", "bucket", ""},
		"s3://bucket?x=1":                  {"s3", "bucket", ""},
		"file:///tmp/x":                    {"file", "", "/tmp/x"},
		"file://localhost:8080/x":          {"file", "localhost", "/x"},
		"https://u:pw@Host.ex:443/p?q=1#f": {"https", "host.ex", "/p"},
		"http://[::1]:80/p":                {"http", "[::1]", "/p"},
		"http://[::1]/p":                   {"http", "[::1]", "/p"},
		"runs:/abc/model":                  {"runs", "", "/abc/model"},
		"models:/m@a":                      {"models", "", "/m@a"},
		"mlflow-artifacts:/x":              {"mlflow-artifacts", "", "/x"},
		"a.b+c-d:/x":                       {"a.b+c-d", "", "/x"},
		`c:\dir`:                           {"c", "", `\dir`},
		"1abc:x":                           {"", "", "1abc:x"},
		":x":                               {"", "", ":x"},
		"a b:x":                            {"", "", "a b:x"},
		"a_b:x":                            {"", "", "a_b:x"},
		"//host/p":                         {"", "host", "/p"},
		"/p?q#f":                           {"", "", "/p"},
		"s3://b/a#/../x":                   {"s3", "b", "/a"},
	} {
		scheme, host, p := splitURI(in)
		require.Equal(t, want, [3]string{scheme, host, p}, in)
	}
}

// unquote follows Python's unquote and unquote_plus.
func TestUnquote(t *testing.T) {
	for _, tc := range []struct {
		in   string
		plus bool
		want string
	}{
		{"", false, ""},
		{"plain", false, "plain"},
		{"a%20b", false, "a b"},
		{"a+b", false, "a+b"},
		{"a+b", true, "a b"},
		{"a%2Bb", true, "a+b"},
		{"%2e%2E", false, ".."},
		{"%252e", false, "%2e"}, // one level per call
		{"%zz", false, "%zz"},
		{"%2", false, "%2"},
		{"100%", false, "100%"},
		{"%41%", false, "A%"},
		{"x%41", false, "xA"},
		{"%00", false, "\x00"},
		{"%c3%a9", false, "é"},
	} {
		require.Equal(t, tc.want, unquote(tc.in, tc.plus), "%q plus=%v", tc.in, tc.plus)
	}
}
