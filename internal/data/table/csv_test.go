package table

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

func TestTableCSVRead(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		header []string
		rows   [][]string
		lines  []int
	}{
		{
			name:   "quoted commas and doubled quotes",
			in:     "Id,Name,Age\n1,\"Braund, Mr. Owen Harris\",22\n2,\"O'Brien, Mr. \"\"Tim\"\"\",\n",
			header: []string{"Id", "Name", "Age"},
			rows:   [][]string{{"1", "Braund, Mr. Owen Harris", "22"}, {"2", `O'Brien, Mr. "Tim"`, ""}},
			lines:  []int{2, 3},
		},
		{
			name:   "CRLF line endings",
			in:     "Id,Name,Age\r\n1,a,22\r\n2,b,23\r\n",
			header: []string{"Id", "Name", "Age"},
			rows:   [][]string{{"1", "a", "22"}, {"2", "b", "23"}},
			lines:  []int{2, 3},
		},
		{
			name:   "empty fields and no final newline",
			in:     "Id,Name,Age\n1,,\n,,",
			header: []string{"Id", "Name", "Age"},
			rows:   [][]string{{"1", "", ""}, {"", "", ""}},
			lines:  []int{2, 3},
		},
		{
			name:   "byte order mark",
			in:     "\xef\xbb\xbfId,Name\r\n1,x\r\n",
			header: []string{"Id", "Name"},
			rows:   [][]string{{"1", "x"}},
			lines:  []int{2},
		},
		{
			name:   "a line break inside quotes keeps line numbers right",
			in:     "Id,Note\n1,\"two\nlines\"\n2,b\n",
			header: []string{"Id", "Note"},
			rows:   [][]string{{"1", "two\nlines"}, {"2", "b"}},
			lines:  []int{2, 4},
		},
		{
			name:   "header only",
			in:     "Id,Name\n",
			header: []string{"Id", "Name"},
		},
		{
			name:   "header names are trimmed",
			in:     " Id , Name\n1,x\n",
			header: []string{"Id", "Name"},
			rows:   [][]string{{"1", "x"}},
			lines:  []int{2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ReadCSV(strings.NewReader(tc.in), "t.csv")
			require.NoError(t, err)
			require.Equal(t, tc.header, c.Header)
			require.Equal(t, tc.rows, c.Rows)
			require.Equal(t, tc.lines, c.Lines)
		})
	}
}

func TestTableCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"empty file", "", "t.csv: empty file: expected a header row"},
		{"too few fields", "a,b,c\n1,2,3\n4,5\n", "t.csv line 3: 2 fields, expected 3 as in the header"},
		{"too many fields", "a,b\n1,2,3\n", "t.csv line 2: 3 fields, expected 2 as in the header"},
		{"duplicate header", "a,b,a\n", `t.csv line 1: header names column "a" twice (columns 1 and 3)`},
		{"empty header name", "a,,c\n", "t.csv line 1: header column 2 has no name"},
		{"bare quote", "a,b\n1,x\"y\n", `t.csv line 2, column 4: bare " in non-quoted-field`},
		{"unterminated quote", "a,b\n1,\"xy\n", `t.csv line 2, column 7: extraneous or missing " in quoted-field`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), "t.csv")
			require.Error(t, err)
			require.True(t, errs.Is(err, errs.Invalid), "kind of %v", err)
			require.Equal(t, tc.msg, err.Error())
		})
	}
}

func TestTableCSVRequire(t *testing.T) {
	c, err := ReadCSV(strings.NewReader("PassengerId,Name,Sex\n1,x,male\n"), "train.csv")
	require.NoError(t, err)
	require.NoError(t, c.Require("Name", "Sex"))
	err = c.Require("Name", "Age")
	require.True(t, errs.Is(err, errs.Invalid))
	require.Equal(t, `train.csv: missing required column "Age"; the header has: PassengerId, Name, Sex`, err.Error())
	err = c.Require("Age", "Sex", "Fare")
	require.Equal(t, `train.csv: missing required columns "Age", "Fare"; the header has: PassengerId, Name, Sex`, err.Error())
	require.Equal(t, 1, c.Index("Name"))
	require.Equal(t, -1, c.Index("Nope"))
}

func TestTableCSVFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.csv")
	require.NoError(t, os.WriteFile(p, []byte("a\n1\n"), 0o644))
	c, err := ReadCSVFile(p)
	require.NoError(t, err)
	require.Equal(t, p, c.Name)
	_, err = ReadCSVFile(filepath.Join(dir, "missing.csv"))
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
}

func TestTableBadNumber(t *testing.T) {
	var b strings.Builder
	b.WriteString("Survived,Age,Sex\n")
	for i := range 20 {
		age := "30"
		if i == 15 { // the 16th row is on line 17
			age = "abc"
		}
		b.WriteString([]string{"0", "1"}[i%2] + "," + age + ",male\n")
	}
	c, err := ReadCSV(strings.NewReader(b.String()), "train.csv")
	require.NoError(t, err)
	spec := Spec{Label: "Survived", Columns: []ColumnSpec{{Name: "Age", Type: Number}, {Name: "Sex", Type: Category}},
		Features: []string{"Age", "Sex"}}
	_, err = FitTransform(context.Background(), spec, c, nil)
	require.True(t, errs.Is(err, errs.Invalid))
	require.Equal(t, `train.csv line 17, column "Age": "abc" is not a number`, err.Error())

	for _, bad := range []string{"NaN", "Inf", "1,5", "12 years"} {
		c.Rows[3][1] = bad
		_, err = FitTransform(context.Background(), spec, c, nil)
		require.ErrorContains(t, err, `train.csv line 5, column "Age": `, bad)
	}
}

// A file that is not UTF-8 (Latin-1, say) is refused with where and why:
// its names and values go into JSON, which would change them.
func TestTableCSVNotUTF8(t *testing.T) {
	_, err := ReadCSV(strings.NewReader("y,caf\xe9\n1,2\n"), "latin1.csv")
	require.ErrorContains(t, err, "latin1.csv line 1: header column 2 is not valid UTF-8 text: save the file as UTF-8")
	_, err = ReadCSV(strings.NewReader("y,city\n1,Z\xfcrich\n"), "latin1.csv")
	require.ErrorContains(t, err, `latin1.csv line 2, column "city": not valid UTF-8 text`)
	require.True(t, errs.Is(err, errs.Invalid))
	c, err := ReadCSV(strings.NewReader("y,city\n1,Zürich\n"), "utf8.csv")
	require.NoError(t, err)
	require.Equal(t, "Zürich", c.Rows[0][1])
}
