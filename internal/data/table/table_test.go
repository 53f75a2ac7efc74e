package table

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// smallPassengers is a hand-made Titanic-like table: empty ages, cabins
// and ports, quoted names with commas, CRLF endings.
const smallPassengers = "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\r\n" +
	"1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\r\n" +
	"2,1,1,\"Cumberland, Mrs. John (Florence Ann Baker)\",female,38,1,0,PC 17599,71.2833,C85,C\r\n" +
	"3,1,3,\"Heikkila, Miss. Laina\",female,26,0,0,STON/O2. 3101282,7.925,,S\r\n" +
	"4,1,1,\"Fuller, Mrs. Jacob Henry (Lily May Pearl)\",female,35,1,0,113803,53.1,C123,S\r\n" +
	"5,0,3,\"Allan, Mr. William Henry\",male,35,0,0,373450,8.05,,S\r\n" +
	"6,0,3,\"Moran, Mr. James\",male,,0,0,330877,8.4583,,Q\r\n" +
	"7,0,1,\"McCarthy, Mr. Timothy J\",male,54,0,0,17463,51.8625,E46,S\r\n" +
	"8,0,3,\"Palsson, Master. Gosta Leonard\",male,2,3,1,349909,21.075,,S\r\n" +
	"9,1,3,\"Johnson, Mme. Oscar W (Elisabeth Vilhelmina Berg)\",female,27,0,2,347742,11.1333,,S\r\n" +
	"10,1,2,\"Nasser, Mrs. Nicholas (Adele Achem)\",female,14,1,0,237736,30.0708,,C\r\n" +
	"11,1,3,\"Sandstrom, Mlle. Marguerite Rut\",female,4,1,1,PP 9549,16.7,G6,S\r\n" +
	"12,1,1,\"Bonnell, Ms. Elizabeth\",female,58,0,0,113783,26.55,C103,S\r\n" +
	"13,0,3,\"Saunders, Dr. William Henry\",male,,0,0,A/5. 2151,8.05,,S\r\n" +
	"14,0,3,\"Andersen, Rev. Anders Johan\",male,39,1,5,347082,31.275,,\r\n" +
	"15,1,1,\"Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)\",female,33,0,0,110152,86.5,B77,S\r\n" +
	"16,0,3,\"Rice, Master. Eugene\",male,,4,1,382652,29.125,,Q\r\n"

func readSmall(t *testing.T) *CSV {
	t.Helper()
	c, err := ReadCSV(strings.NewReader(smallPassengers), "small.csv")
	require.NoError(t, err)
	return c
}

// rowRecord turns CSV row i into a JSON-like record as a client would send
// it: numbers as float64, empty cells as null, strings otherwise.
func rowRecord(c *CSV, i int, numbers ...string) map[string]any {
	rec := map[string]any{}
	for j, h := range c.Header {
		v := c.Rows[i][j]
		switch {
		case v == "":
			rec[h] = nil
		case slices.Contains(numbers, h):
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				panic(err)
			}
			rec[h] = x
		default:
			rec[h] = v
		}
	}
	return rec
}

var titanicNumbers = []string{"PassengerId", "Survived", "Pclass", "Age", "SibSp", "Parch", "Fare"}

func TestTableTransformRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := readSmall(t)
	tr, err := FitTransform(ctx, TitanicSpec(), c, nil)
	require.NoError(t, err)
	require.Equal(t, 27, tr.Size())
	require.Len(t, tr.FeatureNames, 27)
	x, err := tr.ApplyCSV(ctx, c)
	require.NoError(t, err)
	require.Len(t, x, len(c.Rows)*tr.Size())

	// The saved JSON applies identically, and re-encodes to the same bytes.
	b, err := json.Marshal(tr)
	require.NoError(t, err)
	back, err := UnmarshalTransform(b)
	require.NoError(t, err)
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	require.Equal(t, string(b), string(b2))
	x2, err := back.ApplyCSV(ctx, c)
	require.NoError(t, err)
	require.Equal(t, x, x2)

	// One record at a time (numbers as JSON numbers, Pclass as a number too)
	// gives the same vector as its CSV row; so does a batch and raw JSON.
	w := tr.Size()
	var recs []map[string]any
	for i := range c.Rows {
		rec := rowRecord(c, i, titanicNumbers...)
		delete(rec, "Survived")
		recs = append(recs, rec)
		v, err := back.ApplyRecord(rec)
		require.NoError(t, err)
		require.Equal(t, x[i*w:(i+1)*w], v, "row %d", i)
		js, err := json.Marshal(rec)
		require.NoError(t, err)
		v, err = back.ApplyJSON(js)
		require.NoError(t, err)
		require.Equal(t, x[i*w:(i+1)*w], v, "row %d as JSON", i)
	}
	batch, err := back.ApplyRecords(recs)
	require.NoError(t, err)
	require.Equal(t, x, batch)

	// Fitting is deterministic.
	again, err := FitTransform(ctx, TitanicSpec(), c, nil)
	require.NoError(t, err)
	b3, err := json.Marshal(again)
	require.NoError(t, err)
	require.Equal(t, string(b), string(b3))
}

