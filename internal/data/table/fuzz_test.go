package table

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// FuzzTableCSV feeds arbitrary bytes through what a user's CSV meets:
// reading, inference, fitting, the JSON round trip of the transform and
// applying it to records. Bad input must be an Invalid error, never a
// panic, and a fitted transform must apply to its own rows.
func FuzzTableCSV(f *testing.F) {
	f.Add([]byte("y,a,b\n1,2,x\n0,3,y\n1,,x\n"), "y")
	f.Add([]byte(smallPassengers), "Survived")
	f.Add([]byte("y,d,ok\n1,2024-01-01,yes\n0,2024-02-30,no\n1,2024-03-01T10:00:00Z,\n0,,y\n"), "y")
	f.Add([]byte("t,c\na,1\nb,1\na,2\nb,x\n"), "t")
	f.Add([]byte("\xef\xbb\xbfy,\"q\"\"\"\n1,\"a\nb\"\n0,c\n"), "y")
	f.Fuzz(func(t *testing.T, src []byte, target string) {
		if len(src) > 1<<16 {
			return
		}
		c, err := ReadCSV(bytes.NewReader(src), "f.csv")
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			return
		}
		spec, _, err := InferSpec(c, target, Schema{})
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			return
		}
		require.NoError(t, spec.Validate())
		tr, x, err := fitCSV(context.Background(), spec, c, nil, true)
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			return
		}
		require.Len(t, x, len(c.Rows)*tr.Size())
		b, err := json.Marshal(tr)
		require.NoError(t, err)
		back, err := UnmarshalTransform(b)
		require.NoError(t, err)
		for i := range min(len(c.Rows), 5) {
			rec := map[string]any{}
			for j, h := range c.Header {
				if v := strings.TrimSpace(c.Rows[i][j]); v != "" {
					rec[h] = v
				}
			}
			if _, err := back.ApplyRecord(rec); err != nil {
				require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			}
		}
	})
}

// FuzzParseSchema: any bytes give a schema that validates, or an Invalid
// error; never a panic.
func FuzzParseSchema(f *testing.F) {
	f.Add([]byte("target: y\nid: row\ncolumns:\n  a: category\n  b: {type: category, encode: target}\n  c: drop\n"))
	f.Add([]byte("columns: [1, 2]\n"))
	f.Add([]byte("target: &a y\nid: *a\n"))
	f.Add([]byte("columns:\n  a: {impute: mean, type: date}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := ParseSchema(src, "s.yaml")
		if err != nil {
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			return
		}
		require.NoError(t, s.Validate())
	})
}
