// Package tune is the pure logic of hyperparameter search, Cairn's answer to
// Ray Tune: search spaces and their strict decoding, samplers (grid, random,
// TPE), trial schedulers that stop unpromising trials early (FIFO, ASHA,
// median stopping) and the bookkeeping of a sweep's trials (states,
// retries, resource packing, the best trial, snapshot and resume). It runs
// nothing: the pipeline executor (the tune.sweep step, `cairn tune`) starts
// the trials and drives a Sweep with Next, Report, Finish and Fail. It
// imports only internal/errs and go.yaml.in/yaml/v3.
//
// # The spec
//
// ParseSpec reads it from YAML; in JSON (a step's `with:`) the fields are the
// same. Unknown fields are errors, and every problem is reported at once
// with its field path (and its line, from YAML).
//
//	metric: val_accuracy    # the reported metric to optimise (required)
//	mode: max               # max or min (required)
//	samples: 8              # random/tpe: trials (default 10); grid: repeats of the grid (default 1)
//	sampler: {type: tpe, seed: 1, startup: 5, gamma: 0.25, candidates: 24}
//	scheduler: {type: asha, max_t: 27, grace_period: 1, reduction_factor: 3}
//	max_concurrent: 2       # 0: only resources limit the trials running at once
//	max_failures: 2         # retries of a crashed trial
//	resources: {cpu: 1, gpu: 0.5, memory: 1GiB}   # per trial; default cpu 1
//	space:
//	  model: {grid: [small, wide, deep, residual]}
//	  lr: {loguniform: [1.0e-4, 1.0e-2]}
//	  dropout: {uniform: [0.0, 0.5]}
//	  batch: {choice: [32, 64]}
//	  epochs: 10            # a bare value is a constant
//
// Sampler types: grid (the default), random, tpe. startup (default 10) is
// how many observed trials tpe waits for before it models them; gamma
// (default 0.25) the fraction of them counted as good; candidates (default
// 24) how many values it draws per parameter. seed makes every sampler
// reproducible.
//
// Scheduler types: fifo (the default: never stops a trial); asha, with max_t
// (default 100), grace_period (default 1) and reduction_factor (default 4);
// median, with grace_period (default 1) and min_samples (default 3).
//
// # Distributions
//
//	{grid: [a, b, c]}            every value: the grid sampler takes the cross product of all grids
//	{choice: [a, b, c]}          one value, uniformly; values are strings, numbers or booleans
//	{uniform: [low, high]}       a float in [low, high)
//	{loguniform: [low, high]}    a float with a uniform logarithm; low > 0
//	{randint: [low, high]}       an int in [low, high): high excluded, as in Ray Tune
//	{quniform: [low, high, q]}   a multiple of q in [low, high], each equally likely
//	{qloguniform: [low, high, q]} a loguniform float rounded to a multiple of q in [low, high]
//	{qrandint: [low, high, q]}   an int multiple of q in [low, high]: high included, as in Ray Tune
//
// A grid or a choice may give each option its own sub-space, written as a
// mapping from option name to parameters; an option without parameters is
// {} or null. Its parameters exist only in configurations that picked it:
//
//	model:
//	  choice:
//	    small: {lr: {loguniform: [1.0e-4, 1.0e-2]}}
//	    wide:  {lr: {loguniform: [1.0e-3, 3.0e-2]}, width: {choice: [128, 256]}}
//	    linear: {}
//
// A configuration (Params) is flat: {"model": "wide", "lr": 0.004, "width":
// 256}, so a name may appear under several options of one parameter but
// nowhere else in the same configuration. Options are taken in name order.
//
// # Order and reproducibility
//
// Parameters are visited in name order, each option's sub-space right after
// its parameter, whatever order the spec was written in. The grid sampler
// enumerates grid parameters as nested loops in name order (the first name
// outermost), values in the order written, an option's own grid expanded
// under it; every other parameter is drawn at random for each point, as
// Ray Tune does. Under random and tpe a grid is a choice. A grid parameter
// inside a choice's option is drawn like a choice. Suggestion n has its own
// random stream derived from the seed and n, so configurations do not depend
// on timing, and a restored sweep goes on exactly where it stopped.
//
// # Trials
//
// A sweep creates trial t000, t001, ... only when it can start it, so TPE
// learns from every result in by then. A trial is Pending (a retry, or
// resumed after a restart, with Why saying what it waits for), Running,
// Succeeded, Failed (crashed more than max_failures times) or Stopped (by
// the scheduler, with its reason). Its Value is the best value of the metric
// it reported; Best compares Values by mode, counting stopped trials and not
// failed ones.
package tune
