// Package steps holds Cairn's built-in pipeline step types, registered by
// Caddy-style IDs (namespace.name: core.shell, core.download, and later
// data.images, data.csv, train.cnn, registry.promote, ...). A step type is a
// Go struct whose exported, json-tagged fields are its inputs: the task's
// `with:` is decoded into it strictly (an unknown input is an error), it may
// check itself with Validate, and Run does the work. It is glue: a step
// decodes its inputs and calls a use case in jobs (training, model loading)
// or an engine; it imports errs, pipeline, jobs and the engines its steps
// drive.
//
// Adding a step type is one file and one init:
//
//	type Greet struct {
//		Name string `json:"name"`
//	}
//
//	func (g *Greet) Validate() error {
//		if g.Name == "" {
//			return errors.New("name is required")
//		}
//		return nil
//	}
//
//	func (g *Greet) Run(ctx context.Context, env steps.Env) (map[string]string, error) {
//		fmt.Fprintf(env.Stdout, "hello %s\n", g.Name)
//		return map[string]string{"greeting": "hello " + g.Name}, nil
//	}
//
//	func init() {
//		steps.Register(steps.Info{ID: "demo.greet", Version: "1", Outputs: []string{"greeting"},
//			New: func() steps.Step { return &Greet{} }})
//	}
//
// The executor runs each built-in step in a child process, `cairn step exec
// ID --inputs FILE`, so a crashing or leaking step never takes the scheduler
// down, and timeouts and cancellation kill it like any command.
package steps