func TestTableTransformFitsOnTrainOnly(t *testing.T) {
	ctx := context.Background()
	c := readSmall(t)
	all, err := FitTransform(ctx, TitanicSpec(), c, nil)
	require.NoError(t, err)
	train := []int{0, 2, 4, 5, 7, 12} // third-class rows only, plus Dr. Saunders
	sub, err := FitTransform(ctx, TitanicSpec(), c, train)
	require.NoError(t, err)
	col := func(tr *Transform, name string) FittedColumn {
		for _, c := range tr.Columns {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no column %s", name)
		return FittedColumn{}
	}
	require.Equal(t, []string{"3"}, col(sub, "Pclass").Categories)
	require.Equal(t, []string{"1", "2", "3"}, col(all, "Pclass").Categories)
	// Ages of the train rows: 22, 26, 35, (Moran missing), 2, (Saunders missing).
	require.Equal(t, 24.0, col(sub, "Age").FillNumber)
	require.Equal(t, map[string]float64{"Master": 2, "Miss": 26, "Mr": 28.5}, col(sub, "Age").FillNumberBy)
	// Moran (Mr) is imputed 28.5, Saunders (Rare, no train age) the overall 24.
	require.InDelta(t, (22+26+35+28.5+2+24)/6.0, col(sub, "Age").Mean, 1e-12)
}

func TestTableTransformRecords(t *testing.T) {
	ctx := context.Background()
	c := readSmall(t)
	tr, err := FitTransform(ctx, TitanicSpec(), c, nil)
	require.NoError(t, err)
	slot := func(v []float32, name string) float32 {
		i := slices.Index(tr.FeatureNames, name)
		require.GreaterOrEqual(t, i, 0, name)
		return v[i]
	}
	base := func() map[string]any {
		return map[string]any{"PassengerId": 892.0, "Name": "Kelly, Mr. James", "Pclass": 3.0, "Age": 34.5,
			"SibSp": 0.0, "Parch": 0.0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}
	}

	// The request the server receives: no Cabin, no Ticket.
	v, err := tr.ApplyRecord(base())
	require.NoError(t, err)
	require.Equal(t, float32(1), slot(v, "Title=Mr"))
	require.Equal(t, float32(1), slot(v, "Pclass=3"))
	require.Equal(t, float32(1), slot(v, "IsAlone"))
	require.Equal(t, float32(0), slot(v, "CabinKnown"))

	// An absent optional field is the same as null and as an empty cell.
	withNull := base()
	withNull["Cabin"] = nil
	v2, err := tr.ApplyRecord(withNull)
	require.NoError(t, err)
	require.Equal(t, v, v2)
	withCabin := base()
	withCabin["Cabin"] = "B22"
	v3, err := tr.ApplyRecord(withCabin)
	require.NoError(t, err)
	require.Equal(t, float32(1), slot(v3, "CabinKnown"))

	// Pclass as a string or an integer is the same category as the number.
	// JSON decoded with UseNumber keeps 3.0 as written: it is still 3.
	for _, p := range []any{"3", 3, 3.0, int64(3), json.Number("3"), json.Number("3.0"), json.Number("3e0")} {
		r := base()
		r["Pclass"] = p
		pv, err := tr.ApplyRecord(r)
		require.NoError(t, err)
		require.Equal(t, v, pv, "Pclass %T", p)
	}

	// Unseen categories go to the unknown slot.
	unseen := base()
	unseen["Embarked"] = "X"
	unseen["Sex"] = "other"
	unseen["Pclass"] = 4.0
	uv, err := tr.ApplyRecord(unseen)
	require.NoError(t, err)
	for _, f := range []string{"Embarked", "Sex", "Pclass"} {
		require.Equal(t, float32(1), slot(uv, f+"=<unknown>"), f)
	}
	require.Equal(t, float32(0), slot(uv, "Embarked=Q"))
	require.Equal(t, float32(0), slot(uv, "Sex=male"))
	// ... and are named, so a server can count them.
	nv0, unknown, err := tr.AppendRecordNoting(nil, unseen)
	require.NoError(t, err)
	require.Equal(t, uv, nv0)
	require.ElementsMatch(t, []string{"Embarked", "Sex", "Pclass"}, unknown)
	_, unknown, err = tr.AppendRecordNoting(nil, base())
	require.NoError(t, err)
	require.Empty(t, unknown)

	// A field that was empty in some training rows may be left out: it is
	// unknown, as null is. One never empty in training is still required.
	ageCol := tr.Columns[slices.IndexFunc(tr.Columns, func(c FittedColumn) bool { return c.Name == "Age" })]
	require.Positive(t, ageCol.Missing, "the small table has passengers of unknown age")
	noAge, nullAge := base(), base()
	delete(noAge, "Age")
	nullAge["Age"] = nil
	av, err := tr.ApplyRecord(noAge)
	require.NoError(t, err)
	bv, err := tr.ApplyRecord(nullAge)
	require.NoError(t, err)
	require.Equal(t, bv, av)

	// A null age is the median age of the title, as in training: the Master
	// rows are 2 and unknown (imputed from the rest), so 2.
	null := base()
	null["Name"] = "Rice, Master. Arthur"
	null["Age"] = nil
	nv, err := tr.ApplyRecord(null)
	require.NoError(t, err)
	age := tr.Columns[slices.IndexFunc(tr.Columns, func(c FittedColumn) bool { return c.Name == "Age" })]
	require.Equal(t, 2.0, age.FillNumberBy["Master"])
	require.Equal(t, float32((2-age.Mean)/age.Std), slot(nv, "Age"))
	// A null Embarked is the most frequent port (S).
	noPort := base()
	noPort["Embarked"] = nil
	pv, err := tr.ApplyRecord(noPort)
	require.NoError(t, err)
	require.Equal(t, float32(1), slot(pv, "Embarked=S"))
	// A null fare is the median of its class, and so is its fare per person.
	noFare := base()
	noFare["Fare"] = nil
	_, err = tr.ApplyRecord(noFare)
	require.NoError(t, err)

	bad := []struct {
		name string
		edit func(map[string]any)
		msg  string
	}{
		{"number as string", func(r map[string]any) { r["Age"] = "abc" }, `field "Age": expected a number, got a string ("abc")`},
		{"numeric string for a number", func(r map[string]any) { r["Fare"] = "7.5" }, `field "Fare": expected a number, got a string ("7.5")`},
		{"boolean category", func(r map[string]any) { r["Sex"] = true }, `field "Sex": expected a category (a string), got a boolean`},
		{"object text", func(r map[string]any) { r["Name"] = map[string]any{} }, `field "Name": expected a text (a string), got an object`},
		{"array number", func(r map[string]any) { r["SibSp"] = []any{1.0} }, `field "SibSp": expected a number, got an array`},
		{"infinite number", func(r map[string]any) { r["Fare"] = math.Inf(1) }, `field "Fare": expected a finite number`},
		{"required field absent", func(r map[string]any) { delete(r, "Fare") }, `field "Fare" is required (null when unknown)`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.edit(r)
			_, err := tr.ApplyRecord(r)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.Equal(t, tc.msg, err.Error())
		})
	}
	_, err = tr.ApplyRecords([]map[string]any{base(), {"Name": "x"}})
	require.ErrorContains(t, err, "record 1: field ")
	_, err = tr.ApplyJSON([]byte(`[1,2]`))
	require.True(t, errs.Is(err, errs.Invalid))
	_, err = tr.ApplyJSON([]byte(`null`))
	require.True(t, errs.Is(err, errs.Invalid))
}

