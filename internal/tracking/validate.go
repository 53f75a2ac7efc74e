package tracking

import (
	"fmt"
	"path"
	"regexp"

	"github.com/cairn-mlops/cairn/internal/errs"
)

// MLflow's limits, enforced before anything is stored.
const (
	MaxKeyLength            = 250
	MaxParamValueLength     = 6000
	MaxTagValueLength       = 8000
	MaxExperimentTagValue   = 5000
	MaxMetricsPerBatch      = 1000
	MaxParamsTagsPerBatch   = 100
	MaxEntitiesPerBatch     = 1000
	MaxBatchRequestBytes    = 1_000_000
	MaxResultsSearchRuns    = 50000
	MaxResultsExperiments   = 50000
	MaxResultsMetricHistory = 25000
	DefaultMaxResults       = 1000
	MaxRunNameLength        = 250
)

var validName = regexp.MustCompile(`^[/\w.\- :]*$`)
var validRunID = regexp.MustCompile(`^[a-zA-Z0-9][\w\-]{0,255}$`)

// ValidateKey checks a metric, param or tag key: what names may contain, length,
// and that it is a clean relative path (MLflow stores keys as file names).
func ValidateKey(what, key string) error {
	if key == "" {
		return errs.Missing("key")
	}
	if len(key) > MaxKeyLength {
		return errs.Invalidf("%s name '%.40s...' had length %d, which exceeded length limit of %d", what, key, len(key), MaxKeyLength)
	}
	if !validName.MatchString(key) {
		return errs.Invalidf("invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)", what, key)
	}
	if n := path.Clean(key); n != key || n == "." || len(n) >= 2 && n[:2] == ".." || n[0] == '/' {
		return errs.Invalidf("invalid %s name: '%s'. Names must be a normalized, relative path (no '..', leading '/' or repeated '/')", what, key)
	}
	return nil
}

// ValidateRunID checks the shape of a run ID.
func ValidateRunID(id string) error {
	if id == "" {
		return errs.Missing("run_id")
	}
	if !validRunID.MatchString(id) {
		return errs.Invalidf("invalid value '%.64s' for parameter 'run_id': expected letters, digits, '_' or '-'", id)
	}
	return nil
}

// ValidateParam checks a param's key and value length. Errors: Invalid.
func ValidateParam(p Param) error {
	_, err := validateParam(p)
	return err
}

// ValidateTag checks a run tag's key and value length. Errors: Invalid.
func ValidateTag(t Tag) error {
	_, err := validateTag(t, MaxTagValueLength)
	return err
}

// ValidateMetric checks a metric's key; every value, NaN and ±Inf
// included, is valid and stored as it is. Errors: Invalid.
func ValidateMetric(m Metric) error { return ValidateKey("metric", m.Key) }

// validateParam checks p and returns the field an error is about.
func validateParam(p Param) (string, error) {
	if err := ValidateKey("param", p.Key); err != nil {
		return "key", err
	}
	if len(p.Value) > MaxParamValueLength {
		return "value", errs.Invalidf("param '%s' had value length %d, which exceeded length limit of %d", p.Key, len(p.Value), MaxParamValueLength)
	}
	return "", nil
}

// validateTag checks t and returns the field an error is about.
func validateTag(t Tag, maxValue int) (string, error) {
	if err := ValidateKey("tag", t.Key); err != nil {
		return "key", err
	}
	if len(t.Value) > maxValue {
		return "value", errs.Invalidf("tag '%s' had value length %d, which exceeded length limit of %d", t.Key, len(t.Value), maxValue)
	}
	return "", nil
}

// ValidateBatch checks a log-batch against MLflow's per-batch limits and each
// entry's key and value; an entry's error names it by list, index and field,
// e.g. metrics[3].key. Errors: Invalid.
func ValidateBatch(metrics []Metric, params []Param, tags []Tag) error {
	if len(metrics) > MaxMetricsPerBatch {
		return errs.Invalidf("a batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again", MaxMetricsPerBatch, len(metrics))
	}
	if len(params) > MaxParamsTagsPerBatch {
		return errs.Invalidf("a batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again", MaxParamsTagsPerBatch, len(params))
	}
	if len(tags) > MaxParamsTagsPerBatch {
		return errs.Invalidf("a batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again", MaxParamsTagsPerBatch, len(tags))
	}
	if n := len(metrics) + len(params) + len(tags); n > MaxEntitiesPerBatch {
		return errs.Invalidf("a batch logging request can contain at most %d metrics, params and tags in total. Got %d", MaxEntitiesPerBatch, n)
	}
	seen := make(map[string]string, len(params))
	for i, p := range params {
		if field, err := validateParam(p); err != nil {
			return entryError("params", i, field, p.Key, err)
		}
		if v, ok := seen[p.Key]; ok && v != p.Value {
			return errs.Invalidf("params[%d].value: duplicate parameter keys with different values in the batch: '%s'", i, p.Key)
		}
		seen[p.Key] = p.Value
	}
	for i, m := range metrics {
		if err := ValidateMetric(m); err != nil {
			return entryError("metrics", i, "key", m.Key, err)
		}
	}
	for i, t := range tags {
		if field, err := validateTag(t, MaxTagValueLength); err != nil {
			return entryError("tags", i, field, t.Key, err)
		}
	}
	return nil
}

// entryError names the entry of a batch an error is about: a missing key
// in MLflow's words for a missing parameter, else the entry's path before
// the message.
func entryError(list string, i int, field, key string, err error) error {
	path := fmt.Sprintf("%s[%d].%s", list, i, field)
	if field == "key" && key == "" {
		return errs.Missing(path)
	}
	return errs.Invalidf("%s: %s", path, errs.MessageOf(err))
}

// dedupParams drops repeated identical params so the store sees each key once.
func dedupParams(params []Param) []Param {
	if len(params) < 2 {
		return params
	}
	seen := make(map[string]bool, len(params))
	out := params[:0:0]
	for _, p := range params {
		if !seen[p.Key] {
			seen[p.Key] = true
			out = append(out, p)
		}
	}
	return out
}

// ClampMaxResults applies a default and checks the upper limit.
func ClampMaxResults(n, def, max int) (int, error) {
	if n == 0 {
		return def, nil
	}
	if n < 0 {
		return 0, errs.Invalidf("Invalid value %d for parameter 'max_results' supplied. It must be a positive number", n)
	}
	if n > max {
		return 0, errs.Invalidf("Invalid value %d for parameter 'max_results' supplied. It must be at most %d", n, max)
	}
	return n, nil
}
