package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
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
		Short: "Prepare a CSV table: typed columns, engineered features, imputation, one-hot, standardisation",
		Long: `Reads a CSV table with a header, splits it (stratified by label, seeded), fits the
transform (imputation, one-hot encoding, standardisation) on the train split only,
encodes every row as float32 features and caches the dataset under the SHA-256 of the
file and the parameters: a second run with the same inputs is a cache hit.

The columns come from a preset (--preset titanic), a JSON spec (--spec FILE), or are
inferred (number, category or text) when neither is given.`,
		Example: `  cairn data prepare table --source ../shared/data/titanic/train.csv --label Survived --preset titanic
  cairn data prepare table --source people.csv --label churned --val 0.2 --test 0.1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := table.DefaultPrepareOptions()
			fl := cmd.Flags()
			opts.Path, _ = fl.GetString("source")
			opts.Label, _ = fl.GetString("label")
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
			if opts.Preset == "" && opts.Spec == nil && opts.Label == "" {
				return usageError{fmt.Errorf("--label is required when the columns are inferred (no --preset or --spec)")}
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
	fl.String("label", "", "label column (default: the preset's or spec's)")
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
			"synthetic": m.Synthetic, "source": m.Source,
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
	fmt.Fprintf(w, "features   %d: %s\n", len(m.Features), strings.Join(m.Features, ", "))
	if m.Synthetic {
		fmt.Fprintf(w, "synthetic  yes\n")
	}
	return nil
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
