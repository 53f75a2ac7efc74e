package meta

import (
	"context"
	"fmt"
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
	filter, err := tracking.ParseFilter(tracking.RunSchema, q.Filter)
	if err != nil {
		return nil, "", err
	}
	order, err := tracking.ParseOrderBy(tracking.RunSchema, q.OrderBy)
	if err != nil {
		return nil, "", err
	}
	offset, err := decodeToken(q.Page.Token)
	if err != nil {
		return nil, "", err
	}
	if len(q.ExperimentIDs) == 0 {
		return nil, "", nil
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
	for _, c := range filter {
		cond, a, err := runClause(c)
		if err != nil {
			return nil, "", err
		}
		where = append(where, cond)
		args = append(args, a...)
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
	query := `SELECT ` + prefixCols("r.", runCols) + ` FROM runs r ` + strings.Join(joins, " ") +
		` WHERE ` + strings.Join(where, " AND ") + ` ORDER BY ` + strings.Join(orderSQL, ", ") + ` LIMIT ? OFFSET ?`
	all := append(joinArgs, args...)
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

// runClause compiles one filter clause on runs (alias r) to SQL. Clauses are
// correlated EXISTS probes on primary keys, so a search costs in proportion
// to the runs of the experiments searched, not to every run in the database.
func runClause(c tracking.Clause) (string, []any, error) {
	switch c.Kind {
	case tracking.KindMetric:
		if c.Op == "!=" {
			return `EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ? AND (m.is_nan OR m.value != ?))`,
				[]any{c.Key, c.Num}, nil
		}
		return `EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ? AND NOT m.is_nan AND m.value ` + c.Op + ` ?)`,
			[]any{c.Key, c.Num}, nil
	case tracking.KindParam, tracking.KindTag:
		table := "params"
		if c.Kind == tracking.KindTag {
			table = "tags"
		}
		switch c.Op {
		case "IS NULL":
			return `NOT EXISTS (SELECT 1 FROM ` + table + ` p WHERE p.run_uuid = r.run_uuid AND p.key = ?)`, []any{c.Key}, nil
		case "IS NOT NULL":
			return `EXISTS (SELECT 1 FROM ` + table + ` p WHERE p.run_uuid = r.run_uuid AND p.key = ?)`, []any{c.Key}, nil
		}
		cond, a := stringCond("p.value", c)
		return `EXISTS (SELECT 1 FROM ` + table + ` p WHERE p.run_uuid = r.run_uuid AND p.key = ? AND ` + cond + `)`,
			append([]any{c.Key}, a...), nil
	case tracking.KindAttribute:
		col := runAttrCols[c.Key]
		if tracking.NumericRunAttribute(c.Key) {
			return col + " " + c.Op + " ?", []any{int64(c.Num)}, nil
		}
		cond, a := stringCond(col, c)
		return cond, a, nil
	case tracking.KindDataset:
		if c.Key == "context" {
			cond, a := stringCond("it.value", c)
			return `EXISTS (SELECT 1 FROM inputs i JOIN input_tags it ON it.input_uuid = i.input_uuid
				WHERE i.source_type = 'DATASET' AND i.destination_id = r.run_uuid AND it.name = 'mlflow.data.context' AND ` + cond + `)`, a, nil
		}
		cond, a := stringCond("d."+c.Key, c)
		return `EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
			WHERE i.source_type = 'DATASET' AND i.destination_id = r.run_uuid AND ` + cond + `)`, a, nil
	}
	return "", nil, errs.Invalidf("invalid filter: %s keys cannot be used to search runs", c.Kind)
}
