package meta

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/registry"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

// quoted writes n quoted values, first among them, the rest made up
// 32-character IDs: "'first', '0000...1', ...".
func quoted(first string, n int) string {
	l := []string{"'" + first + "'"}
	for i := 1; i < n; i++ {
		l = append(l, fmt.Sprintf("'%032x'", i))
	}
	return strings.Join(l, ", ")
}

// manyExperiments returns the IDs of exp and made-up ones, MaxSearchExperiments in all.
func manyExperiments(exp string) []string {
	ids := []string{exp}
	for i := 1; len(ids) < tracking.MaxSearchExperiments; i++ {
		if id := strconv.Itoa(1000000 + i); id != exp {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestLargestSearchesRun runs the largest searches the limits allow: the
// most clauses, IN list values, order_by keys and experiments. The database
// must run them and find the one run (or model) that matches.
func TestLargestSearchesRun(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "big", "", nil)
		require.NoError(t, err)
		r := newRun(t, svc, exp, "target")
		other := newRun(t, svc, exp, "other")
		var metrics []tracking.Metric
		var params []tracking.Param
		var tags []tracking.Tag
		for i := range 33 {
			metrics = append(metrics, tracking.Metric{Key: fmt.Sprintf("m%d", i), Value: float64(i), Timestamp: 1})
			params = append(params, tracking.Param{Key: fmt.Sprintf("p%d", i), Value: "v"})
			tags = append(tags, tracking.Tag{Key: fmt.Sprintf("g%d", i), Value: "v"})
		}
		for _, id := range []string{r.Info.RunID, other.Info.RunID} {
			require.NoError(t, svc.LogBatch(ctx, id, metrics, params[:33], tags[:33]))
		}
		require.NoError(t, svc.LogInputs(ctx, r.Info.RunID, tracking.RunInputs{Datasets: []tracking.DatasetInput{{
			Dataset: tracking.Dataset{Name: "titanic", Digest: "d1"}}}}))

		// 33 metric, 33 param and 32 tag clauses, and two IN lists of
		// 5,000 values each: 100 clauses and 10,000 values.
		var clauses []string
		for i := range 33 {
			clauses = append(clauses, fmt.Sprintf("metrics.m%d >= %d", i, i), fmt.Sprintf("params.p%d = 'v'", i))
			if i < 32 {
				clauses = append(clauses, fmt.Sprintf("tags.g%d LIKE '%s'", i, "v"+strings.Repeat("%", 10)))
			}
		}
		half := tracking.MaxFilterValues / 2
		clauses = append(clauses, "attributes.run_id IN ("+quoted(r.Info.RunID, half)+")", "datasets.digest IN ("+quoted("d1", half)+")")
		require.Len(t, clauses, tracking.MaxFilterClauses)
		filter := strings.Join(clauses, " AND ")
		require.Less(t, len(filter), tracking.MaxFilterLength)
		var order []string
		for i := range tracking.MaxOrderBy {
			order = append(order, []string{"metrics.m%d DESC", "params.p%d", "tags.g%d"}[i%3])
			order[i] = fmt.Sprintf(order[i], i/3)
		}
		runs, _, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: manyExperiments(exp), Filter: filter, OrderBy: order})
		require.NoError(t, err)
		require.Len(t, runs, 1)
		require.Equal(t, r.Info.RunID, runs[0].Info.RunID)

		// Experiments: 100 clauses, 10,000 values.
		clauses = clauses[:0]
		for i := range tracking.MaxFilterClauses - 1 {
			clauses = append(clauses, fmt.Sprintf("attributes.creation_time >= %d", -i))
		}
		clauses = append(clauses, "attributes.name IN ("+quoted("big", tracking.MaxFilterValues)+")")
		exps, _, err := svc.SearchExperiments(ctx, tracking.ExperimentQuery{Filter: strings.Join(clauses, " AND "),
			OrderBy: repeat("name DESC", tracking.MaxOrderBy)})
		require.NoError(t, err)
		require.Len(t, exps, 1)

		// Logged models.
		require.NoError(t, db.CreateLoggedModel(ctx, &tracking.LoggedModel{ExperimentID: exp, Name: "lm", Status: tracking.ModelReady,
			Tags: []tracking.Tag{{Key: "k", Value: "v"}}}))
		clauses = clauses[:0]
		for range tracking.MaxFilterClauses - 1 {
			clauses = append(clauses, "tags.k = 'v'")
		}
		clauses = append(clauses, "name IN ("+quoted("lm", tracking.MaxFilterValues)+")")
		var lmOrder []tracking.OrderBy
		for range tracking.MaxOrderBy {
			lmOrder = append(lmOrder, tracking.OrderBy{Kind: tracking.KindAttribute, Key: "name"})
		}
		models, _, err := db.FindLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: manyExperiments(exp),
			Filter: strings.Join(clauses, " AND "), OrderBy: lmOrder, Page: tracking.Page{MaxResults: 10}})
		require.NoError(t, err)
		require.Len(t, models, 1)

		// Registered models and model versions.
		reg := registry.NewService(db, nil)
		_, err = reg.CreateRegisteredModel(ctx, "rm", "", []registry.Tag{{Key: "k", Value: "v"}})
		require.NoError(t, err)
		_, err = reg.CreateModelVersion(ctx, registry.CreateModelVersionInput{Name: "rm", Source: "s3://bucket/model", RunID: r.Info.RunID,
			Tags: []registry.Tag{{Key: "k", Value: "v"}}})
		require.NoError(t, err)
		clauses = clauses[:0]
		for range tracking.MaxFilterClauses - 1 {
			clauses = append(clauses, "tags.k = 'v'")
		}
		rms, _, err := reg.SearchRegisteredModels(ctx, registry.Query{
			Filter: strings.Join(append(clauses, "name IN ("+quoted("rm", tracking.MaxFilterValues)+")"), " AND ")})
		require.NoError(t, err)
		require.Len(t, rms, 1)
		vs, _, err := reg.SearchModelVersions(ctx, registry.Query{
			Filter: strings.Join(append(clauses, "run_id IN ("+quoted(r.Info.RunID, tracking.MaxFilterValues)+")"), " AND ")})
		require.NoError(t, err)
		require.Len(t, vs, 1)
	})
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestOversizedSearchesAreInvalid: a search past a limit is refused as
// invalid, naming the limit, rather than failing in the database.
func TestOversizedSearchesAreInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		svc := tracking.NewService(db)
		exp, err := svc.CreateExperiment(ctx, "big", "", nil)
		require.NoError(t, err)
		search := func(ids []string, filter string, order ...string) error {
			_, _, err := svc.SearchRuns(ctx, tracking.RunQuery{ExperimentIDs: ids, Filter: filter, OrderBy: order})
			return err
		}
		for name, c := range map[string]struct {
			err  error
			want string
		}{
			"501 clauses": {search([]string{exp}, strings.TrimSuffix(strings.Repeat("metrics.a > 0 AND ", 501), " AND ")),
				"more than the 100 clauses allowed"},
			"40,000 values": {search([]string{exp}, "run_id IN ("+quoted("x", 40000)+")"), "more than the 524288 allowed"},
			"10,001 values": {search([]string{exp}, "run_id IN ("+quoted("x", 5000)+") AND run_name IN ("+quoted("y", 5001)+")"),
				"the IN lists hold more than the 10000 values allowed in one filter"},
			"many short values": {search([]string{exp}, "run_id IN ("+strings.TrimSuffix(strings.Repeat("'',", 60000), ",")+")"),
				"more than 84000 terms"},
			"long pattern": {search([]string{exp}, "tags.a LIKE '"+strings.Repeat("%", 50001)+"'"),
				"the LIKE pattern for tag \"a\" is 50001 bytes long, more than the 10000 allowed"},
			"21 order_by":    {search([]string{exp}, "", repeat("metrics.a", 21)...), "invalid order_by: 21 keys, more than the 20 allowed"},
			"experiment_ids": {search(append(manyExperiments(exp), "1"), ""), "a search may name at most 1000 experiment_ids, got 1001"},
		} {
			require.Equal(t, errs.Invalid, errs.KindOf(c.err), name)
			require.ErrorContains(t, c.err, c.want, name)
			require.Less(t, len(c.err.Error()), 500, name)
		}
		_, _, err = db.FindLoggedModels(ctx, tracking.LoggedModelQuery{ExperimentIDs: []string{exp},
			OrderBy: make([]tracking.OrderBy, 21)})
		require.ErrorContains(t, err, "invalid order_by: 21 keys, more than the 20 allowed")
	})
}

// TestRebindCacheIsBounded: searches of ever new shapes do not grow the
// PostgreSQL query cache past its bounds.
func TestRebindCacheIsBounded(t *testing.T) {
	db := &DB{dialect: Postgres, rebind: map[string]string{}}
	for i := range maxRebinds + 100 {
		require.Equal(t, "SELECT $1, "+strconv.Itoa(i), db.q("SELECT ?, "+strconv.Itoa(i)))
	}
	require.Len(t, db.rebind, maxRebinds)
	long := "SELECT " + strings.Repeat("?, ", maxRebindQuery)
	db.rebind = map[string]string{}
	require.True(t, strings.HasPrefix(db.q(long), "SELECT $1, $2"))
	require.Empty(t, db.rebind)
}
