package meta

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"github.com/cairn-mlops/cairn/internal/tracking"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// Page tokens are opaque to clients: base64 of {"offset": n}, as MLflow does.
type pageToken struct {
	Offset int `json:"offset"`
}

func decodeToken(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		raw, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(tok, "="))
	}
	var pt pageToken
	if err == nil {
		err = json.Unmarshal(raw, &pt)
	}
	if err != nil || pt.Offset < 0 {
		return 0, errs.Invalidf("invalid page_token %q: expected a token returned by a previous search", tok)
	}
	return pt.Offset, nil
}

func encodeToken(offset int) string {
	b, _ := json.Marshal(pageToken{Offset: offset})
	return base64.StdEncoding.EncodeToString(b)
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// inList returns "IN (?, ?, ...)" with its arguments, or for PostgreSQL
// "= ANY(?)" with one array argument, which parses and plans faster.
func (db *DB) inList(ids []string) (string, []any) {
	if db.dialect == Postgres {
		return "= ANY(?)", []any{ids}
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "IN (" + placeholders(len(ids)) + ")", args
}

// maxJoinedSubqueries is how many of a filter's sub-queries PostgreSQL may
// turn into joins. Past its join_collapse_limit (8) the planner searches
// join orders genetically: 50 tag clauses on registered models took seconds
// to plan and 99 took half a minute.
const maxJoinedSubqueries = 8

// fence returns what ends each sub-query of a filter of n clauses: on
// PostgreSQL past maxJoinedSubqueries, " OFFSET 0", which keeps the planner
// from pulling the sub-query up into a join, so each is a filter probed per
// row (as SQLite runs them). Short filters keep their semi-join plans.
func (db *DB) fence(n int) string {
	if db.dialect == Postgres && n > maxJoinedSubqueries {
		return " OFFSET 0"
	}
	return ""
}

// parseQuery parses a search's filter, order-by and page token.
func parseQuery(schema tracking.Schema, filter string, orderBy []string, token string) (tracking.Filter, []tracking.OrderBy, int, error) {
	f, err := tracking.ParseFilter(schema, filter)
	if err != nil {
		return nil, nil, 0, err
	}
	order, err := tracking.ParseOrderBy(schema, orderBy)
	if err != nil {
		return nil, nil, 0, err
	}
	offset, err := decodeToken(token)
	if err != nil {
		return nil, nil, 0, err
	}
	return f, order, offset, nil
}

// eachRow runs a query and calls scan for each row, closing the rows.
func (db *DB) eachRow(ctx context.Context, q querier, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
