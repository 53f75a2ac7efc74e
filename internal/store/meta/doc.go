// Package meta is Cairn's metadata store on database/sql: SQLite (the default,
// pure Go, WAL) and PostgreSQL, picked by URI. It implements the Stores that
// tracking, registry and auth declare, applies embedded migrations at open,
// and compiles MLflow search filters to SQL. The SQL drivers live here and
// nowhere else. It imports errs and the domain packages.
package meta
