package table

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// realTitanic is Kaggle's train.csv in the shared data folder, relative to
// this package; tests that need it skip when it is absent.
const realTitanic = "../../../../shared/data/titanic"

func TestTitanicTitles(t *testing.T) {
	spec := TitanicSpec()
	d := spec.Columns[slices.IndexFunc(spec.Columns, func(c ColumnSpec) bool { return c.Name == "Title" })].Derive
	tr, err := FitTransform(context.Background(), spec, readSmall(t), nil)
	require.NoError(t, err)
	re := tr.c.res[tr.c.index["Title"]]
	for name, want := range map[string]string{
		"Braund, Mr. Owen Harris":                                  "Mr",
		"Cumings, Mrs. John Bradley (Florence Briggs Thayer)":      "Mrs",
		"Heikkinen, Miss. Laina":                                   "Miss",
		"Palsson, Master. Gosta Leonard":                           "Master",
		"Sandstrom, Mlle. Marguerite Rut":                          "Miss",
		"Bonnell, Ms. Elizabeth":                                   "Miss",
		"Aubart, Mme. Leontine Pauline":                            "Mrs",
		"Saunders, Dr. William Henry":                              "Rare",
		"Byles, Rev. Thomas Roussel Davids":                        "Rare",
		"Rothes, the Countess. of (Lucy Noel Martha Dyer-Edwards)": "Rare",
		"Reuchlin, Jonkheer. John George":                          "Rare",
		"Mr. John Smith":                                           "Mr",   // no surname first
		"O'Brien, Mr. Thomas":                                      "Mr",   // apostrophe in the surname
		"Nobody Special":                                           "Rare", // no title at all
		"":                                                         "",     // missing: imputed later
	} {
		require.Equal(t, want, extractCategory(re, d, name), name)
	}
}

func TestTitanicFeatures(t *testing.T) {
	ctx := context.Background()
	c := readSmall(t)
	tr, err := FitTransform(ctx, TitanicSpec(), c, nil)
	require.NoError(t, err)
	x, err := tr.ApplyCSV(ctx, c)
	require.NoError(t, err)
	col := func(name string) FittedColumn {
		return tr.Columns[tr.c.index[name]]
	}
	// raw undoes the standardisation of a number feature.
	raw := func(row int, name string) float64 {
		v := float64(x[row*tr.Size()+slices.Index(tr.FeatureNames, name)])
		if c := col(name); c.Scale != ScaleNone {
			v = v*c.Std + c.Mean
		}
		return v
	}
	hot := func(row int, feature string) []string {
		var on []string
		for k, n := range tr.FeatureNames {
			if strings.HasPrefix(n, feature+"=") && x[row*tr.Size()+k] == 1 {
				on = append(on, strings.TrimPrefix(n, feature+"="))
			}
		}
		return on
	}
	tests := []struct {
		row                             int
		title, sex, class, port         string
		family, alone, perPerson, cabin float64
		age                             float64
	}{
		{0, "Mr", "male", "3", "S", 2, 0, 7.25 / 2, 0, 22},                             // Braund, Mr. Owen Harris
		{1, "Mrs", "female", "1", "C", 2, 0, 71.2833 / 2, 1, 38},                       // Cumberland, Mrs.
		{2, "Miss", "female", "3", "S", 1, 1, 7.925, 0, 26},                            // Heikkila, Miss.
		{5, "Mr", "male", "3", "Q", 1, 1, 8.4583, 0, col("Age").FillNumberBy["Mr"]},    // Moran: no age
		{7, "Master", "male", "3", "S", 5, 0, 21.075 / 5, 0, 2},                        // Palsson, Master.
		{8, "Mrs", "female", "3", "S", 3, 0, 11.1333 / 3, 0, 27},                       // Mme -> Mrs
		{10, "Miss", "female", "3", "S", 3, 0, 16.7 / 3, 1, 4},                         // Mlle -> Miss
		{12, "Rare", "male", "3", "S", 1, 1, 8.05, 0, col("Age").FillNumberBy["Rare"]}, // Dr, no age
		{13, "Rare", "male", "3", "S", 7, 0, 31.275 / 7, 0, 39},                        // Rev; port empty -> S
		{14, "Rare", "female", "1", "S", 1, 1, 86.5, 1, 33},                            // the Countess.
	}
	for _, tc := range tests {
		require.Equal(t, []string{tc.title}, hot(tc.row, "Title"), "row %d", tc.row)
		require.Equal(t, []string{tc.sex}, hot(tc.row, "Sex"), "row %d", tc.row)
		require.Equal(t, []string{tc.class}, hot(tc.row, "Pclass"), "row %d", tc.row)
		require.Equal(t, []string{tc.port}, hot(tc.row, "Embarked"), "row %d", tc.row)
		require.InDelta(t, tc.family, raw(tc.row, "FamilySize"), 1e-5, "row %d", tc.row)
		require.Equal(t, tc.alone, raw(tc.row, "IsAlone"), "row %d", tc.row)
		require.InDelta(t, tc.perPerson, raw(tc.row, "FarePerPerson"), 1e-5, "row %d", tc.row)
		require.Equal(t, tc.cabin, raw(tc.row, "CabinKnown"), "row %d", tc.row)
		require.InDelta(t, tc.age, raw(tc.row, "Age"), 1e-5, "row %d", tc.row)
	}
	// Rare has one known age (39, the Rev.; the Countess is 33): 36.
	require.Equal(t, 36.0, col("Age").FillNumberBy["Rare"])
}

