package meta

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
	"github.com/cairn-mlops/cairn/internal/tracking"
)

var runAttrCols = map[string]string{
	"run_id": "r.run_uuid", "run_name": "r.name", "status": "r.status", "user_id": "r.user_id",
	"artifact_uri": "r.artifact_uri", "start_time": "r.start_time", "end_time": "r.end_time",
}

// FindRuns implements tracking.Store. The filter and order-by compile to one
// SQL query with EXISTS sub-queries on indexed tables; only the requested page
// of runs (and then their metrics, params and tags) is read.
func (db *DB) FindRuns(ctx context.Context, q tracking.RunQuery) ([]*tracking.Run, string, error) {
	filter, order, offset, err := parseQuery(tracking.RunSchema, q.Filter, q.OrderBy, q.Page.Token)
	if err != nil {
		return nil, "", err
	}
	if len(q.ExperimentIDs) == 0 {
		return nil, "", nil
	}
	if err := tracking.CheckSearchExperiments(q.ExperimentIDs); err != nil {
		return nil, "", err
	}
	var args []any
	var joins []string
	var joinArgs []any
	exps := make([]any, len(q.ExperimentIDs))
	for i, id := range q.ExperimentIDs {
		n, err := parseExperimentID(id)
		if err != nil {
			return nil, "", err
		}
		exps[i] = n
	}
	where := []string{"r.experiment_id IN (" + placeholders(len(exps)) + ")", stageCond("r.lifecycle_stage", q.ViewType)}
	args = append(args, exps...)
	// Clauses that name a set of runs (metric, param, tag and dataset
	// comparisons) are index ranges within the searched experiments; their
	// intersection drives the query, so only matching runs are read and sorted.
	// The sets name the experiments as literals (each a parsed integer): as
	// placeholders they would repeat once per set, and a hundred sets over
	// a few hundred experiments would pass SQLite's 32,766 variables.
	inExps := "IN (" + intList(exps) + ")"
	var sets []string
	var setArgs []any
	for _, c := range filter {
		cond, a, isSet, err := runClause(c, inExps, db.dialect == Postgres, db.fence(len(filter)))
		if err != nil {
			return nil, "", err
		}
		if isSet {
			sets = append(sets, cond)
			setArgs = append(setArgs, a...)
			continue
		}
		where = append(where, cond)
		args = append(args, a...)
	}
	from := `runs r`
	if len(sets) > 0 {
		from = `(` + strings.Join(sets, " INTERSECT ") + `) c JOIN runs r ON r.run_uuid = c.run_uuid`
	}
	var orderSQL []string
	startSeen, idSeen := false, false
	for i, o := range order {
		alias := fmt.Sprintf("ob%d", i)
		switch o.Kind {
		case tracking.KindAttribute:
			col := runAttrCols[o.Key]
			startSeen = startSeen || o.Key == "start_time"
			idSeen = idSeen || o.Key == "run_id"
			orderSQL = append(orderSQL, "CASE WHEN "+col+" IS NULL THEN 1 ELSE 0 END", col+dir(o.Desc))
		case tracking.KindMetric:
			joins = append(joins, "LEFT JOIN latest_metrics "+alias+" ON "+alias+".run_uuid = r.run_uuid AND "+alias+".key = ?")
			joinArgs = append(joinArgs, o.Key)
			orderSQL = append(orderSQL, "CASE WHEN "+alias+".is_nan THEN 1 WHEN "+alias+".value IS NULL THEN 2 ELSE 0 END", alias+".value"+dir(o.Desc))
		case tracking.KindParam, tracking.KindTag:
			table := "params"
			if o.Kind == tracking.KindTag {
				table = "tags"
			}
			joins = append(joins, "LEFT JOIN "+table+" "+alias+" ON "+alias+".run_uuid = r.run_uuid AND "+alias+".key = ?")
			joinArgs = append(joinArgs, o.Key)
			orderSQL = append(orderSQL, "CASE WHEN "+alias+".value IS NULL THEN 1 ELSE 0 END", alias+".value"+dir(o.Desc))
		}
	}
	if !startSeen {
		orderSQL = append(orderSQL, "r.start_time DESC")
	}
	if !idSeen {
		orderSQL = append(orderSQL, "r.run_uuid ASC")
	}
	query := `SELECT ` + prefixCols("r.", runCols) + ` FROM ` + from + ` ` + strings.Join(joins, " ") +
		` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + strings.Join(orderSQL, ", ") + ` LIMIT ? OFFSET ?`
	all := append(setArgs, joinArgs...)
	all = append(all, args...)
	all = append(all, q.Page.MaxResults+1, offset)
	rows, err := db.read.QueryContext(ctx, db.q(query), all...)
	if err != nil {
		return nil, "", fmt.Errorf("search runs: %w", db.mapErr(err))
	}
	defer rows.Close()
	var out []*tracking.Run
	for rows.Next() {
		r, err := scanRunInfo(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", db.mapErr(err)
	}
	rows.Close()
	next := ""
	if len(out) > q.Page.MaxResults {
		out = out[:q.Page.MaxResults]
		next = encodeToken(offset + q.Page.MaxResults)
	}
	if err := db.loadRunData(ctx, out); err != nil {
		return nil, "", fmt.Errorf("search runs: %w", db.mapErr(err))
	}
	return out, next, nil
}

// runClause compiles one filter clause on runs (alias r) to SQL: either a
// query for the IDs of matching runs in the experiments inExps names (isSet)
// or a condition on r.
//
// On SQLite the sets are intersected to drive the query: each is one index
// range within the searched experiments. PostgreSQL (correlated) gets
// correlated EXISTS probes instead: its planner turns them into semi-joins,
// and they stay cheap when its statistics lag behind a bulk load, where a
// set plan was seen to take hundreds of milliseconds.
//
// fence ends each correlated sub-query (see DB.fence).
func runClause(c tracking.Clause, inExps string, correlated bool, fence string) (sql string, args []any, isSet bool, err error) {
	// set returns query, which selects sel, as a set, or as a correlated
	// EXISTS matching col to the run.
	set := func(query, sel string, a []any) (string, []any, bool, error) {
		if correlated {
			col := strings.TrimSuffix(sel, " AS run_uuid")
			return `EXISTS (` + strings.Replace(query, "SELECT "+sel+" ", "SELECT 1 ", 1) + ` AND ` + col + ` = r.run_uuid` + fence + `)`, a, false, nil
		}
		return query, a, true, nil
	}
	scope := func(col string) string {
		if correlated {
			return "" // the run itself is already in the searched experiments
		}
		return col + " " + inExps + " AND "
	}
	switch c.Kind {
	case tracking.KindMetric:
		if c.Op == "!=" {
			return set(`SELECT m.run_uuid FROM latest_metrics m WHERE `+scope("m.experiment_id")+`m.key = ? AND (m.is_nan OR m.value != ?)`,
				"m.run_uuid", []any{c.Key, c.Num})
		}
		return set(`SELECT m.run_uuid FROM latest_metrics m WHERE `+scope("m.experiment_id")+`m.key = ? AND NOT m.is_nan AND m.value `+c.Op+` ?`,
			"m.run_uuid", []any{c.Key, c.Num})
	case tracking.KindParam, tracking.KindTag:
		table := "params"
		if c.Kind == tracking.KindTag {
			table = "tags"
		}
		switch c.Op {
		case "IS NULL":
			return `NOT EXISTS (SELECT 1 FROM ` + table + ` p WHERE p.run_uuid = r.run_uuid AND p.key = ?` + fence + `)`, []any{c.Key}, false, nil
		case "IS NOT NULL":
			return set(`SELECT p.run_uuid FROM `+table+` p WHERE `+scope("p.experiment_id")+`p.key = ?`, "p.run_uuid", []any{c.Key})
		}
		cond, a := stringCond("p.value", c)
		return set(`SELECT p.run_uuid FROM `+table+` p WHERE `+scope("p.experiment_id")+`p.key = ? AND `+cond,
			"p.run_uuid", append([]any{c.Key}, a...))
	case tracking.KindAttribute:
		col := runAttrCols[c.Key]
		if tracking.NumericRunAttribute(c.Key) {
			return col + " " + c.Op + " ?", []any{int64(c.Num)}, false, nil
		}
		cond, a := stringCond(col, c)
		return cond, a, false, nil
	case tracking.KindDataset:
		if c.Key == "context" {
			cond, a := stringCond("it.value", c)
			return set(`SELECT i.destination_id AS run_uuid FROM datasets d JOIN inputs i ON i.source_type = 'DATASET' AND i.source_id = d.dataset_uuid
				JOIN input_tags it ON it.input_uuid = i.input_uuid
				WHERE `+scope("d.experiment_id")+`it.name = 'mlflow.data.context' AND `+cond, "i.destination_id AS run_uuid", a)
		}
		cond, a := stringCond("d."+c.Key, c)
		return set(`SELECT i.destination_id AS run_uuid FROM datasets d JOIN inputs i ON i.source_type = 'DATASET' AND i.source_id = d.dataset_uuid
			WHERE `+scope("d.experiment_id")+cond, "i.destination_id AS run_uuid", a)
	}
	return "", nil, false, errs.Invalidf("invalid filter: %s keys cannot be used to search runs", c.Kind)
}

// intList writes experiment IDs, parsed int64s, as SQL literals "1, 2, 3".
func intList(ids []any) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id.(int64), 10))
	}
	return b.String()
}
