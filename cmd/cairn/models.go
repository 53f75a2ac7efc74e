package main

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newModelsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "models", Short: "List registered models"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List registered models with their latest versions and aliases",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd)
			if err != nil {
				return err
			}
			filter, _ := cmd.Flags().GetString("filter")
			type version struct {
				Version      string `json:"version"`
				CurrentStage string `json:"current_stage"`
				RunID        string `json:"run_id"`
			}
			type alias struct {
				Alias   string `json:"alias"`
				Version string `json:"version"`
			}
			type model struct {
				Name           string    `json:"name"`
				Description    string    `json:"description,omitempty"`
				LastUpdated    int64     `json:"last_updated_timestamp"`
				LatestVersions []version `json:"latest_versions,omitempty"`
				Aliases        []alias   `json:"aliases,omitempty"`
			}
			var all []model
			tok := ""
			for {
				q := url.Values{"max_results": {"1000"}}
				if filter != "" {
					q.Set("filter", filter)
				}
				if tok != "" {
					q.Set("page_token", tok)
				}
				var out struct {
					RegisteredModels []model `json:"registered_models"`
					NextPageToken    string  `json:"next_page_token"`
				}
				if err := c.Do(cmd.Context(), "GET", "/api/2.0/mlflow/registered-models/search", q, &out); err != nil {
					return err
				}
				all = append(all, out.RegisteredModels...)
				if out.NextPageToken == "" {
					break
				}
				tok = out.NextPageToken
			}
			if wantJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), all)
			}
			rows := make([][]string, len(all))
			for i, m := range all {
				latest := 0
				for _, v := range m.LatestVersions {
					if n, _ := strconv.Atoi(v.Version); n > latest {
						latest = n
					}
				}
				var aliases []string
				for _, a := range m.Aliases {
					aliases = append(aliases, a.Alias+"="+a.Version)
				}
				lv := "-"
				if latest > 0 {
					lv = strconv.Itoa(latest)
				}
				rows[i] = []string{m.Name, lv, strings.Join(aliases, ","), fmtTime(m.LastUpdated)}
			}
			return printTable(cmd.OutOrStdout(), []string{"NAME", "LATEST", "ALIASES", "UPDATED"}, rows)
		},
	}
	clientFlags(list)
	list.Flags().String("filter", "", "MLflow filter, e.g. \"name LIKE 'fingers%'\"")
	cmd.AddCommand(list)
	return cmd
}
