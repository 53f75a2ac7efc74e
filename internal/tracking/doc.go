// Package tracking holds Cairn's experiment-tracking domain: experiments, runs,
// params, metrics, tags, dataset inputs and logged models, MLflow's limits on
// them, and the MLflow search-filter and order-by parsers. It declares the Store
// it needs and a Service that validates input before the store sees it.
// It imports only errs.
package tracking
