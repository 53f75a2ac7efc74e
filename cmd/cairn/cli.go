package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-mlops/cairn/internal/client"
	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// clientFlags adds --tracking-uri and --json to an API command.
func clientFlags(cmd *cobra.Command) {
	cmd.Flags().String("tracking-uri", "", "server URL (default: $CAIRN_TRACKING_URI, $MLFLOW_TRACKING_URI or http://127.0.0.1:5000)")
	cmd.Flags().Bool("json", false, "print JSON instead of a table")
}

// newClient builds an API client from flags and the MLflow client's variables:
// MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
func newClient(cmd *cobra.Command) (*client.Client, error) {
	uri, _ := cmd.Flags().GetString("tracking-uri")
	for _, k := range []string{"CAIRN_TRACKING_URI", "MLFLOW_TRACKING_URI"} {
		if uri == "" {
			uri = os.Getenv(k)
		}
	}
	if uri == "" {
		uri = "http://127.0.0.1:5000"
	}
	return clientFor(uri)
}

// clientFor is a client for the server at uri with the MLflow client's
// credential variables.
func clientFor(uri string) (*client.Client, error) {
	opts := client.DefaultOptions()
	opts.Token = os.Getenv("MLFLOW_TRACKING_TOKEN")
	opts.Username = os.Getenv("MLFLOW_TRACKING_USERNAME")
	opts.Password = os.Getenv("MLFLOW_TRACKING_PASSWORD")
	return client.New(uri, opts)
}

func wantJSON(cmd *cobra.Command) bool {
	j, _ := cmd.Flags().GetBool("json")
	return j
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func fmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05")
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func parseView(s string) (tracking.ViewType, error) {
	switch strings.ToLower(s) {
	case "active", "":
		return tracking.ActiveOnly, nil
	case "deleted":
		return tracking.DeletedOnly, nil
	case "all":
		return tracking.All, nil
	}
	return 0, usageError{fmt.Errorf("invalid --view %q: expected active, deleted or all", s)}
}

func newExperimentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "experiments", Short: "List and inspect experiments"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List experiments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			filter, _ := cmd.Flags().GetString("filter")
			viewS, _ := cmd.Flags().GetString("view")
			view, err := parseView(viewS)
			if err != nil {
				return err
			}
			var all []*tracking.Experiment
			tok := ""
			for {
				exps, next, err := c.SearchExperiments(cmd.Context(), tracking.ExperimentQuery{Filter: filter, ViewType: view,
					OrderBy: []string{"experiment_id ASC"}, Page: tracking.Page{MaxResults: 1000, Token: tok}})
				if err != nil {
					return err
				}
				all = append(all, exps...)
				if next == "" {
					break
				}
				tok = next
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), all)
			}
			rows := make([][]string, len(all))
			for i, e := range all {
				rows[i] = []string{e.ID, e.Name, e.LifecycleStage, e.ArtifactLocation, fmtTime(e.CreationTime)}
			}
			return printTable(cmd.OutOrStdout(), []string{"ID", "NAME", "STAGE", "ARTIFACT LOCATION", "CREATED"}, rows)
		},
	}
	clientFlags(list)
	list.Flags().String("filter", "", "MLflow filter, e.g. \"name LIKE 'fingers%'\"")
	list.Flags().String("view", "active", "active, deleted or all")
	cmd.AddCommand(list)
	return cmd
}

func newRunsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "List and inspect runs"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs of an experiment, optionally filtered",
		Example: `  cairn runs list --experiment fingers --filter "metrics.val_acc > 0.9 AND params.model = 'wide'"
  cairn runs list --experiment 1 --order-by "metrics.val_acc DESC" --max 20 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			expArg, _ := cmd.Flags().GetString("experiment")
			if expArg == "" {
				return usageError{fmt.Errorf("--experiment is required (a name or an ID)")}
			}
			exp, err := c.GetExperimentByName(cmd.Context(), expArg)
			if errs.KindOf(err) == errs.NotFound {
				if _, perr := strconv.Atoi(expArg); perr == nil {
					exp, err = c.GetExperiment(cmd.Context(), expArg)
				}
			}
			if err != nil {
				return err
			}
			filter, _ := cmd.Flags().GetString("filter")
			order, _ := cmd.Flags().GetStringArray("order-by")
			max, _ := cmd.Flags().GetInt("max")
			viewS, _ := cmd.Flags().GetString("view")
			view, err := parseView(viewS)
			if err != nil {
				return err
			}
			var runs []*tracking.Run
			tok := ""
			for len(runs) < max {
				page, next, err := c.SearchRuns(cmd.Context(), tracking.RunQuery{ExperimentIDs: []string{exp.ID}, Filter: filter,
					OrderBy: order, ViewType: view, Page: tracking.Page{MaxResults: min(1000, max-len(runs)), Token: tok}})
				if err != nil {
					return err
				}
				runs = append(runs, page...)
				if next == "" {
					break
				}
				tok = next
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), runs)
			}
			return printRuns(cmd.OutOrStdout(), runs)
		},
	}
	clientFlags(list)
	list.Flags().String("experiment", "", "experiment name or ID (required)")
	list.Flags().String("filter", "", "MLflow search filter")
	list.Flags().StringArray("order-by", nil, "sort key, e.g. \"metrics.acc DESC\" (repeatable)")
	list.Flags().Int("max", 100, "most runs to list")
	list.Flags().String("view", "active", "active, deleted or all")

	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show a run: info, params, latest metrics, tags and inputs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			run, err := c.GetRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), run)
			}
			return printRun(cmd.OutOrStdout(), run)
		},
	}
	clientFlags(show)
	cmd.AddCommand(list, show)
	return cmd
}

// printRuns prints one row per run with the metrics that most runs share.
func printRuns(w io.Writer, runs []*tracking.Run) error {
	count := map[string]int{}
	for _, r := range runs {
		for _, m := range r.Metrics {
			count[m.Key]++
		}
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if count[keys[i]] != count[keys[j]] {
			return count[keys[i]] > count[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > 4 {
		keys = keys[:4]
	}
	header := []string{"RUN ID", "NAME", "STATUS", "STARTED"}
	for _, k := range keys {
		header = append(header, strings.ToUpper(k))
	}
	rows := make([][]string, len(runs))
	for i, r := range runs {
		row := []string{r.Info.RunID, r.Info.RunName, r.Info.Status, fmtTime(r.Info.StartTime)}
		for _, k := range keys {
			v := "-"
			for _, m := range r.Metrics {
				if m.Key == k {
					v = fmtFloat(m.Value)
				}
			}
			row = append(row, v)
		}
		rows[i] = row
	}
	return printTable(w, header, rows)
}

func printRun(w io.Writer, r *tracking.Run) error {
	i := r.Info
	end := "-"
	if i.EndTime != nil {
		end = fmtTime(*i.EndTime)
	}
	rows := [][]string{
		{"run id", i.RunID}, {"name", i.RunName}, {"experiment", i.ExperimentID}, {"status", i.Status},
		{"stage", i.LifecycleStage}, {"user", i.UserID}, {"started", fmtTime(i.StartTime)}, {"ended", end},
		{"artifacts", i.ArtifactURI},
	}
	if err := printTable(w, []string{"FIELD", "VALUE"}, rows); err != nil {
		return err
	}
	section := func(title string, rows [][]string) error {
		if len(rows) == 0 {
			return nil
		}
		fmt.Fprintln(w)
		return printTable(w, []string{strings.ToUpper(title), "VALUE"}, rows)
	}
	var ps, ms, ts, ds [][]string
	for _, p := range r.Params {
		ps = append(ps, []string{p.Key, p.Value})
	}
	for _, m := range r.Metrics {
		ms = append(ms, []string{m.Key, fmt.Sprintf("%s (step %d)", fmtFloat(m.Value), m.Step)})
	}
	for _, t := range r.Tags {
		v := t.Value
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		ts = append(ts, []string{t.Key, v})
	}
	for _, d := range r.Inputs.Datasets {
		ds = append(ds, []string{d.Dataset.Name, d.Dataset.Digest + " " + d.Dataset.SourceType})
	}
	for _, s := range []struct {
		t string
		r [][]string
	}{{"param", ps}, {"metric", ms}, {"tag", ts}, {"dataset", ds}} {
		if err := section(s.t, s.r); err != nil {
			return err
		}
	}
	return nil
}
