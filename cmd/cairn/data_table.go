package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/data"
	"github.com/cairn-mlops/cairn/internal/data/table"
	"github.com/cairn-mlops/cairn/internal/errs"
)

// newPrepareTableCmd is 'cairn data prepare table'.
func newPrepareTableCmd() *cobra.Command {
	def := table.DefaultPrepareOptions()
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Prepare a CSV table: typed columns, engineered features, imputation, encodings, standardisation",
		Long: `Reads a CSV table with a header, splits it (stratified by the target, seeded), fits
the transform (imputation, category encodings, standardisation) on the train split
only, encodes every row as float32 features and caches the dataset under the SHA-256
of the file and the parameters: a second run with the same inputs is a cache hit.

The columns come from a preset (--preset titanic), a JSON spec (--spec FILE), or are
inferred from the data when neither is given: number, boolean, date (plus its year,
month and weekday), category (one-hot up to 50 values, target encoded out of fold
above that), and dropped columns (empty, constant, row ids, free text), which are
listed with the reason. A YAML schema (--schema FILE) and --column / --drop override
what inference decides:

  target: churned
  id: customer_id
  columns:
    plan: category
    zip: {type: category, encode: target}   # or frequency, onehot
    age: {impute: mean}                     # or median, mode
    notes: drop`,
		Example: `  cairn data prepare table --source ../shared/data/titanic/train.csv --preset titanic
  cairn data prepare table --source people.csv --target churned --val 0.2 --test 0.1 --json
  cairn data prepare table --source people.csv --schema people.yaml --column zip=category:frequency --drop notes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := table.DefaultPrepareOptions()
			fl := cmd.Flags()
			opts.Path, _ = fl.GetString("source")
			var err error
			if opts.Label, err = targetFlag(cmd); err != nil {
				return err
			}
			opts.Preset, _ = fl.GetString("preset")
			opts.Split.Validation, _ = fl.GetFloat64("val")
			opts.Split.Test, _ = fl.GetFloat64("test")
			opts.Seed, _ = fl.GetUint64("seed")
			opts.CacheDir, _ = fl.GetString("cache")
			opts.Synthetic, _ = fl.GetBool("synthetic")
			if opts.Path == "" {
				return usageError{fmt.Errorf("--source is required (a CSV file, or - for standard input)")}
			}
			if opts.Path == "-" {
				opts.Path, opts.Reader, opts.Name = "", cmd.InOrStdin(), "stdin"
			}
			if specPath, _ := fl.GetString("spec"); specPath != "" {
				spec, err := readTableSpec(specPath)
				if err != nil {
					return err
				}
				opts.Spec = &spec
			}
			if opts.Schema, err = tableSchemaFlags(cmd); err != nil {
				return err
			}
			if opts.Preset == "" && opts.Spec == nil && opts.Label == "" && (opts.Schema == nil || opts.Schema.Target == "") {
				return usageError{fmt.Errorf("--target is required when the columns are inferred (no --preset or --spec)")}
			}
			res, err := table.Prepare(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return printTablePrepare(cmd, res)
		},
	}
	fl := cmd.Flags()
	fl.String("source", "", "CSV file with a header row (- for standard input)")
	fl.String("target", "", "the column to predict (default: the preset's, spec's or schema's)")
	fl.String("label", "", "the same as --target")
	tableSchemaFlagsOn(cmd)
	fl.String("preset", "", "column preset: "+strings.Join(table.Presets(), ", "))
	fl.String("spec", "", "JSON file with a table spec (columns, derived columns, features)")
	fl.Float64("val", def.Split.Validation, "validation share")
	fl.Float64("test", def.Split.Test, "test share")
	fl.Uint64("seed", def.Seed, "split seed")
	fl.String("cache", def.CacheDir, "folder of prepared datasets")
	fl.Bool("synthetic", false, "mark the source as synthetic (automatic for 'cairn data synth' output)")
	fl.Bool("json", false, "print JSON")
	return cmd
}

// targetFlag returns --target, or its older name --label.
func targetFlag(cmd *cobra.Command) (string, error) {
	target, _ := cmd.Flags().GetString("target")
	label, _ := cmd.Flags().GetString("label")
	if target != "" && label != "" && target != label {
		return "", usageError{fmt.Errorf("--target %q and --label %q disagree: give one", target, label)}
	}
	if target == "" {
		target = label
	}
	return target, nil
}

// tableSchemaFlagsOn adds the flags that override inferred table columns.
func tableSchemaFlagsOn(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.String("schema", "", "YAML file overriding inferred columns (target, id, columns: NAME: TYPE or {type, encode, impute})")
	fl.StringArray("column", nil, "override one column's type: NAME=number|category|boolean|date|text, or NAME=category:onehot|frequency|target (repeatable)")
	fl.StringArray("drop", nil, "leave a column out (repeatable)")
}

// tableSchemaFlags builds the schema from --schema, --column and --drop; nil
// when none is given.
func tableSchemaFlags(cmd *cobra.Command) (*table.Schema, error) {
	fl := cmd.Flags()
	path, _ := fl.GetString("schema")
	cols, _ := fl.GetStringArray("column")
	drops, _ := fl.GetStringArray("drop")
	if path == "" && len(cols) == 0 && len(drops) == 0 {
		return nil, nil
	}
	var s table.Schema
	if path != "" {
		var err error
		if s, err = table.ReadSchemaFile(path); err != nil {
			return nil, err
		}
	}
	for _, c := range cols {
		if err := table.ParseColumnFlag(&s, c); err != nil {
			return nil, err
		}
	}
	for _, d := range drops {
		if err := table.ParseColumnFlag(&s, d+"="+table.Drop); err != nil {
			return nil, errs.Invalidf("--drop %q: %v", d, err)
		}
	}
	return &s, nil
}

// readTableSpec reads a table.Spec from a JSON file; unknown fields are errors.
func readTableSpec(path string) (table.Spec, error) {
	var spec table.Spec
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return spec, errs.NotFoundf("--spec %s: no such file", path)
		}
		return spec, fmt.Errorf("read --spec: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return spec, errs.Invalidf("--spec %s: %v", path, err)
	}
	return spec, nil
}

func printTablePrepare(cmd *cobra.Command, res *table.PrepareResult) error {
	m := res.Manifest
	splits := map[string]int{}
	for _, s := range []string{data.SplitTrain, data.SplitValidation, data.SplitTest} {
		splits[s] = len(m.Splits[s])
	}
	if wantJSON(cmd) {
		return printJSON(cmd.OutOrStdout(), map[string]any{
			"dir": res.Dir, "hash": res.Hash, "hit": res.Hit, "duration_ms": float64(res.Duration.Microseconds()) / 1000,
			"rows": m.Count, "splits": splits, "features": m.Features, "classes": m.Classes,
			"synthetic": m.Synthetic, "source": m.Source, "columns": tableColumns(m), "dropped": droppedColumns(m),
		})
	}
	cache := "miss: prepared"
	if res.Hit {
		cache = "hit"
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "dataset    %s\n", res.Dir)
	fmt.Fprintf(w, "hash       %s\n", res.Hash)
	fmt.Fprintf(w, "cache      %s in %s\n", cache, res.Duration.Round(10*time.Microsecond))
	fmt.Fprintf(w, "rows       %d (train %d, validation %d, test %d)\n", m.Count, splits[data.SplitTrain], splits[data.SplitValidation], splits[data.SplitTest])
	fmt.Fprintf(w, "classes    %s\n", strings.Join(m.Classes, ", "))
	var cols []string
	for _, c := range tableColumns(m) {
		cols = append(cols, c["name"]+" "+c["type"])
	}
	fmt.Fprintf(w, "columns    %s\n", strings.Join(cols, ", "))
	if d := droppedSummary(m); d != "" {
		fmt.Fprintf(w, "dropped    %s\n", d)
	}
	fmt.Fprintf(w, "features   %d: %s\n", len(m.Features), strings.Join(m.Features, ", "))
	if m.Synthetic {
		fmt.Fprintf(w, "synthetic  yes\n")
	}
	return nil
}

// droppedColumns returns the columns inference left out, with the reason:
// a map in the manifest's params, read back from JSON on a cache hit.
func droppedColumns(m data.Manifest) map[string]string {
	out := map[string]string{}
	switch d := m.Params["dropped"].(type) {
	case map[string]string:
		maps.Copy(out, d)
	case map[string]any:
		for k, v := range d {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// droppedSummary lists the dropped columns with their reasons, by name:
// "Cabin (dropped by the schema), Name (text-like: ...)"; "" for none.
func droppedSummary(m data.Manifest) string {
	d := droppedColumns(m)
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, name+" ("+d[name]+")")
	}
	return strings.Join(parts, ", ")
}

// tableColumns lists the feature columns of a prepared table with their
// types, and the encoding of each category ("category/target").
func tableColumns(m data.Manifest) []map[string]string {
	t, err := table.UnmarshalTransform(m.Transform)
	if err != nil {
		return nil
	}
	spec := t.Spec()
	var out []map[string]string
	for _, name := range spec.Features {
		for _, c := range spec.Columns {
			if c.Name != name {
				continue
			}
			typ := string(c.Type)
			if c.Type == table.Category && c.Encode != "" && c.Encode != table.EncodeOneHot {
				typ += "/" + c.Encode
			}
			out = append(out, map[string]string{"name": name, "type": typ})
		}
	}
	return out
}

// newSynthTitanicCmd is 'cairn data synth titanic'.
func newSynthTitanicCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "titanic",
		Short: "Write plausible synthetic Titanic passengers as CSV (train.csv's columns)",
		Long: `Writes synthetic passengers with the columns of Kaggle's Titanic train.csv and a
survival rule like the real one (women, children and first class survive more), for
offline demos and tests. A marker file FILE.cairn-synthetic.json is written beside the
CSV, so a dataset prepared from it is marked synthetic.`,
		Example: `  cairn data synth titanic --out synth.csv --n 891 --seed 1`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, _ := cmd.Flags().GetString("out")
			n, _ := cmd.Flags().GetInt("n")
			seed, _ := cmd.Flags().GetUint64("seed")
			if out == "" {
				return usageError{fmt.Errorf("--out is required (a CSV file, or - for standard output)")}
			}
			if out == "-" {
				return table.SynthPassengers(cmd.OutOrStdout(), n, seed)
			}
			if err := table.SynthPassengersFile(out, n, seed); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d synthetic passengers to %s\n", n, out)
			return nil
		},
	}
	cmd.Flags().String("out", "", "CSV file to write (- for standard output)")
	cmd.Flags().Int("n", 891, "number of passengers")
	cmd.Flags().Uint64("seed", 1, "random seed")
	return cmd
}