func TestTitanicRealData(t *testing.T) {
	train := filepath.Join(realTitanic, "train.csv")
	if _, err := os.Stat(train); err != nil {
		t.Skipf("the real Titanic data is not here (%s): %v", train, err)
	}
	ctx := context.Background()
	c, err := ReadCSVFile(train)
	require.NoError(t, err)
	require.Len(t, c.Rows, 891)
	require.Equal(t, TitanicHeader, c.Header)

	opts := DefaultPrepareOptions()
	opts.Path, opts.Preset, opts.Label, opts.CacheDir = train, PresetTitanic, "Survived", t.TempDir()
	miss, err := Prepare(ctx, opts)
	require.NoError(t, err)
	hit, err := Prepare(ctx, opts)
	require.NoError(t, err)
	require.False(t, miss.Hit)
	require.True(t, hit.Hit)
	t.Logf("prepare 891 rows: miss %s (%.0f rows/s), hit %s", miss.Duration, 891/miss.Duration.Seconds(), hit.Duration)

	m := miss.Manifest
	require.Equal(t, 891, m.Count)
	require.Equal(t, []int{27}, m.Shape)
	require.Len(t, m.Features, 27)
	require.Len(t, m.Splits[data.SplitTrain], 713)
	require.Len(t, m.Splits[data.SplitValidation], 178)
	d, err := data.Load(miss.Dir)
	require.NoError(t, err)
	var pos int
	for _, l := range d.Labels {
		pos += int(l)
	}
	require.Equal(t, 342, pos)

	// Title counts over the whole file (the usual mapping).
	tr, err := UnmarshalTransform(m.Transform)
	require.NoError(t, err)
	x, err := tr.ApplyCSV(ctx, c)
	require.NoError(t, err)
	requireSameButTrainRates(t, tr, d, x)
	count := map[string]int{}
	for i := range c.Rows {
		for _, title := range []string{"Mr", "Mrs", "Miss", "Master", "Rare"} {
			if x[i*27+slices.Index(tr.FeatureNames, "Title="+title)] == 1 {
				count[title]++
			}
		}
	}
	require.Equal(t, map[string]int{"Mr": 517, "Miss": 185, "Mrs": 126, "Master": 40, "Rare": 23}, count)

	// A serving request for passenger 1 gives the same vector as row 1.
	req := `{"PassengerId": 1, "Name": "Braund, Mr. Owen Harris", "Pclass": 3, "Age": 22, "SibSp": 1,
		"Parch": 0, "Fare": 7.25, "Sex": "male", "Embarked": "S", "Ticket": "A/5 21171"}`
	v, err := tr.ApplyJSON([]byte(req))
	require.NoError(t, err)
	require.Equal(t, x[:27], v)

	// Kaggle's test.csv (no label, one empty fare) transforms too.
	if tc, err := ReadCSVFile(filepath.Join(realTitanic, "test.csv")); err == nil {
		tx, err := tr.ApplyCSV(ctx, tc)
		require.NoError(t, err)
		require.Len(t, tx, 418*27)
	}

	folds, err := d.CVFolds(5, 1)
	require.NoError(t, err)
	require.Len(t, folds, 5)
	for _, f := range folds {
		require.InDelta(t, 891/5, len(f.Validation), 1)
	}
}

