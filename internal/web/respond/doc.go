// Package respond writes HTTP responses for every Cairn API: JSON bodies, and
// errors through the one table that maps errs kinds to HTTP statuses and
// MLflow error codes. It also decodes request bodies and query strings into
// request structs with errors that name the offending field. It imports errs.
package respond