func TestTableUnmarshalTransformErrors(t *testing.T) {
	c := readSmall(t)
	tr, err := FitTransform(context.Background(), TitanicSpec(), c, nil)
	require.NoError(t, err)
	good, err := json.Marshal(tr)
	require.NoError(t, err)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		f(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), `unknown field "extra"`},
		{"version", edit(func(m map[string]any) { m["version"] = 2 }), "version 2, expected 1"},
		{"feature names", edit(func(m map[string]any) { m["feature_names"] = []string{"x"} }), "feature_names do not match"},
		{"bad feature", edit(func(m map[string]any) { m["features"] = []string{"Nope"} }), `feature "Nope" is not a column`},
		{"trailing data", append(slices.Clone(good), []byte(" {}")...), "data after the JSON object"},
		{"not JSON", []byte("nope"), "table transform: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalTransform(tc.in)
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestTableSpecValidate(t *testing.T) {
	num := func(n string) ColumnSpec { return ColumnSpec{Name: n, Type: Number} }
	tests := []struct {
		name string
		spec Spec
		msg  string
	}{
		{"no label", Spec{Columns: []ColumnSpec{num("a")}, Features: []string{"a"}}, "no label column"},
		{"no columns", Spec{Label: "y"}, "no columns"},
		{"no features", Spec{Label: "y", Columns: []ColumnSpec{num("a")}}, "no features"},
		{"label as column", Spec{Label: "a", Columns: []ColumnSpec{num("a")}, Features: []string{"a"}}, `column "a": is the label column`},
		{"twice", Spec{Label: "y", Columns: []ColumnSpec{num("a"), num("a")}, Features: []string{"a"}}, `column "a": declared twice`},
		{"bad type", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: "int"}}, Features: []string{"a"}}, `type "int": expected`},
		{"text feature", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Text}}, Features: []string{"a"}}, `feature "a" is text`},
		{"unknown feature", Spec{Label: "y", Columns: []ColumnSpec{num("a")}, Features: []string{"b"}}, `feature "b" is not a column`},
		{"feature twice", Spec{Label: "y", Columns: []ColumnSpec{num("a")}, Features: []string{"a", "a"}}, `feature "a" listed twice`},
		{"median of category", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Category, Impute: Impute{Strategy: ImputeMedian}}}, Features: []string{"a"}}, `impute "median" needs a number or date column`},
		{"bad constant", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Number, Impute: Impute{Strategy: ImputeConstant, Value: "x"}}}, Features: []string{"a"}}, `impute value "x" is not a number`},
		{"by later column", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Number, Impute: Impute{By: "b"}}, {Name: "b", Type: Category}}, Features: []string{"a"}}, `impute by "b": expected an earlier category column`},
		{"scale category", Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Category, Scale: ScaleNone}}, Features: []string{"a"}}, "scale applies to numbers and dates only"},
		{"unknown op", Spec{Label: "y", Columns: []ColumnSpec{num("a"), {Name: "b", Type: Number, Derive: &Derive{Op: "log", Inputs: []string{"a"}}}}, Features: []string{"b"}}, `derive op "log": expected`},
		{"derive from later", Spec{Label: "y", Columns: []ColumnSpec{{Name: "b", Type: Number, Derive: &Derive{Op: DeriveSum, Inputs: []string{"a"}}}, num("a")}, Features: []string{"b"}}, `derive input "a" is not an earlier column`},
		{"ratio arity", Spec{Label: "y", Columns: []ColumnSpec{num("a"), {Name: "b", Type: Number, Derive: &Derive{Op: DeriveRatio, Inputs: []string{"a"}}}}, Features: []string{"b"}}, `derive "ratio" takes 2 input(s), got 1`},
		{"extract type", Spec{Label: "y", Columns: []ColumnSpec{{Name: "n", Type: Text}, {Name: "b", Type: Number, Derive: &Derive{Op: DeriveExtract, Inputs: []string{"n"}, Pattern: "(x)"}}}, Features: []string{"b"}}, `derive "extract" gives a category column, declared number`},
		{"extract no group", Spec{Label: "y", Columns: []ColumnSpec{{Name: "n", Type: Text}, {Name: "b", Type: Category, Derive: &Derive{Op: DeriveExtract, Inputs: []string{"n"}, Pattern: "x"}}}, Features: []string{"b"}}, `has no group to extract`},
		{"optional derived", Spec{Label: "y", Columns: []ColumnSpec{num("a"), {Name: "b", Type: Number, Optional: true, Derive: &Derive{Op: DerivePresent, Inputs: []string{"a"}}}}, Features: []string{"b"}}, "a derived column cannot be optional"},
		{"one class", Spec{Label: "y", Classes: []string{"1"}, Columns: []ColumnSpec{num("a")}, Features: []string{"a"}}, "one class"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			require.True(t, errs.Is(err, errs.Invalid), "%v", err)
			require.ErrorContains(t, err, tc.msg)
		})
	}
	require.NoError(t, TitanicSpec().Validate())
}