func TestTitanicSynthetic(t *testing.T) {
	var a, b, other bytes.Buffer
	require.NoError(t, SynthPassengers(&a, 3000, 1))
	require.NoError(t, SynthPassengers(&b, 3000, 1))
	require.NoError(t, SynthPassengers(&other, 3000, 2))
	require.Equal(t, a.Bytes(), b.Bytes())
	require.NotEqual(t, a.Bytes(), other.Bytes())
	require.True(t, bytes.HasSuffix(a.Bytes(), []byte("\r\n")))

	c, err := ReadCSV(bytes.NewReader(a.Bytes()), "synth.csv")
	require.NoError(t, err)
	require.Equal(t, TitanicHeader, c.Header)
	require.Len(t, c.Rows, 3000)
	col := func(n string) int { return c.Index(n) }
	rate := map[string][2]int{}
	var emptyAge, emptyCabin int
	for _, r := range c.Rows {
		s := r[col("Survived")] == "1"
		for _, k := range []string{"sex=" + r[col("Sex")], "class=" + r[col("Pclass")]} {
			v := rate[k]
			v[1]++
			if s {
				v[0]++
			}
			rate[k] = v
		}
		if r[col("Age")] == "" {
			emptyAge++
		}
		if r[col("Cabin")] == "" {
			emptyCabin++
		}
	}
	frac := func(k string) float64 { return float64(rate[k][0]) / float64(rate[k][1]) }
	t.Logf("survival: female %.2f male %.2f class1 %.2f class2 %.2f class3 %.2f; empty ages %d, cabins %d",
		frac("sex=female"), frac("sex=male"), frac("class=1"), frac("class=2"), frac("class=3"), emptyAge, emptyCabin)
	require.Greater(t, frac("sex=female"), frac("sex=male")+0.3)
	require.Greater(t, frac("class=1"), frac("class=3")+0.2)
	require.InDelta(t, 0.2, float64(emptyAge)/3000, 0.1)
	require.InDelta(t, 0.77, float64(emptyCabin)/3000, 0.1)

	// Every row goes through the preset, and the titles it writes are known.
	tr, err := FitTransform(context.Background(), TitanicSpec(), c, nil)
	require.NoError(t, err)
	require.Equal(t, 27, tr.Size())

	// Written to a file with its marker, a prepared dataset says synthetic.
	dir := t.TempDir()
	p := filepath.Join(dir, "synth.csv")
	require.NoError(t, SynthPassengersFile(p, 500, 4))
	var marker map[string]any
	mb, err := os.ReadFile(p + data.SyntheticMarker)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(mb, &marker))
	require.Equal(t, 4.0, marker["seed"])
	opts := DefaultPrepareOptions()
	opts.Path, opts.Preset, opts.CacheDir = p, PresetTitanic, filepath.Join(dir, "cache")
	res, err := Prepare(context.Background(), opts)
	require.NoError(t, err)
	require.True(t, res.Manifest.Synthetic)
	require.Equal(t, 500, res.Manifest.Count)

	err = SynthPassengers(&a, 0, 1)
	require.True(t, errs.Is(err, errs.Invalid))
}

// BenchmarkTablePrepare measures preparing the real train.csv (a cache
// miss each time) and a cache hit.
func BenchmarkTablePrepare(b *testing.B) {
	train := filepath.Join(realTitanic, "train.csv")
	if _, err := os.Stat(train); err != nil {
		b.Skipf("the real Titanic data is not here (%s)", train)
	}
	ctx := context.Background()
	opts := DefaultPrepareOptions()
	opts.Path, opts.Preset, opts.CacheDir = train, PresetTitanic, b.TempDir()
	b.Run("miss", func(b *testing.B) {
		for i := range b.N {
			o := opts
			o.Seed = uint64(i + 1000)
			if _, err := Prepare(ctx, o); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(891*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("hit", func(b *testing.B) {
		if _, err := Prepare(ctx, opts); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			res, err := Prepare(ctx, opts)
			if err != nil || !res.Hit {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTableApplyRecord measures transforming one serving request.
func BenchmarkTableApplyRecord(b *testing.B) {
	c, err := ReadCSV(strings.NewReader(smallPassengers), "small.csv")
	if err != nil {
		b.Fatal(err)
	}
	tr, err := FitTransform(context.Background(), TitanicSpec(), c, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec := map[string]any{"PassengerId": 892.0, "Name": "Kelly, Mr. James", "Pclass": 3.0, "Age": nil,
		"SibSp": 0.0, "Parch": 0.0, "Fare": 7.8292, "Sex": "male", "Embarked": "Q"}
	b.ReportAllocs()
	for range b.N {
		if _, err := tr.ApplyRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// requireSameButTrainRates checks that a prepared dataset holds the vectors
// the transform gives (x), except for the group rates of its train rows,
// which are encoded out of fold; those must differ somewhere.
func requireSameButTrainRates(t *testing.T, tr *Transform, d *data.Dataset, x []float32) {
	t.Helper()
	w := tr.Size()
	want := slices.Clone(x)
	differ := 0
	for _, i := range d.Manifest.Splits[data.SplitTrain] {
		for k, name := range tr.FeatureNames {
			if strings.HasSuffix(name, "~target") {
				if want[i*w+k] != d.F32[i*w+k] {
					differ++
				}
				want[i*w+k] = d.F32[i*w+k]
			}
		}
	}
	require.Equal(t, want, d.F32)
	require.Positive(t, differ, "train rows' rates are out of fold")
}
