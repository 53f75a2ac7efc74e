package spec

import (
	"fmt"
	"sort"
	"strings"
)

// String renders the plan as text: the params, then each task in run order
// with what it runs and its settings. Golden tests compare this text.
func (p *Plan) String() string {
	var b strings.Builder
	s := p.Spec
	fmt.Fprintf(&b, "pipeline %s\n", s.Name)
	if s.Schedule != "" {
		fmt.Fprintf(&b, "schedule %q\n", s.Schedule)
	}
	if s.Executor != "" {
		fmt.Fprintf(&b, "executor %s\n", s.Executor)
	}
	if k := s.Kubernetes.String(); k != "" {
		fmt.Fprintf(&b, "kubernetes %s\n", k)
	}
	if len(s.Params) > 0 {
		b.WriteString("params:\n")
		for _, pr := range s.Params {
			if pr.Default == nil {
				fmt.Fprintf(&b, "  %s %s (required)\n", pr.Name, pr.Type)
			} else {
				c, _ := coerce(pr.Type, pr.Default)
				fmt.Fprintf(&b, "  %s %s = %s\n", pr.Name, pr.Type, Render(c))
			}
		}
	}
	b.WriteString("tasks:\n")
	for i, t := range p.Order {
		fmt.Fprintf(&b, "  %d. %s (level %d)", i+1, t.Name, t.Level)
		if len(t.Needs) > 0 {
			fmt.Fprintf(&b, " needs %s", strings.Join(t.Needs, ", "))
		}
		b.WriteString("\n")
		if t.Step != nil {
			fmt.Fprintf(&b, "     uses %s@%s\n", t.Uses, t.Step.Version())
		} else {
			fmt.Fprintf(&b, "     run %q\n", t.Run)
		}
		if len(t.With) > 0 {
			keys := make([]string, 0, len(t.With))
			for k := range t.With {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "     with %s = %s\n", k, Render(t.With[k]))
			}
		}
		var opts []string
		if t.When != "" {
			opts = append(opts, fmt.Sprintf("when %q", t.When))
		}
		if t.ForEach != nil {
			fe := "for_each " + Render(t.ForEach)
			if t.Concurrency > 0 {
				fe += fmt.Sprintf(" (concurrency %d)", t.Concurrency)
			}
			opts = append(opts, fe)
		}
		if t.Shards > 1 {
			opts = append(opts, fmt.Sprintf("shards %d", t.Shards))
		}
		if t.Retries.Limit > 0 {
			r := t.Retries
			opts = append(opts, fmt.Sprintf("retries %d (backoff %s x%g, max %s)", r.Limit, r.Backoff, r.Factor, r.Max))
		}
		if t.Timeout > 0 {
			opts = append(opts, "timeout "+t.Timeout.String())
		}
		if r := t.Resources; r != (Resources{}) {
			opts = append(opts, fmt.Sprintf("resources cpu=%g memory=%d gpu=%d", r.CPU, r.Memory, r.GPU))
		}
		if t.Cache {
			opts = append(opts, "cache")
		}
		if t.Image != "" {
			opts = append(opts, "image "+t.Image)
		}
		if k := t.Kubernetes.String(); k != "" {
			opts = append(opts, "kubernetes "+k)
		}
		if len(t.Outputs) > 0 {
			opts = append(opts, "outputs "+strings.Join(t.Outputs, ", "))
		}
		if len(t.Artifacts) > 0 {
			opts = append(opts, "artifacts "+strings.Join(t.Artifacts, ", "))
		}
		for _, o := range opts {
			fmt.Fprintf(&b, "     %s\n", o)
		}
	}
	return b.String()
}

// CommandTasks names the tasks that run shell commands (run:, or uses:
// core.shell) or ask for writable: paths, in plan order: running them needs
// a user allowed to run commands on the server.
func (p *Plan) CommandTasks() []string {
	var out []string
	for _, pt := range p.Order {
		if pt.RunsCommands() || len(pt.Writable) > 0 {
			out = append(out, pt.Name)
		}
	}
	return out
}

// RunsCommands reports whether the task runs a shell command of the spec's.
func (pt *PlanTask) RunsCommands() bool { return pt.Step == nil || pt.Uses == ShellStep }
