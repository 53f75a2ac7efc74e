package table

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// mixedTable has one column of every kind inference tells apart.
func mixedTable(t *testing.T, rows int) *CSV {
	t.Helper()
	c, err := ReadCSV(strings.NewReader(mixedCSV(rows)), "mixed.csv")
	require.NoError(t, err)
	return c
}

func mixedCSV(rows int) string {
	var b strings.Builder
	b.WriteString("row,customer_id,churned,age,member,signup,plan,city,notes,const,blank\n")
	for i := range rows {
		age := fmt.Sprint(20 + i%50)
		if i%7 == 0 {
			age = ""
		}
		member := []string{"yes", "no", "No", "YES"}[i%4]
		signup := fmt.Sprintf("2024-%02d-%02d", 1+i%12, 1+i%28)
		plan := []string{"basic", "pro", "team"}[i%3]
		city := fmt.Sprintf("city%d", i%80) // 80 values, each repeated: high cardinality
		churned := []string{"stay", "leave"}[(i/3)%2]
		fmt.Fprintf(&b, "%d,%d,%s,%s,%s,%s,%s,%s,note %d,same,\n", i+1, 1000+7*i, churned, age, member, signup, plan, city, i)
	}
	return b.String()
}

// BenchmarkTablePrepareInferred prepares a 200,000-row table of every
// inferred kind (id, boolean, date, one-hot and target-encoded categories,
// free text): reading, inference, fitting and encoding.
func BenchmarkTablePrepareInferred(b *testing.B) {
	const rows = 200_000
	src := []byte(mixedCSV(rows))
	ctx := context.Background()
	opts := DefaultPrepareOptions()
	opts.Label, opts.CacheDir = "churned", b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		o := opts
		o.Reader, o.Seed = bytes.NewReader(src), uint64(i+1)
		if _, err := Prepare(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestTableInferSpec(t *testing.T) {
	c := mixedTable(t, 400)
	s, dropped, err := InferSpec(c, "churned", Schema{})
	require.NoError(t, err)
	require.NoError(t, s.Validate())
	types := map[string]ColumnSpec{}
	for _, col := range s.Columns {
		types[col.Name] = col
	}
	require.Equal(t, Number, types["age"].Type)
	require.Equal(t, Boolean, types["member"].Type)
	require.Equal(t, Date, types["signup"].Type)
	require.Equal(t, Category, types["plan"].Type)
	require.Equal(t, "", types["plan"].Encode, "few values: one-hot")
	require.Equal(t, EncodeTarget, types["city"].Encode, "80 repeated values: target encoded")
	require.Equal(t, DefaultTargetFolds, types["city"].targetSettings().Folds)
	require.Equal(t, DeriveDatePart, types["signup.month"].Derive.Op)
	require.Equal(t, []string{"age", "member", "signup", "signup.year", "signup.month", "signup.weekday", "plan", "city"}, s.Features)
	require.Equal(t, "row", s.ID, "the first id-like column is the row id")
	require.Equal(t, []Dropped{
		{"row", "an id: a distinct whole number in every row"},
		{"customer_id", "an id: a distinct whole number in every row"},
		{"notes", "text-like: 400 distinct values in 400 rows (free text or an id)"},
		{"const", "one value in every row"},
		{"blank", "empty in every row"},
	}, dropped)
}

func TestTableInferSpecErrors(t *testing.T) {
	c := mixedTable(t, 200)
	_, _, err := InferSpec(c, "nope", Schema{})
	require.ErrorContains(t, err, `missing required column "nope"`)
	_, _, err = InferSpec(c, "", Schema{})
	require.ErrorContains(t, err, "no target column")

	// A number column with one typo is an error naming the cell.
	var b strings.Builder
	b.WriteString("y,x\n")
	for i := range 300 {
		x := fmt.Sprint(i % 17)
		if i == 123 {
			x = "n/a?"
		}
		fmt.Fprintf(&b, "%d,%s\n", i%2, x)
	}
	typo, err := ReadCSV(strings.NewReader(b.String()), "typo.csv")
	require.NoError(t, err)
	_, _, err = InferSpec(typo, "y", Schema{})
	require.True(t, errs.Is(err, errs.Invalid))
	require.ErrorContains(t, err, `typo.csv line 125, column "x": "n/a?" is not a number, yet 299 of the column's 300 cells are`)
	// Declaring the column a category is the documented way out.
	s, _, err := InferSpec(typo, "y", Schema{Columns: map[string]ColumnOverride{"x": {Type: "category"}}})
	require.NoError(t, err)
	require.Equal(t, Category, s.Columns[0].Type)
	// Declaring it a number makes fitting fail at that cell.
	s, _, err = InferSpec(typo, "y", Schema{Columns: map[string]ColumnOverride{"x": {Type: "number"}}})
	require.NoError(t, err)
	_, err = FitTransform(context.Background(), s, typo, nil)
	require.ErrorContains(t, err, `typo.csv line 125, column "x": "n/a?" is not a number`)

	// Nothing left to learn from.
	only, err := ReadCSV(strings.NewReader("y,id,note\n0,1,a\n1,2,b\n"), "only.csv")
	require.NoError(t, err)
	_, _, err = InferSpec(only, "y", Schema{})
	require.ErrorContains(t, err, `no column besides the target "y" can be a feature`)
}

func TestTableSchemaOverrides(t *testing.T) {
	c := mixedTable(t, 200)
	var s Schema
	require.NoError(t, ParseColumnFlag(&s, "city=category:frequency"))
	require.NoError(t, ParseColumnFlag(&s, "plan=drop"))
	require.NoError(t, ParseColumnFlag(&s, "row=number"))
	spec, dropped, err := InferSpec(c, "churned", s)
	require.NoError(t, err)
	require.NotContains(t, spec.Features, "plan")
	require.Contains(t, dropped, Dropped{"plan", "dropped by the schema"})
	require.Equal(t, "row", spec.Features[0])
	for _, col := range spec.Columns {
		if col.Name == "city" {
			require.Equal(t, EncodeFrequency, col.Encode)
		}
	}
	for _, bad := range []string{"city", "=number", "city=color", "age=number:target"} {
		require.Error(t, ParseColumnFlag(&Schema{}, bad), bad)
	}
}

func TestTableParseSchema(t *testing.T) {
	s, err := ParseSchema([]byte(`target: churned
id: row
columns:
  plan: category
  city: {type: category, encode: target}
  age: {impute: mean}
  notes: drop
`), "schema.yaml")
	require.NoError(t, err)
	require.Equal(t, Schema{Target: "churned", ID: "row", Columns: map[string]ColumnOverride{
		"plan": {Type: "category"}, "city": {Type: "category", Encode: "target"}, "age": {Impute: "mean"}, "notes": {Type: "drop"},
	}}, s)
	for src, want := range map[string]string{
		"":                                      "the schema is empty",
		"target: y\nlabel: z\n":                 "schema.yaml: line 2: label: unknown key",
		"target: y\ncolumns:\n  a: colour\n":    `column "a": type "colour"`,
		"columns:\n  a: {type: number, x: 1}\n": "line 2: columns.a.x: unknown key",
		"columns:\n  a: [1]\n":                  "line 2: columns.a: expected a type",
		"target: [y]\n":                         "line 1: target: expected a string",
		"target: y\ntarget: z\n":                "line 2: target: given twice",
		"- a\n":                                 "expected a mapping",
		"a: 1\n---\nb: 2\n":                     "one YAML document",
		"columns:\n  a: {encode: target, type: number}\n": "encode applies to categories only",
	} {
		_, err := ParseSchema([]byte(src), "schema.yaml")
		require.ErrorContains(t, err, want, "%q", src)
		require.True(t, errs.Is(err, errs.Invalid), "%q", src)
	}
}

// encodingTable: a value column whose label rates are known, and a label.
//
//	a: labels 1,1,0 ; b: 0,0 ; c: 1
func encodingTable(t *testing.T) *CSV {
	t.Helper()
	c, err := ReadCSV(strings.NewReader("v,y\na,1\na,1\na,0\nb,0\nb,0\nc,1\n"), "enc.csv")
	require.NoError(t, err)
	return c
}

func TestTableTargetEncodingExact(t *testing.T) {
	c := encodingTable(t)
	// As many folds as rows: each train row is encoded from all the others.
	spec := Spec{Label: "y", Columns: []ColumnSpec{{Name: "v", Type: Category, Encode: EncodeTarget, Target: &TargetEncoding{Smoothing: 1, Folds: 6}}}, Features: []string{"v"}}
	tr, x, err := fitCSV(context.Background(), spec, c, nil, true)
	require.NoError(t, err)
	require.Equal(t, []string{"v~target"}, tr.FeatureNames)
	prior := 3.0 / 6
	// With smoothing 1: (k - own + prior') / (n - 1 + 1), where prior' also
	// leaves the row out: 2/5 for a 1, 3/5 for a 0.
	p1, p0 := 2.0/5, 3.0/5
	want := []float64{
		(1 + p1) / 3, (1 + p1) / 3, (2 + p0) / 3, // a: the others in a
		(0 + p0) / 2, (0 + p0) / 2, // b
		(0 + p1) / 1, // c: alone, the prior
	}
	for i, w := range want {
		require.InDelta(t, w, x[i], 1e-6, "row %d", i)
	}
	// A served record uses every train row.
	for v, w := range map[string]float64{"a": (2 + prior) / 4, "b": (0 + prior) / 3, "c": (1 + prior) / 2, "zzz": prior} {
		got, err := tr.ApplyRecord(map[string]any{"v": v})
		require.NoError(t, err)
		require.InDelta(t, w, got[0], 1e-6, v)
	}
	// It survives the JSON round trip a model package makes.
	b, err := jsonMarshal(tr)
	require.NoError(t, err)
	back, err := UnmarshalTransform(b)
	require.NoError(t, err)
	got, err := back.ApplyRecord(map[string]any{"v": "a"})
	require.NoError(t, err)
	require.InDelta(t, (2+prior)/4, got[0], 1e-6)
	_, unknown, err := back.AppendRecordNoting(nil, map[string]any{"v": "zzz"})
	require.NoError(t, err)
	require.Empty(t, unknown, "an unseen value is routine for a rate")

	// Frequency: the share of train rows holding the value.
	spec.Columns[0].Encode, spec.Columns[0].Target = EncodeFrequency, nil
	tr, x, err = fitCSV(context.Background(), spec, c, nil, true)
	require.NoError(t, err)
	require.Equal(t, []string{"v~frequency"}, tr.FeatureNames)
	require.InDeltaSlice(t, []float32{0.5, 0.5, 0.5, 2.0 / 6, 2.0 / 6, 1.0 / 6}, x, 1e-6)
	got, err = tr.ApplyRecord(map[string]any{"v": "new"})
	require.NoError(t, err)
	require.Equal(t, []float32{0}, got)
}

// Train rows' target encodings must not let a model read their own labels.
// Encoding each row from all the other rows (leave-one-out, what Folds =
// rows amounts to) does: within a group its value (S-y)/(n-1) is lower for
// every row with label 1 than for every row with label 0, a perfect split
// that trees find once other columns identify the group (on Titanic, where
// a ticket's passengers share a fare: 5x5-fold CV 0.96, validation 0.72).
// Out of fold, fold-mates' labels blur it. On a category that is pure
// noise, count the mixed groups whose encoding separates the labels.
func TestTableTargetEncodingDoesNotLeak(t *testing.T) {
	var b strings.Builder
	b.WriteString("v,y\n")
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, groups = 4000, 200
	for i := range rows {
		fmt.Fprintf(&b, "g%d,%d\n", i%groups, rng.IntN(2)) // groups of 20, random labels
	}
	c, err := ReadCSV(strings.NewReader(b.String()), "noise.csv")
	require.NoError(t, err)
	labels, err := csvLabels(c, "y", []string{"0", "1"})
	require.NoError(t, err)
	separated := func(folds int) float64 {
		spec := Spec{Label: "y", Classes: []string{"0", "1"}, Columns: []ColumnSpec{{Name: "v", Type: Category, Encode: EncodeTarget,
			Target: &TargetEncoding{Folds: folds}}}, Features: []string{"v"}}
		_, x, err := fitCSV(context.Background(), spec, c, nil, true)
		require.NoError(t, err)
		hi1, lo0 := make([]float32, groups), make([]float32, groups)
		for g := range groups {
			hi1[g], lo0[g] = -1, 2
		}
		for i := range rows {
			g := i % groups
			if labels[i] == 1 {
				hi1[g] = max(hi1[g], x[i])
			} else {
				lo0[g] = min(lo0[g], x[i])
			}
		}
		n := 0
		for g := range groups {
			if hi1[g] < lo0[g] {
				n++
			}
		}
		return float64(n) / groups
	}
	loo := separated(100) // 40 rows a fold: most groups have one row in each
	t.Logf("folds 100: labels separate in %.0f%% of groups", 100*loo)
	require.Greater(t, loo, 0.25, "near leave-one-out: labels separate in many groups")
	for _, folds := range []int{0, 2, 5} {
		s := separated(folds)
		t.Logf("folds %d: labels separate in %.0f%% of groups", folds, 100*s)
		require.Less(t, s, 0.01, "folds %d", folds)
	}
}

func TestTableTargetEncodingMulticlass(t *testing.T) {
	c, err := ReadCSV(strings.NewReader("v,y\na,x\na,y\nb,z\nb,z\n"), "m.csv")
	require.NoError(t, err)
	spec := Spec{Label: "y", Columns: []ColumnSpec{{Name: "v", Type: Category, Encode: EncodeTarget}}, Features: []string{"v"}}
	tr, err := FitTransform(context.Background(), spec, c, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"v~target=x", "v~target=y", "v~target=z"}, tr.FeatureNames)
	got, err := tr.ApplyRecord(map[string]any{"v": "b"})
	require.NoError(t, err)
	// (k + 2*prior) / (2 + 2) with priors 1/4, 1/4, 1/2.
	require.InDeltaSlice(t, []float32{0.5 / 4, 0.5 / 4, 3.0 / 4}, got, 1e-6)
}

func TestTableBooleanAndDate(t *testing.T) {
	c, err := ReadCSV(strings.NewReader("y,ok,when\n1,yes,2024-03-01T13:00:00Z\n0,N,2024-12-31\n1,,\n0,true,2023-01-01 06:30:00\n"), "bd.csv")
	require.NoError(t, err)
	spec := Spec{Label: "y", Columns: []ColumnSpec{
		{Name: "ok", Type: Boolean}, {Name: "when", Type: Date, Scale: ScaleNone},
		{Name: "hour", Type: Number, Scale: ScaleNone, Derive: &Derive{Op: DeriveDatePart, Inputs: []string{"when"}, Part: "hour"}},
		{Name: "wd", Type: Number, Scale: ScaleNone, Derive: &Derive{Op: DeriveDatePart, Inputs: []string{"when"}, Part: "weekday"}},
		{Name: "doy", Type: Number, Scale: ScaleNone, Derive: &Derive{Op: DeriveDatePart, Inputs: []string{"when"}, Part: "dayofyear"}},
	}, Features: []string{"ok", "when", "hour", "wd", "doy"}}
	tr, x, err := fitCSV(context.Background(), spec, c, nil, true)
	require.NoError(t, err)
	w := tr.Size()
	require.Equal(t, []float32{1, 19783 + 13.0/24, 13, 5, 61}, x[:w], "2024-03-01 is a Friday, day 61")
	require.Equal(t, float32(0), x[w], "N is false")
	require.Equal(t, float32(1), x[2*w], "a missing boolean is the mode (true: 2 of 3)")
	for _, rec := range []map[string]any{{"ok": true, "when": "2024-03-01T13:00:00Z"}, {"ok": "YES", "when": "2024-03-01T14:00:00+01:00"}, {"ok": 1.0, "when": "2024-03-01T13:00:00Z"}} {
		got, err := tr.ApplyRecord(rec)
		require.NoError(t, err, "%v", rec)
		require.Equal(t, x[:w], got, "%v", rec)
	}
	for rec, want := range map[string]map[string]any{
		`field "ok": "maybe" is not a boolean`:     {"ok": "maybe", "when": nil},
		`field "ok": 2 is not a boolean`:           {"ok": 2.0, "when": nil},
		`field "when": "03/01/2024" is not a date`: {"ok": nil, "when": "03/01/2024"},
		`field "when": expected a date`:            {"ok": nil, "when": 5.0},
	} {
		_, err := tr.ApplyRecord(want)
		require.ErrorContains(t, err, rec)
	}
	bad, err := ReadCSV(strings.NewReader("y,ok,when\n1,maybe,2024-01-01\n0,no,2024-01-02\n"), "bad.csv")
	require.NoError(t, err)
	_, err = FitTransform(context.Background(), spec, bad, nil)
	require.ErrorContains(t, err, `bad.csv line 2, column "ok": "maybe" is not a boolean (expected true/false`)
	require.True(t, math.IsNaN(datePart(math.NaN(), "year")))
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// Fields tell a client what to send: one-hot categories list their values,
// numbers their train range, and a column empty in some train rows may be
// left out.
func TestTableFields(t *testing.T) {
	c := readSmall(t)
	tr, err := FitTransform(context.Background(), TitanicSpec(), c, nil)
	require.NoError(t, err)
	b, err := json.Marshal(tr)
	require.NoError(t, err)
	back, err := UnmarshalTransform(b)
	require.NoError(t, err)
	fields := map[string]Field{}
	var names []string
	for _, f := range back.Fields() {
		fields[f.Name] = f
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"Name", "Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Cabin", "Embarked", "Ticket"}, names)
	require.Equal(t, []string{"female", "male"}, fields["Sex"].Choices)
	require.Equal(t, []string{"1", "2", "3"}, fields["Pclass"].Choices)
	require.Equal(t, []string{"C", "Q", "S"}, fields["Embarked"].Choices)
	require.True(t, fields["Embarked"].Optional, "one passenger has no port")
	require.True(t, fields["Age"].Optional, "ages are missing in training")
	require.False(t, fields["Sex"].Optional)
	require.Equal(t, 2.0, *fields["Age"].Min)
	require.Equal(t, 58.0, *fields["Age"].Max)
	require.Nil(t, fields["Ticket"].Choices, "a target-encoded column takes any value")
	require.True(t, fields["Ticket"].Optional)
	require.Nil(t, fields["Name"].Choices)

	age := slices.IndexFunc(tr.Columns, func(c FittedColumn) bool { return c.Name == "Age" })
	tr.Columns[age].Range = []float64{5, 1}
	b, err = json.Marshal(tr)
	require.NoError(t, err)
	_, err = UnmarshalTransform(b)
	require.ErrorContains(t, err, `column "Age": range [5 1]`)
}

// A schema file is read only up to its limit: a huge or endless file is
// refused, not loaded.
func TestTableReadSchemaFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte("columns:\n"+strings.Repeat("  # padding\n", MaxSchemaBytes/12+10)), 0o644))
	_, err := ReadSchemaFile(big)
	require.ErrorContains(t, err, "a schema names columns, not data")
	require.True(t, errs.Is(err, errs.Invalid))
	_, err = ReadSchemaFile(filepath.Join(dir, "missing.yaml"))
	require.True(t, errs.Is(err, errs.NotFound), "%v", err)
	ok := filepath.Join(dir, "ok.yaml")
	require.NoError(t, os.WriteFile(ok, []byte("target: y\n"), 0o644))
	s, err := ReadSchemaFile(ok)
	require.NoError(t, err)
	require.Equal(t, "y", s.Target)
}
