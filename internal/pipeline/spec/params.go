package spec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-mlops/cairn/internal/errs"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Params are a run's parameter values, each of its declared type: string,
// int64, float64, bool or []any.
type Params map[string]any

// ResolveParams checks given values (strings from -p flags or JSON values
// from the API) against the plan's params, converts each to its type, and
// fills defaults. It reports every unknown, missing or ill-typed parameter.
func (p *Plan) ResolveParams(given map[string]any) (Params, error) {
	out := Params{}
	var problems []string
	declared := map[string]*Param{}
	for _, d := range p.Spec.Params {
		declared[d.Name] = d
	}
	var unknown []string
	for k := range given {
		if declared[k] == nil {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("unknown parameter %q", k))
	}
	for _, d := range p.Spec.Params {
		v, ok := given[d.Name]
		if !ok {
			if d.Default == nil {
				problems = append(problems, fmt.Sprintf("parameter %q is required (%s)", d.Name, d.Type))
				continue
			}
			v = d.Default
		}
		c, err := coerce(d.Type, v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("parameter %q %v", d.Name, err))
			continue
		}
		if d.Enum != nil && !slices.Contains(d.Enum, c) {
			problems = append(problems, fmt.Sprintf("parameter %q is %s: expected one of %s", d.Name, quoteValue(c), enumList(d.Enum)))
			continue
		}
		out[d.Name] = c
	}
	if len(problems) > 0 {
		return nil, errs.Invalidf("pipeline %s: %s", p.Spec.Name, strings.Join(problems, "; "))
	}
	return out, nil
}

// ParseParamFlags splits "key=value" flags into a map of strings.
func ParseParamFlags(flags []string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, errs.Invalidf("parameter %q: expected key=value", f)
		}
		if _, dup := out[k]; dup {
			return nil, errs.Invalidf("parameter %q is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// parseList reads a list parameter given as text: a JSON list, or
// comma-separated strings.
func parseList(s string) ([]any, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return []any{}, nil
	}
	if strings.HasPrefix(t, "[") {
		var l []any
		if err := json.Unmarshal([]byte(t), &l); err != nil {
			return nil, fmt.Errorf("must be a JSON list or comma-separated values: %v", err)
		}
		return NormalizeJSON(l).([]any), nil
	}
	parts := strings.Split(t, ",")
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = strings.TrimSpace(p)
	}
	return out, nil
}

// NormalizeJSON turns the whole numbers in a decoded JSON value into int64,
// as YAML decodes them, in place, and returns the value.
func NormalizeJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x < 1<<53 && x > -(1<<53) {
			return int64(x)
		}
	case []any:
		for i := range x {
			x[i] = NormalizeJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = NormalizeJSON(x[k])
		}
	}
	return v
}
