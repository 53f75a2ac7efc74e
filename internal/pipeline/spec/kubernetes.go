package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Executors are the names a spec's executor: may give.
var Executors = []string{"local", "kubernetes"}

// Kubernetes says where a task's pod may run on the kubernetes executor.
// A pipeline's is every task's default; a task's node selector entries and
// service account override it, its tolerations add to it.
type Kubernetes struct {
	NodeSelector   map[string]string
	Tolerations    []Toleration
	ServiceAccount string
}

// Toleration lets a pod run on nodes with a matching taint.
type Toleration struct {
	Key      string
	Operator string // Equal (the default) or Exists
	Value    string
	Effect   string // NoSchedule, PreferNoSchedule, NoExecute; empty for all
}

// Merge returns k with over's fields on top.
func (k Kubernetes) Merge(over Kubernetes) Kubernetes {
	out := Kubernetes{NodeSelector: map[string]string{}, ServiceAccount: k.ServiceAccount}
	for n, v := range k.NodeSelector {
		out.NodeSelector[n] = v
	}
	for n, v := range over.NodeSelector {
		out.NodeSelector[n] = v
	}
	out.Tolerations = append(append(out.Tolerations, k.Tolerations...), over.Tolerations...)
	if over.ServiceAccount != "" {
		out.ServiceAccount = over.ServiceAccount
	}
	return out
}

// String renders k for plans and messages; "" when it is empty.
func (k Kubernetes) String() string {
	var parts []string
	if len(k.NodeSelector) > 0 {
		keys := make([]string, 0, len(k.NodeSelector))
		for n := range k.NodeSelector {
			keys = append(keys, n+"="+k.NodeSelector[n])
		}
		sort.Strings(keys)
		parts = append(parts, "node_selector "+strings.Join(keys, ","))
	}
	for _, t := range k.Tolerations {
		f := []string{"toleration"}
		for _, v := range []string{t.Key, t.Operator, t.Value, t.Effect} {
			if v != "" {
				f = append(f, v)
			}
		}
		parts = append(parts, strings.Join(f, " "))
	}
	if k.ServiceAccount != "" {
		parts = append(parts, "service_account "+k.ServiceAccount)
	}
	return strings.Join(parts, "; ")
}

var (
	// A label key: an optional DNS subdomain prefix and a name.
	labelKeyRE   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
	dnsNameRE    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
)

func (d *decoder) kubernetes(n *yaml.Node, where string) Kubernetes {
	var k Kubernetes
	d.fields(n, where, []string{"node_selector", "tolerations", "service_account"}, func(key string, v *yaml.Node) {
		w := where + " " + key
		switch key {
		case "node_selector":
			if v.Kind != yaml.MappingNode {
				d.addf(v.Line, "%s must be a mapping of node label to value, got %s", w, describe(v))
				return
			}
			k.NodeSelector = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				lk, lv := v.Content[i].Value, d.str(v.Content[i+1], w+" "+v.Content[i].Value)
				if !labelKeyRE.MatchString(lk) {
					d.addf(v.Content[i].Line, "%s: %q is not a Kubernetes label key", w, lk)
				}
				if !labelValueRE.MatchString(lv) {
					d.addf(v.Content[i+1].Line, "%s %s: %q is not a Kubernetes label value (at most 63 letters, digits, -, _ and .)", w, lk, lv)
				}
				k.NodeSelector[lk] = lv
			}
		case "tolerations":
			if v.Kind != yaml.SequenceNode {
				d.addf(v.Line, "%s must be a list of {key, operator, value, effect}, got %s", w, describe(v))
				return
			}
			for i, e := range v.Content {
				k.Tolerations = append(k.Tolerations, d.toleration(e, fmt.Sprintf("%s[%d]", w, i)))
			}
		case "service_account":
			k.ServiceAccount = d.str(v, w)
			if !dnsNameRE.MatchString(k.ServiceAccount) {
				d.addf(v.Line, "%s: %q is not a Kubernetes name (lower-case letters, digits, - and .)", w, k.ServiceAccount)
			}
		}
	})
	return k
}

func (d *decoder) toleration(n *yaml.Node, where string) Toleration {
	var t Toleration
	d.fields(n, where, []string{"key", "operator", "value", "effect"}, func(key string, v *yaml.Node) {
		s := d.str(v, where+" "+key)
		switch key {
		case "key":
			t.Key = s
			if !labelKeyRE.MatchString(s) {
				d.addf(v.Line, "%s: %q is not a Kubernetes taint key", where, s)
			}
		case "operator":
			t.Operator = s
			if s != "Equal" && s != "Exists" {
				d.addf(v.Line, "%s: operator must be Equal or Exists, got %q", where, s)
			}
		case "value":
			t.Value = s
		case "effect":
			t.Effect = s
			if s != "NoSchedule" && s != "PreferNoSchedule" && s != "NoExecute" {
				d.addf(v.Line, "%s: effect must be NoSchedule, PreferNoSchedule or NoExecute, got %q", where, s)
			}
		}
	})
	if t.Operator == "Exists" && t.Value != "" {
		d.addf(n.Line, "%s: a toleration with operator Exists takes no value", where)
	}
	if t.Key == "" && t.Operator != "Exists" {
		d.addf(n.Line, "%s: without a key, the operator must be Exists (tolerate every taint)", where)
	}
	return t
}

func (d *decoder) executor(n *yaml.Node, where string) string {
	s := d.str(n, where)
	for _, e := range Executors {
		if s == e {
			return s
		}
	}
	d.addf(n.Line, "%s must be one of %s, got %q", where, strings.Join(Executors, ", "), s)
	return s
}
