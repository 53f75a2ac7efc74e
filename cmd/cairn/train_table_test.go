package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/train"
)

// genTable writes a CSV with a known structure and returns the accuracy of
// the Bayes classifier on it (which knows the true class probabilities of
// every row, missing cells included): numbers (one 10% missing), a
// category with 5% missing, a yes/no flag, a date, a high-cardinality city
// with its own effect, plus an id, free-text notes and a constant column,
// which carry nothing. classes is 2 (churned yes/no) or 3 (plan
// basic/pro/team).
func genTable(t *testing.T, path string, rows, classes int, seed uint64) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	segEffect := map[string]float64{"north": 1.2, "south": -0.8, "east": 0.3, "west": -0.7}
	segs := []string{"north", "south", "east", "west"}
	cityEffect := make([]float64, 150)
	for i := range cityEffect {
		cityEffect[i] = 1.5 * rng.NormFloat64()
	}
	var b strings.Builder
	target := "churned"
	if classes > 2 {
		target = "plan"
	}
	fmt.Fprintf(&b, "customer_id,%s,spend,visits,segment,member,signup,city,notes,source\n", target)
	correct := 0.0
	for i := range rows {
		spend, visits := rng.NormFloat64(), rng.NormFloat64()
		seg := segs[rng.IntN(len(segs))]
		member := rng.IntN(2) == 1
		city := rng.IntN(len(cityEffect))
		month := 1 + rng.IntN(12)
		summer := 0.0
		if month >= 6 && month <= 8 {
			summer = 1
		}
		// Scores per class; the label is drawn from their softmax.
		z := []float64{0, 1.6*spend - 1.1*visits + segEffect[seg] + 0.9*flag(member) + cityEffect[city] + 0.8*summer}
		if classes > 2 {
			z = append(z, -1.4*spend+1.2*visits-segEffect[seg]+0.5*cityEffect[city])
		}
		p := softmax(z)
		u, k := rng.Float64(), 0
		for acc := p[0]; u > acc && k < len(p)-1; acc += p[k] {
			k++
		}
		correct += slicesMax(p) // the Bayes classifier is right with the top probability
		label := []string{"no", "yes"}[min(k, 1)]
		if classes > 2 {
			label = []string{"basic", "pro", "team"}[k]
		}
		spendCell := fmt.Sprintf("%.4f", 100+30*spend)
		if rng.Float64() < 0.1 {
			spendCell = ""
		}
		segCell := seg
		if rng.Float64() < 0.05 {
			segCell = ""
		}
		fmt.Fprintf(&b, "%d,%s,%s,%.2f,%s,%s,2024-%02d-%02d,c%03d,\"free text %d, %x\",web\n", 5000+3*i, label, spendCell,
			10+3*visits, segCell, map[bool]string{true: "yes", false: "no"}[member], month, 1+rng.IntN(28), city, i, rng.Uint32())
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return correct / float64(rows)
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func softmax(z []float64) []float64 {
	p := make([]float64, len(z))
	var s float64
	for i, v := range z {
		p[i] = math.Exp(v)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func slicesMax(p []float64) float64 {
	m := p[0]
	for _, v := range p {
		m = max(m, v)
	}
	return m
}

// runSplit runs a cairn command with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// TestTrainTableAnyCSV trains on generated tables that are not Titanic,
// binary and three-class, through inference alone, and checks that the
// models come near the Bayes rate and that the run is tracked.
func TestTrainTableAnyCSV(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	url, _, _ := startServer(t, cfg)
	work := t.TempDir()
	c, err := client.New(url, client.DefaultOptions())
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		classes int
		args    []string
	}{
		{"binary gbdt", 2, []string{"--target", "churned", "--model", "gbdt", "--cv", "3"}},
		{"binary logistic", 2, []string{"--target", "churned", "--model", "logistic", "--epochs", "30"}},
		{"three classes gbdt", 3, []string{"--target", "plan", "--model", "gbdt"}},
		{"binary ensemble", 2, []string{"--target", "churned", "--model", "ensemble", "--members", "gbdt,logistic", "--epochs", "20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			csv := filepath.Join(work, fmt.Sprintf("customers%d.csv", tc.classes))
			bayes := genTable(t, csv, 4000, tc.classes, uint64(tc.classes))
			args := append([]string{"train", "table", "--data", csv, "--tracking-uri", url, "--data-dir", filepath.Join(work, "cd"), "--json"}, tc.args...)
			out, log, err := runSplit(t, args...)
			require.NoError(t, err, log)
			var res map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &res), "stdout is one JSON object: %s", out)
			acc := res["val_accuracy"].(float64)
			t.Logf("%s: validation accuracy %.3f, Bayes rate %.3f", tc.name, acc, bayes)
			// 800 validation rows: the standard error is about 0.017.
			require.Greater(t, acc, bayes-0.06, "near the Bayes rate")
			require.LessOrEqual(t, acc, bayes+0.05)
			if slicesContains(tc.args, "--cv") {
				require.Greater(t, res["cv_accuracy_mean"].(float64), bayes-0.06)
				require.Contains(t, res, "cv_accuracy_std")
			}
			// What inference decided is in the log.
			require.Contains(t, log, "dropped customer_id (an id: a distinct whole number in every row)")
			require.Contains(t, log, "notes (text-like")
			require.Contains(t, log, "source (one value in every row)")
			require.Contains(t, log, "city~target")
			require.Contains(t, log, "signup.month")

			require.Equal(t, tc.args[3], res["model"])

			// The package serves a record as a client sends it: a date, a
			// yes/no, a city never seen, a missing spend.
			p, err := train.LoadPredictor(res["package"].(string), "")
			require.NoError(t, err)
			probs, err := p.PredictRecord(map[string]any{"spend": nil, "visits": 9.5, "segment": "north", "member": "yes",
				"signup": "2024-07-04", "city": "c999"})
			require.NoError(t, err)
			require.Len(t, probs, tc.classes)
			_, err = p.PredictRecord(map[string]any{"spend": 1.0, "visits": 9.5, "segment": "north", "member": "perhaps",
				"signup": "2024-07-04", "city": "c001"})
			require.ErrorContains(t, err, `field "member": "perhaps" is not a boolean`)

			r, err := c.GetRun(context.Background(), res["run_id"].(string))
			require.NoError(t, err)
			require.Equal(t, "FINISHED", r.Info.Status)
			if tc.args[3] == "ensemble" {
				params := map[string]string{}
				for _, p := range r.Params {
					params[p.Key] = p.Value
				}
				require.Equal(t, "gbdt,logistic", params["members"])
				require.Equal(t, "20", params["logistic.epochs"])
				require.Contains(t, params, "gbdt.tree_iterations")
			}
			exp, err := c.GetExperiment(context.Background(), r.Info.ExperimentID)
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("customers%d", tc.classes), exp.Name, "the experiment is named after the file")
		})
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestTrainTableBadInput: each mistake is a clear error naming the column
// or line, with the usage (2) or bad-input exit code.
func TestTrainTableBadInput(t *testing.T) {
	work := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(work, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	good := filepath.Join(work, "good.csv")
	genTable(t, good, 300, 2, 1)
	var typo strings.Builder
	typo.WriteString("y,x\n")
	for i := range 200 {
		x := fmt.Sprint(i % 13)
		if i == 50 {
			x = "twelve"
		}
		fmt.Fprintf(&typo, "%d,%s\n", i%2, x)
	}
	schema := write("bad.yaml", "target: churned\ncolumns:\n  spend: money\n")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--data", good}, 2, "--target is required"},
		{[]string{"--data", good, "--target", "nope"}, 2, `missing required column "nope"`},
		{[]string{"--data", write("const.csv", "y,x\n1,2\n1,3\n1,5\n"), "--target", "y"}, 2, `label column "y" has 1 distinct value(s)`},
		{[]string{"--data", write("ragged.csv", "y,x\n1,2\n0,3,4\n"), "--target", "y"}, 2, "ragged.csv line 3: 3 fields, expected 2"},
		{[]string{"--data", write("typo.csv", typo.String()), "--target", "y"}, 2, `typo.csv line 52, column "x": "twelve" is not a number`},
		{[]string{"--data", good, "--schema", schema}, 2, `bad.yaml: column "spend": type "money"`},
		{[]string{"--data", good, "--target", "churned", "--column", "spend"}, 2, `--column "spend": expected NAME=TYPE`},
		{[]string{"--data", good, "--target", "churned", "--column", "spend=boolean"}, 2, `column "spend": "`},
		{[]string{"--data", filepath.Join(work, "missing.csv"), "--target", "y"}, 3, "no such file"},
	} {
		args := append([]string{"train", "table", "--tracking-uri", "http://127.0.0.1:1", "--data-dir", filepath.Join(work, "cd")}, tc.args...)
		_, err := run(t, args...)
		require.Error(t, err, "%v", tc.args)
		require.Equal(t, tc.code, exitCode(err), "%v: %v", tc.args, err)
		require.ErrorContains(t, err, tc.msg, "%v", tc.args)
	}
	_, err := run(t, "train", "titanic", "--data", good, "--target", "churned")
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "--target applies to 'cairn train table' only")
}