func TestTableLabels(t *testing.T) {
	c, err := ReadCSV(strings.NewReader("y,a\n10,1\n9,2\n10,3\n"), "t.csv")
	require.NoError(t, err)
	tr, err := FitTransform(context.Background(), Spec{Label: "y", Columns: []ColumnSpec{{Name: "a", Type: Number}}, Features: []string{"a"}}, c, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"9", "10"}, tr.Classes) // numeric order
	labels, err := tr.CSVLabels(c)
	require.NoError(t, err)
	require.Equal(t, []int32{1, 0, 1}, labels)

	c.Rows[1][0] = "7"
	_, err = tr.CSVLabels(c)
	require.Equal(t, `t.csv line 3, column "y": "7" is not a class (expected "9", "10")`, err.Error())
	c.Rows[1][0] = ""
	_, err = tr.CSVLabels(c)
	require.Equal(t, `t.csv line 3, column "y": empty label`, err.Error())
}

func TestTablePrepareCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "small.csv")
	require.NoError(t, os.WriteFile(src, []byte(smallPassengers), 0o644))
	opts := DefaultPrepareOptions()
	opts.Path, opts.Preset, opts.Label, opts.CacheDir = src, PresetTitanic, "Survived", filepath.Join(dir, "cache")
	opts.Split = data.SplitFractions{Validation: 0.25}

	first, err := Prepare(ctx, opts)
	require.NoError(t, err)
	require.False(t, first.Hit)
	require.Len(t, first.Hash, 64)
	m := first.Manifest
	require.Equal(t, "table", m.Kind)
	require.Equal(t, data.Float32, m.DType)
	// Fitted on the 12 train rows only, which lack some categories of the 16.
	require.Equal(t, []int{len(m.Features)}, m.Shape)
	require.LessOrEqual(t, len(m.Features), 25)
	require.Equal(t, []string{"0", "1"}, m.Classes)
	require.Equal(t, 16, m.Count)
	require.Len(t, m.Splits[data.SplitValidation], 4)
	require.Len(t, m.Splits[data.SplitTrain], 12)
	require.False(t, m.Synthetic)
	require.Equal(t, "1", m.Meta[0]["id"])

	second, err := Prepare(ctx, opts)
	require.NoError(t, err)
	require.True(t, second.Hit)
	require.Equal(t, first.Dir, second.Dir)
	require.Equal(t, first.Hash, second.Hash)

	// The saved dataset holds what the saved transform gives, fitted on the
	// train split only.
	d, err := data.Load(first.Dir)
	require.NoError(t, err)
	tr, err := UnmarshalTransform(d.Manifest.Transform)
	require.NoError(t, err)
	c := readSmall(t)
	want, err := tr.ApplyCSV(ctx, c)
	require.NoError(t, err)
	// ... but for the train rows' group rates, which are out of fold.
	train := map[int]bool{}
	for _, i := range d.Manifest.Splits[data.SplitTrain] {
		train[i] = true
	}
	w := tr.Size()
	for k, name := range tr.FeatureNames {
		if !strings.HasSuffix(name, "~target") {
			continue
		}
		for i := range c.Rows {
			if train[i] {
				want[i*w+k] = d.F32[i*w+k]
			}
		}
	}
	require.Equal(t, want, d.F32)
	refit, err := FitTransform(ctx, TitanicSpec(), c, d.Manifest.Splits[data.SplitTrain])
	require.NoError(t, err)
	rb, _ := json.Marshal(refit)
	require.JSONEq(t, string(rb), string(d.Manifest.Transform))

	// A reader with the same bytes and parameters is the same dataset.
	opts2 := opts
	opts2.Path, opts2.Reader = "", bytes.NewReader([]byte(smallPassengers))
	third, err := Prepare(ctx, opts2)
	require.NoError(t, err)
	require.True(t, third.Hit)

	// Any parameter or content change is a different dataset.
	for name, o := range map[string]func(*PrepareOptions){
		"seed":      func(o *PrepareOptions) { o.Seed = 2 },
		"split":     func(o *PrepareOptions) { o.Split.Test = 0.25 },
		"synthetic": func(o *PrepareOptions) { o.Synthetic = true },
		"content": func(o *PrepareOptions) {
			o.Path, o.Reader = "", strings.NewReader(strings.Replace(smallPassengers, "7.25", "7.5", 1))
		},
	} {
		oo := opts
		o(&oo)
		res, err := Prepare(ctx, oo)
		require.NoError(t, err, name)
		require.False(t, res.Hit, name)
		require.NotEqual(t, first.Hash, res.Hash, name)
	}
}

func TestTablePrepareInferredAndErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := DefaultPrepareOptions()
	opts.CacheDir = dir
	opts.Reader, opts.Name, opts.Label = strings.NewReader(smallPassengers), "small.csv", "Survived"
	opts.Split = data.SplitFractions{} // all rows train, so every category is seen
	res, err := Prepare(ctx, opts)
	require.NoError(t, err)
	// Inferred: numbers and categories except the label are features;
	// PassengerId is the row id; Name, Ticket and Cabin are text.
	require.Equal(t, []string{"Pclass", "Sex=female", "Sex=male", "Sex=<unknown>", "Age", "SibSp", "Parch", "Fare",
		"Embarked=C", "Embarked=Q", "Embarked=S", "Embarked=<unknown>"}, res.Manifest.Features)
	require.Equal(t, map[string]string{
		"PassengerId": "an id: a distinct whole number in every row",
		"Name":        "text-like: 16 distinct values in 16 rows (free text or an id)",
		"Ticket":      "text-like: 16 distinct values in 16 rows (free text or an id)",
		"Cabin":       "text-like: 6 distinct values in 6 rows (free text or an id)",
	}, res.Manifest.Params["dropped"])
	require.Equal(t, "1", res.Manifest.Meta[0]["id"], "the id is kept as row metadata")

	tests := []struct {
		name string
		edit func(*PrepareOptions)
		kind errs.Kind
		msg  string
	}{
		{"no source", func(o *PrepareOptions) { o.Reader = nil }, errs.Invalid, "no source"},
		{"missing file", func(o *PrepareOptions) { o.Reader, o.Path = nil, filepath.Join(dir, "nope.csv") }, errs.NotFound, "no such file"},
		{"no label inferred", func(o *PrepareOptions) { o.Label = "" }, errs.Invalid, "no target column"},
		{"constant label", func(o *PrepareOptions) { o.Reader, o.Label = strings.NewReader("y,x\n1,2\n1,3\n1,4\n"), "y" }, errs.Invalid, `label column "y" has 1 distinct value(s): expected at least two classes`},
		{"continuous label", func(o *PrepareOptions) {
			var b strings.Builder
			b.WriteString("y,x\n")
			for i := range 300 {
				fmt.Fprintf(&b, "%d.5,%d\n", i, i%3)
			}
			o.Reader, o.Label = strings.NewReader(b.String()), "y"
		}, errs.Invalid, `label column "y" has 300 distinct values: table models are classifiers of at most 200 classes`},
		{"ragged row", func(o *PrepareOptions) { o.Reader = strings.NewReader("Survived,x\n1,2\n0,3,4\n") }, errs.Invalid, "small.csv line 3: 3 fields, expected 2 as in the header"},
		{"schema with preset", func(o *PrepareOptions) { o.Preset, o.Schema = PresetTitanic, &Schema{} }, errs.Invalid, "a schema overrides inferred columns"},
		{"unknown preset", func(o *PrepareOptions) { o.Preset = "iris" }, errs.Invalid, `table preset "iris": expected one of "titanic"`},
		{"bad split", func(o *PrepareOptions) { o.Split.Validation = 1 }, errs.Invalid, "split: validation"},
		{"label missing", func(o *PrepareOptions) { o.Label = "Lived" }, errs.Invalid, `small.csv: missing required column "Lived"; the header has: PassengerId, Survived`},
		{"preset columns missing", func(o *PrepareOptions) {
			o.Preset = PresetTitanic
			o.Reader = strings.NewReader("Survived,Name,Sex\n0,\"A, Mr. B\",male\n1,\"C, Mrs. D\",female\n")
		}, errs.Invalid, `small.csv: missing required columns "Pclass", "Age", "SibSp", "Parch", "Fare", "Embarked"; the header has: Survived, Name, Sex`},
		{"header only", func(o *PrepareOptions) { o.Reader = strings.NewReader("Survived,Age\n") }, errs.Invalid, "small.csv: no data rows after the header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			o.Reader = strings.NewReader(smallPassengers)
			tc.edit(&o)
			_, err := Prepare(ctx, o)
			require.Error(t, err)
			require.Equal(t, tc.kind, errs.KindOf(err), "%v", err)
			require.ErrorContains(t, err, tc.msg)
		})
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	o := opts
	o.Reader, o.Seed = strings.NewReader(smallPassengers), 99
	_, err = Prepare(canceled, o)
	require.ErrorIs(t, err, context.Canceled)
}
