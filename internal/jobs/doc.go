// Package jobs holds Cairn's use cases, the work a command or a step asks
// for by name: train a model as a tracked run (Train, with resume and
// cross-validation); run a hyperparameter sweep (RunSweep: trials as
// child tracking runs, each started through an exec.Executor as a
// pipeline's tasks are, early stopping, resume from its folder); and load
// models for the model server (ModelLoader, fed by a ModelSource:
// LocalModels reads the registry and artifact stores in process, with no
// HTTP call; RemoteModels goes through a tracking server). Commands and
// step types call it; it drives the engines (data, train, tune, exec,
// serve) and talks to a tracking server through client. It imports errs,
// tracking, registry, pipeline/spec, data, train, tune, exec, serve and
// client; never steps, web, store or cmd.
package jobs
